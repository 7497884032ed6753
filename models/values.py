"""Checks of values typed into the administration forms (C11), and their refusals.

Values may arrive as form strings; checkboxes follow HTML (absent or empty = off). The
refusals name the field in the reader's language (FIELD_NAMES)."""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import InvalidValue, NotFound, PermissionDenied

# ---- refusals --------------------------------------------------------------------------------

# Names of the form fields the admin.* messages (models/messages.py) may mention.
FIELD_NAMES: dict[str, tuple[str, str]] = {
    "username": ("用户名", "User name"), "full_name": ("姓名", "Full name"),
    "password": ("密码", "Password"), "role": ("角色", "Role"),
    "extension": ("分机号", "Extension"), "language": ("语言", "Language"),
    "daily_claim_quota": ("每日占有上限", "Daily claim quota"),
    "sort_order": ("排序", "Order"), "name": ("名称", "Name"), "code": ("编号", "Code"),
    "unit": ("单位", "Unit"), "price": ("单价", "Price"), "description": ("说明", "Description"),
    "website": ("网址", "Website"), "url": ("网址", "Web address"),
    "products": ("产品", "Products"), "strengths": ("优势", "Strengths"),
    "weaknesses": ("劣势", "Weaknesses"), "note": ("备注", "Note"),
    "title": ("标题", "Title"), "body": ("内容", "Text"), "stage": ("客户阶段", "Stage"),
    "company_name": ("公司名称", "Company name"), "time_zone": ("时区", "Time zone"),
    "filename": ("文件名", "File name"),
}


class _Texts:
    """Names the field in the reader's language before rendering the message."""

    def message(self, lang: str = "zh_CN") -> str:
        from models.messages import render
        return render(self.key, lang, names=FIELD_NAMES, **self.params)


class Invalid(_Texts, InvalidValue):
    pass


class Forbidden(_Texts, PermissionDenied):
    pass


class Missing(_Texts, NotFound):
    pass


# ---- value checks ----------------------------------------------------------------------------

TRUE_WORDS = {"1", "true", "yes", "on", "y"}


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in TRUE_WORDS


def clean_text(value: Any, field: str, max_len: int, *, required: bool = False) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            raise Invalid("admin.required", field=field)
        return None
    if len(text) > max_len:
        raise Invalid("admin.too_long", field=field, max=max_len)
    return text


def clean_int(value: Any, field: str, lo: int, hi: int, *, default: int | None = None) -> int:
    text = "" if value is None else str(value).strip()
    if text == "" and default is not None:
        return default
    try:
        number = int(text)
    except ValueError:
        raise Invalid("admin.bad_integer", field=field, lo=lo, hi=hi) from None
    if not lo <= number <= hi:
        raise Invalid("admin.bad_integer", field=field, lo=lo, hi=hi)
    return number


def clean_amount(value: Any, field: str) -> Decimal:
    text = "" if value is None else str(value).strip().replace(",", "")
    try:
        amount = Decimal(text or "0")
    except InvalidOperation:
        raise Invalid("admin.bad_amount", field=field) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise Invalid("admin.bad_amount", field=field)
    return amount.quantize(Decimal("0.01"))


def check_url(value: Any, field: str = "url", *, required: bool = True,
              max_len: int = 300) -> str | None:
    """An absolute http(s) address, nothing else (no javascript:, data:, relative paths)."""
    text = clean_text(value, field, max_len, required=required)
    if text is None:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        raise Invalid("admin.bad_url", field=field) from None
    if (parts.scheme.lower() not in ("http", "https") or not parts.netloc
            or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in text)):
        raise Invalid("admin.bad_url", field=field)
    return text


def get_row(session: Session, model, obj_id: Any):
    try:
        key = int(obj_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    obj = session.get(model, key)
    if obj is None:
        raise NotFound()
    return obj


def check_unique(session: Session, column, value, field: str, except_id: int | None) -> None:
    if value is None:
        return
    stmt = select(column.class_.id).where(column == value)
    if except_id is not None:
        stmt = stmt.where(column.class_.id != except_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise Invalid("admin.duplicate", field=field, value=value)


# ---- lists the admin edits by code (dispositions, pause codes) ---------------------------------
ENTRY_CODE = re.compile(r"[a-z][a-z0-9_]{1,31}")
MAX_ENTRY_LABEL = 40


def entry_fields(values: dict, prefix: str, flags: tuple[str, ...]) -> dict:
    """The labels (zh, en: no line break, at most MAX_ENTRY_LABEL), flags and position of an
    entry of such a list; ``prefix`` names its messages (``<prefix>.label_required``)."""
    out: dict = {}
    for name in ("label_zh", "label_en"):
        text = str(values.get(name) or "").strip()
        if not text or len(text) > MAX_ENTRY_LABEL or any(ord(c) < 32 for c in text):
            raise InvalidValue(f"{prefix}.label_required", max=MAX_ENTRY_LABEL)
        out[name] = text
    for flag in flags:
        out[flag] = as_bool(values.get(flag))
    out["position"] = clean_int(values.get("position"), "position", 0, 9999, default=0)
    return out


def add_entry(session: Session, model, values: dict, fields: dict, prefix: str):
    """A new entry of ``model`` (its primary key ``code``), refused when the code is not one or
    is taken."""
    code = str(values.get("code") or "").strip()
    if not ENTRY_CODE.fullmatch(code):
        raise InvalidValue(f"{prefix}.bad_code")
    if session.get(model, code) is not None:
        raise InvalidValue(f"{prefix}.duplicate_code", code=code)
    row = model(code=code, **fields)
    session.add(row)
    session.flush()
    return row
