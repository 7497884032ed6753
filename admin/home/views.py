"""Home: the sales main line grid (C5)."""
from __future__ import annotations

from flask import current_app, render_template, request, send_from_directory

from models.crm.dashboard import COLUMNS, PERIODS, dashboard_counts
from models.schema import STAGES

from ..context import clock, current_user, db
from . import bp



@bp.route("/")
def index():
    period = request.args.get("period", "day")
    if period not in PERIODS:
        period = "day"
    grid = dashboard_counts(db(), current_user(), period=period, clock=clock())
    # The seed's order of work: by value, closed first.
    return render_template("home.html", grid=grid, stages=list(reversed(STAGES)),
                           columns=COLUMNS, period=period, periods=PERIODS)


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page links; the same file as the link."""
    return send_from_directory(current_app.static_folder, "favicon.ico",
                               mimetype="image/vnd.microsoft.icon", max_age=86400)
