"""The call figures (issue 13, C10): the one place that counts calls for the work review, the
reports, the charts, the daily call-volume report and the saved report templates.

What counts, from the call log (``calls``), for the call's agent (``calls.user_id``):
  calls made         outgoing calls: dialer calls put through to the agent, the agent's
                     hand-dialled (manual) calls and click-to-call calls, answered or not;
  calls answered     inbound calls the agent answered (an abandoned or IVR-only call has no
                     agent and counts for nobody);
  talk time          answer to hang-up of those calls (holds included);
  hold time          the part of the talk time the customer spent on hold;
  wrap-up time       the agent's wrap-up spans (agent_state_log, state wrap_up), which the
                     dialer measures; other calls have no measured wrap-up;
  handle time        average per handled (answered) call: (talk time + wrap-up time) / handled;
  customers reached  distinct customers of the answered calls;
  contact records    records the agent wrote (not tied to a campaign: none on campaign rows);
  dispositions       the calls' wrap-up dispositions by code; successes: those whose code
                     counts as a success (``success_codes``).
Internal calls (agent to agent) count nowhere. A call counts on the company day (week, month,
year: models.crm.reports' calendar) it started.

A team is a campaign's team (campaign_agents): a team's figures are its members' calls, all of
them; an agent on two teams counts in both, once in the grand total.

Buckets: the UTC bounds of each period are computed here in Python from the company's time zone
and a CASE over them names each row's bucket, so the one SQL (GROUP BY bucket) is right on
SQLite and PostgreSQL and across daylight-saving changes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from models.company import company_tz, day_bounds
from models.crm.reports import buckets, check_range, may_review_others
from models.errors import InvalidValue
from models.schema import AgentStateLog, Campaign, CampaignAgent, ContactRecord, User
from models.schema.calls import Call
from models.telephony.dispositions import success_codes

OUTGOING = ("dialer", "manual", "click_to_call")
DIRECTIONS = ("inbound", *OUTGOING)
GROUPS = ("agent", "team", "campaign")
PERIODS = ("day", "week", "month", "year")
MEASURES = ("calls_made", "calls_answered", "total_calls", "talk_seconds", "hold_seconds",
            "wrap_up_seconds", "handle_seconds", "customers_reached", "contact_records",
            "successes", "dispositions")
DURATIONS = ("talk_seconds", "hold_seconds", "wrap_up_seconds", "handle_seconds")
NO_CAMPAIGN = 0                    # the campaign key of calls outside any campaign


def visible_user_ids(viewer: User) -> tuple[int, ...] | None:
    """Whose figures the viewer may see: managers everybody's (None), others their own."""
    return None if may_review_others(viewer) else (viewer.id,)


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date                                  # inclusive
    user_ids: tuple[int, ...] | None = None       # None: every agent
    team_id: int | None = None                    # a campaign whose team's members count
    campaign_id: int | None = None
    directions: tuple[str, ...] | None = None     # None: all of DIRECTIONS

    def check(self, period: str | None = "day") -> None:
        check_range(self.start, self.end, period or "year")
        if self.directions is not None and (
                not self.directions or not set(self.directions) <= set(DIRECTIONS)):
            raise InvalidValue(field="direction")


@dataclass
class Figures:
    calls_made: int = 0
    calls_answered: int = 0
    talk_seconds: int = 0
    hold_seconds: int = 0
    wrap_up_seconds: int = 0
    handled: int = 0
    customers_reached: int = 0
    contact_records: int | None = 0               # None: not measured (campaign rows)
    successes: int = 0
    dispositions: dict[str, int] = field(default_factory=dict)

    @property
    def total_calls(self) -> int:
        return self.calls_made + self.calls_answered

    @property
    def handle_seconds(self) -> int:
        """Average handle time: (talk + wrap-up) / handled calls; 0 without a handled call."""
        if not self.handled:
            return 0
        return round((self.talk_seconds + self.wrap_up_seconds) / self.handled)

    def value(self, measure: str):
        if measure not in MEASURES:
            raise InvalidValue(field="columns")
        return getattr(self, measure)


@dataclass
class Row:
    key: int | None          # user id (agent), campaign id (team, campaign); None: grand total
    name: str | None
    bucket: dt.date | None   # first day of the period; None: the whole range
    figures: Figures


# -- buckets --------------------------------------------------------------------------------

def _edges(session: Session, starts: list[dt.date], end: dt.date) -> list[dt.datetime]:
    """UTC instants where each bucket begins, then where the last one ends."""
    tz = company_tz(session)
    return [day_bounds(tz, day)[0] for day in starts] + [day_bounds(tz, end)[1]]


def _bucket(column, edges: list[dt.datetime]):
    """The index of the bucket `column` falls in (rows are kept inside the edges)."""
    if len(edges) == 2:
        return literal(0)
    return case(*((column < edge, i) for i, edge in enumerate(edges[1:-1])),
                else_=len(edges) - 2)


def _team_members(team_id: int):
    return select(CampaignAgent.user_id).where(CampaignAgent.campaign_id == team_id)


def _duration(session: Session, later, earlier):
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


# -- the queries ----------------------------------------------------------------------------
# Each returns {(key, bucket index): values}; `group` None puts everything under key None.

def _grouped(filters, base, user_col, campaign_col, group, stamp, edges, columns, where):
    """SELECT bucket, key, *columns FROM base WHERE ... as a subquery, its key per `group`."""
    if group == "agent":
        key = user_col
    elif group == "team":
        base = base.join(CampaignAgent.__table__, CampaignAgent.user_id == user_col)
        key = CampaignAgent.campaign_id
        if filters.team_id is not None:
            where = [*where, CampaignAgent.campaign_id == filters.team_id]
    elif group == "campaign":
        key = func.coalesce(campaign_col, NO_CAMPAIGN)
    else:
        key = literal(None)
    return (select(_bucket(stamp, edges).label("b"), key.label("k"), *columns)
            .select_from(base)
            .where(stamp >= edges[0], stamp < edges[-1], *where)
            .subquery())


def _call_where(filters: Filters):
    directions = filters.directions or DIRECTIONS
    outgoing = [d for d in directions if d in OUTGOING]
    counted = []
    if outgoing:
        counted.append(Call.direction.in_(outgoing))
    if "inbound" in directions:
        counted.append(and_(Call.direction == "inbound", Call.answered_at.is_not(None)))
    where = [Call.user_id.is_not(None), counted[0] if len(counted) == 1 else
             (counted[0] | counted[1])]
    if filters.user_ids is not None:
        where.append(Call.user_id.in_(filters.user_ids))
    if filters.team_id is not None:
        where.append(Call.user_id.in_(_team_members(filters.team_id)))
    if filters.campaign_id is not None:
        where.append(Call.campaign_id == filters.campaign_id)
    return where


def _calls(session, filters, group, edges) -> dict:
    sub = _grouped(filters, Call.__table__, Call.user_id, Call.campaign_id, group,
                   Call.started_at, edges,
                   (Call.direction, Call.answered_at, Call.customer_id, Call.talk_seconds,
                    Call.hold_seconds, Call.disposition), _call_where(filters))
    c = sub.c
    answered = c.answered_at.is_not(None)
    one = lambda cond: func.coalesce(func.sum(case((cond, 1), else_=0)), 0)  # noqa: E731
    stmt = (select(c.b, c.k, one(c.direction.in_(OUTGOING)), one(c.direction == "inbound"),
                   func.coalesce(func.sum(c.talk_seconds), 0),
                   func.coalesce(func.sum(c.hold_seconds), 0), one(answered),
                   func.count(func.distinct(case((answered, c.customer_id)))),
                   one(c.disposition.in_(sorted(success_codes(session)))))
            .group_by(c.b, c.k))
    out = {}
    for b, k, made, inbound, talk, hold, handled, reached, successes in session.execute(stmt):
        out[(k, b)] = Figures(calls_made=int(made), calls_answered=int(inbound),
                              talk_seconds=round(float(talk)), hold_seconds=round(float(hold)),
                              handled=int(handled), customers_reached=int(reached),
                              successes=int(successes))
    sub = _grouped(filters, Call.__table__, Call.user_id, Call.campaign_id, group,
                   Call.started_at, edges, (Call.disposition,),
                   [*_call_where(filters), Call.disposition.is_not(None)])
    for b, k, code, n in session.execute(
            select(sub.c.b, sub.c.k, sub.c.disposition, func.count())
            .group_by(sub.c.b, sub.c.k, sub.c.disposition)):
        out.setdefault((k, b), Figures()).dispositions[code] = int(n)
    return out


def _wrap_ups(session, filters, group, edges) -> dict:
    """Seconds of ended wrap-up spans (the dialer's; see the module's docstring)."""
    if filters.directions is not None and "dialer" not in filters.directions:
        return {}
    log = AgentStateLog
    where = [log.state == "wrap_up", log.ended_at.is_not(None)]
    if filters.user_ids is not None:
        where.append(log.user_id.in_(filters.user_ids))
    if filters.team_id is not None:
        where.append(log.user_id.in_(_team_members(filters.team_id)))
    if filters.campaign_id is not None:
        where.append(log.campaign_id == filters.campaign_id)
    sub = _grouped(filters, log.__table__, log.user_id, log.campaign_id, group, log.started_at,
                   edges, (_duration(session, log.ended_at, log.started_at).label("s"),), where)
    return {(k, b): round(float(s or 0)) for b, k, s in session.execute(
        select(sub.c.b, sub.c.k, func.sum(sub.c.s)).group_by(sub.c.b, sub.c.k))}


def _contact_records(session, filters, group, edges) -> dict | None:
    """Records the agents wrote; None where they cannot be told apart (per campaign)."""
    if group == "campaign" or filters.campaign_id is not None:
        return None
    rec = ContactRecord
    where = [rec.user_id.is_not(None)]
    if filters.user_ids is not None:
        where.append(rec.user_id.in_(filters.user_ids))
    if filters.team_id is not None:
        where.append(rec.user_id.in_(_team_members(filters.team_id)))
    sub = _grouped(filters, rec.__table__, rec.user_id, None, group, rec.contacted_at, edges,
                   (rec.id,), where)
    return {(k, b): int(n) for b, k, n in session.execute(
        select(sub.c.b, sub.c.k, func.count()).group_by(sub.c.b, sub.c.k))}


def _figures(session, filters, group, edges) -> dict:
    out = _calls(session, filters, group, edges)
    for cell, seconds in _wrap_ups(session, filters, group, edges).items():
        out.setdefault(cell, Figures()).wrap_up_seconds = seconds
    records = _contact_records(session, filters, group, edges)
    if records is None:
        for figures in out.values():
            figures.contact_records = None
    else:
        for cell, n in records.items():
            out.setdefault(cell, Figures()).contact_records = n
    return out


def _names(session, group, keys) -> dict:
    keys = [k for k in keys if k]
    if not keys:
        return {}
    if group == "agent":
        return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(keys))).all())
    return dict(session.execute(select(Campaign.id, Campaign.name)
                                .where(Campaign.id.in_(keys))).all())


def call_figures(session: Session, filters: Filters, *, group: str | None = "agent",
                 period: str | None = "day", totals: bool = True) -> list[Row]:
    """The figures per `group` (agent / team / campaign / None: everyone together) and per
    `period` (day / week / month / year / None: the whole range).

    Rows with something in them, by period then name; with `totals`, then one row per group
    key over the whole range (bucket None) and the grand total (key None, bucket None)."""
    if group is not None and group not in GROUPS:
        raise InvalidValue(field="rows")
    if period is not None and period not in PERIODS:
        raise InvalidValue(field="period")
    filters.check(period)
    whole = _edges(session, [filters.start], filters.end)
    cells: dict = {}
    if period is not None:
        starts = buckets(filters.start, filters.end, period)
        starts[0] = filters.start
        for (k, b), figures in _figures(session, filters, group,
                                        _edges(session, starts, filters.end)).items():
            cells[(k, buckets(filters.start, filters.end, period)[b])] = figures
    if totals or period is None:
        if group is not None:
            for (k, _b), figures in _figures(session, filters, group, whole).items():
                cells[(k, None)] = figures
        if totals:
            grand = _figures(session, filters, None, whole).get((None, 0), Figures())
            if group == "campaign":
                grand.contact_records = None
            cells[(None, None)] = grand
    names = _names(session, group, {k for k, _ in cells})

    def order(cell):
        k, b = cell
        return (b is None, b or dt.date.min, k is None, names.get(k) or "", k or 0)
    return [Row(k, names.get(k), b, cells[(k, b)]) for k, b in sorted(cells, key=order)]


def campaign_choices(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every campaign: the teams and campaigns a report can name."""
    return [tuple(r) for r in session.execute(select(Campaign.id, Campaign.name)
                                              .order_by(Campaign.name, Campaign.id))]


def totals_for(session: Session, filters: Filters) -> Figures:
    """Everything in `filters` together (the work review's cards)."""
    filters.check(None)
    return _figures(session, filters, None, _edges(session, [filters.start], filters.end)).get(
        (None, 0), Figures())
