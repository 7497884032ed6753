"""The IVR call log (T2): what each caller did, and callbacks waiting for a person."""
from __future__ import annotations

from flask import render_template, request

from models.telephony.ivr import recent_ivr_calls, unassigned_callbacks

from ..context import db
from . import bp

OUTCOMES = ("TRANSFER", "VOICEMAIL", "FAX", "CALLBACK", "COMPLETED", "FAILED", "HANGUP", "OPTOUT",
            "NOFLOW", "ERROR", "DBERROR")


@bp.route("/ivr-calls")
def ivr_calls():
    outcome = request.args.get("outcome")
    outcome = outcome if outcome in OUTCOMES else None
    session = db()
    return render_template("manage/ivr_calls.html", calls=recent_ivr_calls(session, limit=200,
                                                                          outcome=outcome),
                           waiting=unassigned_callbacks(session, limit=50), outcome=outcome,
                           outcomes=OUTCOMES)
