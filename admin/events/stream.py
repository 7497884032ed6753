"""Server-sent events: reminders (and later screen pops) for the logged-in user.

The event table is polled, so it works on SQLite as on PostgreSQL. A stream ends after
SSE_MAX_SECONDS; the browser's EventSource reconnects with Last-Event-ID and loses nothing."""
from __future__ import annotations

import json
import time

from flask import Response, current_app, request, stream_with_context
from sqlalchemy import func, select

from models.schema import Event

from ..context import current_user
from . import bp



def _start_id(session, user_id: int) -> int:
    header = request.headers.get("Last-Event-ID") or request.args.get("after")
    if header and header.isdigit():
        return int(header)
    return session.scalar(select(func.max(Event.id)).where(Event.user_id == user_id)) or 0


@bp.route("/events/stream")
def stream():
    user_id = current_user().id
    maker = current_app.extensions["dialfunnel.sessionmaker"]
    limit = current_app.config.get("SSE_MAX_SECONDS", 300)
    poll = current_app.config.get("SSE_POLL_SECONDS", 1.0)
    with maker() as s:
        last = _start_id(s, user_id)

    def generate():
        nonlocal last
        started = idle = time.monotonic()
        # Hand the browser an id at once, so a reconnect resumes from here and loses nothing.
        yield f"retry: 2000\nid: {last}\n\n"
        while time.monotonic() - started < limit:
            with maker() as s:
                rows = s.execute(select(Event.id, Event.kind, Event.payload)
                                 .where(Event.user_id == user_id, Event.id > last)
                                 .order_by(Event.id).limit(100)).all()
            for row in rows:
                last = row.id
                yield f"id: {row.id}\nevent: {row.kind}\ndata: {json.dumps(row.payload, ensure_ascii=False)}\n\n"
            if rows:
                idle = time.monotonic()
            elif time.monotonic() - idle > 15:
                idle = time.monotonic()
                yield ": keep-alive\n\n"
            time.sleep(poll)

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
