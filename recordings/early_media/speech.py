"""Mandarin speech from espeak-ng as 8 kHz 16-bit mono PCM (sox resamples it)."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from functools import lru_cache
from pathlib import Path

TIMEOUT = 60


class SpeechError(RuntimeError):
    """espeak-ng or sox is missing or failed."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SpeechError(f"{name} is missing: run scripts/system-deps.sh espeak-ng sox")
    return path


def _run(argv, stdin: bytes | None = None) -> None:
    try:
        done = subprocess.run([str(a) for a in argv], input=stdin, capture_output=True,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise SpeechError(f"{argv[0]} timed out") from None
    if done.returncode:
        raise SpeechError(f"{Path(argv[0]).name} failed: "
                          f"{done.stderr.decode('utf-8', 'replace').strip()[-300:]}")


@lru_cache(maxsize=64)
def say(text: str, *, voice: str = "cmn", speed: int = 175, pitch: int = 50,
        tempo: float = 1.0) -> bytes:
    """`text` spoken by espeak-ng; tempo != 1 stretches it with sox (pitch kept)."""
    with tempfile.TemporaryDirectory(prefix="early-media-") as scratch:
        raw, out = Path(scratch) / "raw.wav", Path(scratch) / "8k.wav"
        _run([_tool("espeak-ng"), "-v", voice, "-s", speed, "-p", pitch, "-w", raw, "--stdin"],
             stdin=text.encode("utf-8"))
        effects = ["tempo", "-s", f"{tempo:.4f}"] if tempo != 1.0 else []
        _run([_tool("sox"), "-R", "-V1", raw, "-r", 8000, "-c", 1, "-b", 16, out, *effects])
        with wave.open(str(out), "rb") as w:
            return w.readframes(w.getnframes())
