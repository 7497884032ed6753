"""recording_done over a real FastAGI socket with the two sides MixMonitor's r()/t() wrote
(issue 16): the talk figures and the waveform are kept with the recording, from generated
speech whose spans are known, and the spool is emptied."""
from __future__ import annotations

import json
import subprocess

import pytest

from agi.pbxsim.agi_driver import Scenario, run_call
from models.schema import RecordingAnalysis
from recordings.talk import figures
from recordings.talk_corpus import generate

from tests.agi.handlers.test_recording_done import SPOOL, agents, server, store, stored  # noqa: F401


@pytest.fixture(scope="module")
def call(tmp_path_factory):
    (made,) = generate(tmp_path_factory.mktemp("talk"), seed=11, count=1)
    return made


def spool_call(store, call, uniqueid, *, agent_on_r: bool):
    """The three files of one recording in the incoming folder, as MixMonitor leaves them."""
    received, sent = (call.agent_wav, call.customer_wav) if agent_on_r else \
        (call.customer_wav, call.agent_wav)
    (store.incoming / f"{uniqueid}-r.wav").write_bytes(received.read_bytes())
    (store.incoming / f"{uniqueid}-t.wav").write_bytes(sent.read_bytes())
    subprocess.run(["sox", "-m", str(received), str(sent), str(store.incoming / f"{uniqueid}.wav")],
                   check=True)


@pytest.mark.parametrize("kind, agent_on_r", [("inbound", False), ("agent", True)])
def test_the_two_sides_give_the_talk_figures(session, agents, server, store, call, kind, agent_on_r):  # noqa: F811
    uniqueid = f"1700000100.{int(agent_on_r)}"
    spool_call(store, call, uniqueid, agent_on_r=agent_on_r)
    variables = {"DIALFUNNEL_AGENT": "8001", "DIALFUNNEL_PEER": "13812345678"} if kind == "agent" else {}
    result = run_call("127.0.0.1", server.port, "recording_done",
                      args=(f"{SPOOL}/{uniqueid}.wav", kind), callerid="13812345678",
                      env={"agi_uniqueid": uniqueid},
                      scenario=Scenario(hangup_before=0, variables=variables))
    assert result.variables["DIALFUNNEL_STATUS"] == "STORED"
    rec = stored(session, uniqueid)
    row = session.get(RecordingAnalysis, rec.id)
    truth = figures(*call.truth_frames())
    assert abs(row.agent_share - truth.agent_share) < 0.03
    assert abs(row.customer_share - truth.customer_share) < 0.03
    assert abs(row.longest_silence_ms - truth.longest_silence_ms) <= 300
    assert row.long_silence == (truth.longest_silence_ms > 10_000)
    assert len(json.loads(row.peaks)) == 600
    assert list(store.incoming.iterdir()) == []


def test_without_the_two_sides_only_the_waveform_is_kept(session, server, store):  # noqa: F811
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16",
                    str(store.incoming / "1700000200.1.wav"), "synth", "2", "sine", "440"], check=True)
    result = run_call("127.0.0.1", server.port, "recording_done",
                      args=(f"{SPOOL}/1700000200.1.wav", "inbound"),
                      env={"agi_uniqueid": "1700000200.1"}, scenario=Scenario(hangup_before=0))
    assert result.variables["DIALFUNNEL_STATUS"] == "STORED"
    row = session.get(RecordingAnalysis, stored(session, "1700000200.1").id)
    assert row.agent_share is None and not row.long_silence and len(json.loads(row.peaks)) == 600
