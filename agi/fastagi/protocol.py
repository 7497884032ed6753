"""The AGI wire protocol, as recorded from Asterisk 22 (tests/fixtures/asterisk/).

Shared by the FastAGI server, the classic stdin AGI entry point and the PBX simulator:
a line transport with bounded reads, the environment block, result lines, argument quoting.

Every line ends in a bare `\\n` in both directions. Asterisk strips only the `\\n` of a command,
so a `\\r` would become part of it (`510`); we never send one."""
from __future__ import annotations

import os
import re
import select
import socket
import time
from urllib.parse import parse_qsl

from asterisk.agi import AGIAppError, AGIError, AGIHangup, AGISIGPIPEHangup
from asterisk.agi import AGIResultHangup as _Pyst2ResultHangup

ENV_TIMEOUT = 5.0          # seconds allowed for the whole environment block
ENV_MAX_BYTES = 64 * 1024  # Asterisk sends ~700 bytes; anything near this is not Asterisk
ENV_MAX_LINES = 256        # 22 standard lines plus agi_arg_N (AGI() takes at most 127 args)
LINE_MAX = 64 * 1024       # one result line (GET VARIABLE of a long value)
USAGE_MAX_LINES = 200      # a 520 usage block
COMMAND_MAX = 2000         # Asterisk reads commands into a 2048-byte buffer

LINE_BREAK = re.compile("[\r\n\0]")  # what no command line or argument may hold

DEAD_MESSAGE = "Command Not Permitted on a dead channel or intercept routine"


class AGIProtocolError(AGIError):
    """The peer does not speak AGI: malformed, oversized or too slow input."""


class AGITimeout(AGIProtocolError):
    """No (complete) line within the allowed time."""


class AGIConnectionLost(AGISIGPIPEHangup):
    """The connection closed (end of stream, reset, broken pipe)."""


class AGIReplyTimeout(AGIConnectionLost, AGITimeout):
    """No reply to a command within its bound (agi/fastagi/reply_timeouts.py): the peer is treated as
    gone, like a hangup, and the connection is not used again."""


class AGIDeadChannel(AGIHangup):
    """`511`: the command is not allowed on a channel that hung up."""


class AGIResultHangup(_Pyst2ResultHangup):
    """`200 result=-1` for a command cut short because the caller hung up."""


__all__ = ["AGIAppError", "AGIConnectionLost", "AGIDeadChannel", "AGIError", "AGIHangup",
           "AGIProtocolError", "AGIReplyTimeout", "AGIResultHangup", "AGITimeout", "Transport",
           "read_env", "parse_script", "collect_args", "parse_result", "parse_args", "quote"]


class Transport:
    """Line-oriented, bounded reads and whole writes over a socket or a pair of file descriptors.

    Reads wait with poll() (no FD_SETSIZE limit), so many concurrent calls are fine."""

    def __init__(self, read_fd: int, recv, send, close=None):
        self._fd = read_fd
        self._recv = recv
        self._send = send
        self._close = close
        self._buf = bytearray()
        self._poll = select.poll()
        self._poll.register(read_fd, select.POLLIN | select.POLLPRI)
        self.eof = False

    @classmethod
    def from_socket(cls, sock: socket.socket, write_timeout: float = 30.0) -> "Transport":
        return SocketTransport(sock, write_timeout)

    @classmethod
    def from_fds(cls, read_fd: int = 0, write_fd: int = 1) -> "Transport":
        def send(data: bytes) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view):]
        return cls(read_fd, lambda n: os.read(read_fd, n), send)

    def _fill(self, timeout: float | None) -> bool:
        """Read what is available, waiting up to `timeout` (None: forever). False on timeout."""
        if self.eof:
            return True
        ms = None if timeout is None else max(0, int(timeout * 1000))
        if not self._poll.poll(ms):
            return False
        return self._take(self._recv)

    def _take(self, recv) -> bool:
        """What one read brings into the buffer (nothing: end of stream); a socket's timeout
        goes to the caller."""
        try:
            chunk = recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except socket.timeout:
            raise
        except OSError:  # reset, and the like: the connection is gone
            chunk = b""
        if chunk:
            self._buf += chunk
        else:
            self.eof = True
        return True

    def readline(self, timeout: float | None = None, limit: int = LINE_MAX) -> bytes:
        """One line with its `\\n`; b"" at end of stream (a partial last line is dropped).
        Raises AGITimeout when no full line arrives in time, AGIProtocolError past `limit`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                if end + 1 > limit:
                    raise AGIProtocolError(f"line longer than {limit} bytes")
                line = bytes(self._buf[:end + 1])
                del self._buf[:end + 1]
                return line
            if len(self._buf) > limit:
                raise AGIProtocolError(f"line longer than {limit} bytes")
            if self.eof:
                self._buf.clear()
                return b""
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise AGITimeout("no complete line in time")
            self._fill(remaining)

    def unread(self, line: bytes) -> None:
        self._buf[:0] = line

    def has_line(self) -> bool:
        return b"\n" in self._buf

    def write(self, data: bytes) -> None:
        self._send(data)

    def close(self) -> None:
        if self._close is not None:
            self._close()


class SocketTransport(Transport):
    """A Transport over a socket: a read waits in the socket's own recv() with a timeout
    instead of poll() then recv(). Under gevent that is the socket's one kept watcher, where
    a green poll() object set up and tore down watchers for every wait (~13% of the FastAGI
    server's CPU at 1,000 channels)."""

    def __init__(self, sock: socket.socket, write_timeout: float = 30.0):
        self._sock = sock
        self._write_timeout = write_timeout
        self._buf = bytearray()
        self.eof = False

    def _fill(self, timeout: float | None) -> bool:
        if self.eof:
            return True
        self._sock.settimeout(timeout)
        try:
            return self._take(self._sock.recv)
        except socket.timeout:
            return False

    def write(self, data: bytes) -> None:
        self._sock.settimeout(self._write_timeout)  # bounds send() and sendall()
        sent = self._sock.send(data)   # a command line fits the socket's buffer: sent whole
        if sent < len(data):           # (gevent's sendall asks the buffer's size every time)
            self._sock.sendall(data[sent:])

    def close(self) -> None:
        self._sock.close()


_ENV_LINE = re.compile(rb"^(agi_[a-z0-9_]{1,60}): ?(.*)\n$", re.S)


def read_env(transport: Transport, timeout: float = ENV_TIMEOUT, max_bytes: int = ENV_MAX_BYTES,
             max_lines: int = ENV_MAX_LINES) -> dict[str, str]:
    """Read the environment block up to its empty line, in order.

    Bounded in time, size and line count; anything that is not `agi_key: value` lines raises
    AGIProtocolError (garbage on the port, an HTTP client, a port scanner...)."""
    deadline = time.monotonic() + timeout
    env: dict[str, str] = {}
    total = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AGITimeout("environment block not complete in time")
        line = transport.readline(remaining, limit=max_bytes - total)
        if not line:
            raise AGIProtocolError("connection closed inside the environment block")
        total += len(line)
        if line == b"\n":
            if not env:
                raise AGIProtocolError("empty environment block")
            return env
        match = _ENV_LINE.match(line)
        if not match or b"\r" in line or b"\0" in line:
            raise AGIProtocolError(f"not an environment line: {line[:80]!r}")
        if len(env) >= max_lines:
            raise AGIProtocolError("too many environment lines")
        env[match.group(1).decode()] = match.group(2).decode("utf-8", "replace")


def parse_script(script: str) -> tuple[str, dict[str, str]]:
    """`ivr?flow=main` -> ("ivr", {"flow": "main"}). Asterisk keeps the query string in
    agi_network_script; the handler name is the part before `?`."""
    name, _, query = script.partition("?")
    return name.strip("/"), dict(parse_qsl(query, keep_blank_values=True))


def collect_args(env: dict[str, str]) -> list[str]:
    """agi_arg_1, agi_arg_2, ... in order, up to the first missing one."""
    args = []
    while f"agi_arg_{len(args) + 1}" in env:
        args.append(env[f"agi_arg_{len(args) + 1}"])
    return args


_WHOLE_DATA = re.compile(r"^result=(\S*) \((.*)\)$", re.S)
_PAIR = re.compile(r"(\w+)=(\S*)(?: \(([^)]*)\))?")


def parse_result(text: str) -> dict[str, tuple[str, str]]:
    """The part after `200 `: {"result": (value, data), "endpos": (value, ""), ...} in the
    shape pyst2's methods expect. `result= (timeout)` gives ("", "timeout"); a value in
    parentheses may hold spaces and parentheses (`result=1 (a (b) c)`)."""
    result = {"result": ("", "")}
    whole = _WHOLE_DATA.match(text)
    if whole:
        result["result"] = (whole.group(1), whole.group(2))
        return result
    for key, value, data in _PAIR.findall(text):
        result[key] = (value, data or "")
    return result


_PLAIN_WORD = re.compile(r'(?:"[^"]*"|[^ \t"]+)+')


def parse_args(line: str) -> list[str]:
    """Split a command line the way res_agi does: blanks separate words, double quotes group,
    a backslash makes the next character literal. `SET VARIABLE "A" "b \\"c\\""` ->
    ["SET", "VARIABLE", "A", 'b "c"']."""
    if "\\" not in line and line.count('"') % 2 == 0:  # no escapes, every quote closed
        return [word.replace('"', "") for word in _PLAIN_WORD.findall(line)]
    return _parse_args_slowly(line)


def _parse_args_slowly(line: str) -> list[str]:
    words: list[str] = []
    cur: list[str] | None = None
    quoted = escaped = False
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and cur is None:
                cur = []
            continue
        if ch in " \t" and not quoted and not escaped:
            if cur is not None:
                words.append("".join(cur))
                cur = None
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if cur is None:
            cur = []
        cur.append(ch)
        escaped = False
    if cur is not None:
        words.append("".join(cur))
    return words


def quote(value) -> str:
    """A double-quoted AGI argument; `\\` and `"` are escaped so values pass through intact."""
    text = str(value)
    if LINE_BREAK.search(text):
        raise ValueError(f"AGI arguments cannot hold line breaks: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
