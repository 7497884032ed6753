"""The opportunity and order lists of C7 (variants, whitelisted sorting, paging, visibility)
and the read-only lookups behind the detail pages and the coordination sheets.

Visibility always follows the customer: a row is listed or opened only when the user may
see its customer (models.crm.visibility); managers and admins see all."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from models.clock import SYSTEM_CLOCK
from models.crm.sales import get_opportunity, get_order  # noqa: F401  (re-exported for admin/sales.py)
from models.crm.visibility import get_visible_customer, visible_filter
from models.errors import InvalidValue, PermissionDenied
from models.schema import Contact, ContactRecord, Customer, Opportunity, Order, OrderFollowUp, Product, User

MAX_PER_PAGE = 200
MAX_EXPORT_ROWS = 10_000

# variant -> what it lists ("mine" = the opportunity's owner, who recorded it, is me)
OPPORTUNITY_VARIANTS = ("selling", "paused", "all")
# follow_up: follower = me, in progress; follow_up_all: follower = me, in progress or paused;
# mine: seller = me (my performance); all: every order (managers and admins only).
ORDER_VARIANTS = ("follow_up", "follow_up_all", "mine", "all")
MANAGER_ONLY_ORDER_VARIANTS = frozenset({"all"})

Owner = aliased(User, name="owner")
Seller = aliased(User, name="seller")
Follower = aliased(User, name="follower")

OPPORTUNITY_SORTS = {
    "title": Opportunity.title, "customer": Customer.name, "amount": Opportunity.amount,
    "state": Opportunity.state, "expected_close_on": Opportunity.expected_close_on,
    "next_callback_at": Opportunity.next_callback_at, "created_at": Opportunity.created_at,
    "owner": Owner.full_name,
}
ORDER_SORTS = {
    "number": Order.number, "customer": Customer.name, "ordered_on": Order.ordered_on,
    "amount": Order.amount, "state": Order.state, "payment_status": Order.payment_status,
    "shipping_status": Order.shipping_status, "next_callback_at": Order.next_callback_at,
    "seller": Seller.full_name, "follower": Follower.full_name,
}
DEFAULT_OPPORTUNITY_SORT = ("created_at", True)
DEFAULT_ORDER_SORT = ("ordered_on", True)


@dataclass
class Page:
    rows: list
    total: int
    page: int
    per_page: int
    sort: str
    descending: bool

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0


@dataclass
class OpportunityRow:
    opportunity: Opportunity
    customer_name: str
    owner_name: str | None


@dataclass
class OrderRow:
    order: Order
    customer_name: str
    seller_name: str | None
    follower_name: str | None


@dataclass
class TrackingSheet:
    customer: Customer
    operator_names: list[str]
    contacts: list[Contact]
    records: list[tuple[ContactRecord, str | None]]
    opportunities: list[Opportunity]
    orders: list[Order]
    user_names: dict[int, str] = field(default_factory=dict)


def order_variants_for(user: User) -> tuple[str, ...]:
    return tuple(v for v in ORDER_VARIANTS
                 if v not in MANAGER_ONLY_ORDER_VARIANTS or user.sees_all)


def _sorting(sorts: dict, sort: str | None, descending: bool | None, default):
    name = sort if sort in sorts else default[0]
    desc = default[1] if descending is None or name != sort else bool(descending)
    column = sorts[name]
    order = column.desc().nulls_last() if desc else column.asc().nulls_last()
    return name, desc, order


def _paged(session: Session, stmt, order, id_column, page: int, per_page: int | None):
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    if per_page is None:  # export: everything, up to a cap
        page, per_page, limit, offset = 1, MAX_EXPORT_ROWS, MAX_EXPORT_ROWS, 0
    else:
        per_page = min(max(int(per_page), 1), MAX_PER_PAGE)
        page = max(int(page), 1)
        limit, offset = per_page, (page - 1) * per_page
    rows = session.execute(stmt.order_by(order, id_column.desc()).limit(limit).offset(offset)).all()
    return rows, total, page, per_page


def _search(stmt, search: str | None, *columns):
    text = (search or "").strip()[:100]
    if not text:
        return stmt
    condition = columns[0].contains(text, autoescape=True)
    for column in columns[1:]:
        condition = condition | column.contains(text, autoescape=True)
    return stmt.where(condition)


def opportunity_variant_filter(user: User, variant: str):
    if variant == "selling":
        return (Opportunity.owner_id == user.id) & (Opportunity.state == "selling")
    if variant == "paused":
        return (Opportunity.owner_id == user.id) & (Opportunity.state == "paused")
    if variant == "all":
        return visible_filter(user)
    raise InvalidValue(field="variant")


def list_opportunities(session: Session, user: User, variant: str = "selling", *,
                       sort: str | None = None, descending: bool | None = None, page: int = 1,
                       per_page: int | None = 20, search: str | None = None) -> Page:
    """One page of an opportunity list; `per_page=None` returns every row (for export)."""
    stmt = (select(Opportunity, Customer.name, Owner.full_name)
            .join(Customer, Customer.id == Opportunity.customer_id)
            .outerjoin(Owner, Owner.id == Opportunity.owner_id)
            .where(visible_filter(user), opportunity_variant_filter(user, variant)))
    stmt = _search(stmt, search, Customer.name, Opportunity.title)
    name, desc, order = _sorting(OPPORTUNITY_SORTS, sort, descending, DEFAULT_OPPORTUNITY_SORT)
    rows, total, page, per_page = _paged(session, stmt, order, Opportunity.id, page, per_page)
    return Page([OpportunityRow(*row) for row in rows], total, page, per_page, name, desc)


def order_variant_filter(user: User, variant: str):
    if variant == "follow_up":
        return (Order.follower_id == user.id) & (Order.state == "in_progress")
    if variant == "follow_up_all":
        return (Order.follower_id == user.id) & Order.state.in_(("in_progress", "paused"))
    if variant == "mine":
        return Order.seller_id == user.id
    if variant == "all":
        if not user.sees_all:
            raise PermissionDenied()
        return visible_filter(user)
    raise InvalidValue(field="variant")


def list_orders(session: Session, user: User, variant: str = "follow_up", *,
                sort: str | None = None, descending: bool | None = None, page: int = 1,
                per_page: int | None = 20, search: str | None = None) -> Page:
    """One page of an order list; `per_page=None` returns every row (for export)."""
    stmt = (select(Order, Customer.name, Seller.full_name, Follower.full_name)
            .join(Customer, Customer.id == Order.customer_id)
            .outerjoin(Seller, Seller.id == Order.seller_id)
            .outerjoin(Follower, Follower.id == Order.follower_id)
            .where(visible_filter(user), order_variant_filter(user, variant)))
    stmt = _search(stmt, search, Customer.name, Order.number)
    name, desc, order = _sorting(ORDER_SORTS, sort, descending, DEFAULT_ORDER_SORT)
    rows, total, page, per_page = _paged(session, stmt, order, Order.id, page, per_page)
    return Page([OrderRow(*row) for row in rows], total, page, per_page, name, desc)


def opportunity_counts(session: Session, user: User) -> dict[str, int]:
    """How many rows each opportunity variant holds (for the tab badges)."""
    return {v: list_opportunities(session, user, v, per_page=1).total
            for v in OPPORTUNITY_VARIANTS}


def order_counts(session: Session, user: User) -> dict[str, int]:
    return {v: list_orders(session, user, v, per_page=1).total for v in order_variants_for(user)}


# ---- single records -------------------------------------------------------------------------

def may_update_order(user: User, order: Order) -> bool:
    """Whether the status form is offered (models.crm.sales.update_order_status decides)."""
    return user.id in (order.seller_id, order.follower_id) or user.role.can_manage


def set_opportunity_callback(session: Session, actor: User, opportunity_id: int,
                             next_callback_at: dt.datetime | None, *,
                             clock=SYSTEM_CLOCK) -> Opportunity:
    """Set (or clear) an opportunity's next callback (回访日期)."""
    if next_callback_at is not None and next_callback_at.tzinfo is None:
        raise InvalidValue(field="next_callback_at")
    opp = get_opportunity(session, actor, opportunity_id)
    opp.next_callback_at, opp.updated_at = next_callback_at, clock.now()
    session.flush()
    return opp


def orders_from_opportunity(session: Session, opportunity_id: int) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.opportunity_id == opportunity_id)
                                .order_by(Order.id)))


def order_follow_ups(session: Session, order_id: int) -> list[tuple[OrderFollowUp, str | None]]:
    """An order's follow-up records, newest first, with their authors' names."""
    stmt = (select(OrderFollowUp, User.full_name)
            .outerjoin(User, User.id == OrderFollowUp.user_id)
            .where(OrderFollowUp.order_id == order_id)
            .order_by(OrderFollowUp.created_at.desc(), OrderFollowUp.id.desc()))
    return [tuple(row) for row in session.execute(stmt)]


def user_names(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())


def assignable_users(session: Session) -> list[User]:
    """Active users who may be chosen as seller or follower."""
    return list(session.scalars(select(User).where(User.active.is_(True))
                                .order_by(User.full_name, User.id)))


def active_products(session: Session) -> list[Product]:
    return list(session.scalars(select(Product).where(Product.active.is_(True))
                                .order_by(Product.name)))


def tracking_sheet(session: Session, user: User, customer_id: int, *,
                   records: int = 10) -> TrackingSheet:
    """跟踪协调单: a visible customer's details, contacts, recent contact records, open
    opportunities (not ended) and open orders (not done)."""
    customer = get_visible_customer(session, user, customer_id)
    contacts = list(session.scalars(select(Contact).where(Contact.customer_id == customer.id)
                                    .order_by(Contact.id)))
    recent = [tuple(row) for row in session.execute(
        select(ContactRecord, User.full_name)
        .outerjoin(User, User.id == ContactRecord.user_id)
        .where(ContactRecord.customer_id == customer.id)
        .order_by(ContactRecord.contacted_at.desc(), ContactRecord.id.desc())
        .limit(records))]
    opps = list(session.scalars(select(Opportunity)
                                .where(Opportunity.customer_id == customer.id,
                                       Opportunity.state != "ended")
                                .order_by(Opportunity.created_at.desc(), Opportunity.id.desc())))
    orders = list(session.scalars(select(Order)
                                  .where(Order.customer_id == customer.id, Order.state != "done")
                                  .order_by(Order.ordered_on.desc(), Order.id.desc())))
    names = user_names(session, [*customer.operator_ids, *(o.owner_id for o in opps),
                                 *(o.seller_id for o in orders), *(o.follower_id for o in orders)])
    return TrackingSheet(customer, [names[i] for i in customer.operator_ids if i in names],
                         contacts, recent, opps, orders, names)
