"""Users and the roles' permissions (C11): the accounts, their extensions and languages,
each role's daily claim quota and flags. Every function checks all its input first."""
from __future__ import annotations

import re
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.errors import DomainError, NotFound
from models.org.auth import hash_password
from models.schema import Role, User
from models.values import Forbidden, Invalid, as_bool, clean_int, clean_text, get_row


def create_user(session: Session, username: str, full_name: str, password: str, role_code: str,
                *, extension: str | None = None, language: str = "zh_CN",
                clock=SYSTEM_CLOCK) -> User:
    role = session.scalar(select(Role).where(Role.code == role_code))
    if role is None:
        raise NotFound("role.not_found", role=role_code)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DomainError("user.duplicate_username", username=username)
    user = User(username=username, full_name=full_name, password_hash=hash_password(password),
                role=role, extension=extension, language=language, created_at=clock.now(),
                claim_serial=0, active=True)
    session.add(user)
    session.flush()
    return user


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


def _extension(session: Session, value: Any, except_id: int | None,
               served: Callable[[str], bool] | None) -> str | None:
    text = clean_text(value, "extension", 32)
    if text is None:
        return None
    if not _EXTENSION.fullmatch(text):
        raise Invalid("admin.bad_extension")
    if served is not None and not served(text):
        raise Invalid("admin.extension_on_no_server", value=text)
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
        return get_row(session, User, user_id)
    except NotFound:
        raise NotFound("user.not_found") from None


def add_user(session: Session, *, username: Any, full_name: Any, password: Any, role: Any,
             extension: Any = None, language: Any = "zh_CN",
             extension_served: Callable[[str], bool] | None = None,
             clock=SYSTEM_CLOCK) -> User:
    """``extension_served``: whether an Asterisk server takes a phone of that extension
    (config.settings.Settings.serves_extension); a phone no server takes rings nowhere."""
    name = "" if username is None else str(username).strip()
    if not _USERNAME.fullmatch(name):
        raise Invalid("admin.bad_username")
    full = clean_text(full_name, "full_name", 64, required=True)
    secret = _password(password)
    role_row = _role(session, role)
    ext = _extension(session, extension, None, extension_served)
    lang = _language(language)
    return create_user(session, name, full, secret, role_row.code, extension=ext, language=lang,
                       clock=clock)


def update_user(session: Session, actor: User, user_id: Any, *, full_name: Any, role: Any,
                extension: Any, language: Any,
                extension_served: Callable[[str], bool] | None = None) -> User:
    user = get_user(session, user_id)
    full = clean_text(full_name, "full_name", 64, required=True)
    role_row = _role(session, role)
    unchanged = str(extension or "").strip() == (user.extension or "")   # kept as it was
    ext = _extension(session, extension, user.id, None if unchanged else extension_served)
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
              "can_manage", "mask_numbers")
MAX_QUOTA = 10000


def update_role(session: Session, code: Any, *, daily_claim_quota: Any, **flags: Any) -> Role:
    """Quota and permission flags of one of the fixed roles (a flag not given is off).
    `is_admin` is not editable. A lowered quota applies from the next claim."""
    unknown = set(flags) - set(ROLE_FLAGS)
    if unknown:
        raise Invalid("admin.unknown_field", value=", ".join(sorted(unknown)))
    role = _role(session, code)
    quota = clean_int(daily_claim_quota, "daily_claim_quota", 0, MAX_QUOTA)
    role.daily_claim_quota = quota
    for flag in ROLE_FLAGS:
        setattr(role, flag, as_bool(flags.get(flag)))
    session.flush()
    return role
