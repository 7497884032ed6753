"""C8 query builder: compile a plain-data condition tree into `select(Customer)`.

A tree is a condition ``{"field": "city", "op": "eq", "value": "上海"}`` or a group
``{"all": [...]}`` (AND) / ``{"any": [...]}`` (OR), nested up to MAX_DEPTH groups and
MAX_CONDITIONS conditions. Fields must be in QUERYABLE_FIELDS *and* enabled by the admin;
operators come from OPERATORS. User text only ever reaches SQL as bound parameters."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, and_, func, not_, or_, select
from sqlalchemy.orm import Session, aliased

from models.company import company_tz, day_bounds
from models.errors import InvalidQuery
from models.fields import PHONE_COLUMNS, QUERYABLE_FIELDS
from models.phones import normalize_phone
from models.schema import Customer, Opportunity, Order, QueryableField

MAX_DEPTH = 5          # nested groups
MAX_CONDITIONS = 50
MAX_VALUE_LENGTH = 200

TRUE_WORDS = {"true", "1", "是", "yes", "y"}
FALSE_WORDS = {"false", "0", "否", "no", "n"}
BARE_DATE = re.compile(r"\d{4}-?\d{2}-?\d{2}", re.ASCII)
PHONE_SEPARATORS = (" ", "-", "(", ")", ".", "+", "/")


@dataclass(frozen=True)
class Day:
    """A bare date typed by the user: [start, end) of that day in the company time zone."""
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    column: Any               # the whitelisted Customer attribute
    tz: ZoneInfo

    def coerce(self, value: Any) -> Any:
        """The user's value as the Python value compared with `column` (or InvalidQuery)."""
        try:
            return COERCERS[self.kind](self, value)
        except (ValueError, TypeError, OverflowError):
            raise InvalidQuery("query.bad_value", field=self.name, value=_shown(value)) from None

    def refuse(self, op: str) -> InvalidQuery:
        return InvalidQuery("query.unknown_operator", op=op, field=self.name)


def _shown(value: Any) -> str:
    return str(value)[:MAX_VALUE_LENGTH]


# -- value coercion by kind ---------------------------------------------------------------

def _text(f: Field, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("not text")
    text = str(value).strip()
    if len(text) > MAX_VALUE_LENGTH:
        raise ValueError("too long")
    return text


def _bool(f: Field, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = _text(f, value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("not a boolean")


def _int(f: Field, value: Any) -> int:
    if isinstance(value, (bool, float)):
        raise ValueError("not an int")
    number = int(_text(f, value))
    if not -2**63 <= number < 2**63:
        raise ValueError("out of range")
    return number


def _datetime(f: Field, value: Any) -> dt.datetime | Day:
    if not isinstance(value, str):
        raise ValueError("not a date")
    text = _text(f, value)
    if BARE_DATE.fullmatch(text):     # that day in the company time zone
        return Day(*day_bounds(f.tz, dt.date.fromisoformat(text)))
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=f.tz)
    return moment.astimezone(dt.timezone.utc)


COERCERS: dict[str, Callable[[Field, Any], Any]] = {
    "text": _text, "phone": _text, "bool": _bool, "int": _int, "datetime": _datetime,
}


# -- operators ------------------------------------------------------------------------------

def _is_empty(f: Field, value: Any) -> ColumnElement[bool]:
    """NULL, or '' for text and phone fields."""
    if f.kind in ("text", "phone"):
        return or_(f.column.is_(None), f.column == "")
    return f.column.is_(None)


def _is_not_empty(f: Field, value: Any) -> ColumnElement[bool]:
    if f.kind in ("text", "phone"):
        return and_(f.column.is_not(None), f.column != "")
    return f.column.is_not(None)


def _phone_digits(f: Field, value: Any) -> str:
    digits = "".join(ch for ch in f.coerce(value) if ch.isdigit())
    if not digits:
        raise InvalidQuery("query.bad_value", field=f.name, value=_shown(value))
    return digits


def _contains(f: Field, value: Any) -> ColumnElement[bool]:
    """Case-insensitive substring; % and _ typed by the user match literally."""
    if f.kind == "phone":
        # digits typed by the user, in the raw number without separators or in the E.164
        digits = _phone_digits(f, value)
        raw = f.column
        for sep in PHONE_SEPARATORS:
            raw = func.replace(raw, sep, "", type_=String)
        e164 = getattr(Customer, PHONE_COLUMNS[f.name])
        return or_(func.coalesce(raw, "").contains(digits, autoescape=True),
                   func.coalesce(e164, "").contains(digits, autoescape=True))
    if f.kind != "text":
        raise f.refuse("contains")
    text = f.coerce(value)
    if not text:
        raise InvalidQuery("query.bad_value", field=f.name, value="")
    return func.coalesce(f.column, "").icontains(text, autoescape=True)


def _not_contains(f: Field, value: Any) -> ColumnElement[bool]:
    if f.kind not in ("text", "phone"):
        raise f.refuse("not_contains")
    return or_(not_(_contains(f, value)), f.column.is_(None))


def _means_empty(f: Field, v: Any) -> bool:
    """'' (and, for stage, 'archive') stands for "no value"."""
    return f.kind == "text" and (v == "" or (f.name == "stage" and v == "archive"))


def _compared(f: Field) -> Any:
    """The column eq/ne compare: the normalised E.164 one for phone fields."""
    return getattr(Customer, PHONE_COLUMNS[f.name]) if f.kind == "phone" else f.column


def _eq(f: Field, value: Any) -> ColumnElement[bool]:
    v = f.coerce(value)
    if f.kind == "phone":
        v = normalize_phone(v)
        if v is None:
            raise InvalidQuery("query.bad_value", field=f.name, value=_shown(value))
    if _means_empty(f, v):
        return _is_empty(f, value)
    if isinstance(v, Day):
        return and_(f.column >= v.start, f.column < v.end)
    return _compared(f) == v


def _ne(f: Field, value: Any) -> ColumnElement[bool]:
    """The negation of eq, rows without a value included."""
    if _means_empty(f, f.coerce(value)):
        return _is_not_empty(f, value)
    return or_(not_(_eq(f, value)), _compared(f).is_(None))


def _ordered(f: Field, op: str, value: Any) -> Any:
    if f.kind not in ("text", "int", "datetime"):
        raise f.refuse(op)
    v = f.coerce(value)
    if v == "":
        raise InvalidQuery("query.bad_value", field=f.name, value="")
    return v


def _ge(f: Field, value: Any) -> ColumnElement[bool]:
    v = _ordered(f, "ge", value)
    return f.column >= (v.start if isinstance(v, Day) else v)


def _lt(f: Field, value: Any) -> ColumnElement[bool]:
    v = _ordered(f, "lt", value)
    return f.column < (v.start if isinstance(v, Day) else v)


def _le(f: Field, value: Any) -> ColumnElement[bool]:
    """For a bare date: up to the end of that day."""
    v = _ordered(f, "le", value)
    return f.column < v.end if isinstance(v, Day) else f.column <= v


OPERATORS: dict[str, Callable[[Field, Any], ColumnElement[bool]]] = {
    "contains": _contains, "eq": _eq, "ge": _ge, "lt": _lt, "le": _le, "ne": _ne,
    "not_contains": _not_contains, "is_empty": _is_empty, "is_not_empty": _is_not_empty,
}


# -- the tree -------------------------------------------------------------------------------

def enabled_fields(session: Session) -> set[str]:
    """Whitelisted fields the admin has enabled in the query builder."""
    rows = session.scalars(select(QueryableField.field).where(QueryableField.enabled.is_(True)))
    return set(rows) & set(QUERYABLE_FIELDS)


class _Compiler:
    def __init__(self, session: Session):
        self.fields = enabled_fields(session)
        self.tz = company_tz(session)
        self.conditions = 0

    def node(self, node: Any, depth: int) -> ColumnElement[bool]:
        if not isinstance(node, dict) or not ({"all", "any", "field"} & node.keys()):
            raise InvalidQuery("query.invalid")
        groups = [k for k in ("all", "any") if k in node]
        if groups:
            if len(groups) > 1 or "field" in node:
                raise InvalidQuery("query.invalid")
            return self.group(groups[0], node[groups[0]], depth + 1)
        return self.condition(node)

    def group(self, kind: str, children: Any, depth: int) -> ColumnElement[bool]:
        if depth > MAX_DEPTH:
            raise InvalidQuery("query.too_deep", max=MAX_DEPTH)
        if not isinstance(children, list) or not children:
            raise InvalidQuery("query.invalid")
        parts = [self.node(child, depth) for child in children]
        return and_(*parts) if kind == "all" else or_(*parts)

    def condition(self, node: dict) -> ColumnElement[bool]:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise InvalidQuery("query.too_many_conditions", max=MAX_CONDITIONS)
        name, op = node.get("field"), node.get("op")
        if not isinstance(name, str) or name not in self.fields:
            raise InvalidQuery("query.unknown_field", field=_shown(name))
        if not isinstance(op, str) or op not in OPERATORS:
            raise InvalidQuery("query.unknown_operator", op=_shown(op))
        # getattr only after the whitelist check above
        field = Field(name, QUERYABLE_FIELDS[name], getattr(Customer, name), self.tz)
        return OPERATORS[op](field, node.get("value"))


def compile_query(session: Session, tree: Any) -> Select:
    """`select(Customer)` filtered by `tree`; InvalidQuery for anything not allowed."""
    return select(Customer).where(_Compiler(session).node(tree, 0))


# -- reserve presets ------------------------------------------------------------------------

_PRESET_RECORDS = {"order": Order, "opportunity": Opportunity}
_PRESET_COLUMNS = {"industries": "industry", "cities": "city", "sources": "source"}
PRESETS = tuple(f"{r}_{c}" for r in _PRESET_RECORDS for c in _PRESET_COLUMNS)


def preset_query(session: Session, preset: str) -> Select:
    """Reserve customers whose industry/city/source is one that customers with an order
    (order_*) or an opportunity record (opportunity_*) have."""
    if not isinstance(preset, str) or preset not in PRESETS:
        raise InvalidQuery("query.unknown_preset", preset=_shown(preset))
    record_name, plural = preset.split("_", 1)
    record, column_name = _PRESET_RECORDS[record_name], _PRESET_COLUMNS[plural]
    other = aliased(Customer)
    other_column = getattr(other, column_name)
    values = (select(other_column)
              .where(other.id.in_(select(record.customer_id)),
                     other_column.is_not(None), other_column != "")
              .distinct())
    return select(Customer).where(Customer.stage == "reserve",
                                  getattr(Customer, column_name).in_(values))
