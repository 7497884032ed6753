from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .auth import hash_password
from .clock import SYSTEM_CLOCK
from .errors import DomainError, NotFound
from .schema import Role, User


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
