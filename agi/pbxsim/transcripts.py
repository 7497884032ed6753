"""Parser of the byte-exact protocol transcripts recorded from a real Asterisk
(`tests/fixtures/asterisk/*.txt`, format described in their README, "How to read a transcript").

Body lines:  `> ` bytes Asterisk sent, `< ` bytes our side sent, `#` comment.
Each protocol line is shown without its terminator, which follows as the literal text `\\n` or
`\\r\\n`; a backslash is written `\\\\` and any other unprintable byte `\\xNN`. `# +N.NNNs`
comments give the seconds since the connection opened.

    lines = load("fastagi-basic.txt")
    lines[0] == Line(">", b"agi_network: yes\\n", 0.0)
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, NamedTuple

ASTERISK = ">"  # bytes Asterisk sent
OURS = "<"      # bytes our side (the AGI server / script) sent

_TIME = re.compile(r"^# \+(\d+\.\d+)s\s*$")


class TranscriptError(ValueError):
    pass


class Line(NamedTuple):
    direction: str   # ASTERISK or OURS
    data: bytes      # exact bytes, terminator included
    at: float | None  # last `# +N.NNNs` mark seen before this line (None before any)


def decode(text: str) -> bytes:
    """Turn the escaped body text of one line (terminator included) into its bytes."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out += ch.encode("ascii")
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt == "\\":
            out += b"\\"
            i += 2
        elif nxt == "n":
            out += b"\n"
            i += 2
        elif nxt == "r":
            out += b"\r"
            i += 2
        elif nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", text[i + 2:i + 4]):
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            raise TranscriptError(f"bad escape at {i} in {text!r}")
    return bytes(out)


def parse(text: str) -> list[Line]:
    """All protocol lines of a transcript, in order."""
    lines: list[Line] = []
    at: float | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.startswith("#"):
            mark = _TIME.match(raw)
            if mark:
                at = float(mark.group(1))
            continue
        if not raw.strip():
            continue
        if raw[:2] not in ("> ", "< "):
            raise TranscriptError(f"line {number}: not a protocol line: {raw!r}")
        data = decode(raw[2:])
        if not data.endswith(b"\n"):
            raise TranscriptError(f"line {number}: no terminator: {raw!r}")
        lines.append(Line(raw[0], data, at))
    return lines


def load(path: str | Path) -> list[Line]:
    """Comment lines may hold UTF-8 (the captures name 午饭 in a header); protocol lines are
    escaped ASCII (decode refuses anything else)."""
    return parse(Path(path).read_text(encoding="utf-8"))


def sent_by(lines: Iterable[Line], direction: str) -> list[bytes]:
    return [line.data for line in lines if line.direction == direction]


def env_block(lines: Iterable[Line]) -> list[bytes]:
    """The environment lines Asterisk sent first, up to and including the empty line."""
    block = []
    for line in lines:
        if line.direction != ASTERISK:
            break
        block.append(line.data)
        if line.data == b"\n":
            return block
    raise TranscriptError("no complete environment block")


def env_dict(lines: Iterable[Line]) -> dict[str, str]:
    """The environment block as an ordered {key: value} (value without the space after ':')."""
    env = {}
    for data in env_block(lines)[:-1]:
        key, _, value = data.decode().rstrip("\n").partition(": ")
        env[key] = value
    return env


class Session(NamedTuple):
    env: list[bytes]                           # the env block, empty line included
    exchanges: list[tuple[bytes, list[bytes]]]  # (our line, Asterisk's lines that followed it)
    closing: list[bytes]                       # what Asterisk sent after our side closed


def session(lines: Iterable[Line]) -> Session:
    """Split a transcript into env block, command exchanges and closing lines.

    A FastAGI session ends with Asterisk's `HANGUP\\n` after our side closed; when the last
    line of the transcript is that `HANGUP`, it is the closing line, not part of the last
    exchange (an unsolicited hangup `HANGUP` is always followed by more traffic)."""
    lines = list(lines)
    env = env_block(lines)
    out: list[tuple[bytes, list[bytes]]] = []
    for line in lines[len(env):]:
        if line.direction == OURS:
            out.append((line.data, []))
        elif out:
            out[-1][1].append(line.data)
        else:
            raise TranscriptError("Asterisk spoke between the env block and our first command")
    closing: list[bytes] = []
    if out and out[-1][1] and out[-1][1][-1] == b"HANGUP\n":
        closing.append(out[-1][1].pop())
    return Session(env, out, closing)
