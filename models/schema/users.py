from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    daily_claim_quota: Mapped[int] = mapped_column(Integer, default=20)
    can_edit_shared: Mapped[bool] = mapped_column(Boolean, default=False)
    can_delete: Mapped[bool] = mapped_column(Boolean, default=False)
    can_export: Mapped[bool] = mapped_column(Boolean, default=False)
    can_hear_others_recordings: Mapped[bool] = mapped_column(Boolean, default=False)
    # Managers see every customer, force-release and reassign operators.
    can_manage: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # 号码隐藏: the role's users see masked phone numbers (models/org/masking.py).
    mask_numbers: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="zh_CN")
    extension: Mapped[str | None] = mapped_column(String(32), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Bumped by every claim: the row lock that serialises one user's claims (quota race).
    claim_serial: Mapped[int] = mapped_column(Integer, default=0)

    role: Mapped[Role] = relationship(lazy="joined")

    @property
    def sees_all(self) -> bool:
        return self.role.can_manage or self.role.is_admin
