"""The IVR's rules (T2): order status for callers, callback requests, the IVR call log.

Plain functions over a session, like every rule in models/: they never commit.

Callback requests (choice documented in docs and in `request_callback`):
  * the caller's number (caller ID, or digits they typed) is normalised and matched to customers
    with `customers.find_by_phone`;
  * a matched customer with an active operator gets a contact record authored by that operator,
    with the next callback and a reminder at the callback time; `emit_due_reminders` turns it
    into a `reminder` event for that operator (the one rule for reminders, C6);
  * a caller who matches no customer becomes one: a reserve customer (储备客户) in the shared
    pool, created by the system (no creator, source `IVR_SOURCE`: models.crm.customers), named
    after the caller-ID name or "来电客户 138****8000", with the number (E.164) and the
    request's time as its next callback. The same number asking again finds that customer;
    two requests at once are serialised (models.db.lock_key), so one number makes one customer;
  * the call (its `calls` row, by linkedid) gets the customer when exactly one matches (or was
    just made); a number several customers share picks nobody for the call;
  * nobody is reminded of a shared customer (a new one included): the request stays on the IVR
    call log row (`callback_number`, `callback_at`, no record) and `unassigned_callbacks()`
    lists those for a manager to hand out, a customer to screen or claim beside each.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re

import phonenumbers
from sqlalchemy import bindparam, column, insert, select, text
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.company import company_tz
from models.crm.contact_records import add_contact_record
from models.crm.customers import (create_customer, find_by_phone, find_duplicates,
                                  ids_with_number)
from models.db import lock_key
from models.errors import DuplicateName
from models.org.masking import mask
from models.phones import normalize_phone
from models.schema import ContactRecord, Customer, CustomerOperator, Order, User
from models.schema.ivr import IVRCall
from models.telephony.calls import attach_customer

CALLBACK_PROGRESS = "IVR回电请求"
IVR_SOURCE = "IVR回电"           # the source of the customers IVR callers become
CALLER_PREFIX = "来电客户"         # their name, before the masked number, when the caller ID has none
DEDUP_WINDOW = dt.timedelta(hours=24)  # a second request for the same customer reuses the first


# -- order status ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class OrderStatus:
    """What the IVR may tell a caller about an order: no amounts, no items."""
    number: str
    digits: str              # the number as a caller keys it and SAY DIGITS speaks it
    customer_id: int
    state: str               # in_progress / paused / done
    payment_status: str      # unpaid / partial / paid
    shipping_status: str     # unshipped / partial / shipped

    @property
    def words(self) -> list[str]:
        """Status words to speak, in order (the IVR maps each to a prompt `order-<word>`)."""
        if self.state == "done":
            return ["state-done"]
        if self.state == "paused":
            return ["state-paused"]
        return ["state-in-progress", "shipping-" + self.shipping_status,
                "payment-" + self.payment_status]


ORDER_STATUS_WORDS = ("state-done", "state-paused", "state-in-progress",
                      "shipping-unshipped", "shipping-partial", "shipping-shipped",
                      "payment-unpaid", "payment-partial", "payment-paid")


STATUS_COLUMNS = (Order.number, Order.customer_id, Order.state, Order.payment_status,
                  Order.shipping_status)  # columns, not Order objects: 18% less CPU per IVR call


def _status(row) -> OrderStatus:
    return OrderStatus(row.number, re.sub(r"\D", "", row.number), row.customer_id,
                       row.state, row.payment_status, row.shipping_status)


def order_number_candidates(typed: str) -> list[str]:
    """Order numbers a caller may mean by the digits they keyed. Numbers look like
    `SO20261126-0001` (models.crm.sales); a phone keypad has neither letters nor a dash, so
    `202611260001` and `2026112601` (sequence without its leading zeros) both find it."""
    digits = re.sub(r"\D", "", typed or "")
    if not digits:
        return []
    found = [typed.strip()]
    if len(digits) >= 9:
        day, seq = digits[:8], digits[8:]
        found.append(f"SO{day}-{seq}")
        found.append(f"SO{day}-{(seq.lstrip('0') or '0').zfill(4)}")
    return list(dict.fromkeys(found))


def order_status(session: Session, typed_number: str) -> OrderStatus | None:
    """The order a caller keyed in, or None."""
    candidates = order_number_candidates(typed_number)
    if not candidates:
        return None
    row = session.execute(select(*STATUS_COLUMNS).where(Order.number.in_(candidates))
                          .order_by(Order.id).limit(1)).first()
    return _status(row) if row else None


def _customers_for(session: Session, caller_id: str | None, *, operators: bool = True
                   ) -> list[Customer]:
    """Customers of a caller ID, in `_caller_order`."""
    return sorted(find_by_phone(session, caller_id or "", operators=operators), key=_caller_order)


_NEVER = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def _caller_order(customer) -> tuple:
    """Operated (personal/collaborative) customers first, then the most recently contacted,
    then the oldest."""
    return (customer.ownership == "shared", -(customer.last_contacted_at or _NEVER).timestamp(),
            customer.id)


def caller_customer(session: Session, caller_id: str | None) -> Customer | None:
    customers = _customers_for(session, caller_id)
    return customers[0] if customers else None


# The caller's customers and their latest orders in one statement (one round trip: IVR calls
# run it hundreds of times a second, and on a busy PostgreSQL each trip waits for its backend),
# built once, on the tables' columns so that it runs as Core, without the ORM's result
# machinery (1.4 -> 0.55 ms of CPU per call when it moved off the ORM). A customer comes once
# per order of theirs among the latest `limit`, or once with no order.
_CUSTOMERS, _ORDERS = Customer.__table__.c, Order.__table__.c
_CALLERS = (select(_CUSTOMERS.id, _CUSTOMERS.ownership, _CUSTOMERS.last_contacted_at)
            .where(_CUSTOMERS.id.in_(ids_with_number(bindparam("e164")))).cte("callers"))
_LATEST = (select(*(_ORDERS[c.key] for c in STATUS_COLUMNS), _ORDERS.ordered_on,
                  _ORDERS.id.label("order_id"))
           .where(_ORDERS.customer_id.in_(select(_CALLERS.c.id)))
           .order_by((_ORDERS.state == "done").asc(), _ORDERS.ordered_on.desc(), _ORDERS.id.desc())
           .limit(bindparam("limit")).subquery("latest"))
_CALLER_ORDERS = (select(_CALLERS.c.id, _CALLERS.c.ownership, _CALLERS.c.last_contacted_at,
                         *(_LATEST.c[c.key] for c in STATUS_COLUMNS if c.key != "customer_id"),
                         _LATEST.c.ordered_on, _LATEST.c.order_id)
                  .select_from(_CALLERS.outerjoin(_LATEST, _LATEST.c.customer_id == _CALLERS.c.id)))

# On PostgreSQL the same statement as a function of the database (migration r6n000000001):
# behind PgBouncer nothing is prepared, and planning the statement for every call cost a
# backend 0.57-0.77 ms of CPU; the function keeps its plan (0.11-0.17 ms, as prepared).
_CALLER_ORDERS_PG = text("SELECT * FROM ivr_caller_orders(:e164, :limit)").columns(
    *(column(c.name, c.type) for c in _CALLER_ORDERS.selected_columns))


@dataclasses.dataclass(frozen=True)
class CallerKey:
    """What the IVR needs of a caller's customer, without loading it."""
    id: int
    ownership: str
    last_contacted_at: dt.datetime | None


def orders_for_caller(session: Session, caller_id: str | None, *, limit: int = 3
                      ) -> tuple[CallerKey | None, list[OrderStatus]]:
    """The caller's customer and its latest orders (open ones first), at most `limit`: the
    customer of the first order, else the first by `_caller_order`."""
    e164 = normalize_phone(caller_id)
    if not e164:
        return None, []
    customers, orders = {}, []
    lookup = (_CALLER_ORDERS_PG if session.get_bind().dialect.name == "postgresql"
              else _CALLER_ORDERS)
    for row in session.execute(lookup, {"e164": e164, "limit": limit}):
        customers[row.id] = CallerKey(row.id, row.ownership, row.last_contacted_at)
        if row.number is not None:
            orders.append(row)
    if not customers:
        return None, []
    orders.sort(key=lambda o: o.order_id, reverse=True)
    orders.sort(key=lambda o: o.ordered_on, reverse=True)
    orders.sort(key=lambda o: o.state == "done")
    statuses = [OrderStatus(o.number, re.sub(r"\D", "", o.number), o.id, o.state,
                            o.payment_status, o.shipping_status) for o in orders]
    if statuses:
        return customers[statuses[0].customer_id], statuses
    return min(customers.values(), key=_caller_order), []


# -- callbacks ------------------------------------------------------------------------------

@dataclasses.dataclass
class CallbackResult:
    number: str                       # E.164
    at: dt.datetime
    customer: Customer | None = None
    operator: User | None = None
    record: ContactRecord | None = None
    reused: bool = False              # an open IVR callback request already existed
    created: bool = False             # the caller matched nobody and became this new customer

    @property
    def assigned(self) -> bool:
        return self.record is not None


def pick_operator(session: Session, customer: Customer) -> User | None:
    """Who gets a callback reminder for `customer`: its operator (personal); for a
    collaborative customer the operator who logged its latest contact record, else the
    longest-serving (lowest id) one. Inactive users are skipped; shared customers have none."""
    if customer.ownership == "shared":
        return None
    operators = list(session.scalars(
        select(User).join(CustomerOperator, CustomerOperator.user_id == User.id)
        .where(CustomerOperator.customer_id == customer.id, User.active.is_(True))
        .order_by(User.id)))
    if not operators:
        return None
    ids = [u.id for u in operators]
    latest = session.scalar(
        select(ContactRecord.user_id)
        .where(ContactRecord.customer_id == customer.id, ContactRecord.user_id.in_(ids))
        .order_by(ContactRecord.contacted_at.desc(), ContactRecord.id.desc()).limit(1))
    return next((u for u in operators if u.id == latest), operators[0])


def request_callback(session: Session, number: str | None, *, at: dt.datetime | None = None,
                     flow: str = "", caller_name: str | None = None,
                     linkedid: str | None = None, clock=SYSTEM_CLOCK) -> CallbackResult | None:
    """A caller asked to be called back on `number` (raw caller ID or typed digits).

    Returns None when `number` is not a possible phone number. Otherwise the request is
    matched to a customer (a caller matching none becomes a new reserve customer, named from
    `caller_name` when it is a name) and the call `linkedid` gets that customer; when it has
    an operator the request is written as a contact record with the next callback `at`
    (default: now) and a reminder for that operator. A second request for the same customer
    while the first reminder has not fired yet reuses it (moves nothing)."""
    e164 = normalize_phone(number)
    if not e164:
        return None
    now = clock.now()
    at = at or now
    if at.tzinfo is None:
        raise ValueError("callback time must be timezone-aware")
    result = CallbackResult(number=e164, at=at)
    customers = _customers_for(session, e164)
    if not customers:
        lock_key(session, "ivr-caller:" + e164)
        customers = _customers_for(session, e164)   # made by a request we waited for?
        if not customers:
            customers = [_reserve_customer(session, e164, caller_name, at, clock)]
            result.created = True
    if len(customers) == 1:
        attach_customer(session, linkedid, customers[0].id)
    for customer in customers:
        operator = pick_operator(session, customer)
        if operator is None:
            continue
        result.customer, result.operator = customer, operator
        break
    else:
        result.customer = customers[0]
        return result
    # Serialise requests for one customer (PostgreSQL row lock; SQLite writers queue anyway),
    # so two calls at once still make one record.
    session.execute(select(Customer.id).where(Customer.id == result.customer.id)
                    .with_for_update())
    existing = session.scalar(
        select(ContactRecord).where(
            ContactRecord.customer_id == result.customer.id,
            ContactRecord.progress == CALLBACK_PROGRESS,
            ContactRecord.remind.is_(True), ContactRecord.reminded_at.is_(None),
            ContactRecord.created_at >= now - DEDUP_WINDOW)
        .order_by(ContactRecord.id.desc()).limit(1))
    if existing is not None:
        result.record, result.reused = existing, True
        result.operator = session.get(User, existing.user_id) or result.operator
        return result
    local = at.astimezone(company_tz(session))
    content = (f"客户通过电话自助服务（IVR{'·' + flow if flow else ''}）请求回电。"
               f"回电号码：{e164}，希望回电时间：{local:%Y-%m-%d %H:%M}")
    result.record = add_contact_record(
        session, result.operator, result.customer.id, content=content, method="phone",
        progress=CALLBACK_PROGRESS, next_callback_at=at, remind=True, clock=clock)
    return result


def masked_number(e164: str) -> str:
    """138****8000: a number as a customer's name may show it (a Chinese number without its
    country code; models.org.masking's one rule)."""
    return mask(e164[3:] if e164.startswith("+86") else e164)


def _caller_id_name(raw: str | None) -> str | None:
    """The caller-ID name when it is one (not empty, "unknown" or the number again)."""
    text = (raw or "").strip()[:60]
    if text.lower() in ("", "unknown", "anonymous", "restricted", "private", "withheld"):
        return None
    return None if re.fullmatch(r"[\d\s+().\-]*", text) else text


def _reserve_customer(session: Session, e164: str, caller_name: str | None,
                      at: dt.datetime, clock) -> Customer:
    """The reserve customer an unknown caller becomes (see the module's docstring). Names are
    unique: a name taken by another customer gets the masked number, then (2), (3)..."""
    masked = masked_number(e164)
    name = _caller_id_name(caller_name)
    base = f"{name} {masked}" if name else f"{CALLER_PREFIX} {masked}"
    names = ([name] if name else []) + [base] + [f"{base} ({n})" for n in range(2, 100)]
    mobile = phonenumbers.number_type(phonenumbers.parse(e164)) in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    for candidate in names:
        if find_duplicates(session, name=candidate, limit=1):
            continue
        try:
            customer = create_customer(
                session, None, {"name": candidate, "mobile" if mobile else "phone": e164,
                                "source": IVR_SOURCE},
                stage="reserve", ownership="shared", clock=clock)
        except DuplicateName:      # taken meanwhile by another customer
            continue
        customer.next_callback_at = at
        session.flush()
        return customer
    raise DuplicateName(name=base)


def unassigned_callbacks(session: Session, *, since: dt.datetime | None = None,
                         limit: int = 200) -> list[IVRCall]:
    """Callback requests no operator was reminded of (unknown callers, shared customers),
    newest first: the "unknown callers" list a manager works from."""
    stmt = (select(IVRCall).where(IVRCall.callback_number.is_not(None),
                                  IVRCall.callback_record_id.is_(None)))
    if since is not None:
        stmt = stmt.where(IVRCall.started_at >= since)
    return list(session.scalars(stmt.order_by(IVRCall.started_at.desc(), IVRCall.id.desc())
                                .limit(limit)))


# -- the call log ---------------------------------------------------------------------------

def ivr_call_values(*, uniqueid: str, flow: str, outcome: str, started_at: dt.datetime,
                    duration_ms: int, caller_id: str | None = None,
                    customer_id: int | None = None, path: list | None = None,
                    digits: list | None = None, exit_to: str | None = None,
                    callback: CallbackResult | None = None, error: str | None = None) -> dict:
    """The columns of one IVR call log row (every column, so rows can be inserted together)."""
    raw = (caller_id or "").strip()
    if raw.lower() in ("", "unknown", "anonymous", "restricted"):
        raw = ""
    values = dict(uniqueid=(uniqueid or "")[:64], flow=(flow or "")[:64],
                  caller_id=raw[:40] or None, caller_e164=normalize_phone(raw) if raw else None,
                  customer_id=customer_id, path=list(path or []), digits=list(digits or []),
                  outcome=outcome[:16], exit_to=(exit_to or None) and exit_to[:120],
                  error=(error or None) and error[:300], started_at=started_at,
                  duration_ms=max(0, int(duration_ms)), callback_number=None, callback_at=None,
                  callback_user_id=None, callback_record_id=None)
    if callback is not None:
        assigned = callback.record is not None
        values.update(callback_number=callback.number, callback_at=callback.at,
                      callback_user_id=callback.operator.id if assigned else None,
                      callback_record_id=callback.record.id if assigned else None)
        if values["customer_id"] is None and callback.customer is not None:
            values["customer_id"] = callback.customer.id
    return values


def log_ivr_call(session: Session, **fields) -> IVRCall:
    """Write one IVR call log row (fields: those of `ivr_call_values`; the caller commits)."""
    row = IVRCall(**ivr_call_values(**fields))
    session.add(row)
    session.flush()
    return row


# RETURNING makes SQLAlchemy send the rows as one multi-row VALUES ("insertmanyvalues") of a
# statement compiled once; `insert(IVRCall).values(rows)` was compiled anew for every batch
# (1.1 ms of CPU for one row, 4.7 ms for ten), and a plain executemany is one statement per
# row on psycopg, each committed by itself in autocommit.
_INSERT_IVR_CALLS = insert(IVRCall.__table__).returning(IVRCall.__table__.c.id)


def insert_ivr_calls(session: Session, rows: list[dict]) -> None:
    """Write call log rows made by `ivr_call_values` in one statement, atomic by itself (the
    caller commits)."""
    if rows:
        session.execute(_INSERT_IVR_CALLS, rows)


def recent_ivr_calls(session: Session, *, limit: int = 100,
                     outcome: str | None = None) -> list[IVRCall]:
    stmt = select(IVRCall)
    if outcome:
        stmt = stmt.where(IVRCall.outcome == outcome)
    return list(session.scalars(stmt.order_by(IVRCall.started_at.desc(), IVRCall.id.desc())
                                .limit(limit)))


__all__ = ["CALLBACK_PROGRESS", "IVR_SOURCE", "masked_number", "ORDER_STATUS_WORDS", "CallbackResult", "OrderStatus",
           "caller_customer", "insert_ivr_calls", "ivr_call_values", "log_ivr_call",
           "order_number_candidates", "order_status", "orders_for_caller", "pick_operator",
           "recent_ivr_calls", "request_callback", "unassigned_callbacks"]
