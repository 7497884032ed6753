"""How many SMS a text costs. A text every character of which is in the GSM 03.38 alphabet
goes as GSM-7: 160 characters in one SMS, 153 a part when concatenated (the UDH takes 7);
any other character (Chinese) makes the whole text UCS-2: 70 characters, 67 a part. Characters
of the GSM extension table (€ [ ] { } ...) take two septets; a character beyond the BMP (an
emoji) two UCS-2 units. A part never ends in the middle of one of these."""
from __future__ import annotations

GSM_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
             "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENDED = "^{}\\[~]|€\f"
_GSM = set(GSM_BASIC) - {"\x1b"}
_EXT = set(GSM_EXTENDED)

SINGLE = {"gsm7": 160, "ucs2": 70}
PART = {"gsm7": 153, "ucs2": 67}


def encoding_of(text: str) -> str:
    return "gsm7" if all(ch in _GSM or ch in _EXT for ch in text) else "ucs2"


def _units(ch: str, encoding: str) -> int:
    if encoding == "gsm7":
        return 2 if ch in _EXT else 1
    return 2 if ord(ch) > 0xFFFF else 1


def length(text: str, encoding: str | None = None) -> int:
    """The text's length in septets (GSM-7) or UTF-16 units (UCS-2)."""
    encoding = encoding or encoding_of(text)
    return sum(_units(ch, encoding) for ch in text)


def split(text: str) -> tuple[str, list[str]]:
    """(encoding, parts): the one text, or its parts of at most 153 / 67 units."""
    encoding = encoding_of(text)
    if length(text, encoding) <= SINGLE[encoding]:
        return encoding, [text]
    parts, current, used = [], [], 0
    for ch in text:
        units = _units(ch, encoding)
        if used + units > PART[encoding]:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += units
    parts.append("".join(current))
    return encoding, parts


def count(text: str) -> dict:
    """What the counter under a message box shows: encoding, length, SMS, and the room left
    in the last one."""
    encoding, parts = split(text)
    size = length(text, encoding)
    per = SINGLE[encoding] if len(parts) == 1 else PART[encoding]
    last = length(parts[-1], encoding)
    return {"encoding": encoding, "length": size, "segments": len(parts) if text else 0,
            "per_segment": per, "left": per - last}
