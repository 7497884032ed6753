"""The dialer's rules: which leads to dial now (the hopper), how a call ended, what follows.

Two dialer processes may pick from one campaign at once. The database keeps them apart: on
PostgreSQL the candidate leads are locked with FOR UPDATE SKIP LOCKED, on SQLite every
transaction is BEGIN IMMEDIATE; a lead goes queued -> dialling only through a conditional
UPDATE; and the partial unique index uq_dial_attempts_open_number refuses a second open attempt
for a number (the insert runs in a savepoint and that lead is skipped). That index also makes the
per-number caps exact: they are counted again once our attempt is in. Attempts are inserted in
number order so two pickers waiting on each other's numbers cannot deadlock; a picker that
meets a deadlock all the same (PostgreSQL: its new number's index entry waits on an attempt
another transaction is closing, which waits on a lead this picker holds) gives up that
savepoint as it does on a conflict, and the leads wait for the next pick."""
from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Collection
from zoneinfo import ZoneInfo

from sqlalchemy import (ColumnElement, Integer, Select, and_, bindparam, delete, exists, func, insert,
                        select, union_all, update)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from models.clock import SYSTEM_CLOCK
from models.db import expire_loaded, is_deadlock
from models.dialer.campaigns import DEFAULT_RETRY_RULES, in_schedule
from models.dialer import early_media
from models.dialer.dnc import mark_dead, not_blocked, on_list
from models.errors import NotFound
from models.holidays import CN_PUBLIC_HOLIDAYS, holiday_dates
from models.schema import Campaign, CampaignLead, Customer, DialAttempt, Recording
from models.schema.campaigns import DEAD_OUTCOMES
from models.dialer.voice_unreached import unreached_record
from models.telephony.calls import attempt_closed

ANSWERED = 4   # OriginateResponse Reason: AST_CONTROL_ANSWER
# Q.850 cause of the far side's Hangup (Asterisk's causes.h) → outcome. Over a SIP trunk the
# OriginateResponse Reason is 0 for every failure, so this is all there is to go on (measured:
# 404 → 1, 486 → 17, 408 → 18, 480 → 19, 603 → 21, 410 → 22, 484 → 28, 503 → 34).
# Causes not listed (16 normal clearing, 31 normal unspecified, ...) leave it to the Reason.
CAUSE_OUTCOMES = {
    1: "unallocated",                    # 空号
    22: "changed",                       # number changed (410 Gone)
    28: "invalid",                       # 错号
    20: "absent",                        # 关机 / out of coverage
    17: "busy",
    21: "rejected",                      # declined on the handset (603): retried later
    18: "noanswer", 19: "noanswer",      # 408; 480 (even with Reason: Q.850;cause=20)
    2: "noroute", 3: "noroute", 5: "noroute",   # the network cannot reach that number
    # the network or a switch on the way is out of order or full: retried soon
    6: "congestion", 27: "congestion", 34: "congestion", 38: "congestion", 41: "congestion",
    42: "congestion", 44: "congestion", 47: "congestion", 58: "congestion", 102: "congestion",
    # refused for reasons of the trunk or the protocol, not of the number
    4: "failed", 29: "failed", 43: "failed", 50: "failed", 52: "failed", 54: "failed",
    57: "failed", 65: "failed", 66: "failed", 69: "failed", 79: "failed", 81: "failed",
    88: "failed", 95: "failed", 96: "failed", 97: "failed", 98: "failed", 99: "failed",
    100: "failed", 101: "failed", 103: "failed", 111: "failed", 127: "failed",
}
# OriginateResponse Reason (the last control frame): 1 hung up, 2 ring, 3 ringing when the
# Timeout expired, 5 busy, 8 congestion; 0 = failed without any of those.
REASON_OUTCOMES = {1: "noanswer", 2: "noanswer", 3: "noanswer", 5: "busy", 8: "congestion"}
# Causes that mark a number dead for good unless a trunk says otherwise (settings.dead_causes).
DEFAULT_DEAD_CAUSES = frozenset({1, 22, 28})   # 空号, 改号, 错号; 关机 (20) is retried later


def classify(reason: int | None, cause: int | None, *, answered: bool,
             amd: str | None = None, dead_causes: Collection[int] = DEFAULT_DEAD_CAUSES) -> str:
    """The outcome of an attempt no agent was connected to. The far side's cause wins over the
    Reason, which is coarser (0 for 空号, 关机 and 错号 alike). `dead_causes`: the trunk's
    causes that mark the number dead; a dead-number cause the trunk does not trust is a
    "failed" (retried; the cause is kept on the attempt), and any other cause it lists is "dead"."""
    if answered or reason == ANSWERED:
        return "machine" if amd == "machine" else "answered"
    outcome = CAUSE_OUTCOMES.get(cause)
    if cause in dead_causes:
        return outcome if outcome in DEAD_OUTCOMES else "dead"
    if outcome in DEAD_OUTCOMES:
        return "failed"
    return outcome or REASON_OUTCOMES.get(reason, "failed")


def trunk_name(channel: str) -> str:
    """The endpoint an Originate channel goes out through: ``PJSIP/{number}@dialfunnel-trunk``
    and ``PJSIP/dialfunnel-trunk/sip:{number}@host`` → ``dialfunnel-trunk``."""
    first = channel.partition("/")[2].split("/")[0]
    return first.rpartition("@")[2]


def dead_causes_for(table: dict[str, Collection[int]], channel: str) -> frozenset[int]:
    """The dead-number causes of the trunk of `channel`: its own entry in `table`, else the
    ``*`` entry, else DEFAULT_DEAD_CAUSES."""
    causes = table.get(trunk_name(channel), table.get("*", DEFAULT_DEAD_CAUSES))
    return frozenset(int(c) for c in causes)


def within_calling_hours(campaign: Campaign, time_zone: str, now: dt.datetime, *,
                         holidays: Collection[dt.date] = CN_PUBLIC_HOLIDAYS) -> bool:
    """Whether `now` is inside the campaign's hours [start, end) in the customer's zone, on a
    day that is not a holiday there (when skip_holidays). An unknown zone is never in hours."""
    try:
        local = now.astimezone(ZoneInfo(time_zone))
    except (ValueError, KeyError, OSError):
        return False
    if campaign.skip_holidays and local.date() in holidays:
        return False
    return campaign.hours_start <= local.strftime("%H:%M") < campaign.hours_end


# ---- the hopper --------------------------------------------------------------------------------

_attempts = DialAttempt.__table__.c


def _attempts_since(number: ColumnElement, since) -> ColumnElement:
    return (select(func.count()).where(_attempts.number == number, _attempts.started_at > since)
            .scalar_subquery())


def _compliance(number: ColumnElement, *, since_24h, cap_24h, since_5m, cap_5m,
                cooldown=None) -> ColumnElement[bool]:
    """compliant()'s rule; the limits are values or bind parameters (_candidate_statement)."""
    a = _attempts
    parts = [number != "", Customer.number_status.not_in(DEAD_OUTCOMES),
             not_blocked(number, Customer.do_not_call),
             ~exists().where(a.number == number, a.ended_at.is_(None)),
             _attempts_since(number, since_24h) < cap_24h,
             _attempts_since(number, since_5m) < cap_5m]
    if cooldown is not None:
        parts.append(~exists().where(a.number == number, a.outcome == "abandoned",
                                     a.ended_at > cooldown))
    return and_(*parts)


def _limits(campaign: Campaign, now: dt.datetime) -> dict:
    """The values of the compliance rule's limits for `campaign` at `now`."""
    return dict(since_24h=now - dt.timedelta(hours=24), cap_24h=campaign.max_attempts_24h,
                since_5m=now - dt.timedelta(minutes=5), cap_5m=campaign.max_attempts_5min,
                cooldown=None if campaign.mode == "preview" else
                now - dt.timedelta(hours=campaign.abandon_cooldown_h))


def compliant(campaign: Campaign, now: dt.datetime) -> ColumnElement[bool]:
    """SQL over CampaignLead joined to Customer: the lead's number may be dialled now, hours
    apart (not on the do-not-call list, not dead, not open anywhere, under the per-number caps
    counted over every campaign, not in an abandon cool-down)."""
    return _compliance(CampaignLead.number, **_limits(campaign, now))


@functools.cache
def _candidate_statement(retry: bool, cooldown: bool, skip: bool, closed: bool) -> Select:
    """The candidate query with bind parameters, built once per shape: building and keying
    such a statement costs more than running it."""
    lead = CampaignLead
    limits = {name: bindparam(name) for name in ("since_24h", "cap_24h", "since_5m", "cap_5m")}
    due = lead.next_attempt_at <= bindparam("now") if retry else lead.next_attempt_at.is_(None)
    stmt = (select(lead.id, lead.customer_id, lead.number, Customer.time_zone)
            .join(Customer, Customer.id == lead.customer_id)
            .where(lead.campaign_id == bindparam("campaign_id"), lead.status == "queued", due,
                   _compliance(lead.number, **limits,
                               cooldown=bindparam("cooldown") if cooldown else None))
            .order_by(lead.next_attempt_at))
    if skip:
        stmt = stmt.where(lead.id.not_in(bindparam("skip_ids", expanding=True)))
    if closed:
        stmt = stmt.where(Customer.time_zone.not_in(bindparam("closed_zones", expanding=True)))
    return (stmt.limit(bindparam("limit", type_=Integer))
            .with_for_update(of=lead, skip_locked=True))


def _candidate_query(campaign: Campaign, now: dt.datetime, limit: int, *, retry: bool,
                     skip_ids: set[int], closed_zones: set[str]) -> tuple[Select, dict]:
    """(lead id, customer id, number, time zone) of due queued leads, locked (PostgreSQL):
    the statement and its parameters.
    Due retries by due time; fresh leads (never scheduled) in the pick index's order: id order
    on SQLite, physical order (about the order they joined) on PostgreSQL. Ordering fresh leads
    by id explicitly would make PostgreSQL sort them all, or walk the primary key."""
    limits = _limits(campaign, now)
    stmt = _candidate_statement(retry, limits["cooldown"] is not None, bool(skip_ids), bool(closed_zones))
    params = dict(limits, campaign_id=campaign.id, now=now, limit=limit,
                  skip_ids=sorted(skip_ids), closed_zones=sorted(closed_zones))
    return stmt, {key: value for key, value in params.items() if value is not None}


def _interleave(first: list, second: list) -> list:
    out = []
    for i in range(max(len(first), len(second))):
        out.extend(rows[i] for rows in (first, second) if i < len(rows))
    return out


def pick_leads(session: Session, campaign_id: int, n: int, *, dialer_id: str | None,
               clock=SYSTEM_CLOCK, servers: list[str] | None = None) -> list[DialAttempt]:
    """Open up to `n` attempts on due, compliant leads of a running campaign inside its
    schedule, due retries and fresh leads taken in turn. The caller commits at once.
    `servers`: the Asterisk server of each attempt, in the order they are returned (written
    with the insert, not updated after it)."""
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise NotFound("campaign.not_found")
    now = clock.now()
    if n <= 0 or campaign.status != "running" or not in_schedule(campaign, now):
        return []
    holidays = holiday_dates(session) if campaign.skip_holidays else frozenset()
    zone_open: dict[str, bool] = {}
    chosen, numbers, tried, closed = [], set(), set(), set()
    streams = [True, False]     # due retries, fresh leads; dropped once they run dry
    # Each round skips the rows seen before and the zones found closed, so it ends.
    while streams and len(chosen) < n:
        need = n - len(chosen)
        fetched = {retry: session.execute(*_candidate_query(
            campaign, now, need, retry=retry, skip_ids=tried, closed_zones=closed)).all()
            for retry in streams}
        streams = [retry for retry in streams if len(fetched[retry]) == need]
        rows = _interleave(fetched.get(True, []), fetched.get(False, []))
        for lead_id, customer_id, number, zone in rows:
            tried.add(lead_id)
            if zone not in zone_open:
                zone_open[zone] = within_calling_hours(campaign, zone, now, holidays=holidays)
            if not zone_open[zone]:
                closed.add(zone)
            elif number not in numbers and len(chosen) < n:
                numbers.add(number)
                chosen.append((lead_id, customer_id, number))
    server_of = {c[0]: server for c, server in zip(chosen, servers or ())}
    by_number = sorted(chosen, key=lambda c: c[2])
    opened = _open(session, campaign, by_number, dialer_id, now, server_of)
    if opened is None:     # another dialer got a lead or a number first: one at a time
        opened = [a for c in by_number
                  for a in _open(session, campaign, [c], dialer_id, now, server_of) or ()]
    by_lead = {a.lead_id: a for a in opened}
    return [by_lead[c[0]] for c in chosen if c[0] in by_lead]


_leads = CampaignLead.__table__.c
_TAKE_LEADS = (update(CampaignLead.__table__)        # queued -> dialling; built once, run in Core
               .where(_leads.id.in_(bindparam("lead_ids", expanding=True)), _leads.status == "queued")
               .values(status="dialling", attempts=_leads.attempts + 1, last_attempt_at=bindparam("now")))


def _open(session: Session, campaign: Campaign, chosen: list, dialer_id: str | None,
          now: dt.datetime, server_of: dict[int, str]) -> list[DialAttempt] | None:
    """queued -> dialling plus the open attempts for all of `chosen` in one savepoint, in
    number order; None (nothing done) when another dialer got one of the leads or numbers
    first, or used up a number's cap meanwhile."""
    if not chosen:
        return []
    savepoint = session.begin_nested()
    try:
        lead_ids = [c[0] for c in chosen]
        taken = session.execute(_TAKE_LEADS, {"lead_ids": lead_ids, "now": now})
        for lead_id in lead_ids:
            expire_loaded(session, CampaignLead, lead_id)
        if taken.rowcount != len(chosen):
            savepoint.rollback()
            return None
        rows = [dict(campaign_id=campaign.id, lead_id=lead_id, customer_id=customer_id, number=number,
                     channel_id=str(uuid.uuid4()), dialer_id=dialer_id, started_at=now, talk_seconds=0.0,
                     server=server_of.get(lead_id))
                for lead_id, customer_id, number in chosen]
        attempts = list(session.scalars(    # one INSERT for the batch, in number order
            insert(DialAttempt).returning(DialAttempt), rows))
        if _over_caps(session, campaign, [c[2] for c in chosen], now):
            savepoint.rollback()
            return None
    except (IntegrityError, OperationalError) as exc:
        if isinstance(exc, OperationalError) and not is_deadlock(exc):
            raise
        savepoint.rollback()
        return None
    savepoint.commit()
    return attempts


@functools.cache
def _over_caps_statement(cooldown: bool):
    a = _attempts
    numbers = bindparam("numbers", expanding=True)

    def over(since: str, cap: str):
        return (select(a.number).where(a.number.in_(numbers), a.started_at > bindparam(since))
                .group_by(a.number).having(func.count() > bindparam(cap)))
    checks = [over("since_24h", "cap_24h"), over("since_5m", "cap_5m")]
    if cooldown:
        checks.append(select(a.number).where(a.number.in_(numbers), a.outcome == "abandoned",
                                             a.ended_at > bindparam("cooldown")))
    return union_all(*checks).limit(1)


def _over_caps(session: Session, campaign: Campaign, numbers: list[str], now: dt.datetime) -> bool:
    """Counted again with our attempts inserted: the caps were read before the insert, and
    another dialer may have opened and closed one of these numbers in between. Once our open
    attempt is in, no other can be, so this second count is exact."""
    limits = _limits(campaign, now)
    stmt = _over_caps_statement(limits["cooldown"] is not None)
    params = {key: value for key, value in limits.items() if value is not None}
    return session.execute(stmt, dict(params, numbers=numbers)).first() is not None


# ---- call progress -----------------------------------------------------------------------------

def _attempt(session: Session, channel_id: str) -> DialAttempt | None:
    return session.scalar(select(DialAttempt).where(DialAttempt.channel_id == channel_id)
                          .execution_options(populate_existing=True))


_MARK_ANSWERED = (update(DialAttempt.__table__)
                  .where(_attempts.channel_id == bindparam("a_channel_id"), _attempts.answered_at.is_(None),
                         _attempts.ended_at.is_(None))
                  .values(answered_at=bindparam("now")))


def note_answered(session: Session, channel_id: str, *, clock=SYSTEM_CLOCK) -> bool:
    """The callee picked up (first answer wins, open attempts only): the row's update alone, for
    a caller that needs nothing back (the dialer, at each answer). True if this call set it."""
    return session.execute(_MARK_ANSWERED, {"a_channel_id": channel_id, "now": clock.now()}).rowcount == 1


def mark_answered(session: Session, channel_id: str, *, clock=SYSTEM_CLOCK) -> DialAttempt | None:
    """note_answered, then the attempt; None when no such open attempt."""
    note_answered(session, channel_id, clock=clock)
    attempt = _attempt(session, channel_id)
    return attempt if attempt is not None and attempt.ended_at is None else None


@functools.cache
def _closing_statement() -> Select:
    return (select(DialAttempt, Campaign, CampaignLead, Customer, on_list(DialAttempt.number))
            .outerjoin(Campaign, Campaign.id == DialAttempt.campaign_id)
            .outerjoin(CampaignLead, CampaignLead.id == DialAttempt.lead_id)
            .outerjoin(Customer, Customer.id == DialAttempt.customer_id)
            .where(DialAttempt.channel_id == bindparam("channel_id"))
            .options(lazyload(Customer.operator_links))
            .execution_options(populate_existing=True))


def _closing(session: Session, channel_id: str):
    """(attempt, campaign, lead, customer, number on the do-not-call list) in one query: all
    that closing the attempt reads. The customer's operators are not loaded (not needed)."""
    return session.execute(_closing_statement(), {"channel_id": channel_id}).first()


_CLOSE_ATTEMPT = (update(DialAttempt.__table__)
                  .where(_attempts.id == bindparam("attempt_id"), _attempts.ended_at.is_(None))
                  .values({name: bindparam(name) for name in
                           ("ended_at", "outcome", "reason", "cause", "amd", "talk_seconds",
                            "heard")}))
_OUTCOMES_SO_FAR = (select(func.count()).select_from(DialAttempt.__table__)
                    .where(_attempts.lead_id == bindparam("lead_id"),
                           _attempts.outcome == bindparam("outcome")))


def finish_attempt(session: Session, channel_id: str, *, reason: int | None = None,
                   cause: int | None = None, amd: str | None = None,
                   dead_causes: Collection[int] = DEFAULT_DEAD_CAUSES,
                   heard: str | None = None, ended_at: dt.datetime | None = None,
                   clock=SYSTEM_CLOCK) -> DialAttempt:
    """Close an attempt and move its lead on. Idempotent: a closed attempt is returned as it is.
    Connected to an agent = "answered"; answered with no agent = "abandoned" (or "machine");
    in a voice campaign a person who answered heard the flow: "answered", talk from the answer.
    `dead_causes`: the causes the trunk's carrier uses only for dead numbers (classify).
    `heard`: what the carrier's early media said (early_media.outcome_for); it wins over the
    causes of a call nobody answered. `ended_at`: when the call ended, if that was before now
    (recorded_end: an end the dialer did not hear). Runs for every call: one read, then only
    the writes."""
    row = _closing(session, channel_id)
    if row is None:
        raise NotFound("dial.attempt_not_found")
    attempt, campaign, lead, customer, listed = row
    if attempt.ended_at is not None:
        return attempt
    now = min(ended_at, clock.now()) if ended_at is not None else clock.now()
    reason = reason if reason is not None else attempt.reason
    cause = cause if cause is not None else attempt.cause
    amd = amd if amd is not None else attempt.amd
    voice = campaign is not None and campaign.mode == "voice"
    announced = None                         # the announcement that set the outcome
    if attempt.connected_at is not None:
        outcome = "answered"
        talk = max(0.0, (now - attempt.connected_at).total_seconds())
    else:
        outcome = classify(reason, cause, answered=attempt.answered_at is not None, amd=amd,
                           dead_causes=dead_causes)
        if attempt.answered_at is None and early_media.outcome_for(heard):
            outcome, announced = early_media.outcome_for(heard), heard
        if outcome == "answered" and not voice:   # a voice call's person heard the flow
            outcome = "abandoned"
        talk = 0.0
    if voice and attempt.answered_at is not None:    # the flow's (or the message's) time
        talk = max(0.0, (now - attempt.answered_at).total_seconds())
    values = dict(ended_at=now, outcome=outcome, reason=reason, cause=cause, amd=amd,
                  talk_seconds=talk, heard=announced)
    closed = session.execute(_CLOSE_ATTEMPT, dict(values, attempt_id=attempt.id))
    if closed.rowcount != 1:      # another process closed it first: as it left it
        session.refresh(attempt)
        return attempt
    for key, value in values.items():
        set_committed_value(attempt, key, value)
    _settle(session, attempt, campaign, lead, customer, listed, now)
    attempt_closed(session, attempt)
    if voice:
        unreached_record(session, attempt, campaign)
    return attempt


def _settle(session: Session, attempt: DialAttempt, campaign: Campaign | None,
            lead: CampaignLead | None, customer: Customer | None, listed: bool,
            now: dt.datetime) -> None:
    """The lead's next state by the campaign's rules; dead numbers marked on the customer.
    `listed`: the attempt's number is on the do-not-call list."""
    outcome = attempt.outcome
    if outcome in DEAD_OUTCOMES:
        mark_dead(session, attempt.number, outcome, customer)
    if lead is None:
        session.flush()
        return
    rules = {**DEFAULT_RETRY_RULES, **(campaign.retry_rules or {})}
    status, due = "queued", None
    if outcome in DEAD_OUTCOMES:
        status = "dead"
    elif outcome == "answered" or (outcome == "machine" and campaign.machine_action != "retry"):
        status = "done"
    elif outcome == "abandoned":
        due = now if campaign.mode == "preview" else \
            now + dt.timedelta(hours=campaign.abandon_cooldown_h)
    else:
        rule = rules.get(outcome, {"delay_min": 0, "max": 0})
        ended_so = session.scalar(_OUTCOMES_SO_FAR, {"lead_id": lead.id, "outcome": outcome})
        if ended_so <= rule["max"]:
            due = now + dt.timedelta(minutes=rule["delay_min"])
        else:
            status = "exhausted"
    if status == "queued" and (listed or (customer is not None and customer.do_not_call)):
        status, due = "dnc", None
    lead.last_outcome, lead.status, lead.next_attempt_at = outcome, status, due
    session.flush()


def recorded_end(session: Session, channel_id: str) -> dt.datetime | None:
    """When an answered call ended, as its recording tells (the dialplan's hangup handler stores
    it when the channel hangs up, recording_done); None if no recording of it is stored."""
    return session.scalar(select(Recording.created_at).where(Recording.uniqueid == channel_id))


def open_attempts(session: Session, *, dialer_id: str | None = None) -> list[DialAttempt]:
    """Attempts still in flight (for reconciling after a dialer restart)."""
    stmt = select(DialAttempt).where(DialAttempt.ended_at.is_(None)).order_by(DialAttempt.id)
    if dialer_id is not None:
        stmt = stmt.where(DialAttempt.dialer_id == dialer_id)
    return list(session.scalars(stmt.execution_options(populate_existing=True)))


def record_amd(session: Session, channel_id: str, label: str) -> DialAttempt | None:
    """What answering-machine detection heard on an answered call (human, machine, unsure);
    finish_attempt books a "machine" from it."""
    if label not in ("human", "machine", "unsure"):
        raise ValueError(f"unknown AMD label {label!r}")
    attempt = _attempt(session, channel_id)
    if attempt is None or attempt.ended_at is not None:
        return None
    attempt.amd = label
    session.flush()
    return attempt


def release_undialled(session: Session, attempt_id: int, due_at: dt.datetime) -> bool:
    """Delete a never-dialled attempt and queue its lead again, due at ``due_at``, with its
    attempt count as before. False when a dialer has it (or it is gone)."""
    lead_id = session.scalar(select(DialAttempt.lead_id).where(DialAttempt.id == attempt_id))
    deleted = session.execute(
        delete(DialAttempt)
        .where(DialAttempt.id == attempt_id, DialAttempt.dialer_id.is_(None),
               DialAttempt.ended_at.is_(None))
        .execution_options(synchronize_session="fetch")).rowcount
    if deleted != 1:
        return False
    if lead_id is not None:
        last = (select(func.max(DialAttempt.started_at))
                .where(DialAttempt.lead_id == lead_id).scalar_subquery())
        session.execute(
            update(CampaignLead)
            .where(CampaignLead.id == lead_id, CampaignLead.status == "dialling")
            .values(status="queued", attempts=CampaignLead.attempts - 1, last_attempt_at=last,
                    next_attempt_at=due_at)
            .execution_options(synchronize_session=False))
        expire_loaded(session, CampaignLead, lead_id)
    session.flush()
    return True
