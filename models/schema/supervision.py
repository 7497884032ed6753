"""Supervision (issue 14): every listen / whisper / barge a manager asked for.

A row is the log of one use (who, whom, when, mode, the manager's phone) and the dialer
process's work item at once: ``queued`` until a dialer claims it (``dialer_id``), ``ringing``
once the manager's phone is originated (``channel_id`` = the Originate's ChannelId), ``active``
from ChanSpyStart, ``ended`` when the manager hangs up (or the call ends), ``failed`` when the
phone was not answered or the Originate was refused."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime
from .users import User

SPY_MODES = ("listen", "whisper", "barge")
SPY_STATES = ("queued", "ringing", "active", "ended", "failed")


class SpySession(Base):
    __tablename__ = "spy_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                   index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                 index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    agent_channel: Mapped[str] = mapped_column(String(128))   # the spied channel (ChanSpy's prefix)
    mode: Mapped[str] = mapped_column(String(8))
    manager_extension: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(8), default="queued")
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)   # ChanSpyStart
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    dialer_id: Mapped[str | None] = mapped_column(String(64))
    channel_id: Mapped[str | None] = mapped_column(String(64), unique=True)

    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id])
    agent: Mapped[User | None] = relationship(foreign_keys=[agent_id])

    __table_args__ = (Index("ix_spy_sessions_state", "state"),
                      Index("ix_spy_sessions_requested_at", "requested_at"))
