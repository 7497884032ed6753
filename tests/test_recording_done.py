"""The dialplan's recording_done handler over a real FastAGI socket."""
import pytest
from sqlalchemy import select
from test_recordings_store import make_wav

from agi.handlers import recording_done, registry
from agi.pbxsim.agi_driver import run_call
from agi.server import FastAGIServer
from models.schema import Recording
from recordings.store import RecordingStore


@pytest.fixture
def store(tmp_path):
    store = RecordingStore(tmp_path / "recordings", tmp_path / "monitor")
    store.incoming.mkdir(parents=True)
    recording_done.configure(store)
    yield store
    recording_done.configure(None)


def test_finished_recording_is_stored_once(Session, session, store, make_customer):
    c = make_customer("广州录音测试有限公司", stage="target", owner="tm", mobile="13812345678")
    wav = make_wav(store.incoming / "1700000000.7.wav", seconds=2.0)
    server = FastAGIServer(registry, Session, port=0).start()
    try:
        first = run_call("127.0.0.1", server.port, "recording_done",
                         args=(f"/var/spool/asterisk/monitor/dialfunnel/{wav.name}", "inbound"),
                         callerid="13812345678", env={"agi_uniqueid": "1700000000.7"})
        again = run_call("127.0.0.1", server.port, "recording_done",
                         args=(f"/var/spool/asterisk/monitor/dialfunnel/{wav.name}", "inbound"),
                         callerid="13812345678", env={"agi_uniqueid": "1700000000.7"})
        empty = run_call("127.0.0.1", server.port, "recording_done", args=())
    finally:
        server.shutdown(5)
    assert first.variables["DIALFUNNEL_STATUS"] == "STORED"
    assert again.variables["DIALFUNNEL_STATUS"] == "SKIPPED"
    assert empty.variables["DIALFUNNEL_STATUS"] == "ERROR"
    assert not wav.exists()  # taken out of the incoming folder
    rows = session.scalars(select(Recording)).all()
    assert len(rows) == 1
    assert (rows[0].uniqueid, rows[0].customer_id, rows[0].direction) == (
        "1700000000.7", c.id, "inbound")
    assert 1900 <= rows[0].duration_ms <= 2100
