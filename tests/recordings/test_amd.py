"""Answering-machine detection (recordings/amd.py) on generated call answers
(recordings/amd_corpus.py: espeak-ng and sox, really run), and its edge cases."""
from __future__ import annotations

import math
import random
import shutil
import struct
import subprocess
import wave

import pytest

from recordings.amd import FRAME_MS, AMDError, Detector, Params, classify, classify_wav, read_wav
from recordings.amd_corpus import generate, plan, read_manifest

RATE = 8000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """20 items of seed 3 (not the tuning seed), hard cases included."""
    missing = [t for t in ("espeak-ng", "sox") if not shutil.which(t)]
    assert not missing, f"missing {missing}: run scripts/system-deps.sh espeak-ng sox"
    folder = tmp_path_factory.mktemp("amd-corpus")
    items = generate(folder, seed=3, count=20)
    manifest = {m["file"]: m for m in read_manifest(folder)}
    return [(path, label, manifest[path.name]) for path, label in items]


def first(corpus, label, kind, lang):
    return next((p, m) for p, l, m in corpus if l == label and m["kind"] == kind
                and m["lang"] == lang)


def pcm_of(samples) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def noise(seconds: float, dbfs: float, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    sigma = 32768 * 10 ** (dbfs / 20)
    return [max(-32768, min(32767, round(rng.gauss(0, sigma)))) for _ in range(int(seconds * RATE))]


def test_the_set_is_balanced_labelled_telephone_audio(corpus):
    assert len(corpus) == 20
    pairs = [(label, m["lang"]) for _, label, m in corpus]
    assert {pair: pairs.count(pair) for pair in set(pairs)} == {
        ("human", "zh"): 5, ("human", "en"): 5, ("machine", "zh"): 5, ("machine", "en"): 5}
    for path, label, m in corpus:
        with wave.open(str(path)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
            assert w.getnframes() >= 4 * RATE
        assert m["voice"].startswith("cmn-latn-pinyin" if m["lang"] == "zh" else "en")
        tones = [p for p in m["parts"] if p["freq"]]
        assert [950 <= t["freq"] <= 1050 and 0.4 <= t["seconds"] <= 0.6 for t in tones] == (
            [True] if label == "machine" else [])                     # the beep


def test_the_plan_is_repeatable_and_the_seed_matters():
    assert plan(7, 40) == plan(7, 40)
    assert plan(7, 40) != plan(8, 40)
    with pytest.raises(ValueError):
        plan(1, 10)


def test_the_same_seed_renders_the_same_audio(tmp_path):
    a = generate(tmp_path / "a", seed=21, count=4)
    b = generate(tmp_path / "b", seed=21, count=4)
    assert [p.read_bytes() for p, _ in a] == [p.read_bytes() for p, _ in b]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_short_greeting_then_waiting_is_a_person(corpus, lang):
    path, m = first(corpus, "human", "short", lang)
    result = classify_wav(path)
    assert (result.label, result.cause) == ("human", "HUMAN")
    assert result.decided_after_ms <= 3000
    assert result.silence_ms >= Params().after_greeting_silence_ms
    pause_ms = m["parts"][0]["seconds"] * 1000                # before the greeting
    assert pause_ms - 2 * FRAME_MS <= result.initial_silence_ms <= pause_ms + 200


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_long_voicemail_greeting_is_a_machine(corpus, lang):
    path, m = first(corpus, "machine", "long", lang)
    result = classify_wav(path)
    assert result.label == "machine" and result.cause in ("LONGGREETING", "ENDSPEECH")
    assert result.decided_after_ms <= 3000
    assert result.greeting_ms >= Params().end_greeting_ms


def test_accuracy_on_a_small_generated_set(corpus):
    right = [classify_wav(path).label == label for path, label, _ in corpus]
    assert sum(right) / len(right) >= 0.85


def test_only_the_first_seconds_count(corpus):
    path, _, _ = corpus[1]
    pcm, rate = read_wav(path)
    whole = classify(pcm, rate)
    assert whole == classify(pcm[:2 * 3 * RATE], rate)
    short = classify(pcm, rate, Params(max_ms=1000))
    assert short.decided_after_ms <= 1000 and short.label in ("machine", "unsure")


def test_streaming_in_odd_pieces_gives_the_same_result(corpus):
    pcm, rate = read_wav(corpus[0][0])
    detector = Detector(rate)
    result = None
    for start in range(0, len(pcm), 333):
        result = detector.feed(pcm[start:start + 333])
        if result:
            break
    assert result == classify(pcm, rate)
    assert detector.feed(b"\0" * 320) is result                # decided is final


def test_16_khz_audio_is_read_too(corpus, tmp_path):
    path, _ = first(corpus, "machine", "long", "en")
    wide = tmp_path / "wide.wav"
    subprocess.run(["sox", str(path), "-r", "16000", str(wide)], check=True)
    assert classify_wav(wide).label == "machine"


# -- edge cases ------------------------------------------------------------------------------

def test_no_audio_is_unsure():
    result = classify(b"")
    assert (result.label, result.cause, result.decided_after_ms) == ("unsure", "NOAUDIO", 0)


def test_silence_is_unsure_not_a_machine():
    """People often answer a cold call and wait: silence does not prove a machine."""
    for samples in ([0] * 3 * RATE, noise(3, -45)):
        result = classify(pcm_of(samples))
        assert (result.label, result.cause) == ("unsure", "INITIALSILENCE")
        assert result.decided_after_ms == Params().initial_silence_ms
        assert result.speech_frames == 0


def test_audio_shorter_than_a_decision_is_unsure():
    result = classify(pcm_of([0] * (RATE // 2)))
    assert (result.label, result.cause, result.decided_after_ms) == ("unsure", "SHORT", 500)


def test_a_steady_tone_is_a_machine():
    tone = [round(8000 * math.sin(2 * math.pi * 1000 * n / RATE)) for n in range(3 * RATE)]
    result = classify(pcm_of([0] * 1600 + tone))
    assert result.label == "machine"


@pytest.mark.parametrize("rate", [11025, 22050, 44100, 0])
def test_a_rate_webrtcvad_cannot_take_is_refused_clearly(rate):
    with pytest.raises(AMDError, match="8000"):
        classify(b"\0\0" * 800, rate)


def test_odd_bytes_and_non_pcm_wavs_are_refused(tmp_path):
    with pytest.raises(AMDError, match="even"):
        classify(b"\0\0\0")
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"\0" * 6400)
    with pytest.raises(AMDError, match="16-bit mono"):
        classify_wav(stereo)
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with pytest.raises(AMDError, match="not a WAV"):
        classify_wav(text)
