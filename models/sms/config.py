"""The company's SMS settings (admin-edited, in app_settings): the 【signature】 Chinese carriers
require, the reply words that opt a number out, and the company's own details templates use."""
from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.company import get_setting, set_setting
from models.schema import AppSetting
from models.values import clean_text

DEFAULTS = {
    "sms.signature": "",            # empty: the company's name
    "sms.opt_out_words": "退订 TD T N 取消",
    "company.address": "",
    "company.website": "",
    "company.phone": "",
}
FIELDS = {"signature": ("sms.signature", 20), "opt_out_words": ("sms.opt_out_words", 200),
          "address": ("company.address", 200), "website": ("company.website", 200),
          "phone": ("company.phone", 40)}


def _get(session: Session, key: str) -> str:
    value = session.scalar(select(AppSetting.value).where(AppSetting.key == key))
    return value if value is not None else DEFAULTS[key]


def sms_settings(session: Session) -> dict[str, str]:
    values = {name: _get(session, key) for name, (key, _) in FIELDS.items()}
    values["company_name"] = get_setting(session, "company.name")
    return values


def update_sms_settings(session: Session, form: dict) -> dict[str, str]:
    for name, (key, size) in FIELDS.items():
        if name in form:
            value = clean_text(form.get(name), name, size) or ""
            if name == "signature":
                value = value.strip("【】[] ")
            set_setting(session, key, value)
    return sms_settings(session)


def signature(session: Session) -> str:
    return _get(session, "sms.signature") or get_setting(session, "company.name")


def sign(session: Session, text: str) -> str:
    """The text as it goes out: 【signature】 first, unless the text already starts with it."""
    mark = f"【{signature(session)}】"
    return text if text.startswith(mark) else mark + text


def unsign(session: Session, text: str) -> str:
    """The text without the 【signature】 `sign` put first: what goes to a gateway that adds
    the account's approved signature itself (the cloud APIs), so that it shows once."""
    mark = f"【{signature(session)}】"
    return text[len(mark):] if text.startswith(mark) else text


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").upper()
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith(("P", "Z", "C")))


def is_opt_out(session: Session, reply: str) -> bool:
    """A reply that opts out: one of the words alone (punctuation and spaces aside, any
    case); a Chinese word (退订) also inside a longer reply (我要退订)."""
    body = _fold(reply)
    for word in (_fold(w) for w in _get(session, "sms.opt_out_words").split()):
        if word and (body == word or (not word.isascii() and word in body)):
            return True
    return False
