"""The early-media listener over real sockets: the EAGI forwarder streams a call's early media
to the server, which hears the carrier's announcement and calls the dialer's hook."""
import io
import os
import random
import threading
import time

import pytest

from agi.early_media import eagi
from agi.early_media.hook import EarlyMediaHook
from agi.early_media.server import EarlyMediaServer
from recordings.early_media import corpus

CHANNEL_ID = "5d0b1c9e-8f3a-4c1e-9a47-3f2b6d8e1a20"


class Recorder:
    def __init__(self):
        self.verdicts, self.ends = [], []
        self.done = threading.Event()

    def verdict(self, call_id, verdict):
        self.verdicts.append((call_id, verdict))
        self.done.set()

    def end(self, call_id, verdict):
        self.ends.append((call_id, verdict))
        self.done.set()


@pytest.fixture
def listener():
    recorder = Recorder()
    server = EarlyMediaServer(recorder.verdict, on_end=recorder.end).start()
    yield server, recorder
    server.stop()


def play(pcm: bytes, linger: float = 2.0):
    """A pipe that carries `pcm` as EAGI's fd 3 does (20 ms packets, 10x real time), then stays
    open `linger` s: the read end."""
    read_fd, write_fd = os.pipe()

    def write():
        try:
            for start in range(0, len(pcm), 320):
                os.write(write_fd, pcm[start:start + 320])
                if start % 3200 == 0:
                    time.sleep(0.02)
            time.sleep(linger)
        except OSError:
            pass
        finally:
            os.close(write_fd)
    threading.Thread(target=write, daemon=True).start()
    return read_fd


def forward(server, pcm, status="200 result=5"):
    """Run the EAGI forwarder against the server; AGI's CHANNEL STATUS answers `status`."""
    audio = play(pcm)
    stdin, stdout = io.StringIO((status + "\n") * 10000), io.StringIO()
    try:
        return eagi.forward("%s:%d" % server.address, CHANNEL_ID, audio, stdin, stdout)
    finally:
        os.close(audio)


def test_a_switched_off_announcement_ends_the_call(listener):
    server, recorder = listener
    made = corpus.call(corpus.World(kind="switched_off", lead="ringback", seconds=10),
                       random.Random(3))
    assert forward(server, made.pcm) == "HEARD"
    assert recorder.done.wait(5)
    [(call_id, verdict)] = recorder.verdicts
    assert (call_id, verdict.label, verdict.final) == (CHANNEL_ID, "switched_off", True)
    assert verdict.decided_after_ms - made.speech_at_ms <= 3000


def test_ringback_is_heard_to_the_end_and_never_ends_the_call(listener):
    server, recorder = listener
    made = corpus.call(corpus.World(kind="ringback", seconds=8), random.Random(4))
    assert forward(server, made.pcm) == "HANGUP"        # the pipe closed: the caller hung up
    assert recorder.done.wait(5)
    assert recorder.verdicts == []
    [(call_id, verdict)] = recorder.ends
    assert (call_id, verdict.label, verdict.final) == (CHANNEL_ID, "ringback", False)


def test_an_answer_stops_the_forwarder(listener):
    server, recorder = listener
    made = corpus.call(corpus.World(kind="coloured", seconds=4), random.Random(5))
    assert forward(server, made.pcm, status="200 result=6") == "ANSWERED"
    assert recorder.done.wait(5)
    assert recorder.verdicts == [] and recorder.ends[0][1].final is False


class FakeAMI:
    def __init__(self):
        self.hangups = []

    def hangup(self, channel, cause=None, timeout=None):
        self.hangups.append((channel, cause))


def test_the_hook_hangs_up_with_the_cause_and_keeps_the_label_once():
    from recordings.early_media.classifier import Verdict
    ami = FakeAMI()
    hook = EarlyMediaHook(ami)
    hook(CHANNEL_ID, Verdict("switched_off", True, 2000))
    assert ami.hangups == [(CHANNEL_ID, 20)]
    assert hook.take(CHANNEL_ID) == "switched_off"
    assert hook.take(CHANNEL_ID) is None


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_a_listener_that_goes_away_is_not_taken_for_an_announcement(reset):
    """Only the listener's end frame means "heard": a closed connection leaves the call to
    ring on (the dialplan waits for the answer) — also when the close comes as a reset (a
    listener closing with audio unread sends RST; the forwarder then got ConnectionResetError)."""
    import socket as socket_
    import struct as struct_
    quiet = socket_.create_server(("127.0.0.1", 0))
    address = "%s:%d" % quiet.getsockname()[:2]
    done = []

    def serve():
        conn, _ = quiet.accept()
        conn.recv(100)
        done.append(True)             # before the close the forwarder returns on
        if reset:
            conn.setsockopt(socket_.SOL_SOCKET, socket_.SO_LINGER, struct_.pack("ii", 1, 0))
        conn.close()                  # no 0x00 frame
    threading.Thread(target=serve, daemon=True).start()
    made = corpus.call(corpus.World(kind="ringback", seconds=3), random.Random(1))
    audio = play(made.pcm)
    try:
        result = eagi.forward(address, CHANNEL_ID, audio, io.StringIO("200 result=5\n" * 1000),
                              io.StringIO())
    finally:
        os.close(audio)
        quiet.close()
    assert result == "LOST" and done
