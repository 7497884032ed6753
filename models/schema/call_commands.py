"""Call controls the agent asked for (issue 14): the web writes a row, the dialer process's
console runner (agi/console/commands.py) claims it and runs it over AMI.

  queued --claim (one runner: a conditional UPDATE)--> running --> done | failed (reason)

``args`` holds what the model resolved (the transfer target's context and exten, its label),
``channels`` the agent's and the customer's channels read from the call log when queued."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

COMMAND_STATES = ("queued", "running", "done", "failed")


class CallCommand(Base):
    __tablename__ = "call_commands"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(24))
    args: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(8), default="queued")
    reason: Mapped[str | None] = mapped_column(Text)       # the PBX's message when failed
    runner: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_call_commands_state", "state", "id"),)
