"""AMIClient when the connection drops: reconnect with capped, jittered exponential backoff,
log in again, and never send an action twice (counted on the simulator's side)."""
from __future__ import annotations

import itertools
import random
import threading
import time

import pytest

from agi.ami.client import AMIClient, AMIClosed, AMIConnectionError, AMIConnectionLost, backoff_delays
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock


def _wait_for(cond, what: str, timeout=10.0):
    """Poll ``cond``; the timeout only bounds a failure (generous: a loaded machine is slow)."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.005)


class Sleeper:
    """Records the backoff delays instead of waiting them out."""

    def __init__(self):
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        time.sleep(0.002)


_clients: list[AMIClient] = []


@pytest.fixture
def server():
    with AMIServer(clock=FakeClock(), auth_fail_delay=0) as srv:
        try:
            yield srv
        finally:  # a failed test must not leave a client reconnecting into the next tests
            while _clients:
                _clients.pop().close()


def make_client(server, **kw) -> AMIClient:
    kw.setdefault("sleep", Sleeper())
    kw.setdefault("rng", random.Random(3))
    client = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret", **kw)
    _clients.append(client)
    return client


def cut_off(server, client) -> None:
    """Asterisk goes away: refuse new connections, kill the live one, wait until noticed."""
    server.refuse_connections = True
    server.drop_connections()
    _wait_for(lambda: client.state == "disconnected", "the client to notice the drop")


def test_backoff_is_exponential_jittered_and_capped():
    delays = list(itertools.islice(backoff_delays(0.5, 2.0, 4.0, random.Random(1)), 8))
    ceilings = [0.5, 1, 2, 4, 4, 4, 4, 4]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings))
    assert delays == list(itertools.islice(backoff_delays(0.5, 2.0, 4.0, random.Random(1)), 8))
    assert len(set(delays[3:])) == 5  # jitter: the capped delays are not all equal


def test_reconnects_and_sends_a_waiting_originate_exactly_once(server):
    ups, downs = [], []
    sleeper = Sleeper()
    c = make_client(server, sleep=sleeper, backoff_initial=0.5, backoff_max=4.0, reconnect_wait=10,
                    on_connect=lambda cl: ups.append(cl.connects), on_disconnect=lambda cl, err: downs.append(err))
    events = []
    c.on("FullyBooted", events.append)
    c.connect()
    # The server sends FullyBooted just after the Login response, so connect() returning does not
    # mean it was sent: cutting off now could lose it (as with Asterisk) and leave one event only.
    _wait_for(lambda: len(events) == 1, "the first login's FullyBooted")
    cut_off(server, c)
    _wait_for(lambda: len(sleeper.delays) >= 6, "six refused reconnect attempts")  # backing off
    assert server.actions("Originate") == []

    result = {}

    def originate():
        try:
            result["h"] = c.originate("Local/busy@tx-outcomes", context="tx-orig-target", exten="s",
                                      caller_id='"Tx Test" <5550100>')
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            result["err"] = exc

    t = threading.Thread(target=originate)
    t.start()
    time.sleep(0.05)
    assert t.is_alive() and server.actions("Originate") == []  # waiting for the connection, not sent

    server.refuse_connections = False
    t.join(15)  # bounded by reconnect_wait + action_timeout
    assert not t.is_alive() and "err" not in result, result
    handle = result["h"]
    assert handle.result(10)["Reason"] == "5"
    assert len(server.actions("Originate")) == 1
    assert len(server.actions("Login")) == 2 and c.connects == 2 and ups == [1, 2] and len(downs) == 1
    _wait_for(lambda: len(events) == 2, "the second login's FullyBooted")  # logged in again, Events: on
    ceilings = [min(4.0, 0.5 * 2 ** i) for i in range(len(sleeper.delays))]
    assert all(cap / 2 <= d <= cap for d, cap in zip(sleeper.delays, ceilings))
    c.logoff()
    assert len(server.actions("Originate")) == 1 and len(events) == 2


def test_not_reconnected_in_time_fails_clearly_and_sends_nothing(server):
    c = make_client(server, reconnect_wait=0.2)
    c.connect()
    cut_off(server, c)
    with pytest.raises(AMIConnectionError, match=r"not connected .*Originate \(ActionID o-1\) was not sent"):
        c.originate("Local/busy@tx-outcomes", context="x", exten="s", action_id="o-1")
    server.refuse_connections = False
    _wait_for(lambda: c.connected, "the reconnection")
    assert c.ping()["Ping"] == "Pong"
    assert server.actions("Originate") == []
    c.logoff()


def test_drop_after_sending_is_reported_and_never_resent(server):
    c = make_client(server)
    c.connect()
    server.drop_on_next("Originate")
    with pytest.raises(AMIConnectionLost, match="not resent"):
        c.originate("Local/answer@tx-outcomes", context="x", exten="s")
    _wait_for(lambda: c.connected, "the reconnection")
    assert c.ping()["Ping"] == "Pong"
    time.sleep(0.05)
    assert len(server.actions("Originate")) == 1
    c.logoff()


def test_accepted_originate_waiting_for_its_outcome_learns_of_the_drop(server):
    c = make_client(server)
    c.connect()
    handle = c.originate("Local/noanswer@tx-outcomes", context="x", exten="s", timeout_ms=6000)
    server.drop_connections()  # the fake clock never reaches the 6 s ring timeout
    with pytest.raises(AMIConnectionLost, match=f"ChannelId {handle.channel_id}"):
        handle.result(5)
    _wait_for(lambda: c.connected, "the reconnection")
    c.logoff()


def test_close_is_clean_even_while_reconnecting(server):
    c = make_client(server, sleep=None, backoff_initial=30, reconnect_wait=30)  # the real, interruptible sleep
    c.connect()
    cut_off(server, c)
    waiting = {}
    t = threading.Thread(target=_expect_closed, args=(c, waiting))
    t.start()
    time.sleep(0.05)
    start = time.monotonic()
    c.close()
    t.join(5)
    assert time.monotonic() - start < 2
    assert isinstance(waiting["err"], AMIClosed)
    assert not c._reader.is_alive() and not c._dispatcher.is_alive()
    with pytest.raises(AMIClosed):
        c.ping()
    c.close()  # twice is fine


def _expect_closed(client, out):
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - the test checks the type
        out["err"] = exc


def test_logoff_does_not_reconnect(server):
    c = make_client(server)
    c.connect()
    c.logoff()
    time.sleep(0.05)
    assert len(server.actions("Login")) == 1 and c.state == "closed"
    assert not c._reader.is_alive()
