"""Report templates a manager saves (issue 13, C10): what the call report shows, as data."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime
from .users import User


class ReportTemplate(Base):
    """`spec` is checked against whitelists (models.telephony.report_templates.clean_spec)
    every time it is saved or run: rows, period, columns, filters."""

    __tablename__ = "report_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    shared: Mapped[bool] = mapped_column(Boolean, default=False)   # seen by the whole company
    spec: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    owner: Mapped[User] = relationship()
