"""Listen (监听), whisper (耳语) and barge (强插): who may supervise whom, and the log of every use.

    row = request_spy(session, manager, agent_id, "whisper", clock)   # refused: a DomainError
    ... the dialer process: claim_spy_requests → Originate the manager's phone into ChanSpy ...

The rule (one place): an admin may supervise everyone; a manager (role.can_manage) the agents
on the team of a campaign the manager created or is on; nobody else anyone. The agent must be
on a live (answered) call in the call log, and the manager needs an extension (the phone that
rings into ChanSpy). Every request is a ``spy_sessions`` row (models/schema/supervision.py), so
every use is logged, including the ones that fail later.
"""
from __future__ import annotations

import dataclasses

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.errors import DomainError, PermissionDenied
from models.org.teams import team_agent_ids
from models.schema import User
from models.schema.calls import Call, CallLeg
from models.schema.supervision import SPY_MODES, SpySession

# ChanSpy's options per mode (apps/app_chanspy.c): q quiet (no beep, no name), w whisper to the
# spied channel only, B barge: talk to both sides. The dialplan (dialfunnel-spy) holds the same
# table: the mode travels as the extension, never as options.
CHANSPY_OPTIONS = {"listen": "q", "whisper": "qw", "barge": "qB"}


class SpyRefused(DomainError):
    key = "spy.not_on_call"


def may_supervise(session: Session, manager: User, agent_id: int) -> bool:
    if manager.role.is_admin:
        return True
    if not manager.role.can_manage or agent_id == manager.id:
        return False
    return session.scalar(select(User.id).where(
        User.id == agent_id, User.id.in_(team_agent_ids(manager)))) is not None


@dataclasses.dataclass(frozen=True)
class LiveLeg:
    call_id: int
    channel: str


def live_leg(session: Session, agent_id: int) -> LiveLeg | None:
    """The agent's phone channel on an answered call that has not ended (the newest)."""
    row = session.execute(
        select(Call.id, CallLeg.channel).join(Call, Call.id == CallLeg.call_id)
        .where(CallLeg.user_id == agent_id, CallLeg.role == "agent", CallLeg.ended_at.is_(None),
               Call.state == "up")
        .order_by(CallLeg.started_at.desc(), CallLeg.id.desc()).limit(1)).first()
    return LiveLeg(row[0], row[1]) if row else None


def request_spy(session: Session, manager: User, agent_id: int, mode: str,
                clock=SYSTEM_CLOCK) -> SpySession:
    """Queue a listen / whisper / barge for the dialer process; refused with a DomainError
    (nothing written) unless it may happen now."""
    if mode not in SPY_MODES:
        raise SpyRefused("spy.bad_mode", mode=mode)
    if agent_id == manager.id:
        raise SpyRefused("spy.self")
    if not may_supervise(session, manager, agent_id):
        raise PermissionDenied("spy.not_your_team")
    if not manager.extension:
        raise SpyRefused("spy.no_extension")
    leg = live_leg(session, agent_id)
    if leg is None:
        raise SpyRefused("spy.not_on_call")
    row = SpySession(manager_id=manager.id, agent_id=agent_id, call_id=leg.call_id,
                     agent_channel=leg.channel, mode=mode, manager_extension=manager.extension,
                     state="queued", requested_at=clock.now())
    session.add(row)
    session.flush()
    return row


def claim_spy_requests(session: Session, dialer_id: str, channel_id_for, *,
                       clock=SYSTEM_CLOCK) -> list[SpySession]:
    """For the dialer process: the queued requests, each claimed by this dialer only (a
    conditional UPDATE per row: two dialers never ring a manager twice). ``channel_id_for(row)``
    gives the Originate ChannelId the row will be known by. The caller commits at once."""
    claimed = []
    for row_id in session.scalars(select(SpySession.id).where(SpySession.state == "queued")
                                  .order_by(SpySession.requested_at, SpySession.id)).all():
        channel_id = channel_id_for(row_id)
        done = session.execute(
            update(SpySession).where(SpySession.id == row_id, SpySession.state == "queued",
                                     SpySession.dialer_id.is_(None))
            .values(state="ringing", dialer_id=dialer_id, channel_id=channel_id)
            .execution_options(synchronize_session=False)).rowcount
        if done == 1:
            claimed.append(session.get(SpySession, row_id, populate_existing=True))
    return claimed


def _by_channel(session: Session, channel_id: str) -> SpySession | None:
    return session.scalar(select(SpySession).where(SpySession.channel_id == channel_id))


def spy_started(session: Session, channel_id: str, clock=SYSTEM_CLOCK) -> SpySession | None:
    """ChanSpyStart on the manager's channel: the session is live (the first start counts)."""
    row = _by_channel(session, channel_id)
    if row is not None and row.state == "ringing":
        row.state, row.started_at = "active", clock.now()
    return row


def spy_ended(session: Session, channel_id: str, reason: str, clock=SYSTEM_CLOCK) -> SpySession | None:
    """The manager's channel hung up (or ChanSpy stopped): ended if it ever started, else
    failed (the phone did not answer, the Originate was refused). Idempotent."""
    row = _by_channel(session, channel_id)
    if row is None or row.state in ("ended", "failed"):
        return row
    row.state = "ended" if row.state == "active" else "failed"
    row.ended_at, row.end_reason = clock.now(), reason[:32]
    return row


def recent_spy_sessions(session: Session, limit: int = 200) -> list[SpySession]:
    """The newest uses first (the admins' log page)."""
    return list(session.scalars(select(SpySession).order_by(SpySession.requested_at.desc(),
                                                            SpySession.id.desc()).limit(limit)))
