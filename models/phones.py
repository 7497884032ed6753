"""Phone numbers are compared in E.164 form (default region CN)."""
from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "CN"


def normalize_phone(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """E.164 of a typed or caller-ID number, or None when it is not a possible number.

    Extensions after the number ("010-12345678 转 8001") are dropped."""
    if not raw:
        return None
    text = str(raw).strip()
    for sep in ("转", "ext", "EXT", "x", "#"):
        text = text.split(sep)[0]
    digits = "".join(ch for ch in text if ch.isdigit() or ch == "+")
    if not digits:
        return None
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("86") and len(digits) in (12, 13) and region == "CN":
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
