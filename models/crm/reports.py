"""C10 review and analysis: every aggregation, as plain rows.

Timestamps are stored in UTC; days, weeks (Monday first), months and years are the
company's calendar (models.company.company_tz). Counts of a user's own work (records written,
customers created, opportunities opened, orders sold) are that user's; lists and charts name
only customers the viewer may see.

Stage moves (`to_<stage>`, conversions) come from stage_history, so a past period never
changes: each promotion into target..closed counts once, in the period it was made, for the
user who made it (the C4 rules count for the user whose opportunity or order triggered
them); a move with no actor counts for the customer's current operators. Creations, imports
and demotions are not conversions. The team total counts each move once, shared customers'
too. Rows backfilled when the table was created (kind 'backfill': a customer's stage at that
time) count as before it existed: a customer whose stage changed after its creation counts,
under that stage, for its operators.

Call figures are not here: models.telephony.call_reports counts them from the call log, on
this module's calendar; the pages put both side by side."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Date, and_, case, cast, func, literal_column, or_, select
from sqlalchemy.orm import Session

from models.company import company_tz, day_bounds
from models.crm.visibility import visible_filter
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.schema import (
    STAGES,
    ContactRecord,
    Customer,
    CustomerOperator,
    Opportunity,
    Order,
    StageHistory,
    User,
)

PERIODS = ("day", "week", "month", "year")
REVIEW_PRESETS = ("today", "week", "month")
MAX_BUCKETS = {"day": 400, "week": 260, "month": 120, "year": 20}
CHART_FIELDS = ("source", "industry", "city")
STAGE_MOVE_STAGES = ("target", "potential", "opportunity", "closed")
METRICS = ("contact_records", "new_customers",
           *(f"to_{stage}" for stage in STAGE_MOVE_STAGES),
           "opportunities", "opportunity_amount", "orders", "order_value")
AMOUNT_METRICS = ("opportunity_amount", "order_value")
CENT = Decimal("0.01")
ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-/]+")


# -- who ------------------------------------------------------------------------------------

def may_review_others(viewer: User) -> bool:
    """Managers (and admins) review any user or the whole team; others only themselves."""
    return viewer.sees_all


@dataclass(frozen=True)
class Scope:
    kind: str                          # "me" | "team" | "user"
    user_ids: tuple[int, ...] | None   # None: everybody
    user: User | None = None

    @property
    def key(self) -> str:
        return f"user:{self.user.id}" if self.kind == "user" else self.kind


def resolve_scope(session: Session, viewer: User, scope: str | None) -> Scope:
    """'me' (default), 'team' or 'user:<id>'; the last two for managers only
    (a user may always name themselves)."""
    scope = scope or "me"
    if scope == "me":
        return Scope("me", (viewer.id,), viewer)
    if scope == "team":
        if not may_review_others(viewer):
            raise PermissionDenied()
        return Scope("team", None)
    kind, _, raw = scope.partition(":")
    if kind != "user" or not raw.isdigit():
        raise InvalidValue(field="scope")
    user_id = int(raw)
    if user_id == viewer.id:
        return Scope("me", (viewer.id,), viewer)
    if not may_review_others(viewer):
        raise PermissionDenied()
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user.not_found")
    return Scope("user", (user.id,), user)


def team_members(session: Session) -> list[User]:
    """Active users, for the scope picker."""
    return list(session.scalars(select(User).where(User.active.is_(True))
                                .order_by(User.full_name, User.id)))


def _of_scope(column, scope: Scope):
    return column.in_(scope.user_ids) if scope.user_ids is not None else None


def _where(*clauses):
    return [c for c in clauses if c is not None]


# -- calendar -------------------------------------------------------------------------------

def bucket_start(day: dt.date, period: str) -> dt.date:
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    raise InvalidValue(field="period")


def next_bucket(start: dt.date, period: str) -> dt.date:
    if period == "day":
        return start + dt.timedelta(days=1)
    if period == "week":
        return start + dt.timedelta(days=7)
    if period == "month":
        return (start + dt.timedelta(days=32)).replace(day=1)
    if period == "year":
        return start.replace(year=start.year + 1)
    raise InvalidValue(field="period")


def buckets(start: dt.date, end: dt.date, period: str) -> list[dt.date]:
    """First days of the periods that overlap [start, end] (both inclusive)."""
    out, current = [], bucket_start(start, period)
    while current <= end:
        out.append(current)
        current = next_bucket(current, period)
    return out


def today(session: Session, now: dt.datetime) -> dt.date:
    return now.astimezone(company_tz(session)).date()


def review_range(session: Session, preset: str, now: dt.datetime) -> tuple[dt.date, dt.date]:
    """today / this week / this month, up to today (inclusive)."""
    day = today(session, now)
    if preset == "today":
        return day, day
    if preset == "week":
        return bucket_start(day, "week"), day
    if preset == "month":
        return bucket_start(day, "month"), day
    raise InvalidValue(field="preset")


def default_report_range(session: Session, period: str,
                         now: dt.datetime) -> tuple[dt.date, dt.date]:
    """day: this month; week: the last 12 weeks; month: this year; year: the last 5 years."""
    day = today(session, now)
    if period == "day":
        return bucket_start(day, "month"), day
    if period == "week":
        return bucket_start(day, "week") - dt.timedelta(weeks=11), day
    if period == "month":
        return bucket_start(day, "year"), day
    if period == "year":
        return day.replace(year=day.year - 4, month=1, day=1), day
    raise InvalidValue(field="period")


def check_range(start: dt.date, end: dt.date, period: str = "day") -> None:
    if period not in PERIODS:
        raise InvalidValue(field="period")
    if end < start:
        raise InvalidValue(field="to")
    if len(buckets(start, end, period)) > MAX_BUCKETS[period]:
        raise InvalidValue(field="period")


def utc_range(session: Session, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in the company time zone, as UTC."""
    tz = company_tz(session)
    return day_bounds(tz, start)[0], day_bounds(tz, end)[1]


# -- grouping timestamps by company day -----------------------------------------------------

def _offset(tz: ZoneInfo, moment: dt.datetime) -> int:
    return int(moment.astimezone(tz).utcoffset().total_seconds())


def offset_segments(tz: ZoneInfo, lo: dt.datetime,
                    hi: dt.datetime) -> list[tuple[dt.datetime, dt.datetime, int]]:
    """[lo, hi) cut where the zone's UTC offset changes: (start, end, offset seconds)."""
    segments, start, current, probe = [], lo, _offset(tz, lo), lo
    second = dt.timedelta(seconds=1)
    while probe < hi:
        step = min(probe + dt.timedelta(hours=12), hi)
        last = step if step < hi else max(hi - second, probe)
        if _offset(tz, last) == current:
            probe = step
            continue
        a, b = probe, last               # offset(a) == current != offset(b)
        while b - a > second:
            mid = (a + (b - a) / 2).replace(microsecond=0)
            a, b = (mid, b) if _offset(tz, mid) == current else (a, mid)
        segments.append((start, b, current))
        start, current, probe = b, _offset(tz, b), b
    segments.append((start, hi, current))
    return segments


def _day_expressions(session: Session, tz: ZoneInfo, column, lo: dt.datetime, hi: dt.datetime):
    """(segment start, segment end, SQL expression of the company date of `column`).
    Zone names and offsets are inlined (never user text): GROUP BY must see the same SQL."""
    if not ZONE_NAME.fullmatch(tz.key):
        raise InvalidValue(field="company.time_zone")
    if session.get_bind().dialect.name == "postgresql":
        local = func.timezone(literal_column(f"'{tz.key}'"),
                              func.timezone(literal_column("'UTC'"), column))
        yield lo, hi, cast(local, Date)
        return
    for start, end, offset in offset_segments(tz, lo, hi):   # SQLite: fixed offset per segment
        yield start, end, func.date(column, literal_column(f"'{offset:+d} seconds'"))


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _by_company_day(session: Session, column, start: dt.date, end: dt.date, *, keys=(),
                    aggregates=(), where=(), from_=None) -> list[tuple]:
    """Rows (company date, *keys, *aggregates) of rows whose `column` lies in [start, end]."""
    tz = company_tz(session)
    lo, hi = utc_range(session, start, end)
    rows = []
    for seg_lo, seg_hi, day in _day_expressions(session, tz, column, lo, hi):
        stmt = (select(day, *keys, *aggregates)
                .where(column >= seg_lo, column < seg_hi, *where)
                .group_by(day, *keys))
        if from_ is not None:
            stmt = stmt.select_from(from_)
        rows.extend((_as_date(r[0]), *r[1:]) for r in session.execute(stmt))
    return rows


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


# -- work review ----------------------------------------------------------------------------

def review_counts(session: Session, scope: Scope, start: dt.date, end: dt.date) -> dict:
    """What the scope's users did in [start, end]: new customers, contact records,
    opportunities (and their amount), orders sold (and their value)."""
    lo, hi = utc_range(session, start, end)

    def count(model, column, user_column):
        return session.scalar(select(func.count()).select_from(model).where(
            column >= lo, column < hi, *_where(_of_scope(user_column, scope))))

    opp_count, opp_amount = session.execute(
        select(func.count(), func.coalesce(func.sum(Opportunity.amount), 0)).where(
            Opportunity.created_at >= lo, Opportunity.created_at < hi,
            *_where(_of_scope(Opportunity.owner_id, scope)))).one()
    order_count, order_value = session.execute(
        select(func.count(), func.coalesce(func.sum(Order.amount), 0)).where(
            Order.ordered_on >= start, Order.ordered_on <= end,
            *_where(_of_scope(Order.seller_id, scope)))).one()
    return dict(
        new_customers=count(Customer, Customer.created_at, Customer.created_by_id),
        contact_records=count(ContactRecord, ContactRecord.contacted_at, ContactRecord.user_id),
        opportunities=opp_count, opportunity_amount=_money(opp_amount),
        orders=order_count, order_value=_money(order_value))


def review_lists(session: Session, viewer: User, scope: Scope, start: dt.date, end: dt.date,
                 *, limit: int = 100) -> dict[str, list[dict]]:
    """The items behind review_counts, newest first, on customers the viewer may see."""
    lo, hi = utc_range(session, start, end)
    seen = visible_filter(viewer)
    creator = User.full_name.label("user_name")

    def rows(stmt):
        return [dict(r._mapping) for r in session.execute(stmt.limit(limit))]

    customers = rows(
        select(Customer.id.label("customer_id"), Customer.name.label("customer_name"),
               Customer.stage, Customer.ownership, Customer.created_at, creator)
        .outerjoin(User, User.id == Customer.created_by_id)
        .where(Customer.created_at >= lo, Customer.created_at < hi, seen,
               *_where(_of_scope(Customer.created_by_id, scope)))
        .order_by(Customer.created_at.desc(), Customer.id.desc()))
    records = rows(
        select(ContactRecord.id, ContactRecord.customer_id, Customer.name.label("customer_name"),
               ContactRecord.method, ContactRecord.content, ContactRecord.progress,
               ContactRecord.contacted_at, ContactRecord.next_callback_at, creator)
        .join(Customer, Customer.id == ContactRecord.customer_id)
        .outerjoin(User, User.id == ContactRecord.user_id)
        .where(ContactRecord.contacted_at >= lo, ContactRecord.contacted_at < hi, seen,
               *_where(_of_scope(ContactRecord.user_id, scope)))
        .order_by(ContactRecord.contacted_at.desc(), ContactRecord.id.desc()))
    opportunities = rows(
        select(Opportunity.id, Opportunity.customer_id, Customer.name.label("customer_name"),
               Opportunity.title, Opportunity.amount, Opportunity.state, Opportunity.created_at,
               creator)
        .join(Customer, Customer.id == Opportunity.customer_id)
        .outerjoin(User, User.id == Opportunity.owner_id)
        .where(Opportunity.created_at >= lo, Opportunity.created_at < hi, seen,
               *_where(_of_scope(Opportunity.owner_id, scope)))
        .order_by(Opportunity.created_at.desc(), Opportunity.id.desc()))
    orders = rows(
        select(Order.id, Order.number, Order.customer_id, Customer.name.label("customer_name"),
               Order.amount, Order.state, Order.payment_status, Order.ordered_on, creator)
        .join(Customer, Customer.id == Order.customer_id)
        .outerjoin(User, User.id == Order.seller_id)
        .where(Order.ordered_on >= start, Order.ordered_on <= end, seen,
               *_where(_of_scope(Order.seller_id, scope)))
        .order_by(Order.ordered_on.desc(), Order.id.desc()))
    return dict(customers=customers, records=records, opportunities=opportunities,
                orders=orders)


# -- charts ---------------------------------------------------------------------------------

def stage_funnel(session: Session, viewer: User) -> list[tuple[str, int]]:
    """(stage, customers) for the five stages then 'archive', counting what the viewer sees."""
    counts = dict(session.execute(select(Customer.stage, func.count())
                                  .where(visible_filter(viewer)).group_by(Customer.stage)).all())
    return [(stage, counts.get(stage, 0)) for stage in STAGES] + [("archive", counts.get(None, 0))]


def customers_by(session: Session, viewer: User, field_name: str, *,
                 limit: int = 10) -> list[tuple[str | None, int]]:
    """The `limit` most frequent values of source / industry / city among the customers the
    viewer sees (most first, then by value); customers without a value last, as None."""
    if field_name not in CHART_FIELDS:
        raise InvalidValue(field=field_name)
    column = getattr(Customer, field_name)
    blank, counted = 0, []
    for value, count in session.execute(select(column, func.count())
                                        .where(visible_filter(viewer)).group_by(column)):
        if value is None or not value.strip():
            blank += count
        else:
            counted.append((value, count))
    counted.sort(key=lambda vc: (-vc[1], vc[0]))
    return counted[:limit] + ([(None, blank)] if blank else [])


@dataclass
class WeekRow:
    week: dt.date                      # Monday
    opportunities: int = 0
    opportunity_amount: Decimal = Decimal("0.00")
    orders: int = 0
    order_value: Decimal = Decimal("0.00")


def weekly_sales(session: Session, viewer: User, now: dt.datetime, *,
                 weeks: int = 12) -> list[WeekRow]:
    """Opportunities opened and orders placed per week, the last `weeks` weeks up to this one,
    on customers the viewer sees."""
    end = today(session, now)
    first = bucket_start(end, "week") - dt.timedelta(weeks=weeks - 1)
    table = {week: WeekRow(week) for week in buckets(first, end, "week")}
    seen = visible_filter(viewer)
    for day, count, amount in _by_company_day(
            session, Opportunity.created_at, first, end,
            aggregates=(func.count(), func.coalesce(func.sum(Opportunity.amount), 0)),
            where=(seen,), from_=Opportunity.__table__.join(
                Customer.__table__, Customer.id == Opportunity.customer_id)):
        row = table[bucket_start(day, "week")]
        row.opportunities += count
        row.opportunity_amount += _money(amount)
    for day, count, amount in session.execute(
            select(Order.ordered_on, func.count(), func.coalesce(func.sum(Order.amount), 0))
            .join(Customer, Customer.id == Order.customer_id)
            .where(Order.ordered_on >= first, Order.ordered_on <= end, seen)
            .group_by(Order.ordered_on)):
        row = table[bucket_start(_as_date(day), "week")]
        row.orders += count
        row.order_value += _money(amount)
    return list(table.values())


# -- reports --------------------------------------------------------------------------------

@dataclass
class ReportRow:
    bucket: dt.date | None             # first day of the period; None: the whole range
    user_id: int | None                # None: the team total
    user_name: str | None
    values: dict = field(default_factory=lambda: _zero())


def _zero() -> dict:
    return {m: (Decimal("0.00") if m in AMOUNT_METRICS else 0) for m in METRICS}


def report(session: Session, scope: Scope, period: str, start: dt.date,
           end: dt.date) -> list[ReportRow]:
    """Per period (day/week/month/year) and agent: contact records, new customers, stage moves,
    opportunities and their amount, orders sold and their value.

    Rows come ordered by period, then agent name; a team scope adds a team-total row per
    period (user_id None). The last rows (bucket None) total the whole range."""
    check_range(start, end, period)
    cells: dict[tuple[dt.date, int | None], dict] = {}
    team_moves: dict[dt.date, dict] = {}

    def add(day, user_id, metric, value):
        cell = cells.setdefault((bucket_start(day, period), user_id), _zero())
        cell[metric] += _money(value) if metric in AMOUNT_METRICS else value

    for day, uid, count in _by_company_day(
            session, ContactRecord.contacted_at, start, end, keys=(ContactRecord.user_id,),
            aggregates=(func.count(),), where=_where(_of_scope(ContactRecord.user_id, scope))):
        add(day, uid, "contact_records", count)
    for day, uid, count in _by_company_day(
            session, Customer.created_at, start, end, keys=(Customer.created_by_id,),
            aggregates=(func.count(),), where=_where(_of_scope(Customer.created_by_id, scope))):
        add(day, uid, "new_customers", count)
    for day, uid, count, amount in _by_company_day(
            session, Opportunity.created_at, start, end, keys=(Opportunity.owner_id,),
            aggregates=(func.count(), func.coalesce(func.sum(Opportunity.amount), 0)),
            where=_where(_of_scope(Opportunity.owner_id, scope))):
        add(day, uid, "opportunities", count)
        add(day, uid, "opportunity_amount", amount)
    for day, uid, count, amount in session.execute(
            select(Order.ordered_on, Order.seller_id, func.count(),
                   func.coalesce(func.sum(Order.amount), 0))
            .where(Order.ordered_on >= start, Order.ordered_on <= end,
                   *_where(_of_scope(Order.seller_id, scope)))
            .group_by(Order.ordered_on, Order.seller_id)):
        add(_as_date(day), uid, "orders", count)
        add(_as_date(day), uid, "order_value", amount)

    moves = StageHistory.__table__.join(Customer.__table__,
                                        Customer.id == StageHistory.customer_id)
    for day, uid, stage, count in _by_company_day(        # moves made by a user
            session, StageHistory.at, start, end,
            keys=(StageHistory.actor_id, StageHistory.to_stage), aggregates=(func.count(),),
            where=_where(_conversion(), StageHistory.actor_id.is_not(None),
                         _of_scope(StageHistory.actor_id, scope)), from_=moves):
        add(day, uid, f"to_{stage}", count)
    for day, uid, stage, count in _by_company_day(        # the others: the operators'
            session, StageHistory.at, start, end,
            keys=(CustomerOperator.user_id, StageHistory.to_stage), aggregates=(func.count(),),
            where=_where(_conversion(), StageHistory.actor_id.is_(None),
                         _of_scope(CustomerOperator.user_id, scope)),
            from_=moves.join(CustomerOperator.__table__,
                             CustomerOperator.customer_id == StageHistory.customer_id)):
        add(day, uid, f"to_{stage}", count)
    if scope.kind == "team":           # the team counts each move once, shared ones too
        for day, stage, count in _by_company_day(
                session, StageHistory.at, start, end, keys=(StageHistory.to_stage,),
                aggregates=(func.count(),), where=(_conversion(),), from_=moves):
            moves = team_moves.setdefault(bucket_start(day, period), {})
            moves[f"to_{stage}"] = moves.get(f"to_{stage}", 0) + count
    return _assemble(session, scope, period, start, end, cells, team_moves)


def _stage_rank(column):
    return case({stage: i + 1 for i, stage in enumerate(STAGES)}, value=column, else_=0)


def _conversion():
    """The stage_history rows that count as a conversion (on stage_history join customers):
    promotions into target..closed, and backfilled stages reached after creation."""
    h = StageHistory
    return and_(h.to_stage.in_(STAGE_MOVE_STAGES),
                or_(and_(h.from_stage.is_not(None),
                         _stage_rank(h.to_stage) > _stage_rank(h.from_stage)),
                    and_(h.kind == "backfill", h.at > Customer.created_at)))


def _assemble(session, scope, period, start, end, cells, team_moves) -> list[ReportRow]:
    names = dict(session.execute(select(User.id, User.full_name)).all())
    if scope.user_ids is not None:
        wanted = list(scope.user_ids)
    else:
        wanted = sorted({uid for (_b, uid) in cells if uid is not None},
                        key=lambda uid: (names.get(uid, ""), uid))
    move_metrics = [f"to_{stage}" for stage in STAGE_MOVE_STAGES]
    rows, totals = [], {uid: _zero() for uid in wanted}
    grand = _zero()
    for bucket in buckets(start, end, period):
        for uid in wanted:
            values = cells.get((bucket, uid))
            if values is None and scope.kind == "team":
                continue               # a team report lists the agents who did something
            values = values or _zero()
            rows.append(ReportRow(bucket, uid, names.get(uid), values))
            _accumulate(totals[uid], values)
        if scope.kind == "team":
            total = _zero()
            for (b, _uid), values in cells.items():
                if b == bucket:
                    _accumulate(total, values)
            for metric in move_metrics:
                total[metric] = team_moves.get(bucket, {}).get(metric, 0)
            rows.append(ReportRow(bucket, None, None, total))
            _accumulate(grand, total)
    for uid in wanted:
        rows.append(ReportRow(None, uid, names.get(uid), totals[uid]))
    if scope.kind == "team":
        rows.append(ReportRow(None, None, None, grand))
    return rows


def _accumulate(into: dict, values: dict) -> None:
    for metric in METRICS:
        into[metric] += values[metric]
