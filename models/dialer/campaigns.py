"""Outbound campaigns (T4): their settings, team, status and the hopper of leads.

Only managers and admins create or change campaigns. Every field is checked before anything
changes. The number a lead dials is the customer's mobile (E.164), or the landline when there
is no mobile: a handset reaches the contact person, and a dead-number cause (关机, 空号) is about
the number that was dialled."""
from __future__ import annotations

import datetime as dt
import functools
import json
import re
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.company import company_tz
from models.crm.query import compile_query
from models.db import expire_loaded
from models.dialer.dnc import not_blocked
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.phones import normalize_phone
from models.schema import (
    OWNERSHIP_MODES,
    STAGES,
    Campaign,
    CampaignAgent,
    CampaignLead,
    Customer,
    DialAttempt,
    DoNotCall,
    User,
)
from models.schema.campaigns import DEAD_OUTCOMES, DIAL_MODES

FIELD_NAMES: dict[str, tuple[str, str]] = {
    "name": ("任务名称", "Name"), "mode": ("拨号模式", "Dial mode"),
    "filter_stage": ("客户阶段", "Stage"), "filter_ownership": ("操作权", "Ownership"),
    "filter_query": ("查询条件", "Query"), "caller_id": ("主叫号码", "Caller ID"),
    "ring_timeout_s": ("振铃超时（秒）", "Ring timeout (s)"),
    "abandon_cap_pct": ("放弃率上限（%）", "Abandon cap (%)"),
    "hours_start": ("呼叫开始时间", "Calling hours start"),
    "hours_end": ("呼叫结束时间", "Calling hours end"),
    "skip_holidays": ("节假日不呼叫", "No calls on holidays"),
    "max_attempts_24h": ("每号码 24 小时呼叫上限", "Attempts per number per 24 h"),
    "max_attempts_5min": ("每号码 5 分钟呼叫上限", "Attempts per number per 5 min"),
    "abandon_cooldown_h": ("放弃呼叫后的冷却时间（小时）", "Cool-down after an abandon (h)"),
    "retry_rules": ("重拨规则", "Retry rules"), "machine_action": ("答录机处理", "Answering machines"),
    "machine_message": ("答录机留言", "Machine message"),
    "abandon_message": ("放弃呼叫提示音", "Abandon message"),
    "schedule_start_at": ("计划开始时间", "Schedule start"),
    "schedule_end_at": ("计划结束时间", "Schedule end"), "agent_ids": ("坐席", "Agents"),
    "ivr_flow": ("语音流程", "Voice flow"), "max_lines": ("线路上限", "Line limit"),
}


class CampaignInvalid(InvalidValue):
    """Names the field in the reader's language."""

    def message(self, lang: str = "zh_CN") -> str:
        from models.messages import render
        return render(self.key, lang, names=FIELD_NAMES, **self.params)


MIN_RING_TIMEOUT_S = 15
MIN_ABANDON_COOLDOWN_H = 72
RETRYABLE_OUTCOMES = ("busy", "rejected", "noanswer", "absent", "noroute", "congestion", "machine",
                      "failed")
# "machine" applies only when machine_action == "retry"; "failed" (no usable cause) is ours.
DEFAULT_RETRY_RULES: dict[str, dict[str, int]] = {
    "busy": {"delay_min": 10, "max": 3},
    "rejected": {"delay_min": 240, "max": 2},    # declined: not again the same hour
    "noanswer": {"delay_min": 60, "max": 3},
    "absent": {"delay_min": 180, "max": 3},      # 关机 / unreachable: the phone comes back on
    "noroute": {"delay_min": 120, "max": 2},
    "congestion": {"delay_min": 5, "max": 3},
    "machine": {"delay_min": 120, "max": 2},
    "failed": {"delay_min": 30, "max": 2},
}
# message: wait for the beep, leave machine_message; retry: hang up, dial again by the retry
# rules; hangup: hang up, the lead is done
MACHINE_ACTIONS = ("message", "retry", "hangup")
MAX_LINES = 1000
DEFAULTS: dict[str, Any] = dict(
    mode="predictive", filter_stage=None, filter_ownership=None, filter_query=None,
    caller_id=None, ring_timeout_s=25, abandon_cap_pct=3.0, hours_start="08:00",
    hours_end="21:00", skip_holidays=True, max_attempts_24h=5, max_attempts_5min=3,
    abandon_cooldown_h=MIN_ABANDON_COOLDOWN_H, retry_rules=None, machine_action="message",
    machine_message=None, abandon_message=None, schedule_start_at=None, schedule_end_at=None,
    ivr_flow=None, max_lines=None)
HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d", re.ASCII)
PROMPT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
FLOW_NAME = re.compile(r"[a-z0-9_]{1,64}", re.ASCII)   # what the dialplan's FILTER lets through


# ---- field checks ------------------------------------------------------------------------------

def _bad(field: str) -> CampaignInvalid:
    return CampaignInvalid("campaign.bad_value", field=field)


def _int(field: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _bad(field)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _bad(field) from None
    if not lo <= number <= hi:
        raise CampaignInvalid("campaign.out_of_range", field=field, lo=lo, hi=hi)
    return number


def _choice(field: str, value: Any, allowed, *, optional: bool = False):
    if optional and value in (None, ""):
        return None
    if not isinstance(value, str) or value not in allowed:
        raise _bad(field)
    return value


def _name(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise CampaignInvalid("campaign.name_required")
    if len(text) > 100:
        raise CampaignInvalid("campaign.out_of_range", field="name", lo=1, hi=100)
    return text


def _query(session: Session, value: Any) -> dict | None:
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _bad("filter_query") from None
    compile_query(session, value)   # InvalidQuery when not allowed
    return value


def _caller_id(value: Any) -> str | None:
    if value in (None, ""):
        return None
    number = normalize_phone(value) if isinstance(value, str) else None
    if number is None:
        raise _bad("caller_id")
    return number


def _ring_timeout(value: Any) -> int:
    seconds = _int("ring_timeout_s", value, 0, 120)
    if seconds < MIN_RING_TIMEOUT_S:
        raise CampaignInvalid("campaign.ring_timeout_too_short", min=MIN_RING_TIMEOUT_S)
    return seconds


def _percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _bad("abandon_cap_pct")
    try:
        pct = float(str(value).strip())
    except ValueError:
        raise _bad("abandon_cap_pct") from None
    if not 0 <= pct <= 100:
        raise CampaignInvalid("campaign.out_of_range", field="abandon_cap_pct", lo=0, hi=100)
    return pct


def _hhmm(field: str, value: Any) -> str:
    if not isinstance(value, str) or not HHMM.fullmatch(value.strip()):
        raise CampaignInvalid("campaign.bad_hours")
    return value.strip()


def _bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "yes", "y", "0",
                                                            "false", "off", "no", "n", ""):
        return value.strip().lower() in ("1", "true", "on", "yes", "y")
    raise _bad(field)


def _prompt(field: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not PROMPT_NAME.fullmatch(value):
        raise _bad(field)
    return value


def _moment(session: Session, field: str, value: Any) -> dt.datetime | None:
    """An aware datetime; naive values and ISO strings are in the company's time zone."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise _bad(field) from None
    if not isinstance(value, dt.datetime):
        raise _bad(field)
    if value.tzinfo is None:
        value = value.replace(tzinfo=company_tz(session))
    return value.astimezone(dt.timezone.utc)


def clean_retry_rules(value: Any, base: dict | None = None) -> dict[str, dict[str, int]]:
    """`base` (the defaults when None) with the given outcomes' rules replaced."""
    rules = {k: dict(v) for k, v in (base or DEFAULT_RETRY_RULES).items()}
    if value in (None, ""):
        return rules
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _bad("retry_rules") from None
    if not isinstance(value, dict):
        raise _bad("retry_rules")
    for outcome, rule in value.items():
        if outcome not in RETRYABLE_OUTCOMES or not isinstance(rule, dict) \
                or set(rule) - {"delay_min", "max"}:
            raise CampaignInvalid("campaign.bad_retry_rules", outcome=str(outcome)[:20])
        merged = {**rules.get(outcome, {}), **rule}
        try:
            rules[outcome] = {"delay_min": _int("retry_rules", merged["delay_min"], 1, 7 * 24 * 60),
                              "max": _int("retry_rules", merged["max"], 0, 20)}
        except (CampaignInvalid, KeyError):
            raise CampaignInvalid("campaign.bad_retry_rules", outcome=outcome) from None
    return rules


def _clean(session: Session, field: str, value: Any, current: dict) -> Any:
    if field == "name":
        return _name(value)
    if field == "mode":
        return _choice(field, value, DIAL_MODES)
    if field == "filter_stage":
        return _choice(field, value, STAGES, optional=True)
    if field == "filter_ownership":
        return _choice(field, value, OWNERSHIP_MODES, optional=True)
    if field == "filter_query":
        return _query(session, value)
    if field == "caller_id":
        return _caller_id(value)
    if field == "ring_timeout_s":
        return _ring_timeout(value)
    if field == "abandon_cap_pct":
        return _percent(value)
    if field in ("hours_start", "hours_end"):
        return _hhmm(field, value)
    if field == "skip_holidays":
        return _bool(field, value)
    if field == "max_attempts_24h":
        return _int(field, value, 1, 100)
    if field == "max_attempts_5min":
        return _int(field, value, 1, 20)
    if field == "abandon_cooldown_h":
        return _int(field, value, MIN_ABANDON_COOLDOWN_H, 30 * 24)
    if field == "retry_rules":
        return clean_retry_rules(value, current.get("retry_rules"))
    if field == "machine_action":
        return _choice(field, value, MACHINE_ACTIONS)
    if field in ("machine_message", "abandon_message"):
        return _prompt(field, value)
    if field in ("schedule_start_at", "schedule_end_at"):
        return _moment(session, field, value)
    if field == "ivr_flow":
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not FLOW_NAME.fullmatch(value.strip()):
            raise _bad(field)
        return value.strip()
    if field == "max_lines":
        return None if value in (None, "") else _int(field, value, 1, MAX_LINES)
    raise CampaignInvalid("campaign.unknown_field", field=str(field)[:40])


def _check_together(values: dict) -> None:
    if values["hours_start"] >= values["hours_end"]:
        raise CampaignInvalid("campaign.bad_hours")
    if values["max_attempts_5min"] > values["max_attempts_24h"]:
        raise CampaignInvalid("campaign.short_cap_over_daily")
    start, end = values["schedule_start_at"], values["schedule_end_at"]
    if start is not None and end is not None and end <= start:
        raise CampaignInvalid("campaign.bad_schedule")
    if values["mode"] == "voice" and not (values["ivr_flow"] and values["max_lines"]):
        raise CampaignInvalid("campaign.voice_needs_flow")


def _clean_all(session: Session, fields: dict, current: dict) -> dict:
    cleaned = {field: _clean(session, field, value, current) for field, value in fields.items()}
    _check_together({**current, **cleaned})
    return cleaned


# ---- access ------------------------------------------------------------------------------------

def _manager(actor: User) -> None:
    if not actor.role.can_manage:
        raise PermissionDenied()


def get_campaign(session: Session, campaign_id: int, *, for_update: bool = False) -> Campaign:
    stmt = (select(Campaign).where(Campaign.id == campaign_id)
            .execution_options(populate_existing=True))
    if for_update:
        stmt = stmt.with_for_update()
    campaign = session.scalar(stmt)
    if campaign is None:
        raise NotFound("campaign.not_found")
    return campaign


def _flush_name(session: Session, name: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise CampaignInvalid("campaign.name_taken", name=name) from None


def _name_taken(session: Session, name: str, except_id: int | None = None) -> bool:
    stmt = select(Campaign.id).where(Campaign.name == name)
    if except_id is not None:
        stmt = stmt.where(Campaign.id != except_id)
    return session.scalar(stmt) is not None


def _current(campaign: Campaign) -> dict:
    return {field: getattr(campaign, field) for field in DEFAULTS}


# ---- campaigns ---------------------------------------------------------------------------------

def create_campaign(session: Session, actor: User, *, clock=SYSTEM_CLOCK, **fields) -> Campaign:
    """A draft campaign. `agent_ids` sets its team."""
    _manager(actor)
    agent_ids = fields.pop("agent_ids", None)
    if "name" not in fields:
        raise CampaignInvalid("campaign.name_required")
    base = {**DEFAULTS, "retry_rules": clean_retry_rules(None)}
    values = {**base, **_clean_all(session, fields, base)}
    if _name_taken(session, values["name"]):
        raise CampaignInvalid("campaign.name_taken", name=values["name"])
    team = _team_users(session, agent_ids) if agent_ids is not None else []
    campaign = Campaign(**values, status="draft", created_by_id=actor.id, created_at=clock.now())
    session.add(campaign)
    _flush_name(session, values["name"])
    session.add_all(CampaignAgent(campaign_id=campaign.id, user_id=uid) for uid in team)
    session.flush()
    return campaign


def update_campaign(session: Session, actor: User, campaign_id: int, *, clock=SYSTEM_CLOCK,
                    **fields) -> Campaign:
    """Change settings of a campaign that has not been stopped (a finished one may get a new
    filter before it is started again)."""
    _manager(actor)
    campaign = get_campaign(session, campaign_id, for_update=True)
    if campaign.status == "stopped":
        raise CampaignInvalid("campaign.closed")
    if "agent_ids" in fields:
        raise CampaignInvalid("campaign.unknown_field", field="agent_ids")
    values = _clean_all(session, fields, _current(campaign))
    if "name" in values and _name_taken(session, values["name"], campaign.id):
        raise CampaignInvalid("campaign.name_taken", name=values["name"])
    for field, value in values.items():
        setattr(campaign, field, value)
    _flush_name(session, campaign.name)
    return campaign


def _team_users(session: Session, user_ids: Any) -> list[int]:
    if not isinstance(user_ids, (list, tuple, set)) or \
            any(isinstance(u, bool) or not isinstance(u, int) for u in user_ids):
        raise _bad("agent_ids")
    wanted = sorted(set(user_ids))
    found = set(session.scalars(select(User.id).where(User.id.in_(wanted), User.active.is_(True))))
    if found != set(wanted):
        raise CampaignInvalid("campaign.bad_team")
    return wanted


def set_team(session: Session, actor: User, campaign_id: int, user_ids) -> list[int]:
    """Replace the campaign's agents."""
    _manager(actor)
    campaign = get_campaign(session, campaign_id)
    wanted = _team_users(session, user_ids)
    session.execute(delete(CampaignAgent).where(CampaignAgent.campaign_id == campaign.id,
                                                CampaignAgent.user_id.not_in(wanted)))
    have = set(team_ids(session, campaign.id))
    session.add_all(CampaignAgent(campaign_id=campaign.id, user_id=uid)
                    for uid in wanted if uid not in have)
    session.flush()
    return wanted


def team_ids(session: Session, campaign_id: int) -> list[int]:
    return list(session.scalars(select(CampaignAgent.user_id)
                                .where(CampaignAgent.campaign_id == campaign_id)
                                .order_by(CampaignAgent.user_id)))


TRANSITIONS = {"start": (("draft", "paused", "finished"), "running"),
               "pause": (("running",), "paused"),
               "stop": (("draft", "running", "paused", "finished"), "stopped")}


def change_status(session: Session, actor: User, campaign_id: int, action: str, *,
                  clock=SYSTEM_CLOCK) -> Campaign:
    """start | pause | stop. Starting needs a team (not a voice campaign) and a schedule that has not ended, and fills
    the hopper (refresh_leads); a finished campaign starts again only when the refresh left it
    a lead to dial. A stopped campaign stays stopped. (The dialer sets "finished":
    finish_if_done.)"""
    _manager(actor)
    if action not in TRANSITIONS:
        raise CampaignInvalid("campaign.bad_transition")
    campaign = get_campaign(session, campaign_id, for_update=True)
    sources, target = TRANSITIONS[action]
    if campaign.status not in sources:
        raise CampaignInvalid("campaign.bad_transition")
    now = clock.now()
    if action == "start":
        if campaign.mode != "voice" and not team_ids(session, campaign.id):
            raise CampaignInvalid("campaign.no_team")
        if campaign.schedule_end_at is not None and campaign.schedule_end_at <= now:
            raise CampaignInvalid("campaign.schedule_over")
    restart = campaign.status == "finished"
    savepoint = session.begin_nested()
    if action == "start":
        campaign.started_at = campaign.started_at or now
    if action == "stop":
        campaign.stopped_at = now
    campaign.status = target
    session.flush()
    if action == "start":
        refresh_leads(session, campaign, clock=clock)
        if restart and not session.scalar(select(can_still_dial(campaign.id))):
            savepoint.rollback()
            raise CampaignInvalid("campaign.nothing_to_dial")
    savepoint.commit()
    return campaign


def in_schedule(campaign: Campaign, now: dt.datetime) -> bool:
    return ((campaign.schedule_start_at is None or campaign.schedule_start_at <= now)
            and (campaign.schedule_end_at is None or now < campaign.schedule_end_at))


def active_campaigns(session: Session, *, clock=SYSTEM_CLOCK) -> list[Campaign]:
    """Running campaigns whose schedule covers now."""
    now = clock.now()
    stmt = (select(Campaign)
            .where(Campaign.status == "running",
                   or_(Campaign.schedule_start_at.is_(None), Campaign.schedule_start_at <= now),
                   or_(Campaign.schedule_end_at.is_(None), Campaign.schedule_end_at > now))
            .order_by(Campaign.id)
            .execution_options(populate_existing=True))
    return list(session.scalars(stmt))


# ---- leads -------------------------------------------------------------------------------------

def dial_number_sql() -> ColumnElement:
    return func.coalesce(func.nullif(Customer.mobile_e164, ""), func.nullif(Customer.phone_e164, ""))


def customer_filter(session: Session, campaign: Campaign) -> ColumnElement[bool]:
    """The campaign's customers: its stage (any stage when None; archived customers never),
    ownership and saved C8 query, ANDed."""
    parts = [Customer.stage == campaign.filter_stage if campaign.filter_stage
             else Customer.stage.is_not(None)]
    if campaign.filter_ownership:
        parts.append(Customer.ownership == campaign.filter_ownership)
    if campaign.filter_query:
        parts.append(compile_query(session, campaign.filter_query).whereclause)
    return and_(true(), *parts)


def refresh_leads(session: Session, campaign: Campaign, *, clock=SYSTEM_CLOCK) -> int:
    """Add the matching customers not yet in the campaign; returns how many dialable leads were
    added. Customers without a number, with a dead number or on the do-not-call list join as
    "dead" / "dnc" leads and are never dialled. Waiting leads ("queued": never dialled or due
    for a retry) whose customer no longer matches leave the hopper as "removed", history kept;
    a removed lead whose customer matches again is queued again. Queued leads follow their
    customer's current number, and become "dead" when it has none or it is dead."""
    number = dial_number_sql()
    matching = customer_filter(session, campaign)
    fresh = and_(matching,
                 ~exists().where(CampaignLead.campaign_id == campaign.id,
                                 CampaignLead.customer_id == Customer.id))
    dialable = and_(number.is_not(None), Customer.number_status.not_in(DEAD_OUTCOMES),
                    not_blocked(number, Customer.do_not_call))
    columns = ["campaign_id", "customer_id", "number", "status", "attempts"]

    def rows(status: ColumnElement, where: ColumnElement):
        return select(literal(campaign.id), Customer.id, func.coalesce(number, ""), status,
                      literal(0)).where(where).order_by(Customer.id)

    added = session.execute(insert(CampaignLead).from_select(
        columns, rows(literal("queued", String), and_(fresh, dialable))),
        execution_options={"preserve_rowcount": True}).rowcount
    blocked = ~not_blocked(number, Customer.do_not_call)
    status = case((and_(number.is_not(None), blocked), literal("dnc", String)),
                  else_=literal("dead", String))
    session.execute(insert(CampaignLead).from_select(columns, rows(status, and_(fresh, ~dialable))))

    _sync_removed(session, campaign, matching)

    mine = and_(CampaignLead.campaign_id == campaign.id, CampaignLead.status == "queued")
    gone = select(Customer.id).where(or_(number.is_(None),
                                         Customer.number_status.in_(DEAD_OUTCOMES)))
    session.execute(update(CampaignLead).where(mine, CampaignLead.customer_id.in_(gone))
                    .values(status="dead").execution_options(synchronize_session=False))
    current = (select(number).where(Customer.id == CampaignLead.customer_id)
               .scalar_subquery())
    session.execute(update(CampaignLead).where(mine, CampaignLead.number != current)
                    .values(number=current).execution_options(synchronize_session=False))
    session.flush()
    return added


def _sync_removed(session: Session, campaign: Campaign, matching: ColumnElement[bool]) -> None:
    """Queued leads whose customer left the filter -> "removed" (a lead with an open attempt is
    being dialled or previewed: left alone); removed leads whose customer is back -> "queued",
    due when they were before. Status only: attempts, outcome and due time are kept."""
    lead = CampaignLead
    matches = exists(select(Customer.id).where(Customer.id == lead.customer_id, matching))
    in_flight = exists().where(DialAttempt.lead_id == lead.id, DialAttempt.ended_at.is_(None))
    session.execute(update(lead)
                    .where(lead.campaign_id == campaign.id, lead.status == "queued", ~matches,
                           ~in_flight)
                    .values(status="removed").execution_options(synchronize_session=False))
    session.execute(update(lead)
                    .where(lead.campaign_id == campaign.id, lead.status == "removed", matches)
                    .values(status="queued").execution_options(synchronize_session=False))


# ---- the end of a campaign ---------------------------------------------------------------------

def can_still_dial(campaign_id) -> ColumnElement[bool]:
    """SQL: the campaign has an attempt in flight (or held in preview), a lead being dialled, or
    a queued lead whose number could be dialled some day: not dead, not on the do-not-call
    list. Hours, caps, cool-downs and retry delays only make a lead wait. ``campaign_id``: a
    value or a bind parameter."""
    lead = CampaignLead
    waiting = (select(lead.id).join(Customer, Customer.id == lead.customer_id)
               .where(lead.campaign_id == campaign_id, lead.status == "queued", lead.number != "",
                      Customer.number_status.not_in(DEAD_OUTCOMES),
                      not_blocked(lead.number, Customer.do_not_call)))
    dialling = select(lead.id).where(lead.campaign_id == campaign_id, lead.status == "dialling")
    in_flight = select(DialAttempt.id).where(DialAttempt.campaign_id == campaign_id,
                                             DialAttempt.ended_at.is_(None))
    return or_(exists(waiting), exists(dialling), exists(in_flight))


@functools.cache
def _finish_statement():
    """finish_if_done's conditional UPDATE, built once (the dialer runs it every few seconds)."""
    campaign_id = bindparam("f_campaign")
    return (update(Campaign.__table__)
            .where(Campaign.__table__.c.id == campaign_id, Campaign.__table__.c.status == "running",
                   ~can_still_dial(campaign_id))
            .values(status="finished"))


def finish_if_done(session: Session, campaign_id: int, *, clock=SYSTEM_CLOCK) -> bool:
    """A running campaign with nothing left to dial ever (can_still_dial) becomes "finished";
    its queued leads that can never be dialled are settled as "dnc" / "dead". True when it
    finished now. One conditional UPDATE, so a start, a pause or a dialer picking a lead at the
    same time wins or loses cleanly. A manager may start it again (change_status)."""
    finished = session.execute(_finish_statement(), {"f_campaign": campaign_id}).rowcount
    if finished != 1:
        return False
    blocked = select(Customer.id).where(Customer.do_not_call.is_(True))
    listed = select(DoNotCall.number)
    session.execute(update(CampaignLead)
                    .where(CampaignLead.campaign_id == campaign_id,
                           CampaignLead.status == "queued")
                    .values(status=case((or_(CampaignLead.customer_id.in_(blocked),
                                             CampaignLead.number.in_(listed)),
                                         literal("dnc", String)),
                                        else_=literal("dead", String)))
                    .execution_options(synchronize_session=False))
    expire_loaded(session, Campaign, campaign_id)
    session.flush()
    return True
