"""The confirmation shows the consumption since the last reading, per day, against the year before
and the meter's average, with a chart as an inline `cid:` PNG: the arithmetic as plain functions,
and the mail end to end through the real SMTP server on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from email.message import EmailMessage

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.models import (
    ContractAccount,
    Customer,
    InboundMessage,
    Meter,
    MeterAccountMove,
    Outbox,
    Reading,
)
from notifications.consumption import Point, compare, comparison_for
from notifications.dispatch import send_due
from notifications.installment import installment_hint
from notifications.outbox import ConfirmedReading, queue_confirmation
from tests.fixtures_smtp import SmtpTestServer

HISTORY = [
    Point(dt.date(2023, 11, 20), Decimal("6350")),
    Point(dt.date(2024, 11, 20), Decimal("10000")),
    Point(dt.date(2025, 11, 20), Decimal("13650")),
]
NEW = Point(dt.date(2026, 11, 20), Decimal("16570"))


def test_consumption_per_day_against_the_year_before_and_the_average() -> None:
    found = compare(HISTORY, NEW)
    assert found is not None
    assert (found.current.start, found.current.days, found.current.used) == (
        dt.date(2025, 11, 20), 365, Decimal("2920"))  # fmt: skip
    assert found.current.per_day == Decimal(8)
    assert found.year_before_per_day == Decimal(10)
    assert found.change_to_year_before == Decimal("-0.2")
    assert found.average_per_day is not None
    assert round(found.average_per_day, 3) == Decimal("9.986")  # 7,300 kWh in 731 days
    assert [p.end for p in found.periods] == [p.read_on for p in HISTORY[1:]] + [NEW.read_on]


def test_year_before_is_interpolated_between_readings_of_other_dates() -> None:
    history = [
        Point(dt.date(2024, 10, 1), Decimal("100")),
        Point(dt.date(2025, 12, 31), Decimal("555")),
    ]
    found = compare(history, Point(dt.date(2026, 6, 1), Decimal("700")))
    assert found is not None and found.year_before_per_day is not None
    # both dates a year back fall in the one period 2024-10-01 .. 2025-12-31: its daily rate
    assert round(found.year_before_per_day, 9) == round(Decimal(455) / 456, 9)


def test_no_comparison_without_a_usable_history() -> None:
    assert compare([], NEW) is None
    assert compare([Point(NEW.read_on, Decimal(1))], NEW) is None  # only the same day
    assert compare([Point(dt.date(2026, 1, 1), Decimal("99999"))], NEW) is None  # went down
    short = compare([Point(dt.date(2026, 10, 1), Decimal("16000"))], NEW)
    assert short is not None and short.year_before_per_day is None
    assert short.average_per_day is None


def test_a_meter_change_period_is_left_out_of_the_chart() -> None:
    changed = [*HISTORY, Point(dt.date(2026, 3, 1), Decimal("5"))]
    found = compare(changed, Point(NEW.read_on, Decimal("2000")))
    assert found is not None
    assert all(period.used >= 0 for period in found.periods)
    assert found.average_per_day is None  # the history is not monotone


def seed_history(session: Session) -> int:
    """Erika's electricity meter with three years of readings and the new one; the mail's id."""
    customer = Customer(name="Erika Mustermann", email="erika@example.org")
    meter = Meter(number="1ESY1160123456", account=ContractAccount(number="100200300",
                  customer=customer), kind="electricity", unit="kWh", integer_digits=6,
                  decimal_digits=0)  # fmt: skip
    session.add(meter)
    session.flush()
    for point in [*HISTORY, NEW]:
        session.add(Reading(meter_id=meter.id, value=point.value, read_on=point.read_on,
                            source="import", status="accepted"))  # fmt: skip
    inbound = InboundMessage(mailbox="INBOX", source_key="maildir:1", sha256="0" * 64)
    session.add(inbound)
    session.flush()
    return inbound.id


def _sent_confirmation(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer, *, tariff: tuple[str, ...] = ()
) -> EmailMessage:
    """Erika's confirmation of the new reading, as the SMTP server received it."""
    with transaction(smtp_ctx.sessions) as session:
        inbound_id = seed_history(session)
        if tariff:
            _with_tariff(session, *tariff)
        reading = ConfirmedReading("1ESY1160123456", NEW.value, "kWh", NEW.read_on)
        assert queue_confirmation(session, recipient="erika@example.org", language="de",
                                  inbound_message_id=inbound_id, readings=[reading],
                                  now=smtp_ctx.clock())  # fmt: skip
    assert send_due(smtp_ctx).sent == 1
    [mail] = smtp_server.wait_for(1)
    return mail


def test_confirmation_mail_carries_the_figures_and_an_inline_chart(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    mail = _sent_confirmation(smtp_ctx, smtp_server)
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    plain = text.get_content()
    assert "Verbrauch:     2.920 kWh seit 20.11.2025 (365 Tage), 8,00 kWh pro Tag" in plain
    assert (
        "Vorjahr:       10,00 kWh pro Tag im selben Zeitraum (20 % weniger als im Vorjahr)" in plain
    )
    assert "Durchschnitt:  9,99 kWh pro Tag" in plain
    assert "20.11.2025 bis 20.11.2026: 8,00 kWh" in plain  # the chart's text alternative
    related = mail.get_body(preferencelist=("related",))
    assert related is not None and related.get_content_type() == "multipart/related"
    html, image = list(related.iter_parts())
    assert 'src="cid:chart"' in html.get_content()
    assert image["Content-ID"] == "<chart>" and image.get_content_type() == "image/png"
    png = image.get_content()
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).size == (520, 220)


def test_confirmation_without_history_has_no_chart(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    with transaction(smtp_ctx.sessions) as session:
        inbound_id = seed_history(session)
        reading = ConfirmedReading("UNKNOWN-METER", Decimal("5"), "m3", NEW.read_on)
        queue_confirmation(session, recipient="erika@example.org", language="en",
                           inbound_message_id=inbound_id, readings=[reading],
                           now=smtp_ctx.clock())  # fmt: skip
    assert send_due(smtp_ctx).sent == 1
    [mail] = smtp_server.wait_for(1)
    assert mail.get_body(preferencelist=("related",)) is None
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None and "Consumption" not in text.get_content()


def _with_tariff(session: Session, installment: str, unit_price: str, base_price: str) -> None:
    meter = session.scalars(select(Meter)).one()
    meter.unit_price, meter.base_price = Decimal(unit_price), Decimal(base_price)
    meter.account.monthly_installment = Decimal(installment)


def _confirmation_text(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer, tariff: tuple[str, ...]
) -> str:
    mail = _sent_confirmation(smtp_ctx, smtp_server, tariff=tariff)
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    return " ".join(text.get_content().split())


def test_installment_hint_when_the_consumption_outgrows_the_installments(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    # 8 kWh a day: 2,920 kWh at 0.40 €/kWh + 150 € base price = 1,318 € against 12 × 70 € = 840 €
    text = _confirmation_text(smtp_ctx, smtp_server, ("70", "0.40", "150"))
    assert "Hinweis zu Ihrem Abschlag" in text
    assert "schätzen wir Ihre Kosten für ein Jahr auf etwa 1.318 €" in text
    assert "Ihre monatlichen Abschläge von 70 € ergeben 840 € im Jahr" in text
    assert "anheben, zum Beispiel auf 110 € im Monat" in text
    assert "keine Rechnung" in text


def test_no_installment_hint_when_the_installments_fit(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    text = _confirmation_text(smtp_ctx, smtp_server, ("110", "0.40", "150"))  # 1,320 € a year
    assert "Abschlag" not in text


def test_a_heat_meter_billed_in_mwh_shows_its_daily_use_in_significant_digits(
    ctx: AppContext,
) -> None:
    history = [("2024-12-03", "10.210"), ("2025-12-05", "18.450"), ("2026-12-07", "26.712")]
    with transaction(ctx.sessions) as session:
        customer = Customer(name="Heinz Wärme", email="heinz@example.org")
        account = ContractAccount(number="300100", customer=customer)
        meter = Meter(number="20932602", account=account, kind="heat", unit="MWh",
                      integer_digits=5, decimal_digits=3)  # fmt: skip
        session.add(meter)
        session.flush()
        for day, value in history:
            session.add(Reading(meter_id=meter.id, value=Decimal(value), status="accepted",
                                read_on=dt.date.fromisoformat(day), source="import"))  # fmt: skip
        inbound = InboundMessage(mailbox="INBOX", source_key="maildir:mwh", sha256="1" * 64)
        session.add(inbound)
        session.flush()
        reading = ConfirmedReading(
            "20932602", Decimal("26.712"), "MWh", dt.date(2026, 12, 7), decimal_digits=3
        )
        assert queue_confirmation(session, recipient="heinz@example.org", language="de",
                                  inbound_message_id=inbound.id, readings=[reading],
                                  now=ctx.clock())  # fmt: skip
    with ctx.sessions() as session:
        plain = session.scalars(select(Outbox.body_text)).one()
    assert "Zählerstand:   26,712 MWh" in plain
    assert "Verbrauch:     8,262 MWh seit 05.12.2025 (367 Tage), 0,023 MWh pro Tag" in plain
    assert "Durchschnitt:  0,022 MWh pro Tag" in plain  # 8,24 MWh in 367 days
    assert "05.12.2025 bis 07.12.2026: 0,023 MWh" in plain


def _moved_to_john(session: Session) -> None:
    """Erika's meter (three years of her readings) moved to John on 01.01.2026, read that day;
    John's new reading of 20.11.2026 booked. Installments: Erika 70 €, John 200 €."""
    erika = ContractAccount(
        number="100200300",
        monthly_installment=Decimal(70),
        customer=Customer(name="Erika Mustermann", email="erika@example.org"),
    )
    john = ContractAccount(
        number="100200999",
        monthly_installment=Decimal(200),
        customer=Customer(name="John Smith", email="john@example.org"),
    )
    meter = Meter(number="1ESY1160123456", account=john, kind="electricity", unit="kWh",
                  integer_digits=6, decimal_digits=0, unit_price=Decimal("0.40"),
                  base_price=Decimal(150))  # fmt: skip
    session.add_all([erika, john, meter])
    session.flush()
    session.add(MeterAccountMove(meter_id=meter.id, from_account_id=erika.id,
                                 to_account_id=john.id, moved_on=dt.date(2026, 1, 1)))  # fmt: skip
    handover = Point(dt.date(2026, 1, 1), Decimal("14740"))
    for point in [*HISTORY, handover, NEW]:
        session.add(Reading(meter_id=meter.id, value=point.value, read_on=point.read_on,
                            source="import", status="accepted"))  # fmt: skip
    session.flush()


def test_after_a_move_the_confirmation_compares_with_the_new_tenants_readings_only(
    ctx: AppContext,
) -> None:
    with transaction(ctx.sessions) as session:
        _moved_to_john(session)
        john = comparison_for(session, "1ESY1160123456", None, NEW.value, NEW.read_on)
        erika = installment_hint(session, "1ESY1160123456", HISTORY[-1].read_on)
        johns = installment_hint(session, "1ESY1160123456", NEW.read_on)
    assert john is not None
    assert [(p.start, p.end) for p in john.periods] == [(dt.date(2026, 1, 1), NEW.read_on)]
    assert john.year_before_per_day is None  # Erika's year is not John's
    # a late confirmation of Erika's last reading: her installment, her consumption (10 kWh/day)
    assert erika is not None and erika.monthly == Decimal(70)
    assert erika.estimate == Decimal(1610)  # 10 × 365 × 0.40 + 150
    assert johns is not None and johns.monthly == Decimal(200)
