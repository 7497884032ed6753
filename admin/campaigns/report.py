"""A campaign's reports (by day, agent or outcome; a voice campaign's dial figures with its
line-minutes) and their export; managers only."""
from __future__ import annotations

import datetime as dt

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _

from models.dialer.campaign_stats import REPORTS, report, visible_campaign
from models.dialer.voice_stats import voice_report
from models.errors import InvalidValue
from models.telephony.dispositions import codes as disposition_codes

from ..context import clock, current_user, db
from ..spreadsheet import export_response
from . import bp
from .common import disposition_label, manager_only, outcome_label, percent
from .voice import dial_columns

EXPORT_FORMATS = ("xlsx", "csv")


def _date(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidValue(field=name) from None


def report_columns(by: str, dispositions: list[str] = ()) -> list[tuple[str, str]]:
    """The report's columns; `dispositions`: the codes of the by-agent columns."""
    figures = [("calls", _("Calls")), ("completed", _("Completed")), ("answered", _("Answered")),
               ("abandoned", _("Abandoned")), ("machine", _("Answering machine")),
               ("dead", _("Dead numbers")), ("answer_rate", _("Answer rate")),
               ("abandon_rate", _("Abandon rate")), ("talk_minutes", _("Talk minutes")),
               ("agent_hours", _("Agent hours")),
               ("talk_per_agent_hour", _("Talk minutes per agent-hour"))]
    if by == "day":
        return [("day", _("Date"))] + figures
    if by == "agent":
        return [("name", _("Agent name")), ("calls", _("Calls")), ("talk_minutes", _("Talk minutes")),
                ("agent_hours", _("Agent hours")),
                ("talk_per_agent_hour", _("Talk minutes per agent-hour"))] + \
            [(f"disposition:{d}", disposition_label(d)) for d in dispositions]
    return [("outcome", _("Outcome")), ("calls", _("Calls")), ("share", _("Share")),
            ("talk_minutes", _("Talk minutes"))]


def report_cell(row: dict, column: str, *, for_export: bool = False):
    if column.startswith("disposition:"):
        return row["dispositions"][column.split(":", 1)[1]]
    value = row[column]
    if column == "outcome":
        return outcome_label(value)
    if column == "day":
        return value.isoformat() if value is not None else _("Total")
    if column in ("answer_rate", "abandon_rate", "share"):
        return value if for_export else percent(value)
    if value is None:
        return None if for_export else "—"
    return value


@bp.route("/campaigns/<int:campaign_id>/report")
def report_page(campaign_id):
    manager_only()
    session, user = db(), current_user()
    campaign = visible_campaign(session, user, campaign_id)
    reports = REPORTS + ("dial",) if campaign.mode == "voice" else REPORTS
    by = request.args.get("by", "dial" if campaign.mode == "voice" else "day")
    if by not in reports:
        abort(400)
    start, end = _date("from"), _date("to")
    if by == "dial":
        rows = voice_report(session, campaign.id, clock=clock(), start=start, end=end)
        columns = dial_columns()
    else:
        rows = report(session, campaign.id, by, clock=clock(), start=start, end=end)
        columns = report_columns(by, disposition_codes(session))
    session.commit()
    fmt = request.args.get("export")
    if fmt:
        if not user.role.can_export:
            abort(403)
        if fmt not in EXPORT_FORMATS:
            abort(400)
        return export_response([label for _c, label in columns],
                               ([report_cell(r, c, for_export=True) for c, _l in columns]
                                for r in rows),
                               f"{campaign.name}-{by}", fmt)
    dates = {k: v for k, v in (("from", start), ("to", end)) if v is not None}
    export_urls = {fmt: url_for("campaigns.report_page", campaign_id=campaign.id, by=by,
                                export=fmt, **dates) for fmt in EXPORT_FORMATS}
    return render_template("campaigns/report.html", campaign=campaign, by=by, rows=rows,
                           columns=columns, cell=report_cell, start=start, end=end,
                           reports=reports, can_export=user.role.can_export,
                           export_urls=export_urls)
