"""Home: the sales main line grid (C5)."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from models.dashboard import COLUMNS, PERIODS, dashboard_counts
from models.schema import STAGES

from .context import clock, current_user, db

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    period = request.args.get("period", "day")
    if period not in PERIODS:
        period = "day"
    grid = dashboard_counts(db(), current_user(), period=period, clock=clock())
    # The seed's order of work: by value, closed first.
    return render_template("home.html", grid=grid, stages=list(reversed(STAGES)),
                           columns=COLUMNS, period=period, periods=PERIODS)
