"""Reference announcements of the carriers, taken from real calls (issue 17).

A manager marks a stretch of a call's recording as "this was a 关机 announcement"; its
fingerprint (recordings.early_media.references: 4 hex digits a 16 ms frame) joins the
references the dialer's early-media listener matches against."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class EarlyMediaReference(Base):
    __tablename__ = "early_media_references"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(16))          # recordings.early_media ANNOUNCEMENTS
    carrier: Mapped[str] = mapped_column(String(80))
    fingerprint: Mapped[str] = mapped_column(Text)
    recording_id: Mapped[int | None] = mapped_column(
        ForeignKey("recordings.id", ondelete="SET NULL"), index=True)
    start_ms: Mapped[int] = mapped_column(Integer, default=0)
    end_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
