"""C8 finding customers: the query builder (simple and advanced), the reserve presets,
results within what the user may see, export and print."""
from __future__ import annotations

import json

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _

from models.company import company_tz
from models.crm.finder import (
    OPERATORS_BY_KIND,
    SORTABLE,
    VALUELESS_OPERATORS,
    count_of,
    find_customers,
    offered_fields,
    parse_tree,
    simple_tree,
)
from models.crm.query import MAX_DEPTH, PRESETS
from models.errors import InvalidQuery, InvalidValue
from models.schema import STAGES

from ..context import current_user, db, lang
from ..labels import field_label, mark_label, ownership_label, stage_label
from ..masking import field_value
from ..paging import pages_of
from ..spreadsheet import export_response
from . import bp


PRINT_LIMIT = 2000
EXPORT_LIMIT = 50000
EXPORT_FORMATS = ("xlsx", "csv")
COLUMNS = ("name", "stage", "ownership", "contact_person", "phone", "city", "industry",
           "source", "next_callback_at", "last_contacted_at")
EXPORT_COLUMNS = ("id", "name", "stage", "ownership", "contact_person", "title", "phone",
                  "mobile", "email", "province", "city", "address", "industry", "category",
                  "source", "created_at", "next_callback_at", "last_contacted_at")
CHOICES = {
    "stage": (*STAGES, "archive"),
    "ownership": ("personal", "collaborative", "shared"),
    "contact_mark": ("not_contacted", "contacted"),
    "tracking_mark": ("tracking", "paused"),
    "do_not_call": ("true", "false"),
}


def operator_labels() -> dict[str, str]:
    return {"contains": _("contains"), "eq": _("equals"), "ge": _("at least"),
            "lt": _("less than"), "le": _("at most"), "ne": _("not equal to"),
            "not_contains": _("does not contain"), "is_empty": _("is empty"),
            "is_not_empty": _("is not empty")}


def preset_labels() -> dict[str, str]:
    return {"order_industries": _("Reserve in the industries of our orders"),
            "order_cities": _("Reserve in the cities of our orders"),
            "order_sources": _("Reserve from the sources of our orders"),
            "opportunity_industries": _("Reserve in the industries of our opportunities"),
            "opportunity_cities": _("Reserve in the cities of our opportunities"),
            "opportunity_sources": _("Reserve from the sources of our opportunities")}


def choice_label(field: str, value: str) -> str:
    if field == "stage":
        return stage_label(value)
    if field == "ownership":
        return ownership_label(value)
    if field == "do_not_call":
        return _("Yes") if value == "true" else _("No")
    return mark_label(value)


def builder_config(fields: list[tuple[str, str]]) -> dict:
    """What finder.js needs to build the advanced form (rendered as JSON, escaped)."""
    return {
        "fields": [{"name": name, "label": field_label(name), "kind": kind,
                    "choices": [[v, choice_label(name, v)] for v in CHOICES.get(name, ())]}
                   for name, kind in fields],
        "operators": operator_labels(),
        "byKind": OPERATORS_BY_KIND,
        "valueless": list(VALUELESS_OPERATORS),
        "maxDepth": MAX_DEPTH,
        "text": {"all": _("all of (AND)"), "any": _("any of (OR)"),
                 "addCondition": _("Add condition"), "addGroup": _("Add group"),
                 "remove": _("Remove"), "value": _("Value")},
    }


def describe(tree, depth: int = 0) -> str:
    """The condition tree in words, for the results heading and the print view."""
    if not isinstance(tree, dict):
        return ""
    for kind, joiner in (("all", _(" and ")), ("any", _(" or "))):
        if isinstance(tree.get(kind), list):
            text = joiner.join(describe(child, depth + 1) for child in tree[kind])
            return f"({text})" if depth and len(tree[kind]) > 1 else text
    field, op = str(tree.get("field", "")), str(tree.get("op", ""))
    words = [field_label(field), operator_labels().get(op, op)]
    if op not in VALUELESS_OPERATORS:
        value = str(tree.get("value", ""))
        shown = choice_label(field, value) if value in CHOICES.get(field, ()) else value
        words.append(f"“{shown}”")
    return " ".join(words)


def _when(moment, tz) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""


def _cell(customer, column: str, tz, user=None):
    value = field_value(customer, column, user)
    if column == "stage":
        return stage_label(value)
    if column == "ownership":
        return ownership_label(value)
    if column.endswith("_at"):
        return _when(value, tz)
    return value if value is not None else ""


@bp.route("/find")
def search():
    session, user, args = db(), current_user(), request.args
    mode = "advanced" if args.get("mode") == "advanced" else "simple"
    preset = args.get("preset") or None
    stage = args.get("stage", "")
    sort = args.get("sort") if args.get("sort") in SORTABLE else "id"
    descending = args.get("dir") == "desc"
    fields = offered_fields(session)
    tree, stmt, error = None, None, None
    try:
        if preset:
            stmt = find_customers(session, user, preset=preset, stage=stage, sort=sort,
                                  descending=descending)
        else:
            if mode == "advanced" and args.get("q"):
                tree = parse_tree(args["q"])
            elif mode == "simple" and args.get("field"):
                tree = simple_tree(args.get("field"), args.get("op"), args.get("value"))
            if tree is not None:
                stmt = find_customers(session, user, tree=tree, stage=stage, sort=sort,
                                      descending=descending)
    except (InvalidQuery, InvalidValue) as exc:
        error, stmt = exc.message(lang()), None

    fmt = args.get("export")
    if fmt:
        if not user.role.can_export:
            abort(403)
        if fmt not in EXPORT_FORMATS or stmt is None:
            abort(400, error or _("Search first, then export the results."))
        return _export(session, stmt, fmt)

    tz = company_tz(session)
    total, rows, pager = 0, [], None
    if stmt is not None:
        total = count_of(session, stmt)
        if args.get("print"):
            rows = session.scalars(stmt.limit(PRINT_LIMIT)).all()
            return render_template("finder/print.html", rows=rows, total=total,
                                   columns=COLUMNS, cell=lambda c, col: _cell(c, col, tz),
                                   heading=_heading(preset, tree), limit=PRINT_LIMIT)
        pager = pages_of(total)
        rows = session.scalars(stmt.limit(pager.per_page).offset(pager.offset)).all()

    simple = dict(field=args.get("field", fields[0][0] if fields else ""),
                  op=args.get("op", "contains"), value=args.get("value", ""))
    if mode == "advanced":
        advanced_q = args.get("q", "")
    elif tree is not None:
        advanced_q = json.dumps({"all": [tree]}, ensure_ascii=False)
    else:
        advanced_q = ""
    return render_template(
        "finder/search.html", mode=mode, fields=fields, simple=simple, advanced_q=advanced_q,
        operators=operator_labels(), presets=[(p, preset_labels()[p]) for p in PRESETS],
        preset=preset, stage=stage, stages=(*STAGES, "archive"), sort=sort,
        descending=descending, error=error, searched=stmt is not None, rows=rows, total=total,
        pages=pager, columns=COLUMNS,
        cell=lambda c, col: _cell(c, col, tz), heading=_heading(preset, tree),
        config=builder_config(fields), url_with=_url_with, sortable=SORTABLE,
        can_export=user.role.can_export), 400 if error else 200


def _heading(preset, tree) -> str:
    if preset:
        return preset_labels().get(preset, "")
    return describe(tree) if tree is not None else ""


def _url_with(**changes) -> str:
    """This search's URL with some arguments changed (None drops one)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for("finder.search", **args)


def _export(session, stmt, fmt: str):
    tz = company_tz(session)
    customers = session.scalars(stmt.limit(EXPORT_LIMIT))
    user = current_user()

    def value(customer, column):
        raw = getattr(customer, column)
        if column.endswith("_at"):
            return raw.astimezone(tz).replace(tzinfo=None) if raw else None
        return _cell(customer, column, tz, user)

    rows = ([value(c, column) for column in EXPORT_COLUMNS] for c in customers)
    return export_response([field_label(c) for c in EXPORT_COLUMNS], rows, "customers", fmt)
