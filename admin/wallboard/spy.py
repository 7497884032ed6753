"""Listen (监听), whisper (耳语) and barge (强插) from the wallboard: a POST (CSRF) queues the
request (models.telephony.supervision.request_spy: the one rule of who may supervise whom); the
dialer process rings the manager's phone into ChanSpy. Answers JSON: the request, or the
refusal's text (the app's DomainError handler)."""
from __future__ import annotations

from flask import jsonify

from models.telephony.supervision import may_supervise, request_spy

from ..context import clock, current_user, db, requires
from . import bp


def supervisable(session, user, agent_ids) -> list[int]:
    """The agents on the board the viewer may listen to (the page shows their buttons)."""
    return [int(a) for a in agent_ids
            if int(a) != user.id and may_supervise(session, user, int(a))]


@bp.route("/wallboard/spy/<int:agent_id>/<mode>", methods=["POST"])
@requires("can_manage")
def spy(agent_id: int, mode: str):
    session = db()
    row = request_spy(session, current_user(), agent_id, mode, clock())
    session.commit()
    return jsonify(id=row.id, agent_id=row.agent_id, mode=row.mode, state=row.state), 202
