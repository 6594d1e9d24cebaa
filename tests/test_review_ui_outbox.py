"""The outbox pages ("Postausgang"): list, filters, one mail's text and headers, "try again",
and the reply line on the ledger and task pages. SQLite and PostgreSQL (the `ctx` fixture)."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.context import AppContext
from core.models import AuditLog, Outbox
from notifications.dispatch import send_due
from notifications.smtp import SmtpSender
from tests.conftest import FrozenClock
from tests.ui_seed import login, seed_outbox, seed_task

SCRIPT = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"


class _Recording(SmtpSender):
    """An SMTP sender that keeps the messages instead of talking to a server."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx.settings)
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


def _row(ctx: AppContext, outbox_id: int) -> Outbox:
    with ctx.sessions() as session:
        row = session.get(Outbox, outbox_id)
        assert row is not None
        session.expunge(row)
        return row


def _audit(ctx: AppContext) -> list[AuditLog]:
    with ctx.sessions() as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.entity == "outbox")))


def _failed(ctx: AppContext, *, kind: str = "confirmation", subject: str = "Bestätigung") -> int:
    """A mail dispatch gave up on after `send_max_attempts` (8) tries."""
    return seed_outbox(ctx, key="failed-1", kind=kind, subject=subject, status="failed",
                       attempts=8, last_error="550 Postfach voll")  # fmt: skip


def test_outbox_pages_need_a_session(ctx: AppContext, client: TestClient) -> None:
    outbox_id = _failed(ctx)
    for path in ("/outbox", f"/outbox/{outbox_id}", "/outbox?status=failed"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    response = client.post(f"/outbox/{outbox_id}/retry", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert _row(ctx, outbox_id).status == "failed"


def test_outbox_lists_and_filters_by_status_and_kind(
    ctx: AppContext, client: TestClient, clock: FrozenClock
) -> None:
    seeded = seed_task(ctx)
    sent_at = dt.datetime(2026, 11, 20, 8, 31, tzinfo=dt.UTC)
    seed_outbox(ctx, key="c1", message_id=seeded.message_id, status="sent", sent_at=sent_at)
    seed_outbox(ctx, key="r1", kind="reminder", subject="Bitte Zählerstand melden")
    _failed(ctx, kind="resend_request", subject="Bitte ein neues Foto")
    login(client)

    page = client.get("/outbox").text
    assert "Postausgang" in page and 'href="/outbox"' in page  # heading and nav
    for text in ("Bestätigung", "Erinnerung", "Bitte neues Foto", "Gesendet", "Fehlgeschlagen"):
        assert text in page, text
    assert "20.11.2026 09:31" in page  # sent time, German and Berlin time
    assert "20.11.2026 10:25" in page  # next attempt of the pending reminder
    assert "550 Postfach voll" in page
    assert f'href="/tasks/{seeded.task_id}"' in page  # what the confirmation answers

    failed = client.get("/outbox?status=failed").text
    assert "Bitte ein neues Foto" in failed and "Bitte Zählerstand melden" not in failed
    reminders = client.get("/outbox?kind=reminder").text
    assert "Bitte Zählerstand melden" in reminders and "Bitte ein neues Foto" not in reminders
    assert "Bitte ein neues Foto" in client.get("/outbox?status=bogus&kind=bogus").text


def test_outbox_mail_shows_text_escaped_and_the_headers_we_send(
    ctx: AppContext, client: TestClient
) -> None:
    seeded = seed_task(ctx)
    outbox_id = seed_outbox(ctx, key=f"confirmation:{seeded.message_id}", subject=SCRIPT,
                            message_id=seeded.message_id)  # fmt: skip
    login(client)
    page = client.get(f"/outbox/{outbox_id}").text
    assert SCRIPT not in page and "<p><script>" not in page
    body = "Guten Tag,\n\nvielen Dank für Ihren Zählerstand.\n\n"
    assert f'<pre class="mailtext">{body}{ESCAPED}' in page  # the text part, as text
    assert "&lt;p&gt;" + ESCAPED in page  # the HTML part as source text
    for header in ("From", "To", "Subject", "Message-ID", "Auto-Submitted", "Content-Language"):
        assert f"<th>{header}</th>" in page, header
    assert "<td>max1@example.org</td>" in page and "auto-replied" in page
    assert "<td>&lt;mi." in page  # the deterministic Message-ID
    assert f'href="/tasks/{seeded.task_id}"' in page
    assert 'action="/outbox/' not in page  # pending: no retry button
    assert client.get("/outbox/9999").status_code == 404


def test_html_in_subject_recipient_and_error_is_escaped(
    ctx: AppContext, client: TestClient
) -> None:
    bad = f"x{SCRIPT}@example.org"
    outbox_id = seed_outbox(ctx, key="evil", status="failed", recipient=bad, subject=SCRIPT,
                            last_error=SCRIPT)  # fmt: skip
    login(client)
    for path in ("/outbox", "/outbox?status=failed", f"/outbox/{outbox_id}"):
        html = client.get(path).text
        assert SCRIPT not in html, path
        assert ESCAPED in html, path
    detail = client.get(f"/outbox/{outbox_id}").text
    assert "kann so nicht versendet werden" in detail  # invalid recipient: no headers


def test_retry_sets_a_failed_mail_back_to_pending_and_it_is_sent(
    ctx: AppContext, client: TestClient, clock: FrozenClock
) -> None:
    outbox_id = _failed(ctx)
    csrf = login(client)
    page = client.get(f"/outbox/{outbox_id}").text
    assert f'action="/outbox/{outbox_id}/retry"' in page and "Erneut versuchen" in page

    response = client.post(
        f"/outbox/{outbox_id}/retry", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/outbox/{outbox_id}?retried=1"
    row = _row(ctx, outbox_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, clock())
    [entry] = _audit(ctx)
    assert (entry.actor, entry.action, entry.entity_id) == ("erika", "outbox_retry", outbox_id)
    assert entry.details["attempts"] == 8 and entry.details["last_error"] == "550 Postfach voll"
    assert "wird erneut versucht" in client.get(response.headers["location"]).text

    sender = _Recording(ctx)
    assert send_due(ctx, sender=sender).sent == 1  # attempts were reset: dispatch takes it
    assert _row(ctx, outbox_id).status == "sent" and sender.sent[0]["To"] == "max1@example.org"


def test_retry_of_a_mail_that_has_not_failed_changes_nothing(
    ctx: AppContext, client: TestClient
) -> None:
    sent_at = dt.datetime(2026, 11, 20, 8, 31, tzinfo=dt.UTC)
    outbox_id = seed_outbox(ctx, key="done", status="sent", sent_at=sent_at)
    csrf = login(client)
    response = client.post(f"/outbox/{outbox_id}/retry", data={"csrf_token": csrf})
    assert "ist nicht fehlgeschlagen" in response.text
    assert _row(ctx, outbox_id).status == "sent" and _audit(ctx) == []
    missing = client.post("/outbox/9999/retry", data={"csrf_token": csrf})
    assert missing.status_code == 404


def test_retry_needs_the_csrf_token(ctx: AppContext, client: TestClient) -> None:
    outbox_id = _failed(ctx)
    login(client)
    for data in ({}, {"csrf_token": "wrong"}):
        response = client.post(f"/outbox/{outbox_id}/retry", data=data, follow_redirects=False)
        assert response.status_code == 403
    row = _row(ctx, outbox_id)
    assert (row.status, row.attempts) == ("failed", 8) and _audit(ctx) == []


def test_ledger_and_task_page_show_which_reply_was_sent(
    ctx: AppContext, client: TestClient
) -> None:
    seeded = seed_task(ctx)
    sent_at = dt.datetime(2026, 11, 20, 8, 31, tzinfo=dt.UTC)
    outbox_id = seed_outbox(ctx, key="c1", message_id=seeded.message_id, status="sent",
                            sent_at=sent_at)  # fmt: skip
    seed_outbox(ctx, key="r1", kind="received_review", message_id=seeded.message_id)
    login(client)
    for path in ("/messages", f"/messages?id={seeded.message_id}", f"/tasks/{seeded.task_id}"):
        page = client.get(path).text
        assert f'Antwort: <a href="/outbox/{outbox_id}">Bestätigung</a>' in page, path
        assert "gesendet 20.11.2026 09:31" in page, path
        assert "Eingangsbestätigung</a>" in page and "eingeplant 20.11.2026 10:20" in page, path
    assert "Betreff" not in client.get("/messages?id=9999").text.split("<tbody>")[-1]


def test_outbox_in_english_keeps_german_dates(ctx: AppContext, client: TestClient) -> None:
    sent_at = dt.datetime(2026, 11, 20, 8, 31, tzinfo=dt.UTC)
    seed_outbox(ctx, key="c1", status="sent", sent_at=sent_at)
    login(client)
    page = client.get("/outbox?lang=en").text
    assert "<h1>Outbox</h1>" in page and "Confirmation" in page and "20.11.2026 09:31" in page
