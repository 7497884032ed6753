"""GET /calls/unanswered: unanswered inbound calls (abandoned in the queue, ended in the IVR,
after hours or in voicemail) for callback, to managers and the matched customer's agents
(models.telephony.call_history). Also the labels the calls section shows."""
from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _

from models.telephony.call_history import unanswered_inbound

from ..campaigns.common import disposition_label, outcome_label
from ..context import current_user, db
from ..forms import local_dt
from ..paging import page_number, page_size, page_url
from . import bp


@bp.app_template_global()
def call_direction(direction: str) -> str:
    return {"inbound": _("Inbound"), "dialer": _("Dialer"), "manual": _("Outbound (dialled)"),
            "click_to_call": _("Click-to-call"), "internal": _("Internal")}.get(direction, direction)


@bp.app_template_global()
def call_outcome(outcome: str) -> str:
    return {"no_answer": _("Not answered"), "in_progress": _("In progress")}.get(outcome) \
        or outcome_label(outcome)


@bp.app_template_global()
def call_disposition(value: str | None) -> str:
    return disposition_label(value) if value else ""


@bp.app_template_global()
def call_seconds(seconds: float | None) -> str:
    seconds = int(round(seconds or 0))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else \
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@bp.route("/calls/unanswered")
def unanswered():
    per, page = page_size(), page_number()
    rows = unanswered_inbound(db(), current_user(), limit=per + 1, offset=(page - 1) * per)
    db().commit()
    return render_template("calls/unanswered.html", rows=rows[:per], page=page,
                           more=len(rows) > per, local_dt=local_dt,
                           page_url=page_url)
