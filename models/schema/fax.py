"""Faxes (无纸传真, T8): one row per fax received or sent, and the fax-on-demand documents.

The files live in the fax folder (settings.fax_path) under ``tiff_key`` / ``pdf_key``: the fax
as Asterisk received or sends it (TIFF) and as people read it (PDF)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

DIRECTIONS = ("in", "out")
# in: new → read.  out: draft (being prepared: cover page, stamp) → queued (waits for a line
# or its retry time) → sending (originated) → sent | failed; a busy or unanswered attempt goes
# back to queued until the attempts run out.
STATUSES = ("new", "read", "draft", "queued", "sending", "sent", "failed")


class Fax(Base):
    __tablename__ = "faxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(8))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    # the far end: its number (E.164 when it parses, else as the caller ID came) and the
    # station id its fax machine sent (FAXOPT(remotestationid))
    number: Mapped[str | None] = mapped_column(String(40), index=True)
    station_id: Mapped[str | None] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200), default="")
    pages: Mapped[int] = mapped_column(Integer, default=0)
    # FAXOPT values of the last session: resolution in pixels per metre (8031x7700 = fine)
    resolution: Mapped[str | None] = mapped_column(String(20))
    rate: Mapped[int | None] = mapped_column(Integer)
    fax_status: Mapped[str | None] = mapped_column(String(16))     # SUCCESS / FAILED
    fax_error: Mapped[str | None] = mapped_column(String(200))
    fax_statusstr: Mapped[str | None] = mapped_column(String(200))
    tiff_key: Mapped[str | None] = mapped_column(String(200))
    pdf_key: Mapped[str | None] = mapped_column(String(200))
    # the channel of a received fax (one row per call), of the last attempt of a sent one
    uniqueid: Mapped[str | None] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # the inbox it is in (received) or who sent it (sent)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    broadcast: Mapped[str | None] = mapped_column(String(40), index=True)   # 群发: one key per batch
    source_id: Mapped[int | None] = mapped_column(ForeignKey("faxes.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    contact_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_records.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_faxes_direction_status", "direction", "status", "next_attempt_at"),
    )


class FaxDocument(Base):
    """A sheet callers may request in the IVR (自动索取): DIALFUNNEL_FAX_DOCUMENT=<name> sends
    <fax_documents_dir>/<name>.tif (dialplan/extensions_dialfunnel.conf, sendfax)."""

    __tablename__ = "fax_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)   # [-a-zA-Z0-9_]
    title: Mapped[str] = mapped_column(String(200), default="")
    pages: Mapped[int] = mapped_column(Integer, default=0)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
