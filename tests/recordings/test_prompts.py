"""Prompt audio: espeak-ng's Mandarin voice into 8 kHz mono files Asterisk plays, and admin
uploads (any audio ffmpeg reads) converted the same way; anything else refused clearly."""
from __future__ import annotations

import json
import shutil
import subprocess
import wave

import pytest

from ivr_flows.flows import prompt_texts
from recordings.prompts import (
    FORMATS,
    MANIFEST,
    VOICE,
    AudioError,
    convert_upload,
    generate_prompts,
    mandarin_phonemes,
)


@pytest.fixture(autouse=True)
def _audio_tools():
    """`make test` installs these; a machine without them fails here, it does not skip."""
    missing = [t for t in ("espeak-ng", "ffmpeg", "ffprobe", "sox") if not shutil.which(t)]
    assert not missing, f"missing {missing}: run scripts/system-deps.sh espeak-ng ffmpeg sox"


def check_wav(path, min_seconds=0.3):
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getcomptype()) == (
            8000, 1, 2, "NONE")
        assert w.getnframes() / 8000 >= min_seconds
        return w.getnframes() / 8000


def sox_info(path, kind):
    out = subprocess.run(["soxi", "-t", kind, str(path)] if kind else ["soxi", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return out


def make_audio(tmp_path, suffix, *extra):
    """A 1.5 s stereo 44.1 kHz tone made by ffmpeg, in the container `suffix`."""
    out = tmp_path / f"upload{suffix}"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=1.5:sample_rate=44100", "-ac", "2", *extra,
                    "-y", str(out)], check=True)
    return out


def test_the_voice_speaks_mandarin_not_english_spelled_pinyin():
    phonemes = mandarin_phonemes("您好，欢迎致电", VOICE)
    assert "(en)" not in phonemes and "35" in phonemes          # tone marks, no English switch
    assert "(en)" in mandarin_phonemes("您好", "cmn")           # why not plain `cmn` (1.51)


def test_generate_every_prompt_of_prompts_yaml(tmp_path):
    texts, voice = prompt_texts()
    assert voice == VOICE and "welcome" in texts
    report = generate_prompts(tmp_path, texts, voice=voice)
    assert sorted(report.generated) == sorted(texts) and not report.unchanged
    for prompt_id in texts:
        # a value's one-character segments are short: their silence is cut
        seconds = check_wav(tmp_path / f"{prompt_id}.wav",
                            min_seconds=0.15 if prompt_id.startswith("say-") else 0.3)
        gsm, ulaw = tmp_path / f"{prompt_id}.gsm", tmp_path / f"{prompt_id}.ulaw"
        assert gsm.stat().st_size % 33 == 0 and gsm.stat().st_size > 0   # 33-byte GSM frames
        assert abs(ulaw.stat().st_size - seconds * 8000) <= 160       # 1 byte a sample
    assert "8000" in sox_info(tmp_path / "main-menu.gsm", "")
    check_wav(tmp_path / "main-menu.wav", min_seconds=5)           # a long sentence
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["welcome"]["source"] == "tts"
    assert not list(tmp_path.glob(".tmp-*"))                        # nothing half-written left
    # unchanged texts are not spoken again; a changed one is
    again = generate_prompts(tmp_path, {**texts, "welcome": "您好，欢迎致电测试公司。"}, voice=voice)
    assert again.generated == ["welcome"] and len(again.unchanged) == len(texts) - 1


@pytest.mark.parametrize("suffix,extra", [(".mp3", ["-c:a", "libmp3lame"]),
                                          (".ogg", ["-c:a", "libvorbis"]),
                                          (".m4a", ["-c:a", "aac"]),
                                          (".flac", [])])
def test_an_uploaded_recording_is_converted_like_the_prompts(tmp_path, suffix, extra):
    source = make_audio(tmp_path, suffix, *extra)
    files = convert_upload(source, tmp_path / "sounds", "welcome")
    assert [f.name for f in files] == [f"welcome.{f}" for f in FORMATS]
    assert 1.4 <= check_wav(files[0]) <= 1.6
    assert json.loads((tmp_path / "sounds" / MANIFEST).read_text())["welcome"] == {"source": "upload"}


def test_uploads_are_kept_by_generation_and_accept_bytes_and_files(tmp_path):
    sounds = tmp_path / "sounds"
    data = make_audio(tmp_path, ".mp3").read_bytes()
    convert_upload(data, sounds, "welcome")
    with open(make_audio(tmp_path, ".ogg"), "rb") as fh:
        convert_upload(fh, sounds, "goodbye")
    before = (sounds / "welcome.wav").read_bytes()
    report = generate_prompts(sounds, {"welcome": "您好", "goodbye": "再见", "no-input": "没有按键"})
    assert sorted(report.uploaded) == ["goodbye", "welcome"] and report.generated == ["no-input"]
    assert (sounds / "welcome.wav").read_bytes() == before
    forced = generate_prompts(sounds, {"welcome": "您好"}, force=True)
    assert forced.generated == ["welcome"] and (sounds / "welcome.wav").read_bytes() != before


def test_non_audio_is_refused_clearly_and_nothing_is_written(tmp_path):
    sounds = tmp_path / "sounds"
    text_file = tmp_path / "notes.mp3"
    text_file.write_text("这不是音频 not audio at all\n" * 50, encoding="utf-8")
    image = tmp_path / "picture.png"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "color=c=red:s=32x32:d=1", "-frames:v", "1", "-y", str(image)], check=True)
    silent_video = tmp_path / "video.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "color=c=blue:s=32x32:d=1", "-c:v", "mpeg4", "-y", str(silent_video)],
                   check=True)
    playlist = tmp_path / "list.m3u8"
    playlist.write_text("#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
    for bad, key in ((text_file, "audio.not_audio"), (image, "audio.not_audio"),
                     (silent_video, "audio.no_sound"), (playlist, "audio.not_audio"),
                     (b"", "audio.empty"), (tmp_path / "missing.wav", "audio.not_audio")):
        with pytest.raises(AudioError) as info:
            convert_upload(bad, sounds, "welcome")
        assert info.value.key == key, bad
        assert info.value.text("zh") and info.value.text("en")
    assert "不是可识别的音频" in AudioError("audio.not_audio").text()
    with pytest.raises(AudioError) as info:
        convert_upload(make_audio(tmp_path, ".wav"), sounds, "../../etc/evil")
    assert info.value.key == "audio.bad_name"
    with pytest.raises(AudioError) as info:
        convert_upload(make_audio(tmp_path, ".wav"), sounds, "welcome", max_bytes=1000)
    assert info.value.key == "audio.too_large"
    with pytest.raises(AudioError) as info:
        convert_upload(make_audio(tmp_path, ".wav"), sounds, "welcome", max_seconds=1)
    assert info.value.key == "audio.too_long"
    assert not sounds.exists() or not any(sounds.glob("welcome.*"))


def test_value_segments_are_spoken_without_their_silence(tmp_path):
    """一千二百零五元三角 is nine segments played back to back: espeak-ng ends each character with
    about 350 ms of silence, which the generator cuts for say-* prompts (not for the others)."""
    from pydub import AudioSegment, silence

    from recordings.prompts import SEGMENT_PAD_MS, SEGMENT_SILENCE_DBFS

    generate_prompts(tmp_path, {"say-1": "一", "one": "一"})
    segment = AudioSegment.from_wav(tmp_path / "say-1.wav")
    prompt = AudioSegment.from_wav(tmp_path / "one.wav")
    assert len(prompt) - len(segment) >= 250
    for sound in (segment, segment.reverse()):
        assert silence.detect_leading_silence(sound, silence_threshold=SEGMENT_SILENCE_DBFS) \
            <= SEGMENT_PAD_MS + 10
    assert silence.detect_leading_silence(prompt.reverse(), silence_threshold=SEGMENT_SILENCE_DBFS) >= 250
    # the trimmed segment is generated again once (its fingerprint says trimmed), then kept
    assert generate_prompts(tmp_path, {"say-1": "一"}).unchanged == ["say-1"]
