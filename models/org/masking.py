"""号码隐藏 (number masking): a role setting (Role.mask_numbers) under which the user sees
138****8000 instead of a phone number everywhere the number reaches the browser.

The format, on the digits of the number (separators and an extension after 转/ext/# dropped):
- 8 digits or more: up to 3 leading digits, ``****``, the last 4 digits; at least 4 digits are
  always hidden (13812348000 -> 138****8000, 021-62345678 -> 021****5678, 62345678 -> ****5678);
- fewer (short and service numbers): the first and last digit, a star for each digit between
  (95555 -> 9***5);
- an international number (written with +, 00, or 86 before a mobile) keeps its country code:
  +8613812348000 -> +86 138****8000, +4420712345678 -> +44 207****5678.
Text without digits is shown as it is. Masking users can still click-to-call: the dial buttons
name the customer's field, never the number."""
from __future__ import annotations

import re
import unicodedata

import phonenumbers

from models.phones import normalize_phone

STARS = "****"
_EXTENSION = re.compile(r"(转|分机|ext|x|#)", re.IGNORECASE)
_MASKED = re.compile(r"^(\+\d{1,3} )?\d{0,3}\*+\d{0,4}$")   # what mask() writes


def _mask_digits(digits: str) -> str:
    n = len(digits)
    if n >= 8:
        return digits[:min(3, n - 8)] + STARS + digits[-4:]
    if n >= 3:
        return digits[0] + "*" * (n - 2) + digits[-1]
    return "*" * n


def _international(text: str, digits: str) -> bool:
    return (text.startswith("+") or digits.startswith("00")
            or (digits.startswith("86") and len(digits) in (12, 13)))


def mask(number: str | None) -> str | None:
    """The masked form of a stored or E.164 number (None and "" as they are; a masked one
    stays as it is)."""
    if not number:
        return number
    text = unicodedata.normalize("NFKC", str(number)).strip()
    text = _EXTENSION.split(text)[0].strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits or _MASKED.match(text):
        return number
    if _international(text, digits):
        e164 = normalize_phone(text)
        if e164:
            parsed = phonenumbers.parse(e164)
            national = phonenumbers.national_significant_number(parsed)
            return f"+{parsed.country_code} {_mask_digits(national)}"
        return "+" + _mask_digits(digits.removeprefix("00"))
    return _mask_digits(digits)


def masks(user) -> bool:
    """Whether ``user`` (None: nobody logged in, the system) sees masked numbers."""
    return bool(user is not None and user.role.mask_numbers)


def shown(user, number: str | None) -> str | None:
    """``number`` as ``user`` may see it."""
    return mask(number) if masks(user) else number


def kept(user, stored: str | None, submitted: str | None) -> str | None:
    """The value to save when ``user`` sends back a number field of a form: a masking user's
    form held the masked number, so getting it back unchanged keeps the stored number."""
    if masks(user) and stored and submitted is not None and submitted.strip() == mask(stored):
        return stored
    return submitted
