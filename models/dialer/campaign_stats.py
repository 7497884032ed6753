"""Campaign figures (T4): the live view and the reports, each a handful of SQL aggregates.

Definitions (rates are percentages, None when there is nothing to divide by):
- live answers: attempts that reached a person, "answered" (put through) + "abandoned"
  (no agent took them); machines are not live answers.
- answer rate: live answers / completed attempts.
- abandon rate: abandoned / live answers, over the rolling last 24 h (by start of the attempt)
  and over the whole campaign; the cap (campaign.abandon_cap_pct) applies to the 24 h figure.
- talk minutes per agent-hour: talk seconds of the campaign's attempts / hours its agents spent
  logged in (agent_state_log spans in any state but logged_out; an open span counts up to now).
- calls per hour: attempts started in the last 60 minutes.
- dead numbers: distinct numbers whose attempt ended in one of DEAD_OUTCOMES (空号, 改号, 错号, 关机, ...).
Report days are the company's calendar days (models.company); an agent's span counts on the
day it started.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Float, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.company import company_tz
from models.crm.reports import _by_company_day, utc_range
from models.db import UTCDateTime
from models.dialer.agent_states import on_team, team_states
from models.dialer.dialing import compliant, within_calling_hours
from models.errors import DomainError, NotFound
from models.holidays import holiday_dates
from models.schema import (
    AgentState,
    AgentStateLog,
    Campaign,
    CampaignAgent,
    CampaignLead,
    Customer,
    DialAttempt,
    User,
)
from models.schema.campaigns import AGENT_STATES, DEAD_OUTCOMES, DIAL_OUTCOMES
from models.telephony.dispositions import codes as disposition_codes

REPORTS = ("day", "agent", "outcome")
LIVE = ("answered", "abandoned")


def pct(part, whole) -> float | None:
    return round(100.0 * (part or 0) / whole, 1) if whole else None


def _seconds_between(session: Session, start, end):
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _span_seconds(session: Session, now: dt.datetime):
    end = func.coalesce(AgentStateLog.ended_at, literal(now, UTCDateTime()))
    return func.sum(_seconds_between(session, AgentStateLog.started_at, end))


def _count_if(condition):
    return func.sum(case((condition, 1), else_=0))


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound()
    return campaign


def _logged_in(campaign_id: int):
    return (AgentStateLog.campaign_id == campaign_id, AgentStateLog.state != "logged_out")


def abandons_24h(session: Session, campaign_id: int, *, clock=SYSTEM_CLOCK) -> tuple[int, int]:
    """(abandoned, live answers) of the campaign's attempts started in the last 24 h and ended."""
    return abandons_24h_of(session, [campaign_id], clock.now()).get(campaign_id, (0, 0))


def abandons_24h_of(session: Session, campaign_ids, now: dt.datetime) -> dict[int, tuple[int, int]]:
    """abandons_24h of several campaigns in one query: {campaign id: (abandoned, live)}."""
    out: dict[int, tuple[int, int]] = {}
    if not campaign_ids:
        return out
    for campaign_id, outcome, n in session.execute(
            select(DialAttempt.campaign_id, DialAttempt.outcome, func.count())
            .where(DialAttempt.campaign_id.in_(list(campaign_ids)),
                   DialAttempt.started_at >= now - dt.timedelta(hours=24),
                   DialAttempt.ended_at.is_not(None), DialAttempt.outcome.in_(LIVE))
            .group_by(DialAttempt.campaign_id, DialAttempt.outcome)):
        abandoned, live = out.get(campaign_id, (0, 0))
        out[campaign_id] = (abandoned + (n if outcome == "abandoned" else 0), live + n)
    return out


def over_cap(rate_pct: float | None, cap_pct: float) -> bool:
    return rate_pct is not None and rate_pct > cap_pct


def no_abandon_headroom(session: Session, campaign: Campaign, *, clock=SYSTEM_CLOCK) -> bool:
    """The 24 h abandon rate has reached the cap: the dialer must not over-dial (no more lines
    than ready agents) until answered calls bring it back under."""
    abandoned, live = abandons_24h(session, campaign.id, clock=clock)
    return live > 0 and 100.0 * abandoned >= campaign.abandon_cap_pct * live


def live_stats(session: Session, campaign_id: int, *, clock=SYSTEM_CLOCK) -> dict:
    campaign = _campaign(session, campaign_id)
    now = clock.now()
    of_campaign = DialAttempt.campaign_id == campaign_id
    outcomes = {o: 0 for o in DIAL_OUTCOMES}
    announced = {}                   # outcome -> attempts the carrier's announcement ended
    in_flight = attempts = talk = 0
    was_placed = placed()
    for outcome, count, open_, seconds, heard in session.execute(
            select(DialAttempt.outcome, func.count(), _count_if(DialAttempt.ended_at.is_(None)),
                   func.sum(DialAttempt.talk_seconds), _count_if(DialAttempt.heard.is_not(None)))
            .where(of_campaign, was_placed).group_by(DialAttempt.outcome)):
        attempts += count
        in_flight += open_ or 0
        talk += seconds or 0
        if outcome is not None:
            outcomes[outcome] = outcomes.get(outcome, 0) + count - (open_ or 0)
        if heard:
            announced[outcome] = heard
    completed = attempts - in_flight
    abandoned_24h, live_24h = abandons_24h(session, campaign_id, clock=clock)
    last_hour = session.scalar(select(func.count()).where(
        of_campaign, was_placed, DialAttempt.started_at >= now - dt.timedelta(hours=1)))
    dead = session.scalar(select(func.count(func.distinct(DialAttempt.number))).where(
        of_campaign, DialAttempt.outcome.in_(DEAD_OUTCOMES)))
    agent_seconds = session.scalar(select(_span_seconds(session, now))
                                   .where(*_logged_in(campaign_id))) or 0
    live = outcomes["answered"] + outcomes["abandoned"]
    agents = [dict(user_id=m.user_id, name=m.name, state=m.state, reason=m.reason,
                   since=m.since.isoformat() if m.since else None,
                   seconds=int((now - m.since).total_seconds()) if m.since else None)
              for m in team_states(session, campaign_id)]
    by_state = {state: 0 for state in AGENT_STATES}
    for agent in agents:
        by_state[agent["state"]] += 1
    abandon_24h = pct(abandoned_24h, live_24h)
    return dict(
        campaign=dict(id=campaign.id, name=campaign.name, status=campaign.status,
                      mode=campaign.mode),
        now=now.isoformat(), agents=agents, agents_by_state=by_state,
        lines_in_flight=in_flight, attempts=attempts, completed=completed,
        answered=outcomes["answered"], abandoned=outcomes["abandoned"], live_answers=live,
        answer_rate=pct(live, completed),
        abandon_rate_24h=abandon_24h, abandon_rate=pct(outcomes["abandoned"], live),
        abandon_cap_pct=campaign.abandon_cap_pct,
        over_cap=over_cap(abandon_24h, campaign.abandon_cap_pct),
        outcomes=outcomes, announced=announced, dead_numbers=dead or 0,
        talk_minutes=round(talk / 60.0, 1), agent_hours=round(agent_seconds / 3600.0, 2),
        talk_per_agent_hour=round(talk / 60.0 / (agent_seconds / 3600.0), 1)
        if agent_seconds else None,
        calls_per_hour=last_hour or 0,
        idle=_idle_json(why_idle(session, campaign_id, clock=clock)),
    )


def _idle_json(idle: dict | None) -> dict | None:
    if idle is None:
        return None
    at = idle.get("at")
    return dict(reason=idle["reason"], at=at.isoformat() if at else None)


# -- reports --------------------------------------------------------------------------------

def report(session: Session, campaign_id: int, by: str = "day", *, clock=SYSTEM_CLOCK,
           start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
    """Rows per company day, per agent or per outcome, of attempts started in [start, end]
    (company days; default: the whole campaign)."""
    if by not in REPORTS:
        raise DomainError("campaign_stats.bad_report", by=by)
    _campaign(session, campaign_id)
    now = clock.now()
    if start is None or end is None:
        first = session.scalar(select(func.min(DialAttempt.started_at))
                               .where(DialAttempt.campaign_id == campaign_id))
        first_span = session.scalar(select(func.min(AgentStateLog.started_at))
                                    .where(AgentStateLog.campaign_id == campaign_id))
        moments = [m for m in (first, first_span) if m is not None]
        tz = company_tz(session)
        start = start or (min(moments).astimezone(tz).date() if moments else now.astimezone(tz).date())
        end = end or max(now.astimezone(tz).date(), start)
    if by == "day":
        return _by_day(session, campaign_id, start, end, now)
    lo, hi = utc_range(session, start, end)
    if by == "agent":
        return _by_agent(session, campaign_id, lo, hi, now)
    return _by_outcome(session, campaign_id, lo, hi)


def placed():
    """A customer an agent is previewing has an open attempt no dialer has placed yet: no call."""
    return DialAttempt.dialer_id.is_not(None) | DialAttempt.ended_at.is_not(None)


def _attempt_figures():
    outcome = DialAttempt.outcome
    return (_count_if(placed()), _count_if(DialAttempt.ended_at.is_not(None)),
            _count_if(outcome == "answered"), _count_if(outcome == "abandoned"),
            _count_if(outcome == "machine"), _count_if(outcome.in_(DEAD_OUTCOMES)),
            func.sum(DialAttempt.talk_seconds))


def _row(calls, completed, answered, abandoned, machine, dead, talk, agent_seconds) -> dict:
    talk, agent_seconds = talk or 0, agent_seconds or 0
    live = (answered or 0) + (abandoned or 0)
    return dict(calls=calls or 0, completed=completed or 0, answered=answered or 0,
                abandoned=abandoned or 0, machine=machine or 0, dead=dead or 0,
                answer_rate=pct(live, completed), abandon_rate=pct(abandoned, live),
                talk_minutes=round(talk / 60.0, 1), agent_hours=round(agent_seconds / 3600.0, 2),
                talk_per_agent_hour=round(talk / 60.0 / (agent_seconds / 3600.0), 1)
                if agent_seconds else None)


def _by_day(session, campaign_id, start, end, now) -> list[dict]:
    days: dict[dt.date, list] = {}
    for day, *figures in _by_company_day(session, DialAttempt.started_at, start, end,
                                         aggregates=_attempt_figures(),
                                         where=(DialAttempt.campaign_id == campaign_id,)):
        days[day] = figures + [0]
    for day, seconds in _by_company_day(session, AgentStateLog.started_at, start, end,
                                        aggregates=(_span_seconds(session, now),),
                                        where=_logged_in(campaign_id)):
        days.setdefault(day, [0] * 7 + [0])[7] = seconds or 0
    return [dict(day=day, **_row(*days[day])) for day in sorted(days)]


def _by_agent(session, campaign_id, lo, hi, now) -> list[dict]:
    calls = {uid: (n, talk) for uid, n, talk in session.execute(
        select(DialAttempt.agent_id, func.count(), func.sum(DialAttempt.talk_seconds))
        .where(DialAttempt.campaign_id == campaign_id, DialAttempt.agent_id.is_not(None), placed(),
               DialAttempt.started_at >= lo, DialAttempt.started_at < hi)
        .group_by(DialAttempt.agent_id))}
    in_window = (AgentStateLog.started_at >= lo, AgentStateLog.started_at < hi)
    hours = dict(session.execute(
        select(AgentStateLog.user_id, _span_seconds(session, now))
        .where(*_logged_in(campaign_id), *in_window).group_by(AgentStateLog.user_id)).all())
    dispositions: dict[int, dict] = {}
    for uid, disposition, n in session.execute(
            select(AgentStateLog.user_id, AgentStateLog.disposition, func.count())
            .where(AgentStateLog.campaign_id == campaign_id, AgentStateLog.state == "wrap_up",
                   AgentStateLog.disposition.is_not(None), *in_window)
            .group_by(AgentStateLog.user_id, AgentStateLog.disposition)):
        dispositions.setdefault(uid, {})[disposition] = n
    ids = set(calls) | set(hours) | set(dispositions)
    names = dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all()) \
        if ids else {}
    known = disposition_codes(session)
    rows = []
    for uid in sorted(ids, key=lambda i: (names.get(i, ""), i)):
        n, talk = calls.get(uid, (0, 0))
        seconds = hours.get(uid) or 0
        rows.append(dict(user_id=uid, name=names.get(uid, ""), calls=n,
                         talk_minutes=round((talk or 0) / 60.0, 1),
                         agent_hours=round(seconds / 3600.0, 2),
                         talk_per_agent_hour=round((talk or 0) / 60.0 / (seconds / 3600.0), 1)
                         if seconds else None,
                         dispositions={d: dispositions.get(uid, {}).get(d, 0)
                                       for d in known}))
    return rows


def _by_outcome(session, campaign_id, lo, hi) -> list[dict]:
    found = {outcome: (n, talk) for outcome, n, talk in session.execute(
        select(DialAttempt.outcome, func.count(), func.sum(DialAttempt.talk_seconds))
        .where(DialAttempt.campaign_id == campaign_id, DialAttempt.ended_at.is_not(None),
               DialAttempt.outcome.is_not(None),
               DialAttempt.started_at >= lo, DialAttempt.started_at < hi)
        .group_by(DialAttempt.outcome))}
    total = sum(n for n, _ in found.values())
    order = list(DIAL_OUTCOMES) + sorted(set(found) - set(DIAL_OUTCOMES))
    return [dict(outcome=o, calls=found.get(o, (0, 0))[0], share=pct(found.get(o, (0, 0))[0], total),
                 talk_minutes=round((found.get(o, (0, 0))[1] or 0) / 60.0, 1),
                 dead=o in DEAD_OUTCOMES)
            for o in order]


# -- who sees which campaign ---------------------------------------------------------------

def visible_campaigns(session: Session, user: User) -> list[Campaign]:
    """Managers and admins see every campaign; anybody else the campaigns whose team they
    are on."""
    stmt = select(Campaign).order_by(Campaign.id.desc())
    if not user.role.can_manage:
        stmt = stmt.where(Campaign.id.in_(select(CampaignAgent.campaign_id)
                                          .where(CampaignAgent.user_id == user.id)))
    return list(session.scalars(stmt))


def visible_campaign(session: Session, user: User, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not (user.role.can_manage or on_team(session, campaign_id, user.id)):
        raise NotFound()
    return campaign


# -- why nothing is dialled -------------------------------------------------------------------

IDLE_REASONS = ("not_running", "not_scheduled_yet", "schedule_over", "no_leads",
                "waiting_retries", "outside_hours", "all_capped", "no_agent_ready")


def next_opening(campaign: Campaign, time_zone: str, now: dt.datetime, holidays,
                 days: int = 15) -> dt.datetime | None:
    """When the campaign's calling hours next begin in `time_zone` (UTC), holidays skipped
    when the campaign skips them; None for an unknown zone or none within `days`."""
    try:
        zone = ZoneInfo(time_zone)
    except (ValueError, KeyError, OSError):
        return None
    local = now.astimezone(zone)
    hour, minute = (int(p) for p in campaign.hours_start.split(":"))
    for offset in range(days):
        day = local.date() + dt.timedelta(days=offset)
        if campaign.skip_holidays and day in holidays:
            continue
        start = dt.datetime.combine(day, dt.time(hour, minute), zone)
        if start > local:
            return start.astimezone(dt.timezone.utc)
    return None


def why_idle(session: Session, campaign_id: int, *, clock=SYSTEM_CLOCK) -> dict | None:
    """Why the dialer places no call for this campaign now, or None when it may: a dict with
    `reason` (IDLE_REASONS) and, where it helps, `at` (UTC: when it changes). The checks run in
    the order a manager would ask them; the dialer itself applies the same rules
    (models.dialer.dialing.pick_leads)."""
    campaign = _campaign(session, campaign_id)
    now = clock.now()
    if campaign.status != "running":
        return dict(reason="not_running")
    if campaign.schedule_start_at is not None and now < campaign.schedule_start_at:
        return dict(reason="not_scheduled_yet", at=campaign.schedule_start_at)
    if campaign.schedule_end_at is not None and now >= campaign.schedule_end_at:
        return dict(reason="schedule_over")
    lead = CampaignLead
    queued = and_(lead.campaign_id == campaign_id, lead.status == "queued", lead.number != "",
                  Customer.number_status.not_in(DEAD_OUTCOMES))
    waiting = select(Customer.time_zone, func.min(lead.next_attempt_at),
                     _count_if(or_(lead.next_attempt_at.is_(None), lead.next_attempt_at <= now))) \
        .join(Customer, Customer.id == lead.customer_id).where(queued).group_by(Customer.time_zone)
    zones = session.execute(waiting).all()
    if not zones:
        return dict(reason="no_leads")
    due_zones = [zone for zone, _next, due in zones if due]
    if not due_zones:
        return dict(reason="waiting_retries", at=min(n for _z, n, _d in zones if n is not None))
    holidays = holiday_dates(session) if campaign.skip_holidays else frozenset()
    open_zones = [z for z in due_zones if within_calling_hours(campaign, z, now, holidays=holidays)]
    if not open_zones:
        openings = [t for t in (next_opening(campaign, z, now, holidays) for z in due_zones) if t]
        return dict(reason="outside_hours", at=min(openings) if openings else None)
    dialable = session.scalar(
        select(func.count()).select_from(lead).join(Customer, Customer.id == lead.customer_id)
        .where(queued, or_(lead.next_attempt_at.is_(None), lead.next_attempt_at <= now),
               Customer.time_zone.in_(open_zones), compliant(campaign, now)))
    if not dialable:
        return dict(reason="all_capped")
    if campaign.mode not in ("preview", "voice") and not session.scalar(
            select(func.count()).where(AgentState.campaign_id == campaign_id,
                                       AgentState.state == "ready")):
        return dict(reason="no_agent_ready")
    return None
