"""The import rules of docs/architecture.md hold, and the check that keeps them can fail.

The rules are import-linter contracts in pyproject.toml ([tool.importlinter]); import-linter reads
every import, those inside functions and under TYPE_CHECKING included.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter on the packages under `root`, with the contracts of `root`/pyproject.toml."""
    return subprocess.run(
        [sys.executable, "-c", LINT, "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_import_points_down_a_floor_and_no_modules_import_each_other() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_every_shipped_package_stands_on_a_floor() -> None:
    """A new top-level package must be placed in the picture before it can ship."""
    config = _pyproject()
    shipped = {
        name.rstrip("*") for name in config["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    linter = config["tool"]["importlinter"]
    assert set(linter["root_packages"]) == shipped
    floors = next(c for c in linter["contracts"] if c["type"] == "layers")["layers"]
    on_a_floor = {name.strip() for floor in floors for name in floor.split("|")}
    assert on_a_floor == shipped
    acyclic = next(c for c in linter["contracts"] if c["type"] == "acyclic_siblings")
    assert set(acyclic["ancestors"]) == shipped


def _copy_of_the_product(tmp_path: Path) -> Path:
    root = tmp_path / "product"
    root.mkdir()
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    for package in _pyproject()["tool"]["importlinter"]["root_packages"]:
        shutil.copytree(
            REPO / package,
            root / package,
            ignore=lambda _dir, names: [n for n in names if not n.endswith(".py") and "." in n],
        )
    return root


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_contracts_catch_an_upward_import_a_forbidden_neighbour_and_a_cycle(
    tmp_path: Path,
) -> None:
    root = _copy_of_the_product(tmp_path)
    _append(root / "core" / "errors.py", "import intake.worker  # the ground floor reaches up")
    _append(root / "review_ui" / "photos.py", "import ocr.loading  # the UI runs OCR")
    (root / "matching" / "ping.py").write_text("import matching.pong\n", encoding="utf-8")
    (root / "matching" / "pong.py").write_text("import matching.ping\n", encoding="utf-8")

    result = _lint_imports(root)

    assert result.returncode != 0
    assert "Contracts: 0 kept, 3 broken." in result.stdout, result.stdout + result.stderr
    assert "core.errors -> intake.worker" in result.stdout
    assert "review_ui.photos -> ocr.loading" in result.stdout
    assert "No cycles are allowed in matching." in result.stdout
