"""The sales main line grid (C5): per stage, callbacks due now / next and contacted."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.company import company_tz, day_bounds
from models.errors import InvalidValue
from models.schema import STAGES, ContactRecord, Customer, CustomerOperator, User

PERIODS = ("day", "week", "month")
COLUMNS = ("callback_now", "callback_next", "contacted")


def _period_days(today: dt.date, period: str) -> tuple[dt.date, dt.date, dt.date]:
    """First day of this period, of the next one, and of the one after."""
    if period == "day":
        return today, today + dt.timedelta(days=1), today + dt.timedelta(days=2)
    if period == "week":
        start = today - dt.timedelta(days=today.weekday())
        return start, start + dt.timedelta(days=7), start + dt.timedelta(days=14)
    if period == "month":
        start = today.replace(day=1)
        nxt = (start + dt.timedelta(days=32)).replace(day=1)
        return start, nxt, (nxt + dt.timedelta(days=32)).replace(day=1)
    raise InvalidValue(field="period")


def windows(session: Session, period: str, now: dt.datetime) -> dict[str, tuple]:
    """UTC [start, end) of each column for the company's calendar."""
    tz = company_tz(session)
    a, b, c = _period_days(now.astimezone(tz).date(), period)
    start = day_bounds(tz, a)[0]
    middle = day_bounds(tz, b)[0]
    end = day_bounds(tz, c)[0]
    return {"callback_now": (start, middle), "callback_next": (middle, end),
            "contacted": (start, middle)}


def cell_filter(user: User, column: str, window: tuple) -> ColumnElement[bool]:
    """WHERE clause on Customer for one grid column (stage aside)."""
    start, end = window
    if column == "contacted":
        return Customer.id.in_(select(ContactRecord.customer_id).where(
            ContactRecord.user_id == user.id, ContactRecord.contacted_at >= start,
            ContactRecord.contacted_at < end))
    if column in ("callback_now", "callback_next"):
        return (Customer.next_callback_at >= start) & (Customer.next_callback_at < end) & \
            Customer.id.in_(select(CustomerOperator.customer_id)
                            .where(CustomerOperator.user_id == user.id))
    raise InvalidValue(field="column")


def dashboard_counts(session: Session, user: User, *, period: str = "day",
                     clock=SYSTEM_CLOCK) -> dict[str, dict[str, int]]:
    """{stage: {column: count}} for the five stages. Callbacks count the user's own
    (personal and collaborative) customers; *contacted* counts customers the user logged a
    contact record with."""
    grid = {stage: dict.fromkeys(COLUMNS, 0) for stage in STAGES}
    win = windows(session, period, clock.now())
    (now_start, now_end), (next_start, next_end) = win["callback_now"], win["callback_next"]
    # Both callback columns in one pass over the user's customers.
    due = Customer.next_callback_at
    rows = session.execute(
        select(Customer.stage,
               func.count().filter((due >= now_start) & (due < now_end)),
               func.count().filter((due >= next_start) & (due < next_end)))
        .where(cell_filter(user, "callback_now", (now_start, next_end)),
               Customer.stage.is_not(None))
        .group_by(Customer.stage))
    for stage, now_count, next_count in rows:
        grid[stage]["callback_now"], grid[stage]["callback_next"] = now_count, next_count
    rows = session.execute(select(Customer.stage, func.count())
                           .where(cell_filter(user, "contacted", win["contacted"]),
                                  Customer.stage.is_not(None))
                           .group_by(Customer.stage))
    for stage, count in rows:
        grid[stage]["contacted"] = count
    return grid


def cell_customers(session: Session, user: User, stage: str, column: str, *,
                   period: str = "day", clock=SYSTEM_CLOCK) -> Select:
    """The customers behind one grid cell (clicking a highlighted count)."""
    if stage not in STAGES:
        raise InvalidValue("customer.bad_stage", stage=stage)
    window = windows(session, period, clock.now())[column] if column in COLUMNS else None
    if window is None:
        raise InvalidValue(field="column")
    return (select(Customer).where(Customer.stage == stage, cell_filter(user, column, window))
            .order_by(Customer.next_callback_at, Customer.id))
