"""Agents' dialer states (T4): who is ready for the next answered call.

One state whichever way calls come (blended, issue 14): an agent is ready for one campaign's
dialer calls and/or for the inbound queues he is logged in to (``set_queues``; Asterisk's
membership follows: models.dialer.queue_logins). A pause, a call or a wrap-up keeps both the
dialer (take_ready_agent picks only ready agents) and the queues away.

Legal moves:
  logged_out -> ready | paused        (into one campaign whose team the agent is on, and/or
                                       the inbound queues)
  ready <-> paused                     (a pause names an active pause code: models.dialer.pause_codes)
  ready -> ready                       (an agent of the queues only joins a campaign)
  ready -> on_call                     (only take_ready_agent, when the dialer connects a call,
                                        or models.dialer.preview.preview_next: the agent picks one)
  on_call -> wrap_up                   (only call_ended, inbound_ended)
  ready | paused -> on_call            (only inbound_connected: a queue call answered, reason
                                        "inbound"; its wrap-up needs no disposition)
  on_call -> ready                     (only models.dialer.preview.skip: never dialled)
  wrap_up -> ready | paused            (an active disposition is required:
                                        models.telephony.dispositions)
  any -> logged_out                    (a preview not yet dialled goes back to the hopper;
                                        the queue logins end too)

Every state is a span in ``agent_state_log`` (the open span is closed, a new one opened).
State rows change only through conditional UPDATEs (``WHERE`` state, campaign, reason and
attempt are the ones read), so a pause pressed while the dialer takes the agent, or two dialer
processes taking one agent, cannot both win: the loser sees rowcount 0.
"""
from __future__ import annotations

import datetime as dt
import functools
from typing import NamedTuple

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from models.clock import SYSTEM_CLOCK
from models.db import expire_loaded
from models.dialer.dialing import release_undialled
from models.dialer.pause_codes import check_active as check_pause_code
from models.dialer.queue_logins import queues_of, replace_queues
from models.errors import DomainError, InvalidValue, NotFound, PermissionDenied
from models.schema import AgentState, AgentStateLog, Campaign, CampaignAgent, DialAttempt, User
from models.schema.campaigns import AGENT_STATES
from models.telephony.dispositions import get_active
from models.telephony.popups import create_pop_event

INBOUND = "inbound"      # the reason of on_call / wrap_up for a queue call
CLOSED_CAMPAIGN = ("stopped", "finished")
SET_BY_HAND = {
    "logged_out": {"ready", "paused"},
    "ready": {"paused", "logged_out"},
    "paused": {"ready", "paused", "logged_out"},
    "on_call": {"logged_out"},
    "wrap_up": {"ready", "paused", "logged_out"},
}
TAKE_TRIES = 20
# on_call reasons of a preview (models.dialer.preview): the agent sees the customer, asked to dial,
# the dialer is dialling; None once connected.
PREVIEW_STEPS = ("preview", "dial", "dialling")
HELD_UNDIALLED = ("preview", "dial")


class Current(NamedTuple):
    state: str
    campaign_id: int | None
    reason: str | None
    attempt_id: int | None
    since: dt.datetime | None


_CURRENT = select(AgentState.state, AgentState.campaign_id, AgentState.reason, AgentState.attempt_id,
                  AgentState.since).where(AgentState.user_id == bindparam("user_id"))   # built once


def current(session: Session, user_id: int) -> Current:
    row = session.execute(_CURRENT, {"user_id": user_id}).first()
    return Current(*row) if row else Current("logged_out", None, None, None, None)


def on_team(session: Session, campaign_id: int, user_id: int) -> bool:
    return session.scalar(select(CampaignAgent.user_id).where(
        CampaignAgent.campaign_id == campaign_id, CampaignAgent.user_id == user_id)) is not None


_HAS_ROW = select(AgentState.user_id).where(AgentState.user_id == bindparam("user_id"))


def _ensure_row(session: Session, user_id: int, now: dt.datetime) -> None:
    if session.scalar(_HAS_ROW, {"user_id": user_id}):
        return
    try:
        with session.begin_nested():
            session.add(AgentState(user_id=user_id, state="logged_out", since=now))
    except IntegrityError:
        pass  # another request made it first


def _is(column, value):
    return column.is_(None) if value is None else column == value


_OTHER = aliased(AgentState)   # built once: an alias proxies every column of the table
_NEXT_VERSION = select(func.coalesce(func.max(_OTHER.version), 0) + 1).scalar_subquery()


def _move(session: Session, user_id: int, seen: Current, now: dt.datetime, *, state: str,
          campaign_id: int | None, reason: str | None = None, attempt_id: int | None = None,
          disposition: str | None = None) -> bool:
    """Move the agent from exactly the row we read (state, campaign, reason, attempt) to
    ``state``; False if it changed meanwhile. No legality check: callers own that."""
    move, close_span, open_span = _move_statements(
        seen.campaign_id is None, seen.reason is None, seen.attempt_id is None)
    moved = session.execute(move, dict(
        m_user=user_id, m_seen_state=seen.state, m_seen_campaign=seen.campaign_id,
        m_seen_reason=seen.reason, m_seen_attempt=seen.attempt_id, m_state=state,
        m_campaign=campaign_id, m_reason=reason, m_attempt=attempt_id, m_now=now)).rowcount
    if moved != 1:
        return False
    session.execute(close_span, dict(m_user=user_id, m_now=now, m_disposition=disposition))
    session.execute(open_span, dict(user_id=user_id, campaign_id=campaign_id, state=state,
                                    reason=reason, started_at=now))   # no unit of work
    expire_loaded(session, AgentState, user_id)
    return True


@functools.cache
def _move_statements(campaign_null: bool, reason_null: bool, attempt_null: bool) -> tuple:
    """_move's statements, built once per shape of the row read (which of its columns are NULL):
    building them cost more than running them."""
    def was(column, null: bool, name: str):
        return column.is_(None) if null else column == bindparam(name)
    now = bindparam("m_now", type_=AgentState.since.type)
    move = (update(AgentState)
            .where(AgentState.user_id == bindparam("m_user"), AgentState.state == bindparam("m_seen_state"),
                   was(AgentState.campaign_id, campaign_null, "m_seen_campaign"),
                   was(AgentState.reason, reason_null, "m_seen_reason"),
                   was(AgentState.attempt_id, attempt_null, "m_seen_attempt"))
            .values(state=bindparam("m_state"), campaign_id=bindparam("m_campaign"),
                    reason=bindparam("m_reason"), attempt_id=bindparam("m_attempt"), since=now,
                    version=_NEXT_VERSION)
            .execution_options(synchronize_session=False))
    close_span = (update(AgentStateLog)
                  .where(AgentStateLog.user_id == bindparam("m_user"), AgentStateLog.ended_at.is_(None))
                  .values(ended_at=bindparam("m_now", type_=AgentStateLog.ended_at.type),
                          disposition=bindparam("m_disposition"))
                  .execution_options(synchronize_session=False))
    return move, close_span, insert(AgentStateLog)


def set_state(session: Session, user: User, state: str, *, campaign_id: int | None = None,
              reason: str | None = None, disposition: str | None = None,
              clock=SYSTEM_CLOCK) -> Current:
    """The agent's own move (see the module docstring). Returns the new state."""
    if state not in AGENT_STATES:
        raise DomainError("agent_state.bad_state", state=state)
    now = clock.now()
    seen = current(session, user.id)
    if seen.since is None:    # no row yet
        _ensure_row(session, user.id, now)
        seen = current(session, user.id)
    if state == seen.state and (state == "logged_out" or (
            state == "ready" and campaign_id in (None, seen.campaign_id))):
        return seen
    joining = state != "logged_out" and campaign_id is not None and campaign_id != (
        None if seen.state == "logged_out" else seen.campaign_id)
    if joining and seen.state != "logged_out" and seen.campaign_id is not None:
        raise DomainError("agent_state.other_campaign")
    if state not in SET_BY_HAND[seen.state] and not (joining and state == seen.state == "ready"):
        raise DomainError("agent_state.illegal", before=seen.state, after=state)
    if state == "paused":
        check_pause_code(session, reason)
    if (seen.state == "wrap_up" and seen.reason != INBOUND and state != "logged_out") \
            or disposition is not None:
        get_active(session, disposition)
    target = None
    if state != "logged_out":
        if joining:
            _check_can_join(session, user, campaign_id)
            target = campaign_id
        else:
            target = None if seen.state == "logged_out" else seen.campaign_id
            if target is None and not queues_of(session, user.id):
                raise DomainError("agent_state.campaign_required")
    if not _move(session, user.id, seen, now, state=state, campaign_id=target,
                 reason=reason if state == "paused" else None,
                 disposition=disposition if seen.state == "wrap_up" else None):
        raise DomainError("agent_state.changed")
    if seen.state == "on_call" and seen.reason in HELD_UNDIALLED and seen.attempt_id:
        release_undialled(session, seen.attempt_id, now)
    if state == "logged_out":
        replace_queues(session, user.id, [], now)
    return Current(state, target, reason if state == "paused" else None, None, now)   # as _move wrote it


def set_queues(session: Session, user: User, queues, *, allowed, clock=SYSTEM_CLOCK) -> Current:
    """Log the agent in to exactly ``queues`` (of the ``allowed`` ones, the ``queues``
    setting). A logged-out agent logging in to a queue becomes ready; an agent in no campaign
    leaving his last queue is logged out."""
    queues = sorted({str(q).strip() for q in queues if str(q).strip()})
    for name in queues:
        if name not in allowed:
            raise InvalidValue("agent_state.unknown_queue", queue=name[:64])
    now = clock.now()
    _ensure_row(session, user.id, now)
    replace_queues(session, user.id, queues, now)
    seen = current(session, user.id)
    if queues and seen.state == "logged_out":
        if not _move(session, user.id, seen, now, state="ready", campaign_id=None):
            raise DomainError("agent_state.changed")
    elif not queues and seen.campaign_id is None and seen.state in ("ready", "paused"):
        if not _move(session, user.id, seen, now, state="logged_out", campaign_id=None):
            raise DomainError("agent_state.changed")
    return current(session, user.id)


def inbound_connected(session: Session, user_id: int, *, clock=SYSTEM_CLOCK) -> bool:
    """The agent answered a queue call (AMI AgentConnect): on_call whatever he was doing but
    another call, so the dialer gives him nothing meanwhile. False when not moved (logged
    out, already on a call, or an outbound wrap-up still owed its disposition)."""
    seen = current(session, user_id)
    if seen.state not in ("ready", "paused") and not (
            seen.state == "wrap_up" and seen.reason == INBOUND):
        return False
    return _move(session, user_id, seen, clock.now(), state="on_call",
                 campaign_id=seen.campaign_id, reason=INBOUND)


def inbound_ended(session: Session, user_id: int, *, clock=SYSTEM_CLOCK) -> bool:
    """The queue call ended (AMI AgentComplete): on_call -> wrap_up (idempotent)."""
    seen = current(session, user_id)
    if seen.state != "on_call" or seen.reason != INBOUND:
        return False
    return _move(session, user_id, seen, clock.now(), state="wrap_up",
                 campaign_id=seen.campaign_id, reason=INBOUND)


def _check_can_join(session: Session, user: User, campaign_id: int) -> None:
    status = session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
    if status is None:
        raise NotFound()
    if not on_team(session, campaign_id, user.id):
        raise PermissionDenied("agent_state.not_on_team")
    if status in CLOSED_CAMPAIGN:
        raise DomainError("agent_state.campaign_closed")


def take_ready_agent(session: Session, attempt: DialAttempt, *, clock=SYSTEM_CLOCK,
                     among: list[int] | None = None) -> User | None:
    """Put the attempt's answered call through to the longest-ready agent of its campaign's
    team: that agent goes on_call, the attempt gets agent_id and connected_at, and the agent's
    browser gets a screen pop. None when nobody is ready (the call is abandoned). ``among``:
    only these agents (those whose phones are on the call's Asterisk server)."""
    if attempt.agent_id is not None:
        if attempt.connected_at is None:
            return _connect_preview(session, attempt, clock.now())
        return session.get(User, attempt.agent_id)
    if attempt.ended_at is not None:
        return None
    now = clock.now()
    for _ in range(TAKE_TRIES):
        candidates = session.execute(_ready_statement(among is not None), dict(
            campaign_id=attempt.campaign_id, **({"among": list(among)} if among is not None else {}))).all()
        if not candidates:
            return None
        for user_id, _since in candidates:
            seen = Current("ready", attempt.campaign_id, None, None, None)
            if _move(session, user_id, seen, now, state="on_call", campaign_id=attempt.campaign_id,
                     attempt_id=attempt.id):
                agent = session.get(User, user_id)
                session.execute(_CONNECT, {"a_id": attempt.id, "a_agent": user_id, "a_now": now})
                set_committed_value(attempt, "agent_id", user_id)
                set_committed_value(attempt, "connected_at", now)
                _pop(session, agent, attempt, clock)
                return agent
    return None


_CONNECT = (update(DialAttempt.__table__)     # the attempt put through: built once, run in Core
            .where(DialAttempt.__table__.c.id == bindparam("a_id"))
            .values(agent_id=bindparam("a_agent"), connected_at=bindparam("a_now")))
_CAMPAIGN_NAME = select(Campaign.name).where(Campaign.id == bindparam("campaign_id"))


@functools.cache
def _ready_statement(among: bool):
    """The campaign's five longest-ready active team members (``among``: only those listed),
    built once per shape: each answered call looks for one, every 0.1 s while it holds."""
    stmt = (select(AgentState.user_id, AgentState.since)
            .join(CampaignAgent, (CampaignAgent.user_id == AgentState.user_id)
                  & (CampaignAgent.campaign_id == AgentState.campaign_id))
            .join(User, User.id == AgentState.user_id)
            .where(AgentState.campaign_id == bindparam("campaign_id"), AgentState.state == "ready",
                   User.active.is_(True)))
    if among:
        stmt = stmt.where(AgentState.user_id.in_(bindparam("among", expanding=True)))
    return stmt.order_by(AgentState.since, AgentState.user_id).limit(5)


def _pop(session: Session, agent: User, attempt: DialAttempt, clock) -> None:
    """The screen pop of an outbound campaign call: the usual pop of the number (visibility
    applied), the attempt's customer first, plus which campaign and attempt it is."""
    name = session.scalar(_CAMPAIGN_NAME, {"campaign_id": attempt.campaign_id})
    create_pop_event(session, agent, attempt.number, clock=clock, call=dict(
        uniqueid=attempt.channel_id, linkedid=attempt.channel_id, direction="outbound",
        source="campaign"), campaign=dict(
        id=attempt.campaign_id, name=name, attempt_id=attempt.id, customer_id=attempt.customer_id))


def _connect_preview(session: Session, attempt: DialAttempt, now: dt.datetime) -> User | None:
    """A preview call (the agent chose it) was answered: connected to that agent if they are
    still waiting on it; None otherwise (they left: the call is abandoned)."""
    seen = current(session, attempt.agent_id)
    if attempt.ended_at is not None or seen.state != "on_call" or seen.attempt_id != attempt.id:
        return None
    connected = session.execute(
        update(DialAttempt)
        .where(DialAttempt.id == attempt.id, DialAttempt.connected_at.is_(None),
               DialAttempt.ended_at.is_(None))
        .values(connected_at=now).execution_options(synchronize_session=False)).rowcount
    session.refresh(attempt)
    if connected and seen.reason is not None:
        _move(session, attempt.agent_id, seen, now, state="on_call",
              campaign_id=seen.campaign_id, attempt_id=attempt.id)
    return session.get(User, attempt.agent_id) if attempt.connected_at is not None else None


def call_ended(session: Session, attempt: DialAttempt, *, clock=SYSTEM_CLOCK) -> bool:
    """The call of ``attempt`` hung up: its agent goes on_call -> wrap_up (idempotent). True if
    this call moved the agent."""
    if attempt.agent_id is None:
        return False
    seen = current(session, attempt.agent_id)
    if seen.state != "on_call" or seen.attempt_id != attempt.id:
        return False
    return _move(session, attempt.agent_id, seen, clock.now(), state="wrap_up",
                 campaign_id=seen.campaign_id, attempt_id=attempt.id)


def agent_snapshot(session: Session, campaign_id: int) -> list[tuple[int, str, dt.datetime]]:
    """(user_id, state, since) of every agent logged into the campaign, but those on an inbound
    queue call or its wrap-up: the pacer must neither count them ready soon nor dial for them."""
    return [tuple(r) for r in session.execute(
        select(AgentState.user_id, AgentState.state, AgentState.since)
        .where(AgentState.campaign_id == campaign_id, AgentState.state != "logged_out",
               AgentState.state.not_in(("on_call", "wrap_up")) | AgentState.reason.is_(None)
               | (AgentState.reason != INBOUND))
        .order_by(AgentState.user_id))]


class Change(NamedTuple):
    user_id: int
    state: str
    campaign_id: int | None
    reason: str | None
    since: dt.datetime
    version: int


def changed_since(session: Session, version: int | None) -> list[Change]:
    """Every agent row whose ``version`` is above ``version`` (None: every row), in one query:
    the dialer's live view (agi.dialer.live_view) polls it each tick."""
    if version is None:
        return [Change(*row) for row in session.connection().execute(_CHANGES)]
    return [Change(*row) for row in session.connection().execute(_CHANGES_SINCE, {"version": version})]


# Built once and run on the session's connection: the ORM's per-statement work cost more than
# the query (the dialer polls every tick).
_CHANGES = select(AgentState.user_id, AgentState.state, AgentState.campaign_id, AgentState.reason,
                  AgentState.since, AgentState.version)
_CHANGES_SINCE = _CHANGES.where(AgentState.version > bindparam("version"))


def counts_for_dialer(state: str, reason: str | None) -> bool:
    """Whether an agent in ``state`` counts in the pacer's view of his campaign
    (agent_snapshot's rule: not logged out, not on an inbound call or its wrap-up)."""
    return state != "logged_out" and not (state in ("on_call", "wrap_up") and reason == INBOUND)


class TeamMember(NamedTuple):
    user_id: int
    name: str
    state: str            # logged_out unless logged into this campaign
    reason: str | None
    since: dt.datetime | None


def team_states(session: Session, campaign_id: int) -> list[TeamMember]:
    """The campaign's team and anyone still logged into it, each with their state here."""
    here = AgentState.campaign_id == campaign_id
    team = select(CampaignAgent.user_id).where(CampaignAgent.campaign_id == campaign_id)
    rows = session.execute(
        select(User.id, User.full_name, AgentState.state, AgentState.reason, AgentState.since,
               AgentState.campaign_id)
        .outerjoin(AgentState, AgentState.user_id == User.id)
        .where(User.id.in_(team) | (here & (AgentState.state != "logged_out")))
        .order_by(User.id)).all()
    out = []
    for user_id, name, state, reason, since, cid in rows:
        if cid != campaign_id or state is None:
            state, reason, since = "logged_out", None, None
        out.append(TeamMember(user_id, name, state, reason, since))
    return out


def my_campaign_ids(session: Session, user: User) -> list[int]:
    return list(session.scalars(select(CampaignAgent.campaign_id)
                                .where(CampaignAgent.user_id == user.id)))


def open_attempt_of(session: Session, user_id: int) -> DialAttempt | None:
    """The attempt the agent is on a call or wrapping up with."""
    seen = current(session, user_id)
    if seen.attempt_id is None or seen.state not in ("on_call", "wrap_up"):
        return None
    return session.get(DialAttempt, seen.attempt_id)
