from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class OperatorHistory(Base):
    """操作人转变记录: every change of a customer's ownership or operators."""

    __tablename__ = "operator_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(24))
    from_mode: Mapped[str | None] = mapped_column(String(16))
    to_mode: Mapped[str] = mapped_column(String(16))
    from_operators: Mapped[list] = mapped_column(JSON, default=list)
    to_operators: Mapped[list] = mapped_column(JSON, default=list)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_operator_history_customer_at", "customer_id", "at"),)


class ClaimLog(Base):
    """One row per claim; `counted` rows (from quota pools) count toward the daily quota."""

    __tablename__ = "claim_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    from_stage: Mapped[str | None] = mapped_column(String(16))
    counted: Mapped[bool] = mapped_column(default=True)
    claim_day: Mapped[dt.date] = mapped_column(Date)
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_claim_log_user_day", "user_id", "claim_day"),)


class Event(Base):
    """A live event (screen pop, reminder, campaign change) for the web to stream."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (Index("ix_events_user_id", "user_id", "id"),)


class ImportJob(Base):
    """A background Excel import (C9): progress for the bar, counts and the row report."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_templates.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(200))
    sheet: Mapped[str | None] = mapped_column(String(100))   # None: the active visible sheet
    stage: Mapped[str | None] = mapped_column(String(16))
    ownership: Mapped[str] = mapped_column(String(16), default="personal")
    operator_ids: Mapped[list] = mapped_column(JSON, default=list)
    allow_duplicates: Mapped[bool] = mapped_column(default=False)
    import_valid_rows: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # an interrupted import (models/imports/importer.py): the running worker's token and last sign of
    # life, and the last file row whose outcome is committed
    worker: Mapped[str | None] = mapped_column(String(32))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resume_row: Mapped[int] = mapped_column(default=0)


class ImportReportLine(Base):
    """A line of an import job's result report (models/imports/importer.py): a file row's outcome
    (imported, duplicate, rejected, skipped) or a note. A table rather than a value on the
    job: a 200,000-row report is written as the rows are, and read a page at a time."""

    __tablename__ = "import_report_lines"
    __table_args__ = (Index("ix_import_report_lines_job_row", "job_id", "row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_jobs.id", ondelete="CASCADE"))
    row: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict | None] = mapped_column(JSON)
    same_phone_as: Mapped[str | None] = mapped_column(String(200))
