"""SMS (T7): every message sent or received, its parts at the gateway, the admin's templates,
the numbers opted out of SMS and the bulk jobs.

An outgoing message is ``held`` while a bulk job has not released it (its hours and rate),
``queued`` until a sender claims it (``sending``, conditional UPDATE), then ``sent``,
``delivered`` or ``failed`` (``reason``); ``skipped`` when a bulk job found its number opted
out or on the do-not-call list. An incoming one is ``received``."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

SMS_DIRECTIONS = ("out", "in")
SMS_STATUSES = ("held", "queued", "sending", "sent", "delivered", "failed", "skipped", "received")
BULK_STATUSES = ("scheduled", "running", "paused", "done", "cancelled")


class SmsMessage(Base):
    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                index=True)
    to_number: Mapped[str] = mapped_column(String(20), index=True)     # E.164 (ours when "in")
    from_number: Mapped[str | None] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(Integer, default=1)
    encoding: Mapped[str] = mapped_column(String(8), default="ucs2")   # gsm7 | ucs2
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(200))
    gateway: Mapped[str | None] = mapped_column(String(32))
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_templates.id", ondelete="SET NULL"))
    # [[variable, value], ...] of the template's variables, in its order: a cloud gateway's
    # template is filled with them (messaging/sender.py); None: the text is sent as it is
    template_params: Mapped[list | None] = mapped_column(JSON)
    bulk_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_bulk_jobs.id", ondelete="CASCADE"), index=True)
    contact_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_records.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)   # a retry's time
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)   # delivered, failed, received

    __table_args__ = (Index("ix_sms_messages_status_id", "status", "id"),)


class SmsPart(Base):
    """One part of a sent message as the gateway knows it (its message id; one per segment on
    SMPP), and what its delivery receipt said."""

    __tablename__ = "sms_parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL: a receipt that came before its submit's response was recorded (an orphan)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_messages.id", ondelete="CASCADE"), index=True)
    gateway: Mapped[str] = mapped_column(String(32))
    gateway_message_id: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(10), default="sent")   # sent | delivered | failed
    reason: Mapped[str | None] = mapped_column(String(200))
    receipt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ux_sms_parts_gateway_id", "gateway", "gateway_message_id",
                            unique=True),)


class SmsTemplate(Base):
    __tablename__ = "sms_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    body: Mapped[str] = mapped_column(Text)
    gateway_code: Mapped[str | None] = mapped_column(String(64))   # a cloud gateway's template
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SmsOptOut(Base):
    """A number that receives no more SMS (退订)."""

    __tablename__ = "sms_opt_outs"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)   # E.164
    reason: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_messages.id", ondelete="SET NULL"))   # the reply that opted out
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SmsBulkJob(Base):
    """A bulk sending: its messages are written ``held`` at creation and released to the
    senders within the job's hours (company time) at its rate from ``scheduled_at``."""

    __tablename__ = "sms_bulk_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_templates.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[dict] = mapped_column(JSON, default=dict)   # {"ids": [...]} or {"query": ...}
    status: Mapped[str] = mapped_column(String(10), default="scheduled", index=True)
    scheduled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=60)
    hours_start: Mapped[str] = mapped_column(String(5), default="09:00")
    hours_end: Mapped[str] = mapped_column(String(5), default="20:00")
    total: Mapped[int] = mapped_column(Integer, default=0)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)   # last release
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
