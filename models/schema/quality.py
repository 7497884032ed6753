"""Recording quality review (issue 16, T10): review forms, reviews and their answers, comments
pinned to moments of a recording, the weekly sample to review, training examples, and each
recording's waveform peaks and talk figures.

The rules are in models/quality/; the score of a review is computed in one place
(models/quality/scoring.py) and stored on the review for lists and reports."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

ITEM_KINDS = ("yes_no", "scale")
# submitted: the agent may see it; acknowledged / disputed by the agent; a manager settles a
# dispute: upheld (the score stands) or overturned (the score no longer counts).
REVIEW_STATES = ("submitted", "acknowledged", "disputed", "upheld", "overturned")


class ReviewForm(Base):
    __tablename__ = "review_forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ReviewSection(Base):
    __tablename__ = "review_sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("review_forms.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)


class ReviewItem(Base):
    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(
        ForeignKey("review_sections.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8), default="yes_no")
    scale_max: Mapped[int] = mapped_column(Integer, default=1)   # 1 for yes/no
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    # Answered "no" (or the lowest mark): the whole call fails, score 0.
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    form_id: Mapped[int] = mapped_column(ForeignKey("review_forms.id"), index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(12), default="submitted")
    score: Mapped[float] = mapped_column(Float, default=0.0)      # 0–100
    failed: Mapped[bool] = mapped_column(Boolean, default=False)  # a critical item failed
    summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    disputed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    settlement_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("recording_id", "form_id", name="uq_reviews_recording_form"),
        Index("ix_reviews_agent_created", "agent_id", "created_at"),
    )


class ReviewAnswer(Base):
    __tablename__ = "review_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"), index=True)
    value: Mapped[int] = mapped_column(Integer)   # 0/1 for yes/no, 0..scale_max for a scale

    __table_args__ = (UniqueConstraint("review_id", "item_id", name="uq_review_answers_item"),)


class RecordingComment(Base):
    """A reviewer's comment pinned to a moment of a recording (点击时间点评论)."""
    __tablename__ = "recording_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at_ms: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ReviewQueueEntry(Base):
    """A recording the weekly sample chose, assigned to a reviewer."""
    __tablename__ = "review_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), unique=True)
    reviewer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    week: Mapped[dt.date] = mapped_column(Date)   # the Monday of the sampled week
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TrainingExample(Base):
    """A recording marked as an example (优秀录音/典型案例) for new colleagues."""
    __tablename__ = "training_examples"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), unique=True)
    tags: Mapped[str] = mapped_column(String(200))   # comma-separated, each stripped
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class RecordingAnalysis(Base):
    """What the audio says without a transcript: the waveform's peaks and, when the two sides
    were recorded apart, the talk figures (recordings/talk.py)."""
    __tablename__ = "recording_analyses"

    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), primary_key=True)
    peaks: Mapped[str | None] = mapped_column(Text)   # JSON list of 0..100, one per bucket
    agent_share: Mapped[float | None] = mapped_column(Float)      # of the talk time, 0..1
    customer_share: Mapped[float | None] = mapped_column(Float)
    longest_silence_ms: Mapped[int | None] = mapped_column(Integer)
    crosstalk_ms: Mapped[int | None] = mapped_column(Integer)
    long_silence: Mapped[bool] = mapped_column(Boolean, default=False)
    agent_dominant: Mapped[bool] = mapped_column(Boolean, default=False)
    analysed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
