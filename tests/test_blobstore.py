"""The same blob-store tests against the directory backend and against S3 (moto's server)."""

from __future__ import annotations

import hashlib
import mailbox
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from core.blob_backends import open_blob_store
from core.blobstore import BlobStorage, BlobStore
from core.blobstore_s3 import S3BlobStore
from core.context import AppContext
from core.errors import BlobStoreError, ConfigError
from core.models import InboundMessage, Photo
from core.settings import Settings, load_settings
from core.types import MeterHint, MeterRead
from intake.worker import run_worker
from tests.conftest import FrozenClock
from tests.fixtures_s3 import S3TestServer
from tests.ports import free_port
from tests.readers import per_hint
from tests.samples import customer_mail, seed_meter


@pytest.fixture(params=["directory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStorage:
    if request.param == "directory":
        return BlobStore(tmp_path / "blobs")
    server: S3TestServer = request.getfixturevalue("s3_server")
    return S3BlobStore(server.client(), server.new_bucket(), prefix="blobs/")


def test_put_returns_the_sha256_and_get_gives_the_bytes_back(store: BlobStorage) -> None:
    data = b"From: kunde@example.de\r\n\r\nZ\xe4hlerstand"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.get(digest) == data and store.exists(digest)


def test_put_is_idempotent_and_large_blobs_round_trip(store: BlobStorage) -> None:
    photo = os.urandom(6 * 1024 * 1024)
    first, second = store.put(photo), store.put(photo)
    assert first == second and store.get(first) == photo
    assert list(store.digests()) == [first]


def test_digests_lists_every_blob_and_delete_removes_one(store: BlobStorage) -> None:
    digests = sorted(store.put(f"blob {n}".encode()) for n in range(5))
    assert list(store.digests()) == digests
    assert store.delete(digests[2]) is True
    assert store.delete(digests[2]) is False
    assert not store.exists(digests[2]) and list(store.digests()) == digests[:2] + digests[3:]
    with pytest.raises(FileNotFoundError):
        store.get(digests[2])


def test_an_unknown_or_malformed_digest(store: BlobStorage) -> None:
    unknown = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(unknown) and list(store.digests()) == []
    with pytest.raises(FileNotFoundError):
        store.get(unknown)
    bad: list[Callable[[str], object]] = [store.get, store.exists, store.delete]
    for call in bad:
        with pytest.raises(ValueError, match="sha256"):
            call("../../etc/passwd")


def test_an_unreachable_s3_endpoint_is_a_blob_store_error() -> None:
    down = S3TestServer(endpoint=f"http://127.0.0.1:{free_port()}")
    store = S3BlobStore(down.client(retries={"max_attempts": 1}), "blobs")
    with pytest.raises(BlobStoreError, match="S3"):
        store.put(b"photo")
    with pytest.raises(BlobStoreError):
        store.get(hashlib.sha256(b"photo").hexdigest())


def test_settings_choose_the_backend(tmp_path: Path, s3_server: S3TestServer) -> None:
    plain = load_settings(var_dir=tmp_path, _env_file=None)
    assert isinstance(open_blob_store(plain), BlobStore)
    s3 = s3_server.settings_for(plain, s3_server.new_bucket())
    store = open_blob_store(s3)
    assert isinstance(store, S3BlobStore)
    digest = store.put(b"shared by every host")
    assert S3BlobStore(s3_server.client(), s3.s3_bucket, "blobs/").get(digest) == (
        b"shared by every host"
    )
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        load_settings(var_dir=tmp_path, blob_backend="s3", _env_file=None)


@per_hint
def _reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    return MeterRead(reading="04521", confidence=0.99, accepted=True)


def test_a_worker_pass_keeps_mails_and_photos_in_s3(
    s3_settings: Settings, s3_server: S3TestServer, clock: FrozenClock
) -> None:
    ctx = AppContext.from_settings(
        s3_settings.model_copy(update={"smtp_enabled": False}), clock=clock
    )
    try:
        with ctx.sessions.begin() as session:
            seed_meter(session, email="erika@example.de", account="123456789", meter="12345678")
        s3_settings.effective_maildir.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.Maildir(s3_settings.effective_maildir, create=True)
        box.add(customer_mail(sender="erika@example.de", photos=[("z.jpg", b"\xff\xd8\xffjpeg")]))
        report = run_worker(ctx, once=True, reader=_reader)
        with ctx.sessions() as session:
            mail = session.scalars(select(InboundMessage)).one()
            photo = session.scalars(select(Photo)).one()
    finally:
        ctx.engine.dispose()
    assert report.accepted == 1
    bucket = S3BlobStore(s3_server.client(), s3_settings.s3_bucket, "blobs/")
    assert sorted(bucket.digests()) == sorted([mail.sha256, photo.sha256])
    assert bucket.get(photo.sha256) == b"\xff\xd8\xffjpeg"
    assert not s3_settings.effective_blob_dir.exists()
