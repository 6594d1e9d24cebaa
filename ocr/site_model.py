"""Site models: digit-model heads fitted on a deployment's own verified photos (`meter-intake
train`), stored under the var dir, one folder per version, never in the repository.

    <site_model_dir>/site-0003/manifest.json   version, created, photos, cells, held-out figures
    <site_model_dir>/site-0003/heads.npz       per digit model file: its last layer's weights
    <site_model_dir>/active                    the active version's name; absent: the shipped model

The pointer is replaced atomically, so a reader sees the old or the new version, never half of
one; `default_engine` checks it on every read, so the worker and `read` use a new model from the
next photo on.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ocr.digits import Head

log = logging.getLogger(__name__)

POINTER = "active"
_NAME = re.compile(r"site-(\d{4,})")


@dataclass(frozen=True)
class SiteModel:
    version: str
    heads: dict[str, Head]  # by the digit model's file name (digits.onnx, digits_second.onnx)
    manifest: dict[str, Any]


def versions(root: Path) -> list[str]:
    """The stored versions, oldest first."""
    if not root.is_dir():
        return []
    found = [p.name for p in root.iterdir() if _NAME.fullmatch(p.name) and p.is_dir()]
    return sorted(found, key=lambda name: int(name.split("-")[1]))


def active_version(root: Path) -> str | None:
    """The version the pointer names (None: the shipped model)."""
    try:
        name = (root / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name if _NAME.fullmatch(name) else None


def activate(root: Path, version: str | None) -> None:
    """Point at `version` (None: back to the shipped model)."""
    if version is not None and version not in versions(root):
        raise ValueError(f"no site model {version!r} in {root}")
    root.mkdir(parents=True, exist_ok=True)
    temporary = root / f".{POINTER}.{os.getpid()}"
    temporary.write_text(version or "shipped", encoding="utf-8")
    os.replace(temporary, root / POINTER)


def save(root: Path, heads: dict[str, Head], manifest: dict[str, Any]) -> str:
    """Store heads and manifest as the next version (not activated); its name."""
    root.mkdir(parents=True, exist_ok=True)
    stored = versions(root)
    number = int(stored[-1].split("-")[1]) + 1 if stored else 1
    version = f"site-{number:04d}"
    staging = root / f".{version}.{os.getpid()}"
    staging.mkdir()
    arrays = {}
    for name, head in heads.items():
        arrays[f"{name}:weights"] = head.weights
        arrays[f"{name}:bias"] = head.bias
    np.savez(staging / "heads.npz", **arrays)  # type: ignore[arg-type]
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    full = {"version": version, "created": created, **manifest}
    (staging / "manifest.json").write_text(json.dumps(full, indent=1) + "\n", encoding="utf-8")
    os.replace(staging, root / version)
    return version


def manifest(root: Path, version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / version / "manifest.json").read_text("utf-8"))
    return data


def load(root: Path, version: str) -> SiteModel:
    """A stored version; raises OSError or ValueError when its files are missing or broken."""
    heads: dict[str, Head] = {}
    with np.load(root / version / "heads.npz", allow_pickle=False) as arrays:
        for key in arrays.files:
            name, part = key.rsplit(":", 1)
            if part == "weights":
                heads[name] = Head(
                    np.asarray(arrays[key], np.float64),
                    np.asarray(arrays[f"{name}:bias"], np.float64),
                )
    return SiteModel(version, heads, manifest(root, version))


def load_active(root: Path) -> SiteModel | None:
    """The active site model; None for the shipped one, also when the active one cannot be
    loaded (logged: a broken model file must not stop the worker)."""
    version = active_version(root)
    if version is None:
        return None
    try:
        return load(root, version)
    except (OSError, ValueError, KeyError) as exc:
        log.error(
            "site model %s cannot be loaded, reading with the shipped model: %s", version, exc
        )
        return None
