"""The container set-up, checked without a Docker engine.

docker-compose.yml is validated against the Compose specification's JSON schema (the copy that
check-jsonschema ships). The image is rebuilt outside Docker the way the Dockerfile builds it: its
COPY lines (less what .dockerignore keeps out) make the build context, its `pip install .` becomes
a wheel installed into a Python of its own. The compose services' commands then run through the
wheel's `meter-intake` script with the image's and compose's environment, held to file modes like
the image's unprivileged user (only the volume and the user's home are writable), against a fresh
PostgreSQL database.
"""

from __future__ import annotations

import json
import mailbox
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tomllib
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from core.models import InboundMessage
from tests.conftest import PG_ADMIN_URL
from tests.container_files import (
    REPO,
    Image,
    dockerignore,
    left_out,
    port_mappings,
    read_compose,
    read_dockerfile,
    service_environment,
)
from tests.ports import free_port
from tests.processes import Service

COMPOSE_SCHEMA = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
SHIPPED = {
    name.rstrip("*")
    for name in tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["packages"]["find"]["include"]
}
# The shell that runs `docker compose up`: the embedded mailbox, so that no IMAP server is needed.
COMPOSE_SHELL = {"METER_INTAKE_MAILBOX": "maildir"}


def _schema_errors(compose: Mapping[str, Any]) -> list[str]:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(compose)
    ]


def test_compose_file_follows_the_compose_specification() -> None:
    assert _schema_errors(read_compose(COMPOSE_SHELL)) == []
    assert _schema_errors(read_compose({})) == []


def test_the_schema_check_catches_a_misspelt_key_and_a_wrong_condition() -> None:
    compose = read_compose({})
    compose["services"]["ui"]["healthcheck"]["intervall"] = "30s"
    compose["services"]["worker"]["depends_on"]["migrate"]["condition"] = "done"
    errors = "\n".join(_schema_errors(compose))
    assert "services/ui/healthcheck: 'intervall' does not match" in errors
    assert "services/worker/depends_on" in errors


def test_the_build_context_leaves_out_local_data_secrets_and_environments() -> None:
    patterns = dockerignore()
    for path in (".env", "var/meter-intake.sqlite3", "var/blobs/ab/cd", ".venv/bin/python"):
        assert left_out(PurePosixPath(path), patterns), path
    for path in ("app/cli.py", "ocr/models/digits.onnx", "pyproject.toml", "constraints.txt"):
        assert not left_out(PurePosixPath(path), patterns), path
    assert left_out(PurePosixPath("review_ui/routes/__pycache__/ops.cpython-311.pyc"), patterns)


# The image, rebuilt outside Docker


@dataclass
class BuiltImage:
    image: Image
    root: Path  # stands for the image's /
    prefix: Path  # the image's Python (/usr/local), where `pip install .` put the product
    wheel: Path

    def inside(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")


def _copy_into(source: str, target: Path) -> None:
    """Docker's COPY from the build context: a directory's contents into the target, a file to
    the target; what .dockerignore names is not in the context."""
    patterns = dockerignore()

    def ignored(directory: str, names: list[str]) -> list[str]:
        relative = PurePosixPath(Path(directory).relative_to(REPO).as_posix())
        return [name for name in names if left_out(relative / name, patterns)]

    assert not left_out(PurePosixPath(source), patterns), f"COPY {source}: not in the context"
    if (REPO / source).is_dir():
        shutil.copytree(REPO / source, target, ignore=ignored, dirs_exist_ok=True)
    else:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / source, target / source)


def _pip(*args: str, cwd: Path) -> None:
    command = [sys.executable, "-m", "pip", "-q", *args, "--no-index", "--no-deps"]
    subprocess.run(command, cwd=cwd, check=True, timeout=300)


def _image_python(prefix: Path) -> Path:
    """A Python of its own that sees the tested dependencies (installed from constraints.txt
    here as in the image) but not the product's editable install: its `.pth` files are read
    only in the site directory itself, so the product comes from the wheel alone."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    python = prefix / "bin" / "python"
    own = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(own) / "dependencies.pth").write_text("\n".join(sorted(dependencies)) + "\n")
    return python


# Root ignores file modes; without these capabilities it is held to them like the image's user.
AS_THE_IMAGE_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def _as_the_image_user(argv: list[str]) -> list[str]:
    return [*AS_THE_IMAGE_USER, *argv] if os.geteuid() == 0 else argv


def _make_read_only(root: Path, *, except_under: list[Path]) -> None:
    """The image's files belong to root: the user the services run as may write only to its
    volume and home."""
    for directory, _dirs, names in os.walk(root):
        if any(Path(directory).is_relative_to(writable) for writable in except_under):
            continue
        for path in [Path(directory), *(Path(directory) / name for name in names)]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~0o222)


def _remove(root: Path) -> None:
    for directory, _dirs, _files in os.walk(root):
        Path(directory).chmod(0o755)
    shutil.rmtree(root)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltImage]:
    image = read_dockerfile()
    assert image.user != "root", "the services run as an unprivileged user"
    root = tmp_path_factory.mktemp("image")
    for sources, target in image.copies:
        for source in sources:
            _copy_into(source, root / target.lstrip("/"))
    assert image.runs[-1] == "pip install -c constraints.txt .", "the install step changed"
    workdir, wheels, prefix = image.workdir, root / "wheels", root / "usr" / "local"
    _pip("wheel", "--no-build-isolation", "-w", str(wheels), ".", cwd=root / workdir.lstrip("/"))
    (wheel,) = wheels.glob("meter_intake-*.whl")
    _pip("--python", str(_image_python(prefix)), "install", str(wheel), cwd=root)
    writable = [root / path.lstrip("/") for path in [*image.volumes, image.home_of(image.user)]]
    for path in writable:
        path.mkdir(parents=True, exist_ok=True)
    _make_read_only(root, except_under=writable)
    yield BuiltImage(image, root, prefix, wheel)
    _remove(root)


def test_the_wheel_ships_every_package_and_no_test_code(built: BuiltImage) -> None:
    names = zipfile.ZipFile(built.wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith("-info")}
    assert top_level == SHIPPED, "every package on a floor is copied into the image and shipped"
    assert [name for name in names if name.startswith("tests/")] == []
    assert [name for name in names if re.search(r"testing|samples|seed", name)] == []


def _service_env(built: BuiltImage, service: Mapping[str, Any], database_url: str) -> dict:
    """The environment compose gives a service, its container paths moved under the image root."""
    image = built.image
    env = service_environment(image, service)
    for name, value in env.items():
        if value.startswith(tuple(image.volumes)):
            env[name] = str(built.inside(value))
    compose_db = make_url(env["METER_INTAKE_DATABASE_URL"])
    assert compose_db.host == "postgres" and compose_db.drivername == "postgresql+psycopg"
    env["METER_INTAKE_DATABASE_URL"] = database_url
    return {
        **env,
        "HOME": str(built.inside(image.home_of(image.user))),
        "PATH": f"{built.prefix / 'bin'}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
    }


def _service(built: BuiltImage, argv: list[str], env: Mapping[str, str]) -> Service:
    """A compose service's process: the image's entrypoint and command, as the image's user,
    in the image's working directory."""
    return Service(_as_the_image_user(argv), cwd=built.inside(built.image.workdir), env=env)


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database (the compose `postgres` service on first start)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"mi_compose_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _deliver_a_mail(maildir: Path) -> None:
    message = EmailMessage()
    message["From"] = "Erika Mustermann <erika.mustermann@example.org>"
    message["To"] = "zaehlerstand@stadtwerke.example"
    message["Subject"] = "Zählerstand"
    message["Message-ID"] = "<compose-check@example.org>"
    message.set_content("Guten Tag,\nmein Zählerstand ist 312,450 m³.\nViele Grüße")
    mailbox.Maildir(maildir, create=True).add(message)


def _commands(built: BuiltImage, compose: Mapping[str, Any]) -> dict[str, list[str]]:
    services = compose["services"]
    app_services = {name for name, service in services.items() if service.get("build") == "."}
    assert app_services == {"migrate", "worker", "ui"}
    assert built.image.cmd == services["worker"]["command"], "the image runs the worker by default"
    return {name: built.image.entrypoint + services[name]["command"] for name in app_services}


def _ui_port(built: BuiltImage, ui: Mapping[str, Any]) -> int:
    """The container port compose publishes, which the image exposes and `serve` binds."""
    (mapping,) = port_mappings(ui)
    assert mapping.host_ip == "127.0.0.1", "the UI is published to the host's reverse proxy only"
    assert built.image.exposed == [mapping.container_port]
    command = ui["command"]
    assert command[command.index("--port") + 1] == str(mapping.container_port)
    return mapping.container_port


def test_compose_services_run_as_the_image_runs_them(
    built: BuiltImage, empty_postgres: str
) -> None:
    compose = read_compose(COMPOSE_SHELL)
    services = compose["services"]
    commands = _commands(built, compose)

    migrate_env = _service_env(built, services["migrate"], empty_postgres)
    migrate = _service(built, commands["migrate"], migrate_env)
    assert migrate.finish() == 0, "".join(migrate.log)
    engine = create_engine(empty_postgres)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version"))

    worker_env = _service_env(built, services["worker"], empty_postgres)
    (volume,) = [spec.split(":")[1] for spec in services["worker"]["volumes"]]
    _deliver_a_mail(built.inside(volume) / "mail")  # the embedded mailbox's place in var_dir
    worker = _service(built, commands["worker"], worker_env)
    worker.wait_for("Durchlauf:", timeout=120)
    assert worker.stop() == 0, "".join(worker.log)
    with engine.connect() as conn:
        statuses = conn.scalars(select(InboundMessage.status)).all()
    engine.dispose()
    assert len(statuses) == 1 and statuses[0] not in {"new", "failed"}, statuses

    container_port, port = _ui_port(built, services["ui"]), free_port()
    ui_command = [str(port) if word == str(container_port) else word for word in commands["ui"]]
    ui_env = _service_env(built, services["ui"], empty_postgres)
    ui = _service(built, ui_command, ui_env)
    try:
        ui.wait_for("Uvicorn running on", timeout=60)
        kind, *healthcheck = services["ui"]["healthcheck"]["test"]
        assert kind == "CMD"
        published = f":{container_port}/", f":{port}/"
        healthcheck = [
            str(built.prefix / "bin" / word) if word == "python" else word.replace(*published)
            for word in healthcheck
        ]
        probe = subprocess.run(_as_the_image_user(healthcheck), env=ui_env, timeout=10, check=False)
        assert probe.returncode == 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            assert json.load(response)["status"] == "up"
    finally:
        stopped = ui.stop()
    # uvicorn shuts down cleanly, then ends by the signal it caught, as `docker stop` expects
    assert stopped in {0, -signal.SIGTERM} and "Finished server process" in "".join(ui.log)


def test_test_helpers_are_not_importable_from_the_installed_wheel(built: BuiltImage) -> None:
    python = str(built.prefix / "bin" / "python")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(built.root)}
    where = subprocess.run(
        [python, "-c", "import review_ui; print(review_ui.__file__)"],
        cwd=built.root, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(built.prefix))
    for helper in ("review_ui.testing", "intake.samples", "tests.ui_seed"):
        result = subprocess.run(
            [python, "-c", f"import {helper}"],
            cwd=built.root, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert "ModuleNotFoundError" in result.stderr, helper


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme and "make test" in ci


def _requirement_name(spec: str) -> str:
    name = re.split(r"[\[<>=!~; ]", spec.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_runtime_and_test_dependency_has_a_tested_version_in_the_constraints() -> None:
    """setup.sh and the Dockerfile install with constraints.txt; a dependency added to
    pyproject.toml without a tested version there would float to whatever is newest."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    pinned = {
        _requirement_name(line.split("==")[0])
        for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert {_requirement_name(spec) for spec in wanted} - pinned == set()
    setup = (REPO / "scripts" / "setup.sh").read_text(encoding="utf-8")
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert setup.count("-c constraints.txt") == 2
    assert "pip install -c constraints.txt ." in dockerfile
