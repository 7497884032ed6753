"""Customer lists (C6): per stage with mine / shared tabs, the customers behind a home-grid
cell, batch claim / release / stage change, print and export. The detail, tracking and
contact-record pages are beside it (detail.py, tracking.py, records.py)."""
from __future__ import annotations

from dataclasses import replace

from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _

from models.company import company_today
from models.crm.batch import BATCH_ACTIONS, run_batch
from models.crm.lists import (
    LIST_STAGES,
    PRINT_LIMIT,
    SORT_COLUMNS,
    ListSpec,
    allowed_tabs,
    list_page,
    list_rows,
    position_of,
    user_names,
    visible_names,
)
from models.crm.ownership import claims_left
from models.crm.search import quick_search as search_customers
from models.crm.stage_rules import RANK, rule_for
from models.schema import STAGES

from ..context import back, clock, current_user, db, lang, local_path
from ..forms import local_naive, parse_ids
from ..labels import column_label, field_label, mark_label, ownership_label, stage_label
from ..masking import field_value
from ..paging import page_number, page_size
from ..spreadsheet import export_response
from . import bp
from .forms import HELPERS


STAGE_ARG = "<any(%s):stage>" % ",".join(LIST_STAGES)
LIST_COLUMNS = ("name", "contact_person", "phone", "city", "industry", "source",
                "next_callback_at", "last_contacted_at", "updated_at")
EXPORT_FIELDS = ("name", "keyword", "contact_person", "title", "phone", "mobile", "fax", "email",
                 "qq", "im", "website", "address", "province", "city", "industry", "category",
                 "source")


def list_url(spec: ListSpec, page: int | None = None, extra: dict | None = None,
             **override) -> str:
    """URL of a list (stage list or grid cell) with some of its arguments changed."""
    spec = replace(spec, **override) if override else spec
    args = spec.args()
    args.pop("list")
    if page and page > 1:
        args["page"] = page
    if request.args.get("per"):
        args["per"] = page_size()
    args.update(extra or {})
    endpoint = "customers.cell" if spec.is_cell else "customers.stage_list"
    return url_for(endpoint, stage=spec.stage, **args)


def track_url(customer, spec: ListSpec | None) -> str:
    if spec is None:
        return url_for("customers.track", customer_id=customer.id)
    return url_for("customers.track", customer_id=customer.id, at=position_of(customer, spec),
                   **spec.args())


def list_title(spec: ListSpec) -> str:
    if spec.is_cell:
        return "%s · %s" % (stage_label(spec.stage), column_label(spec.column, spec.period))
    return stage_label(spec.stage)


def tab_label(tab: str) -> str:
    return {"mine": _("Mine"), "shared": _("Shared"), "all": _("All")}.get(tab, tab)


def mark_of(customer) -> str:
    """The mark the customer's stage uses (contact mark up to target, else tracking)."""
    if customer.stage in (None, "reserve", "target"):
        return mark_label(customer.contact_mark)
    return mark_label(customer.tracking_mark)


@bp.context_processor
def _helpers():
    return dict(HELPERS, list_url=list_url, track_url=track_url, tab_label=tab_label,
                mark_of=mark_of, LIST_STAGES=LIST_STAGES, STAGES=STAGES)


@bp.route("/customers/" + STAGE_ARG)
def stage_list(stage):
    return _show(ListSpec.parse(current_user(), stage, request.args))


@bp.route("/search")
def quick_search():
    """The top bar's search (name, contact person, keyword, any phone format), for every
    role, within what the user may see."""
    session, user = db(), current_user()
    q = (request.args.get("q") or "").strip()[:100]
    rows, more = search_customers(session, user, q)
    names = user_names(session, [uid for c in rows for uid in c.operator_ids])
    session.commit()
    return render_template("customers/search.html", q=q, rows=rows, more=more, names=names)


@bp.route("/customers/cell")
def cell():
    stage = request.args.get("stage", "")
    if stage not in STAGES or not request.args.get("column"):
        abort(404)
    return _show(ListSpec.parse(current_user(), stage, request.args))


def _show(spec: ListSpec):
    session, user = db(), current_user()
    fmt = request.args.get("export")
    if fmt:
        return _export(spec, fmt)
    if request.args.get("print"):
        rows = list(list_rows(session, user, spec, limit=PRINT_LIMIT + 1, clock=clock()))
        return render_template("customers/print.html", spec=spec, title=list_title(spec),
                               rows=rows[:PRINT_LIMIT], truncated=len(rows) > PRINT_LIMIT,
                               names=user_names(session), columns=LIST_COLUMNS,
                               printed=company_today(session, clock().now()))
    page = list_page(session, user, spec, page_number(), per_page=page_size(), clock=clock())
    names = user_names(session, [uid for c in page.items for uid in c.operator_ids])
    return render_template(
        "customers/list.html", spec=spec, page=page, names=names, title=list_title(spec),
        tabs=allowed_tabs(user, spec.stage), columns=LIST_COLUMNS, sortable=SORT_COLUMNS,
        claims_left=claims_left(session, user, clock=clock()),
        batch_stages=_batch_stages(spec), can_claim=_batch_claim_allowed(spec))


def _batch_stages(spec: ListSpec) -> list[str]:
    """Stages offered by the list's stage change: a reserve list screens up, others move
    anywhere (the archive included, and from the archive list, whose customers have every
    stage); the server decides screen, promote or demote per customer."""
    if spec.stage == "reserve":
        return [s for s in STAGES if RANK[s] > RANK["reserve"]]
    return [s for s in LIST_STAGES if s != spec.stage or s == "archive"]


def _batch_claim_allowed(spec: ListSpec) -> bool:
    if spec.stage == "archive":
        return True
    return bool(rule_for(db(), spec.stage).claim_allowed)


def _export(spec: ListSpec, fmt: str):
    user = current_user()
    if not user.role.can_export:
        abort(403)
    if fmt not in ("xlsx", "csv"):
        abort(404)
    session = db()
    names = user_names(session)
    headers = [field_label(f) for f in EXPORT_FIELDS] + [
        field_label("stage"), field_label("ownership"), _("Operators"),
        field_label("contact_mark"), field_label("tracking_mark"), field_label("next_callback_at"),
        field_label("last_contacted_at"), field_label("updated_at")]

    def rows():
        for c in list_rows(session, user, spec, clock=clock()):
            yield [field_value(c, f, user) for f in EXPORT_FIELDS] + [
                stage_label(c.stage), ownership_label(c.ownership),
                ", ".join(names.get(uid, "") for uid in c.operator_ids),
                mark_label(c.contact_mark), mark_label(c.tracking_mark),
                local_naive(c.next_callback_at), local_naive(c.last_contacted_at),
                local_naive(c.updated_at)]

    day = company_today(session, clock().now())
    return export_response(headers, rows(), f"customers-{spec.stage}-{day:%Y%m%d}", fmt)


@bp.route("/customers/" + STAGE_ARG + "/batch", methods=["POST"])
def batch(stage):
    """Claim, release or change the stage of the ticked customers; one result each."""
    session, user = db(), current_user()
    action = request.form.get("action", "")
    ids = parse_ids(request.form.getlist("ids"))
    if action not in BATCH_ACTIONS:
        abort(400)
    if not ids:
        flash(_("Tick at least one customer."), "warning")
        return back()
    results = run_batch(session, user, action, ids, to_stage=request.form.get("to_stage"),
                        clock=clock())
    session.commit()
    shown = visible_names(session, user, results)
    rows = [dict(id=cid, name=shown.get(cid, "#%d" % cid), ok=refusal is None,
                 message=refusal.message(lang()) if refusal else "")
            for cid, refusal in results.items()]
    done = sum(1 for r in rows if r["ok"])
    back_to = local_path(request.form.get("next")) or url_for("customers.stage_list", stage=stage)
    return render_template("customers/batch.html", rows=rows, done=done, action=action,
                           to_stage=request.form.get("to_stage"), stage=stage, back_to=back_to)

