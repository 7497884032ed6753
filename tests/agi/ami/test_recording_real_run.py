"""The recording paths replayed from the real Asterisk 22 run (tests/fixtures/asterisk/
real-run-2026-12): every AMI event of a scenario goes to the listener in order; where the log
shows the hangup handler (HangupHandlerRun), the dialplan's recording_done runs over FastAGI on
a channel holding exactly the variables the log set on it (VarSet), before that channel's
Hangup reaches the listener, as on the real PBX."""
from __future__ import annotations

import gzip
import json
import re
import socket
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from agi.ami.listener import ScreenPopListener
from agi.ami.wire import Message
from agi.fastagi.server import FastAGIServer
from agi.handlers import recording_done, registry
from agi.pbxsim.agi_driver import Scenario, run_call
from models.schema import Campaign, DialAttempt, Recording
from recordings.store import RecordingStore

from tests.recordings.test_recordings_store import make_wav
from tests.repo_paths import FIXTURES

LOGS = FIXTURES / "asterisk" / "real-run-2026-12"
HANDLER = re.compile(r"^dialfunnel-recording-done,s,1\((?P<file>[^,]*),(?P<kind>[^)]*)\)$")


def events(name: str):
    with gzip.open(LOGS / f"{name}.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("===="):
                yield json.loads(line)


@pytest.fixture
def store(tmp_path, clock):
    store = RecordingStore(tmp_path / "recordings", tmp_path / "monitor").ensure()
    recording_done.configure(store, clock=clock)
    yield store
    recording_done.configure(None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replay(name, Session, store, clock):
    """Play the log; returns {uniqueid: the hangup handler's CallResult}."""
    listener = ScreenPopListener(Session, port=free_port(), secret="x", clock=clock, store=store,
                                 settle_seconds=0, connect_backoff=(0.05, 0.2, 0.2)).start()
    server = FastAGIServer(registry, Session, port=0).start()
    variables: dict[str, dict[str, str]] = {}
    handled = {}
    try:
        for event in events(name):
            uid = event.get("Uniqueid", "")
            if event["Event"] == "VarSet":
                variables.setdefault(uid, {})[event["Variable"]] = event.get("Value", "")
            if event["Event"] == "HangupHandlerRun":
                m = HANDLER.match(event["Handler"])
                make_wav(store.incoming / Path(m["file"]).name, seconds=1)
                handled[uid] = run_call(
                    "127.0.0.1", server.port, "recording_done", args=(m["file"], m["kind"]),
                    callerid=event["CallerIDNum"], env={"agi_uniqueid": uid},
                    scenario=Scenario(hangup_before=0, linkedid=event["Linkedid"],
                                      variables={k: v for k, v in variables[uid].items() if v}))
            listener.handle(Message((k, v) for k, v in event.items() if k != "_t"))
        time.sleep(1.0)  # the listener's worker takes the Hangups' jobs
    finally:
        server.shutdown(5)
        listener.stop()
    assert listener.stats["errors"] == listener.stats["recording_errors"] == 0
    return handled


def recording(session, uniqueid):
    session.commit()
    return session.scalar(select(Recording).where(Recording.uniqueid == uniqueid))


def test_a_dialer_call_put_through_to_an_agent(Session, session, users, store, clock,
                                               make_customer):
    """ami-a5: campaign 2, attempt 1 to +8613900000001, answered, AMD, transferred to 8007."""
    users["tm"].extension = "8007"
    c = make_customer("真实拨号客户有限公司", owner="tm", mobile="13900000001")
    session.add(Campaign(id=2, name="real-run", caller_id="+862155550000", created_at=clock.now()))
    session.flush()
    session.add(DialAttempt(id=1, campaign_id=2, customer_id=c.id, number="+8613900000001",
                            channel_id="df86fe70-bdad-457b-8780-c71f849d1ae4",
                            agent_id=users["tm"].id, started_at=clock.now()))
    session.commit()
    handled = replay("ami-a5", Session, store, clock)
    uid = "df86fe70-bdad-457b-8780-c71f849d1ae4"
    assert handled[uid].status == "STORED"
    rec = recording(session, uid)
    assert (rec.direction, rec.attempt_id, rec.customer_id, rec.caller_number, rec.user_id,
            rec.linkedid) == ("outbound", 1, c.id, "+8613900000001", users["tm"].id, uid)
    # the abandoned call (campaign 4, no agent free) is kept too, with nobody's name on it
    abandoned = recording(session, "9ebf2b28-629d-4e31-8b90-3d629853259a")
    assert abandoned.direction == "outbound" and abandoned.user_id is None
    session.commit()


def test_an_agents_own_call(Session, session, users, store, clock, make_customer):
    """ami-a6agent: 8005 calls 13900000001 through dialfunnel-trunk-out; the recorded channel
    is the ;2 half, whose Linkedid is not its Uniqueid."""
    users["tm2"].extension = "8005"
    session.commit()
    c = make_customer("真实外呼客户有限公司", owner="tm2", mobile="13900000001")
    handled = replay("ami-a6agent", Session, store, clock)
    uid = "6e719ea6-a2a6-4ef0-b62e-1b66d1164dd1"
    assert handled[uid].status == "STORED"
    rec = recording(session, uid)
    assert (rec.direction, rec.user_id, rec.customer_id, rec.caller_number, rec.linkedid) == (
        "agent", users["tm2"].id, c.id, "13900000001", "faf785a5-0298-4459-8e76-01a8006b6bc3")
    session.commit()
