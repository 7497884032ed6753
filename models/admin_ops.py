"""Administration rules (C11): users, role permissions, stage rules, queryable fields,
company settings, call scripts, products, competitors, resource sites and company documents.

Every function validates all of its input before it changes anything, so a refusal leaves
the database as it was. Values may arrive as form strings; checkboxes follow HTML (absent or
empty = off). Like every rule here, nothing commits."""
from __future__ import annotations

import os
import re
import secrets
import unicodedata
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from .auth import hash_password
from .clock import SYSTEM_CLOCK
from .company import get_setting, set_setting
from .errors import InvalidValue, NotFound, PermissionDenied
from .fields import CUSTOMER_DATA_FIELDS, QUERYABLE_FIELDS
from .schema import (STAGES, CallScript, Competitor, Document, Product, QueryableField,
                     ResourceSite, Role, StageRule, User)
from .stage_rules import ARCHIVE
from .users import create_user

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
        from .messages import render
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


def _text(value: Any, field: str, max_len: int, *, required: bool = False) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            raise Invalid("admin.required", field=field)
        return None
    if len(text) > max_len:
        raise Invalid("admin.too_long", field=field, max=max_len)
    return text


def _int(value: Any, field: str, lo: int, hi: int, *, default: int | None = None) -> int:
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


def _amount(value: Any, field: str) -> Decimal:
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
    text = _text(value, field, max_len, required=required)
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


def _get(session: Session, model, obj_id: Any):
    try:
        key = int(obj_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    obj = session.get(model, key)
    if obj is None:
        raise NotFound()
    return obj


def _unique(session: Session, column, value, field: str, except_id: int | None) -> None:
    if value is None:
        return
    stmt = select(column.class_.id).where(column == value)
    if except_id is not None:
        stmt = stmt.where(column.class_.id != except_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise Invalid("admin.duplicate", field=field, value=value)


# ---- users -----------------------------------------------------------------------------------

LANGUAGES = ("zh_CN", "en")
MIN_PASSWORD = 8
_USERNAME = re.compile(r"[\w.@-]{2,64}")
_EXTENSION = re.compile(r"[0-9*#+]{1,32}")


def _password(value: Any) -> str:
    password = "" if value is None else str(value)
    if len(password) < MIN_PASSWORD:
        raise Invalid("admin.short_password", min=MIN_PASSWORD)
    if len(password) > 200:
        raise Invalid("admin.too_long", field="password", max=200)
    return password


def _role(session: Session, code: Any) -> Role:
    role = session.scalar(select(Role).where(Role.code == str(code or "")))
    if role is None:
        raise NotFound("role.not_found", role=code)
    return role


def _language(value: Any) -> str:
    if value not in LANGUAGES:
        raise Invalid("admin.bad_language", value=value)
    return value


def _extension(session: Session, value: Any, except_id: int | None) -> str | None:
    text = _text(value, "extension", 32)
    if text is None:
        return None
    if not _EXTENSION.fullmatch(text):
        raise Invalid("admin.bad_extension")
    stmt = select(User.id).where(User.extension == text)
    if except_id is not None:
        stmt = stmt.where(User.id != except_id)
    if session.scalar(stmt) is not None:
        raise Invalid("admin.duplicate_extension", value=text)
    return text


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.active.desc(), User.username)))


def list_roles(session: Session) -> list[Role]:
    return list(session.scalars(select(Role).order_by(Role.id)))


def get_user(session: Session, user_id: Any) -> User:
    try:
        return _get(session, User, user_id)
    except NotFound:
        raise NotFound("user.not_found") from None


def add_user(session: Session, *, username: Any, full_name: Any, password: Any, role: Any,
             extension: Any = None, language: Any = "zh_CN", clock=SYSTEM_CLOCK) -> User:
    name = "" if username is None else str(username).strip()
    if not _USERNAME.fullmatch(name):
        raise Invalid("admin.bad_username")
    full = _text(full_name, "full_name", 64, required=True)
    secret = _password(password)
    role_row = _role(session, role)
    ext = _extension(session, extension, None)
    lang = _language(language)
    return create_user(session, name, full, secret, role_row.code, extension=ext, language=lang,
                       clock=clock)


def update_user(session: Session, actor: User, user_id: Any, *, full_name: Any, role: Any,
                extension: Any, language: Any) -> User:
    user = get_user(session, user_id)
    full = _text(full_name, "full_name", 64, required=True)
    role_row = _role(session, role)
    ext = _extension(session, extension, user.id)
    lang = _language(language)
    if user.id == actor.id and user.role.is_admin and not role_row.is_admin:
        raise Forbidden("admin.self_demote")
    user.full_name, user.role, user.extension, user.language = full, role_row, ext, lang
    session.flush()
    return user


def set_user_active(session: Session, actor: User, user_id: Any, active: Any) -> User:
    user = get_user(session, user_id)
    active = as_bool(active)
    if user.id == actor.id and not active:
        raise Forbidden("admin.self_deactivate")
    user.active = active
    session.flush()
    return user


def reset_password(session: Session, user_id: Any, password: Any) -> User:
    """A new password also ends the user's open sessions (the login keeps a hash fingerprint)."""
    user = get_user(session, user_id)
    user.password_hash = hash_password(_password(password))
    session.flush()
    return user


# ---- role permissions ------------------------------------------------------------------------

ROLE_FLAGS = ("can_edit_shared", "can_delete", "can_export", "can_hear_others_recordings",
              "can_manage")
MAX_QUOTA = 10000


def update_role(session: Session, code: Any, *, daily_claim_quota: Any, **flags: Any) -> Role:
    """Quota and permission flags of one of the fixed roles (a flag not given is off).
    `is_admin` is not editable. A lowered quota applies from the next claim."""
    unknown = set(flags) - set(ROLE_FLAGS)
    if unknown:
        raise Invalid("admin.unknown_field", value=", ".join(sorted(unknown)))
    role = _role(session, code)
    quota = _int(daily_claim_quota, "daily_claim_quota", 0, MAX_QUOTA)
    role.daily_claim_quota = quota
    for flag in ROLE_FLAGS:
        setattr(role, flag, as_bool(flags.get(flag)))
    session.flush()
    return role


# ---- stage rules (C3) ------------------------------------------------------------------------

RULE_STAGES = (ARCHIVE,) + STAGES
MARKS = ("contact", "tracking", "sales", "order")
RULE_ACTIONS = ("claim", "release", "promote", "demote")
# Fields a stage rule may make editable: every customer data field except the name.
EDITABLE_FIELDS = tuple(f for f in CUSTOMER_DATA_FIELDS if f != "name")


def list_stage_rules(session: Session) -> list[StageRule]:
    rules = {rule.stage: rule for rule in session.scalars(select(StageRule))}
    return [rules[stage] for stage in RULE_STAGES if stage in rules]


def update_stage_rule(session: Session, stage: Any, *, editable_fields: list, marks: list,
                      **allowed: Any) -> StageRule:
    """`allowed` holds claim / release / promote / demote (absent = not allowed)."""
    if stage not in RULE_STAGES:
        raise Invalid("admin.unknown_stage", value=stage)
    unknown = set(allowed) - set(RULE_ACTIONS)
    if unknown:
        raise Invalid("admin.unknown_field", value=", ".join(sorted(unknown)))
    chosen = set()
    for field in editable_fields or ():
        if field == "name":
            raise Invalid("admin.name_not_editable")
        if field not in CUSTOMER_DATA_FIELDS:
            raise Invalid("admin.unknown_field", value=field)
        chosen.add(field)
    chosen_marks = set()
    for mark in marks or ():
        if mark not in MARKS:
            raise Invalid("admin.unknown_mark", value=mark)
        chosen_marks.add(mark)
    rule = session.get(StageRule, stage)
    if rule is None:
        rule = StageRule(stage=stage)
        session.add(rule)
    rule.editable_fields = [f for f in EDITABLE_FIELDS if f in chosen]
    rule.marks = [m for m in MARKS if m in chosen_marks]
    for action in RULE_ACTIONS:
        setattr(rule, f"{action}_allowed", as_bool(allowed.get(action)))
    session.flush()
    return rule


# ---- queryable fields (C8) -------------------------------------------------------------------

def list_queryable_fields(session: Session) -> list[QueryableField]:
    """One row per field the query builder could offer, in the admin's order
    (a field with no row yet is shown disabled at the end)."""
    rows = {row.field: row for row in session.scalars(select(QueryableField))}
    missing = [QueryableField(field=f, enabled=False, sort_order=9999)
               for f in QUERYABLE_FIELDS if f not in rows]
    known = [row for row in rows.values() if row.field in QUERYABLE_FIELDS]
    return sorted(known, key=lambda r: (r.sort_order, r.field)) + missing


def update_queryable_fields(session: Session, enabled: list, orders: dict) -> None:
    """`enabled`: the fields to offer (every other one is switched off);
    `orders`: field -> position (0-9999), for the fields whose position is given."""
    on = set()
    for field in enabled or ():
        if field not in QUERYABLE_FIELDS:
            raise Invalid("admin.unknown_field", value=field)
        on.add(field)
    positions = {}
    for field, value in (orders or {}).items():
        if field not in QUERYABLE_FIELDS:
            raise Invalid("admin.unknown_field", value=field)
        positions[field] = _int(value, "sort_order", 0, 9999)
    rows = {row.field: row for row in session.scalars(select(QueryableField))}
    for index, field in enumerate(QUERYABLE_FIELDS):
        row = rows.get(field)
        if row is None:
            row = QueryableField(field=field, sort_order=index)
            session.add(row)
        row.enabled = field in on
        if field in positions:
            row.sort_order = positions[field]
    session.flush()


# ---- company settings ------------------------------------------------------------------------

def company_settings(session: Session) -> dict[str, str]:
    return {"company_name": get_setting(session, "company.name"),
            "time_zone": get_setting(session, "company.time_zone")}


def check_time_zone(value: Any) -> str:
    name = "" if value is None else str(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid("admin.bad_time_zone", value=name) from None
    if name not in time_zone_names():
        raise Invalid("admin.bad_time_zone", value=name)
    return name


_ZONES: list[str] = []


def time_zone_names() -> list[str]:
    if not _ZONES:
        _ZONES.extend(sorted(available_timezones()))
    return _ZONES


def update_company_settings(session: Session, *, company_name: Any, time_zone: Any) -> None:
    name = _text(company_name, "company_name", 200, required=True)
    zone = check_time_zone(time_zone)
    set_setting(session, "company.name", name)
    set_setting(session, "company.time_zone", zone)


# ---- call scripts ----------------------------------------------------------------------------

def _script_values(title: Any, body: Any, stage: Any) -> tuple[str, str, str | None]:
    title = _text(title, "title", 200, required=True)
    body = _text(body, "body", 20000, required=True)
    stage = None if stage in (None, "", ARCHIVE) else stage
    if stage is not None and stage not in STAGES:
        raise Invalid("admin.unknown_stage", value=stage)
    return title, body, stage


def reference_scripts(session: Session, stage: str | None = None) -> list[CallScript]:
    """Reference scripts (set by the admin); with `stage`, those for it or for any stage."""
    stmt = select(CallScript).where(CallScript.kind == "reference")
    if stage is not None:
        stmt = stmt.where((CallScript.stage == stage) | CallScript.stage.is_(None))
    return list(session.scalars(stmt.order_by(CallScript.stage, CallScript.title, CallScript.id)))


def personal_scripts(session: Session, owner: User) -> list[CallScript]:
    return list(session.scalars(select(CallScript).where(
        CallScript.kind == "personal", CallScript.owner_id == owner.id)
        .order_by(CallScript.title, CallScript.id)))


def get_reference_script(session: Session, script_id: Any) -> CallScript:
    script = _get(session, CallScript, script_id)
    if script.kind != "reference":
        raise NotFound()
    return script


def get_personal_script(session: Session, owner: User, script_id: Any) -> CallScript:
    """Only the owner reaches a personal script; for anyone else it does not exist."""
    script = _get(session, CallScript, script_id)
    if script.kind != "personal" or script.owner_id != owner.id:
        raise NotFound()
    return script


def save_reference_script(session: Session, script_id: Any = None, *, title: Any, body: Any,
                          stage: Any = None, clock=SYSTEM_CLOCK) -> CallScript:
    values = _script_values(title, body, stage)
    script = get_reference_script(session, script_id) if script_id is not None else None
    return _save_script(session, script, "reference", None, values, clock.now())


def save_personal_script(session: Session, owner: User, script_id: Any = None, *, title: Any,
                         body: Any, stage: Any = None, clock=SYSTEM_CLOCK) -> CallScript:
    values = _script_values(title, body, stage)
    script = get_personal_script(session, owner, script_id) if script_id is not None else None
    return _save_script(session, script, "personal", owner.id, values, clock.now())


def _save_script(session, script, kind, owner_id, values, now) -> CallScript:
    if script is None:
        script = CallScript(kind=kind, owner_id=owner_id, created_at=now)
        session.add(script)
    script.title, script.body, script.stage = values
    script.updated_at = now
    session.flush()
    return script


def delete_reference_script(session: Session, script_id: Any) -> None:
    session.delete(get_reference_script(session, script_id))
    session.flush()


def delete_personal_script(session: Session, owner: User, script_id: Any) -> None:
    session.delete(get_personal_script(session, owner, script_id))
    session.flush()


# ---- products, competitors, resource sites ---------------------------------------------------

def list_products(session: Session) -> list[Product]:
    return list(session.scalars(select(Product).order_by(Product.active.desc(), Product.code,
                                                         Product.name)))


def get_product(session: Session, product_id: Any) -> Product:
    return _get(session, Product, product_id)


def save_product(session: Session, product_id: Any = None, *, code: Any, name: Any,
                 unit: Any = None, price: Any = 0, description: Any = None,
                 active: Any = True) -> Product:
    product = get_product(session, product_id) if product_id is not None else None
    except_id = product.id if product else None
    values = dict(code=_text(code, "code", 40), name=_text(name, "name", 120, required=True),
                  unit=_text(unit, "unit", 16) or "套", price=_amount(price, "price"),
                  description=_text(description, "description", 5000), active=as_bool(active))
    _unique(session, Product.code, values["code"], "code", except_id)
    _unique(session, Product.name, values["name"], "name", except_id)
    return _store(session, product or Product(), values)


def delete_product(session: Session, product_id: Any) -> None:
    """Line items keep the product's name; their link to the product is cleared."""
    session.delete(get_product(session, product_id))
    session.flush()


def list_competitors(session: Session) -> list[Competitor]:
    return list(session.scalars(select(Competitor).order_by(Competitor.name)))


def get_competitor(session: Session, competitor_id: Any) -> Competitor:
    return _get(session, Competitor, competitor_id)


def save_competitor(session: Session, competitor_id: Any = None, *, name: Any,
                    website: Any = None, products: Any = None, strengths: Any = None,
                    weaknesses: Any = None, note: Any = None) -> Competitor:
    competitor = get_competitor(session, competitor_id) if competitor_id is not None else None
    values = dict(name=_text(name, "name", 200, required=True),
                  website=check_url(website, "website", required=False, max_len=200),
                  products=_text(products, "products", 5000),
                  strengths=_text(strengths, "strengths", 5000),
                  weaknesses=_text(weaknesses, "weaknesses", 5000),
                  note=_text(note, "note", 5000))
    _unique(session, Competitor.name, values["name"], "name",
            competitor.id if competitor else None)
    return _store(session, competitor or Competitor(), values)


def delete_competitor(session: Session, competitor_id: Any) -> None:
    session.delete(get_competitor(session, competitor_id))
    session.flush()


def list_resource_sites(session: Session) -> list[ResourceSite]:
    return list(session.scalars(select(ResourceSite).order_by(ResourceSite.sort_order,
                                                              ResourceSite.id)))


def get_resource_site(session: Session, site_id: Any) -> ResourceSite:
    return _get(session, ResourceSite, site_id)


def save_resource_site(session: Session, site_id: Any = None, *, name: Any, url: Any,
                       note: Any = None, sort_order: Any = 0) -> ResourceSite:
    site = get_resource_site(session, site_id) if site_id is not None else None
    values = dict(name=_text(name, "name", 100, required=True), url=check_url(url, "url"),
                  note=_text(note, "note", 5000),
                  sort_order=_int(sort_order, "sort_order", 0, 9999, default=0))
    return _store(session, site or ResourceSite(), values)


def delete_resource_site(session: Session, site_id: Any) -> None:
    session.delete(get_resource_site(session, site_id))
    session.flush()


def _store(session: Session, obj, values: dict):
    for key, value in values.items():
        setattr(obj, key, value)
    if obj.id is None:
        session.add(obj)
    session.flush()
    return obj


# ---- company documents -----------------------------------------------------------------------

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
_CHUNK = 64 * 1024
# Served with their own type; anything else (HTML, SVG, scripts...) as a plain download.
SAFE_CONTENT_TYPES = {
    "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain",
    "text/csv", "application/zip", "application/msword", "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def documents_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / "documents"


def clean_filename(name: Any) -> str:
    """The uploaded file's own name, kept only for display and download: no folders,
    no control characters, at most 200 characters."""
    text = "" if name is None else str(name)
    text = PureWindowsPath(PurePosixPath(text).name).name
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(text) > 200:
        stem, dot, ext = text.rpartition(".")
        text = (stem[:200 - len(ext) - 1] + "." + ext) if dot and len(ext) < 20 else text[:200]
    return text or "document"


def safe_content_type(declared: Any) -> str:
    kind = str(declared or "").split(";")[0].strip().lower()
    return kind if kind in SAFE_CONTENT_TYPES else "application/octet-stream"


def list_company_documents(session: Session) -> list[Document]:
    return list(session.scalars(select(Document).where(Document.customer_id.is_(None))
                                .order_by(Document.created_at.desc(), Document.id.desc())))


def get_company_document(session: Session, document_id: Any) -> Document:
    document = _get(session, Document, document_id)
    if document.customer_id is not None:
        raise NotFound()
    return document


def store_company_document(session: Session, actor: User, data_dir: Path | str,
                           stream: BinaryIO, filename: Any, *, title: Any = None,
                           content_type: Any = None, clock=SYSTEM_CLOCK) -> Document:
    return store_document(session, actor, data_dir, stream, filename, title=title,
                          content_type=content_type, clock=clock)


def store_document(session: Session, actor: User, data_dir: Path | str, stream: BinaryIO | None,
                   filename: Any, *, customer_id: int | None = None, title: Any = None,
                   content_type: Any = None, clock=SYSTEM_CLOCK) -> Document:
    """Save an upload under <data_dir>/documents/<random key> as a company document, or a
    customer's (`customer_id`: the caller checked the actor may). The user's file name is
    never part of the path. Refused (and nothing kept) when empty or over 20 MB."""
    if stream is None or not str(filename or "").strip():
        raise Invalid("admin.no_file")
    original = clean_filename(filename)
    title = _text(title, "title", 200) or original
    folder = documents_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(16)
    target = folder / key
    partial = folder / (key + ".part")
    size = 0
    try:
        with partial.open("xb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > MAX_DOCUMENT_BYTES:
                    raise Invalid("admin.file_too_large", max=MAX_DOCUMENT_BYTES // (1024 * 1024))
                out.write(chunk)
        if size == 0:
            raise Invalid("admin.empty_file")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    document = Document(customer_id=customer_id, title=title, filename=original,
                        content_type=safe_content_type(content_type), size=size,
                        storage_key=key, uploaded_by_id=actor.id, created_at=clock.now())
    session.add(document)
    try:
        session.flush()
    except Exception:
        target.unlink(missing_ok=True)
        raise
    return document


def document_file(data_dir: Path | str, document: Document) -> Path:
    """The stored file of a document; refused when its key would lead outside the
    documents folder or the file is gone."""
    root = documents_dir(data_dir).resolve()
    key = document.storage_key or ""
    if not key or "\x00" in key or os.path.isabs(key) or "\\" in key:
        raise Missing("admin.document_missing")
    path = (root / key).resolve()
    if path == root or not path.is_relative_to(root) or not path.is_file():
        raise Missing("admin.document_missing")
    return path


def delete_company_document(session: Session, data_dir: Path | str,
                            document_id: Any) -> Path | None:
    """Delete the row; returns the stored file for the caller to remove after commit."""
    return delete_document_row(session, data_dir, get_company_document(session, document_id))


def delete_document_row(session: Session, data_dir: Path | str, document: Document) -> Path | None:
    """Delete a document's row (company or customer); returns its stored file, if any, for
    the caller to remove once the transaction is committed."""
    try:
        path = document_file(data_dir, document)
    except NotFound:
        path = None
    session.delete(document)
    session.flush()
    return path


def remove_stored_file(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)
