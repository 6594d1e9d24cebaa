"""What the Dockerfile builds and what docker-compose.yml runs, read the way Docker reads them,
so tests can do the same outside Docker (no Docker engine runs here)."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Image:
    """The parts of a Dockerfile that decide how the product runs."""

    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = "root"
    copies: list[tuple[list[str], str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    exposed: list[int] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)

    def home_of(self, user: str) -> str:
        """The home directory the image's `useradd` gives `user` (Docker sets HOME from it)."""
        for run in self.runs:
            for command in run.split("&&"):
                words = shlex.split(command)
                if words[:1] == ["useradd"] and words[-1] == user and "--home-dir" in words:
                    return words[words.index("--home-dir") + 1]
        raise AssertionError(f"Dockerfile: no `useradd --home-dir … {user}`")


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")
    ))  # fmt: skip
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            result.append((keyword.upper(), arguments.strip()))
    return result


def _exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), f"not the exec (JSON) form: {arguments}"
    return [str(word) for word in value]


def read_dockerfile(path: Path = REPO / "Dockerfile") -> Image:
    image = Image()
    for keyword, arguments in _instructions(path.read_text(encoding="utf-8")):
        if keyword == "ENV":
            image.env.update(word.split("=", 1) for word in shlex.split(arguments))  # type: ignore[misc]
        elif keyword == "WORKDIR":
            image.workdir = os.path.join(image.workdir, arguments)
        elif keyword == "USER":
            image.user = arguments
        elif keyword == "COPY":
            *sources, target = shlex.split(arguments)
            image.copies.append((sources, os.path.normpath(os.path.join(image.workdir, target))))
        elif keyword == "RUN":
            image.runs.append(arguments)
        elif keyword == "VOLUME":
            image.volumes += _exec_form(arguments)
        elif keyword == "EXPOSE":
            image.exposed += [int(port.split("/")[0]) for port in arguments.split()]
        elif keyword == "ENTRYPOINT":
            image.entrypoint = _exec_form(arguments)
        elif keyword == "CMD":
            image.cmd = _exec_form(arguments)
    return image


_VARIABLE = re.compile(r"\$(?:\$|\{(\w+)(?:(:?[-?])([^}]*))?\}|(\w+))")


def interpolate(value: str, environment: Mapping[str, str]) -> str:
    """Compose's interpolation: ${VAR}, $VAR, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, default = match.group(2), match.group(3) or ""
        current = environment.get(name)
        missing = current is None or (current == "" and (operator or "").startswith(":"))
        if operator and operator.endswith("?") and missing:
            raise AssertionError(f"compose: {name} must be set: {default}")
        if operator and operator.endswith("-") and missing:
            return default
        return current or ""

    return _VARIABLE.sub(substitute, value)


def _interpolated(node: Any, environment: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, environment)
    if isinstance(node, Mapping):
        return {key: _interpolated(value, environment) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolated(value, environment) for value in node]
    return node


def read_compose(
    environment: Mapping[str, str], path: Path = REPO / "docker-compose.yml"
) -> dict[str, Any]:
    """The compose file as compose sees it: YAML anchors and merge keys resolved, variables
    interpolated from `environment` (the shell that runs `docker compose up`)."""
    loaded = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    return dict(_interpolated(loaded, environment))


def service_environment(image: Image, service: Mapping[str, Any]) -> dict[str, str]:
    """What a service's process sees: the image's ENV, then env_file, then `environment`."""
    env = dict(image.env)
    for entry in service.get("env_file", []):
        entry = {"path": entry} if isinstance(entry, str) else entry
        env_file = REPO / entry["path"]
        if env_file.exists():
            raise AssertionError(f"{env_file} exists in the repository: it must not be shipped")
        assert entry.get("required") is False, f"compose needs {entry['path']}, which is not kept"
    declared = service.get("environment", {})
    if isinstance(declared, list):
        declared = dict(item.split("=", 1) for item in declared)
    env.update({key: str(value) for key, value in declared.items()})
    return env


@dataclass(frozen=True)
class PortMapping:
    host_ip: str
    host_port: int
    container_port: int


def port_mappings(service: Mapping[str, Any]) -> list[PortMapping]:
    """`ports:` in the short form: [HOST_IP:][HOST_PORT:]CONTAINER_PORT."""
    mappings = []
    for spec in service.get("ports", []):
        parts = str(spec).split(":")
        container = int(parts[-1])
        host_port = int(parts[-2]) if len(parts) >= 2 else container
        host_ip = parts[-3] if len(parts) == 3 else "0.0.0.0"
        mappings.append(PortMapping(host_ip, host_port, container))
    return mappings


def dockerignore(path: Path = REPO / ".dockerignore") -> list[str]:
    patterns = [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns), "exceptions (!) are not read here"
    return patterns


def left_out(relative: PurePosixPath, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `relative` (a path in the build context) out of the context:
    a pattern matches the path or one of its parent directories; `**/` matches at any depth."""
    parts = relative.parts
    for pattern in patterns:
        body, anywhere = pattern.removeprefix("**/"), pattern.startswith("**/")
        for end in range(1, len(parts) + 1):
            starts = range(end) if anywhere else range(1)
            if any(fnmatch.fnmatchcase("/".join(parts[start:end]), body) for start in starts):
                return True
    return False
