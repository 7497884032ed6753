"""`python -m agi.fastagi.server --workers N`: N processes accept on one listening socket; SIGTERM stops
them all; a worker that dies is replaced, and one that keeps dying stops the server (exit 1)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from agi.pbxsim.agi_driver import Scenario, run_call

from tests.agi.fastagi.test_fastagi_process import Pipe
from tests.repo_paths import ROOT

HANDLERS = '''
import gc
import os

from agi.handlers import register

if os.environ.get("WORKER_TEST_CRASH"):
    os.register_at_fork(after_in_child=lambda: os._exit(3))


@register("whoami")
def whoami(agi, session, args):
    agi.wait_for_digit(100)
    agi.set_variable("WORKER", os.getpid())
    agi.set_variable("FULL_GC_AFTER", gc.get_threshold()[2])
'''


@pytest.fixture
def env(tmp_path):
    (tmp_path / "fastagi_worker_handlers.py").write_text(HANDLERS)
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    environ["DIALFUNNEL_DATA_DIR"] = str(tmp_path / "var")
    environ["DIALFUNNEL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'agi.db'}"
    environ.pop("DIALFUNNEL_CONFIG", None)
    return environ


class Server:
    """The server process and what its log says."""

    def __init__(self, env, workers=2):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agi.fastagi.server", "--import", "fastagi_worker_handlers",
             "--port", "0", "--workers", str(workers), "--grace", "5"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        self.err = Pipe(self.proc.stderr)
        self.log: list[str] = []
        self.port = int(self.wait_for(r"listening host=\S+ port=(\d+) workers=").group(1))

    def wait_for(self, pattern, timeout=20.0):
        """The next log line matching `pattern` (earlier lines are kept in self.log)."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.err.readline(max(0.1, deadline - time.monotonic())).decode()
            assert line, f"the server exited; log: {self.log}"
            self.log.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def workers(self, count):
        return {int(self.wait_for(r"worker \d+ started pid=(\d+)").group(1)) for _ in range(count)}

    def close(self):
        """SIGTERM, so the supervisor stops its workers too: a SIGKILL left them running,
        orphaned, after a test that failed before its own SIGTERM."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


@pytest.fixture
def server(env):
    srv = Server(env)
    yield srv
    srv.close()


def serving_pids(port, calls=24) -> set[int]:
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda _: run_call("127.0.0.1", port, "whoami"), range(calls)))
    assert all(r.status == "OK" for r in results), [r.error for r in results]
    return {int(r.variables["WORKER"]) for r in results}


def alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_two_workers_both_serve_calls_and_sigterm_stops_them_all(server):
    pids = server.workers(2)
    seen: set[int] = set()
    for _round in range(10):  # the kernel picks the worker: both get calls soon enough
        seen |= serving_pids(server.port)
        if seen == pids:
            break
    assert seen == pids
    held = {}
    call = threading.Thread(target=lambda: held.update(result=run_call(
        "127.0.0.1", server.port, "whoami", scenario=Scenario(delays={0: 1.0}))))
    call.start()
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(10) == 0
    call.join(5)
    assert held["result"].status == "OK"  # the call in progress finished first
    assert not any(alive(pid) for pid in pids)
    rest = "".join(server.log) + (server.err.buf + server.proc.stderr.read()).decode()
    assert rest.count("stopped calls_cut=0") == 2 and "stopped workers=2" in rest


def test_a_worker_that_dies_is_replaced(server):
    pids = server.workers(2)
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    server.wait_for(rf"worker \d+ pid={victim} exited code=-9: replacing it")
    replacement = server.workers(1).pop()
    assert replacement not in pids and alive(replacement)
    seen: set[int] = set()
    for _round in range(10):
        seen |= serving_pids(server.port)
        if replacement in seen:
            break
    assert replacement in seen and victim not in seen
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(10) == 0


def test_workers_that_keep_dying_stop_the_server_with_exit_1(env):
    env["WORKER_TEST_CRASH"] = "1"
    srv = Server(env)
    try:
        assert srv.proc.wait(20) == 1
        srv.wait_for(r"workers died within \d+ s, stopping")
        assert "".join(srv.log).count("replacing it") == 5
    finally:
        srv.close()


def os_threads(pid) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return int(next(line for line in fh if line.startswith("Threads:")).split()[1])


def test_calls_are_green_threads_many_calls_on_one_os_thread_per_worker(server):
    """`python -m agi.fastagi.server` runs under gevent: 60 calls held at once do not start 60 OS
    threads (with plain threads each worker would run one per call). A worker's full garbage
    collections, a pause for all its calls, come every 100 young ones (Python's default: 10)."""
    pids = server.workers(2)
    results = []
    with ThreadPoolExecutor(60) as pool:
        futures = [pool.submit(run_call, "127.0.0.1", server.port, "whoami",
                               scenario=Scenario(delays={0: 1.5})) for _ in range(60)]
        time.sleep(0.8)  # every call is now waiting for its first reply
        threads = {pid: os_threads(pid) for pid in pids}
        results = [f.result(10) for f in futures]
    assert all(r.status == "OK" for r in results), [r.error for r in results]
    assert {int(r.variables["WORKER"]) for r in results} <= pids
    assert {r.variables["FULL_GC_AFTER"] for r in results} == {"100"}
    assert all(n <= 2 for n in threads.values()), threads
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(10) == 0
    rest = "".join(server.log) + (server.err.buf + server.proc.stderr.read()).decode()
    assert sum(int(n) for n in re.findall(r"peak_calls=(\d+)", rest)) >= 60
