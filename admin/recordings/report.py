"""The quality report (issue 16): GET /quality/report?from=&to= — scores by agent, team and
week with the weekly trend (admin/analysis/charts.py's SVG line chart), the items most often
failed, and the talk figures per agent. For managers and reviewers."""
from __future__ import annotations

import datetime as dt

from flask import abort, render_template, request
from flask_babel import gettext as _

from models.errors import DomainError
from models.quality import reports

from ..analysis.charts import line_chart
from ..context import current_user, db, refusal_text
from ..forms import parse_date, tz
from . import bp


def _start(day):
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz()).astimezone(dt.timezone.utc) if day else None


@bp.route("/quality/report")
def quality_report():
    session, user = db(), current_user()
    if not (user.role.can_manage or user.role.can_hear_others_recordings):
        abort(403)
    error = None
    try:
        since = _start(parse_date(request.args.get("from"), "from"))
        to = parse_date(request.args.get("to"), "to")
        until = _start(to + dt.timedelta(days=1)) if to else None
    except DomainError as exc:
        error, since, until = refusal_text(exc), None, None
    agents = reports.scores_by_agent(session, user, since, until)
    teams = reports.scores_by_team(session, user, since, until)
    weeks = reports.scores_by_week(session, user, since, until)
    failed = reports.most_failed_items(session, user, since, until)
    talk = reports.talk_by_agent(session, user, since, until)
    session.commit()
    chart = line_chart([w.label[5:] for w in weeks], [(_("Mean score"), [w.mean for w in weeks])],
                       title=_("Mean score by week")) if len(weeks) > 1 else None
    return render_template("recordings/report.html", agents=agents, teams=teams, weeks=weeks,
                           failed=failed, talk=talk, chart=chart, error=error,
                           args=request.args), (400 if error else 200)
