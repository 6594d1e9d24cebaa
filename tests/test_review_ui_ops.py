"""Health, metrics, photo serving, the ledger page, the chart geometry and language choice."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from PIL import Image

from core.context import AppContext
from core.db import transaction
from core.models import InboundMessage, Outbox, Photo
from review_ui.app import _check_post_routes, create_app
from review_ui.chart import Period, build_chart, nice_step
from review_ui.i18n import choose_language
from review_ui.web import page_clerk
from tests.conftest import FrozenClock
from tests.ui_seed import login, seed_task


def _mail(ctx: AppContext, key: str, status: str, received: dt.datetime, error: str = "") -> int:
    with transaction(ctx.sessions) as session:
        row = InboundMessage(
            mailbox="maildir",
            source_key=f"maildir:{key}",
            sha256=key.ljust(64, "0"),
            sender=f"{key}@example.org",
            subject=f"Betreff {key}",
            received_at=received,
            status=status,
            error=error or None,
        )
        session.add(row)
        session.flush()
        return row.id


def test_health_details_show_db_open_tasks_and_oldest_pending_mail(
    ctx: AppContext, client: TestClient, clock: FrozenClock
) -> None:
    assert client.get("/health").json() == {"status": "up"}
    login(client)
    body = client.get("/health").json()
    assert body["db"] == "ok" and body["open_tasks"] == 0
    assert body["oldest_pending_mail_age_seconds"] is None
    seed_task(ctx)
    _mail(ctx, "a", "new", clock() - dt.timedelta(hours=2))
    _mail(ctx, "b", "processing", clock() - dt.timedelta(minutes=5))
    _mail(ctx, "c", "accepted", clock() - dt.timedelta(days=9))
    body = client.get("/health").json()
    assert body["open_tasks"] == 1 and body["oldest_pending_mail_age_seconds"] == 7200


def test_metrics_need_a_session_or_the_bearer_token(ctx: AppContext, client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    ctx.settings.metrics_token = "s3cret-token"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert client.get("/health", headers={"Authorization": "Bearer wrong"}).json() == {
        "status": "up"
    }
    detailed = client.get("/health", headers={"Authorization": "Bearer s3cret-token"}).json()
    assert detailed["db"] == "ok" and detailed["live_workers"] == 0
    ctx.settings.metrics_token = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    login(client)
    assert client.get("/metrics").status_code == 200


def test_metrics_count_mails_tasks_outbox_and_readings(
    ctx: AppContext, client: TestClient, clock: FrozenClock
) -> None:
    seed_task(ctx)
    _mail(ctx, "f", "failed", clock(), error="kaputt")
    with transaction(ctx.sessions) as session:
        for key, status in (("k1", "pending"), ("k2", "failed"), ("k3", "sent")):
            session.add(
                Outbox(
                    kind="confirmation",
                    recipient="a@example.org",
                    subject="s",
                    body_text="b",
                    idempotency_key=key,
                    status=status,
                )
            )
    login(client)
    lines = set(client.get("/metrics").text.splitlines())
    assert 'meter_intake_mails{status="review"} 1.0' in lines
    assert 'meter_intake_mails{status="failed"} 1.0' in lines
    assert 'meter_intake_mails{status="duplicate"} 0.0' in lines
    assert "meter_intake_review_tasks_open 1.0" in lines
    assert 'meter_intake_outbox{status="pending"} 1.0' in lines
    assert 'meter_intake_outbox{status="failed"} 1.0' in lines
    assert 'meter_intake_readings_accepted{source="import"} 2.0' in lines
    assert "# TYPE meter_intake_mails gauge" in lines


def test_messages_page_filters_by_status_and_shows_errors(
    ctx: AppContext, client: TestClient, clock: FrozenClock
) -> None:
    seed_task(ctx)
    _mail(ctx, "f", "failed", clock(), error="Tesseract: Zeitüberschreitung")
    _mail(ctx, "d", "duplicate", clock())
    login(client)
    everything = client.get("/messages").text
    assert "Betreff f" in everything and "Betreff d" in everything
    failed = client.get("/messages?status=failed").text
    assert "Tesseract: Zeitüberschreitung" in failed and "Betreff d" not in failed
    assert "Fehlgeschlagen" in failed
    review = client.get("/messages?status=review").text
    assert "/tasks/1" in review and "Betreff f" not in review


def _store_photo(ctx: AppContext, data: bytes, content_type: str) -> int:
    seeded = seed_task(ctx)
    with transaction(ctx.sessions) as session:
        photo = Photo(
            message_id=seeded.message_id,
            sha256=ctx.blobs.put(data),
            content_type=content_type,
            size=len(data),
        )
        session.add(photo)
        session.flush()
        return photo.id


def _image(fmt: str, size: tuple[int, int] = (400, 300)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "claimed", "served", "size"),
    [
        ("PNG", "image/jpeg", "image/png", (400, 300)),  # the type is sniffed, not believed
        ("HEIF", "image/heic", "image/jpeg", (400, 300)),
        ("PNG", "image/png", "image/jpeg", (3000, 2400)),  # oversized: re-encoded, smaller
        ("BMP", "image/bmp", "image/jpeg", (400, 300)),
    ],
)
def test_photos_are_served_with_a_true_type(
    ctx: AppContext,
    client: TestClient,
    fmt: str,
    claimed: str,
    served: str,
    size: tuple[int, int],
) -> None:
    photo_id = _store_photo(ctx, _image(fmt, size), claimed)
    login(client)
    response = client.get(f"/photos/{photo_id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == served
    shown = Image.open(io.BytesIO(response.content))
    assert max(shown.size) <= 2000 and shown.format == served.split("/")[1].upper()


def test_garbage_photo_gives_415_not_a_crash(ctx: AppContext, client: TestClient) -> None:
    photo_id = _store_photo(ctx, b"<html><script>alert(1)</script>", "image/jpeg")
    login(client)
    response = client.get(f"/photos/{photo_id}")
    assert response.status_code == 415 and "image" not in response.headers["content-type"]
    assert "Dieses Foto lässt sich nicht anzeigen" in response.text  # German for the clerk
    assert "cannot be shown" not in response.text
    assert client.get("/photos/9999").status_code == 404


@pytest.mark.parametrize("path", ["/tasks/abc", "/photos/x1", "/outbox/neu"])
def test_a_page_address_naming_nothing_is_the_german_not_found_page(
    client: TestClient, path: str
) -> None:
    login(client)
    response = client.get(path)
    assert response.status_code == 404 and "Nicht gefunden" in response.text
    assert "int_parsing" not in response.text
    assert client.get("/api/tasks/abc").status_code == 422  # the API keeps its JSON


def test_a_post_route_without_csrf_check_fails_at_start_up(ctx: AppContext) -> None:
    app = create_app(ctx)

    @app.post("/careless")
    def careless(clerk: object = Depends(page_clerk)) -> None:
        return None

    with pytest.raises(RuntimeError, match="/careless"):
        _check_post_routes(app)


def test_chart_geometry() -> None:
    periods = [
        Period(dt.date(2026, 1, 1), dt.date(2026, 3, 1), Decimal("8.5")),
        Period(dt.date(2026, 3, 1), dt.date(2026, 9, 1), Decimal("4.25")),
    ]
    chart = build_chart(periods, unit="kWh")
    assert chart is not None
    first, second = chart.bars
    assert first.height == pytest.approx(2 * second.height, rel=0.02)
    assert second.width > first.width  # longer period, wider bar
    assert chart.y_ticks[-1].label == "10" and chart.x_ticks[0].label == "01.01.2026"
    assert build_chart([], unit="kWh") is None
    small = build_chart([Period(dt.date(2026, 1, 1), dt.date(2026, 2, 1), 0.37)], unit="m3")
    assert small is not None and small.y_ticks[1].label == "0,1"
    assert [nice_step(x) for x in (8.5, 0.37, 1234)] == [5.0, 0.1, 500.0]


@pytest.mark.parametrize(
    ("query", "cookie", "header", "expected"),
    [
        (None, None, None, "de"),
        ("en", None, None, "en"),
        ("xx", "en", None, "en"),
        (None, None, "en-US,en;q=0.9", "en"),
        (None, None, "fr-FR,de;q=0.7,en;q=0.6", "de"),
        ("de", "en", "en", "de"),
    ],
)
def test_language_choice(
    query: str | None, cookie: str | None, header: str | None, expected: str
) -> None:
    assert choose_language(query, cookie, header) == expected
