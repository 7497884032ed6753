"""The call log (issue 13): one ``calls`` row per call, one ``call_legs`` row per channel.

A call is what Asterisk ties together by ``linkedid`` (every channel of one call carries the
first channel's Uniqueid as its Linkedid); a leg is one channel, by its ``uniqueid``. Both keys
are unique, so an event replayed or seen twice finds the row it made the first time
(models/telephony/calls.py is the only writer).

Recordings are linked to calls by ``linkedid`` (both tables have it, indexed), not by a
``call_id`` column on ``recordings``: the recording of a call is often stored before the call's
row exists or after it ended (the dialplan's hangup handler runs before AMI's Hangup), by
another process; a join by linkedid needs no second write to keep in step and no order
between the two writers."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime

# inbound: a caller rang the company; dialer: the dialer's Originate; manual: an agent dialled
# from the phone; click_to_call: an Originate to the agent's phone, then Dial of the customer;
# internal: an agent called an agent.
CALL_DIRECTIONS = ("inbound", "dialer", "manual", "click_to_call", "internal")
CALL_STATES = ("ringing", "up", "ended")
# caller: the channel that started an inbound call; agent: an agent's phone; customer: the
# customer's side of an outgoing call; local: the dialplan half (;2) of a Local channel;
# other: anything else (a channel seen only in CoreShowChannels, a trunk we cannot place).
LEG_ROLES = ("caller", "agent", "customer", "local", "other")


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(16), default="inbound")
    state: Mapped[str] = mapped_column(String(8), default="ringing")
    from_number: Mapped[str | None] = mapped_column(String(40))   # E.164 when it is a number
    to_number: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ringing_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # first Dial
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ring_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    queue_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("dial_attempts.id", ondelete="SET NULL"), index=True)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)       # Q.850
    dial_status: Mapped[str | None] = mapped_column(String(16))     # the attempt's outcome
    queue: Mapped[str | None] = mapped_column(String(64))
    abandoned: Mapped[bool] = mapped_column(default=False)
    disposition: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_calls_state", "state"),
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_user_started", "user_id", "started_at"),
    )


class CallLeg(Base):
    __tablename__ = "call_legs"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default="other")
    number: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cause: Mapped[int | None] = mapped_column(Integer)
    hold_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # music on hold began

    call: Mapped[Call] = relationship()


# Click-to-call (issue 13, models/dialer/click_to_call.py): queued by the web, claimed by the
# dialer process (agi/dialer/click_to_call.py), moved along by the AMI events of its call.
CALL_REQUEST_STATES = ("queued", "dialing", "ringing_agent", "ringing_customer", "talking",
                       "ended", "failed")


class CallRequest(Base):
    __tablename__ = "call_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    source_call_id: Mapped[int | None] = mapped_column(   # the unanswered call called back
        ForeignKey("calls.id", ondelete="SET NULL"))
    target: Mapped[str] = mapped_column(String(32))       # which number was asked for
    number: Mapped[str] = mapped_column(String(40))       # E.164
    extension: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    reason: Mapped[str | None] = mapped_column(String(48))  # why it failed (message key)
    channel_id: Mapped[str] = mapped_column(String(64), unique=True)  # Originate ChannelId
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    dialer_id: Mapped[str | None] = mapped_column(String(64))
    hangup_wanted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # the customer answered
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_call_requests_state", "state"),
        Index("ix_call_requests_user_created", "user_id", "created_at"),
    )
