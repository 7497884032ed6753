"""Opportunities (商机) and orders (订单), with the automatic rules of C4."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.company import company_today
from models.crm.stages import raise_stage_automatically
from models.crm.visibility import get_visible_customer
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.schema import Opportunity, OpportunityItem, Order, OrderFollowUp, OrderItem, Product, User
from models.schema.sales import OPPORTUNITY_STATES, ORDER_STATES, PAYMENT_STATUSES, SHIPPING_STATUSES


def _items(session: Session, items: list[dict], model):
    """Line items from [{product_id or product_name, quantity, unit_price?}]."""
    rows, total = [], Decimal("0")
    for item in items:
        try:
            quantity = Decimal(str(item["quantity"]))
            product = session.get(Product, item["product_id"]) if item.get("product_id") else None
            name = product.name if product else str(item.get("product_name") or "").strip()
            price = item.get("unit_price")
            price = Decimal(str(price)) if price is not None else (product.price if product else None)
        except (KeyError, InvalidOperation, TypeError, ValueError):
            raise InvalidValue("item.bad") from None
        if not name or price is None or quantity <= 0 or price < 0:
            raise InvalidValue("item.bad")
        rows.append(model(product_id=product.id if product else None, product_name=name,
                          quantity=quantity, unit_price=price))
        total += quantity * price
    return rows, total.quantize(Decimal("0.01"))


def create_opportunity(session: Session, actor: User, customer_id: int, title: str, *,
                       items: list[dict] = (), amount=None, state: str = "selling",
                       expected_close_on: dt.date | None = None, next_callback_at=None,
                       note: str | None = None, clock=SYSTEM_CLOCK) -> Opportunity:
    """Add an opportunity record. A *selling* one lifts its customer to `opportunity`."""
    if state not in OPPORTUNITY_STATES:
        raise InvalidValue("opportunity.bad_state", state=state)
    if not (title or "").strip():
        raise InvalidValue(field="title")
    customer = get_visible_customer(session, actor, customer_id)
    rows, total = _items(session, list(items), OpportunityItem)
    now = clock.now()
    opp = Opportunity(customer_id=customer.id, owner_id=actor.id, title=title.strip(),
                      amount=Decimal(str(amount)) if amount is not None else total, state=state,
                      expected_close_on=expected_close_on, next_callback_at=next_callback_at,
                      note=note, created_at=now, updated_at=now, items=rows)
    session.add(opp)
    if state == "selling":
        raise_stage_automatically(customer, "opportunity", now, actor=actor)
    session.flush()
    return opp


def get_opportunity(session: Session, actor: User, opportunity_id: int) -> Opportunity:
    """An opportunity whose customer the actor may open (NotFound / NotYours otherwise)."""
    opp = session.get(Opportunity, opportunity_id)
    if opp is None:
        raise NotFound("opportunity.not_found")
    get_visible_customer(session, actor, opp.customer_id)
    return opp


def set_opportunity_state(session: Session, actor: User, opportunity_id: int, state: str, *,
                          clock=SYSTEM_CLOCK) -> Opportunity:
    if state not in OPPORTUNITY_STATES:
        raise InvalidValue("opportunity.bad_state", state=state)
    opp = get_opportunity(session, actor, opportunity_id)
    now = clock.now()
    opp.state, opp.updated_at = state, now
    if state == "selling":
        raise_stage_automatically(get_visible_customer(session, actor, opp.customer_id),
                                  "opportunity", now, actor=actor)
    session.flush()
    return opp


def _order_number(session: Session, day: dt.date) -> str:
    prefix = f"SO{day:%Y%m%d}-"
    count = session.scalar(select(func.count()).select_from(Order)
                           .where(Order.number.like(prefix + "%")))
    return f"{prefix}{count + 1:04d}"


def _user_id(session: Session, user_id: int | None, default: int) -> int:
    if user_id is None:
        return default
    if session.get(User, user_id) is None:
        raise NotFound("user.not_found")
    return user_id


def create_order(session: Session, actor: User, customer_id: int, items: list[dict], *,
                 opportunity_id: int | None = None, seller_id: int | None = None,
                 follower_id: int | None = None, ordered_on: dt.date | None = None,
                 next_callback_at=None, note: str | None = None,
                 clock=SYSTEM_CLOCK) -> Order:
    """生成订单: the customer becomes `closed`; an order made from an opportunity pauses it."""
    customer = get_visible_customer(session, actor, customer_id)
    opp = None
    if opportunity_id is not None:
        opp = get_opportunity(session, actor, opportunity_id)
        if opp.customer_id != customer.id:
            raise InvalidValue(field="opportunity_id")
    if not items and opp is not None:
        items = [dict(product_id=i.product_id, product_name=i.product_name,
                      quantity=i.quantity, unit_price=i.unit_price) for i in opp.items]
    if not items:
        raise InvalidValue("order.no_items")
    rows, total = _items(session, list(items), OrderItem)
    now = clock.now()
    day = ordered_on or company_today(session, now)
    order = Order(customer_id=customer.id, opportunity_id=opp.id if opp else None,
                  seller_id=_user_id(session, seller_id, actor.id),
                  follower_id=_user_id(session, follower_id, actor.id), ordered_on=day,
                  payment_status="unpaid", shipping_status="unshipped", state="in_progress",
                  amount=total, next_callback_at=next_callback_at, note=note, created_at=now,
                  updated_at=now, items=rows)
    for _attempt in range(5):  # two orders made at once may pick the same number
        with session.no_autoflush:
            order.number = _order_number(session, day)
        try:
            with session.begin_nested():
                session.add(order)
                session.flush()
            break
        except IntegrityError:
            continue
    else:
        raise InvalidValue(field="number")
    if opp is not None:
        opp.state, opp.updated_at = "paused", now
    raise_stage_automatically(customer, "closed", now, actor=actor)
    session.flush()
    return order


def get_order(session: Session, actor: User, order_id: int) -> Order:
    """An order whose customer the actor may open (NotFound / NotYours otherwise)."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound("order.not_found")
    get_visible_customer(session, actor, order.customer_id)
    return order


def update_order_status(session: Session, actor: User, order_id: int, *,
                        payment_status: str | None = None, paid_on: dt.date | None = None,
                        shipping_status: str | None = None, shipped_on: dt.date | None = None,
                        state: str | None = None, clock=SYSTEM_CLOCK) -> Order:
    """Payment, shipping and state of an order (seller, follower or a manager)."""
    order = get_order(session, actor, order_id)
    if actor.id not in (order.seller_id, order.follower_id) and not actor.role.can_manage:
        raise PermissionDenied()
    for value, allowed in ((payment_status, PAYMENT_STATUSES),
                           (shipping_status, SHIPPING_STATUSES), (state, ORDER_STATES)):
        if value is not None and value not in allowed:
            raise InvalidValue("order.bad_status", value=value)
    if payment_status is not None:
        order.payment_status = payment_status
    if paid_on is not None:
        order.paid_on = paid_on
    if shipping_status is not None:
        order.shipping_status = shipping_status
    if shipped_on is not None:
        order.shipped_on = shipped_on
    if state is not None:
        order.state = state
    order.updated_at = clock.now()
    session.flush()
    return order


def add_order_follow_up(session: Session, actor: User, order_id: int, content: str, *,
                        next_callback_at=None, remind: bool = False,
                        clock=SYSTEM_CLOCK) -> OrderFollowUp:
    """跟单记录: a follow-up on an order; its next callback becomes the order's."""
    order = get_order(session, actor, order_id)
    if remind and next_callback_at is None:
        raise InvalidValue("record.reminder_needs_callback")
    now = clock.now()
    follow_up = OrderFollowUp(order_id=order.id, user_id=actor.id, content=content,
                              next_callback_at=next_callback_at, remind=remind,
                              remind_at=next_callback_at if remind else None, created_at=now)
    session.add(follow_up)
    order.next_callback_at, order.updated_at = next_callback_at, now
    session.flush()
    return follow_up
