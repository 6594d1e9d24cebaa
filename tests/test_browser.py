"""The review UI in a real browser: Playwright drives Debian's chromium against uvicorn.

A clerk logs in, opens a review task with a real photo, corrects the value with the keyboard,
finds the reading in the meter's history and the queued confirmation in the outbox. Runs on SQLite
and PostgreSQL (the `ctx` fixture).
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from core.context import AppContext
from core.models import Reading, ReviewTask
from tests.ui_seed import CLERK, CLERK_PASSWORD, Seeded, add_clerk, meter_photo, seed_task

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian chromium is not installed (apt install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    return path


def _photo() -> bytes:
    try:
        from ocr.synth import encode_jpeg, render_drum_meter
    except ImportError:
        return meter_photo()
    image = render_drum_meter("012345", "6", angle=3, seed=7, meter_number="1ESY1160123451")
    return encode_jpeg(image)


@pytest.fixture
def seeded(ctx: AppContext) -> Seeded:
    add_clerk(ctx)
    return seed_task(ctx, subject="Zählerstand <b>Strom</b> November", photo_bytes=_photo())


def _open_task_after_login(page: Page, base: str, seeded: Seeded) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/login?next=/")
    page.fill("#username", CLERK)
    page.fill("#password", CLERK_PASSWORD)
    page.press("#password", "Enter")
    expect(page.locator("h1")).to_have_text("Offene Prüfaufgaben")
    expect(page.locator("td.clip").nth(1)).to_have_text("Zählerstand <b>Strom</b> November")
    page.screenshot(path=str(ARTIFACTS / "review-queue.png"))
    page.click(f"a[href='/tasks/{seeded.task_id}']")
    expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{seeded.task_id}")


def _correct_with_keyboard(page: Page, seeded: Seeded) -> None:
    from playwright.sync_api import expect

    value = page.locator("#value")
    expect(value).to_be_focused()
    expect(value).to_have_value("12.345,6")
    photo = page.locator("section.photo img")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.complete && img.naturalWidth") > 100
    expect(page.locator("figure.chart svg rect.bar")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "review-task.png"), full_page=True)
    value.fill("12.350,4")
    value.press("Enter")
    expect(page.locator("p.notice.ok")).to_contain_text(
        f"Aufgabe #{seeded.task_id} erledigt: Korrigiert."
    )


def _see_reading_in_history(page: Page, seeded: Seeded) -> None:
    from playwright.sync_api import expect

    page.click(f"p.notice.ok a[href='/meters/{seeded.meter_id}']")
    newest = page.locator("table.history tbody tr").first
    expect(newest).to_contain_text("12.350,4 kWh")
    expect(newest).to_contain_text("20.11.2026")
    expect(page.locator("figure.chart svg rect.bar")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "review-meter.png"), full_page=True)


def _see_confirmation_in_outbox(page: Page) -> None:
    from playwright.sync_api import expect

    page.click("header nav a[href='/outbox']")
    expect(page.locator("h1")).to_have_text("Postausgang")
    row = page.locator("table.outbox tbody tr").first
    expect(row).to_contain_text("Bestätigung")
    expect(row).to_contain_text("Ausstehend")
    page.screenshot(path=str(ARTIFACTS / "review-outbox.png"), full_page=True)


def test_clerk_corrects_a_reading_in_the_browser(
    ctx: AppContext, live_ui: str, seeded: Seeded
) -> None:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="de-DE")
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.set_default_timeout(10_000)
            _open_task_after_login(page, live_ui, seeded)
            _correct_with_keyboard(page, seeded)
            _see_reading_in_history(page, seeded)
            _see_confirmation_in_outbox(page)
        finally:
            browser.close()

    assert problems == [], f"browser console errors (CSP?): {problems}"
    with ctx.sessions() as session:
        task = session.get(ReviewTask, seeded.task_id)
        assert task is not None and (task.decision, task.decided_by) == ("corrected", CLERK)
        reading = session.scalars(select(Reading).where(Reading.source == "clerk")).one()
        assert reading.value == Decimal("12350.4") and reading.meter_id == seeded.meter_id
