"""The S3 blob backend (AWS S3, MinIO, Ceph RGW): the same content-addressed names as the
directory backend (`<prefix>ab/cd/abcd…`), so several hosts share one store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.blobstore import HEX, sharded_name
from core.errors import BlobStoreError

if TYPE_CHECKING:
    from core.settings import Settings

T = TypeVar("T")
MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class S3BlobStore:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=settings.s3_secret_access_key or None,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10),
        )
        return cls(client, settings.s3_bucket, settings.s3_prefix)

    def key_for(self, sha256: str) -> str:
        return self.prefix + sharded_name(sha256)

    def put(self, data: bytes) -> str:
        """Store `data` (a PUT is atomic in S3: readers see all of it or nothing)."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.exists(digest):
            self._call(
                "put", lambda: self.client.put_object(
                    Bucket=self.bucket, Key=self.key_for(digest), Body=data,
                    ContentType="application/octet-stream",
                ),
            )  # fmt: skip
        return digest

    def get(self, sha256: str) -> bytes:
        key = self.key_for(sha256)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            data: bytes = response["Body"].read()
        except ClientError as exc:
            if _code(exc) in MISSING:
                raise FileNotFoundError(f"blob {sha256} not in s3://{self.bucket}/{key}") from exc
            raise BlobStoreError(f"S3: Lesen von {key} fehlgeschlagen: {exc}") from exc
        except BotoCoreError as exc:
            raise BlobStoreError(f"S3 nicht erreichbar: {exc}") from exc
        return data

    def exists(self, sha256: str) -> bool:
        key = self.key_for(sha256)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in MISSING:
                return False
            raise BlobStoreError(f"S3: {key} nicht prüfbar: {exc}") from exc
        except BotoCoreError as exc:
            raise BlobStoreError(f"S3 nicht erreichbar: {exc}") from exc
        return True

    def delete(self, sha256: str) -> bool:
        if not self.exists(sha256):
            return False
        key = self.key_for(sha256)
        self._call("delete", lambda: self.client.delete_object(Bucket=self.bucket, Key=key))
        return True

    def digests(self) -> Iterator[str]:
        """Every stored digest, in key order, page by page (never the whole listing at once)."""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix) :]
                    digest = name.rsplit("/", 1)[-1]
                    if (
                        len(digest) == 64
                        and HEX.issuperset(digest)
                        and name == sharded_name(digest)
                    ):
                        yield digest
        except (ClientError, BotoCoreError) as exc:
            raise BlobStoreError(f"S3 (list, Bucket {self.bucket}): {exc}") from exc

    def _call(self, what: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except (ClientError, BotoCoreError) as exc:
            raise BlobStoreError(f"S3 ({what}, Bucket {self.bucket}): {exc}") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
