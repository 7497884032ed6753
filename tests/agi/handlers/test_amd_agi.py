"""Answering-machine detection on a live call: our FastAGI server runs agi.handlers.amd.detect while
the PBX simulator plays Asterisk, answering RECORD FILE with a generated greeting written into
the spool both share, over a real TCP socket."""
import shutil

import pytest

from agi.fastagi.dispatch import Registry
from agi.fastagi.server import FastAGIServer, make_agi_engine
from agi.handlers.amd import detect
from agi.pbxsim.agi_driver import Scenario, run_call
from models.db import make_sessionmaker
from recordings.amd_corpus import generate, read_manifest


@pytest.fixture(scope="module")
def greetings(tmp_path_factory):
    """One human and one machine answer per language (seeded, no hard cases)."""
    missing = [t for t in ("espeak-ng", "sox") if not shutil.which(t)]
    assert not missing, f"missing {missing}: run scripts/system-deps.sh espeak-ng sox"
    folder = tmp_path_factory.mktemp("amd-greetings")
    items = generate(folder, seed=11, count=4, hard_share=0)
    langs = {m["file"]: m["lang"] for m in read_manifest(folder)}
    return {(langs[p.name], label): p for p, label in items}


@pytest.fixture
def server(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    reg = Registry()

    @reg.register("amdtest")
    def amdtest(agi, session, args):
        result = detect(agi, spool_dir=spool, pbx_dir=args[0] if args else None)
        agi.set_variable("AMD_LABEL", result.label)
        agi.set_variable("AMD_CAUSE", result.cause)
        agi.set_variable("AMD_MS", result.decided_after_ms)

    engine = make_agi_engine(f"sqlite:///{tmp_path / 'agi.db'}")
    srv = FastAGIServer(reg, make_sessionmaker(engine), port=0).start()
    srv.spool = spool
    yield srv
    srv.shutdown(grace=2)
    engine.dispose()


def call(server, args=(), **scenario):
    scenario.setdefault("record_dir", server.spool)
    return run_call("127.0.0.1", server.port, "amdtest", args=args, scenario=Scenario(**scenario))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("label", ["human", "machine"])
def test_a_greeting_is_told_apart_on_a_live_call(server, greetings, lang, label):
    result = call(server, audio=greetings[(lang, label)])
    assert result.status == "OK", result.error
    assert result.variables["AMD_LABEL"] == label, result.variables
    records = [c for c in result.commands if c.startswith("RECORD FILE")]
    assert records and all(c.startswith(f'RECORD FILE "{server.spool}/amd-') and
                           c.endswith(' wav "" 250 0') for c in records)
    assert len(records) == len(result.recorded) <= 12         # 3 s of audio at most
    assert int(result.variables["AMD_MS"]) <= 3000
    assert [r for r in result.replies if r[0].startswith("200 result=0 (timeout) endpos=2000")]
    assert list(server.spool.iterdir()) == []                  # every recording was removed


def test_the_decision_takes_the_audio_it_needs_in_real_time(server, greetings):
    human = call(server, audio=greetings[("en", "human")], realtime=True)
    assert human.variables["AMD_LABEL"] == "human"
    heard = int(human.variables["AMD_MS"])
    assert heard / 1000 <= human.duration < heard / 1000 + 0.25 + 0.5  # one step, and slack


def test_a_hangup_during_the_recording_gives_unsure_and_no_error(server, greetings):
    result = call(server, audio=greetings[("zh", "machine")], hangup_at=1, hangup_endpos=1680)
    assert result.replies[1] == ["200 result=-1 (hangup) endpos=1680"]
    assert (result.variables["AMD_LABEL"], result.variables["AMD_CAUSE"]) == ("unsure", "HANGUP")
    assert int(result.variables["AMD_MS"]) == 250 + 210       # what was heard before the hangup
    assert result.status == "HANGUP"
    assert len(result.recorded) == 2 and list(server.spool.iterdir()) == []


def test_a_spool_asterisk_cannot_write_gives_unsure(server, greetings, tmp_path, caplog):
    elsewhere = tmp_path / "not-the-spool"
    elsewhere.mkdir()
    result = call(server, audio=greetings[("en", "machine")], record_dir=elsewhere)
    assert result.replies[0] == ["200 result=-1 (writefile)"]
    assert (result.variables["AMD_LABEL"], result.variables["AMD_CAUSE"]) == ("unsure", "NOFILE")
    assert result.status == "OK"
    assert "could not write" in caplog.text


def test_a_spool_this_process_does_not_see_gives_unsure(server, greetings, tmp_path, caplog):
    asterisk_side = tmp_path / "pbx-spool"
    asterisk_side.mkdir()
    result = call(server, args=[str(asterisk_side)], audio=greetings[("en", "human")],
                  record_dir=asterisk_side)
    assert result.commands[0].startswith(f'RECORD FILE "{asterisk_side}/amd-')
    assert (result.variables["AMD_LABEL"], result.variables["AMD_CAUSE"]) == ("unsure", "NOFILE")
    assert "did not appear" in caplog.text
    assert len(list(asterisk_side.iterdir())) == 1    # one step, then it gave up
