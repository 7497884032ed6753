"""The event streams share one reader of the events table per process (admin/events/hub.py):
however many pages are open, the table is polled about once per interval, and each row still
reaches every open stream of its user, once, and nobody else's."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event

from models.schema import Event

STREAMS = 12


def open_stream(client, chunks: list, ready: threading.Event):
    response = client.get("/events/stream?after=0", buffered=False)
    for chunk in response.response:
        chunks.append(chunk.decode() if isinstance(chunk, bytes) else chunk)
        ready.set()
    response.close()


@pytest.mark.db
def test_many_open_streams_read_the_table_once_per_interval(app, as_user, engine, session, users, clock):
    app.config.update(SSE_MAX_SECONDS=2.0, SSE_POLL_SECONDS=0.1)
    reads = []

    def count(conn, cursor, statement, *args):
        if "FROM events" in statement:
            reads.append(time.monotonic())
    event.listen(engine, "before_cursor_execute", count)
    try:
        outputs = [[] for _ in range(STREAMS + 1)]
        clients = [as_user("tm") for _ in range(STREAMS)] + [as_user("tm2")]
        readies = [threading.Event() for _ in clients]
        threads = [threading.Thread(target=open_stream, args=(c, out, r), daemon=True)
                   for c, out, r in zip(clients, outputs, readies)]
        for t in threads:
            t.start()
        assert all(r.wait(5) for r in readies)
        time.sleep(0.3)
        session.add(Event(user_id=users["tm"].id, kind="reminder", payload={"n": "回电"},
                          created_at=clock.now()))
        session.commit()
        window_start = time.monotonic()
        time.sleep(1.0)
        in_window = sum(1 for t in reads if window_start <= t < window_start + 1.0)
        for t in threads:
            t.join(5)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # one poll every 0.1 s for all thirteen streams (each alone would poll ten times a second)
    assert in_window <= 15, in_window
    for out in outputs[:STREAMS]:
        assert "".join(out).count("event: reminder") == 1
    assert "event: reminder" not in "".join(outputs[STREAMS])
