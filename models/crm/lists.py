"""Customer lists (C6): a stage list's tabs, sort whitelist and paging, the customers behind
a home-grid cell, and "the next customer of this list" for the tracking screen.

A list is described by a `ListSpec`; its ordering is a whitelisted column (NULLs last) with the
id as tie-break, so that "the next customer after X" is a keyset condition on (value, id)."""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.contact_records import _editable_record
from models.crm.dashboard import COLUMNS, PERIODS, cell_customers
from models.crm.search import customer_search
from models.crm.visibility import get_visible_customer, mine_filter, shared_filter, visible_filter
from models.errors import InvalidValue
from models.schema import (
    STAGES,
    CallScript,
    Competitor,
    Contact,
    ContactRecord,
    Customer,
    Document,
    OperatorHistory,
    Opportunity,
    Order,
    Product,
    StageHistory,
    User,
)

ARCHIVE = "archive"
LIST_STAGES = (*STAGES, ARCHIVE)
TABS = ("mine", "shared", "all")
PAGE_SIZE = 50
PRINT_LIMIT = 2000

SORT_COLUMNS = {
    "name": Customer.name, "contact_person": Customer.contact_person, "city": Customer.city,
    "industry": Customer.industry, "source": Customer.source,
    "next_callback_at": Customer.next_callback_at,
    "last_contacted_at": Customer.last_contacted_at, "updated_at": Customer.updated_at,
}
DATETIME_SORTS = {"next_callback_at", "last_contacted_at", "updated_at"}
DEFAULT_SORT = "next_callback_at"


@dataclass(frozen=True)
class ListSpec:
    """Which list: a stage list (stage + tab) or a home-grid cell (stage + column + period),
    with its ordering and an optional name filter. Build it with `ListSpec.parse`."""

    stage: str
    tab: str = "mine"
    sort: str = DEFAULT_SORT
    direction: str = "asc"
    q: str = ""
    column: str | None = None
    period: str = "day"

    @classmethod
    def parse(cls, user: User, stage: str, args: Mapping[str, str]) -> ListSpec:
        """From query arguments; unknown values fall back to defaults, an unknown stage
        (or cell column) is refused."""
        if stage not in LIST_STAGES:
            raise InvalidValue("customer.bad_stage", stage=stage)
        column = args.get("column") or None
        if column is not None:
            if column not in COLUMNS or stage == ARCHIVE:
                raise InvalidValue(field="column")
        period = args.get("period") if args.get("period") in PERIODS else "day"
        tab = args.get("tab") if args.get("tab") in allowed_tabs(user, stage) else "mine"
        sort = args.get("sort") if args.get("sort") in SORT_COLUMNS else DEFAULT_SORT
        direction = "desc" if args.get("dir") == "desc" else "asc"
        q = (args.get("q") or "").strip()[:100]
        return cls(stage=stage, tab=tab, sort=sort, direction=direction, q=q, column=column,
                   period=period)

    @property
    def is_cell(self) -> bool:
        return self.column is not None

    def args(self) -> dict[str, str]:
        """Query arguments that rebuild this spec (for links), `list` naming the stage."""
        out = {"list": self.stage, "sort": self.sort, "dir": self.direction}
        if self.is_cell:
            out.update(column=self.column, period=self.period)
        else:
            out["tab"] = self.tab
        if self.q:
            out["q"] = self.q
        return out


def allowed_tabs(user: User, stage: str) -> tuple[str, ...]:
    """*mine* and *shared* everywhere; *all* (everything the user may see) in the archive,
    and in every list for managers and admins."""
    if stage == ARCHIVE or user.sees_all:
        return TABS
    return TABS[:2]


def list_filter(session: Session, user: User, spec: ListSpec, *,
                clock=SYSTEM_CLOCK) -> ColumnElement[bool]:
    """WHERE clause of the list; always inside what `user` may see. The *mine* and *shared*
    tabs are inside it by definition; adding the visibility OR there would stop PostgreSQL
    from counting a page from the index alone (bench/crm_scale.py)."""
    conditions = [] if spec.tab in ("mine", "shared") and not spec.is_cell else [visible_filter(user)]
    if spec.is_cell:
        cell = cell_customers(session, user, spec.stage, spec.column, period=spec.period,
                              clock=clock)
        conditions.append(cell.whereclause)
    else:
        if spec.stage != ARCHIVE:
            conditions.append(Customer.stage == spec.stage)
        if spec.tab == "mine":
            conditions.append(mine_filter(user))
        elif spec.tab == "shared":
            conditions.append(shared_filter())
    if spec.q:
        conditions.append(customer_search(spec.q))
    return and_(*conditions)


def _order(spec: ListSpec):
    column = SORT_COLUMNS[spec.sort]
    if spec.direction == "desc":
        return column.desc().nulls_last(), Customer.id.desc()
    return column.asc().nulls_last(), Customer.id.asc()


def ordered(session: Session, user: User, spec: ListSpec, *, clock=SYSTEM_CLOCK):
    return (select(Customer).where(list_filter(session, user, spec, clock=clock))
            .order_by(*_order(spec)))


@dataclass
class Page:
    items: list[Customer]
    total: int
    page: int
    pages: int
    per_page: int

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0


def _paginate(session: Session, stmt, page: int, per_page: int) -> Page:
    """One page of an ordered select, with the total count; `page` is clamped."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    items = list(session.scalars(stmt.offset((page - 1) * per_page).limit(per_page)))
    return Page(items=items, total=total, page=page, pages=pages, per_page=per_page)


def list_page(session: Session, user: User, spec: ListSpec, page: int = 1, *,
              per_page: int = PAGE_SIZE, clock=SYSTEM_CLOCK) -> Page:
    return _paginate(session, ordered(session, user, spec, clock=clock), page, per_page)


def list_rows(session: Session, user: User, spec: ListSpec, *, limit: int | None = None,
              clock=SYSTEM_CLOCK):
    """Every customer of the list in order (export, print), streamed."""
    stmt = ordered(session, user, spec, clock=clock)
    if limit is not None:
        stmt = stmt.limit(limit)
    return session.scalars(stmt.execution_options(yield_per=500))


# --- "Next" (下一个) -----------------------------------------------------------------------

def position_of(customer: Customer, spec: ListSpec) -> str:
    """The customer's sort value as text, kept in the tracking screen's URL: Next walks on
    from where the customer stood when it was opened, even if working it moved it."""
    value = getattr(customer, spec.sort)
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat()
    return str(value)


def _parse_position(spec: ListSpec, text: str):
    if text == "":
        return None
    if spec.sort in DATETIME_SORTS:
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise InvalidValue(field="at") from None
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return text


def _after(spec: ListSpec, value, customer_id: int) -> ColumnElement[bool]:
    """Rows that come after (value, id) in the list's order (NULLs last)."""
    column = SORT_COLUMNS[spec.sort]
    later_id = Customer.id > customer_id if spec.direction == "asc" else Customer.id < customer_id
    if value is None:
        return column.is_(None) & later_id
    later = column > value if spec.direction == "asc" else column < value
    return or_(later, (column == value) & later_id, column.is_(None))


def _position_value(session: Session, user: User, spec: ListSpec, customer_id: int,
                    position: str | None):
    current = get_visible_customer(session, user, customer_id)
    if position is None:
        return getattr(current, spec.sort)
    return _parse_position(spec, position)


def next_in_list(session: Session, user: User, spec: ListSpec, customer_id: int,
                 position: str | None = None, *, clock=SYSTEM_CLOCK) -> Customer | None:
    """The customer after `customer_id` in the list, or None at the end. `position` is the
    sort value the customer had when opened (see `position_of`); None: its current one."""
    value = _position_value(session, user, spec, customer_id, position)
    return session.scalar(select(Customer)
                          .where(list_filter(session, user, spec, clock=clock),
                                 _after(spec, value, customer_id), Customer.id != customer_id)
                          .order_by(*_order(spec)).limit(1))


def index_in_list(session: Session, user: User, spec: ListSpec, customer_id: int,
                  position: str | None = None, *, clock=SYSTEM_CLOCK) -> tuple[int, int]:
    """(1-based place of the customer's position, list total) for "3 / 57"."""
    value = _position_value(session, user, spec, customer_id, position)
    where = list_filter(session, user, spec, clock=clock)
    total = session.scalar(select(func.count()).select_from(Customer).where(where))
    before = session.scalar(select(func.count()).select_from(Customer).where(
        where, ~_after(spec, value, customer_id), Customer.id != customer_id))
    return before + 1, total


# --- A customer's sections (detail and tracking screens) ----------------------------------

def customer_sections(session: Session, user: User, customer_id: int) -> dict:
    """Contacts, contact records (newest first), opportunities, orders, operator history, stage
    history and documents of a customer the user may open."""
    customer = get_visible_customer(session, user, customer_id)
    cid = customer.id
    return dict(
        contacts=list(session.scalars(select(Contact).where(Contact.customer_id == cid)
                                      .order_by(Contact.id))),
        records=list(session.scalars(
            select(ContactRecord).where(ContactRecord.customer_id == cid)
            .order_by(ContactRecord.contacted_at.desc(), ContactRecord.id.desc()))),
        opportunities=list(session.scalars(select(Opportunity).where(Opportunity.customer_id == cid)
                                           .order_by(Opportunity.created_at.desc()))),
        orders=list(session.scalars(select(Order).where(Order.customer_id == cid)
                                    .order_by(Order.created_at.desc()))),
        history=list(session.scalars(select(OperatorHistory)
                                     .where(OperatorHistory.customer_id == cid)
                                     .order_by(OperatorHistory.at.desc(),
                                               OperatorHistory.id.desc()))),
        stage_history=list(session.scalars(select(StageHistory)
                                           .where(StageHistory.customer_id == cid)
                                           .order_by(StageHistory.at.desc(),
                                                     StageHistory.id.desc()))),
        documents=list(session.scalars(select(Document).where(Document.customer_id == cid)
                                       .order_by(Document.created_at.desc()))),
    )


def side_panel(session: Session, user: User, stage: str | None) -> dict:
    """The tracking screen's side panel: reference scripts (for this stage or any), the
    user's personal scripts, company documents, active products and competitors."""
    stage_match = or_(CallScript.stage.is_(None), CallScript.stage == stage) if stage \
        else CallScript.stage.is_(None)
    return dict(
        reference_scripts=list(session.scalars(
            select(CallScript).where(CallScript.kind == "reference", stage_match)
            .order_by(CallScript.title))),
        personal_scripts=list(session.scalars(
            select(CallScript).where(CallScript.kind == "personal",
                                     CallScript.owner_id == user.id)
            .order_by(CallScript.title))),
        documents=list(session.scalars(select(Document).where(Document.customer_id.is_(None))
                                       .order_by(Document.title))),
        products=list(session.scalars(select(Product).where(Product.active.is_(True))
                                      .order_by(Product.name))),
        competitors=list(session.scalars(select(Competitor).order_by(Competitor.name))),
    )


def user_names(session: Session, user_ids=None) -> dict[int, str]:
    """{id: full name} of those users (all users when `user_ids` is None)."""
    stmt = select(User.id, User.full_name)
    if user_ids is not None:
        stmt = stmt.where(User.id.in_(sorted({uid for uid in user_ids if uid is not None})))
    return dict(session.execute(stmt).all())


def active_users(session: Session) -> list[User]:
    """Users a manager may pick as operator (reassign, collaborators, new customer)."""
    return list(session.scalars(select(User).where(User.active.is_(True))
                                .order_by(User.full_name, User.id)))


def visible_names(session: Session, user: User, customer_ids) -> dict[int, str]:
    """Names of those customers the user may see (batch results never reveal others)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    return dict(session.execute(select(Customer.id, Customer.name)
                                .where(Customer.id.in_(ids), visible_filter(user))).all())


# --- Contact records list (联系记录) --------------------------------------------------------

def records_page(session: Session, user: User, *, everyone: bool = False, page: int = 1,
                 per_page: int = PAGE_SIZE) -> tuple[Page, dict[int, str]]:
    """The user's own contact records, newest first (managers: everybody's with
    `everyone`), only on customers the user may see. Returns the page and customer names."""
    where = [visible_filter(user)]
    if not (everyone and user.role.can_manage):
        where.append(ContactRecord.user_id == user.id)
    stmt = (select(ContactRecord).join(Customer, Customer.id == ContactRecord.customer_id)
            .where(*where)
            .order_by(ContactRecord.contacted_at.desc(), ContactRecord.id.desc()))
    result = _paginate(session, stmt, page, per_page)
    items = result.items
    names = dict(session.execute(select(Customer.id, Customer.name).where(
        Customer.id.in_(sorted({r.customer_id for r in items})))).all())
    return result, names


def editable_record(session: Session, user: User, record_id: int) -> ContactRecord:
    """A record the user may edit (author, or a manager), on a customer the user may see:
    the same check contact_records applies when saving."""
    return _editable_record(session, user, record_id)

