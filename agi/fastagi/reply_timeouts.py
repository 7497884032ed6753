"""How long a FastAGI session waits for Asterisk's reply to each command.

A silent peer must not hold a call slot for hours (issue 10, item 9), yet a real call must never
be cut while Asterisk is legitimately busy with it. So the bound follows the command:

  ordinary   SET/GET VARIABLE, VERBOSE, ANSWER, DATABASE *, HANGUP...: Asterisk answers in
             milliseconds (ANSWER waits up to 0.5 s for the first media frame, fastagi-basic.txt):
             `command` seconds.
  listening  WAIT FOR DIGIT, RECORD FILE, RECEIVE CHAR/TEXT: the time their own arguments give,
             plus `command`. GET DATA, GET OPTION, SPEECH RECOGNIZE also play a prompt first.
  media      STREAM FILE, SAY *, CONTROL STREAM FILE, EXEC Playback and the prompt of the ones
             above: a prompt's length is not known here, so `media` seconds, generous but finite.
  long       EXEC Dial / Queue / ConfBridge / Gosub... and every application not known to be
             short (cutting a bridged call is worse than a slot held: the server sends EXEC only
             when a handler asks, a peer cannot choose it), GOSUB, and a listening command told
             to wait forever (-1): `longest`.
Every bound is capped at `longest` (None: no cap).

Defaults (settings agi_command_timeout, agi_media_timeout, agi_result_timeout): 10 s is 20 times
the slowest ordinary reply recorded (ANSWER) and leaves room for a loaded PBX, while a silent
peer gives its slot back within seconds; 300 s leaves ample room above the prompts of
ivr_flows (seconds each; the main menu, the longest, is one sentence per option); 4 h is a
long call."""
from __future__ import annotations

import dataclasses
import re

from agi.fastagi.protocol import parse_args

DIGIT_WAIT = 10.0    # GET DATA without a timeout: the dialplan's response timeout (10 s, then 5)
GET_DATA_MAX = 1024  # GET DATA without max digits: res_agi's default

SHORT_APPS = frozenset({
    "noop", "set", "multiset", "verbose", "log", "answer", "progress", "ringing", "hangup",
    "mixmonitor", "stopmixmonitor", "pausemonitor", "unpausemonitor", "userevent",
    "playtones", "stopplaytones", "dumpchan", "setamaflags", "goto", "gotoif", "celgenuserevent",
})
MEDIA_APPS = frozenset({
    "playback", "background", "saydigits", "saynumber", "sayalpha", "sayalphacase",
    "sayphonetic", "sayunixtime", "datetime", "senddtmf",
})

_LEADING_INT = re.compile(r"^\s*([+-]?\d+)")


@dataclasses.dataclass(frozen=True)
class ReplyTimeouts:
    """The three bounds in seconds; `for_command` picks or computes one per command line."""
    command: float = 10.0
    media: float = 300.0
    longest: float | None = 4 * 3600.0

    def for_command(self, line: str) -> float | None:
        """Seconds to wait for the reply to the command `line` (None: forever)."""
        head = line.upper().split(None, 3)[:3]  # command names are plain words
        seconds = self.command
        for name, rule in _RULES:
            if head[:len(name)] == name:
                args = parse_args(line)[len(name):] if rule not in _NO_ARGS else []
                seconds = rule(self, args)
                break
        if seconds is None:
            return self.longest
        return seconds if self.longest is None else min(seconds, self.longest)


def _media(t: ReplyTimeouts, args) -> float:
    return t.media


def _long(t: ReplyTimeouts, args) -> None:
    return None


def _control_stream(t: ReplyTimeouts, args) -> float | None:
    # CONTROL STREAM FILE file escape [skipms] [ffchar] [rewchar] [pausechar]: a caller who
    # pressed pause can keep the prompt paused as long as they like.
    return None if _arg(args, 5) else t.media


def _get_data(t: ReplyTimeouts, args) -> float | None:
    # GET DATA file [timeout ms] [max digits]: the timeout restarts with every digit.
    per_digit = _ms(args, 1)
    if per_digit is not None and per_digit < 0:
        return None
    digits = _int(args, 2)
    digits = GET_DATA_MAX if digits is None else max(1, digits)
    return t.media + (per_digit or DIGIT_WAIT) * digits + t.command


def _prompt_then(index: int):
    """GET OPTION file escape [timeout ms], SPEECH RECOGNIZE prompt timeout [offset]."""
    def rule(t: ReplyTimeouts, args) -> float | None:
        wait = _ms(args, index)
        if wait is not None and wait < 0:
            return None
        return t.media + (wait or DIGIT_WAIT) + t.command
    return rule


def _listening(index: int, zero_is_forever: bool = False):
    """WAIT FOR DIGIT timeout, RECORD FILE file format escape timeout, RECEIVE CHAR timeout."""
    def rule(t: ReplyTimeouts, args) -> float | None:
        wait = _ms(args, index)
        if wait is None:
            return t.command
        if wait < 0 or (zero_is_forever and wait == 0):
            return None
        return wait + t.command
    return rule


def _exec(t: ReplyTimeouts, args) -> float | None:
    app = args[0].lower() if args else ""
    if app in SHORT_APPS:
        return t.command
    if app in MEDIA_APPS:
        return t.media
    if app == "wait":
        seconds = _number(_arg(args, 1).split(",")[0])
        return None if seconds is None else max(0.0, seconds) + t.command
    return None


def _arg(args: list[str], index: int) -> str:
    return args[index] if index < len(args) else ""


def _int(args: list[str], index: int) -> int | None:
    """Asterisk's atoi(): the leading integer, 0 for junk; None when the argument is missing."""
    if index >= len(args):
        return None
    match = _LEADING_INT.match(args[index])
    return int(match.group(1)) if match else 0


def _ms(args: list[str], index: int) -> float | None:
    value = _int(args, index)
    return None if value is None else value / 1000


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_NO_ARGS = (_media, _long)  # their bound does not depend on the arguments: not parsed
_RULES = [
    (["EXEC"], _exec),
    (["GOSUB"], _long),
    (["STREAM", "FILE"], _media),
    (["CONTROL", "STREAM", "FILE"], _control_stream),
    (["SAY"], _media),
    (["GET", "DATA"], _get_data),
    (["GET", "OPTION"], _prompt_then(2)),
    (["SPEECH", "RECOGNIZE"], _prompt_then(1)),
    (["WAIT", "FOR", "DIGIT"], _listening(0)),
    (["RECORD", "FILE"], _listening(3)),
    (["RECEIVE", "CHAR"], _listening(0, zero_is_forever=True)),
    (["RECEIVE", "TEXT"], _listening(0, zero_is_forever=True)),
]
