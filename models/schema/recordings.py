"""Call recordings (录音, SPEC T5): one row per recorded channel.

The audio lives in the recordings folder under ``file_key`` (see recordings/store.py); the row
outlives it: the retention job removes the audio and sets ``deleted_at``, so the call, its
length and its links stay for reports and the page can say "audio removed"."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

# What a recording is of: the kind the dialplan gives recording_done (dialplan/
# extensions_dialfunnel.conf) and the AMI listener guesses from the channel's context.
#   inbound    a caller's call (dialfunnel-inbound)
#   outbound   a call the dialer placed (dialfunnel-outbound)
#   agent      an agent's own call out (dialfunnel-trunk-out)
#   internal   between extensions; three_way  a conference leg
DIRECTIONS = ("inbound", "outbound", "agent", "internal", "three_way")


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Asterisk's Uniqueid of the recorded channel, and the call's Linkedid (all its legs).
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    linkedid: Mapped[str | None] = mapped_column(String(64), index=True)
    file_key: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(8))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    direction: Mapped[str] = mapped_column(String(16), default="inbound")
    caller_number: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    contact_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_records.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The dialer's attempt when the dialer placed the call (gives its campaign).
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("dial_attempts.id", ondelete="SET NULL"), index=True)
    # When the call began (rang); when nobody knew, when the recording began.
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_recordings_customer_created", "customer_id", "created_at"),
        Index("ix_recordings_user_created", "user_id", "created_at"),
    )

    @property
    def has_audio(self) -> bool:
        return self.deleted_at is None
