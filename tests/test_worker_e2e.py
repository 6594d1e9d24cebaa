"""End to end on real parts: Dovecot → worker (real OCR, matching) → database → aiosmtpd.

Runs on SQLite and PostgreSQL (the `ctx` fixture under `smtp_ctx`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from core.context import AppContext
from core.models import InboundMessage, Outbox, Reading, ReviewTask
from intake.imap import ImapSource
from intake.worker import run_worker
from matching.masterdata import import_csv
from tests.fixtures_dovecot import DovecotServer
from tests.fixtures_smtp import SmtpTestServer
from tests.samples import customer_mail, meter_photo
from tests.test_intake_imap import folder_count, imap_settings

pytestmark = pytest.mark.imap
CUSTOMER = "erika.mustermann@example.de"
MASTER_DATA = (
    "vertragskonto;name;email;sprache;zaehlernummer;art;einheit;vorkommastellen;"
    "nachkommastellen;letzter_stand;letzter_stand_datum\n"
    f"400012345678;Erika Mustermann;{CUSTOMER};de;12345678;Wasser;m3;5;0;4100;01.11.2025\n"
    "400087654321;Max Muster;max@example.de;de;1ESY1160123456;Strom;kWh;6;0;12000;01.11.2025\n"
)


def counts(ctx: AppContext) -> tuple[int, ...]:
    with ctx.sessions() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (InboundMessage, Reading, ReviewTask, Outbox)
        )


def test_photo_mail_to_reply(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer, dovecot: DovecotServer, tmp_path: Path
) -> None:
    ctx = smtp_ctx
    ctx.settings = imap_settings(ctx.settings, dovecot).model_copy(update={"smtp_enabled": True})
    csv_path = tmp_path / "stammdaten.csv"
    csv_path.write_text(MASTER_DATA, encoding="utf-8")
    assert not import_csv(ctx, csv_path, progress=False).errors
    photo = meter_photo("04521", seed=4, angle=3)
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10) as imap:
        imap.login(dovecot.user, dovecot.password)
        imap.append(
            "INBOX",
            customer_mail(
                sender=f"Erika Mustermann <{CUSTOMER}>",
                subject="Zählerstand Wasser",
                body="Guten Tag,\nanbei mein Zählerstand.\nVertragskonto 400012345678",
                photos=[("IMG_2041.jpg", photo)],
                message_id="<e2e-1@example.de>",
            ),
        )
        imap.append(
            "INBOX",
            customer_mail(sender="fremd@example.org", photos=[("x.jpg", photo)]),
        )

    report = run_worker(ctx, once=True, source=ImapSource(ctx.settings))
    # the stranger (an address of no customer) gets no automatic reply; a clerk sees the mail
    assert report.fetched == 2 and report.failed == 0 and report.sent == 1, report.summary()

    with ctx.sessions() as session:
        row = session.scalars(
            select(InboundMessage).where(InboundMessage.message_id == "<e2e-1@example.de>")
        ).one()
        reading = session.scalars(
            select(Reading).where(Reading.inbound_message_id == row.id)
        ).first()
        task = session.scalars(
            select(ReviewTask).where(ReviewTask.inbound_message_id == row.id)
        ).first()
    assert row.moved_at is not None and row.status in ("accepted", "review")
    assert (reading is None) != (task is None)  # exactly one of the two
    expected_folder = "Processed" if reading else "Needs-Review"
    assert row.target_folder == expected_folder
    assert folder_count(dovecot, "INBOX") == 0 and folder_count(dovecot, expected_folder) >= 1

    [reply] = smtp_server.wait_for(1)
    assert str(reply["To"]) == CUSTOMER
    assert reply["In-Reply-To"] == "<e2e-1@example.de>"
    assert reply["Auto-Submitted"] and reply["Subject"]

    before = counts(ctx)
    again = run_worker(ctx, once=True, source=ImapSource(ctx.settings))
    assert (again.fetched, again.sent, again.accepted, again.review) == (0, 0, 0, 0)
    assert counts(ctx) == before
    smtp_server.assert_no_more(1, wait=0.5)
