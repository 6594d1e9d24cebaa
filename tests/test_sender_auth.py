"""The sender check: Authentication-Results (RFC 8601) as real mail servers write them, only our
own server's topmost stamps believed, and a mail whose From our server could not confirm never
booked automatically (pipeline on SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import mailbox

import pytest

from core.context import AppContext
from core.models import Outbox, Reading, ReviewTask
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake.authresults import AuthResults, MethodResult, parse, strip_comments
from intake.ledger import fetch_new
from intake.maildir import MaildirSource
from intake.sender_auth import check_sender, trusted_results, verdict
from matching import reasons
from review_ui.decisions import DecisionInput, decide
from review_ui.task_facts import resend_asked_by_default, task_facts
from tests.readers import per_hint
from tests.samples import customer_mail
from tests.test_intake_pipeline import CUSTOMER, JPEG, all_of, run_one

OURS = frozenset({"mx.stadtwerke.example"})
OK = "signature ok; aligned"

GMAIL = (
    "mx.google.com;\r\n"
    "       dkim=pass header.i=@example.com header.s=20230601 header.b=AbCdEf12;\r\n"
    "       spf=pass (google.com: domain of kunde@example.com designates 209.85.220.41 as "
    "permitted sender) smtp.mailfrom=kunde@example.com;\r\n"
    "       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com"
)
MICROSOFT = (  # Exchange Online names no authserv-id: never one of ours
    "spf=pass (sender IP is 40.107.1.2)\r\n smtp.mailfrom=example.com; dkim=none (message not "
    "signed)\r\n header.d=none;dmarc=none action=none header.from=example.com;compauth=pass "
    "reason=100"
)


@per_hint
def unreadable(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    return MeterRead(reading=None, reason="no_counter")


def stamp(value: str) -> bytes:
    return f"Authentication-Results: {value}\r\n".encode()


def test_a_gmail_stamp_gives_every_result_with_its_properties() -> None:
    parsed = parse(GMAIL)
    assert parsed.authserv_id == "mx.google.com"
    assert [(r.method, r.result) for r in parsed.results] == [
        ("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")
    ]  # fmt: skip
    assert parsed.results[0].properties == {
        "header.i": "@example.com", "header.s": "20230601", "header.b": "AbCdEf12"
    }  # fmt: skip
    assert parsed.results[1].properties == {"smtp.mailfrom": "kunde@example.com"}


def test_a_field_without_authserv_id_is_nobodys() -> None:
    assert parse(MICROSOFT) == AuthResults("", ())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mx.stadtwerke.example 1; none", AuthResults("mx.stadtwerke.example")),
        ('"MX.Stadtwerke.Example"; spf=fail smtp.mailfrom=a.de',
         AuthResults("mx.stadtwerke.example",
                     (MethodResult("spf", "fail", {"smtp.mailfrom": "a.de"}),))),
        ("mx.stadtwerke.example (rspamd (v3)); dkim/1 = PASS (good; key) header . d = a.de "
         'reason="signature ok; aligned"',
         AuthResults("mx.stadtwerke.example",
                     (MethodResult("dkim", "pass", {"header.d": "a.de"}, OK),))),
        ("mx.stadtwerke.example;\r\n\tdmarc=fail (p=reject dis=none)\r\n\theader.from=a.de;",
         AuthResults("mx.stadtwerke.example",
                     (MethodResult("dmarc", "fail", {"header.from": "a.de"}),))),
        ("", AuthResults("")),
        ("mx.stadtwerke.example; ===; (unclosed", AuthResults("mx.stadtwerke.example")),
    ],
)  # fmt: skip
def test_real_world_shapes(value: str, expected: AuthResults) -> None:
    assert parse(value) == expected


def test_comments_nest_and_quoted_parentheses_stay() -> None:
    assert strip_comments('a (b (c) d) "e (f)" \\( g').split() == ["a", '"e', '(f)"', "\\(", "g"]


def mail_with(*stamps: bytes, sender: str = CUSTOMER) -> bytes:
    return b"".join(stamps) + customer_mail(sender=sender, photos=[("z.jpg", JPEG)])


def test_only_our_servers_topmost_run_of_stamps_is_read() -> None:
    forged = stamp("mx.stadtwerke.example; dmarc=pass header.from=example.de")
    raw = (
        stamp("other.example; dmarc=pass header.from=example.de")  # not ours: skipped
        + stamp("mx.stadtwerke.example; dkim=none")
        + stamp("mx.stadtwerke.example; spf=fail smtp.mailfrom=example.de")
        + b"Received: from evil.example by mx.stadtwerke.example\r\n"
        + forged  # written by the sender below our server's stamps: ignored
        + customer_mail(sender="erika@example.de")
    )
    found = trusted_results(raw, OURS)
    assert [r.method for stamp in found for r in stamp.results] == ["dkim", "spf"]
    assert check_sender(raw, "erika@example.de", OURS) == "fail"


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ("dmarc=fail header.from=example.de; dkim=pass header.d=example.de", "fail"),
        ("dmarc=pass header.from=example.de; spf=fail smtp.mailfrom=example.de", "pass"),
        ("dmarc=fail header.from=other.example; spf=pass smtp.mailfrom=example.de", "pass"),
        ("spf=fail smtp.mailfrom=example.de; dkim=none", "fail"),
        ("spf=softfail smtp.mailfrom=bounce.example.de", "fail"),
        ("spf=fail smtp.mailfrom=example.de; dkim=pass header.d=mail.example.de", "pass"),
        ("spf=fail smtp.mailfrom=example.de; dkim=pass header.i=@example.de", "pass"),
        ("spf=fail smtp.mailfrom=example.de; dkim=pass header.d=freemailer.example", "fail"),
        ("spf=pass smtp.mailfrom=freemailer.example; dkim=none", "none"),
        ("spf=neutral smtp.mailfrom=example.de; dmarc=none header.from=example.de", "none"),
        ("dmarc=temperror header.from=example.de; spf=pass smtp.mailfrom=example.de", "pass"),
    ],
)
def test_the_verdict_for_the_from_domain(results: str, expected: str) -> None:
    assert verdict([parse(f"mx.stadtwerke.example; {results}")], "example.de") == expected


def test_no_stamp_of_ours_is_missing_and_no_trusted_id_is_not_checked() -> None:
    raw = mail_with(stamp("other.example; dmarc=pass header.from=example.de"))
    assert check_sender(raw, "erika@example.de", OURS) == "missing"
    assert check_sender(raw, "erika@example.de", frozenset()) is None


@pytest.fixture
def checked(ctx: AppContext) -> AppContext:
    from tests.samples import seed_meter

    with ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
    settings = ctx.settings.model_copy(
        update={"trusted_authserv_ids": "mx.stadtwerke.example, mx2.stadtwerke.example"}
    )
    return dataclasses.replace(ctx, settings=settings)


def test_a_forged_sender_is_never_booked_and_the_clerk_sees_why(checked: AppContext) -> None:
    domain = CUSTOMER.split("@")[1]
    forged = stamp(f"mx.stadtwerke.example; spf=fail smtp.mailfrom={domain}; dkim=none; "
                   f"dmarc=fail (p=none) header.from={domain}")  # fmt: skip
    row = run_one(checked, mail_with(forged))
    assert row.status == "review"
    assert all_of(checked, Reading) == []
    [task] = all_of(checked, ReviewTask)
    assert task.reason_codes == [reasons.SENDER_NOT_VERIFIED]
    assert reasons.label(task.reason_codes[0]) == "Absender nicht bestätigt (SPF/DKIM/DMARC)"
    assert task.details["sender_check"] == "fail"
    with checked.sessions() as session:
        facts = task_facts(session.get(ReviewTask, task.id))  # type: ignore[arg-type]
    assert [f.key for f in facts] == ["facts.sender_check"]


def test_a_mail_without_our_servers_stamp_goes_to_a_clerk(checked: AppContext) -> None:
    assert run_one(checked, mail_with()).status == "review"
    [task] = all_of(checked, ReviewTask)
    assert task.details["sender_check"] == "missing"


def test_a_confirmed_sender_is_booked_as_before(checked: AppContext) -> None:
    domain = CUSTOMER.split("@")[1]
    good = stamp(f"mx2.stadtwerke.example; spf=pass smtp.mailfrom={domain}; "
                 f"dkim=pass header.d={domain}; dmarc=pass header.from={domain}")  # fmt: skip
    assert run_one(checked, mail_with(good)).status == "accepted"
    assert len(all_of(checked, Reading)) == 1


def test_without_trusted_authserv_ids_nothing_is_checked(ctx: AppContext) -> None:
    from tests.samples import seed_meter

    with ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
    assert run_one(ctx, mail_with()).status == "accepted"


FORGED = stamp(
    "mx.stadtwerke.example; spf=fail smtp.mailfrom=example.de; dkim=none; "
    "dmarc=fail (p=none) header.from=example.de"
)


@pytest.mark.parametrize("stamps", [(FORGED,), ()], ids=["forged", "no-stamp"])
def test_an_unconfirmed_sender_gets_no_automatic_reply(
    checked: AppContext, stamps: tuple[bytes, ...]
) -> None:
    """The customer on file is not thanked for a stranger's mail (nor asked for a new photo):
    the clerk's decision sends what is needed."""
    assert run_one(checked, mail_with(*stamps)).status == "review"
    assert all_of(checked, Outbox) == []


def test_an_unconfirmed_sender_with_an_unreadable_photo_gets_no_resend_request(
    checked: AppContext,
) -> None:
    assert run_one(checked, mail_with(FORGED), unreadable).status == "review"
    assert all_of(checked, Outbox) == []


def test_an_unconfirmed_sender_without_photo_gets_no_reply(checked: AppContext) -> None:
    raw = FORGED + customer_mail(sender=CUSTOMER, body="Hallo, wie geht es?")
    assert run_one(checked, raw).status == "rejected"
    assert all_of(checked, Outbox) == []


def test_the_clerks_booking_of_an_unconfirmed_mail_confirms_to_the_address_on_file(
    checked: AppContext,
) -> None:
    run_one(checked, mail_with(FORGED))
    [task] = all_of(checked, ReviewTask)
    decision = DecisionInput("accept", task.proposed_value, task.meter_id)
    decide(checked, task.id, decision, clerk="petra")
    [mail] = all_of(checked, Outbox)
    assert (mail.kind, mail.recipient) == ("confirmation", CUSTOMER)


def test_rejecting_an_unconfirmed_mail_asks_for_no_photo_by_default(
    checked: AppContext,
) -> None:
    run_one(checked, mail_with(FORGED))
    [task] = all_of(checked, ReviewTask)
    assert not resend_asked_by_default(task.reason_codes)
    assert resend_asked_by_default(["low_confidence"])


def test_a_too_large_mail_from_an_unconfirmed_sender_gets_no_reply(checked: AppContext) -> None:
    checked.settings.max_message_bytes = 2000
    path = checked.settings.effective_maildir
    path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(path, create=True)
    box.add(FORGED + customer_mail(sender=CUSTOMER, photos=[("a.jpg", b"\xff" * 5000)]))
    assert fetch_new(checked, MaildirSource(path)).rejected == 1
    assert all_of(checked, Outbox) == []
