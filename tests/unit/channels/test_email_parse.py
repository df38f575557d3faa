"""MIME parsing on real-shaped mail: bodies, charsets, threading ids, attachment limits."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from channels.email.charsets import decode_bytes
from channels.email.html_text import html_to_text
from channels.email.parse import (
    EmailLimits,
    MessageTooLarge,
    UnreadableEmail,
    message_ids,
    parse_raw,
    unflow,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "email"


def eml(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_gmail_reply_prefers_the_plain_part_and_keeps_thread_ids() -> None:
    mail = parse_raw(eml("gmail_reply_thread.eml"))
    assert mail.message_id == "<CAHx8Lq0Qw3r9ZJk2vNe5pT1YbXfW6sDhE7uR4aGm+K9c_aB1dQ@mail.gmail.com>"
    assert mail.from_address == "maria.lopez.home@gmail.com"  # lower-cased
    assert mail.from_name == "Maria Lopez"
    assert mail.to == ("help@riverbend.example",)
    assert mail.subject == "Re: Your outage report for 1420 Elm St"
    assert mail.in_reply_to == ("<sd.m41.2f6c1e0a@riverbend.example>",)
    assert mail.thread_ids == ("<sd.m41.2f6c1e0a@riverbend.example>",)
    assert not mail.body_from_html
    assert mail.body.startswith("The power is still out at my house and now the basement sump")
    assert mail.date is not None and mail.date.utcoffset() is not None


def test_outlook_windows_1252_quoted_printable() -> None:
    mail = parse_raw(eml("outlook_reply.eml"))
    assert "Hi – I’d like to split the $412.50" in mail.body
    assert mail.message_id.endswith("@DM6PR11MB4321.namprd11.prod.outlook.com>")
    assert len(mail.message_id) > 64  # why threading.external_id_for exists


def test_iso_8859_1_8bit_body_and_encoded_headers() -> None:
    mail = parse_raw(eml("latin1_8bit.eml"))
    assert mail.subject == "Sin energía eléctrica"
    assert mail.from_name == "Aurelio Muñoz"
    assert mail.from_address == "amunoz@webmail-antiguo.example"
    assert "La dirección es Calle Peñasco 45." in mail.body


def test_iso_2022_jp() -> None:
    mail = parse_raw(eml("iso2022jp.eml"))
    assert mail.subject == "停電について"
    assert mail.from_name == "山田太郎"
    assert "停電しています。いつ復旧しますか？" in mail.body


def test_mislabelled_and_unknown_charsets_fall_back_without_losing_the_text() -> None:
    assert "48213 – the bill says 49213. That’s a €-sized" in parse_raw(
        eml("mislabelled_utf8.eml")).body
    assert parse_raw(eml("unknown_charset.eml")).body == "Café résumé ✓"


@pytest.mark.parametrize(("data", "label", "expected"), [
    ("naïve".encode("iso-8859-1"), "iso-8859-1", "naïve"),
    ("“quoted”".encode("cp1252"), "iso-8859-1", "“quoted”"),  # latin-1 label, 1252 bytes
    ("€5".encode("cp1252"), "us-ascii", "€5"),
    ("한국".encode("cp949"), "ks_c_5601-1987", "한국"),
    ("straße".encode(), "no-such-charset", "straße"),
    (b"+AGEAYgBj-", "utf-7", "+AGEAYgBj-"),  # UTF-7 refused: decoded as plain bytes
    (b"\x81\x8d", "windows-1252", "\ufffd\ufffd"),  # undefined in 1252: replaced, no error
])
def test_decode_bytes(data: bytes, label: str, expected: str) -> None:
    assert decode_bytes(data, label) == expected


def test_html_only_mail_is_reduced_to_text() -> None:
    mail = parse_raw(eml("html_only.eml"))
    assert mail.body_from_html
    assert "track(" not in mail.body and "font-family" not in mail.body
    assert "New submission" not in mail.body  # <title>
    assert "There’s water gushing from the street at Oak & 5th — it's flooding" in mail.body
    assert "- Started around 3pm\n- Near hydrant #114" in mail.body


def test_html_reducer_lines_and_quotes() -> None:
    html = ("<div>Hello<br>there</div><div><br></div><p>Para&nbsp;two</p>"
            "<blockquote>old <b>text</b><blockquote>older</blockquote></blockquote>"
            "<style>p{}</style><script>alert(1)</script>tail &lt;ok&gt;")
    assert html_to_text(html) == (
        "Hello\nthere\n\nPara two\n\n> old text\n> > older\n>\n\ntail <ok>"
    )


def test_format_flowed_is_unwrapped() -> None:
    flowed = "This line is \nsoft-wrapped here.\n-- \nsig\n> quoted \n> on.\nhard\nbreak"
    assert unflow(flowed, delsp=False) == (
        "This line is soft-wrapped here.\n-- \nsig\n> quoted on.\nhard\nbreak"
    )
    assert unflow("split wo \nrd", delsp=True) == "split word"


def test_message_ids() -> None:
    assert message_ids(" <a@x> \n\t<b@y>") == ("<a@x>", "<b@y>")
    assert message_ids("bare@old.client") == ("<bare@old.client>",)
    assert message_ids("no id here") == ()


def test_references_order_thread_ids_nearest_first() -> None:
    raw = (b"From: a@b.example\r\nMessage-ID: <3@x>\r\nIn-Reply-To: <2@x>\r\n"
           b"References: <1@x> <2@x>\r\n\r\nhi\r\n")
    assert parse_raw(raw).thread_ids == ("<2@x>", "<1@x>")


def test_missing_message_id_is_derived_from_content_so_retries_match() -> None:
    raw = b"From: a@b.example\r\nSubject: x\r\n\r\nhello\r\n"
    first, again = parse_raw(raw), parse_raw(raw)
    assert first.message_id == again.message_id
    assert first.message_id.endswith("@no-message-id.invalid>")
    assert parse_raw(raw + b"more").message_id != first.message_id


def test_no_from_address_is_refused() -> None:
    with pytest.raises(UnreadableEmail):
        parse_raw(b"From: undisclosed-recipients:;\r\nSubject: x\r\n\r\nhi\r\n")


def test_whole_message_limit() -> None:
    with pytest.raises(MessageTooLarge) as refused:
        parse_raw(eml("gmail_reply_thread.eml"), limits=EmailLimits(max_message_bytes=1000))
    assert refused.value.status_code == 413


def test_attachments_checked_against_size_and_type() -> None:
    limits = EmailLimits(max_attachment_bytes=100_000)
    mail = parse_raw(eml("attachments_photo_pdf.eml"), limits=limits)
    by_name = {a.filename: a for a in mail.attachments}
    assert set(by_name) == {"IMG_4471.jpeg", "March bill.pdf", "meter_photo.png", "setup.exe"}
    photo = by_name["IMG_4471.jpeg"]
    assert (photo.refused, photo.content_type, photo.content) == ("too_large", "image/jpeg", None)
    assert photo.size > 100_000
    bill = by_name["March bill.pdf"]
    # Labelled application/octet-stream by the phone; the bytes say PDF.
    assert bill.accepted and bill.content_type == "application/pdf"
    assert bill.content is not None and bill.content.startswith(b"%PDF-")
    assert by_name["meter_photo.png"].refused == "type_mismatch"  # an executable named .png
    assert by_name["setup.exe"].refused == "type_not_allowed"
    assert mail.body.startswith("Here are photos of the damaged meter box")

    roomy = parse_raw(eml("attachments_photo_pdf.eml"))  # default 10 MB each
    assert {a.filename for a in roomy.attachments if a.accepted} == {
        "IMG_4471.jpeg", "March bill.pdf"}


def test_an_eleven_megabyte_photo_is_refused_at_the_default_limit() -> None:
    message = EmailMessage()
    message["From"] = "Jamie <jt.nguyen@icloud.example>"
    message["Message-ID"] = "<big@icloud.example>"
    message.set_content("photo attached")
    message.add_attachment(b"\x89PNG\r\n\x1a\n" + bytes(11 * 1024 * 1024), maintype="image",
                           subtype="png", filename="huge.png")
    mail = parse_raw(message.as_bytes())
    (photo,) = mail.attachments
    assert photo.refused == "too_large" and photo.content is None
    assert photo.size == 11 * 1024 * 1024 + 8


def test_attachment_count_limit() -> None:
    message = EmailMessage()
    message["From"] = "a@b.example"
    message.set_content("pdfs")
    for n in range(3):
        message.add_attachment(b"%PDF-1.4 " + bytes([n]), maintype="application",
                               subtype="pdf", filename=f"{n}.pdf")
    mail = parse_raw(message.as_bytes(), limits=EmailLimits(max_attachments=2))
    assert [a.refused for a in mail.attachments] == [None, None, "too_many"]


def test_dsn_parts_are_not_attachments() -> None:
    mail = parse_raw(eml("dsn_bounce.eml"))
    assert mail.attachments == ()
    assert mail.body.startswith("This is the mail system at host mx1.riverbend.example.")
