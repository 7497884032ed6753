"""Outbound campaigns (T4): campaigns, their leads, every dial attempt, the do-not-call list and
the agents' dialer states.

The database is what keeps two dialer processes from dialling one number at once: an attempt
row is open (``ended_at`` NULL) while its call is in flight, and a partial unique index allows
one open attempt per number.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

DIAL_MODES = ("preview", "progressive", "predictive", "voice")   # voice: an IVR flow, no agents (T9)
CAMPAIGN_STATUSES = ("draft", "running", "paused", "stopped", "finished")
LEAD_STATUSES = ("queued", "dialling", "done", "dead", "dnc", "exhausted", "removed")
# What an attempt ended as (models.dialer.dialing.classify). "answered" is a live person put through to
# an agent; "abandoned" a live person no agent took within the abandon window; "dead" a cause
# the trunk's carrier uses for dead numbers only (settings.dead_causes) that has no word of its own.
DIAL_OUTCOMES = ("answered", "abandoned", "machine", "busy", "rejected", "noanswer", "absent",
                 "unallocated", "changed", "invalid", "dead", "noroute", "congestion", "failed")
DEAD_OUTCOMES = ("unallocated", "changed", "invalid", "dead")   # never dialled again
AGENT_STATES = ("logged_out", "ready", "on_call", "wrap_up", "paused")


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    mode: Mapped[str] = mapped_column(String(16), default="predictive")
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    # Which customers: a stage (None = any staged), an ownership mode (None = any) and a saved
    # C8 query (models.crm.query JSON), all ANDed.
    filter_stage: Mapped[str | None] = mapped_column(String(16))
    filter_ownership: Mapped[str | None] = mapped_column(String(16))
    filter_query: Mapped[dict | None] = mapped_column(JSON)
    caller_id: Mapped[str | None] = mapped_column(String(40))
    ring_timeout_s: Mapped[int] = mapped_column(Integer, default=25)
    abandon_cap_pct: Mapped[float] = mapped_column(Float, default=3.0)
    hours_start: Mapped[str] = mapped_column(String(5), default="08:00")  # customer's local time
    hours_end: Mapped[str] = mapped_column(String(5), default="21:00")
    skip_holidays: Mapped[bool] = mapped_column(Boolean, default=True)
    max_attempts_24h: Mapped[int] = mapped_column(Integer, default=5)
    max_attempts_5min: Mapped[int] = mapped_column(Integer, default=3)
    abandon_cooldown_h: Mapped[int] = mapped_column(Integer, default=72)
    # {"busy": {"delay_min": 10, "max": 3}, "noanswer": {...}, "congestion": ..., "machine": ...}
    retry_rules: Mapped[dict] = mapped_column(JSON, default=dict)
    machine_action: Mapped[str] = mapped_column(String(16), default="message")  # message | retry | hangup
    machine_message: Mapped[str | None] = mapped_column(String(64))   # prompt name
    abandon_message: Mapped[str | None] = mapped_column(String(64))   # prompt name
    # voice campaigns: the flow of ivr_flows/ an answered call hears, and the most lines up at once
    ivr_flow: Mapped[str | None] = mapped_column(String(64))
    max_lines: Mapped[int | None] = mapped_column(Integer)
    schedule_start_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    schedule_end_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CampaignAgent(Base):
    __tablename__ = "campaign_agents"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)


class CampaignLead(Base):
    """A customer in a campaign's hopper."""

    __tablename__ = "campaign_leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"),
                                             index=True)
    number: Mapped[str] = mapped_column(String(20))   # E.164, what is dialled
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("uq_campaign_leads_campaign_customer", "campaign_id", "customer_id", unique=True),
        Index("ix_campaign_leads_pick", "campaign_id", "status", "next_attempt_at"),
    )


class DialAttempt(Base):
    """One call the dialer placed. Open (``ended_at`` NULL) while in flight."""

    __tablename__ = "dial_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_leads.id", ondelete="SET NULL"),
                                                index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"),
                                                    index=True)
    number: Mapped[str] = mapped_column(String(20))
    channel_id: Mapped[str] = mapped_column(String(64), unique=True)  # AMI ChannelId
    dialer_id: Mapped[str | None] = mapped_column(String(64))          # which dialer process
    server: Mapped[str | None] = mapped_column(String(64))             # which Asterisk (settings.servers)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                 index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    cause: Mapped[int | None] = mapped_column(Integer)     # Q.850 Hangup cause of the far side
    reason: Mapped[int | None] = mapped_column(Integer)    # OriginateResponse Reason
    amd: Mapped[str | None] = mapped_column(String(16))    # human | machine | unsure
    # the carrier's early media that set the outcome (recordings.early_media label); None: the causes
    heard: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    connected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)

    __table_args__ = (
        Index("uq_dial_attempts_open_number", "number", unique=True,
              sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL")),
        Index("ix_dial_attempts_campaign_started", "campaign_id", "started_at"),
        # the 24 h abandon rate (campaign_stats.abandons_24h_of) from the index alone
        Index("ix_dial_attempts_campaign_outcome", "campaign_id", "outcome", "started_at", "ended_at"),
        Index("ix_dial_attempts_number_started", "number", "started_at"),
    )


class DoNotCall(Base):
    """The company's do-not-call list (a customer's own ``do_not_call`` flag also counts)."""

    __tablename__ = "do_not_call"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    reason: Mapped[str | None] = mapped_column(String(200))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AgentState(Base):
    """An agent's current dialer state (one row per agent)."""

    __tablename__ = "agent_states"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"),
                                                    index=True)
    state: Mapped[str] = mapped_column(String(16), default="logged_out")
    reason: Mapped[str | None] = mapped_column(String(64))     # pause reason
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("dial_attempts.id", ondelete="SET NULL"))
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Raised past every other row's at each move (models.dialer.agent_states._move): the
    # dialer's live view reads only the rows changed since its last read.
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)


class AgentStateLog(Base):
    """Every span an agent spent in a state, for talk minutes per agent-hour and idle %."""

    __tablename__ = "agent_state_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    disposition: Mapped[str | None] = mapped_column(String(32))  # set when wrap-up ends
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_agent_state_log_campaign_started", "campaign_id", "started_at"),
        Index("ix_agent_state_log_user_started", "user_id", "started_at"),
    )


class PauseCode(Base):
    """A reason an agent may pause for (小休原因), chosen by the admin (issue 14). Codes never
    change once made (agent_state_log keeps them); a code is retired by making it inactive."""

    __tablename__ = "pause_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label_zh: Mapped[str] = mapped_column(String(40))
    label_en: Mapped[str] = mapped_column(String(60))
    # productive: the time counts as work in the reports' utilisation (training, meetings)
    productive: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class AgentQueue(Base):
    """An inbound queue an agent is logged in to (a dynamic member of it on Asterisk, kept so by
    agi.dialer.queue_members)."""

    __tablename__ = "agent_queues"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime)
