"""C10 review and analysis: work review, charts and reports (numbers from models.crm.reports)."""
from __future__ import annotations

import datetime as dt

from flask import abort, render_template, request
from flask_babel import gettext as _

from models.company import company_tz
from models.crm.reports import (
    METRICS,
    PERIODS,
    REVIEW_PRESETS,
    STAGE_MOVE_STAGES,
    ReportRow,
    check_range,
    customers_by,
    default_report_range,
    may_review_others,
    report,
    resolve_scope,
    review_counts,
    review_lists,
    review_range,
    stage_funnel,
    team_members,
    today,
    weekly_sales,
)
from models.errors import InvalidValue
from models.telephony.call_reports import Filters, call_figures, totals_for, visible_user_ids

from ..campaigns.common import disposition_label
from ..context import clock, current_user, db
from ..labels import field_label, stage_label
from ..spreadsheet import export_response
from . import bp, charts


EXPORT_FORMATS = ("xlsx", "csv")
LIST_LIMIT = 100


def method_label(method: str) -> str:
    return {"phone": _("Phone call"), "visit": _("Visit"), "email": _("E-mail"), "sms": _("SMS"),
            "fax": _("Fax"), "qq": "QQ", "wechat": _("WeChat"),
            "other": _("Other")}.get(method, method)


def metric_labels() -> dict[str, str]:
    moves = {f"to_{stage}": _("→ %(stage)s", stage=stage_label(stage))
             for stage in STAGE_MOVE_STAGES}
    return {"contact_records": _("Contact records"), "new_customers": _("New customers"),
            **moves, "opportunities": _("Opportunities"),
            "opportunity_amount": _("Opportunity amount"), "orders": _("Orders"),
            "order_value": _("Order value"), "calls_made": _("Calls made"),
            "calls_answered": _("Calls answered"), "talk_seconds": _("Talk time"),
            "handle_seconds": _("Average handle time"), "successes": _("Successes")}


# The call figures (models.telephony.call_reports) the review's report shows beside METRICS.
CALL_COLUMNS = ("calls_made", "calls_answered", "talk_seconds", "handle_seconds", "successes")
COLUMNS = (*METRICS, *CALL_COLUMNS)


def period_choice_label(period: str) -> str:
    return {"day": _("By day"), "week": _("By week"), "month": _("By month"),
            "year": _("By year")}.get(period, period)


def bucket_label(bucket: dt.date | None, period: str) -> str:
    if bucket is None:
        return _("Total")
    if period == "week":
        return f"{bucket:%Y-%m-%d} ~ {bucket + dt.timedelta(days=6):%m-%d}"
    if period == "month":
        return f"{bucket:%Y-%m}"
    if period == "year":
        return f"{bucket:%Y}"
    return f"{bucket:%Y-%m-%d}"


def money(value) -> str:
    return f"{value:,.2f}"


def _date(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidValue(field=name) from None


def _scope_choices(viewer) -> list[tuple[str, str]]:
    """(scope key, label) a manager may pick; others only review themselves."""
    if not may_review_others(viewer):
        return []
    choices = [("me", _("Me")), ("team", _("Whole team"))]
    choices += [(f"user:{u.id}", u.full_name) for u in team_members(db()) if u.id != viewer.id]
    return choices


def _scope_label(scope) -> str:
    if scope.kind == "team":
        return _("Whole team")
    return scope.user.full_name if scope.user is not None else ""


def _when(moment, tz) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""


@bp.route("/review")
def review():
    session, viewer = db(), current_user()
    scope = resolve_scope(session, viewer, request.args.get("scope"))
    preset = request.args.get("preset")
    start, end = _date("from"), _date("to")
    if start is None and end is None:
        preset = preset if preset in REVIEW_PRESETS else "today"
        start, end = review_range(session, preset, clock().now())
    else:
        preset = None
        start, end = start or end, end or start
        check_range(start, end, "month")
    counts = review_counts(session, scope, start, end)
    calls = totals_for(session, Filters(start, end, user_ids=scope.user_ids))
    lists = review_lists(session, viewer, scope, start, end, limit=LIST_LIMIT)
    return render_template(
        "analysis/review.html", tab="review", scope=scope, scope_label=_scope_label(scope),
        scope_choices=_scope_choices(viewer), preset=preset, presets=REVIEW_PRESETS,
        start=start, end=end, counts=counts, calls=calls, lists=lists, limit=LIST_LIMIT,
        money=money, duration=duration, disposition_label=disposition_label,
        when=lambda m: _when(m, company_tz(session)), method_label=method_label)


@bp.route("/review/charts", endpoint="charts")
def charts_page():
    session, viewer = db(), current_user()
    funnel = [(stage_label(stage), n) for stage, n in stage_funnel(session, viewer)]
    bars = {}
    for name in ("source", "industry", "city"):
        rows = [(value if value is not None else _("(not set)"), n)
                for value, n in customers_by(session, viewer, name)]
        bars[name] = charts.bar_chart(rows, title=_("Customers by %(field)s",
                                                    field=field_label(name)),
                                      empty=_("No customers yet."))
    weeks = weekly_sales(session, viewer, clock().now())
    labels = [f"{w.week:%m-%d}" for w in weeks]
    counts = charts.line_chart(
        labels, [(_("Opportunities"), [w.opportunities for w in weeks]),
                 (_("Orders"), [w.orders for w in weeks])],
        title=_("Opportunities and orders per week"))
    amounts = charts.line_chart(
        labels, [(_("Opportunity amount"), [w.opportunity_amount for w in weeks]),
                 (_("Order value"), [w.order_value for w in weeks])],
        title=_("Amounts per week"), fmt=lambda v: f"{v:,.0f}")
    calls = _call_charts(session, viewer)
    return render_template(
        "analysis/charts.html", tab="charts", calls=calls,
        funnel=charts.funnel_chart(funnel, title=_("Stage funnel")), funnel_rows=funnel,
        bars=bars, counts=counts, amounts=amounts, weeks=weeks, money=money,
        field_label=field_label)


CALL_CHART_DAYS = 14


def _call_charts(session, viewer) -> dict:
    """Calls per day (the last two weeks), calls per agent and dispositions (this month), of
    the calls the viewer may see (his own; a manager everybody's)."""
    now = clock().now()
    end = today(session, now)
    users = visible_user_ids(viewer)
    days = call_figures(session, Filters(end - dt.timedelta(days=CALL_CHART_DAYS - 1), end,
                                         user_ids=users), group=None, period="day",
                        totals=False)
    per_day = {r.bucket: r.figures for r in days}
    labels, made, answered = [], [], []
    for i in range(CALL_CHART_DAYS):
        day = end - dt.timedelta(days=CALL_CHART_DAYS - 1 - i)
        figures = per_day.get(day)
        labels.append(f"{day:%m-%d}")
        made.append(figures.calls_made if figures else 0)
        answered.append(figures.calls_answered if figures else 0)
    month = Filters(end.replace(day=1), end, user_ids=users)
    agents = [r for r in call_figures(session, month, group="agent", period=None)
              if r.key is not None]
    agents.sort(key=lambda r: (-r.figures.total_calls, r.name or ""))
    total = next((r.figures for r in call_figures(session, month, group=None, period=None)),
                 None)
    dispositions = sorted((total.dispositions if total else {}).items(),
                          key=lambda kv: (-kv[1], kv[0]))
    return dict(
        per_day=charts.line_chart(labels, [(_("Calls made"), made),
                                           (_("Calls answered"), answered)],
                                  title=_("Calls per day")),
        per_agent=charts.bar_chart([(r.name or "", r.figures.total_calls) for r in agents[:10]],
                                   title=_("Calls per salesperson this month"),
                                   empty=_("No calls yet.")),
        dispositions=charts.bar_chart([(disposition_label(c), n) for c, n in dispositions],
                                      title=_("Dispositions this month"),
                                      empty=_("No calls yet.")))


@bp.route("/review/reports")
def reports():
    session, viewer = db(), current_user()
    scope = resolve_scope(session, viewer, request.args.get("scope"))
    period = request.args.get("period", "day")
    if period not in PERIODS:
        raise InvalidValue(field="period")
    start, end = _date("from"), _date("to")
    if start is None or end is None:
        default_start, default_end = default_report_range(session, period, clock().now())
        start, end = start or default_start, end or default_end
    check_range(start, end, period)
    rows = with_calls(session, scope, period, start, end,
                      report(session, scope, period, start, end))
    labels = metric_labels()

    fmt = request.args.get("export")
    if fmt:
        if not viewer.role.can_export:
            abort(403)
        if fmt not in EXPORT_FORMATS:
            abort(400)
        return _export(rows, period, labels, fmt)
    template = "analysis/reports_print.html" if request.args.get("print") else \
        "analysis/reports.html"
    return render_template(
        template, tab="reports", scope=scope, scope_label=_scope_label(scope),
        scope_choices=_scope_choices(viewer), period=period, periods=PERIODS,
        period_choice_label=period_choice_label, start=start, end=end, rows=rows,
        metrics=COLUMNS, labels=labels, bucket_label=lambda b: bucket_label(b, period),
        cell=_cell, agent=_agent, can_export=viewer.role.can_export)


def with_calls(session, scope, period, start, end, rows):
    """The report's rows with the call figures of the same agent and period added; an agent
    with calls and nothing else gets a row of his own."""
    by_cell = {(r.bucket, r.user_id): r for r in rows}
    filters = Filters(start, end, user_ids=scope.user_ids)
    figures = call_figures(session, filters, group="agent", period=period)
    if scope.kind == "team":           # and the team's total per period
        figures += call_figures(session, filters, group=None, period=period, totals=False)
    else:
        figures = [f for f in figures if f.key is not None]
    for f in figures:
        row = by_cell.get((f.bucket, f.key))
        if row is None:
            row = by_cell[(f.bucket, f.key)] = ReportRow(f.bucket, f.key, f.name)
        for column in CALL_COLUMNS:
            row.values[column] = f.figures.value(column)
    for row in by_cell.values():
        for column in CALL_COLUMNS:
            row.values.setdefault(column, 0)
    return sorted(by_cell.values(), key=lambda r: (
        r.bucket is None, r.bucket or dt.date.min, r.user_id is None, r.user_name or "",
        r.user_id or 0))


def duration(seconds: int) -> str:
    """Talk time as H:MM:SS."""
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _cell(row, metric: str) -> str:
    value = row.values[metric]
    if metric in ("talk_seconds", "handle_seconds"):
        return duration(value)
    return money(value) if metric in ("opportunity_amount", "order_value") else str(value)


def _agent(row) -> str:
    return row.user_name if row.user_id is not None else _("Team total")


def _export(rows, period, labels, fmt):
    headers = [_("Period"), _("Agent"), *(labels[m] for m in COLUMNS)]
    body = ([bucket_label(r.bucket, period), _agent(r), *(r.values[m] for m in COLUMNS)]
            for r in rows)
    return export_response(headers, body, "report", fmt)

