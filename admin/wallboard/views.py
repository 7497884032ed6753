"""The wallboard page (managers and admins), its alerts form, and the stream of its changes.

The page gets the viewer's part of the board once; the stream then sends a `board` event (the
whole part) and `diff` events (what changed), cut by models.dialer.wallboard.view from the one
board the process builds (board.py)."""
from __future__ import annotations

import queue
import time
from types import SimpleNamespace

from flask import (Response, current_app, flash, redirect, render_template, request,
                   stream_with_context, url_for)
from flask_babel import gettext as _

from models.dialer import wallboard as rules
from models.errors import DomainError
from models.schema.wallboard import ALERT_KINDS

from ..campaigns.common import pause_label, state_label
from ..context import clock, current_user, db, refusal_text, requires
from . import bp
from .board import board_for
from .spy import supervisable


def kind_label(kind: str) -> str:
    return {"long_call": _("Call longer than (minutes)"),
            "long_pause": _("Paused longer than (minutes)"),
            "queue_wait": _("Queue wait over (seconds)"),
            "abandon_near_cap": _("Abandon rate within (points) of its cap")}.get(kind, kind)


def short_kind_label(kind: str) -> str:
    return {"long_call": _("Long call"), "long_pause": _("Long pause"),
            "queue_wait": _("Long queue wait"),
            "abandon_near_cap": _("Abandon rate near its cap")}.get(kind, kind)


def labels() -> dict:
    """The words wallboard.js needs."""
    return dict(
        states={s: state_label(s) for s in ("logged_out", "ready", "on_call", "wrap_up",
                                            "paused")} | {"ringing": _("Ringing")},
        reasons={r: pause_label(r) for r in ("break", "meal", "meeting", "training",
                                             "paperwork", "other", "preview", "dial",
                                             "dialling")},
        directions={"inbound": _("Inbound"), "dialer": _("Dialer"), "manual": _("Outbound"),
                    "click_to_call": _("Click to call"), "internal": _("Internal")},
        alerts={k: short_kind_label(k) for k in ALERT_KINDS},
        none=_("No agents"), no_queue=_("No queue calls today"),
        no_campaign=_("No running campaign"),
        spy={"listen": _("Listen"), "whisper": _("Whisper"), "barge": _("Barge")},
        spy_queued=_("Your phone will ring: answer it to join the call."))


@bp.app_context_processor
def _alert_labels():
    """The alert pop's words for app.js on every page (base.html)."""
    return dict(wallboard_alert_labels=lambda: {k: short_kind_label(k) for k in ALERT_KINDS})


def _viewer(user) -> SimpleNamespace:
    """What `view` reads of the user, kept past the request (the stream outlives it)."""
    return SimpleNamespace(id=user.id, role=SimpleNamespace(
        can_manage=user.role.can_manage, is_admin=user.role.is_admin,
        mask_numbers=user.role.mask_numbers))


@bp.route("/wallboard")
@requires("can_manage")
def index():
    session, user = db(), current_user()
    hub = board_for(current_app)
    board = hub.latest
    if board is None:
        board = rules.Wallboard().build(session, clock().now())
    alerts = rules.alerts_of(session, user)
    service_level = rules.service_level_seconds(session)
    initial = rules.view(board, _viewer(user))
    spy_ids = supervisable(session, user, initial["agents"])
    session.commit()
    return render_template("wallboard/index.html", initial=initial, spy_ids=spy_ids,
                           labels=labels(), alerts=alerts, kinds=ALERT_KINDS,
                           kind_label=kind_label, admin=user.role.is_admin,
                           service_level=service_level)



@bp.route("/wallboard/alerts", methods=["POST"])
@requires("can_manage")
def add_alert():
    session = db()
    try:
        rules.add_alert(session, current_user(), request.form.get("kind"),
                        request.form.get("threshold"), now=clock().now())
        session.commit()
        flash(_("Alert saved."), "success")
    except DomainError as exc:
        session.rollback()
        flash(refusal_text(exc), "danger")
    return redirect(url_for("wallboard.index"))


@bp.route("/wallboard/service-level", methods=["POST"])
@requires("is_admin")
def set_service_level():
    session = db()
    try:
        rules.set_service_level_seconds(session, current_user(), request.form.get("seconds"))
        session.commit()
        flash(_("Service-level threshold saved."), "success")
    except DomainError as exc:
        session.rollback()
        flash(refusal_text(exc), "danger")
    return redirect(url_for("wallboard.index"))


@bp.route("/wallboard/alerts/<int:alert_id>/active", methods=["POST"])
@requires("can_manage")
def set_alert_active(alert_id):
    session = db()
    rules.set_alert_active(session, current_user(), alert_id, request.form.get("active") == "1")
    session.commit()
    return redirect(url_for("wallboard.index"))


@bp.route("/wallboard/alerts/<int:alert_id>/delete", methods=["POST"])
@requires("can_manage")
def delete_alert(alert_id):
    session = db()
    rules.delete_alert(session, current_user(), alert_id)
    session.commit()
    flash(_("Alert deleted."), "success")
    return redirect(url_for("wallboard.index"))


@bp.route("/wallboard/stream")
@requires("can_manage")
def stream():
    viewer = _viewer(current_user())
    hub = board_for(current_app)
    limit = current_app.config.get("SSE_MAX_SECONDS", 300)
    keepalive = current_app.config.get("SSE_KEEPALIVE_SECONDS", 15.0)

    def generate():
        inbox = hub.subscribe()
        try:
            started = time.monotonic()
            yield "retry: 2000\n\n"
            before = sent = None
            while True:
                left = limit - (time.monotonic() - started)
                if left <= 0:
                    return
                try:
                    board = inbox.get(timeout=min(left, keepalive))
                except queue.Empty:
                    yield ": keep-alive\n\n"
                    continue
                while not inbox.empty():   # a slow reader skips to the newest board
                    board = inbox.get_nowait()
                sent, text = hub.message(before, board, viewer, sent)
                before = board
                if text is not None:
                    yield text
        finally:
            hub.unsubscribe(inbox)

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
