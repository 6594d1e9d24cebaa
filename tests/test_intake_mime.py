"""MIME parsing with hand-written mails: images, text, hints, loop protection, hostile input."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from email.message import EmailMessage

import pillow_heif
import pytest
from PIL import Image

from intake.html_text import html_to_text
from intake.mime import MimeLimits, content_digest, envelope, parse_message, sniff_image

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
pillow_heif.register_heif_opener()


def _image(fmt: str = "JPEG", size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()


def _mail(body: str = "Hallo, anbei mein Zählerstand.", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Erika Muster <erika@example.de>")
    msg["To"] = "zaehlerstand@stadtwerke.example"
    msg["Subject"] = headers.pop("Subject", "Zählerstand")
    msg["Message-ID"] = headers.pop("Message_ID", "<abc@example.de>")
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def test_multipart_with_jpeg_attachment() -> None:
    msg = _mail("Zählerstand: 12.345,6\nVertragskonto 123456789")
    msg.add_attachment(_image(), maintype="image", subtype="jpeg", filename="zaehler.jpg")
    sub = parse_message(msg.as_bytes(), ledger_id=7, received_at=NOW)
    assert sub.sender == "erika@example.de"
    assert sub.sender_name == "Erika Muster"
    assert sub.message_id == "<abc@example.de>"
    assert sub.ledger_id == 7
    assert [(i.filename, i.content_type) for i in sub.images] == [("zaehler.jpg", "image/jpeg")]
    assert sub.images[0].data.startswith(b"\xff\xd8")
    assert sub.hints.readings == (Decimal("12345.6"),)
    assert sub.hints.account_numbers == ("123456789",)
    assert not sub.is_auto_reply and not sub.is_bounce and sub.rejected_parts == ()


def test_inline_image_in_html_related() -> None:
    msg = _mail("Text")
    msg.add_alternative("<p>Mein <b>Zählerstand</b>: 4521</p><img src='cid:pic1'>", subtype="html")
    html_part = msg.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(_image("PNG"), maintype="image", subtype="png", cid="<pic1>")
    sub = parse_message(msg.as_bytes(), ledger_id=1, received_at=NOW)
    assert [i.content_type for i in sub.images] == ["image/png"]
    assert sub.body_text == "Text"  # plain alternative preferred over HTML


def test_heic_and_octet_stream_images() -> None:
    msg = _mail()
    msg.add_attachment(_image("HEIF"), maintype="image", subtype="heic", filename="IMG_0001.HEIC")
    msg.add_attachment(
        _image(), maintype="application", subtype="octet-stream", filename="foto.jpg"
    )
    msg.add_attachment(_image("PNG"), maintype="application", subtype="octet-stream")
    sub = parse_message(msg.as_bytes(), ledger_id=1, received_at=NOW)
    assert [i.content_type for i in sub.images] == ["image/heic", "image/jpeg", "image/png"]


def test_unsupported_and_too_many_and_too_large_parts_are_recorded() -> None:
    msg = _mail()
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="a.pdf")
    for n in range(3):
        msg.add_attachment(_image(), maintype="image", subtype="jpeg", filename=f"{n}.jpg")
    msg.add_attachment(_image(size=(600, 600)), maintype="image", subtype="png", filename="big.png")
    limits = MimeLimits(max_images=2, max_image_bytes=1500)
    sub = parse_message(msg.as_bytes(), ledger_id=1, received_at=NOW, limits=limits)
    assert len(sub.images) == 2
    joined = " | ".join(sub.rejected_parts)
    assert "a.pdf: Dateityp application/pdf" in joined
    assert "2.jpg: mehr als 2 Bilder" in joined
    assert "big.png: zu groß" in joined


def test_html_only_body_drops_script_and_style() -> None:
    msg = _mail()
    msg.set_content(
        "<html><head><style>p{color:red}</style><script>alert('x')</script></head>"
        "<body><p>Zählerstand:&nbsp;12.345&nbsp;kWh</p><script>evil()</script>"
        "<div>Gruß</div></body></html>",
        subtype="html",
    )
    sub = parse_message(msg.as_bytes(), ledger_id=1, received_at=NOW)
    assert "alert" not in sub.body_text and "evil" not in sub.body_text
    assert "color" not in sub.body_text
    assert sub.body_text == "Zählerstand: 12.345 kWh\n\nGruß"
    assert sub.hints.readings == (Decimal("12345"),)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        (  # a header row over a row of values: one 'Name: value' line per cell
            "<p>Guten Tag,</p><table><tr><th>Zähler</th><th>Stand</th></tr>"
            "<tr><td>GAS-0815</td><td>4.630,500</td></tr></table><p>Gruß</p>",
            "Guten Tag,\n\nZähler: GAS-0815\nStand: 4.630,500\n\nGruß",
        ),
        (  # name and value side by side: kept apart on one line
            "<table><tr><td>Zählerstand</td><td>4.630,500</td></tr>"
            "<tr><td>Datum</td><td>01.12.2026</td></tr></table>",
            "Zählerstand 4.630,500\nDatum 01.12.2026",
        ),
        (  # a layout table around a data table: each cell its own lines
            "<table><tr><td><p>Hallo,</p><table><tr><th>Zählernummer</th><th>Zählerstand</th>"
            "</tr><tr><td>W123</td><td>402,5</td></tr></table></td></tr>"
            "<tr><td>Gruß<br>Erika</td></tr></table>",
            "Hallo,\nZählernummer: W123\nZählerstand: 402,5\nGruß\nErika",
        ),
        ("<table><tr><td>a<td>b<tr><td>c", "a b\nc"),  # never closed
    ],
)
def test_html_tables_keep_their_cells_apart(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_a_reading_typed_into_an_html_table_is_found() -> None:
    msg = _mail()
    msg.set_content(
        "<table><tr><th>Zähler</th><th>Stand</th></tr>"
        "<tr><td>GAS-0815</td><td>4.630,500</td></tr></table>",
        subtype="html",
    )
    sub = parse_message(msg.as_bytes(), ledger_id=1, received_at=NOW)
    assert sub.hints.readings == (Decimal("4630.500"),)


def test_html_to_text_survives_garbage() -> None:
    assert html_to_text("<p>a<br>b</p><<<>>&#xffffffff;<script").startswith("a\nb")
    assert html_to_text("") == ""


def test_subject_with_html_and_header_injection_is_plain_one_line() -> None:
    raw = (
        b"From: =?utf-8?q?Evil=0D=0ABcc=3A_x=40y=2Ez?= <evil@example.de>\r\n"
        b"Subject: <script>alert(1)</script> =?utf-8?q?Z=C3=A4hler=0D=0ABcc=3A_a=40b=2Ec?=\r\n"
        b"\r\nbody\r\n"
    )
    sub = parse_message(raw, ledger_id=1, received_at=NOW)
    assert "\n" not in sub.subject and "\r" not in sub.subject
    assert sub.subject.startswith("<script>alert(1)</script>")  # kept as text; the UI escapes
    assert sub.sender == "evil@example.de"
    assert sub.sender_name is not None and "\n" not in sub.sender_name


def test_broken_mime_and_bad_encodings() -> None:
    raw = (
        b"From: kunde@example.de\r\nSubject: =?bogus-charset?q?Z=E4hler?=\r\n"
        b'Content-Type: multipart/mixed; boundary="nope"\r\n\r\n'
        b"--nope\r\nContent-Type: text/plain; charset=klingon\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64 \xff\xfe\r\n"
        b"--nope\r\nContent-Type: image/jpeg; name=a.jpg\r\nContent-Transfer-Encoding: base64\r\n"
        b"\r\n/9j/4AAQ====garbage\r\n"
    )  # no closing boundary
    sub = parse_message(raw, ledger_id=1, received_at=NOW)
    assert sub.sender == "kunde@example.de"
    assert sub.message_id is None
    assert len(sub.images) + len(sub.rejected_parts) >= 1


def test_zero_byte_and_non_utf8_mail() -> None:
    empty = parse_message(b"", ledger_id=1, received_at=NOW)
    assert (empty.sender, empty.subject, empty.images) == (None, "", ())
    latin = parse_message(
        b"From: k@example.de\nSubject: Z\xe4hler\n\nZ\xe4hlerstand 4711 kWh\x00\n",
        ledger_id=1,
        received_at=NOW,
    )
    assert "\x00" not in latin.body_text
    assert latin.hints.readings == (Decimal("4711"),)


def test_reply_to_used_when_from_is_unusable() -> None:
    raw = b"From: undisclosed\r\nReply-To: Kunde <kunde@Example.DE>\r\nSubject: x\r\n\r\nx"
    sub = parse_message(raw, ledger_id=1, received_at=NOW)
    assert sub.sender == "kunde@example.de"


def test_auto_reply_headers() -> None:
    cases = [
        {"Auto_Submitted": "auto-replied"},
        {"X_Autoreply": "yes"},
        {"X_Autorespond": "1"},
        {"Precedence": "bulk"},
        {"Precedence": "list"},
        {"Precedence": "junk"},
        {"Subject": "Automatische Antwort: Zählerstand"},
    ]
    for headers in cases:
        sub = parse_message(_mail(**headers).as_bytes(), ledger_id=1, received_at=NOW)
        assert sub.is_auto_reply, headers
        assert not sub.is_bounce
    human = parse_message(_mail(Auto_Submitted="no").as_bytes(), ledger_id=1, received_at=NOW)
    assert not human.is_auto_reply


DSN = b"""From: MAILER-DAEMON@mx.example
To: zaehlerstand@stadtwerke.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Zaehlerstand 99999 kWh could not be delivered.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; kunde@example.de
Action: failed
Status: 5.1.1

Final-Recipient: rfc822; later@example.de
Action: delayed
Status: 4.0.0
--B
Content-Type: message/rfc822

From: zaehlerstand@stadtwerke.example
Subject: Ihr Zaehlerstand

hi
--B--
"""


def test_dsn_bounce_lists_failed_recipients() -> None:
    sub = parse_message(DSN, ledger_id=1, received_at=NOW)
    assert sub.is_bounce and sub.is_auto_reply
    assert sub.bounced_recipients == ("kunde@example.de",)
    assert sub.images == ()


def test_huge_mail_with_many_headers_and_parts() -> None:
    head = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 50) for i in range(20_000))
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nteil %d\r\n" % i for i in range(500))
    raw = (
        b"From: kunde@example.de\r\n" + head
        + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
    )  # fmt: skip
    sub = parse_message(raw, ledger_id=1, received_at=NOW)
    assert sub.sender == "kunde@example.de"
    assert any("MIME-Teile" in r for r in sub.rejected_parts)


def test_sniff_image() -> None:
    assert sniff_image(_image()) == "image/jpeg"
    assert sniff_image(_image("PNG")) == "image/png"
    assert sniff_image(_image("HEIF")) == "image/heic"
    assert sniff_image(b"GIF89a") is None


def test_content_digest_ignores_transport_headers() -> None:
    msg = _mail("Stand 4711")
    msg.add_attachment(_image(), maintype="image", subtype="jpeg", filename="z.jpg")
    first = msg.as_bytes()
    again = b"Received: from relay2 by mx\r\n" + first
    a = envelope(first, received_at=NOW)
    b = envelope(again, received_at=NOW)
    assert a.content_digest == b.content_digest
    assert a.message_id == "<abc@example.de>" and a.sender == "erika@example.de"
    other = parse_message(_mail("Stand 4712").as_bytes(), ledger_id=None, received_at=NOW)
    assert content_digest(other) != a.content_digest


def test_bounce_references_come_from_quoted_headers_and_in_reply_to() -> None:
    quoting = DSN.replace(
        b"Subject: Ihr Zaehlerstand", b"Message-ID: <r1@stadtwerke.example>\nSubject: Ihr Z"
    ).replace(b"Content-Type: multipart/report", b"In-Reply-To: <r0@stadtwerke.example>\n"
              b"Content-Type: multipart/report")  # fmt: skip
    sub = parse_message(quoting, ledger_id=1, received_at=NOW)
    assert set(sub.bounce_references) == {"<r0@stadtwerke.example>", "<r1@stadtwerke.example>"}
    plain = parse_message(DSN, ledger_id=1, received_at=NOW)
    assert plain.bounce_references == ()


def test_bidi_overrides_cannot_disguise_a_file_name_or_a_subject() -> None:
    msg = _mail(Subject="Zählerstand \u202eftg.exe")
    msg.add_attachment(_image(), maintype="image", subtype="jpeg",
                       filename="rechnung\u202egpj.exe")  # fmt: skip
    sub = parse_message(msg.as_bytes(), ledger_id=1, received_at=NOW)
    assert sub.subject == "Zählerstand ftg.exe"
    assert [image.filename for image in sub.images] == ["rechnunggpj.exe"]
