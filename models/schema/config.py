"""Rules and settings the admin edits as data."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class StageRule(Base):
    """C3: one row per stage ('archive' is the no-stage row)."""

    __tablename__ = "stage_rules"

    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    editable_fields: Mapped[list] = mapped_column(JSON, default=list)
    claim_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    release_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    promote_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    demote_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    marks: Mapped[list] = mapped_column(JSON, default=list)


class QueryableField(Base):
    """C8: which customer fields the query builder offers (the admin's choice)."""

    __tablename__ = "queryable_fields"

    field: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class ImportTemplate(Base):
    """C9: `mapping` lists, per spreadsheet column, the customer field or null to skip."""

    __tablename__ = "import_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mapping: Mapped[list] = mapped_column(JSON, default=list)
    header_rows: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AppSetting(Base):
    """Company-wide settings kept in the database (company name, time zone...)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))
