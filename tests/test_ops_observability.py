"""Health from the worker's heartbeat, /metrics of `serve` and of the worker parsed with
prometheus_client's parser, and JSON log lines tagged with the mail's ledger id."""

from __future__ import annotations

import json
import logging
import mailbox
import urllib.error
import urllib.request

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from core import metrics
from core.context import AppContext
from core.heartbeat import beat
from core.logging_setup import configure_logging, current_mail
from core.metrics import REGISTRY, MetricsServer
from core.models import WorkerHeartbeat
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake.worker import run_worker
from tests.conftest import FrozenClock
from tests.fixtures_smtp import SmtpTestServer
from tests.fixtures_ui import METRICS_TOKEN, health_details
from tests.readers import per_hint
from tests.samples import customer_mail, seed_meter


@pytest.fixture
def client(metrics_client: TestClient) -> TestClient:
    return metrics_client


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_health_fails_when_the_worker_heartbeat_is_stale(
    ctx: AppContext, client: TestClient, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="review_ui.routes.ops")
    beat(ctx, "host-a:1:1")
    assert client.get("/health").json() == {"status": "up"}
    assert health_details(client)["live_workers"] == 1
    clock.advance(seconds=29)
    assert client.get("/health").status_code == 200
    clock.advance(seconds=2)
    response = client.get("/health")
    assert response.status_code == 503 and response.json() == {"status": "down"}
    details = health_details(client)
    assert details["problem"] == "worker heartbeat stale"
    assert details["worker_heartbeat_age_seconds"] == 31 and details["live_workers"] == 0
    beat(ctx, "host-b:2:1")
    assert client.get("/health").status_code == 200
    changes = [r.getMessage() for r in caplog.records if r.name == "review_ui.routes.ops"]
    assert changes == ["health: down (worker heartbeat stale)", "health: up"]  # not per probe


def test_health_fails_when_no_worker_ever_beat_after_a_grace_period(
    ctx: AppContext, client: TestClient, clock: FrozenClock
) -> None:
    assert client.get("/health").status_code == 200
    clock.advance(seconds=301)
    assert client.get("/health").status_code == 503
    assert health_details(client)["problem"] == "no worker heartbeat"


def test_serve_metrics_parse_and_show_the_heartbeat(
    ctx: AppContext, client: TestClient, clock: FrozenClock
) -> None:
    beat(ctx, "host-a:1:1")
    clock.advance(seconds=30)
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    samples = _samples(response.text)
    beat_at = samples[("meter_intake_worker_last_heartbeat_timestamp_seconds", ())]
    assert beat_at == (clock().timestamp() - 30)
    assert samples[("meter_intake_workers_live", ())] == 1
    assert samples[("meter_intake_mails", (("status", "new"),))] == 0
    assert samples[("meter_intake_oldest_pending_mail_age_seconds", ())] == 0


@per_hint
def _reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    return MeterRead(reading="04521", confidence=0.93, accepted=True)


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _scrape(port: int, token: str) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(response.read().decode())


def test_worker_counts_a_pass_and_serves_its_metrics(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    with smtp_ctx.sessions.begin() as session:
        seed_meter(session, email="erika@example.de", account="123456789", meter="12345678")
    smtp_ctx.settings.effective_maildir.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(smtp_ctx.settings.effective_maildir, create=True)
    box.add(customer_mail(sender="erika@example.de", photos=[("z.jpg", b"\xff\xd8\xffjpeg")]))
    before = {
        "accepted": _value("meter_intake_mails_processed_total", outcome="accepted"),
        "fetched": _value("meter_intake_mails_fetched_total", result="new"),
        "ocr": _value("meter_intake_stage_seconds_count", stage="ocr"),
        "confident": _value("meter_intake_ocr_confidence_bucket", le="0.95"),
        "sent": _value("meter_intake_outbox_deliveries_total", result="sent"),
    }
    server = MetricsServer("127.0.0.1", 0, token=METRICS_TOKEN)
    try:
        run_worker(smtp_ctx, once=True, reader=_reader)
        with pytest.raises(urllib.error.HTTPError) as refused:
            _scrape(server.port, "wrong")
        assert refused.value.code == 401
        samples = _samples(_scrape(server.port, METRICS_TOKEN))
    finally:
        server.close()
    smtp_server.wait_for(1)
    after = {
        "accepted": samples[("meter_intake_mails_processed_total", (("outcome", "accepted"),))],
        "fetched": samples[("meter_intake_mails_fetched_total", (("result", "new"),))],
        "ocr": samples[("meter_intake_stage_seconds_count", (("stage", "ocr"),))],
        "confident": samples[("meter_intake_ocr_confidence_bucket", (("le", "0.95"),))],
        "sent": samples[("meter_intake_outbox_deliveries_total", (("result", "sent"),))],
    }
    assert {k: after[k] - before[k] for k in before} == dict.fromkeys(before, 1.0)
    with smtp_ctx.sessions() as session:
        [heartbeat] = session.scalars(select(WorkerHeartbeat)).all()
    assert heartbeat.beat_at == smtp_ctx.clock()


def test_stage_timer_observes_also_when_the_stage_fails() -> None:
    before = _value("meter_intake_stage_seconds_count", stage="parse")
    with pytest.raises(ValueError), metrics.stage_timer("parse"):
        raise ValueError("kaputt")
    assert _value("meter_intake_stage_seconds_count", stage="parse") == before + 1


def test_json_log_lines_carry_the_mail_ledger_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_lines=True)
    token = current_mail.set(4711)
    try:
        logging.getLogger("intake.pipeline").info("Mail verarbeitet: %s", "accepted")
    finally:
        current_mail.reset(token)
    logging.getLogger("intake.worker").info("Durchlauf")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines()[-2:])
    assert first["mail"] == 4711 and first["message"] == "Mail verarbeitet: accepted"
    assert first["level"] == "INFO" and first["logger"] == "intake.pipeline"
    assert second["mail"] is None
