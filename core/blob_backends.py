"""Choosing the blob store: the directory or S3-compatible object storage, by settings."""

from __future__ import annotations

from core.blobstore import BlobStorage, BlobStore
from core.settings import Settings


def open_blob_store(settings: Settings) -> BlobStorage:
    """The backend the settings choose."""
    if settings.blob_backend == "s3":
        from core.blobstore_s3 import S3BlobStore

        return S3BlobStore.from_settings(settings)
    return BlobStore(settings.effective_blob_dir)
