"""Voice campaigns (T9): what an answered call of a campaign's IVR flow came to."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

# COMPLETED: heard to the end; TRANSFER: pressed for an agent and got one; CALLBACK: pressed
# for an agent, none free, a callback request; OPTOUT: pressed the opt-out key; HANGUP: hung up
# before the end; FAILED: never gave a valid key.
VOICE_OUTCOMES = ("COMPLETED", "TRANSFER", "CALLBACK", "OPTOUT", "HANGUP", "FAILED", "ERROR")


class VoiceResult(Base):
    """One answered call of a voice campaign: one row per dial attempt."""

    __tablename__ = "voice_results"

    attempt_id: Mapped[int] = mapped_column(ForeignKey("dial_attempts.id", ondelete="CASCADE"),
                                            primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"),
                                                    index=True)
    flow: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    heard_to_end: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    keys: Mapped[list] = mapped_column(JSON, default=list)    # [[step, keys], ...]
    path: Mapped[list] = mapped_column(JSON, default=list)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("contact_records.id",
                                                             ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_voice_results_campaign", "campaign_id", "outcome"),)


class VoiceAnswer(Base):
    """A survey question answered by keypad on a voice call (one per attempt and question)."""

    __tablename__ = "voice_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("dial_attempts.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"),
                                                    index=True)
    flow: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(String(8))
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("uq_voice_answers_attempt_question", "attempt_id", "question", unique=True),
        Index("ix_voice_answers_campaign_question", "campaign_id", "question"),
    )
