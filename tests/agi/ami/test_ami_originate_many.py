"""AMIClient.originate_many: several Originates written at once, then their responses collected;
each slot holds its Originate or its own error, and nothing is ever written twice."""
from __future__ import annotations

import random
import socket
import threading
import time

from agi.ami.client import (AMIActionError, AMIClient, AMIConnectionError, AMIConnectionLost,
                            AMITimeout, Originate)
from agi.ami.wire import Message, Parser, encode
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock

from tests.ami_helpers import BANNER


class HeldServer:
    """A bare AMI peer on one connection: accepts the login, then reads Originates and hands the
    batch to ``answer(sock, actions)`` only once ``batch`` of them have arrived (a client that
    waits for each response before writing the next never gets an answer). Records every
    Originate it reads until the connection ends."""

    def __init__(self, batch: int, answer):
        self.batch, self.answer = batch, answer
        self.originates: list[Message] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sock: socket.socket | None = None
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock, _ = self.listener.accept()
        parser = Parser()
        self.sock.sendall(BANNER)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                for msg in parser.feed(data):
                    if msg.action == "Login":
                        self.sock.sendall(encode([("Response", "Success"), ("ActionID", msg.action_id),
                                                  ("Message", "Authentication accepted")]))
                    elif msg.action == "Originate":
                        self.originates.append(msg)
                        if len(self.originates) == self.batch:
                            self.answer(self.sock, list(self.originates))
        except OSError:
            pass
        finally:
            self.ended.set()

    def drop(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def close(self) -> None:
        self.listener.close()
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.thread.join(timeout=5)


def requests(n: int) -> list[dict]:
    return [dict(channel=f"Local/1380000000{i}@out", context="x", exten="s", timeout_ms=20000,
                 action_id=f"o-{i}", channel_id=f"chan-{i}") for i in range(n)]


def test_every_originate_is_written_before_any_response_and_answers_find_their_slots():
    refused = "o-2"

    def answer(sock, actions):
        # responses in reverse order, the middle one refused; then the accepted ones' outcomes
        for msg in reversed(actions):
            ok = msg.action_id != refused
            sock.sendall(encode([("Response", "Success" if ok else "Error"), ("ActionID", msg.action_id),
                                 ("Message", "Originate successfully queued" if ok else "Permission denied")]))
        for msg in actions:
            if msg.action_id != refused:
                sock.sendall(encode([("Event", "OriginateResponse"), ("ActionID", msg.action_id),
                                     ("Response", "Success"), ("Uniqueid", msg["ChannelId"]), ("Reason", "4")]))

    server = HeldServer(5, answer)
    client = AMIClient("127.0.0.1", server.port, "u", "s", reconnect=False, action_timeout=5)
    try:
        client.connect()
        got = client.originate_many(requests(5))
        assert [m.action_id for m in server.originates] == [f"o-{i}" for i in range(5)]
        for i, slot in enumerate(got):
            if f"o-{i}" == refused:
                assert isinstance(slot, AMIActionError) and slot.response.action_id == refused
                assert "Permission denied" in str(slot)
            else:
                assert isinstance(slot, Originate) and slot.action_id == f"o-{i}"
                assert slot.response.action_id == f"o-{i}" and slot.channel_id == f"chan-{i}"
                assert slot.result(timeout=5)["Uniqueid"] == f"chan-{i}"
        assert client._originates == {} and client._pending == {}
    finally:
        client.close()
        server.close()


def test_a_pbx_that_never_answers_costs_the_batch_one_timeout_not_one_per_originate():
    server = HeldServer(99, lambda sock, actions: None)   # reads every action, answers none
    client = AMIClient("127.0.0.1", server.port, "u", "s", reconnect=False, action_timeout=5)
    try:
        client.connect()
        started = time.monotonic()
        got = client.originate_many([dict(r, timeout=0.4) for r in requests(6)])
        took = time.monotonic() - started
        assert [m.action_id for m in server.originates] == [f"o-{i}" for i in range(6)]
        assert [type(slot) for slot in got] == [AMITimeout] * 6
        assert 0.4 <= took < 1.2, took    # each timed from its write: 6 in turn would take 2.4 s
        assert client._originates == {} and client._pending == {}
        assert client.connected           # a slow PBX is not a dropped one
    finally:
        client.close()
        server.close()


class Hooked(AMIClient):
    """Runs ``after_write[action_id]()`` right after that action is written (a drop placed
    between two writes of one batch)."""

    def __init__(self, *args, after_write: dict, **kw):
        super().__init__(*args, **kw)
        self.after_write = after_write

    def _send(self, action, action_id, data, on_sent=None):
        pending = super()._send(action, action_id, data, on_sent)
        if action_id in self.after_write:
            self.after_write[action_id]()
        return pending


def _until(cond, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_without_reconnect_a_drop_fails_the_written_ones_and_writes_no_more():
    server = HeldServer(99, lambda sock, actions: None)   # never answers

    def drop():
        _until(lambda: len(server.originates) == 2, "o-1 read")
        server.drop()
        _until(lambda: not client.connected, "the client to see the drop")

    client = Hooked("127.0.0.1", server.port, "u", "s", reconnect=False, action_timeout=5,
                    after_write={"o-1": drop})
    try:
        client.connect()
        got = client.originate_many(requests(5))
        assert server.ended.wait(5)
        assert [m.action_id for m in server.originates] == ["o-0", "o-1"]
        assert [type(slot) for slot in got] == [AMIConnectionLost] * 2 + [AMIConnectionError] * 3
        assert all("was not sent" in str(slot) for slot in got[2:])
        assert "not connected" in str(got[2]) and "could not be sent" in str(got[3])
        assert client._originates == {} and client._pending == {}
    finally:
        client.close()
        server.close()


def test_on_the_simulator_a_refused_one_leaves_the_others_and_a_drop_resends_nothing():
    with AMIServer(clock=FakeClock(), auth_fail_delay=0) as server:
        def drop_on_the_next():
            _until(lambda: [m.action_id for m in server.actions("Originate")][-1:] == ["d-0"]
                   and server.wait_handled(), "d-0 answered")
            server.refuse_connections = True   # until the client has seen the drop
            server.drop_on_next("Originate")

        def reconnect_after_the_drop():
            _until(lambda: not client.connected, "the drop")
            server.refuse_connections = False

        client = Hooked("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret",
                        sleep=lambda s: time.sleep(0.002), rng=random.Random(5), reconnect_wait=10,
                        after_write={"d-0": drop_on_the_next,
                                     "d-1": reconnect_after_the_drop})
        try:
            client.connect()
            batch = requests(4)
            batch[2]["channel"] = ""   # Asterisk refuses it
            got = client.originate_many(batch)
            assert [type(slot) for slot in got] == [Originate, Originate, AMIActionError, Originate]
            assert "Channel not specified" in str(got[2])
            assert "o-2" not in client._originates   # each accepted one has its outcome or waits for it
            assert all(slot.done or client._originates[slot.action_id] is slot for slot in got[:2] + got[3:])

            # the session closes on d-1: d-0 was answered, d-1 is lost and not resent, d-2 and d-3
            # wait for the reconnect and are written once, on the new session
            batch = [dict(r, action_id=f"d-{i}", channel_id=f"dchan-{i}") for i, r in enumerate(requests(4))]
            got = client.originate_many(batch)
            assert [type(slot) for slot in got] == [Originate, AMIConnectionLost, Originate, Originate], got
            assert client.connects == 2
            assert got[0].done   # its outcome came, or it failed with the session it was sent on
            assert not {"d-0", "d-1"} & set(client._originates) and client._pending == {}
            assert all(slot.done or client._originates[slot.action_id] is slot for slot in got[2:])
            sent = [m.action_id for m in server.actions("Originate")]
            assert sorted(sent) == sorted(set(sent)) == ["d-0", "d-1", "d-2", "d-3", "o-0", "o-1", "o-2", "o-3"]
        finally:
            client.close()
