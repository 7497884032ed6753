"""The supervision log under /manage/supervision (admins only, like all of /manage): every
listen / whisper / barge a manager asked for (models/telephony/supervision.py)."""
from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _

from models.telephony.supervision import recent_spy_sessions

from ..context import db
from . import bp


def mode_label(mode: str) -> str:
    return {"listen": _("Listen"), "whisper": _("Whisper"), "barge": _("Barge")}.get(mode, mode)


def state_label(state: str) -> str:
    return {"queued": _("Queued"), "ringing": _("Ringing the manager"), "active": _("Supervising"),
            "ended": _("Ended"), "failed": _("Not answered")}.get(state, state)


@bp.route("/supervision")
def supervision_log():
    return render_template("manage/supervision.html", rows=recent_spy_sessions(db(), limit=300),
                           mode_label=mode_label, state_label=state_label)
