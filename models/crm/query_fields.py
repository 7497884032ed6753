"""Which customer fields the query builder offers, and in what order (C8, set by the admin)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.fields import QUERYABLE_FIELDS
from models.schema import QueryableField
from models.values import Invalid, clean_int


def list_queryable_fields(session: Session) -> list[QueryableField]:
    """One row per field the query builder could offer, in the admin's order
    (a field with no row yet is shown disabled at the end)."""
    rows = {row.field: row for row in session.scalars(select(QueryableField))}
    missing = [QueryableField(field=f, enabled=False, sort_order=9999)
               for f in QUERYABLE_FIELDS if f not in rows]
    known = [row for row in rows.values() if row.field in QUERYABLE_FIELDS]
    return sorted(known, key=lambda r: (r.sort_order, r.field)) + missing


def update_queryable_fields(session: Session, enabled: list, orders: dict) -> None:
    """`enabled`: the fields to offer (every other one is switched off);
    `orders`: field -> position (0-9999), for the fields whose position is given."""
    on = set()
    for field in enabled or ():
        if field not in QUERYABLE_FIELDS:
            raise Invalid("admin.unknown_field", value=field)
        on.add(field)
    positions = {}
    for field, value in (orders or {}).items():
        if field not in QUERYABLE_FIELDS:
            raise Invalid("admin.unknown_field", value=field)
        positions[field] = clean_int(value, "sort_order", 0, 9999)
    rows = {row.field: row for row in session.scalars(select(QueryableField))}
    for index, field in enumerate(QUERYABLE_FIELDS):
        row = rows.get(field)
        if row is None:
            row = QueryableField(field=field, sort_order=index)
            session.add(row)
        row.enabled = field in on
        if field in positions:
            row.sort_order = positions[field]
    session.flush()
