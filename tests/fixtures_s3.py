"""A local S3-compatible server (moto's server mode) on a free loopback port.

`s3_server` -> `S3TestServer` (session): `.endpoint`, `.client()`, `.new_bucket()`.
`s3_settings` -> `Settings`: the `settings` fixture with `blob_backend=s3` and a fresh bucket.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

from core.settings import Settings
from tests.ports import free_port

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class S3TestServer:
    endpoint: str

    def client(self, **config: Any) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="eu-central-1",
            config=Config(**config) if config else None, **KEYS,
        )  # fmt: skip

    def new_bucket(self) -> str:
        name = f"blobs-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        return name

    def settings_for(self, settings: Settings, bucket: str) -> Settings:
        return settings.model_copy(
            update={
                "blob_backend": "s3",
                "s3_endpoint_url": self.endpoint,
                "s3_bucket": bucket,
                "s3_access_key_id": KEYS["aws_access_key_id"],
                "s3_secret_access_key": KEYS["aws_secret_access_key"],
            }
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3TestServer]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()  # returns once the server accepts connections
    try:
        yield S3TestServer(endpoint=f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def s3_settings(settings: Settings, s3_server: S3TestServer) -> Settings:
    return s3_server.settings_for(settings, s3_server.new_bucket())
