"""Call reports (issue 13, C10): the daily call-volume report per salesperson (电话日访问量统计
报表), a report built from rows, columns and filters, and the templates a manager saves of it.
Every page prints (print=1) and exports to .xlsx (export=xlsx). Figures: models.telephony."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.crm.reports import default_report_range, may_review_others, team_members
from models.dialer.state_time import state_time
from models.errors import InvalidValue
from models.telephony import report_templates as templates
from models.telephony.call_reports import (
    DIRECTIONS,
    DURATIONS,
    MEASURES,
    NO_CAMPAIGN,
    Filters,
    call_figures,
    campaign_choices,
    visible_user_ids,
)

from ..campaigns.common import disposition_label
from ..context import clock, current_user, db
from ..forms import guarded, parse_date
from ..spreadsheet import export_response
from . import bp
from .pages import bucket_label, duration

DAILY_COLUMNS = ("calls_made", "calls_answered", "talk_seconds", "customers_reached",
                 "contact_records", "successes")
DEFAULT_SPEC = {"rows": "agent", "period": "day", "range": "this_month",
                "columns": ["calls_made", "calls_answered", "total_calls", "talk_seconds",
                            "handle_seconds", "successes"]}


def measure_labels() -> dict[str, str]:
    return {"calls_made": _("Calls made"), "calls_answered": _("Calls answered"),
            "total_calls": _("Total calls"), "talk_seconds": _("Talk time"),
            "hold_seconds": _("Hold time"), "wrap_up_seconds": _("Wrap-up time"),
            "handle_seconds": _("Average handle time"),
            "customers_reached": _("Customers reached"), "contact_records": _("Contact records"),
            "successes": _("Successes"), "dispositions": _("Dispositions")}


def group_labels() -> dict[str, str]:
    return {"agent": _("Salesperson"), "team": _("Team"), "campaign": _("Campaign"),
            "none": _("All together")}


def period_labels() -> dict[str, str]:
    return {"day": _("By day"), "week": _("By week"), "month": _("By month"),
            "year": _("By year"), "none": _("Whole range")}


def range_labels() -> dict[str, str]:
    return {"today": _("Today"), "this_week": _("This week"), "this_month": _("This month"),
            "last_month": _("Last month"), "this_year": _("This year"),
            "custom": _("Dates below")}


def direction_labels() -> dict[str, str]:
    return {"inbound": _("Inbound"), "dialer": _("Dialer"), "manual": _("Dialled by hand"),
            "click_to_call": _("Click-to-call")}


# -- the table ------------------------------------------------------------------------------

class Table:
    """Headers and rows of a call report, for the page (text) and the spreadsheet (values)."""

    def __init__(self, rows, group, period, measures):
        self.group, self.period = group, period
        codes = sorted({code for r in rows for code in r.figures.dispositions})
        self.columns = []                        # (measure, disposition code or None)
        for m in measures:
            if m == "dispositions":
                self.columns += [("dispositions", code) for code in codes]
            else:
                self.columns.append((m, None))
        labels = measure_labels()
        self.keys = ([_("Period")] if period else []) + ([group_labels()[group]] if group else [])
        self.headers = [disposition_label(code) if code else labels[m]
                        for m, code in self.columns]
        self.rows = rows

    def label_cells(self, row) -> list[str]:
        cells = []
        if self.period:
            cells.append(bucket_label(row.bucket, self.period))
        if self.group:
            cells.append(self.name(row))
        return cells

    def name(self, row) -> str:
        if row.key is None:
            return _("Total") if self.period is None or row.bucket is None else ""
        if self.group == "campaign" and row.key == NO_CAMPAIGN:
            return _("No campaign")
        return row.name or ""

    @staticmethod
    def value(row, column):
        measure, code = column
        if code is not None:
            return row.figures.dispositions.get(code, 0)
        return row.figures.value(measure)

    def text(self, row, column) -> str:
        value = self.value(row, column)
        if value is None:
            return ""
        return duration(value) if column[0] in DURATIONS else str(value)

    def export(self, filename):
        seconds = _("(seconds)")
        headers = self.keys + [f"{h} {seconds}" if m in DURATIONS else h
                               for h, (m, _c) in zip(self.headers, self.columns)]
        body = ([*self.label_cells(r), *(self.value(r, c) for c in self.columns)]
                for r in self.rows)
        return export_response(headers, body, filename, "xlsx")


def _respond(table: Table, filename: str, page: str, **context):
    viewer = current_user()
    if request.args.get("export"):
        if request.args["export"] != "xlsx":
            abort(400)
        if not viewer.role.can_export:
            abort(403)
        return table.export(filename)
    args = {k: v for k, v in request.args.to_dict(flat=False).items()
            if k not in ("print", "export")}

    def this_page(**extra) -> str:
        return url_for(request.endpoint, **request.view_args, **args, **extra)
    return render_template(page, tab="calls", table=table,
                           printing=bool(request.args.get("print")),
                           can_export=viewer.role.can_export, this_page=this_page, **context)


def _agents():
    return [(u.id, u.full_name) for u in team_members(db())]


def _teams():
    return campaign_choices(db())


# -- 电话日访问量统计报表 ----------------------------------------------------------------------

@bp.route("/review/calls")
def call_daily():
    session, viewer = db(), current_user()
    start, end = parse_date(request.args.get("from"), "from"), parse_date(request.args.get("to"),
                                                                          "to")
    if start is None or end is None:
        first, last = default_report_range(session, "day", clock().now())
        start, end = start or first, end or last
    users = visible_user_ids(viewer)
    manager = may_review_others(viewer)
    user_id = _int_arg("user_id") if manager else None
    team_id = _int_arg("team_id") if manager else None
    if user_id is not None:
        users = (user_id,)
    filters = Filters(start, end, user_ids=users, team_id=team_id)
    rows = call_figures(session, filters, group="agent", period="day")
    table = Table(rows, "agent", "day", DAILY_COLUMNS)
    states = state_time(session, start, end, now=clock().now(), user_ids=users)
    return _respond(table, "daily-calls", "analysis/call_daily.html", start=start, end=end,
                    states=states, duration=duration,
                    manager=manager, agents=_agents() if manager else [],
                    teams=_teams() if manager else [], user_id=user_id, team_id=team_id)


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidValue(field=name)
    return int(raw)


# -- a report from rows, columns and filters -------------------------------------------------

def _spec_from(form) -> dict:
    return {"rows": form.get("rows"), "period": form.get("period"),
            "columns": form.getlist("columns"), "range": form.get("range"),
            "from": form.get("from"), "to": form.get("to"), "user_id": form.get("user_id"),
            "team_id": form.get("team_id"), "campaign_id": form.get("campaign_id"),
            "directions": form.getlist("directions")}


def _run(spec: dict) -> tuple[Table, Filters, dict]:
    session, viewer = db(), current_user()
    spec = templates.clean_spec(session, spec)
    filters, group, period = templates.run_args(session, viewer, spec, clock().now())
    rows = call_figures(session, filters, group=group, period=period)
    return Table(rows, group, period, spec["columns"]), filters, spec


def _builder_context(spec: dict) -> dict:
    viewer = current_user()
    manager = may_review_others(viewer)
    return dict(spec=spec, manager=manager, may_save=templates.may_save(viewer),
                agents=_agents() if manager else [], teams=_teams(), measures=MEASURES,
                measure_labels=measure_labels(), group_labels=group_labels(),
                period_labels=period_labels(), range_labels=range_labels(),
                directions=DIRECTIONS, direction_labels=direction_labels(),
                rows_choices=templates.ROWS, period_choices=templates.ROW_PERIODS,
                range_choices=templates.RANGES)


@bp.route("/review/calls/custom")
def call_custom():
    spec = _spec_from(request.args) if request.args.get("rows") else dict(DEFAULT_SPEC)
    table, filters, spec = _run(spec)
    return _respond(table, "call-report", "analysis/call_custom.html", filters=filters,
                    **_builder_context(spec))


# -- templates ------------------------------------------------------------------------------

@bp.route("/review/calls/templates")
def call_templates():
    session, viewer = db(), current_user()
    return render_template("analysis/call_templates.html", tab="calls",
                           templates=templates.templates_for(session, viewer),
                           may_save=templates.may_save(viewer), viewer=viewer,
                           summary=_summary)


def _summary(spec: dict) -> str:
    labels = measure_labels()
    parts = [group_labels().get(spec.get("rows"), ""), period_labels().get(spec.get("period"), ""),
             range_labels().get(spec.get("range"), "")]
    if spec.get("range") == "custom":
        parts[-1] = f"{spec.get('from')} ~ {spec.get('to')}"
    return " · ".join(parts) + ": " + "、".join(labels.get(c, c) for c in spec.get("columns", []))


@bp.route("/review/calls/templates", methods=["POST"])
def call_template_save():
    viewer = current_user()
    template = templates.save_template(db(), viewer, request.form.get("name"),
                                       _spec_from(request.form),
                                       shared=request.form.get("shared") == "1", clock=clock())
    db().commit()
    flash(_("Saved the report template %(name)s.", name=template.name), "success")
    return redirect(url_for("analysis.call_template_run", template_id=template.id))


@bp.route("/review/calls/templates/<int:template_id>")
def call_template_run(template_id):
    template = templates.get_template(db(), current_user(), template_id)
    table, filters, spec = _run(template.spec)
    return _respond(table, "call-report", "analysis/call_template.html", template=template,
                    filters=filters, spec=spec, summary=_summary)


@bp.route("/review/calls/templates/<int:template_id>/delete", methods=["POST"])
def call_template_delete(template_id):
    guarded(templates.delete_template, db(), current_user(), template_id)
    db().commit()
    flash(_("Deleted."), "success")
    return redirect(url_for("analysis.call_templates"))
