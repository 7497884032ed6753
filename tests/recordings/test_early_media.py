"""The early-media classifier on generated calls: each class, and live lines never dead."""
import random

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from recordings.early_media import corpus, references
from recordings.early_media.classifier import ANNOUNCEMENTS, Classifier, LIVE
from recordings.early_media.dsp import fingerprint

REFS = references.load()


def hear(pcm: bytes):
    classifier = Classifier(REFS)
    for start in range(0, len(pcm), 320):
        verdict = classifier.feed(pcm[start:start + 320])
        if verdict is not None:
            return verdict
    return classifier.finish()


def test_the_default_references_hold_every_announcement_in_two_voices():
    assert sorted({r.label for r in REFS}) == sorted(ANNOUNCEMENTS)
    assert len({r.name for r in REFS}) == 2 and len(REFS) == 12


@pytest.mark.parametrize("kind", ANNOUNCEMENTS)
@pytest.mark.parametrize("lead, voice", [("silence", references.VOICES[0]),
                                         ("ringback", references.VOICES[1])])
def test_each_announcement_is_recognised_within_3_s_of_its_first_word(kind, lead, voice):
    made = corpus.call(corpus.World(kind=kind, lead=lead, voice=voice[0], speed=voice[1],
                                    noise_db=-48, seconds=10), random.Random(7))
    verdict = hear(made.pcm)
    assert (verdict.label, verdict.final) == (kind, True)
    assert verdict.decided_after_ms - made.speech_at_ms <= 3000


@pytest.mark.parametrize("kind, final", [("ringback", False), ("coloured", False),
                                         ("silence", False), ("sit", True),
                                         ("busy_tone", True)])
def test_tones_music_and_silence(kind, final):
    made = corpus.call(corpus.World(kind=kind, seconds=10), random.Random(11))
    verdict = hear(made.pcm)
    assert (verdict.label, verdict.final) == (kind, final)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["ringback", "coloured"]), seed=st.integers(0, 10_000),
       level=st.floats(-30, -6), noise=st.floats(-65, -30), ulaw=st.booleans())
@example(kind="coloured", seed=61, level=-6.0, noise=-31.0, ulaw=False)   # was 无法接通 at BER 0.314
def test_a_live_line_is_never_ended(kind, seed, level, noise, ulaw):
    made = corpus.call(corpus.World(kind=kind, seconds=8, level_db=level, noise_db=noise,
                                    ulaw=ulaw), random.Random(seed))
    verdict = hear(made.pcm)
    assert not verdict.final and verdict.label in LIVE


def test_references_round_trip_and_bad_ones_are_refused():
    ref = REFS[0]
    assert references.from_text(references.to_text(ref.bits)) == ref.bits
    with pytest.raises(references.ReferenceError):
        references.from_pcm("空号", "x", b"")
    with pytest.raises(references.ReferenceError):
        references.from_pcm("unallocated", "x", b"\0\0" * 8000)   # silence: no words
    with pytest.raises(references.ReferenceError):
        references.from_text("12g4")


def test_a_reference_made_from_a_call_recording_is_recognised():
    """An admin marks a stretch of a real call as 关机: that carrier's own recording."""
    rng = random.Random(5)
    own = corpus.call(corpus.World(kind="switched_off", voice="cmn+m3", speed=210, seconds=4,
                                   noise_db=-60, ulaw=False), rng)
    heard = corpus.call(corpus.World(kind="switched_off", voice="cmn+m3", speed=210, seconds=9,
                                     lead="ringback"), random.Random(6))
    assert not hear(heard.pcm).final      # unknown voice: not recognised, never guessed
    ref = references.from_pcm("switched_off", "carrier X", own.pcm)
    classifier = Classifier(REFS + [ref])
    verdict = None
    for start in range(0, len(heard.pcm), 320):
        verdict = classifier.feed(heard.pcm[start:start + 320]) or verdict
    assert verdict is not None and verdict.label == "switched_off"
    assert verdict.reference == "carrier X"
    assert len(fingerprint(own.pcm)) > 100
