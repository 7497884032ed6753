"""IVR call log (T2): one row per call that walked an IVR flow."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

IVR_OUTCOMES = ("TRANSFER", "VOICEMAIL", "CALLBACK", "FAX", "COMPLETED", "FAILED", "HANGUP", "OPTOUT",
                "NOFLOW", "ERROR", "DBERROR")


class IVRCall(Base):
    """One IVR call: the steps it walked, the keys pressed and how it ended.

    `outcome` is the flow's result (TRANSFER, VOICEMAIL, FAX, CALLBACK, COMPLETED, FAILED...) or
    HANGUP when the caller hung up before the flow ended. A callback request is kept here too:
    `callback_number`/`callback_at`, and `callback_record_id` when it became a contact record
    with a reminder for the customer's operator; a request with no operator to remind (unknown
    caller: a new shared reserve customer; a shared customer) has `callback_record_id` NULL: see models.telephony.ivr.unassigned_callbacks.
    """

    __tablename__ = "ivr_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), index=True)
    flow: Mapped[str] = mapped_column(String(64))
    caller_id: Mapped[str | None] = mapped_column(String(40))
    caller_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    path: Mapped[list] = mapped_column(JSON, default=list)      # step names, in order
    digits: Mapped[list] = mapped_column(JSON, default=list)    # [[step, keys], ...]
    outcome: Mapped[str] = mapped_column(String(16))
    exit_to: Mapped[str | None] = mapped_column(String(120))    # queue:sales, 8000@default...
    callback_number: Mapped[str | None] = mapped_column(String(20))
    callback_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    callback_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    callback_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_records.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(String(300))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_ivr_calls_outcome_started", "outcome", "started_at"),
        Index("ix_ivr_calls_callback_at", "callback_at"),
    )
