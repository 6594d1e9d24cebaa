"""Content-addressed blob store: raw mails and photos live under their sha256.

Two backends with the same behaviour: a directory (the default; one host, or a shared file
system) and S3-compatible object storage (`core/blobstore_s3.py`, for several hosts).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.settings import Settings

HEX = frozenset("0123456789abcdef")


def checked_digest(sha256: str) -> str:
    if len(sha256) != 64 or not HEX.issuperset(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256


def sharded_name(sha256: str) -> str:
    """`ab/cd/abcd…`: the relative name of a blob, in a directory and in a bucket alike."""
    checked_digest(sha256)
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


class BlobStorage(Protocol):
    """What the rest of the product needs of a blob store. `get` of an unknown digest raises
    FileNotFoundError; an unreachable store raises BlobStoreError."""

    def put(self, data: bytes) -> str: ...
    def get(self, sha256: str) -> bytes: ...
    def exists(self, sha256: str) -> bool: ...
    def delete(self, sha256: str) -> bool: ...
    def digests(self) -> Iterator[str]: ...


class BlobStore:
    """The directory backend: `root/ab/cd/abcd…`, written atomically (temp file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / sharded_name(sha256)

    def put(self, data: bytes) -> str:
        """Store `data` durably (write, fsync, rename) and return its sha256."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def delete(self, sha256: str) -> bool:
        """Remove a blob; False when it was not there."""
        path = self.path_for(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def digests(self) -> Iterator[str]:
        """Every stored digest (temporary files of unfinished writes are skipped)."""
        for top in _sorted_dirs(self.root):
            for mid in _sorted_dirs(top):
                for path in sorted(mid.iterdir()):  # one directory at a time, never all names
                    name = path.name
                    if len(name) == 64 and HEX.issuperset(name) and name[:4] == top.name + mid.name:
                        yield name


def _sorted_dirs(path: Path) -> list[Path]:
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_dir() and len(p.name) == 2)


def open_blob_store(settings: Settings) -> BlobStorage:
    """The backend the settings choose."""
    if settings.blob_backend == "s3":
        from core.blobstore_s3 import S3BlobStore

        return S3BlobStore.from_settings(settings)
    return BlobStore(settings.effective_blob_dir)
