"""C8 finding customers: a query-builder tree or a reserve preset, always within what the
user may see, with an optional stage filter and a whitelisted sort."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from models.crm.query import compile_query, preset_query
from models.crm.stage_rules import ARCHIVE, check_stage
from models.crm.visibility import visible_filter
from models.errors import InvalidQuery
from models.fields import QUERYABLE_FIELDS
from models.schema import Customer, QueryableField, User

MAX_TREE_TEXT = 20_000

_ALL = ("contains", "eq", "ge", "lt", "le", "ne", "not_contains", "is_empty", "is_not_empty")
_ORDERED = ("eq", "ge", "lt", "le", "ne", "is_empty", "is_not_empty")
# Which operators models.crm.query accepts for each kind of field (the rest it refuses).
OPERATORS_BY_KIND: dict[str, tuple[str, ...]] = {
    "text": _ALL,
    "phone": ("contains", "eq", "ne", "not_contains", "is_empty", "is_not_empty"),
    "bool": ("eq", "ne", "is_empty", "is_not_empty"),
    "int": _ORDERED,
    "datetime": _ORDERED,
}
VALUELESS_OPERATORS = ("is_empty", "is_not_empty")

SORTABLE = ("id", "name", "stage", "ownership", "contact_person", "city", "industry", "source",
            "created_at", "updated_at", "next_callback_at", "last_contacted_at")


def offered_fields(session: Session) -> list[tuple[str, str]]:
    """(field, kind) of every field the admin enabled for the query builder, in their order."""
    rows = session.scalars(select(QueryableField.field)
                           .where(QueryableField.enabled.is_(True))
                           .order_by(QueryableField.sort_order, QueryableField.field))
    return [(name, QUERYABLE_FIELDS[name]) for name in rows if name in QUERYABLE_FIELDS]


def parse_tree(text: str | None) -> Any:
    """The advanced form's JSON condition tree (compile_query checks the rest)."""
    if not text or len(text) > MAX_TREE_TEXT:
        raise InvalidQuery("query.invalid")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):      # RecursionError: hostile nesting
        raise InvalidQuery("query.invalid") from None


def simple_tree(field: str | None, op: str | None, value: str | None) -> dict:
    """The simple form's one condition as a tree."""
    tree = {"field": field or "", "op": op or ""}
    if op not in VALUELESS_OPERATORS:
        tree["value"] = value if value is not None else ""
    return tree


def find_customers(session: Session, user: User, *, tree: Any = None, preset: str | None = None,
                   stage: str | None = None, sort: str = "id",
                   descending: bool = False) -> Select:
    """`select(Customer)` of the customers matching `preset` (if given) or `tree` that `user`
    may see. `stage`: None or '' for any stage, 'archive' for customers without one."""
    if preset:
        stmt = preset_query(session, preset)
    elif tree is not None:
        stmt = compile_query(session, tree)
    else:
        raise InvalidQuery("query.invalid")
    stmt = stmt.where(visible_filter(user))
    if stage:
        wanted = check_stage(stage)
        stmt = stmt.where(Customer.stage.is_(None) if wanted is None or stage == ARCHIVE
                          else Customer.stage == wanted)
    column = getattr(Customer, sort if sort in SORTABLE else "id")
    ordered = column.desc() if descending else column.asc()
    tie = Customer.id.desc() if descending else Customer.id.asc()
    return stmt.order_by(ordered.nulls_last(), tie)


def count_of(session: Session, stmt: Select) -> int:
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
