"""Talk analytics (issue 16, recordings/talk.py) on generated two-sided calls whose talk spans
are known (recordings/talk_corpus.py: espeak-ng speech over sox line noise), and the flags the
figures set (models/quality/talk.py)."""
from __future__ import annotations

import wave

import pytest

from models.quality.talk import save_talk
from recordings.talk import FRAME_MS, TalkError, analyse, analyse_wavs, figures, read_wav, speech_frames
from recordings.talk_corpus import generate


@pytest.fixture(scope="module")
def calls(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("talk"), seed=7, count=3)


def test_figures_from_known_flags():
    agent = [True] * 10 + [False] * 5 + [True] * 5 + [False] * 400
    customer = [False] * 8 + [True] * 4 + [False] * 200 + [True] * 10
    f = figures(agent, customer)
    assert f.agent_ms == 15 * FRAME_MS and f.customer_ms == 14 * FRAME_MS
    assert f.crosstalk_ms == 2 * FRAME_MS
    assert f.longest_silence_ms == (212 - 20) * FRAME_MS    # the trailing silence does not count
    assert f.duration_ms == 420 * FRAME_MS
    assert figures([False] * 100, []).longest_silence_ms == 100 * FRAME_MS
    assert figures([], []).agent_share == 0.0


def test_the_spans_of_generated_calls_are_found(calls):
    for call in calls:
        truth_agent, truth_customer = call.truth_frames()
        for truth, wav in ((truth_agent, call.agent_wav), (truth_customer, call.customer_wav)):
            found = speech_frames(*read_wav(wav))
            n = min(len(truth), len(found))
            agree = sum(truth[i] == found[i] for i in range(n)) / n
            assert agree >= 0.97, (call.name, wav.name, agree)
        truth = figures(truth_agent, truth_customer)
        found = analyse_wavs(call.agent_wav, call.customer_wav)
        assert abs(found.agent_share - truth.agent_share) < 0.03, call.name
        assert abs(found.longest_silence_ms - truth.longest_silence_ms) <= 300, call.name
        assert abs(found.crosstalk_ms - truth.crosstalk_ms) <= 300, call.name


def test_line_noise_alone_is_no_talk(calls, tmp_path):
    pcm, rate = read_wav(calls[0].customer_wav)
    quiet = bytearray(len(pcm))
    assert analyse(bytes(quiet), bytes(quiet), rate).agent_ms == 0
    with pytest.raises(TalkError):
        analyse(pcm, pcm, 11025)
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0" * 3200)
    with pytest.raises(TalkError):
        analyse_wavs(stereo, stereo)


def test_the_flags(session, users, clock):
    from tests.models.quality.helpers import recorded_call
    rec = recorded_call(session, clock, users["tm"])
    row = save_talk(session, rec.id, agent_share=0.85, customer_share=0.15,
                    longest_silence_ms=10_000, crosstalk_ms=0, clock=clock)
    assert (row.agent_dominant, row.long_silence) == (True, False)
    row = save_talk(session, rec.id, agent_share=0.8, customer_share=0.2,
                    longest_silence_ms=10_030, crosstalk_ms=0, clock=clock)
    assert (row.agent_dominant, row.long_silence) == (False, True)
