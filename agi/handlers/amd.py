"""Answering-machine detection on a live FastAGI call (docs/amd.md).

    result = detect(agi, spool_dir="/var/spool/asterisk/monitor/dialfunnel")
    result.label      # "human" | "machine" | "unsure"; result.cause "HANGUP" if the call ended

The call must be answered (the dialer's outbound leg is). Asterisk records what the far end
says in short steps, `RECORD FILE <spool>/amd-<uniqueid>-<n> wav "" <step_ms> 0`, into a folder
this process reads too; each step is fed to recordings.amd's streaming Detector, which decides
as soon as the audio allows and at the latest after `max_seconds` of audio. Each file is
removed once read. Steps cost a command round trip (a frame at most goes unheard in between);
a recording shorter than its step (a trunk that sends nothing in silence) is padded with silence.

`wait_for_beep(agi, spool_dir=...)` listens on the same way after a machine was heard, until
it is ready to record (recordings/beep.py): "beep", "silence", "timeout" or "hangup".

A hangup during the detection is not an exception: the result is "unsure" with cause HANGUP
(and `agi.hungup` is set). A spool Asterisk cannot write to, or that this process does not see,
gives "unsure" with cause NOFILE and an error in the log. Other AGI errors propagate; the files
are removed all the same.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import re
import time
import uuid
from pathlib import Path

from agi.fastagi.protocol import AGIAppError, AGIHangup
from recordings.amd import UNSURE, AMDResult, Detector, Params
from recordings.beep import BeepListener

STEP_MS = 250
MAX_SECONDS = 3.0          # the most audio heard before a decision
RATE = 8000                # Asterisk's `wav` format
BEEP_MAX_SECONDS = 20.0    # the longest a machine's greeting is waited out for its beep
FLUSH_WAIT = 0.25          # Asterisk answers before it closes the file: wait this long for it
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

log = logging.getLogger("agi.handlers.amd")


def detect(agi, *, spool_dir, pbx_dir: str | None = None, max_seconds: float = MAX_SECONDS,
           step_ms: int = STEP_MS, params: Params | None = None) -> AMDResult:
    """Human, machine or unsure for the answered call on `agi` (an AGIChannel).

    spool_dir: the folder as this process sees it; pbx_dir: the same folder as Asterisk names it
    (default: the same path)."""
    if step_ms < 20:
        raise ValueError("step_ms must be at least one 20 ms frame")
    params = dataclasses.replace(params or Params(), max_ms=round(max_seconds * 1000))
    detector = Detector(RATE, params)
    spool = Path(spool_dir)
    pbx = (pbx_dir or str(spool)).rstrip("/")
    base = "amd-%s-%s" % (_UNSAFE.sub("_", agi.uniqueid or "call"), uuid.uuid4().hex[:8])
    started = time.monotonic()
    result, asked = None, 0
    for step in itertools.count():
        wanted = min(step_ms, params.max_ms - asked)
        if wanted <= 0:
            break
        asked += wanted
        name = f"{base}-{step}"
        local = spool / f"{name}.wav"
        before = agi.last_result
        try:
            agi.record_file(f"{pbx}/{name}", "wav", "", wanted, beep="")
        except AGIHangup:
            endpos = _endpos(agi) if agi.last_result is not before else 0
            detector.feed(_take(local, endpos, 0.0) or b"")
            agi.hungup = True
            result = dataclasses.replace(detector.finish(), label=UNSURE, cause="HANGUP")
            break
        except AGIAppError:  # `200 result=-1 (writefile)`: Asterisk cannot write there
            local.unlink(missing_ok=True)
            result = _no_file(detector, agi, f"Asterisk could not write {pbx}/{name}.wav")
            break
        except BaseException:
            local.unlink(missing_ok=True)
            raise
        pcm = _take(local, _endpos(agi), FLUSH_WAIT)
        if pcm is None:
            result = _no_file(detector, agi, f"{local} did not appear: is spool_dir the folder "
                                             f"Asterisk writes {pbx} to?")
            break
        missing = wanted * RATE // 1000 - len(pcm) // 2
        result = detector.feed(pcm + b"\0\0" * missing if missing > 0 else pcm)
        if result is not None:
            break
    result = result or detector.finish()
    log.info("amd uniqueid=%s label=%s cause=%s audio_ms=%d wall_ms=%d", agi.uniqueid,
             result.label, result.cause, result.decided_after_ms,
             (time.monotonic() - started) * 1000)
    return result


def wait_for_beep(agi, *, spool_dir, pbx_dir: str | None = None,
                  max_seconds: float = BEEP_MAX_SECONDS, step_ms: int = STEP_MS) -> str:
    """Listen to a machine's greeting until it is ready to record a message."""
    listener = BeepListener()
    spool = Path(spool_dir)
    pbx = (pbx_dir or str(spool)).rstrip("/")
    base = "beep-%s-%s" % (_UNSAFE.sub("_", agi.uniqueid or "call"), uuid.uuid4().hex[:8])
    for step in itertools.count():
        if listener.heard_ms >= max_seconds * 1000:
            return "timeout"
        name = f"{base}-{step}"
        local = spool / f"{name}.wav"
        try:
            agi.record_file(f"{pbx}/{name}", "wav", "", step_ms, beep="")
        except AGIHangup:
            local.unlink(missing_ok=True)
            agi.hungup = True
            return "hangup"
        except AGIAppError:
            local.unlink(missing_ok=True)
            log.error("beep uniqueid=%s: Asterisk could not write %s/%s.wav", agi.uniqueid, pbx, name)
            return "timeout"
        pcm = _take(local, _endpos(agi), FLUSH_WAIT)
        if pcm is None:
            log.error("beep uniqueid=%s: %s did not appear", agi.uniqueid, local)
            return "timeout"
        missing = step_ms * RATE // 1000 - len(pcm) // 2
        heard = listener.feed(pcm + b"\0\0" * missing if missing > 0 else pcm)
        if heard is not None:
            log.info("beep uniqueid=%s %s after %d ms", agi.uniqueid, heard, listener.heard_ms)
            return heard
    return "timeout"


def _no_file(detector: Detector, agi, why: str) -> AMDResult:
    log.error("amd uniqueid=%s: %s", agi.uniqueid, why)
    return dataclasses.replace(detector.finish(), label=UNSURE, cause="NOFILE")


def _endpos(agi) -> int:
    try:
        return max(0, int((agi.last_result or {}).get("endpos", ("0", ""))[0]))
    except ValueError:
        return 0


def _take(path: Path, endpos: int, wait: float) -> bytes | None:
    """The PCM of a WAV that Asterisk wrote (None: no such file), then the file is removed.
    Asterisk sends the result line before it closes the file, so the header's sizes are not
    trusted: the data runs to `endpos` samples (waiting up to `wait` s for them to be flushed)
    or, without an endpos, to the end of the file."""
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                raw = None
            start = _data_start(raw or b"")
            have = (len(raw) - start) // 2 if start else 0
            if (start and have >= endpos) or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        if raw is None:
            return None
        return raw[start:start + 2 * (min(have, endpos) if endpos else have)] if start else b""
    finally:
        path.unlink(missing_ok=True)


def _data_start(raw: bytes) -> int:
    """Offset of the samples in a RIFF/WAVE file (0: not a WAV, or no data chunk yet)."""
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        return 0
    pos = 12
    while pos + 8 <= len(raw):
        kind, size = raw[pos:pos + 4], int.from_bytes(raw[pos + 4:pos + 8], "little")
        if kind == b"data":
            return pos + 8
        pos += 8 + size + (size & 1)
    return 0
