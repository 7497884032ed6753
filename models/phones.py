"""Phone numbers are compared in E.164 form (default region CN)."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers

DEFAULT_REGION = "CN"
_EXTENSION = re.compile(r"^(.*?)\s*(?:转|分机|ext\.?|x|#)\s*(\d{0,8})$", re.IGNORECASE)
_NUMBER_CHARS = re.compile(r"^[+\d\s\-().]+$")
# A landline with its area code and a switchboard extension after a hyphen: 021-62345678-8001.
_HYPHEN_EXTENSION = re.compile(r"^(\(?0\d{2,3}\)?[-\s]?\d{3,4}[\s]?\d{4})\s*-\s*(\d{1,6})$")


def normalize_phone(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """E.164 of a typed or caller-ID number, or None when it is not a possible number.

    Full-width digits count as digits; extensions after the number ("010-12345678 转 8001",
    "021-62345678-8001") are dropped."""
    if not raw:
        return None
    number = _parse(raw, region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if (
        number is not None) else None


@lru_cache(maxsize=4096)   # a row's phone is validated, then normalised: parsed once
def _parse(raw, region: str) -> phonenumbers.PhoneNumber | None:
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    for sep in ("转", "ext", "EXT", "x", "#"):
        text = text.split(sep)[0]
    extension = _HYPHEN_EXTENSION.match(text.strip())
    if extension:
        text = extension.group(1)
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
    return number


def is_valid_phone(raw: str | None, region: str = DEFAULT_REGION) -> bool:
    """A number a customer can be called on: only digits and separators (an extension after
    转/分机/ext/x/# allowed), and a valid number for its region ("1390000000x" is not)."""
    text = unicodedata.normalize("NFKC", str(raw or "")).strip()
    match = _EXTENSION.match(text)
    if match:
        if not match.group(2):
            return False
        text = match.group(1)
    if not _NUMBER_CHARS.match(text):
        return False
    number = _parse(text, region) if text else None
    return number is not None and phonenumbers.is_valid_number(number)
