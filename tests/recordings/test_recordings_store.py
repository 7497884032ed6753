"""Recording store and audio (no database): the key layout, nothing reaches outside the
recordings folder, and MixMonitor's WAV (made here with sox) compresses with pydub."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess

import pytest

from recordings.audio import AudioError, compress, duration_ms
from recordings.store import RecordingStore, UnsafePath, check_key, incoming_name, store_wav

WHEN = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)


def make_wav(path, seconds=2.5, rate=8000):
    """A MixMonitor-like WAV: 16-bit signed linear, mono (sox, else ffmpeg)."""
    if shutil.which("sox"):
        cmd = ["sox", "-n", "-r", str(rate), "-c", "1", "-b", "16", str(path), "synth", str(seconds),
               "sine", "300-900"]
    elif shutil.which("ffmpeg"):
        cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
               f"sine=frequency=440:duration={seconds}", "-ar", str(rate), "-ac", "1",
               "-c:a", "pcm_s16le", str(path)]
    else:
        pytest.fail("sox or ffmpeg is missing: apt-get install sox ffmpeg")
    subprocess.run(cmd, check=True)
    return path


@pytest.fixture
def store(tmp_path):
    return RecordingStore(tmp_path / "recordings").ensure()


def test_key_layout_and_safe_stem(store):
    assert store.key_for("1795713036.34", "mp3", WHEN) == "2026/11/26/1795713036.34.mp3"
    assert store.key_for("cf3523f2-559b-49d9-a1c4-69a3528ef12f", "ogg", WHEN) == \
        "2026/11/26/cf3523f2-559b-49d9-a1c4-69a3528ef12f.ogg"
    assert store.key_for("../../etc/passwd", "mp3", WHEN) == "2026/11/26/etc_passwd.mp3"
    with pytest.raises(UnsafePath):
        store.key_for("...", "mp3", WHEN)
    with pytest.raises(UnsafePath):
        store.key_for("x", "exe", WHEN)


@pytest.mark.parametrize("key", [
    "../secret.mp3", "2026/11/26/../../../etc/passwd", "/etc/passwd", "/2026/11/26/a.mp3",
    "2026/11/26/..mp3", "2026/11/26/.hidden.mp3", "2026/11/26/%2e%2e%2fx.mp3",
    "2026/11/26/..%2f..%2fx.mp3", "2026\\11\\26\\a.mp3", "2026/11/26/a.mp3\x00.txt",
    "2026/11/26/a.txt", "2026/11/26/", "", "2026//26/a.mp3", "C:/x/y/z.mp3",
    "2026/11/26/a.mp3/..", "2026/11/26/\u2025.mp3", "2026/11/26/a.mp3\n",
])
def test_hostile_keys_are_refused_before_the_disk(store, key):
    with pytest.raises(UnsafePath):
        check_key(key)
    with pytest.raises(UnsafePath):
        store.open(key)
    with pytest.raises(UnsafePath):
        store.delete(key)


def test_symlinks_are_never_followed(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.mp3"
    secret.write_bytes(b"ID3 not yours")
    day = store.root / "2026" / "11" / "26"
    day.mkdir(parents=True)
    (day / "link.mp3").symlink_to(secret)
    with pytest.raises(UnsafePath):
        store.open("2026/11/26/link.mp3")
    with pytest.raises(UnsafePath):
        store.delete("2026/11/26/link.mp3")
    assert secret.exists()
    # a symlinked folder anywhere on the way
    (store.root / "2026" / "12").symlink_to(outside)
    (outside / "01").mkdir()
    (outside / "01" / "a.mp3").write_bytes(b"x")
    with pytest.raises(UnsafePath):
        store.open("2026/12/01/a.mp3")
    with pytest.raises(UnsafePath):
        store.delete("2026/12/01/a.mp3")
    assert (outside / "01" / "a.mp3").exists()
    # a folder where a file should be is not a recording either
    (day / "dir.mp3").mkdir()
    with pytest.raises(UnsafePath):
        store.open("2026/11/26/dir.mp3")
    # and a missing file is just missing
    with pytest.raises(FileNotFoundError):
        store.open("2026/11/26/none.mp3")
    assert not store.exists("2026/11/26/none.mp3")


def test_incoming_names_from_asterisk_stay_in_the_incoming_folder(store, tmp_path):
    assert incoming_name("/var/spool/asterisk/monitor/tx-mix-cc18e721.wav") == "tx-mix-cc18e721.wav"
    # a path on the PBX is reduced to its file name: it cannot climb out of our folder
    assert incoming_name("/var/spool/asterisk/monitor/../../../etc/x.wav") == "x.wav"
    for bad in ("", "/etc/passwd", "../../etc/shadow", "/x/..wav", "/x/.wav", "a.wav\x00",
                "C:\\monitor\\a.wav", "/x/a b.wav", "/x/a.wav/.."):
        with pytest.raises(UnsafePath):
            incoming_name(bad)
    (tmp_path / "x.wav").write_bytes(b"RIFF")
    os.symlink(tmp_path / "x.wav", store.incoming / "link.wav")
    with pytest.raises(UnsafePath):
        store.open_incoming("/var/spool/asterisk/monitor/link.wav")
    assert not store.remove_incoming("/var/spool/asterisk/monitor/absent.wav")


def test_compress_wav_to_mp3_and_ogg(tmp_path):
    wav = make_wav(tmp_path / "call.wav", seconds=2.5)
    assert duration_ms(wav) == 2500
    mp3 = compress(wav, tmp_path / "call.mp3")
    assert (mp3.format, mp3.duration_ms, mp3.sample_rate, mp3.channels) == ("mp3", 2500, 8000, 1)
    assert 0 < mp3.size_bytes < os.path.getsize(wav) / 3
    assert (tmp_path / "call.mp3").read_bytes()[:3] in (b"ID3", b"\xff\xf3", b"\xff\xe3")
    with open(wav, "rb") as fh:
        ogg = compress(fh, tmp_path / "call.ogg", fmt="ogg")
    assert ogg.duration_ms == 2500 and (tmp_path / "call.ogg").read_bytes()[:4] == b"OggS"
    # the compressed file decodes back to the same length (give or take the codec's frames)
    assert abs(duration_ms(tmp_path / "call.mp3", fmt="mp3") - 2500) < 200


def test_bad_audio_is_an_audio_error(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(AudioError):
        compress(bad, tmp_path / "bad.mp3")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError):
        duration_ms(empty)


def test_store_wav_is_atomic_and_inside_the_root(store, tmp_path):
    wav = make_wav(store.incoming / "in-1.wav", seconds=1)
    with store.open_incoming("/var/spool/asterisk/monitor/in-1.wav") as fh:
        key, info = store_wav(store, fh, "1795713036.34", WHEN)
    assert key == "2026/11/26/1795713036.34.mp3"
    assert info.size_bytes == (store.root / key).stat().st_size
    assert not [p for p in (store.root / "2026/11/26").iterdir() if p.name.startswith(".tmp-")]
    with store.open(key) as fh:
        assert fh.read(3)
    assert store.delete(key) and not store.delete(key)
    assert store.remove_incoming("in-1.wav") and not wav.exists()
    # a failed encode leaves no temp file behind
    (store.incoming / "bad.wav").write_bytes(b"RIFFjunk")
    with store.open_incoming("bad.wav") as fh, pytest.raises(AudioError):
        store_wav(store, fh, "bad", WHEN)
    assert not list((store.root / "2026/11/26").iterdir())
