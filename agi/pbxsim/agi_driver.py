"""The simulator's Asterisk: drives a FastAGI server exactly as Asterisk 22 does.

It connects, sends the environment block one line per write (order and format of
tests/fixtures/asterisk/fastagi-*.txt), then answers each command the way res_agi would for a
scripted caller, and when the server closes it sends the closing `HANGUP` and closes too.

    result = run_call("127.0.0.1", 4573, "ivr?flow=main", args=["arg1"], callerid="5551234",
                      scenario=Scenario(keys=["1", "12345#"]))
    result.status          # DIALFUNNEL_STATUS as the server set it
    result.commands        # every command line the server sent

A Scenario says what the caller does:
  keys        DTMF, one entry per command that listens for digits, in order: STREAM FILE /
              SAY * / CONTROL STREAM FILE with escape digits, GET DATA, GET OPTION,
              WAIT FOR DIGIT, RECORD FILE with escape digits. An entry is a string of digits,
              a Press (digits plus when they come), or None (no input: the command times out).
  dtmf        {command index: digits or Press}: input for that exact command (wins over keys).
  hangup_at   the caller hangs up during command N (0-based): a media command answers
              `200 result=-1 ...`, any other command completes; then the unsolicited `HANGUP`.
  hangup_before  the caller hangs up after the reply to command N-1 (0: right after the env).
  drop_at     the connection is cut (no reply, no HANGUP) when command N arrives.
  replies     {command index: raw reply line} for results no model covers (e.g. the
              silence-ended RECORD FILE quirk `200 result=15948 (timeout) endpos=24438`).
  delays      {command index: seconds} to wait before replying (long prompts, slow callers).
  audio       what the far end says from the start of the AGI on: a WAV file (8 kHz, 16-bit
              mono) or such PCM bytes. RECORD FILE hears it in order, each recording where the
              last one stopped (past its end: silence). With `s=N` a recording stops like
              Asterisk's once more than N s of frames averaged below the silence threshold
              (256), keeps 1 s less of that silence, and answers with the quirky remaining wait
              (`200 result=15948 (timeout) endpos=24438`, fastagi-record.txt).
  record_dir  the spool the simulated Asterisk shares with the server: RECORD FILE writes
              `<file>.wav` (or `.sln`) there, the whole recording or, on a hangup, what was
              heard until it; a path outside it answers `200 result=-1 (writefile)`. None (the
              default): nothing is written.
  realtime    RECORD FILE takes as long as the audio it hears (else it answers at once), waited
              with `sleep` (time.sleep; the AMI simulator passes its scheduler's sleep, so
              under a fake clock the recording takes simulated time); with `media_realtime`
              a prompt played to its end takes its length (`sounds`, else `default_sound`).
After a hangup the channel is dead: the commands res_agi does not allow on a dead channel get
`511 Command Not Permitted on a dead channel or intercept routine`, the others (SET/GET
VARIABLE, GET FULL VARIABLE, VERBOSE, NOOP, DATABASE *, EXEC...) still work.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import re
import socket
import struct
import time
import wave
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from agi.fastagi.protocol import DEAD_MESSAGE, AGIProtocolError, Transport, parse_args

SAMPLE_RATE = 8000        # endpos counts samples at 8 kHz
DEFAULT_SOUND = 8000      # length of a prompt the scenario does not list: 1 s
ASTERISK_VERSION = "22.10.1"
SILENCE_THRESHOLD = 256   # dsp.conf's default silencethreshold (RECORD FILE's s= option)
DSP_FRAME = 160           # 20 ms frames, as a SIP channel delivers them
RECORD_FORMATS = {"wav": "wav", "sln": "sln", "slin": "sln"}

# Applications the simulated Asterisk knows (EXEC of anything else: result=-2).
DEFAULT_APPS = frozenset(
    "Answer AudioSocket Background BackGround ConfBridge Dial Echo Gosub Goto GotoIf Hangup "
    "MixMonitor Monitor MusicOnHold NoOp Playback Playtones Progress Queue Read ReceiveFAX "
    "Record Ringing SayDigits SayNumber SendDTMF SendFAX Set StopMixMonitor System UserEvent "
    "VoiceMail VoiceMailMain Wait WaitExten".split())
# Applications that need a live channel: on a dead one they return -1.
MEDIA_APPS = frozenset(
    "answer audiosocket background confbridge dial echo mixmonitor monitor musiconhold "
    "playback playtones progress queue read receivefax record ringing saydigits saynumber "
    "senddtmf sendfax voicemail voicemailmain wait waitexten".split())


@dataclasses.dataclass(frozen=True)
class Press:
    """What the caller keys during one command. `at`: seconds into the prompt or recording
    when the first digit arrives (gives endpos); `endpos`: the exact sample position."""
    digits: str = ""
    at: float | None = None
    endpos: int | None = None


@dataclasses.dataclass
class Scenario:
    keys: Sequence[str | Press | None] = ()
    dtmf: Mapping[int, str | Press] = dataclasses.field(default_factory=dict)
    hangup_at: int | None = None
    hangup_before: int | None = None
    hangup_endpos: int | None = None   # sample position reported by the interrupted command
    drop_at: int | None = None
    replies: Mapping[int, str] = dataclasses.field(default_factory=dict)
    delays: Mapping[int, float] = dataclasses.field(default_factory=dict)
    sounds: Mapping[str, int | None] = dataclasses.field(default_factory=dict)  # None: missing
    variables: Mapping[str, str] = dataclasses.field(default_factory=dict)
    linkedid: str | None = None  # CHANNEL(linkedid); None: its own uniqueid (it began the call)
    apps: frozenset = DEFAULT_APPS
    app_results: Mapping[str, int] = dataclasses.field(default_factory=dict)
    answered: bool = False
    hangup_delay: float = 0.04  # result=-1 ... then HANGUP about 40 ms later (transcript)
    agisighup: bool = True      # AGISIGHUP=no: no HANGUP lines at all
    timeout: float = 30.0       # longest wait for the server's next line
    audio: bytes | str | os.PathLike | None = None   # the far end's audio (RECORD FILE)
    record_dir: str | os.PathLike | None = None      # where RECORD FILE may write
    realtime: bool = False      # RECORD FILE lasts as long as what it hears
    sleep: Callable[[float], object] = time.sleep   # how `realtime` waits
    media_realtime: bool = False  # with realtime: a prompt played to its end takes its length too
    default_sound: int = DEFAULT_SOUND   # samples of a prompt `sounds` does not list


@dataclasses.dataclass
class CallResult:
    commands: list[str]
    replies: list[list[str]]
    variables: dict[str, str]
    astdb: dict[tuple[str, str], str]
    status: str | None          # DIALFUNNEL_STATUS
    agistatus: str              # what AGI() leaves in AGISTATUS: SUCCESS, HANGUP or FAILURE
    hungup: bool
    duration: float
    sent: list[bytes]           # every write we (Asterisk) made, in order
    received: list[bytes]       # every line the server sent
    error: str = ""
    recorded: list[Path] = dataclasses.field(default_factory=list)  # RECORD FILE's files
    # seconds from each reply we sent (the env block first) to the server's next command
    gaps: list[float] = dataclasses.field(default_factory=list)


def build_env(host: str, port: int, script: str, args: Iterable[str] = (), *,
              callerid: str | None = None, calleridname: str | None = None,
              channel: str = "Local/s@dialfunnel-inbound-00000001;2", uniqueid: str | None = None,
              context: str = "dialfunnel-inbound", extension: str = "s", priority: int = 1,
              language: str = "en", overrides: Mapping[str, str] | None = None
              ) -> list[tuple[str, str]]:
    """The environment block as Asterisk 22 sends it for AGI(agi://host:port/script,args...)."""
    unknown = not callerid
    env = [
        ("agi_network", "yes"),
        ("agi_network_script", script),
        ("agi_request", f"agi://{host}:{port}/{script}"),
        ("agi_channel", channel),
        ("agi_language", language),
        ("agi_type", channel.split("/", 1)[0]),
        ("agi_uniqueid", uniqueid or "%.6f" % time.time()),
        ("agi_version", ASTERISK_VERSION),
        ("agi_callerid", "unknown" if unknown else callerid),
        ("agi_calleridname", calleridname or ("unknown" if unknown else callerid)),
        ("agi_callingpres", "67" if unknown else "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", "unknown"),
        ("agi_rdnis", "unknown"),
        ("agi_context", context),
        ("agi_extension", extension),
        ("agi_priority", str(priority)),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", "140000170436288"),
    ]
    env += [(f"agi_arg_{n}", str(a)) for n, a in enumerate(args, 1)]
    if overrides:
        keys = [k for k, _ in env]
        env = [(k, overrides.get(k, v)) for k, v in env]
        env += [(k, v) for k, v in overrides.items() if k not in keys]
    return env


def load_audio(audio: bytes | str | os.PathLike) -> bytes:
    """A scenario's audio as 8 kHz 16-bit mono PCM (bytes are taken as such PCM)."""
    if isinstance(audio, (bytes, bytearray)):
        return bytes(audio)
    with wave.open(str(audio), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise ValueError(f"{audio}: the simulator plays 8 kHz 16-bit mono WAV files")
        return w.readframes(w.getnframes())


def silence_end(pcm: bytes, start: int, limit: int, silence_ms: int,
                threshold: int = SILENCE_THRESHOLD) -> int | None:
    """RECORD FILE's `s=` rule (res_agi with ast_dsp_silence) over `pcm` from sample `start`:
    how many samples were heard when the run of frames whose mean absolute sample is below
    `threshold` passed `silence_ms`, or None if that did not happen within `limit` samples.
    Beyond the end of `pcm` the line is silent."""
    heard = total = 0
    while heard < limit:
        n = min(DSP_FRAME, limit - heard)
        chunk = pcm[2 * (start + heard):2 * (start + heard + n)]
        samples = struct.unpack(f"<{len(chunk) // 2}h", chunk)
        heard += n
        total = total + n * 1000 // SAMPLE_RATE if sum(map(abs, samples)) < threshold * n else 0
        if total > silence_ms:
            return heard
    return None


def _press(entry) -> Press | None:
    if entry is None or isinstance(entry, Press):
        return entry
    return Press(str(entry)) if entry else None


def _int(text: str) -> int | None:
    match = re.match(r"^\s*([-+]?\d+)", text)
    return int(match.group(1)) if match else None


USAGE = object()  # a handler's answer meaning "520 usage block"

# res_agi's usage text for the two commands the transcripts show (fastagi-errors.txt).
_USAGE_TEXT = {
    ("stream", "file"): (
        "Send the given file, allowing playback to be interrupted by the given digits, if any. "
        "Returns <literal>0</literal> if playback completes without a digit being pressed, or "
        "the ASCII numerical value of the digit if one was pressed, or <literal>-1</literal> on "
        "error or if the channel was disconnected. If musiconhold is playing before calling "
        "stream file it will be automatically stopped and will not be restarted after "
        "completion.\nIt sets the following channel variables upon completion:\n"
        "<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt as a text "
        "string.\n    <value>SUCCESS</value>\n    <value>FAILED</value>\n"),
    ("get", "data"): (
        "Stream the given <replaceable>file</replaceable>, and receive DTMF data.\n"
        "Returns the digits received from the channel at the other end.\n"),
}

# (words, allowed on a dead channel, method). The dead column is res_agi's command table.
_COMMANDS = [
    (("answer",), False, "answer"),
    (("asyncagi", "break"), True, "zero"),
    (("channel", "status"), False, "channel_status"),
    (("control", "stream", "file"), False, "control_stream_file"),
    (("database", "del"), True, "db_del"),
    (("database", "deltree"), True, "db_deltree"),
    (("database", "get"), True, "db_get"),
    (("database", "put"), True, "db_put"),
    (("exec",), True, "exec"),
    (("get", "data"), False, "get_data"),
    (("get", "full", "variable"), True, "get_full_variable"),
    (("get", "option"), False, "get_option"),
    (("get", "variable"), True, "get_variable"),
    (("gosub",), False, "zero"),
    (("hangup",), False, "hangup"),
    (("noop",), True, "zero"),
    (("receive", "char"), False, "receive_char"),
    (("receive", "text"), False, "receive_text"),
    (("record", "file"), False, "record_file"),
    (("say", "alpha"), False, "say"),
    (("say", "date"), False, "say_number"),
    (("say", "datetime"), False, "say"),
    (("say", "digits"), False, "say_number"),
    (("say", "number"), False, "say_number"),
    (("say", "phonetic"), False, "say"),
    (("say", "time"), False, "say_number"),
    (("send", "image"), False, "send"),
    (("send", "text"), False, "send"),
    (("set", "autohangup"), False, "set_plain"),
    (("set", "callerid"), False, "set_callerid"),
    (("set", "context"), False, "set_plain"),
    (("set", "extension"), False, "set_plain"),
    (("set", "music"), False, "set_music"),
    (("set", "priority"), False, "set_plain"),
    (("set", "variable"), True, "set_variable"),
    (("speech", "activate", "grammar"), False, "zero"),
    (("speech", "create"), False, "zero"),
    (("speech", "deactivate", "grammar"), False, "zero"),
    (("speech", "destroy"), True, "zero"),
    (("speech", "load", "grammar"), False, "zero"),
    (("speech", "recognize"), False, "zero"),
    (("speech", "set"), False, "zero"),
    (("speech", "unload", "grammar"), True, "zero"),
    (("stream", "file"), False, "stream_file"),
    (("tdd", "mode"), False, "zero"),
    (("verbose",), True, "verbose"),
    (("wait", "for", "digit"), False, "wait_for_digit"),
]


class SimChannel:
    """One channel as res_agi sees it: answers command lines, keeps channel variables, the
    AstDB and the dead/alive state. `handle()` returns the reply lines and whether the
    channel hangs up right after them."""

    def __init__(self, scenario: Scenario, env: Mapping[str, str]):
        self.scenario = scenario
        self.env = dict(env)
        self.variables: dict[str, str] = dict(scenario.variables)
        self.astdb: dict[tuple[str, str], str] = {}
        self.answered = scenario.answered
        self.dead = False
        self.callerid = (env.get("agi_callerid", "unknown"), env.get("agi_calleridname", "unknown"))
        self._keys = iter(scenario.keys)
        self.index = -1
        self._cut = False
        self.audio = None if scenario.audio is None else load_audio(scenario.audio)
        self.audio_pos = 0      # samples of `audio` heard so far
        self.recorded: list[Path] = []

    # -- dispatch ------------------------------------------------------------------------------

    def handle(self, index: int, line: str) -> tuple[list[str], bool]:
        self.index = index
        self._cut = index == self.scenario.hangup_at and not self.dead
        argv = parse_args(line)
        found = self._find(argv)
        if found is None:
            replies, hangs_up = ["510 Invalid or unknown command"], self._cut
        elif self.dead and not found[1]:
            replies, hangs_up = ["511 " + DEAD_MESSAGE], False
        else:
            replies, hangs_up = self._run(found, argv)
        if index in self.scenario.replies:  # scripted result; the model above still ran
            replies = [self.scenario.replies[index]]
        return replies, hangs_up

    def _run(self, found, argv) -> tuple[list[str], bool]:
        words, _, method = found
        reply = getattr(self, "_" + method)(argv)
        if reply is USAGE:
            text = _USAGE_TEXT.get(words, "Usage: %s\n" % " ".join(words).upper())
            return (["520-Invalid command syntax.  Proper usage follows:"]
                    + text.rstrip("\n").split("\n") + ["520 End of proper usage."]), self._cut
        if isinstance(reply, tuple):  # (line, the channel hangs up after it)
            return [reply[0]], reply[1] or self._cut
        return [reply], self._cut

    @staticmethod
    def _find(argv: list[str]):
        lowered = [w.lower() for w in argv]
        for words, dead_ok, method in _COMMANDS:
            if tuple(lowered[:len(words)]) == words:
                return words, dead_ok, method
        return None

    def _input(self, listens: bool) -> Press | None:
        if self.index in self.scenario.dtmf:
            return _press(self.scenario.dtmf[self.index])
        if not listens:
            return None
        return _press(next(self._keys, None))

    def _pos(self, press: Press | None, default: int) -> int:
        if press is not None and press.endpos is not None:
            return press.endpos
        if press is not None and press.at is not None:
            return round(press.at * SAMPLE_RATE)
        return default

    def _cut_pos(self, length: int, offset: int = 0) -> int:
        if self.scenario.hangup_endpos is not None:
            return self.scenario.hangup_endpos
        return offset + max(0, length - offset) // 2

    def _sound(self, name: str) -> int | None:
        return self.scenario.sounds.get(name, self.scenario.default_sound)

    @staticmethod
    def _hit(press: Press | None, escape: str) -> str | None:
        if press is None:
            return None
        return next((d for d in press.digits if d in escape), None)

    # -- commands --------------------------------------------------------------------------

    def _zero(self, argv):
        return "200 result=0"

    def _answer(self, argv):
        if self._cut:
            return "200 result=-1"
        self.answered = True
        return "200 result=0"

    def _channel_status(self, argv):
        if len(argv) == 2 or (len(argv) == 3 and argv[2] == self.env.get("agi_channel")):
            return "200 result=%d" % (6 if self.answered else 4)
        if len(argv) == 3:
            return "200 result=-1"
        return USAGE

    def _stream_file(self, argv):
        if not 4 <= len(argv) <= 5:
            return USAGE
        offset = 0
        if len(argv) == 5:
            offset = _int(argv[4])
            if offset is None:
                return USAGE
        return self._play(argv[2], argv[3], offset)

    def _play(self, name: str, escape: str, offset: int = 0, after_wait: bool = False):
        length = self._sound(name)
        if length is None:
            return "200 result=-1 endpos=%d" % offset
        press = self._input(bool(escape))
        if self._cut:
            return "200 result=-1 endpos=%d" % self._cut_pos(length, offset)
        digit = self._hit(press, escape)
        if digit is not None:
            return "200 result=%d endpos=%d" % (ord(digit), self._pos(press, length if after_wait else offset))
        if self.scenario.realtime and self.scenario.media_realtime:
            self.scenario.sleep(max(0, length - offset) / SAMPLE_RATE)
        return "200 result=0 endpos=%d" % length

    def _get_option(self, argv):
        if not 4 <= len(argv) <= 5:
            return USAGE
        return self._play(argv[2], argv[3], after_wait=True)

    def _control_stream_file(self, argv):
        if not 5 <= len(argv) <= 10:
            return USAGE
        if len(argv) > 5 and _int(argv[5]) is None:
            return USAGE
        return self._play(argv[3], argv[4])

    def _get_data(self, argv):
        if len(argv) < 3:
            return USAGE
        limit = _int(argv[4]) if len(argv) >= 5 else 1024
        limit = limit if limit and limit > 0 else 1024
        press = self._input(True)
        if self._cut:
            return "200 result=-1"
        typed = ""
        for digit in press.digits if press else "":
            if digit == "#":
                return "200 result=%s" % typed
            typed += digit
            if len(typed) >= limit:
                return "200 result=%s" % typed
        return "200 result=%s (timeout)" % typed

    def _wait_for_digit(self, argv):
        if len(argv) != 4 or _int(argv[3]) is None:
            return USAGE
        press = self._input(True)
        if self._cut:
            return "200 result=-1"
        if press and press.digits:
            return "200 result=%d" % ord(press.digits[0])
        return "200 result=0"

    def _say(self, argv):
        if len(argv) < 4:
            return USAGE
        press = self._input(bool(argv[3]))
        if self._cut:
            return "200 result=-1"
        digit = self._hit(press, argv[3])
        return "200 result=%d" % (ord(digit) if digit else 0)

    def _say_number(self, argv):
        if len(argv) < 4 or _int(argv[2]) is None:
            return USAGE
        return self._say(argv)

    def _record_file(self, argv):
        if len(argv) < 6 or _int(argv[5]) is None:
            return USAGE
        escape, limit = argv[4], _int(argv[5])
        target = self._record_target(argv[2], argv[3])
        if target is False:
            return "200 result=-1 (writefile)"
        press = self._input(bool(escape))
        if self._cut:
            endpos = self._cut_pos(0)
            self._record(target, endpos, endpos)
            return "200 result=-1 (hangup) endpos=%d" % endpos
        digit = self._hit(press, escape)
        if digit is not None:
            endpos = self._pos(press, 0)
            self._record(target, endpos, endpos)
            return "200 result=%d (dtmf) endpos=%d" % (ord(digit), endpos)
        full = limit * SAMPLE_RATE // 1000 if limit > 0 else 0
        silence = next((_int(a[2:]) for a in argv[6:] if a.startswith("s=")), None)
        if silence and silence > 0 and self.audio is not None and press is None:
            span = full if limit > 0 else len(self.audio) // 2 + (silence + 1) * SAMPLE_RATE
            heard = silence_end(self.audio, self.audio_pos, span, silence * 1000)
            if heard is not None:  # Asterisk keeps 1 s of the silence and answers its wait left
                endpos = max(0, heard - (silence - 1) * SAMPLE_RATE)
                self._record(target, endpos, heard)
                return "200 result=%d (timeout) endpos=%d" % (
                    max(0, limit - heard * 1000 // SAMPLE_RATE), endpos)
        endpos = self._pos(press, full)
        self._record(target, endpos, endpos)
        return "200 result=0 (timeout) endpos=%d" % endpos

    def _record_target(self, name: str, fmt: str) -> Path | None | bool:
        """Where RECORD FILE writes: None (no spool: write nothing), False (refused) or a path."""
        if self.scenario.record_dir is None:
            return None
        spool = Path(self.scenario.record_dir).resolve()
        ext = RECORD_FORMATS.get(fmt.lower())
        if ext is None or not name:
            return False
        target = Path(f"{name}.{ext}").resolve()
        return target if target.parent == spool or spool in target.parents else False

    def _record(self, target: Path | None, samples: int, heard: int) -> None:
        """Write `samples` of what the far end says now, after `heard` samples go by."""
        pcm = b""
        if self.audio is not None:
            pcm = self.audio[2 * self.audio_pos:2 * (self.audio_pos + samples)]
        pcm += b"\0\0" * (samples - len(pcm) // 2)
        self.audio_pos += heard
        if self.scenario.realtime:
            self.scenario.sleep(heard / SAMPLE_RATE)
        if target is None:
            return
        if target.suffix == ".wav":
            with wave.open(str(target), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(SAMPLE_RATE)
                w.writeframes(pcm)
        else:
            target.write_bytes(pcm)
        self.recorded.append(target)

    def _receive_char(self, argv):
        return USAGE if len(argv) != 3 else "200 result=0 (timeout)"

    def _receive_text(self, argv):
        return USAGE if len(argv) != 3 else "200 result=-1"

    def _send(self, argv):
        return USAGE if len(argv) != 3 else "200 result=0"

    def _set_plain(self, argv):
        return USAGE if len(argv) != 3 else "200 result=0"

    def _set_music(self, argv):
        return USAGE if len(argv) < 3 else "200 result=0"

    def _set_callerid(self, argv):
        if len(argv) >= 3:
            match = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', argv[2])
            self.callerid = (match.group(2), match.group(1)) if match else (argv[2], self.callerid[1])
        return "200 result=1"

    def _hangup(self, argv):
        if len(argv) == 1 or (len(argv) == 2 and argv[1] == self.env.get("agi_channel")):
            return ("200 result=1", True)
        if len(argv) == 2:
            return "200 result=-1"
        return USAGE

    def _exec(self, argv):
        if len(argv) < 2:
            return USAGE
        app = argv[1]
        known = {a.lower(): a for a in self.scenario.apps}
        if app.lower() not in known:
            return "200 result=-2"
        if (self.dead or self._cut) and app.lower() in MEDIA_APPS:
            return "200 result=-1"
        if app.lower() == "set" and len(argv) >= 3 and "=" in argv[2]:
            name, _, value = argv[2].partition("=")
            self.variables[name] = value
        return "200 result=%d" % self.scenario.app_results.get(known[app.lower()], 0)

    def _set_variable(self, argv):
        if len(argv) < 4:
            return USAGE
        self.variables[argv[2]] = argv[3]
        return "200 result=1"

    def _lookup(self, name: str) -> str | None:
        builtin = {
            "CALLERID(num)": self.callerid[0], "CALLERID(name)": self.callerid[1],
            "CALLERID(all)": '"%s" <%s>' % (self.callerid[1], self.callerid[0]),
            "CHANNEL": self.env.get("agi_channel"), "CHANNEL(name)": self.env.get("agi_channel"),
            "UNIQUEID": self.env.get("agi_uniqueid"), "CONTEXT": self.env.get("agi_context"),
            "CHANNEL(uniqueid)": self.env.get("agi_uniqueid"),
            "CHANNEL(linkedid)": self.scenario.linkedid or self.env.get("agi_uniqueid"),
            "EXTEN": self.env.get("agi_extension"), "PRIORITY": self.env.get("agi_priority"),
            "LANGUAGE()": self.env.get("agi_language"), "CHANNEL(language)": self.env.get("agi_language"),
        }
        if name in self.variables:
            return self.variables[name]
        return builtin.get(name)

    def _get_variable(self, argv):
        if len(argv) != 3:
            return USAGE
        value = self._lookup(argv[2])
        return "200 result=0" if value is None else "200 result=1 (%s)" % value

    def _get_full_variable(self, argv):
        if len(argv) not in (4, 5):
            return USAGE
        if len(argv) == 5 and argv[4] != self.env.get("agi_channel"):
            return "200 result=0"
        value = re.sub(r"\$\{([^}]*)\}", lambda m: self._lookup(m.group(1)) or "", argv[3])
        return "200 result=1 (%s)" % value

    def _verbose(self, argv):
        return USAGE if len(argv) < 2 else "200 result=1"

    def _db_put(self, argv):
        if len(argv) != 5:
            return USAGE
        self.astdb[(argv[2], argv[3])] = argv[4]
        return "200 result=1"

    def _db_get(self, argv):
        if len(argv) != 4:
            return USAGE
        value = self.astdb.get((argv[2], argv[3]))
        return "200 result=0" if value is None else "200 result=1 (%s)" % value

    def _db_del(self, argv):
        if len(argv) != 4:
            return USAGE
        return "200 result=%d" % (self.astdb.pop((argv[2], argv[3]), None) is not None)

    def _db_deltree(self, argv):
        if not 3 <= len(argv) <= 4:
            return USAGE
        prefix = argv[3] if len(argv) == 4 else ""
        doomed = [k for k in self.astdb if k[0] == argv[2] and k[1].startswith(prefix)]
        for key in doomed:
            del self.astdb[key]
        return "200 result=%d" % bool(doomed)


# -- the connection ----------------------------------------------------------------------------

_uniqueids = itertools.count(1)


def run_call(host: str, port: int, script: str, args: Iterable[str] = (), *,
             callerid: str | None = None, calleridname: str | None = None,
             scenario: Scenario | None = None, env: Mapping[str, str] | None = None,
             connect_timeout: float = 2.0) -> CallResult:
    """Play one FastAGI call against host:port like Asterisk and report what happened."""
    scenario = scenario or Scenario()
    number = next(_uniqueids)
    env_lines = build_env(host, port, script, args, callerid=callerid, calleridname=calleridname,
                          channel="Local/s@dialfunnel-inbound-%08x;2" % number,
                          uniqueid="%d.%d" % (time.time(), number), overrides=env)
    sim = SimChannel(scenario, dict(env_lines))
    result = CallResult([], [], sim.variables, sim.astdb, None, "FAILURE", False, 0.0, [], [])
    started = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except OSError as exc:
        result.error = f"connect: {exc}"
        result.duration = time.monotonic() - started
        return result
    try:
        _converse(sock, sim, env_lines, result)
    finally:
        sock.close()
        result.duration = time.monotonic() - started
        result.status = sim.variables.get("DIALFUNNEL_STATUS")
        result.hungup = sim.dead
        result.recorded = sim.recorded
    return result


def _converse(sock: socket.socket, sim: SimChannel, env_lines, result: CallResult) -> None:
    scenario = sim.scenario
    transport = Transport.from_socket(sock, write_timeout=scenario.timeout)

    def send(data: bytes) -> bool:
        try:
            transport.write(data)
        except OSError as exc:
            result.error = result.error or f"send: {exc}"
            return False
        result.sent.append(data)
        return True

    def hang_up(delay: float) -> bool:
        sim.dead = True
        if not scenario.agisighup:
            return True
        if delay:
            time.sleep(delay)
        return send(b"HANGUP\n")

    for key, value in env_lines:
        if not send(f"{key}: {value}\n".encode()):
            return
    if not send(b"\n"):
        return
    if scenario.hangup_before == 0 and not hang_up(0):
        return
    for index in itertools.count():
        replied = time.monotonic()
        try:
            raw = transport.readline(scenario.timeout, limit=8192)
        except AGIProtocolError as exc:
            result.error = f"read: {exc}"
            return
        if not raw:
            break  # the server closed: the AGI is over
        result.gaps.append(time.monotonic() - replied)
        result.received.append(raw)
        line = raw[:-1].decode("utf-8", "replace")
        result.commands.append(line)
        if index == scenario.drop_at:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
            result.error = "dropped"
            sim.dead = True
            return
        if scenario.delays.get(index):
            time.sleep(scenario.delays[index])
        replies, hangs_up = sim.handle(index, line)
        result.replies.append(replies)
        if not send("".join(r + "\n" for r in replies).encode()):
            return
        if hangs_up and not sim.dead and not hang_up(scenario.hangup_delay):
            return
        if scenario.hangup_before == index + 1 and not sim.dead and not hang_up(0):
            return
    result.agistatus = "HANGUP" if sim.dead else "SUCCESS"
    if scenario.agisighup:
        send(b"HANGUP\n")
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
