"""Silent FastAGI peers (issue 10, item 9): a session that sends its environment block and then
never answers loses its slot after its command's bound, and one address cannot take every slot,
while a normal call (the simulated Asterisk) is still served. Real TCP sockets throughout."""
from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from agi.fastagi.dispatch import Registry
from agi.fastagi.protocol import AGITimeout, Transport
from agi.fastagi.reply_timeouts import ReplyTimeouts
from agi.fastagi.server import FastAGIServer, default_peer_max_calls, peer_key, server_options
from agi.handlers.ping import ping
from agi.pbxsim.agi_driver import Scenario, build_env, run_call
from config.settings import load_settings
from models.db import make_sessionmaker

from tests.agi.fastagi.test_fastagi_process import Pipe
from tests.repo_paths import ROOT

HOST = "127.0.0.1"
OTHER_HOST = "127.0.0.2"  # another address on the loopback interface


class Silent:
    """A client that sends a valid environment block, reads the server's first command and
    never answers it."""

    def __init__(self, port: int, script: str = "ping", source: str = HOST):
        self.sock = socket.create_connection((HOST, port), timeout=5, source_address=(source, 0))
        env = build_env(HOST, port, script)
        self.sock.sendall(b"".join(f"{k}: {v}\n".encode() for k, v in env) + b"\n")
        self.transport = Transport.from_socket(self.sock)

    def first_command(self, timeout: float = 5.0) -> bytes:
        """The server's first command line; b"" when it closed the connection instead."""
        return self.transport.readline(timeout)

    def closed_within(self, timeout: float) -> bool:
        """True when the server closes the connection within `timeout` s (sending nothing)."""
        try:
            return self.transport.readline(timeout) == b""
        except AGITimeout:
            return False

    def close(self) -> None:
        self.sock.close()


def make_registry() -> Registry:
    reg = Registry()
    reg.register("ping", ping)

    @reg.register("prompt")
    def prompt(agi, session, args):
        agi.answer()
        agi.stream_file("welcome", "12")
        agi.wait_for_digit(1500)
        agi.record_file("/tmp/x", "wav", "#", 1000, beep="")

    return reg


def test_silent_sessions_lose_their_slot_after_the_command_timeout(engine, caplog):
    caplog.set_level(logging.INFO)
    # No per-address limit here (5 > 4 slots): the timeouts alone free the slots.
    srv = FastAGIServer(make_registry(), make_sessionmaker(engine), port=0, max_calls=4,
                        peer_max_calls=5, command_timeout=0.5, media_timeout=3,
                        overload_wait=2.0).start()
    silent = []
    try:
        silent = [Silent(srv.port) for _ in range(4)]
        for client in silent:
            assert client.first_command().startswith(b'VERBOSE "dialfunnel ping ')
        assert srv.active_calls == 4  # every slot is held by a silent peer
        started = time.monotonic()
        result = run_call(HOST, srv.port, "ping")  # waits for a slot, which frees in 0.5 s
        assert result.status == "OK" and result.agistatus == "SUCCESS"
        assert time.monotonic() - started < 2
        for client in silent:
            assert client.closed_within(2)
        assert srv.stats["TIMEOUT"] == 4 and srv.stats["overload"] == 0
        # A prompt, a digit wait and a recording legitimately outlast the ordinary timeout.
        slow = run_call(HOST, srv.port, "prompt", scenario=Scenario(
            delays={1: 1.0, 2: 1.2, 3: 0.8}))
        assert slow.status == "OK", slow
        assert [c.split()[0] for c in slow.commands] == ["ANSWER", "STREAM", "WAIT", "RECORD",
                                                         "SET"]
        assert srv.stats["TIMEOUT"] == 4
    finally:
        for client in silent:
            client.close()
        srv.shutdown(grace=2)
    timeouts = [r for r in caplog.records if "status=TIMEOUT" in r.getMessage()]
    assert len(timeouts) == 4
    for record in timeouts:
        assert record.levelno == logging.WARNING and record.exc_info is None
        assert 'error="AGIReplyTimeout: no reply to VERBOSE within 0.5 s"' in record.getMessage()
    assert not [r for r in caplog.records if r.exc_info]


def test_one_address_cannot_take_every_slot(engine):
    srv = FastAGIServer(make_registry(), make_sessionmaker(engine), port=0, max_calls=4,
                        command_timeout=30, overload_wait=0.2).start()
    assert srv.peer_max_calls == 3
    silent = []
    try:
        silent = [Silent(srv.port, source=OTHER_HOST) for _ in range(3)]
        for client in silent:
            assert client.first_command().startswith(b"VERBOSE ")
        extra = Silent(srv.port, source=OTHER_HOST)
        silent.append(extra)
        assert extra.first_command() == b""  # refused at once: that address holds its share
        assert srv.stats["peer_limit"] == 1
        started = time.monotonic()
        result = run_call(HOST, srv.port, "ping")  # another address: served at once
        assert result.status == "OK"
        assert time.monotonic() - started < 1
        assert srv.stats["overload"] == 0
    finally:
        for client in silent:
            client.close()
        srv.shutdown(grace=2)


def test_peer_key_counts_an_ipv6_host_by_its_64():
    assert peer_key("192.0.2.7") == "192.0.2.7"
    assert peer_key("2001:db8:1:2::1") == peer_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert peer_key("2001:db8:1:3::1") != peer_key("2001:db8:1:2::1")
    assert peer_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert peer_key("fe80::1%eth0") == "fe80::/64"
    assert [default_peer_max_calls(n) for n in (1, 2, 4, 256, 512)] == [1, 1, 3, 224, 448]


def test_settings_give_the_bounds_and_refuse_nonsense():
    assert server_options(load_settings({})) == {
        "command_timeout": 10, "media_timeout": 300, "result_timeout": 14400, "peer_max_calls": 0}
    options = server_options(load_settings({"DIALFUNNEL_AGI_COMMAND_TIMEOUT": "3",
                                            "DIALFUNNEL_AGI_PEER_MAX_CALLS": "50"}))
    assert options["command_timeout"] == 3 and options["peer_max_calls"] == 50
    with pytest.raises(ValueError, match="agi_media_timeout must be a positive"):
        server_options(load_settings({"DIALFUNNEL_AGI_MEDIA_TIMEOUT": "0"}))
    with pytest.raises(ValueError, match="agi_peer_max_calls"):
        server_options(load_settings({"DIALFUNNEL_AGI_PEER_MAX_CALLS": "-1"}))


@pytest.mark.parametrize("line, seconds", [
    ("ANSWER", 10),
    ('SET VARIABLE "DIALFUNNEL_STATUS" "OK"', 10),
    ('VERBOSE "x" 1', 10),
    ("EXEC NoOp x", 10),
    ('STREAM FILE welcome "12"', 300),
    ('SAY DIGITS 123 ""', 300),
    ("EXEC Playback beep", 300),
    ("GET DATA beep 3000 4", 300 + 12 + 10),      # the prompt, 3 s per digit, the margin
    ("GET DATA beep", 300 + 10 * 1024 + 10),      # 1024 digits, 10 s each by default
    ("GET DATA beep -1 4", 14400),                # waits forever
    ("GET OPTION x 12 5000", 300 + 5 + 10),
    ("WAIT FOR DIGIT 1000", 11),
    ("WAIT FOR DIGIT -1", 14400),
    ('RECORD FILE /tmp/x wav "#" 3000 0 s=2', 13),
    ('RECORD FILE /tmp/x wav "" -1', 14400),
    ("RECEIVE CHAR 0", 14400),
    ("EXEC Wait 5", 15),
    ("EXEC Dial PJSIP/100,30", 14400),
    ("EXEC Queue sales", 14400),
    ("EXEC SomethingUnknown", 14400),
    ("GOSUB sub s 1", 14400),
    ("CONTROL STREAM FILE x 1 3000 * # 0", 14400),  # a pause key: the caller may pause
    ("CONTROL STREAM FILE x 1", 300),
])
def test_each_command_waits_what_its_arguments_allow(line, seconds):
    assert ReplyTimeouts(command=10, media=300, longest=14400).for_command(line) == seconds


def test_worker_processes_time_out_silent_sessions(tmp_path):
    """`python -m agi.fastagi.server --workers 2`, one slot each, the command timeout from the settings:
    two silent sessions hold every slot; calls are refused until they are cut, then served."""
    environ = dict(os.environ)
    environ["PYTHONPATH"] = str(ROOT)
    environ["DIALFUNNEL_DATA_DIR"] = str(tmp_path / "var")
    environ["DIALFUNNEL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'agi.db'}"
    environ["DIALFUNNEL_AGI_COMMAND_TIMEOUT"] = "1"
    environ.pop("DIALFUNNEL_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "agi.fastagi.server", "--port", "0", "--workers", "2", "--max-calls", "1",
         "--grace", "1"], cwd=ROOT, env=environ, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    silent = []
    try:
        err = Pipe(proc.stderr)
        port = None
        while port is None:
            line = err.readline(20).decode()
            assert line, "server exited before listening"
            match = re.search(r"listening host=\S+ port=(\d+) workers=2", line)
            port = int(match.group(1)) if match else None
        deadline = time.monotonic() + 10
        while len(silent) < 2 and time.monotonic() < deadline:
            client = Silent(port)
            if client.first_command(3):
                silent.append(client)
            else:  # that worker is full: the kernel gave it to the other one
                client.close()
        assert len(silent) == 2
        held_at = time.monotonic()
        served = None
        while served is None and time.monotonic() < held_at + 5:
            result = run_call(HOST, port, "ping")
            if result.status == "OK":
                served = time.monotonic() - held_at
            else:
                assert result.commands == []  # refused: every slot is held
                time.sleep(0.1)
        assert served is not None and served < 3
        for client in silent:
            assert client.closed_within(2)
    finally:
        for client in silent:
            client.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log = err.buf + proc.stderr.read()
        proc.stderr.close()
    assert log.count(b"status=TIMEOUT") == 2
    assert b"AGIReplyTimeout: no reply to VERBOSE within 1 s" in log
    assert b"Traceback" not in log
