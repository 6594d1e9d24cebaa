"""The review UI in a real browser: Playwright drives Debian's chromium against uvicorn.

Clerks log in, work the queue (two at once, keyboard only), meet the guards, undo a decision; an
admin looks at the dashboard, meters and audit pages. Screenshots go to test-artifacts/ (the
docs show them). Runs on SQLite and PostgreSQL (the `ctx` fixture).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from core.context import AppContext
from core.db import transaction
from core.models import AuditLog, Reading, ReviewTask
from review_ui.auth import add_user
from tests.conftest import FrozenClock
from tests.ui_seed import (
    ADMIN,
    ADMIN_PASSWORD,
    CLERK,
    CLERK_PASSWORD,
    Seeded,
    add_admin,
    add_clerk,
    add_ocr_details,
    counter_details,
    meter_photo,
    seed_task,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

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
OTTO, OTTO_PASSWORD = "otto", "Zweiter-Pruefer-2026"


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


@contextlib.contextmanager
def _browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _page(browser: Browser, problems: list[str]) -> Page:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="de-DE")
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.set_default_timeout(10_000)
    return page


def _login(page: Page, base: str, username: str, password: str, *, next_path: str = "/") -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.press("#password", "Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def _task(ctx: AppContext, task_id: int) -> ReviewTask:
    with ctx.sessions() as session:
        task = session.get(ReviewTask, task_id)
        assert task is not None
        return task


def _seed(ctx: AppContext, clock: FrozenClock, count: int) -> list[Seeded]:
    return [
        seed_task(
            ctx,
            key=str(index + 1),
            subject=f"Zählerstand <b>Strom</b> {index + 1}",
            received_at=clock() - dt.timedelta(hours=10 - index),
            photo_bytes=_photo(),
        )
        for index in range(count)
    ]


def test_clerk_corrects_a_reading_in_the_browser(
    ctx: AppContext, live_ui: str, clock: FrozenClock
) -> None:
    from playwright.sync_api import expect

    add_clerk(ctx)
    [seeded] = _seed(ctx, clock, 1)
    problems: list[str] = []
    with _browser() as browser:
        page = _page(browser, problems)
        page.goto(f"{live_ui}/")
        expect(page).to_have_url(f"{live_ui}/login?next=/")
        page.fill("#username", CLERK)
        page.fill("#password", CLERK_PASSWORD)
        page.press("#password", "Enter")
        expect(page.locator("h1")).to_have_text("Offene Prüfaufgaben")
        expect(page.locator("table.queue tbody tr").first).to_contain_text(
            "Zählerstand <b>Strom</b> 1"
        )
        page.screenshot(path=str(ARTIFACTS / "review-queue.png"))
        page.click(f"a.button[href='/tasks/{seeded.task_id}']")
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{seeded.task_id}")
        value = page.locator("#value")
        expect(value).to_be_focused()
        expect(value).to_have_value("12.345,6")
        expect(page.locator("#implied")).to_have_text("888,9 kWh")
        assert page.locator("section.photo img").evaluate("i => i.complete && i.naturalWidth") > 100
        expect(page.locator("figure.chart svg rect.bar")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "review-task.png"), full_page=True)
        page.locator("button.digit").nth(4).click()  # the doubtful "4" selects that digit
        page.keyboard.type("9")
        expect(value).to_have_value("12.395,6")
        page.locator("button.fill", has_text="12.346,6").click()  # the OCR alternative
        expect(value).to_have_value("12.346,6")
        value.fill("12.350,4")
        expect(page.locator("#implied")).to_have_text("893,7 kWh")
        value.press("Enter")
        expect(page.locator("p.notice.ok")).to_contain_text(
            f"Aufgabe #{seeded.task_id} erledigt: Korrigiert."
        )
        page.click(f"p.notice.ok a[href='/meters/{seeded.meter_id}']")
        newest = page.locator("table.history tbody tr").first
        expect(newest).to_contain_text("12.350,4 kWh")
        expect(newest).to_contain_text("20.11.2026")
        page.screenshot(path=str(ARTIFACTS / "review-meter.png"), full_page=True)
        page.click("header nav a[href='/outbox']")
        expect(page.locator("table.outbox tbody tr").first).to_contain_text("Bestätigung")
    assert problems == [], f"browser console errors (CSP?): {problems}"
    task = _task(ctx, seeded.task_id)
    assert (task.decision, task.decided_by, task.decided_value) == (
        "corrected",
        CLERK,
        Decimal("12350.4"),
    )


def test_two_clerks_work_the_queue_at_once(
    ctx: AppContext, live_ui: str, clock: FrozenClock
) -> None:
    from playwright.sync_api import expect

    add_clerk(ctx)
    add_user(ctx, OTTO, OTTO_PASSWORD, display_name="Otto Normal")
    tasks = _seed(ctx, clock, 4)
    problems: list[str] = []
    with _browser() as browser:
        erika, otto = _page(browser, problems), _page(browser, problems)
        _login(erika, live_ui, CLERK, CLERK_PASSWORD, next_path="/next")
        _login(otto, live_ui, OTTO, OTTO_PASSWORD, next_path="/queue")
        expect(otto.locator("table.queue tbody tr").first).to_contain_text(f"bei {CLERK}")
        for thumb in otto.locator("img.thumb").all():
            thumb.evaluate("img => img.decode()")  # resolves once the thumbnail is loaded
        otto.screenshot(path=str(ARTIFACTS / "review-queue-claimed.png"))
        otto.keyboard.press("n")
        otto.wait_for_url("**/tasks/*")
        for _ in range(2):  # both press Enter on their own task, turn by turn
            erika_task = int(erika.url.rsplit("/", 1)[1].split("?")[0])
            otto_task = int(otto.url.rsplit("/", 1)[1].split("?")[0])
            assert erika_task != otto_task
            erika.locator("#value").press("Enter")
            otto.locator("#value").press("Enter")
            expect(erika.locator("p.notice.ok")).to_contain_text(f"#{erika_task} erledigt")
            expect(otto.locator("p.notice.ok")).to_contain_text(f"#{otto_task} erledigt")
    assert problems == [], problems
    deciders = [_task(ctx, t.task_id).decided_by for t in tasks]
    assert sorted(d or "" for d in deciders) == sorted([CLERK, CLERK, OTTO, OTTO])
    with ctx.sessions() as session:
        assert session.scalar(select(Reading.id).where(Reading.accepted_by.is_(None))) is None


def test_keyboard_only_accept_digit_fix_reject_and_undo(
    ctx: AppContext, live_ui: str, clock: FrozenClock
) -> None:
    from playwright.sync_api import expect

    add_clerk(ctx)
    first, second, third = _seed(ctx, clock, 3)
    problems: list[str] = []
    with _browser() as browser:
        page = _page(browser, problems)
        _login(page, live_ui, CLERK, CLERK_PASSWORD, next_path="/next")
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{first.task_id}")
        page.keyboard.press("Enter")  # 1 key: accept the proposal
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{second.task_id}")
        page.keyboard.press("Escape")
        page.keyboard.press("u")  # undo the decision on the first task
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{first.task_id}")
        assert _task(ctx, first.task_id).status == "open"
        page.keyboard.press("Enter")
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{second.task_id}")
        page.keyboard.press("Escape")
        page.keyboard.press("5")  # select the fifth digit …
        page.keyboard.type("9")  # … and overwrite it
        expect(page.locator("#value")).to_have_value("12.349,6")
        page.keyboard.press("Enter")
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{third.task_id}")
        page.keyboard.press("Escape")
        page.keyboard.press("?")
        expect(page.locator("dialog#keys")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "review-shortcuts.png"))
        page.keyboard.press("Escape")
        page.keyboard.press("x")
        expect(page.locator("#reason")).to_be_focused()
        page.keyboard.type("Foto unscharf")
        page.keyboard.press("Enter")
        expect(page.locator("p.notice.ok")).to_contain_text(f"#{third.task_id} erledigt: Abgelehnt")
    assert problems == [], problems
    decided = [_task(ctx, t.task_id) for t in (first, second, third)]
    assert [t.decision for t in decided] == ["accepted", "corrected", "rejected"]
    assert decided[1].decided_value == Decimal("12349.6") and decided[2].note == "Foto unscharf"
    with ctx.sessions() as session:
        undone = session.scalars(select(AuditLog).where(AuditLog.action == "task_undone")).one()
    assert undone.entity_id == first.task_id and undone.actor == CLERK


def test_counter_crop_view_controls_and_one_digit_fix(
    ctx: AppContext, live_ui: str, clock: FrozenClock
) -> None:
    """The counter cut out next to the photo, a box per digit, zoom / rotate / contrast on it,
    and a doubtful digit fixed with one click on its alternative."""
    from playwright.sync_api import expect

    from ocr.synth import drum_meter_photo, encode_jpeg

    add_clerk(ctx)
    photo = drum_meter_photo("012345", "6", angle=-8, seed=7, meter_number="1ESY1160123451")
    seeded = seed_task(ctx, received_at=clock() - dt.timedelta(hours=2),
                       photo_bytes=encode_jpeg(photo.image))  # fmt: skip
    add_ocr_details(ctx, seeded.photo_id, counter_details(photo.counter.tolist(), 7))
    problems: list[str] = []
    with _browser() as browser:
        page = _page(browser, problems)
        _login(page, live_ui, CLERK, CLERK_PASSWORD, next_path=f"/tasks/{seeded.task_id}")
        crop = page.locator("#counter-crop")
        crop.evaluate("img => img.decode()")  # resolves once the crop is loaded
        assert crop.evaluate("img => img.naturalWidth") == 720
        expect(page.locator("#counter rect.digit-spot")).to_have_count(7)
        page.screenshot(path=str(ARTIFACTS / "review-counter.png"), full_page=True)
        view = page.locator(".counter-view")
        page.click("#counter button[data-photo=zoom-in]")
        page.click("#counter button[data-photo=rotate]")
        expect(view).to_have_attribute("style", "transform: scale(1.25) rotate(90deg);")
        expect(page.locator("section.photo img")).not_to_have_attribute("style", "transform")
        page.click("#counter button[data-photo=contrast]")
        expect(view).to_have_class("counter-view zoomable contrast")
        page.click("#counter button[data-photo=rotate]")
        page.click("#counter button[data-photo=rotate]")
        page.click("#counter button[data-photo=rotate]")
        page.click("#counter button[data-photo=zoom-out]")
        page.click("#counter button[data-photo=contrast]")
        value = page.locator("#value")
        page.locator("#counter rect.digit-spot").nth(4).click()  # the doubtful fifth digit
        expect(value).to_be_focused()
        assert value.evaluate("v => v.value.slice(v.selectionStart, v.selectionEnd)") == "4"
        page.locator("#counter button.alternative[data-digit='9']").click()  # its runner-up
        expect(value).to_have_value("12.395,6")
        expect(page.locator("#implied")).to_have_text("938,9 kWh")
        page.screenshot(path=str(ARTIFACTS / "review-digit-fix.png"), full_page=True)
        value.press("Enter")
        expect(page.locator("p.notice.ok")).to_contain_text(f"#{seeded.task_id} erledigt")
    assert problems == [], f"browser console errors (CSP?): {problems}"
    task = _task(ctx, seeded.task_id)
    assert (task.decision, task.decided_value) == ("corrected", Decimal("12395.6"))


def test_previous_and_next_task_by_keyboard(
    ctx: AppContext, live_ui: str, clock: FrozenClock
) -> None:
    from playwright.sync_api import expect

    add_clerk(ctx)
    first, second, third = _seed(ctx, clock, 3)
    problems: list[str] = []
    with _browser() as browser:
        page = _page(browser, problems)
        _login(page, live_ui, CLERK, CLERK_PASSWORD, next_path="/next")
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{first.task_id}")
        page.keyboard.press("Escape")
        page.keyboard.press("n")  # skip to the next task without deciding
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{second.task_id}")
        page.keyboard.press("Escape")
        page.keyboard.press("n")
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{third.task_id}")
        page.keyboard.press("Escape")
        page.keyboard.press("p")  # and back
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{second.task_id}")
        page.keyboard.press("Enter")  # accept: the next free task opens …
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{first.task_id}")
        page.keyboard.press("Escape")
        page.keyboard.press("n")
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{third.task_id}")
        page.keyboard.press("Escape")
        page.keyboard.press("p")  # … and "previous" leads back to the decision just made
        expect(page.locator("h1")).to_have_text(f"Prüfaufgabe #{second.task_id}")
        expect(page.locator("p.notice.warn").first).to_contain_text("bereits entschieden")
        page.keyboard.press("?")
        keys = page.locator("dialog#keys")
        expect(keys).to_be_visible()
        expect(keys).to_contain_text("Vorige Aufgabe")
        expect(keys).to_contain_text("Nächste freie Aufgabe")
        page.keyboard.press("Escape")
        page.keyboard.press("q")
        expect(page.locator("h1")).to_have_text("Offene Prüfaufgaben")
    assert problems == [], problems
    assert _task(ctx, second.task_id).decision == "accepted"


def test_guards_block_below_last_lost_decimal_and_rollover(
    ctx: AppContext, live_ui: str, clock: FrozenClock
) -> None:
    from playwright.sync_api import expect

    add_clerk(ctx)
    below, decimal, rollover = _seed(ctx, clock, 3)
    with transaction(ctx.sessions) as session:
        session.add(Reading(meter_id=rollover.meter_id, value=Decimal("999950.0"),
                            read_on=dt.date(2026, 11, 10), source="import",
                            accepted_by="import"))  # fmt: skip
    problems: list[str] = []
    with _browser() as browser:
        page = _page(browser, problems)
        _login(page, live_ui, CLERK, CLERK_PASSWORD, next_path=f"/tasks/{below.task_id}")
        page.locator("#value").fill("11.000,0")
        page.locator("#value").press("Enter")
        confirm = page.locator("#confirm")
        expect(confirm).to_have_text("Trotzdem buchen: Stand liegt unter dem letzten Stand")
        page.screenshot(path=str(ARTIFACTS / "review-guard.png"), full_page=True)
        page.locator("#value").press("Enter")  # Enter alone never confirms
        expect(confirm).to_be_visible()
        assert _task(ctx, below.task_id).status == "open"
        page.keyboard.press("Escape")
        page.keyboard.press("b")  # the deliberate second action
        expect(page.locator("p.notice.ok")).to_contain_text(f"#{below.task_id} erledigt")

        page.goto(f"{live_ui}/tasks/{decimal.task_id}")
        page.locator("#value").fill("123456")
        page.locator("#value").press("Enter")
        expect(page.locator("#confirm")).to_contain_text("Nachkommastellen verloren?")
        page.locator("#value").fill("12.345,6")
        page.locator("#value").press("Enter")
        expect(page.locator("p.notice.ok")).to_contain_text(f"#{decimal.task_id} erledigt")

        page.goto(f"{live_ui}/tasks/{rollover.task_id}")
        page.locator("#value").fill("30,0")
        page.locator("#value").press("Enter")
        expect(page.locator("#confirm")).to_contain_text("Zählerüberlauf")
        page.locator("#confirm").click()
        expect(page.locator("p.notice.ok")).to_contain_text(f"#{rollover.task_id} erledigt")
    refused = "the server responded with a status of 422"  # the blocked attempts, as intended
    assert [p for p in problems if refused not in p] == [], problems
    values = [_task(ctx, t.task_id).decided_value for t in (below, decimal, rollover)]
    assert values == [Decimal("11000.0"), Decimal("12345.6"), Decimal("30.0")]


def test_admin_sees_dashboard_meters_and_audit(
    ctx: AppContext, live_ui: str, clock: FrozenClock
) -> None:
    from playwright.sync_api import expect

    add_clerk(ctx)
    add_admin(ctx)
    tasks = _seed(ctx, clock, 3)
    problems: list[str] = []
    with _browser() as browser:
        clerk = _page(browser, problems)
        _login(clerk, live_ui, CLERK, CLERK_PASSWORD, next_path="/next")
        clerk.keyboard.press("Enter")
        expect(clerk.locator("p.notice.ok")).to_be_visible()
        admin = _page(browser, problems)
        _login(admin, live_ui, ADMIN, ADMIN_PASSWORD)
        expect(admin.locator("h1")).to_have_text("Übersicht")
        expect(admin.locator("#open-total")).to_have_text("2")
        expect(admin.locator("svg.mails rect.bar").first).to_be_visible()
        admin.screenshot(path=str(ARTIFACTS / "review-dashboard.png"), full_page=True)
        admin.click("header nav a[href='/meters']")
        admin.fill("#meter-query", "Mustermann")
        admin.press("#meter-query", "Enter")
        expect(admin.locator("table.meters tbody tr")).to_have_count(6)
        admin.screenshot(path=str(ARTIFACTS / "review-meters.png"), full_page=True)
        admin.click("header nav a[href='/audit']")
        admin.select_option("select[name=action]", "task_accepted")
        admin.click("form.filters button")
        row = admin.locator("table.audit tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(f"review_task #{tasks[0].task_id}")
        expect(row).to_contain_text(CLERK)
        admin.screenshot(path=str(ARTIFACTS / "review-audit.png"), full_page=True)
    assert problems == [], problems
