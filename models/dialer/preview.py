"""Preview dialling (T4): the agent sees the customer first, then dials.

The agent's state row carries the steps (on_call, reason):

  ready --preview_next--> "preview"   an attempt is opened for the agent through the hopper
                                      (dialing.pick_leads: every compliance rule applies)
        --request_dial--> "dial"      compliance checked again
        --claim_dial_requests (the dialer process)--> "dialling"
        --answered (agent_states.take_ready_agent)--> None: connected
        --hang-up (dialing.finish_attempt, agent_states.call_ended)--> wrap_up

skip (or logging out) before the dialer claimed it deletes the attempt: it was never dialled,
so it counts against no cap, and the lead goes back to the hopper. The dialer's periodic
sweep_held_previews does the same for a preview nobody will dial: held past HOLD_LIMIT (the
agent closed the browser) or held by an agent who left the campaign or its team.

Races: the agent's row moves only from exactly the row read (agent_states._move, a conditional
UPDATE), so a skip and the dialer's claim, or two dialers' claims, cannot both win; the claim
then sets the attempt's dialer_id NULL -> dialer only once.
"""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.visibility import can_open
from models.dialer.agent_states import HELD_UNDIALLED, Current, _move, current, on_team
from models.dialer.campaigns import in_schedule
from models.dialer.dialing import pick_leads, release_undialled, within_calling_hours
from models.dialer.dnc import is_blocked
from models.errors import DomainError, NotFound, PermissionDenied
from models.holidays import holiday_dates
from models.schema import AgentState, Campaign, CampaignAgent, Customer, DialAttempt, User
from models.telephony.popups import customer_card

SKIP_DELAY = dt.timedelta(hours=1)   # a skipped lead is offered again after this
HOLD_LIMIT = dt.timedelta(minutes=10)  # a preview not dialled within this goes back (sweep)


class PreviewDial(NamedTuple):
    """A dial the agent asked for, claimed by one dialer process."""
    attempt_id: int
    channel_id: str
    number: str
    agent_id: int
    extension: str | None


def _preview_campaign(session: Session, agent: User, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise NotFound("campaign.not_found")
    if not on_team(session, campaign_id, agent.id):
        raise PermissionDenied("agent_state.not_on_team")
    if campaign.mode != "preview":
        raise DomainError("preview.not_preview")
    return campaign


def preview_next(session: Session, agent: User, campaign_id: int, *,
                 clock=SYSTEM_CLOCK) -> DialAttempt | None:
    """The next customer for a ready agent: one attempt opened for them, the agent on_call
    ("preview"). The one already held is returned again; None when no lead is due."""
    campaign = _preview_campaign(session, agent, campaign_id)
    seen = current(session, agent.id)
    if seen.campaign_id == campaign_id and seen.state == "on_call" and seen.reason == "preview":
        return session.get(DialAttempt, seen.attempt_id)
    if seen.campaign_id != campaign_id or seen.state != "ready":
        raise DomainError("preview.not_ready")
    now = clock.now()
    if campaign.status != "running" or not in_schedule(campaign, now):
        raise DomainError("preview.not_running")
    with session.begin_nested():
        attempts = pick_leads(session, campaign_id, 1, dialer_id=None, clock=clock)
        if not attempts:
            return None
        attempt = attempts[0]
        attempt.agent_id = agent.id
        session.flush()
        if not _move(session, agent.id, seen, now, state="on_call", campaign_id=campaign_id,
                     reason="preview", attempt_id=attempt.id):
            raise DomainError("agent_state.changed")
    return attempt


def _held(session: Session, agent: User, attempt_id: int) -> tuple[DialAttempt, Current]:
    attempt = session.get(DialAttempt, attempt_id, populate_existing=True)
    if attempt is None:
        raise NotFound("dial.attempt_not_found")
    if attempt.agent_id != agent.id:
        raise PermissionDenied("preview.not_yours")
    seen = current(session, agent.id)
    if seen.state != "on_call" or seen.attempt_id != attempt.id or attempt.ended_at is not None:
        raise DomainError("preview.not_previewing")
    return attempt, seen


def dial_refusal(session: Session, attempt: DialAttempt, now: dt.datetime) -> str | None:
    """Why the previewed attempt may not be dialled now (message key), or None."""
    campaign = session.get(Campaign, attempt.campaign_id)
    if campaign.status != "running" or not in_schedule(campaign, now):
        return "preview.not_running"
    customer = session.get(Customer, attempt.customer_id) if attempt.customer_id else None
    if customer is None:
        return "preview.customer_gone"
    if is_blocked(session, attempt.number, customer):
        return "preview.do_not_call"
    holidays = holiday_dates(session) if campaign.skip_holidays else frozenset()
    if not within_calling_hours(campaign, customer.time_zone, now, holidays=holidays):
        return "preview.outside_hours"
    return None


def request_dial(session: Session, agent: User, attempt_id: int, *,
                 clock=SYSTEM_CLOCK) -> DialAttempt:
    """The agent presses "dial": the dialer process will pick it up (claim_dial_requests)."""
    attempt, seen = _held(session, agent, attempt_id)
    if seen.reason != "preview":
        return attempt     # already asked for, dialling or connected
    if not agent.extension:
        raise DomainError("preview.no_extension")
    now = clock.now()
    refusal = dial_refusal(session, attempt, now)
    if refusal:
        raise DomainError(refusal)
    if not _move(session, agent.id, seen, now, state="on_call", campaign_id=seen.campaign_id,
                 reason="dial", attempt_id=attempt.id):
        raise DomainError("agent_state.changed")
    return attempt


def skip(session: Session, agent: User, attempt_id: int, *, clock=SYSTEM_CLOCK) -> None:
    """Not this customer (before the dialer took it): the attempt is undone, the lead goes
    back to the hopper for SKIP_DELAY, the agent is ready again."""
    attempt, seen = _held(session, agent, attempt_id)
    if seen.reason not in HELD_UNDIALLED or attempt.dialer_id is not None:
        raise DomainError("preview.already_dialled")
    now = clock.now()
    with session.begin_nested():
        if not (_move(session, agent.id, seen, now, state="ready", campaign_id=seen.campaign_id)
                and release_undialled(session, attempt.id, now + SKIP_DELAY)):
            raise DomainError("agent_state.changed")


def sweep_held_previews(session: Session, *, clock=SYSTEM_CLOCK,
                        limit: dt.timedelta = HOLD_LIMIT) -> int:
    """Give back the previews nobody will dial (attempts held for an agent, not yet claimed by
    a dialer): held by an agent in the same step ("preview" or "dial") for ``limit`` or longer
    (the agent goes ready again, as after a skip), held by an agent who is off the campaign's
    team or inactive (the agent is logged out), or by nobody any more (the agent logged out or
    moved on). The lead is queued again, due now, with no attempt counted (release). Returns
    how many went back; the caller commits."""
    now = clock.now()
    held = session.execute(
        select(DialAttempt.id, DialAttempt.campaign_id, DialAttempt.agent_id,
               CampaignAgent.user_id.is_not(None), User.active)
        .join(User, User.id == DialAttempt.agent_id)
        .outerjoin(CampaignAgent, (CampaignAgent.campaign_id == DialAttempt.campaign_id)
                   & (CampaignAgent.user_id == DialAttempt.agent_id))
        .where(DialAttempt.ended_at.is_(None), DialAttempt.dialer_id.is_(None))
        .order_by(DialAttempt.id)).all()
    released = 0
    for attempt_id, campaign_id, agent_id, on_team_, active in held:
        seen = current(session, agent_id)
        holding = (seen.state == "on_call" and seen.attempt_id == attempt_id
                   and seen.reason in HELD_UNDIALLED)
        if holding and on_team_ and active and seen.campaign_id == campaign_id \
                and now - seen.since < limit:
            continue
        savepoint = session.begin_nested()
        moved = True
        if holding:
            leaves = not (on_team_ and active and seen.campaign_id == campaign_id)
            moved = _move(session, agent_id, seen, now, state="logged_out" if leaves else "ready",
                          campaign_id=None if leaves else seen.campaign_id)
        if moved and release_undialled(session, attempt_id, now):
            savepoint.commit()
            released += 1
        else:
            savepoint.rollback()   # the agent or a dialer moved first
    return released


def claim_dial_requests(session: Session, campaign_id: int, dialer_id: str, *,
                        clock=SYSTEM_CLOCK) -> list[PreviewDial]:
    """For the dialer process: the campaign's dial requests, each claimed by this dialer only
    (the agent goes "dialling", the attempt gets dialer_id and starts now). A request that may
    no longer be dialled goes back to the agent's preview. The caller commits at once."""
    now = clock.now()
    rows = session.execute(
        select(AgentState.user_id, AgentState.campaign_id, AgentState.attempt_id, User.extension)
        .join(DialAttempt, DialAttempt.id == AgentState.attempt_id)
        .join(User, User.id == AgentState.user_id)
        .where(AgentState.state == "on_call", AgentState.reason == "dial",
               DialAttempt.campaign_id == campaign_id, DialAttempt.agent_id == AgentState.user_id,
               DialAttempt.dialer_id.is_(None), DialAttempt.ended_at.is_(None))
        .order_by(AgentState.since, AgentState.user_id)).all()
    claimed = []
    for user_id, agent_campaign_id, attempt_id, extension in rows:
        attempt = session.get(DialAttempt, attempt_id, populate_existing=True)
        refusal = dial_refusal(session, attempt, now)
        seen = Current("on_call", agent_campaign_id, "dial", attempt_id, None)
        savepoint = session.begin_nested()
        if not _move(session, user_id, seen, now, state="on_call", campaign_id=agent_campaign_id,
                     reason="preview" if refusal else "dialling", attempt_id=attempt_id):
            savepoint.rollback()
            continue
        if refusal is None and session.execute(
                update(DialAttempt)
                .where(DialAttempt.id == attempt_id, DialAttempt.dialer_id.is_(None),
                       DialAttempt.ended_at.is_(None))
                .values(dialer_id=dialer_id, started_at=now)
                .execution_options(synchronize_session=False)).rowcount != 1:
            savepoint.rollback()
            continue
        savepoint.commit()
        if refusal is None:
            session.refresh(attempt)
            claimed.append(PreviewDial(attempt.id, attempt.channel_id, attempt.number, user_id,
                                       extension))
    return claimed


def preview_card(session: Session, agent: User, attempt: DialAttempt) -> dict:
    """What the agent sees before dialling: the customer's card when the agent may open it
    (models.telephony.popups.customer_card), and how the lead's earlier attempts went."""
    customer = session.get(Customer, attempt.customer_id) if attempt.customer_id else None
    visible = customer is not None and can_open(agent, customer)
    earlier = session.execute(
        select(DialAttempt.outcome, DialAttempt.started_at)
        .where(DialAttempt.lead_id == attempt.lead_id, DialAttempt.id != attempt.id,
               DialAttempt.ended_at.is_not(None))
        .order_by(DialAttempt.started_at.desc())).all() if attempt.lead_id else []
    return dict(attempt_id=attempt.id, number=attempt.number,
                customer=customer_card(session, agent, customer) if visible else None,
                hidden=customer is not None and not visible,
                earlier_attempts=len(earlier),
                last_outcome=earlier[0].outcome if earlier else None,
                last_attempt_at=earlier[0].started_at.isoformat() if earlier else None)
