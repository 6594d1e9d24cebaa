"""The Docker files must use entrypoints the tests exercise (no Docker engine here to run them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.cli import build_parser

REPO = Path(__file__).resolve().parents[1]


def _compose_commands() -> dict[str, list[str]]:
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    commands: dict[str, list[str]] = {}
    service = None
    for line in text.splitlines():
        if match := re.match(r"^  (\w[\w-]*):\s*$", line):
            service = match.group(1)
        if (match := re.match(r"^\s+command:\s*(\[.*\])\s*$", line)) and service:
            commands[service] = json.loads(match.group(1))
    return commands


def test_compose_runs_postgres_worker_ui_with_real_cli_commands() -> None:
    commands = _compose_commands()
    assert {"migrate", "worker", "ui"} <= commands.keys()
    parser = build_parser()
    for argv in commands.values():
        args = parser.parse_args(argv)
        assert callable(args.handler)
    assert "postgres:" in (REPO / "docker-compose.yml").read_text(encoding="utf-8")


def test_dockerfile_installs_tesseract_and_uses_the_console_script() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "tesseract-ocr-deu" in text
    assert 'ENTRYPOINT ["meter-intake"]' in text
    for package in ("core", "intake", "ocr", "matching", "notifications", "review_ui"):
        assert f"COPY {package} ./{package}" in text


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
    import tomllib

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
