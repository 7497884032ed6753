"""A voice campaign's flow results (T9): heard to the end, each key's share, survey answers
per question (charts, xlsx/csv), opt-outs; managers only."""
from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _

from models.dialer.campaign_stats import visible_campaign
from models.dialer.voice import voice_report

from ..analysis.charts import bar_chart
from ..context import current_user, db
from ..spreadsheet import export_response
from . import bp
from .common import manager_only

EXPORT_FORMATS = ("xlsx", "csv")


def outcome_text(outcome: str) -> str:
    return {"COMPLETED": _("Heard to the end"), "TRANSFER": _("Put through to an agent"),
            "CALLBACK": _("Callback booked (no agent free)"), "OPTOUT": _("Opted out"),
            "HANGUP": _("Hung up early"), "FAILED": _("No valid key"),
            "ERROR": _("System error")}.get(outcome, outcome)


def rows_of(report) -> list[list]:
    """The report as one table: section, item, count, share of the answered calls."""
    rows = [[_("Calls"), _("Answered"), report.answered, 1.0 if report.answered else 0.0],
            [_("Calls"), _("Heard to the end"), report.heard_to_end,
             report.share(report.heard_to_end)],
            [_("Calls"), _("Opted out"), report.opted_out, report.share(report.opted_out)]]
    rows += [[_("Outcome"), outcome_text(o), n, report.share(n)] for o, n in report.outcomes.items()]
    rows += [[_("Key pressed"), k, n, report.share(n)] for k, n in report.keys.items()]
    for question, answers in report.answers.items():
        total = sum(answers.values())
        rows += [[_("Question %(name)s", name=question), a, n, n / total]
                 for a, n in answers.items()]
    return rows


@bp.route("/campaigns/<int:campaign_id>/voice-results")
def voice_results(campaign_id):
    manager_only()
    session, user = db(), current_user()
    campaign = visible_campaign(session, user, campaign_id)
    report = voice_report(session, campaign.id)
    session.commit()
    fmt = request.args.get("export")
    if fmt:
        if not user.role.can_export:
            abort(403)
        if fmt not in EXPORT_FORMATS:
            abort(400)
        return export_response([_("Result kind"), _("Result item"), _("Calls"), _("Share")],
                               rows_of(report), f"{campaign.name}-voice", fmt)
    percent = lambda v: f"{v * 100:.1f}%"  # noqa: E731
    keys_chart = bar_chart([(_("Key %(key)s", key=k), report.share(n) * 100)
                            for k, n in report.keys.items()],
                           title=_("Share of calls by key pressed"),
                           fmt=lambda v: f"{v:.1f}%", empty=_("No keys pressed yet."))
    answer_charts = {q: bar_chart([(a, n) for a, n in answers.items()],
                                  title=_("Answers to %(name)s", name=q))
                     for q, answers in report.answers.items()}
    export_urls = {f: url_for("campaigns.voice_results", campaign_id=campaign.id, export=f)
                   for f in EXPORT_FORMATS}
    return render_template("campaigns/voice_results.html", campaign=campaign, report=report,
                           outcome_text=outcome_text, percent=percent, keys_chart=keys_chart,
                           answer_charts=answer_charts, can_export=user.role.can_export,
                           export_urls=export_urls)
