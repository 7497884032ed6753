"""A manager marks a call's recording as the carrier's announcement ("this was a 关机
announcement"): it becomes a reference the dialer's listener recognises."""
import random
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from agi.early_media.hook import references_with_stored
from models.crm.recordings import create_recording
from models.schema import EarlyMediaReference
from recordings.early_media import corpus
from recordings.early_media.classifier import Classifier
from tests.web_helpers import committing, post

VOICE = dict(voice="cmn+m3", speed=210)        # a carrier's own voice: no default has it


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


@pytest.fixture
def recorded(app, session, users, clock):
    """tm's call whose recording holds the carrier's 关机 announcement (4 s of it first)."""
    made = corpus.call(corpus.World(kind="switched_off", seconds=8, noise_db=-60, ulaw=False,
                                    **VOICE), random.Random(1))
    root = Path(app.config["RECORDINGS_DIR"])
    (root / "2026/11/26").mkdir(parents=True, exist_ok=True)
    with wave.open(str(root / "2026/11/26/call.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(made.pcm)
    rec = create_recording(session, uniqueid="3000.1", linkedid="3000.1", file_key="2026/11/26/call.wav",
                           fmt="wav", duration_ms=8000, size_bytes=len(made.pcm),
                           user_id=users["tm"].id, clock=clock)
    session.commit()
    return rec


def hear(refs, pcm):
    classifier = Classifier(refs)
    for start in range(0, len(pcm), 320):
        verdict = classifier.feed(pcm[start:start + 320])
        if verdict is not None:
            return verdict
    return classifier.finish()


def test_a_manager_teaches_the_dialer_a_carriers_announcement(as_user, recorded, Session,
                                                               session):
    later = corpus.call(corpus.World(kind="switched_off", lead="ringback", seconds=10, **VOICE),
                        random.Random(2))
    session.commit()
    assert not hear(references_with_stored(Session), later.pcm).final   # unknown recording
    client = as_user("mgr")
    page = client.get(f"/recordings/{recorded.id}").get_data(as_text=True)
    assert 'id="early-media-form"' in page and "关机" in page
    r = post(client, f"/recordings/{recorded.id}/early-media",
             dict(label="switched_off", carrier="中国移动", start_s="0", end_s="4"))
    assert r.status_code == 302 and r.location.endswith(f"/recordings/{recorded.id}")
    [row] = session.scalars(select(EarlyMediaReference)).all()
    assert (row.label, row.carrier, row.recording_id, row.start_ms, row.end_ms) == \
        ("switched_off", "中国移动", recorded.id, 0, 4000)
    session.commit()
    verdict = hear(references_with_stored(Session), later.pcm)
    assert (verdict.label, verdict.final) == ("switched_off", True)
    assert verdict.reference.startswith("中国移动")


@pytest.mark.parametrize("form", [
    dict(label="switched_off", carrier="中国移动", start_s="3", end_s="1"),    # backwards
    dict(label="switched_off", carrier="中国移动", start_s="x", end_s="4"),
    dict(label="answered", carrier="中国移动", start_s="0", end_s="4"),        # not an announcement
    dict(label="switched_off", carrier="", start_s="0", end_s="4"),
    dict(label="switched_off", carrier="中国移动", start_s="7.5", end_s="8"),  # silence: no words
])
def test_bad_input_is_refused_and_nothing_is_stored(as_user, recorded, session, form):
    r = post(as_user("mgr"), f"/recordings/{recorded.id}/early-media", form)
    assert r.status_code == 302
    assert session.scalars(select(EarlyMediaReference)).all() == []


def test_the_agent_of_the_call_may_hear_it_but_not_teach_the_dialer(as_user, recorded, session):
    client = as_user("tm")
    assert 'id="early-media-form"' not in client.get(f"/recordings/{recorded.id}").get_data(
        as_text=True)
    r = post(client, f"/recordings/{recorded.id}/early-media",
             dict(label="switched_off", carrier="中国移动", start_s="0", end_s="4"))
    assert r.status_code in (302, 403)
    assert session.scalars(select(EarlyMediaReference)).all() == []
