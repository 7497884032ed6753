"""`AGIChannel`: pyst2's AGI command methods over a bounded line transport.

Why a subclass instead of pyst2 as it is (DESIGN.md, "Known traps", measured with pyst2 0.5.1):
  * `asterisk.fastagi` imports Python 2's `SocketServer`: it cannot even be imported on
    Python 3, so the server is our own (agi/fastagi/server.py) and this module never imports it.
  * `AGI.__init__` installs a SIGHUP handler (ValueError outside the main thread, i.e. in every
    FastAGI call thread), writes debug lines to stderr and reads the env block with an unbounded
    readline(). We do not call it: the env is read by `protocol.read_env` (bounded) and passed in.
  * `get_result` treats `511` and an inline `HANGUP` line as unknown errors (in fact it fails on
    int("") for `HANGUP`), blocks forever on a silent peer and reads 520 blocks unbounded. Ours
    understands them: the unsolicited `HANGUP` line marks the channel hung up and reading goes
    on, `511` raises AGIDeadChannel, end of stream raises AGIConnectionLost, every read is
    bounded (each command by its own bound, agi/fastagi/reply_timeouts.py; past it AGIReplyTimeout, a
    hangup), and `200 result=-1` raises AGIResultHangup when the channel did hang up (the
    `HANGUP` line follows ~40 ms later, so we wait briefly for it) and AGIAppError otherwise.
  * `_quote` does not escape `"` or `\\`; ours does, and refuses line breaks (command injection).
  * `record_file` returns chr(result): chr(15948) after a silence-ended recording. Ours returns
    the DTMF digit or "" and leaves the full result in `last_result`.
Every other command method (answer, stream_file, get_data, wait_for_digit, say_*, set_variable,
get_variable, verbose, appexec, exec_command, hangup, database_*...) is pyst2's, unchanged.
"""
from __future__ import annotations

import time

from asterisk import agi as pyst2

from agi.fastagi.protocol import (
    COMMAND_MAX,
    LINE_BREAK,
    USAGE_MAX_LINES,
    AGIConnectionLost,
    AGIDeadChannel,
    AGIProtocolError,
    AGIReplyTimeout,
    AGIResultHangup,
    AGITimeout,
    Transport,
    collect_args,
    parse_result,
    parse_script,
    quote,
)
from agi.fastagi.reply_timeouts import ReplyTimeouts

HANGUP_GRACE = 0.5  # how long to wait for the HANGUP line after a `result=-1`


class AGIChannel(pyst2.AGI):
    """One AGI session: `env`, `script` (handler name), `query`, `args`, and pyst2's methods.

    `hungup` is True once Asterisk said the caller hung up (HANGUP line, 511, SIGHUP in stdin
    mode); `closed` once the connection is gone (nothing more can be sent); `timed_out` when a
    reply did not come within its bound.

    Each reply waits what `timeouts` gives for its command; without `timeouts`, every reply
    waits `result_timeout` (None: forever; the stdin mode, where Asterisk is our parent)."""

    def __init__(self, transport: Transport, env: dict[str, str], *, script: str | None = None,
                 args: list[str] | None = None, result_timeout: float | None = None,
                 timeouts: ReplyTimeouts | None = None, hangup_grace: float = HANGUP_GRACE):
        # pyst2.AGI.__init__ deliberately not called (see the module docstring).
        self.transport = transport
        self.env = env
        self.stdin = self.stdout = self.stderr = None  # pyst2 attributes; unused here
        self._got_sighup = False
        route = env.get("agi_network_script", "") if script is None else script
        self.script, self.query = parse_script(route)
        self.args = collect_args(env) if args is None else list(args)
        self.result_timeout = result_timeout
        self.timeouts = timeouts
        self.hangup_grace = hangup_grace
        self.hungup = False
        self.closed = False
        self.timed_out = False
        self._waiting = ("", result_timeout)  # the last command's name and its reply bound
        self.commands = 0
        self.last_result: dict | None = None

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    # -- pyst2 overrides -------------------------------------------------------------------

    def _quote(self, string) -> str:
        return quote(string)

    def test_hangup(self):
        """pyst2 raises before sending anything once SIGHUP arrived; we let Asterisk answer
        (SET VARIABLE and friends still work on a dead channel)."""

    def send_command(self, command, *args):
        line = ("%s %s" % (command.strip(), " ".join(map(str, args)))).strip()
        if LINE_BREAK.search(line):
            raise ValueError(f"AGI command with a line break: {line!r}")
        if len(line) > COMMAND_MAX:
            raise ValueError(f"AGI command longer than {COMMAND_MAX} bytes")
        if self.closed:
            raise AGIConnectionLost("connection already closed")
        bound = self.result_timeout if self.timeouts is None else self.timeouts.for_command(line)
        self._waiting = (command.strip(), bound)
        try:
            self.transport.write(line.encode("utf-8") + b"\n")
        except OSError as exc:
            self.closed = True
            raise AGIConnectionLost(f"cannot send: {exc}") from None
        self.commands += 1

    def execute(self, command, *args):
        self.send_command(command, *args)
        return self.get_result()

    def get_result(self, stdin=None):
        line = self._read_line()
        code, sep, text = line[:3], line[3:4], line[4:]
        if code == "200" and sep == " ":
            result = parse_result(text)
            self.last_result = result
            value, data = result["result"]
            if data == "hangup":
                self.hungup = True
                raise AGIResultHangup("User hungup during execution")
            if value == "-1":
                if not self.hungup:
                    self._await_hangup()
                if self.hungup:
                    raise AGIResultHangup("the channel hung up during the command")
                raise pyst2.AGIAppError("Error executing application, or hangup")
            return result
        if code == "510":
            raise pyst2.AGIInvalidCommand(text)
        if code == "511":
            self.hungup = True
            raise AGIDeadChannel(text)
        if code == "520":
            usage = [line]
            while sep == "-":
                if len(usage) > USAGE_MAX_LINES:
                    raise self._broken(AGIProtocolError("520 usage block too long"))
                more = self._read_line()
                usage.append(more)
                if more.startswith("520 "):
                    break
            raise pyst2.AGIUsageError("\n".join(usage) + "\n")
        raise self._broken(pyst2.AGIUnknownError(line, "Unhandled code or undefined response"))

    def record_file(self, filename, format="gsm", escape_digits="#", timeout=pyst2.DEFAULT_RECORD,
                    offset=0, beep="beep", silence=0):
        """RECORD FILE; returns the DTMF digit that ended it, or "" (time limit or silence).
        `last_result` keeps result, reason and endpos."""
        args = [self._quote(filename), format, self._process_digit_list(escape_digits), timeout, offset]
        if beep:
            args.append("BEEP")
        if silence:
            args.append("s=%d" % silence)
        result = self.execute("RECORD FILE", *args)
        value, reason = result["result"]
        return chr(int(value)) if reason == "dtmf" else ""

    # -- reading ---------------------------------------------------------------------------

    def _broken(self, exc):
        """After a protocol error the stream is out of step: nothing more may be sent."""
        self.closed = True
        return exc

    def _read_line(self) -> str:
        """Next reply line without its `\\n`, skipping (and noting) unsolicited HANGUP lines."""
        command, bound = self._waiting
        while True:
            try:
                raw = self.transport.readline(bound)
            except AGITimeout:
                self.closed = self.timed_out = True
                raise AGIReplyTimeout(f"no reply to {command} within {bound:g} s") from None
            except AGIProtocolError as exc:
                raise self._broken(exc) from None
            if not raw:
                self.closed = self.hungup = True
                raise AGIConnectionLost("Asterisk closed the connection")
            text = raw[:-1].decode("utf-8", "replace")
            if text == "HANGUP":
                self.hungup = True
                continue
            return text

    def _await_hangup(self) -> None:
        """After `result=-1`: did the caller hang up? Asterisk sends the HANGUP line ~40 ms
        later; a real error (say a missing sound file) sends nothing."""
        deadline = time.monotonic() + self.hangup_grace
        while not self.hungup and not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                raw = self.transport.readline(min(remaining, 0.05))
            except AGIProtocolError:
                continue  # timeout slice (or junk, which the next read will report)
            if not raw:
                self.closed = self.hungup = True
            elif raw == b"HANGUP\n":
                self.hungup = True
            else:
                self.transport.unread(raw)
                return
