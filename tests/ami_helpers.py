"""Helpers for the AMI tests (no tests here): transcript sessions, a scripted fake Asterisk that
replays a transcript's `>` side over TCP, and the normalisation used to compare the simulator's
bytes with a real Asterisk's."""
from __future__ import annotations

import re
import socket
import threading

from agi.ami.wire import Message, iter_messages
from agi.pbxsim.transcripts import ASTERISK, OURS, Line, load

from tests.repo_paths import ASTERISK as FIXTURES

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def sessions(name: str) -> list[list[Line]]:
    """The transcript's TCP sessions (each one starts with Asterisk's banner)."""
    out: list[list[Line]] = []
    for line in load(FIXTURES / name):
        if line.direction == ASTERISK and line.data == BANNER:
            out.append([])
        out[-1].append(line)
    return out


def joined(lines: list[Line], direction: str) -> bytes:
    return b"".join(line.data for line in lines if line.direction == direction)


def turns(lines: list[Line]) -> list[tuple[str, bytes]]:
    """Consecutive lines of one side merged: [(direction, bytes), ...]."""
    out: list[tuple[str, bytes]] = []
    for line in lines:
        if out and out[-1][0] == line.direction:
            out[-1] = (line.direction, out[-1][1] + line.data)
        else:
            out.append((line.direction, line.data))
    return out


def transcript_messages(lines: list[Line], direction: str = ASTERISK) -> list[Message]:
    return list(iter_messages(joined(lines, direction), expect_banner=direction == ASTERISK))


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


class ReplayServer:
    """Plays Asterisk's side of one transcript session per accepted connection: sends each `>`
    turn, reads as many bytes as the next `<` turn has and records them, then closes."""

    def __init__(self, scripts: list[list[Line]]):
        self.scripts = list(scripts)
        self.received: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for script in self.scripts:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            sock.settimeout(5)
            got = b""
            try:
                for direction, data in turns(script):
                    if direction == ASTERISK:
                        sock.sendall(data)
                    else:
                        chunk = recv_exact(sock, len(data))
                        got += chunk
                        if chunk != data:
                            break
            except OSError:
                pass
            finally:
                self.received.append(got)
                sock.close()

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=5)


# --- normalising what must differ between two runs ---------------------------------------
_SUBS = [
    (re.compile(rb"^(Uptime|LastReload|LoginTime|LastCall): \d+\r$", re.M), rb"\1: <N>\r"),
    (re.compile(rb"^(EventTV|SessionTV): [0-9T:.+-]+\r$", re.M), rb"\1: <TV>\r"),
    (re.compile(rb"^SessionID: 0x[0-9a-f]+\r$", re.M), rb"SessionID: <ID>\r"),
    (re.compile(rb"^(LocalAddress|RemoteAddress): IPV4/TCP/127\.0\.0\.1/\d+\r$", re.M), rb"\1: <ADDR>\r"),
    (re.compile(rb"^Timestamp: \d+\.\d+\r$", re.M), rb"Timestamp: <T>\r"),
    (re.compile(rb"\b\d{10}\.\d+\b"), rb"<UID>"),  # Asterisk-made uniqueids: epoch.sequence
    (re.compile(rb"^BridgeUniqueid: [0-9a-f-]{36}\r$", re.M), rb"BridgeUniqueid: <BRIDGE>\r"),
]


def normalise(data: bytes) -> bytes:
    for pattern, repl in _SUBS:
        data = pattern.sub(repl, data)
    return data


def first_channel_seq(lines: list[Line]) -> int:
    m = re.search(rb"Channel: Local/[^\r]*-([0-9a-f]{8});1\r", joined(lines, ASTERISK))
    return int(m.group(1), 16)


def drop_events(data: bytes, names: set[str]) -> bytes:
    """Remove whole events by name (to compare with a trimmed transcript)."""
    out = []
    for block in re.split(rb"(?<=\r\n\r\n)", data):
        m = re.match(rb"Event: ([^\r]+)\r\n", block)
        if not (m and m.group(1).decode() in names):
            out.append(block)
    return b"".join(out)


__all__ = ["ASTERISK", "OURS", "FIXTURES", "sessions", "joined", "turns", "transcript_messages",
           "recv_exact", "ReplayServer", "normalise", "first_channel_seq", "drop_events"]
