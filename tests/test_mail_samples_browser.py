"""Sample customer mails as a customer sees them: built exactly as they are sent (outbox row →
`build_message`), the HTML part shown in Debian's Chromium with the inline chart resolved as a mail
program resolves `cid:`, screenshots and plain texts written to test-artifacts/mails/ (the pictures
in docs/notifications.md come from there)."""

from __future__ import annotations

import base64
import datetime as dt
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from core.context import AppContext
from core.db import transaction
from core.models import Outbox
from notifications.outbox import ConfirmedReading, enqueue, queue_confirmation
from notifications.smtp import build_message
from tests.test_browser import ARTIFACTS, CHROMIUM_ARGS, _chromium
from tests.test_confirmation_consumption import NEW, seed_history

pytestmark = pytest.mark.browser

MAILS = ARTIFACTS / "mails"


def _queue_samples(ctx: AppContext, lang: str) -> None:
    now = ctx.clock()
    with transaction(ctx.sessions) as session:
        inbound_id = seed_history(session)
        reading = ConfirmedReading("1ESY1160123456", NEW.value, "kWh", NEW.read_on)
        queue_confirmation(session, recipient="erika@example.org", language=lang,
                           inbound_message_id=inbound_id, readings=[reading], now=now,
                           customer_name="Erika Mustermann")  # fmt: skip
        meters = [
            {"number": "1ESY1160123456", "kind": "electricity"},
            {"number": "GAS-0815", "kind": "gas"},
            {"number": "W-77", "kind": "water"},
        ]
        enqueue(session, kind="reminder", recipient="erika@example.org", language=lang,
                context={"customer_name": "Erika Mustermann", "meters": meters,
                         "due_from": dt.date(2026, 12, 1), "due_to": dt.date(2026, 12, 15),
                         "unsubscribe_url": "https://zaehler.stadtwerke.example/abmelden/MQ.x"},
                idempotency_key="reminder:sample", now=now)  # fmt: skip
        enqueue(session, kind="resend_request", recipient="erika@example.org", language=lang,
                context={"customer_name": "Erika Mustermann", "reason": "unreadable"},
                idempotency_key="resend:sample", now=now)  # fmt: skip


def _html_as_shown(message: EmailMessage) -> str:
    """The HTML part with `cid:` images inlined as data: URLs, as a mail program shows it."""
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    for part in message.walk():
        cid = str(part.get("Content-ID", "")).strip("<>")
        if cid and part.get_content_type() == "image/png":
            data = base64.b64encode(part.get_payload(decode=True)).decode("ascii")  # type: ignore[arg-type]
            html = html.replace(f"cid:{cid}", f"data:image/png;base64,{data}")
    return html


@pytest.mark.parametrize("lang", ["de", "en"])
def test_sample_mails_render_in_chromium(ctx: AppContext, lang: str) -> None:
    chromium = _chromium()
    from playwright.sync_api import sync_playwright

    _queue_samples(ctx, lang)
    with ctx.sessions() as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.id)).all()
        messages = {
            row.kind: build_message(row, mail_from=ctx.settings.mail_from, now=ctx.clock())
            for row in rows
        }
    MAILS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 640, "height": 900})
        for kind, message in messages.items():
            page.set_content(_html_as_shown(message))
            body = page.inner_text("body")
            assert "Erika Mustermann" in body
            if kind == "confirmation":
                width = page.eval_on_selector("img", "img => img.naturalWidth")
                assert width == 520, "the chart did not load"
                assert ("pro Tag" if lang == "de" else "per day") in body
            if kind == "reminder":
                assert "W-77" in body and "GAS-0815" in body
            shot = MAILS / f"{kind}-{lang}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            text = message.get_body(preferencelist=("plain",))
            assert text is not None
            subject = str(message["Subject"])
            Path(MAILS / f"{kind}-{lang}.txt").write_text(
                f"Subject: {subject}\n\n{text.get_content()}", encoding="utf-8"
            )
        browser.close()
