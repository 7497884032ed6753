"""AMIClient: a sender arriving while the reader has killed a dropped connection but not yet marked
the client disconnected waits (blocked on the client's condition) instead of busy-spinning, and
the guarantees hold: the action written before the drop fails and is not resent; the new one goes
out once, after the reconnect."""
from __future__ import annotations

import random
import threading
import time

import pytest

from agi.ami import client as ami
from agi.ami.client import AMIClient, AMIConnectionLost
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock

WINDOW = 0.5  # how long the test holds the reader between killing the socket and updating the state


def _wait_for(cond, what: str, timeout=10.0):
    """Poll ``cond``; the timeout only bounds a failure (generous: a loaded machine is slow)."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.005)


class CountingPending(ami._Pending):
    """Counts the ``_Pending`` each ``_request`` loop pass makes, by ActionID."""

    made: dict[str, int] = {}

    def __init__(self, action_id, action, conn):
        super().__init__(action_id, action, conn)
        CountingPending.made[action_id] = CountingPending.made.get(action_id, 0) + 1


@pytest.fixture
def held_reader(monkeypatch):
    """Make the reader thread pause right after it kills a dropped connection (before it takes
    the lock to mark the client disconnected) until ``gate`` is set: the window under test."""
    killed, gate = threading.Event(), threading.Event()
    real_kill = ami._Connection.kill

    def kill(conn):
        real_kill(conn)
        if threading.current_thread().name == "ami-reader" and not killed.is_set():
            killed.set()
            gate.wait(10)

    CountingPending.made = {}
    monkeypatch.setattr(ami._Connection, "kill", kill)
    monkeypatch.setattr(ami, "_Pending", CountingPending)
    yield killed, gate
    gate.set()


def test_sender_waits_instead_of_spinning_while_the_drop_is_being_noticed(held_reader):
    killed, gate = held_reader
    with AMIServer(clock=FakeClock(), auth_fail_delay=0) as server:
        client = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret",
                           sleep=lambda s: time.sleep(0.002), rng=random.Random(3), reconnect_wait=10)
        try:
            client.connect()
            server.refuse_connections = True  # the reconnect is delayed until the test allows it
            server.drop_on_next("Originate")  # written, then the connection drops
            results: dict[str, object] = {}

            def run(name, fn):
                try:
                    results[name] = fn()
                except Exception as exc:  # noqa: BLE001 - the assertions check the type
                    results[name] = exc

            originate = threading.Thread(target=run, args=("originate", lambda: client.originate(
                "Local/answer@tx-outcomes", context="x", exten="s", action_id="o-1")))
            originate.start()
            assert killed.wait(10), "the reader never killed the dropped connection"
            assert client.state == "connected"  # the window: socket closed, state not yet updated

            ping = threading.Thread(target=run, args=("ping", lambda: client.ping(action_id="p-1")))
            ping.start()
            _wait_for(lambda: ping.ident is not None, "the sender thread to start")
            cpu_clock = time.pthread_getcpuclockid(ping.ident)
            time.sleep(WINDOW)
            spins, cpu = CountingPending.made.get("p-1", 0), time.clock_gettime(cpu_clock)
            assert spins == 0, f"the sender looped {spins} times while the connection was dead"
            assert cpu < WINDOW / 5, f"the sender used {cpu:.3f}s of CPU in {WINDOW}s of waiting"
            assert ping.is_alive() and originate.is_alive() and not results  # both still waiting

            gate.set()  # the reader marks the client disconnected and fails what was written
            originate.join(10)
            assert isinstance(results["originate"], AMIConnectionLost), results
            time.sleep(0.05)
            assert ping.is_alive() and server.actions("Ping") == []  # waits for the reconnect

            server.refuse_connections = False
            ping.join(10)
            assert not ping.is_alive() and results["ping"]["Ping"] == "Pong", results
            assert len(server.actions("Ping")) == 1 and CountingPending.made["p-1"] == 1
            assert len(server.actions("Originate")) == 1  # written once, never resent
            assert client.connects == 2
        finally:
            gate.set()
            client.close()
