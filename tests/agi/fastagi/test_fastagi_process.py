"""`python -m agi.fastagi.server` as a real process: SIGTERM shutdown of the FastAGI server, and the
classic stdin/stdout AGI entry point (the EAGI transcript's env, SIGHUP on hangup)."""
from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from agi.pbxsim import transcripts
from agi.pbxsim.agi_driver import Scenario, run_call

from tests.repo_paths import ASTERISK as FIXTURES
from tests.repo_paths import ROOT

HANDLERS = '''
from agi.handlers import register


@register("eagi_test")
def eagi_test(agi, session, args):
    assert args == ["fd3-test"], args
    agi.answer()
    agi.wait_for_digit(2000)
    agi.verbose("eagi done", 1)


@register("fd3-test")
def fd3_test(agi, session, args):
    assert args == [], args
    agi.answer()
    agi.wait_for_digit(2000)
    agi.verbose("eagi done", 1)


@register("waiter")
def waiter(agi, session, args):
    agi.wait_for_digit(5000)
'''


@pytest.fixture
def env(tmp_path):
    (tmp_path / "fastagi_test_handlers.py").write_text(HANDLERS)
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    environ["DIALFUNNEL_DATA_DIR"] = str(tmp_path / "var")
    environ["DIALFUNNEL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'agi.db'}"
    environ.pop("DIALFUNNEL_CONFIG", None)
    return environ


def server_command(*extra):
    return [sys.executable, "-m", "agi.fastagi.server", "--import", "fastagi_test_handlers", *extra]


class Pipe:
    """Line reads from a child's pipe with a deadline."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        self.buf = b""

    def readline(self, timeout=10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                raise TimeoutError(f"no line; got {self.buf!r}")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"


def test_sigterm_finishes_the_call_in_progress_and_exits_0(env):
    proc = subprocess.Popen(server_command("--port", "0", "--grace", "10"), cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        err = Pipe(proc.stderr)
        port = None
        while port is None:
            line = err.readline(20).decode()
            assert line, "server exited before listening"
            match = re.search(r"listening host=\S+ port=(\d+)", line)
            port = int(match.group(1)) if match else None
        results = {}
        call = threading.Thread(target=lambda: results.update(call=run_call(
            "127.0.0.1", port, "ping", scenario=Scenario(delays={0: 1.5}))))
        call.start()
        time.sleep(0.5)  # the call is in progress: its VERBOSE is being answered slowly
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(OSError):  # no longer accepting, while the call goes on
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        assert proc.poll() is None
        assert proc.wait(10) == 0
        call.join(5)
        result = results["call"]
        assert result.status == "OK" and result.agistatus == "SUCCESS"
        assert result.commands[0].startswith('VERBOSE "dialfunnel ping ')
        assert time.monotonic() - signalled < 5
        rest = err.buf + proc.stderr.read()
        assert b"status=OK" in rest and b"stopped calls_cut=0" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_stdin_entry_point_runs_a_handler_over_a_scripted_stdin(env):
    """The EAGI transcript's Asterisk side as stdin (plus the answer to our status line)."""
    lines = transcripts.load(FIXTURES / "eagi-audio.txt")
    session = transcripts.session(lines)
    script = (b"".join(session.env) + b"".join(b"".join(theirs) for _, theirs in session.exchanges)
              + b"200 result=1\n")
    ours = b"".join(ours for ours, _ in session.exchanges)
    status = b'SET VARIABLE "DIALFUNNEL_STATUS" "OK"\n'
    # The handler named on the command line gets every agi_arg_N ...
    done = subprocess.run(server_command("--stdin", "eagi_test"), cwd=ROOT, env=env, input=script,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == ours + status
    assert b"handler=eagi_test status=OK" in done.stderr
    # ... or agi_arg_1 names it: AGI(dialfunnel-agi,fd3-test) through a wrapper script.
    done = subprocess.run(server_command("--stdin"), cwd=ROOT, env=env, input=script,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == ours + status


def test_stdin_entry_point_survives_sighup_and_reports_the_hangup(env):
    proc = subprocess.Popen(server_command("--stdin", "waiter"), cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        out = Pipe(proc.stdout)
        proc.stdin.write(b"agi_request: /usr/local/bin/dialfunnel-agi\nagi_uniqueid: 1.1\n\n")
        proc.stdin.flush()
        assert out.readline() == b"WAIT FOR DIGIT 5000\n"
        proc.send_signal(signal.SIGHUP)  # what Asterisk does when the caller hangs up
        proc.stdin.write(b"200 result=-1\n")
        proc.stdin.flush()
        assert out.readline() == b'SET VARIABLE "DIALFUNNEL_STATUS" "HANGUP"\n'
        proc.stdin.write(b"200 result=1\n")
        proc.stdin.close()
        assert proc.wait(10) == 0
        assert b"status=HANGUP" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_stdin_entry_point_rejects_a_broken_env(env):
    done = subprocess.run(server_command("--stdin", "waiter"), cwd=ROOT, env=env,
                          input=b"this is not an AGI environment\n", capture_output=True,
                          timeout=30)
    assert done.returncode == 1 and done.stdout == b""
