"""Server-sent events: reminders (and later screen pops) for the logged-in user.

The event table is polled (once per process for every stream: hub.py), so it works on SQLite
as on PostgreSQL. A stream ends after
SSE_MAX_SECONDS; the browser's EventSource reconnects with Last-Event-ID and loses nothing."""
from __future__ import annotations

import json
import queue
import time

from flask import Response, current_app, request, stream_with_context
from sqlalchemy import func, select

from models.db import begin_read
from models.dialer.wallboard import has_active_alerts
from models.org.masking import masks
from models.schema import Event
from models.telephony.popups import KIND as POP_KIND, masked_pop

from ..context import current_user
from ..wallboard.board import board_for
from . import bp
from .hub import hub_for



def _start_id(session, user_id: int) -> int:
    header = request.headers.get("Last-Event-ID") or request.args.get("after")
    if header and header.isdigit():
        return int(header)
    return session.scalar(select(func.max(Event.id)).where(Event.user_id == user_id)) or 0


def _before(maker, user_id: int, last: int) -> list[tuple]:
    """The user's rows after `last` committed so far."""
    rows: list[tuple] = []
    with maker() as s:
        begin_read(s)
        while True:
            batch = s.execute(select(Event.id, Event.kind, Event.payload)
                              .where(Event.user_id == user_id, Event.id > last)
                              .order_by(Event.id).limit(500)).all()
            rows += [tuple(row) for row in batch]
            if len(batch) < 500:
                break
            last = batch[-1].id
        s.rollback()
    return rows


@bp.route("/events/stream")
def stream():
    user_id = current_user().id
    masked = masks(current_user())   # 号码隐藏: the pops this user gets are masked
    maker = current_app.extensions["dialfunnel.sessionmaker"]
    limit = current_app.config.get("SSE_MAX_SECONDS", 300)
    keepalive = current_app.config.get("SSE_KEEPALIVE_SECONDS", 15.0)
    hub = hub_for(current_app)
    with maker() as s:
        last = _start_id(s, user_id)
        # a manager's wallboard alerts are evaluated while he is here (admin/wallboard/board.py)
        board = board_for(current_app) if has_active_alerts(s, current_user()) else None

    def generate():
        nonlocal last
        inbox = hub.subscribe(user_id)
        if board is not None:
            board.watch()
        try:
            started = idle = time.monotonic()
            # Hand the browser an id at once, so a reconnect resumes from here and loses nothing.
            yield f"retry: 2000\nid: {last}\n\n"
            pending = _before(maker, user_id, last)   # the hub has what comes after
            while True:
                for event_id, kind, payload in pending:
                    if event_id > last:
                        last, idle = event_id, time.monotonic()
                        if masked and kind == POP_KIND:
                            payload = masked_pop(payload)
                        yield (f"id: {event_id}\nevent: {kind}\n"
                               f"data: {json.dumps(payload, ensure_ascii=False)}\n\n")
                left = limit - (time.monotonic() - started)
                if left <= 0:
                    return
                if time.monotonic() - idle > keepalive:
                    idle = time.monotonic()
                    yield ": keep-alive\n\n"
                try:
                    pending = [inbox.get(timeout=min(left, keepalive))]
                except queue.Empty:
                    pending = []
                    continue
                while not inbox.empty():
                    pending.append(inbox.get_nowait())
        finally:
            hub.unsubscribe(user_id, inbox)
            if board is not None:
                board.unwatch()

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
