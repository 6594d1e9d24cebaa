"""Realistic customer mails as raw bytes, for the demo and the tests (photos from `ocr.synth`)."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy.orm import Session

from core.context import system_clock
from core.models import ContractAccount, Customer, Meter


def customer_mail(
    *,
    sender: str,
    subject: str = "Zählerstand",
    body: str = "Hallo,\nanbei das Foto meines Zählers.\nViele Grüße",
    photos: Sequence[tuple[str, bytes]] = (),
    message_id: str | None = None,
    to: str = "zaehlerstand@stadtwerke.example",
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A phone-style mail: text body plus JPEG attachments (`photos` = (filename, bytes))."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(system_clock())
    msg["Message-ID"] = message_id or make_msgid(domain="kunde.example")
    for name, value in extra_headers:
        msg[name] = value
    msg.set_content(body)
    for filename, data in photos:
        msg.add_attachment(data, maintype="image", subtype="jpeg", filename=filename)
    return msg.as_bytes()


def meter_photo(reading: str, fraction: str = "", *, seed: int = 0, angle: float = 0) -> bytes:
    """JPEG bytes of a rendered drum meter showing `reading` (black) and `fraction` (red)."""
    from ocr.synth import encode_jpeg, render_drum_meter

    return encode_jpeg(render_drum_meter(reading, fraction, seed=seed, angle=angle))


def numbered_photo_mail(sender: str, n: int) -> bytes:
    """The sender's n-th mail, with a photo of the counter at 04521 (taken anew each time)."""
    photo = meter_photo("04521", seed=n)
    return customer_mail(sender=sender, photos=[(f"z{n}.jpg", photo)], message_id=f"<m{n}@k>")


def seed_meter(
    session: Session,
    *,
    email: str,
    account: str,
    meter: str,
    name: str = "Erika Mustermann",
    kind: str = "water",
    unit: str = "m3",
    integer_digits: int = 5,
    decimal_digits: int = 0,
    display: str | None = None,
) -> int:
    """One customer, one contract account, one meter (demo/test master data); the meter id."""
    customer = Customer(name=name, email=email, language="de")
    contract = ContractAccount(number=account, customer=customer)
    row = Meter(
        number=meter, account=contract, kind=kind, unit=unit, integer_digits=integer_digits,
        decimal_digits=decimal_digits, registers="1.8.0", display=display,
    )  # fmt: skip
    session.add_all([customer, contract, row])
    session.flush()
    return row.id
