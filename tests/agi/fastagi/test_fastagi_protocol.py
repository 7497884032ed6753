"""Protocol pieces (agi/fastagi/protocol.py, agi/fastagi/channel.py) and the simulated Asterisk's command model
(agi/pbxsim/agi_driver.py) beyond what the recorded transcripts show."""
from __future__ import annotations

import os
import select
import socket
import threading
import time

import pytest
from asterisk.agi import AGIAppError, AGIUnknownError
from hypothesis import given, settings
from hypothesis import strategies as st

from agi.fastagi.channel import AGIChannel
from agi.fastagi.dispatch import Registry, logfmt
from agi.fastagi.protocol import (
    AGIConnectionLost,
    AGIDeadChannel,
    AGIProtocolError,
    AGIResultHangup,
    AGITimeout,
    Transport,
    collect_args,
    parse_args,
    parse_result,
    parse_script,
    quote,
    read_env,
)
from agi.fastagi.server import FastAGIServer, make_agi_engine
from agi.pbxsim.agi_driver import Press, Scenario, SimChannel, build_env, run_call
from models.db import make_sessionmaker

# -- pure functions -------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("result=0", {"result": ("0", "")}),
    ("result=1 (5551234)", {"result": ("1", "5551234")}),
    ("result=1 (bar baz)", {"result": ("1", "bar baz")}),
    ("result=1 ()", {"result": ("1", "")}),
    ("result=1 (a (b) c)", {"result": ("1", "a (b) c")}),
    ("result= (timeout)", {"result": ("", "timeout")}),
    ("result=7 (timeout)", {"result": ("7", "timeout")}),
    ("result=53 endpos=13760", {"result": ("53", ""), "endpos": ("13760", "")}),
    ("result=-1 endpos=20000", {"result": ("-1", ""), "endpos": ("20000", "")}),
    ("result=0 (timeout) endpos=24160", {"result": ("0", "timeout"), "endpos": ("24160", "")}),
    ("result=35 (dtmf) endpos=17898", {"result": ("35", "dtmf"), "endpos": ("17898", "")}),
])
def test_parse_result(text, expected):
    assert parse_result(text) == expected


def test_parse_args_like_res_agi():
    assert parse_args('SET VARIABLE FOO "bar baz"') == ["SET", "VARIABLE", "FOO", "bar baz"]
    assert parse_args('SAY DIGITS 123 ""') == ["SAY", "DIGITS", "123", ""]
    assert parse_args('SET VARIABLE "A" "b \\"c\\" \\\\ d"') == ["SET", "VARIABLE", "A", 'b "c" \\ d']
    assert parse_args("NOOP\r") == ["NOOP\r"]
    assert parse_args("") == []
    assert parse_args('ab"cd ef"gh') == ["abcd efgh"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.text(alphabet='ab "\t\\x\r', max_size=30))
def test_parse_args_quick_split_is_the_character_walk(line):
    """The quick split (a line with no backslash and its quotes closed) and the walk through
    every character give the same words."""
    from agi.fastagi.protocol import _parse_args_slowly

    assert parse_args(line) == _parse_args_slowly(line)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\r\n\0",
                                      blacklist_categories=("Cs",)), max_size=60))
def test_quote_survives_asterisks_argument_parser(value):
    assert parse_args("SET VARIABLE X " + quote(value)) == ["SET", "VARIABLE", "X", value]


def test_quote_refuses_line_breaks():
    for bad in ("a\nb", "a\rb", "a\0b"):
        with pytest.raises(ValueError):
            quote(bad)


def test_script_and_args():
    assert parse_script("ivr?flow=main") == ("ivr", {"flow": "main"})
    assert parse_script("/ivr/?a=1&b=&a=2") == ("ivr", {"a": "2", "b": ""})
    assert parse_script("") == ("", {})
    assert collect_args({"agi_arg_1": "a", "agi_arg_2": "", "agi_arg_4": "x"}) == ["a", ""]


def test_logfmt_quotes_what_needs_it():
    assert logfmt("OK") == "OK"
    assert logfmt("a b") == '"a b"' and logfmt('x"y') == '"x\\"y"' and logfmt("") == '""'


def test_registry_forms():
    reg = Registry()

    @reg.register
    def plain(agi, session, args):
        pass

    @reg.register("named")
    def other(agi, session, args):
        pass

    reg.register("direct", plain)
    assert reg.names() == ["direct", "named", "plain"] and "named" in reg
    reg.register("plain", plain)  # the same function again is fine
    with pytest.raises(ValueError):
        reg.register("plain", other)
    with pytest.raises(ValueError):
        reg.register("bad?name", other)


# -- bounded reads ----------------------------------------------------------------------------------

_FDS: list[int] = []


@pytest.fixture(autouse=True)
def _close_fds():
    yield
    while _FDS:
        try:
            os.close(_FDS.pop())
        except OSError:
            pass


def pipe_transport(data: bytes, close: bool = True):
    """A Transport reading `data` from a pipe (written by a thread: it may exceed the pipe
    buffer); the write end stays open when `close` is False (a silent peer)."""
    r, w = os.pipe()
    sink = os.open(os.devnull, os.O_WRONLY)
    _FDS.extend([r, sink])

    def feed():
        os.write(w, data)
        if close:
            os.close(w)

    if not close:
        _FDS.append(w)
    threading.Thread(target=feed, daemon=True).start()
    return Transport.from_fds(r, sink)


def test_read_env_accepts_asterisks_block_and_keeps_empty_values():
    t = pipe_transport(b"agi_network: yes\nagi_accountcode: \nagi_arg_1: arg two\n\nANSWER")
    assert read_env(t) == {"agi_network": "yes", "agi_accountcode": "", "agi_arg_1": "arg two"}


@pytest.mark.parametrize("data", [
    b"agi_network: yes\nagi_net",                # partial, then end of stream
    b"\n",                                       # empty block
    b"GET / HTTP/1.1\r\n\r\n",                   # not AGI
    b"agi_network: yes\r\n\r\n",                 # CRLF is not what Asterisk sends
    b"agi_x: " + b"y" * 70000 + b"\n\n",         # oversized
    b"".join(b"agi_k%d: v\n" % i for i in range(300)) + b"\n",  # too many lines
])
def test_read_env_rejects(data):
    t = pipe_transport(data)
    with pytest.raises(AGIProtocolError):
        read_env(t)


def test_read_env_is_bounded_in_time():
    t = pipe_transport(b"agi_network: yes\n", close=False)
    started = time.monotonic()
    with pytest.raises(AGITimeout):
        read_env(t, timeout=0.3)
    assert time.monotonic() - started < 1


def test_a_socket_transport_reads_in_recv_with_its_bounds_and_no_poll(monkeypatch):
    """Over a socket a read waits in the socket's recv() (under gevent its one kept watcher),
    not in a poll() object set up for every wait; bounds, writes and end of stream as before."""
    def no_poll():
        raise AssertionError("poll() used")

    monkeypatch.setattr(select, "poll", no_poll)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        t = Transport.from_socket(ours, write_timeout=5)
        theirs.sendall(b"200 result=0\n200 res")
        assert t.readline(1) == b"200 result=0\n"
        started = time.monotonic()
        with pytest.raises(AGITimeout):
            t.readline(0.1)
        assert time.monotonic() - started < 1
        t.write(b"NOOP\n")
        assert theirs.recv(100) == b"NOOP\n"
        theirs.sendall(b"ult=1\n")
        assert t.readline(1) == b"200 result=1\n"
        theirs.shutdown(socket.SHUT_WR)
        assert t.readline(1) == b""
        assert t.eof


def channel_over(replies: bytes, close: bool = True, **kw) -> AGIChannel:
    t = pipe_transport(replies, close)
    return AGIChannel(t, {"agi_uniqueid": "1.1", "agi_network_script": "x"}, **kw)


def test_get_result_handles_hangup_lines_511_eof_and_junk():
    agi = channel_over(b"HANGUP\n200 result=1\n511 Command Not Permitted on a dead channel or "
                       b"intercept routine\n")
    agi.set_variable("A", "b")
    assert agi.hungup
    with pytest.raises(AGIDeadChannel):
        agi.stream_file("x")
    with pytest.raises(AGIConnectionLost):
        agi.noop()
    assert agi.closed
    agi = channel_over(b"999 what\n")
    with pytest.raises(AGIUnknownError):
        agi.noop()
    assert agi.closed  # out of step: nothing more is sent, no status
    agi = channel_over(b"200 result=-1 (hangup) endpos=100\n")
    with pytest.raises(AGIResultHangup):
        agi.record_file("x", "wav")


def test_minus_one_waits_briefly_for_the_hangup_line():
    agi = channel_over(b"200 result=-1 endpos=0\n", close=False, hangup_grace=0.2)
    started = time.monotonic()
    with pytest.raises(AGIAppError) as err:
        agi.stream_file("missing")
    assert not isinstance(err.value, AGIResultHangup)
    assert 0.15 < time.monotonic() - started < 1
    agi = channel_over(b"200 result=-1 endpos=10\nHANGUP\n", hangup_grace=5)
    started = time.monotonic()
    with pytest.raises(AGIResultHangup):
        agi.stream_file("x")
    assert time.monotonic() - started < 1


def test_result_timeout_is_bounded():
    t = pipe_transport(b"", close=False)
    agi = AGIChannel(t, {}, result_timeout=0.2)
    with pytest.raises(AGITimeout):
        agi.noop()
    assert agi.closed


def test_commands_cannot_smuggle_line_breaks():
    agi = channel_over(b"")
    with pytest.raises(ValueError):
        agi.set_variable("X", "a\nHANGUP")
    with pytest.raises(ValueError):
        agi.execute("VERBOSE", "x" * 3000)
    assert agi.commands == 0


# -- the simulated Asterisk's command model ---------------------------------------------------------

def sim(**kw) -> SimChannel:
    return SimChannel(Scenario(**kw), dict(build_env("127.0.0.1", 4573, "x",
                                                     callerid="5551234")))


def answers(channel: SimChannel, *lines: str) -> list[str]:
    return [channel.handle(i, line)[0][0] for i, line in enumerate(lines)]


def test_sim_get_data_variants():
    channel = sim(keys=["12#", "9876", "34", None, "#"])
    assert answers(channel, "GET DATA a 1000 4", "GET DATA a 1000 3", "GET DATA a 1000 4",
                   "GET DATA a", "GET DATA a 1000 4") == [
        "200 result=12", "200 result=987", "200 result=34 (timeout)", "200 result= (timeout)",
        "200 result="]


def test_sim_listening_commands_and_positions():
    channel = sim(keys=["9", Press("3", at=0.5), "4", "#"], sounds={"menu": 16000})
    assert answers(channel, 'STREAM FILE menu ""', 'STREAM FILE menu "89"',
                   'STREAM FILE menu "123"', 'GET OPTION menu "#" 2000',
                   'SAY DIGITS 12 "9"', 'CONTROL STREAM FILE menu "" 3000') == [
        "200 result=0 endpos=16000",          # not listening: no key consumed
        "200 result=57 endpos=0",             # '9' is an escape digit, pressed at once
        "200 result=51 endpos=4000",          # '3' pressed 0.5 s into the prompt
        "200 result=0 endpos=16000",          # '4' ignored by GET OPTION "#"
        "200 result=0",                       # '#' consumed by SAY DIGITS, not in "9"
        "200 result=0 endpos=16000"]          # no stop digits: not listening


def test_sim_dead_channel_table_and_hangup_command():
    channel = sim()
    replies, hangs_up = channel.handle(0, "HANGUP")
    assert replies == ["200 result=1"] and hangs_up
    channel.dead = True
    dead = "511 Command Not Permitted on a dead channel or intercept routine"
    assert answers(channel, "EXEC Playback beep", "EXEC NoOp x", "EXEC Nope", "GET OPTION a b",
                   "RECORD FILE x wav # 1000", "DATABASE DEL a b", "speech destroy",
                   "SET MUSIC on") == [
        "200 result=-1", "200 result=0", "200 result=-2", dead, dead, "200 result=0",
        "200 result=0", dead]


def test_sim_variables_functions_and_astdb():
    channel = sim(variables={"LANG": "zh"})
    assert answers(channel, "CHANNEL STATUS", "ANSWER", "CHANNEL STATUS", "GET VARIABLE LANG",
                   'SET CALLERID "Bob <5550000>"', "GET VARIABLE CALLERID(num)",
                   "GET FULL VARIABLE ${CALLERID(name)}-${LANG}", "EXEC Set X=1",
                   "GET VARIABLE X", "DATABASE PUT f k v", "DATABASE DELTREE f",
                   "DATABASE GET f k", "WAIT FOR DIGIT", "SET PRIORITY") == [
        "200 result=4", "200 result=0", "200 result=6", "200 result=1 (zh)", "200 result=1",
        "200 result=1 (5550000)", "200 result=1 (Bob-zh)", "200 result=0", "200 result=1 (1)",
        "200 result=1", "200 result=1", "200 result=0",
        "520-Invalid command syntax.  Proper usage follows:",
        "520-Invalid command syntax.  Proper usage follows:"]


def test_record_file_and_agisighup_no_through_a_server(tmp_path):
    reg = Registry()

    @reg.register("rec")
    def rec(agi, session, args):
        assert agi.record_file("/tmp/msg", "wav", "#", 5000, silence=2) == "#"
        assert agi.last_result["endpos"][0] == "8000"
        assert agi.record_file("/tmp/msg2", "wav", "#", 3000, beep="") == ""
        assert agi.last_result["result"] == ("0", "timeout")

    engine = make_agi_engine(f"sqlite:///{tmp_path / 'x.db'}")
    srv = FastAGIServer(reg, make_sessionmaker(engine), port=0).start()
    try:
        result = run_call("127.0.0.1", srv.port, "rec", scenario=Scenario(
            keys=[Press("#", at=1.0), None], agisighup=False))
        assert result.commands[:2] == ['RECORD FILE "/tmp/msg" wav "#" 5000 0 BEEP s=2',
                                       'RECORD FILE "/tmp/msg2" wav "#" 3000 0']
        assert result.replies[1] == ["200 result=0 (timeout) endpos=24000"]
        assert result.status == "OK" and b"HANGUP\n" not in result.sent
    finally:
        srv.shutdown(grace=2)
        engine.dispose()


def test_driver_reports_connection_refused_and_silent_servers():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_call("127.0.0.1", port, "x")
    assert result.error.startswith("connect:") and result.agistatus == "FAILURE"
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()))
    thread.start()
    result = run_call("127.0.0.1", listener.getsockname()[1], "x", scenario=Scenario(timeout=0.3))
    assert result.error.startswith("read:") and result.commands == []
    thread.join()
    accepted[0][0].close()
    listener.close()


def test_a_socket_write_larger_than_the_buffer_arrives_whole():
    """The write sends once and hands what the buffer did not take to sendall()."""
    import socket
    import threading

    from agi.fastagi.protocol import SocketTransport

    left, right = socket.socketpair()
    left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    data = bytes(range(256)) * 4096            # 1 MiB: far more than one send() takes
    got = bytearray()

    def read():
        while len(got) < len(data):
            chunk = right.recv(65536)
            if not chunk:
                break
            got.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        SocketTransport(left, write_timeout=10).write(data)
        reader.join(10)
    finally:
        left.close()
        right.close()
    assert bytes(got) == data
