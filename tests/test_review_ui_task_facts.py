"""The task page shows the facts on a review task: the earlier mail of a reused photo (linked) and
the old and new value of a correction; German labels and formats."""

from __future__ import annotations

from fastapi.testclient import TestClient

from core.context import AppContext
from core.db import transaction
from core.models import ReviewTask
from matching import reasons
from tests.ui_seed import Seeded, login, seed_task


def _set(ctx: AppContext, task_id: int, codes: list[str], details: dict[str, object]) -> None:
    with transaction(ctx.sessions) as session:
        task = session.get(ReviewTask, task_id)
        assert task is not None
        task.reason_codes, task.details = codes, details


def test_a_reused_photo_links_the_earlier_mail(ctx: AppContext, client: TestClient) -> None:
    seeded: Seeded = seed_task(ctx)
    _set(ctx, seeded.task_id, [reasons.PHOTO_SIMILAR], {
        "reuse": "similar", "photo_id": seeded.photo_id, "earlier_ledger_id": 41,
        "earlier_photo_id": 7, "phash_distance": 3, "exif_time": "2026-08-01T08:00:00+00:00",
    })  # fmt: skip
    login(client)
    html = client.get(f"/tasks/{seeded.task_id}").text
    assert "Foto gleicht einem früher eingesandten Foto" in html
    assert '<a href="/messages?id=41">#41</a>' in html
    assert "Foto schon eingesandt mit Eingang" in html and "3 / 64" in html
    assert "01.08.2026 10:00" in html  # Berlin time


def test_a_correction_shows_old_and_new_value(ctx: AppContext, client: TestClient) -> None:
    seeded = seed_task(ctx)
    _set(ctx, seeded.task_id, [reasons.CORRECTION_REQUEST], {
        "corrects_reading_id": 5, "corrected_ledger_id": 12, "old_value": "12345.6",
        "new_value": "12354.6", "booked_photo_id": seeded.photo_id,
    })  # fmt: skip
    login(client)
    html = client.get(f"/tasks/{seeded.task_id}").text
    assert "Kunde korrigiert einen bestätigten Zählerstand" in html
    assert '<a href="/messages?id=12">#12</a>' in html
    assert "Bisher gebucht" in html and "12.345,6 kWh" in html
    assert "Vom Kunden jetzt angegeben" in html and "12.354,6 kWh" in html
    assert f'src="/photos/{seeded.photo_id}"' in html
    # we told the customer no new photo is needed: rejecting does not ask for one unless ticked
    assert 'name="ask_resend" value="1">' in html
    details = client.get(f"/api/tasks/{seeded.task_id}").json()["details"]
    assert (details["corrects_reading_id"], details["new_value"]) == (5, "12354.6")


def test_rejecting_an_ordinary_task_asks_for_a_new_photo_by_default(
    ctx: AppContext, client: TestClient
) -> None:
    seeded = seed_task(ctx)
    login(client)
    assert 'name="ask_resend" value="1" checked>' in client.get(f"/tasks/{seeded.task_id}").text


def test_a_task_without_facts_shows_no_facts_box(ctx: AppContext, client: TestClient) -> None:
    seeded = seed_task(ctx)
    login(client)
    assert 'class="card facts"' not in client.get(f"/tasks/{seeded.task_id}").text
