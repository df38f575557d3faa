"""Decoding mail bytes whatever charset a client claims: mail is often mislabelled, and a wrong
label must cost a few odd characters, never the message."""

from __future__ import annotations

import codecs

# Labels that real clients send but Python names differently, or that are routinely a lie.
# iso-8859-1 and us-ascii labels hide windows-1252 text (curly quotes, € from Outlook) so
# often that browsers (WHATWG Encoding) decode them as windows-1252; we do the same. The
# superset choices (gb18030 for gb2312, cp949 for euc-kr) read the smaller set unchanged.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",  # Outlook's label for Korean
    "iso-2022-jp": "iso2022_jp_ext",  # tolerates the half-width kana some phones send
    "shift_jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "tis-620": "cp874",
    "iso-8859-9": "cp1254",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "utf8": "utf-8",
}


def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None when the label names nothing."""
    if not label:
        return None
    name = label.strip().strip('"').lower()
    name = _ALIASES.get(name, name)
    if name in {"utf-7", "unicode-1-1-utf-7"}:
        return None  # a known vector for smuggling markup past filters; treat as unlabelled
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, label: str | None) -> str:
    """Decode with the declared charset; unknown labels and unlabelled 8-bit text try UTF-8 and
    then windows-1252, which maps every byte, so this never raises."""
    codec = codec_for(label)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            if codec not in {"utf-8", "cp1252"}:
                return data.decode(codec, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def repair_text(text: str) -> str:
    """Undo surrogate escapes the stdlib leaves for raw 8-bit bytes in headers."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return decode_bytes(text.encode("utf-8", errors="surrogateescape"), None)
