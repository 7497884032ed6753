"""agi.ami.client.AMIClient against Asterisk's recorded side of the transcripts (replayed over TCP):
what our client writes must equal the transcript's `<` bytes, and it must hand every event to the
callbacks in the order Asterisk sent them."""
from __future__ import annotations

import threading

import pytest

from agi.ami.client import AMIActionError, AMIAuthError, AMIClient, AMITimeout
from agi.ami.wire import Message, Parser, encode, iter_messages
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock
from agi.pbxsim.transcripts import Line

from tests.ami_helpers import ASTERISK, OURS, ReplayServer, joined, sessions, transcript_messages

ORIGINATE_FILES = [f"ami-originate-{n}.txt" for n in
                   ("answer", "busy", "congestion", "noanswer", "unallocated", "absent", "invalid")]
ORIGINATE_FILES += ["ami-dial.txt", "ami-queue.txt", "full/ami-dial.txt", "full/ami-queue.txt"]


def id_factory(ids: dict[str, list[str]]):
    queues = {action: iter(values) for action, values in ids.items()}
    return lambda action: next(queues[action])


def client(port, **kw) -> AMIClient:
    kw.setdefault("username", "dialfunnel")
    kw.setdefault("secret", "dialfunnel-secret")
    kw.setdefault("reconnect", False)
    return AMIClient("127.0.0.1", port, **kw)


def test_parser_banner_and_messages_split_anywhere():
    data = b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: a\r\nMessage: ok\r\n\r\nEvent: X\r\nAccountCode: \r\n\r\n"
    for cut in range(len(data)):
        parser = Parser(expect_banner=True)
        msgs = parser.feed(data[:cut]) + parser.feed(data[cut:])
        assert parser.banner == "Asterisk Call Manager/11.0.0"
        assert [m.headers for m in msgs] == [[("Response", "Success"), ("ActionID", "a"), ("Message", "ok")],
                                             [("Event", "X"), ("AccountCode", "")]]
    assert encode([("Action", "Ping"), ("ActionID", "p")]) == b"Action: Ping\r\nActionID: p\r\n\r\n"
    with pytest.raises(ValueError):
        encode([("Action", "Ping\r\nAction: Logoff")])


def test_login_transcript_byte_for_byte():
    s1, s2, s3 = sessions("ami-login.txt")
    server = ReplayServer([s1, s2, s3])
    try:
        # session 1: Events off, then Logoff (Asterisk answers Goodbye and closes)
        c = client(server.port, events=False, action_id_factory=id_factory({"Login": ["login-1"], "Logoff": ["logoff-1"]}))
        response = c.connect()
        assert response.headers == [("Response", "Success"), ("ActionID", "login-1"), ("Message", "Authentication accepted")]
        assert c.banner == "Asterisk Call Manager/11.0.0"
        goodbye = c.logoff()
        assert goodbye.response == "Goodbye" and goodbye["Message"] == "Thanks for all the fish."
        assert c.state == "closed"

        # session 2: wrong secret, no Events header: a clear error, nothing else sent
        c = client(server.port, secret="wrong", events=None)
        with pytest.raises(AMIAuthError, match="Authentication failed"):
            c.connect(login_action_id="bad-1")
        c.close()

        # session 3: Events on → FullyBooted, SuccessfulAuth; Ping; Logoff
        events: list[Message] = []
        c = client(server.port, events=True,
                   action_id_factory=id_factory({"Login": ["login-2"], "Ping": ["ping-1"], "Logoff": ["logoff-2"]}))
        c.on("*", events.append)
        c.connect()
        pong = c.ping()
        assert pong["Ping"] == "Pong" and pong.action_id == "ping-1" and pong["Timestamp"] == "1795712951.987006"
        c.logoff()
        assert [e.name for e in events] == ["FullyBooted", "SuccessfulAuth"]
        assert events[1]["AccountID"] == "dialfunnel"
    finally:
        server.close()
    assert server.received == [joined(s, OURS) for s in (s1, s2, s3)]


@pytest.mark.parametrize("name", ORIGINATE_FILES)
def test_originate_transcript_client_bytes_and_event_order(name):
    session = sessions(name)[0]
    ours = list(iter_messages(joined(session, OURS)))
    login, orig, logoff = ours
    expected_events = [m for m in transcript_messages(session) if m.is_event]
    got: list[Message] = []
    by_name: list[str] = []
    all_in = threading.Event()

    def collect(msg):
        got.append(msg)
        if len(got) == len(expected_events):
            all_in.set()

    server = ReplayServer([session])
    try:
        c = client(server.port, events=True)
        c.on("*", collect)
        c.on("Hangup", lambda m: by_name.append(m["Uniqueid"]))
        c.connect(login_action_id=login.action_id)
        handle = c.originate(
            orig["Channel"], context=orig["Context"], exten=orig["Exten"], priority=orig["Priority"],
            timeout_ms=int(orig["Timeout"]), caller_id=orig["CallerID"], channel_id=orig["ChannelId"],
            other_channel_id=orig["OtherChannelId"], action_id=orig.action_id)
        assert handle.response["Message"] == "Originate successfully queued"
        result = handle.result(timeout=5)
        assert result["Uniqueid"] == orig["ChannelId"]
        assert all_in.wait(5)
        c.logoff(action_id=logoff.action_id)
    finally:
        server.close()
    assert server.received == [joined(session, OURS)]
    assert [m.headers for m in got] == [m.headers for m in expected_events]
    assert by_name == [m["Uniqueid"] for m in expected_events if m.name == "Hangup"]


def test_outcome_table_from_the_transcripts():
    """OriginateResponse Reason and the Hangup causes of ChannelId / OtherChannelId, per outcome."""
    table = {"answer": ("Success", "4", "16", "16"), "busy": ("Failure", "5", "0", "17"),
             "congestion": ("Failure", "8", "0", "34"), "noanswer": ("Failure", "3", "19", "19"),
             "unallocated": ("Failure", "0", "1", "1"), "absent": ("Failure", "0", "20", "20"),
             "invalid": ("Failure", "0", "28", "28")}
    for outcome, row in table.items():
        session = sessions(f"ami-originate-{outcome}.txt")[0]
        orig = list(iter_messages(joined(session, OURS)))[1]
        events = [m for m in transcript_messages(session) if m.is_event]
        resp = next(m for m in events if m.name == "OriginateResponse")
        causes = {m["Uniqueid"]: m["Cause"] for m in events if m.name == "Hangup"}
        assert (resp["Response"], resp["Reason"], causes[orig["ChannelId"]], causes[orig["OtherChannelId"]]) == row


def test_concurrent_actions_get_their_own_responses():
    with AMIServer(clock=FakeClock(), auth_fail_delay=0) as server:
        c = client(server.port)
        c.connect()
        results: dict[str, str] = {}
        errors: list[Exception] = []

        def worker(n):
            try:
                for i in range(10):
                    aid = f"t{n}-{i}"
                    results[aid] = c.send_action("Ping", action_id=aid).action_id
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len(results) == 120 and all(k == v for k, v in results.items())
        refused = c.send_action("Frobnicate")
        assert refused.response == "Error" and refused["Message"] == "Invalid/unknown command"
        with pytest.raises(AMIActionError, match="No such channel"):
            c.send_action("Hangup", {"Channel": "Local/nobody@x-00000001;1"}, check=True)
        c.logoff()


def test_response_timeout_is_clear():
    script = [Line(ASTERISK, b"Asterisk Call Manager/11.0.0\r\n", None)]
    script += [Line(OURS, x, None) for x in (b"Action: Login\r\n", b"ActionID: l\r\n", b"Username: u\r\n",
                                             b"Secret: s\r\n", b"Events: off\r\n", b"\r\n")]
    script += [Line(ASTERISK, b"Response: Success\r\nActionID: l\r\nMessage: Authentication accepted\r\n\r\n", None)]
    script += [Line(OURS, b"Action: Ping\r\nActionID: p\r\n\r\n", None), Line(OURS, b"never", None)]
    server = ReplayServer([script])
    try:
        c = AMIClient("127.0.0.1", server.port, "u", "s", events=False, reconnect=False)
        c.connect(login_action_id="l")
        with pytest.raises(AMITimeout, match="Ping .*ActionID p"):
            c.send_action("Ping", action_id="p", timeout=0.2)
        c.close()
    finally:
        server.close()


def test_callbacks_by_name_then_catch_all_in_order_and_survive_errors():
    session = sessions("ami-originate-busy.txt")[0]
    login, orig, logoff = list(iter_messages(joined(session, OURS)))
    calls: list[str] = []
    done = threading.Event()

    def boom(msg):
        raise RuntimeError("a broken callback")

    server = ReplayServer([session])
    try:
        c = client(server.port)
        c.on("Hangup", boom)
        c.on("Hangup", lambda m: calls.append("hangup:" + m["Cause"]))
        c.on("*", lambda m: calls.append(m.name))
        c.on("*", lambda m: done.set() if m.name == "DeviceStateChange" and m["State"] == "NOT_INUSE" and
             calls.count("DeviceStateChange") == 3 else None)
        extra = lambda m: calls.append("removed")  # noqa: E731
        c.on("Newchannel", extra)
        c.off("Newchannel", extra)
        c.connect(login_action_id=login.action_id)
        c.send_action("Originate", [(k, v) for k, v in orig.headers[2:]], action_id=orig.action_id)
        assert done.wait(5)
        c.logoff(action_id=logoff.action_id)
    finally:
        server.close()
    assert "removed" not in calls
    i = calls.index("hangup:0")
    assert calls[i + 1] == "Hangup"  # named callbacks first, then the catch-all, per event
    assert [x for x in calls if x.startswith("hangup:")] == ["hangup:0", "hangup:17"]
