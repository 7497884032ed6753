"""The recorded Asterisk 22 transcripts (tests/fixtures/asterisk/) against our code, byte for byte:

* server side: we replay Asterisk's `>` lines to our FastAGI server running a handler that
  issues the transcript's commands, and the server must send exactly the transcript's `<` lines
  (then its DIALFUNNEL_STATUS line, which the recorded test server did not send);
* simulator side: a stand-in server sends the transcript's `<` lines to our simulated Asterisk
  (agi/pbxsim/agi_driver.py), which must answer exactly the transcript's `>` lines.
"""
from __future__ import annotations

import socket
import threading
import time

import pytest
from asterisk.agi import AGIInvalidCommand, AGIUsageError

from agi.fastagi.channel import AGIChannel
from agi.fastagi.dispatch import Registry
from agi.fastagi.protocol import AGIDeadChannel, AGIHangup, AGIResultHangup, Transport, read_env
from agi.fastagi.server import FastAGIServer, make_agi_engine
from agi.pbxsim import transcripts
from agi.pbxsim.agi_driver import Press, Scenario, build_env, run_call
from models.db import make_sessionmaker

from tests.repo_paths import ASTERISK as FIXTURES

FASTAGI = ["fastagi-basic.txt", "fastagi-dtmf.txt", "fastagi-hangup.txt", "fastagi-errors.txt",
           "fastagi-record.txt"]


def load(name):
    return transcripts.load(FIXTURES / name)


# -- the parser ---------------------------------------------------------------------------------

def test_parser_reads_exact_bytes_and_terminators():
    lines = load("fastagi-basic.txt")
    assert lines[0] == transcripts.Line(">", b"agi_network: yes\n", 0.0)
    assert transcripts.Line(">", b"agi_accountcode: \n", 0.0) in lines
    assert lines[24] == (">", b"\n", 0.0)  # the env block's empty line
    assert lines[25][:2] == ("<", b"ANSWER\n")
    assert lines[26] == (">", b"200 result=0\n", 0.501)
    assert lines[-1].data == b"HANGUP\n"
    errors = load("fastagi-errors.txt")
    assert ("<", b"NOOP\r\n") in [(l.direction, l.data) for l in errors]
    assert ("<", b"\n") in [(l.direction, l.data) for l in errors]
    assert any(l.data == b"    <value>SUCCESS</value>\n" for l in errors)


def test_parser_escapes_and_errors():
    assert transcripts.decode(r"a\\b\x00\r\n") == b"a\\b\x00\r\n"
    with pytest.raises(transcripts.TranscriptError):
        transcripts.parse("> no terminator")
    with pytest.raises(transcripts.TranscriptError):
        transcripts.parse("? what\\n")
    with pytest.raises(transcripts.TranscriptError):
        transcripts.decode(r"bad \q escape")


@pytest.mark.parametrize("name", FASTAGI + ["eagi-audio.txt"])
def test_every_transcript_parses_into_a_session(name):
    session = transcripts.session(load(name))
    assert session.env[-1] == b"\n"
    assert all(line.endswith(b"\n") for line in session.env)
    assert session.exchanges and all(ours.endswith(b"\n") for ours, _ in session.exchanges)
    assert session.closing == ([] if name.startswith("eagi") else [b"HANGUP\n"])


def test_env_order_and_format_of_the_simulator_match_asterisk():
    recorded = transcripts.env_dict(load("fastagi-dtmf.txt"))
    ours = dict(build_env("127.0.0.1", 4573, "dtmf"))
    assert list(ours) == list(recorded)  # same keys, same order, no agi_arg_N without args
    assert ours["agi_callerid"] == ours["agi_calleridname"] == "unknown"
    assert ours["agi_callingpres"] == "67" and ours["agi_accountcode"] == ""
    assert ours["agi_request"] == recorded["agi_request"] == "agi://127.0.0.1:4573/dtmf"
    basic = transcripts.env_dict(load("fastagi-basic.txt"))
    ours = dict(build_env("127.0.0.1", 4573, "ivr?flow=main", ["arg1", "arg two"],
                          callerid="5551234", calleridname="Alice Example"))
    assert list(ours) == list(basic)
    for key in ("agi_network_script", "agi_request", "agi_callerid", "agi_calleridname",
                "agi_callingpres", "agi_arg_1", "agi_arg_2", "agi_version", "agi_enhanced"):
        assert ours[key] == basic[key], key


# -- our server against Asterisk's side of each transcript --------------------------------------

def transcript_handlers() -> Registry:
    """Handlers that issue exactly the commands 'our side' sent in each transcript, through
    pyst2's methods where their bytes are the same and `execute` where pyst2 formats them
    differently (it quotes every argument; Asterisk accepts both)."""
    reg = Registry()

    @reg.register("ivr")  # fastagi-basic.txt
    def basic(agi, session, args):
        assert agi.query == {"flow": "main"} and args == ["arg1", "arg two"]
        agi.answer()
        assert agi.execute("GET VARIABLE", "CALLERID(num)")["result"] == ("1", "5551234")
        agi.execute("SET VARIABLE", "FOO", '"bar baz"')
        assert agi.execute("GET VARIABLE", "FOO")["result"] == ("1", "bar baz")
        result = agi.execute("STREAM FILE", "hello-world", '"0123456789*#"')
        assert result["result"][0] == "0" and result["endpos"][0] == "11234"
        assert agi.get_data("beep", 3000, 4) == ""
        assert agi.last_result["result"] == ("", "timeout")
        agi.execute("SAY DIGITS", "123", '""')
        agi.execute("EXEC", "Playback", "beep")
        agi.verbose("x", 1)

    @reg.register("dtmf")  # fastagi-dtmf.txt
    def dtmf(agi, session, args):
        agi.answer()
        result = agi.execute("STREAM FILE", "demo-congrats", '"0123456789*#"')
        assert result["result"] == ("53", "") and result["endpos"][0] == "13760"
        assert agi.get_data("beep", 10000, 4) == "12"
        assert agi.get_data("beep", 10000, 3) == "987"
        assert agi.wait_for_digit(10000) == "*"
        assert agi.wait_for_digit(10000) == "#"
        assert agi.wait_for_digit(1000) == ""
        assert agi.get_data("beep", 3000, 4) == "7"
        assert agi.last_result["result"] == ("7", "timeout")

    @reg.register("hangup")  # fastagi-hangup.txt
    def hangup(agi, session, args):
        agi.answer()
        with pytest.raises(AGIResultHangup):
            agi.execute("STREAM FILE", "demo-congrats", '""')
        assert agi.hungup and not agi.closed
        for command in (("GET DATA", "beep", 3000, 4), ("STREAM FILE", "beep", '""'),
                        ("WAIT FOR DIGIT", 1000), ("SAY DIGITS", 123, '""'), ("ANSWER",),
                        ("CHANNEL STATUS",), ("SET CALLERID", 5550000)):
            with pytest.raises(AGIDeadChannel):
                agi.execute(*command)
        agi.execute("SET VARIABLE", "AFTER_HANGUP", '"yes"')
        assert agi.execute("GET VARIABLE", "AFTER_HANGUP")["result"] == ("1", "yes")
        assert agi.execute("GET FULL VARIABLE", "${CHANNEL}")["result"] == (
            "1", "Local/s@tx-fastagi-hangup-00000003;2")
        agi.verbose("still here after hangup", 1)
        agi.noop()
        agi.execute("DATABASE PUT", "txtest", "key1", "value1")
        assert agi.execute("DATABASE GET", "txtest", "key1")["result"] == ("1", "value1")
        agi.execute("EXEC", "NoOp", "dead-channel-exec")
        with pytest.raises(AGIDeadChannel):
            agi.hangup()

    @reg.register("errors")  # fastagi-errors.txt
    def errors(agi, session, args):
        agi.answer()
        with pytest.raises(AGIInvalidCommand):
            agi.execute("FOO BAR")
        with pytest.raises(AGIUsageError) as usage:
            agi.execute("STREAM FILE")
        text = str(usage.value)
        assert text.startswith("520-Invalid command syntax.  Proper usage follows:\n")
        assert "    <value>FAILED</value>\n520 End of proper usage.\n" in text
        with pytest.raises(AGIUsageError):
            agi.execute("GET DATA")
        assert agi.execute("GET VARIABLE", "TX_NEVER_SET_VARIABLE")["result"] == ("0", "")
        assert agi.execute("GET FULL VARIABLE", "${TX_NEVER_SET_VARIABLE}")["result"] == ("1", "")
        # EXEC of an unknown application: result=-2 (pyst2's appexec() would raise AGIAppError)
        assert agi.execute("EXEC", "NoSuchApplication", "foo")["result"] == ("-2", "")
        agi.execute("noop lower case")
        agi.transport.write(b"NOOP\r\n")  # what a careless client sends; send_command refuses \r
        with pytest.raises(AGIInvalidCommand):
            agi.get_result()
        with pytest.raises(AGIInvalidCommand):
            agi.execute("")

    @reg.register("record")  # fastagi-record.txt
    def record(agi, session, args):
        agi.answer()
        result = agi.execute("RECORD FILE", "/var/spool/asterisk/tmp/x", "wav", '"#"', 3000, 0, "s=2")
        assert result["result"] == ("0", "timeout") and result["endpos"][0] == "24160"
        result = agi.execute("RECORD FILE", "/var/spool/asterisk/tmp/x-silence", "wav", '"#"',
                             20000, 0, "s=2")
        assert result["result"] == ("15948", "timeout") and result["endpos"][0] == "24438"
        result = agi.execute("RECORD FILE", "/var/spool/asterisk/tmp/x-dtmf", "wav", '"#"', 20000)
        assert result["result"] == ("35", "dtmf") and result["endpos"][0] == "17898"

    return reg


@pytest.fixture
def server(tmp_path):
    engine = make_agi_engine(f"sqlite:///{tmp_path / 'agi.db'}")
    srv = FastAGIServer(transcript_handlers(), make_sessionmaker(engine), port=0).start()
    yield srv
    srv.shutdown(grace=2)
    engine.dispose()


def replay_asterisk_side(port: int, lines) -> tuple[list[bytes], list[bytes]]:
    """Play Asterisk's side of a transcript to a FastAGI server. Returns the lines the server
    sent for the transcript's commands, and the lines it sent after them (answered 200)."""
    session = transcripts.session(lines)
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    transport = Transport.from_socket(sock, 5)
    try:
        for data in session.env:
            transport.write(data)  # one write per line, as Asterisk does
        got = []
        for _ours, theirs in session.exchanges:
            got.append(transport.readline(10))
            for data in theirs:
                if data == b"HANGUP\n":
                    time.sleep(0.04)  # the unsolicited HANGUP comes ~40 ms after the result
                transport.write(data)
        extra = []
        while True:
            line = transport.readline(10)
            if not line:
                break  # the server closed its side
            extra.append(line)
            transport.write(b"200 result=1\n")
        for data in session.closing:
            transport.write(data)
        return got, extra
    finally:
        sock.close()


EXPECTED_STATUS = {"fastagi-hangup.txt": "HANGUP"}


@pytest.mark.parametrize("name", FASTAGI)
def test_server_sends_exactly_our_side_of_the_transcript(server, name):
    lines = load(name)
    got, extra = replay_asterisk_side(server.port, lines)
    assert got == [ours for ours, _ in transcripts.session(lines).exchanges]
    status = EXPECTED_STATUS.get(name, "OK")
    assert extra == [b'SET VARIABLE "DIALFUNNEL_STATUS" "%s"\n' % status.encode()]
    assert server.wait_idle(5)
    assert server.stats[status] == 1 and server.stats["ERROR"] == 0


# -- our simulated Asterisk against our side of each transcript ---------------------------------

def fake_fastagi_server(lines):
    """A stand-in FastAGI server that sends the transcript's `<` lines at the recorded points
    and keeps every byte it receives. Returns (port, thread, received)."""
    session = transcripts.session(lines)
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def run():
        conn, _ = listener.accept()
        listener.close()
        transport = Transport.from_socket(conn, 5)
        try:
            while True:
                line = transport.readline(5)
                received.append(line)
                if line in (b"\n", b""):
                    break
            for ours, theirs in session.exchanges:
                conn.sendall(ours)
                for _ in theirs:
                    received.append(transport.readline(5))
            conn.shutdown(socket.SHUT_WR)
            while True:
                line = transport.readline(5)
                if not line:
                    break
                received.append(line)
        finally:
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread, received


def _env_overrides(lines, *keys):
    env = transcripts.env_dict(lines)
    return {key: env[key] for key in ("agi_request", "agi_channel", "agi_uniqueid", "agi_context",
                                      "agi_priority", "agi_threadid") + keys}


DRIVER_CALLS = {
    "fastagi-basic.txt": dict(
        script="ivr?flow=main", args=["arg1", "arg two"], callerid="5551234",
        calleridname="Alice Example", scenario=Scenario(sounds={"hello-world": 11234})),
    "fastagi-dtmf.txt": dict(
        script="dtmf", scenario=Scenario(keys=[Press("5", at=1.72), "12#", "987", "*", "#", None,
                                               "7"])),
    "fastagi-hangup.txt": dict(
        script="hangup", scenario=Scenario(hangup_at=1, hangup_endpos=20000)),
    "fastagi-errors.txt": dict(script="errors", scenario=Scenario()),
    "fastagi-record.txt": dict(
        script="record", scenario=Scenario(
            keys=[Press(endpos=24160), None, Press("#", endpos=17898)],
            replies={2: "200 result=15948 (timeout) endpos=24438"})),
}


@pytest.mark.parametrize("name", FASTAGI)
def test_simulator_sends_exactly_asterisks_side_of_the_transcript(name):
    lines = load(name)
    port, thread, received = fake_fastagi_server(lines)
    call = dict(DRIVER_CALLS[name])
    result = run_call("127.0.0.1", port, call.pop("script"), env=_env_overrides(lines), **call)
    thread.join(10)
    assert not thread.is_alive()
    assert received == transcripts.sent_by(lines, transcripts.ASTERISK)
    assert result.error == ""
    assert result.agistatus == ("HANGUP" if name == "fastagi-hangup.txt" else "SUCCESS")
    if name == "fastagi-hangup.txt":
        assert result.variables["AFTER_HANGUP"] == "yes"
        assert result.astdb == {("txtest", "key1"): "value1"}


# -- classic AGI: the EAGI transcript through a real AGIChannel over a pipe ---------------------

def test_channel_speaks_the_eagi_transcript_over_file_descriptors(tmp_path):
    """The same AGIChannel over stdin/stdout-style file descriptors (the EAGI transcript's
    audio on fd 3 is not used by our handlers)."""
    import os

    lines = load("eagi-audio.txt")
    session = transcripts.session(lines)
    to_us_r, to_us_w = os.pipe()
    from_us_r, from_us_w = os.pipe()
    os.write(to_us_w, b"".join(session.env) + b"".join(b"".join(t) for _, t in session.exchanges))
    os.close(to_us_w)
    transport = Transport.from_fds(to_us_r, from_us_w)
    env = read_env(transport)
    assert env["agi_request"] == "/var/lib/asterisk/agi-bin/eagi_audio.py"
    assert env["agi_enhanced"] == "1.0" and "agi_network" not in env
    agi = AGIChannel(transport, env, script="eagi")
    assert agi.args == ["fd3-test"]
    agi.answer()
    assert agi.wait_for_digit(2000) == ""
    agi.verbose("eagi done", 1)
    with pytest.raises(AGIHangup):  # the script ends here: end of stream
        agi.noop()
    os.close(from_us_w)
    sent = os.read(from_us_r, 65536)
    os.close(from_us_r)
    os.close(to_us_r)
    assert sent == b"".join(ours for ours, _ in session.exchanges) + b"NOOP\n"
