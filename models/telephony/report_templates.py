"""Call report templates (issue 13, C10): a manager picks rows, columns and filters, saves them
for himself or shares them with the company; anyone runs the ones they see, on the figures they
may see (models.telephony.call_reports.visible_user_ids).

A spec is plain data, and every part of it is checked against a whitelist when it is saved and
again when it is run (a template saved before a measure was renamed is refused, not guessed):
  rows      agent | team | campaign | none         (the group of each row)
  period    day | week | month | year | none       (the time bucket of each row)
  columns   a non-empty subset of call_reports.MEASURES, kept in that order
  range     today | this_week | this_month | last_month | this_year | custom (from, to)
  user_id, team_id, campaign_id                    (ids of existing rows, or absent)
  directions                                       (a non-empty subset of DIRECTIONS, or absent)
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.reports import bucket_start, today
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.schema import Campaign, ReportTemplate, User
from models.telephony.call_reports import (
    DIRECTIONS,
    GROUPS,
    MEASURES,
    PERIODS,
    Filters,
    visible_user_ids,
)

ROWS = (*GROUPS, "none")
ROW_PERIODS = (*PERIODS, "none")
RANGES = ("today", "this_week", "this_month", "last_month", "this_year", "custom")
NAME_MAX = 100


def may_save(viewer: User) -> bool:
    """Managers (and admins) save templates; everybody runs the ones they see."""
    return viewer.sees_all


def _choice(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise InvalidValue(field=field)
    return value


def _id(session: Session, value: Any, model, field: str) -> int | None:
    if value in (None, ""):
        return None
    text = str(value)
    if not text.isdigit() or session.get(model, int(text)) is None:
        raise InvalidValue(field=field)
    return int(text)


def _date(value: Any, field: str) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidValue(field=field) from None


def clean_spec(session: Session, raw: dict) -> dict:
    """The spec with every part checked (see the module's docstring); InvalidValue otherwise."""
    columns = raw.get("columns") or []
    if isinstance(columns, str) or not all(c in MEASURES for c in columns) or not columns:
        raise InvalidValue(field="column")
    spec = {"rows": _choice(raw.get("rows"), ROWS, "rows"),
            "period": _choice(raw.get("period"), ROW_PERIODS, "period"),
            "columns": [m for m in MEASURES if m in columns],
            "range": _choice(raw.get("range"), RANGES, "preset")}
    if spec["range"] == "custom":
        spec["from"], spec["to"] = _date(raw.get("from"), "from"), _date(raw.get("to"), "to")
        if spec["to"] < spec["from"]:
            raise InvalidValue(field="to")
    for key, model in (("user_id", User), ("team_id", Campaign), ("campaign_id", Campaign)):
        value = _id(session, raw.get(key), model, key)
        if value is not None:
            spec[key] = value
    directions = raw.get("directions")
    if directions:
        if isinstance(directions, str) or not set(directions) <= set(DIRECTIONS):
            raise InvalidValue(field="direction")
        spec["directions"] = [d for d in DIRECTIONS if d in directions]
    return spec


def date_range(session: Session, spec: dict, now: dt.datetime) -> tuple[dt.date, dt.date]:
    day = today(session, now)
    kind = spec["range"]
    if kind == "custom":
        return dt.date.fromisoformat(spec["from"]), dt.date.fromisoformat(spec["to"])
    if kind == "today":
        return day, day
    if kind == "this_week":
        return bucket_start(day, "week"), day
    if kind == "this_month":
        return bucket_start(day, "month"), day
    if kind == "last_month":
        last = bucket_start(day, "month") - dt.timedelta(days=1)
        return bucket_start(last, "month"), last
    return bucket_start(day, "year"), day


def run_args(session: Session, viewer: User, spec: dict,
             now: dt.datetime) -> tuple[Filters, str | None, str | None]:
    """(filters, group, period) of call_reports.call_figures for `viewer` (checked again)."""
    spec = clean_spec(session, spec)
    start, end = date_range(session, spec, now)
    users = visible_user_ids(viewer)
    if spec.get("user_id") is not None:
        if users is not None and spec["user_id"] not in users:
            raise PermissionDenied()
        users = (spec["user_id"],)
    filters = Filters(start, end, user_ids=users, team_id=spec.get("team_id"),
                      campaign_id=spec.get("campaign_id"),
                      directions=tuple(spec["directions"]) if spec.get("directions") else None)
    group = None if spec["rows"] == "none" else spec["rows"]
    period = None if spec["period"] == "none" else spec["period"]
    filters.check(period)
    return filters, group, period


def _name(value: Any) -> str:
    name = " ".join(str(value or "").split())
    if not name or len(name) > NAME_MAX:
        raise InvalidValue(field="template_name")
    return name


def save_template(session: Session, viewer: User, name: Any, raw: dict, *, shared: bool = False,
                  clock=SYSTEM_CLOCK) -> ReportTemplate:
    if not may_save(viewer):
        raise PermissionDenied()
    now = clock.now()
    template = ReportTemplate(owner_id=viewer.id, name=_name(name), shared=bool(shared),
                              spec=clean_spec(session, raw), created_at=now, updated_at=now)
    session.add(template)
    session.flush()
    return template


def templates_for(session: Session, viewer: User) -> list[ReportTemplate]:
    """The viewer's own templates and the ones shared with the company, by name."""
    return list(session.scalars(
        select(ReportTemplate)
        .where(or_(ReportTemplate.owner_id == viewer.id, ReportTemplate.shared.is_(True)))
        .order_by(ReportTemplate.name, ReportTemplate.id)))


def get_template(session: Session, viewer: User, template_id: int) -> ReportTemplate:
    template = session.get(ReportTemplate, template_id)
    if template is None or not (template.owner_id == viewer.id or template.shared):
        raise NotFound()
    return template


def delete_template(session: Session, viewer: User, template_id: int) -> None:
    """Its owner deletes it (an admin any shared one)."""
    template = get_template(session, viewer, template_id)
    if template.owner_id != viewer.id and not viewer.role.is_admin:
        raise PermissionDenied()
    session.delete(template)
    session.flush()
