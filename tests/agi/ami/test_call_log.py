"""The call log fed by the AMI listener (issue 13), over real AMI TCP against the simulator:
the rows each call shape writes, duplicated and replayed events, a listener restarted
mid-call; and the simulator's new sequences against the captures of a real Asterisk 22."""
from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
import threading
import time

import pytest
from sqlalchemy import event, select

from agi.ami.client import AMIClient
from agi.ami.listener import ScreenPopListener
from agi.ami.wire import iter_messages
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock as SimClock
from agi.pbxsim.transcripts import ASTERISK
from models.db import begin_read
from models.dialer.dialing import finish_attempt
from models.schema import Campaign, DialAttempt
from models.schema.calls import Call, CallLeg

from tests.ami_helpers import joined, sessions

SECRET = "dialfunnel-secret"
T0 = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def agents(session, users):
    users["tm"].extension = "8001"
    users["tm2"].extension = "8002"
    session.commit()
    return users


@pytest.fixture
def simclock():
    return SimClock(T0)


def make_pbx(simclock, **kw):
    scenario = Scenario(seed=5, dial_agent="Local/8001@agents", queue_member="Local/8001@agents/n",
                        outbound_agents=["8002"],
                        numbers={"13900000001": "answer", "13900000404": "unallocated"},
                        **kw)
    return AMIServer(scenario=scenario, clock=simclock, auth_fail_delay=0, channel_seq=0,
                     timestamp_events=True).start()


@pytest.fixture
def pbx(simclock):
    server = make_pbx(simclock)
    yield server
    server.stop()


def start_listener(Session, pbx, simclock):
    listener = ScreenPopListener(
        Session, host="127.0.0.1", port=pbx.port, username="dialfunnel", secret=SECRET,
        clock=simclock, connect_backoff=(0.05, 2.0, 0.2),
        client_options=dict(backoff_initial=0.05, backoff_max=0.2)).start()
    assert listener.wait_connected(5)
    wait_for(lambda: listener.call_log.stats["reconciles"] >= 1)
    assert listener.call_log.sync()
    return listener


@pytest.fixture
def listener(Session, pbx, simclock, agents):
    listener = start_listener(Session, pbx, simclock)
    yield listener
    listener.stop()


@pytest.fixture
def phone(pbx):
    """Another AMI client: Originates as the dialer or the web's click-to-call would."""
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=False)
    client.connect()
    yield client
    client.close()


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def run(pbx, seconds, step=0.5):
    """Move the simulator's clock in steps, letting every event of each step out (what is due
    runs before the clock moves on, so events carry the time they were due)."""
    assert pbx.scheduler.settle()
    for _ in range(int(round(seconds / step))):
        pbx.clock.advance(seconds=step)
        assert pbx.scheduler.settle()


def ended_call(Session, linkedid, timeout=10.0, state="ended") -> Call:
    def get():
        with Session() as s:
            return s.scalar(select(Call).where(Call.linkedid == linkedid, Call.state == state))
    wait_for(lambda: get() is not None, timeout)
    return get()


def legs_of(Session, call) -> dict[str, CallLeg]:
    with Session() as s:
        return {leg.channel: leg for leg in s.scalars(select(CallLeg).where(CallLeg.call_id == call.id))}


def secs(a, b) -> float:
    return round((a - b).total_seconds(), 3)


def placed(pbx, handle):
    """Wait until the simulator took the Originate (its answer comes before the call starts)."""
    wait_for(lambda: handle.channel_id in pbx.calls and pbx.calls[handle.channel_id].pc > 0)
    assert pbx.scheduler.settle()
    return handle


def queue_call(phone, number, context="tx-queue-in", pbx=None):
    handle = phone.originate(f"Local/s@{context}", context="tx-caller", exten="s",
                             caller_id=f'"Caller" <{number}>')
    return placed(pbx, handle) if pbx else handle


def make_attempt(session, clock, number, customer=None):
    campaign = Campaign(name="双十二回访", status="running", mode="predictive",
                        created_at=clock.now(), retry_rules={})
    session.add(campaign)
    session.flush()
    attempt = DialAttempt(campaign_id=campaign.id, customer_id=customer.id if customer else None,
                          number="+86" + number, channel_id=f"att-{number}", dialer_id="d1",
                          started_at=clock.now(), talk_seconds=0.0)
    session.add(attempt)
    session.commit()
    return attempt


# --- the call shapes ---------------------------------------------------------------------------
def test_inbound_through_the_queue_answered_by_an_agent(Session, agents, pbx, listener, phone,
                                                        make_customer):
    customer = make_customer("上海浦东物流有限公司", owner="tm2", mobile="13800138000")
    handle = queue_call(phone, "13800138000", pbx=pbx)
    run(pbx, 8)
    call = ended_call(Session, handle.channel_id)
    assert (call.direction, call.from_number, call.customer_id, call.user_id) == (
        "inbound", "+8613800138000", customer.id, agents["tm"].id)
    assert (call.queue, call.abandoned, call.queue_seconds) == ("sales", False, 2.0)
    assert call.started_at == T0 and secs(call.answered_at, T0) == 2.0
    assert (call.ring_seconds, call.talk_seconds, call.hangup_cause) == (2.0, 4.5, 16)
    assert (call.attempt_id, call.dial_status, call.disposition, call.note) == (None,) * 4
    legs = legs_of(Session, call)
    assert sorted(leg.role for leg in legs.values()) == ["agent", "caller", "local", "local"]
    [agent_leg] = [leg for leg in legs.values() if leg.role == "agent"]
    assert agent_leg.user_id == agents["tm"].id and secs(agent_leg.answered_at, T0) == 2.0
    assert all(leg.ended_at and leg.cause == 16 for leg in legs.values())


def test_inbound_abandoned_in_the_queue(Session, agents, pbx, listener, phone):
    handle = queue_call(phone, "02088886666", context="tx-queue-abandon", pbx=pbx)
    run(pbx, 5)
    call = ended_call(Session, handle.channel_id)
    assert (call.direction, call.from_number, call.queue, call.abandoned) == (
        "inbound", "+862088886666", "sales", True)
    assert (call.queue_seconds, call.answered_at, call.user_id, call.talk_seconds) == (
        3.0, None, None, 0.0)
    assert secs(call.ended_at, T0) == 3.0 and call.ring_seconds == 3.0
    assert call.hold_seconds == 0.0  # the queue's music is not a hold


def test_dialer_call_answered_and_put_through(Session, session, agents, pbx, listener, phone,
                                              clock, make_customer):
    customer = make_customer("杭州西湖茶叶有限公司", owner=None, mobile="13900000001")
    attempt = make_attempt(session, clock, "13900000001", customer)
    placed(pbx, phone.originate("Local/13900000001@tx-outcomes", context="dialfunnel-outbound",
                                exten="s", caller_id='"Shop" <02155550000>',
                                channel_id=attempt.channel_id))
    run(pbx, 6)
    call = ended_call(Session, attempt.channel_id)
    assert (call.direction, call.attempt_id, call.campaign_id, call.customer_id) == (
        "dialer", attempt.id, attempt.campaign_id, customer.id)
    assert (call.to_number, call.user_id, call.hangup_cause) == (
        "+8613900000001", agents["tm2"].id, 16)
    assert call.answered_at == T0 and call.talk_seconds == 5.0   # agent rang 2 s, talked 3 s
    legs = legs_of(Session, call)
    assert sorted(leg.role for leg in legs.values()) == ["agent", "customer", "local"]
    assert call.dial_status is None   # the dialer has not closed the attempt yet
    finish_attempt(session, attempt.channel_id, reason=4, cause=16, clock=clock)
    session.commit()
    with Session() as s:
        assert s.get(Call, call.id).dial_status == session.get(DialAttempt, attempt.id).outcome


def test_dead_number_dialer_call(Session, session, agents, pbx, listener, phone, clock):
    attempt = make_attempt(session, clock, "13900000404")
    finish_attempt(session, attempt.channel_id, reason=0, cause=1, clock=clock)  # closed first
    session.commit()
    placed(pbx, phone.originate("Local/13900000404@tx-outcomes", context="dialfunnel-outbound",
                                exten="s", channel_id=attempt.channel_id))
    run(pbx, 1)
    call = ended_call(Session, attempt.channel_id)
    assert (call.direction, call.attempt_id, call.to_number) == ("dialer", attempt.id, "+8613900000404")
    assert (call.answered_at, call.talk_seconds, call.hangup_cause, call.dial_status) == (
        None, 0.0, 1, "unallocated")


def test_agents_manual_call_from_the_phone(Session, agents, pbx, listener, make_customer):
    customer = make_customer("南京秦淮灯具厂", owner="tm", mobile="13900000077")
    sim_call = placed(pbx, pbx.phone_call("8001", "13900000077"))
    run(pbx, 7)
    call = ended_call(Session, sim_call.channel_id)
    assert (call.direction, call.user_id, call.from_number, call.to_number, call.customer_id) == (
        "manual", agents["tm"].id, "8001", "+8613900000077", customer.id)
    assert (secs(call.answered_at, T0), call.ring_seconds, call.talk_seconds) == (2.0, 2.0, 4.0)
    legs = legs_of(Session, call)
    assert sorted(leg.role for leg in legs.values()) == ["agent", "customer"]


def test_an_extension_given_while_the_listener_runs_is_known_at_once(
        Session, session, agents, pbx, listener, make_customer):
    """The listener loads the agents' extensions now and then; an extension not among them is
    asked for, so a phone given to a user a minute ago is his at its first call."""
    first = placed(pbx, pbx.phone_call("8001", "13900000078"))
    run(pbx, 7)
    ended_call(Session, first.channel_id)        # the listener has loaded the extensions
    agents["rep"].extension = "8009"
    session.commit()
    sim_call = placed(pbx, pbx.phone_call("8009", "13900000079"))
    run(pbx, 7)
    call = ended_call(Session, sim_call.channel_id)
    assert (call.direction, call.user_id) == ("manual", agents["rep"].id)


def test_click_to_call(Session, agents, pbx, listener, phone, make_customer):
    customer = make_customer("苏州园林设计院", owner="tm", mobile="13900000001")
    handle = placed(pbx, phone.originate(
        "Local/8001@cap-phones", context="cap-out", exten="13900000001",
        caller_id='"Shop Hotline" <02155550000>', timeout_ms=30000,
        variables={"DF_CALL_ID": "c2c-1", "DF_AGENT": "8001"}))
    run(pbx, 8)
    call = ended_call(Session, handle.channel_id)
    assert (call.direction, call.user_id, call.from_number, call.to_number, call.customer_id) == (
        "click_to_call", agents["tm"].id, "8001", "+8613900000001", customer.id)
    # the agent's phone rang 1 s; the customer rang 2 s more, answered and talked 4 s
    assert (secs(call.ringing_at, T0), secs(call.answered_at, T0)) == (0.0, 3.0)
    assert (call.talk_seconds, call.hangup_cause) == (4.0, 16)
    legs = legs_of(Session, call)
    assert sorted(leg.role for leg in legs.values()) == ["agent", "customer", "local", "local"]


# --- duplicated, replayed, restarted -----------------------------------------------------------
def _row(Session, linkedid):
    call = ended_call(Session, linkedid)
    skip = {"id"}
    values = {k: v for k, v in vars(call).items() if not k.startswith("_") and k not in skip}
    legs = sorted((leg.uniqueid, leg.role, leg.started_at, leg.answered_at, leg.ended_at, leg.cause)
                  for leg in legs_of(Session, call).values())
    return values, legs


def _count(Session, model):
    with Session() as s:
        return len(list(s.scalars(select(model))))


def test_duplicated_events_write_each_row_once(Session, agents, pbx, listener, phone):
    pbx.duplicate_events = True
    handle = queue_call(phone, "13800138000", pbx=pbx)
    run(pbx, 8)
    values, legs = _row(Session, handle.channel_id)
    assert (_count(Session, Call), _count(Session, CallLeg), len(legs)) == (1, 4, 4)
    assert (values["queue_seconds"], values["talk_seconds"], values["user_id"]) == (
        2.0, 4.5, agents["tm"].id)


def test_replayed_events_change_nothing(Session, agents, pbx, listener, phone):
    pbx.record_events = True
    first = queue_call(phone, "13800138000", pbx=pbx)
    second = placed(pbx, phone.originate("Local/8001@cap-phones", context="cap-out",
                                         exten="13900000001"))
    run(pbx, 8)
    before = [_row(Session, h.channel_id) for h in (first, second)]
    pbx.clock.advance(seconds=60)
    assert pbx.replay() > 50
    listener.call_log.sync()
    time.sleep(0.3)     # the replayed bytes are on their way
    listener.call_log.sync()
    assert [_row(Session, h.channel_id) for h in (first, second)] == before
    assert (_count(Session, Call), _count(Session, CallLeg)) == (2, 8)


def test_listener_restarted_mid_call_reconciles(Session, agents, pbx, simclock, phone):
    pbx.scenario.timing["queue"] = {"talk_time": 60.0}
    listener = start_listener(Session, pbx, simclock)
    gone = queue_call(phone, "13800138000", pbx=pbx)       # ends while the listener is down
    run(pbx, 3)
    ended_call(Session, gone.channel_id, state="up")   # the listener saw it answered
    listener.stop()
    run(pbx, 60)
    born = queue_call(phone, "13800138001", context="tx-dial-in", pbx=pbx)   # starts while it is down
    run(pbx, 1)
    listener = start_listener(Session, pbx, simclock)
    try:
        closed = ended_call(Session, gone.channel_id)
        assert secs(closed.ended_at, T0) == 64.0 and secs(closed.answered_at, T0) == 2.0
        assert closed.user_id == agents["tm"].id
        with Session() as s:
            live = s.scalar(select(Call).where(Call.linkedid == born.channel_id))
            assert (live.state, secs(live.started_at, T0), live.from_number) == (
                "ringing", 63.0, "+8613800138001")
        run(pbx, 6)
        call = ended_call(Session, born.channel_id)
        assert (call.user_id, secs(call.answered_at, T0)) == (agents["tm"].id, 65.0)
        with Session() as s:
            assert list(s.scalars(select(Call).where(Call.state != "ended"))) == []
    finally:
        listener.stop()


def test_a_call_begun_while_the_connection_was_down_is_logged(Session, agents, pbx, listener):
    """Events sent while the connection is down are lost; the reconnect's CoreShowChannels
    brings the call in (its start = now − Duration), its later events finish it."""
    pbx.refuse_connections = True
    pbx.drop_connections()
    sim_call = placed(pbx, pbx.phone_call("8001", "13900000077"))
    run(pbx, 1)
    assert listener.call_log.stats["reconciles"] == 1
    pbx.refuse_connections = False
    wait_for(lambda: listener.call_log.stats["reconciles"] >= 2)
    assert listener.call_log.sync()     # counted when applied; committed with its batch
    with Session() as s:
        call = s.scalar(select(Call).where(Call.linkedid == sim_call.channel_id))
        assert (call.state, call.started_at, call.direction) == ("ringing", T0, "manual")
    run(pbx, 7)
    call = ended_call(Session, sim_call.channel_id)
    assert (call.user_id, call.to_number, secs(call.answered_at, T0), call.hangup_cause) == (
        agents["tm"].id, "+8613900000077", 2.0, 16)
    assert len(legs_of(Session, call)) == 2


# --- a batch's reads outside SQLite's write lock -----------------------------------------------
class WriterStatements:
    """The statements the call-log writers (or another thread, by name) send, with the thread."""

    def __init__(self, engine, thread_name="call-log-writer"):
        self.engine, self.thread_name, self.seen = engine, thread_name, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, *_):
        thread = threading.current_thread()
        if thread.name == self.thread_name:
            self.seen.append((thread.ident, statement.split()[0]))

    def readers(self) -> int:
        return len({ident for ident, word in self.seen if word == "SELECT"})


@contextlib.contextmanager
def write_lock(engine):
    """Another connection holding SQLite's write lock (as the screen pops' writes do)."""
    other = engine.raw_connection()
    try:
        other.driver_connection.execute("BEGIN IMMEDIATE")
        yield
        other.driver_connection.execute("COMMIT")
    finally:
        other.close()


def test_a_batch_is_read_while_another_writer_holds_the_lock(engine, Session, agents, pbx,
                                                             listener, phone):
    """SQLite: the writer reads its batch beside a writer holding the write lock and takes the
    lock only to write; the call is logged once the lock is free."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the write lock held by one writer at a time is SQLite's")
    with WriterStatements(engine) as writer, write_lock(engine):
        handle = queue_call(phone, "13800138000", pbx=pbx)
        wait_for(lambda: writer.readers() == 1, timeout=5)
        with Session() as s:
            begin_read(s)
            assert s.scalar(select(Call).where(Call.linkedid == handle.channel_id)) is None
    run(pbx, 8)
    call = ended_call(Session, handle.channel_id)
    assert (call.user_id, call.queue_seconds, len(legs_of(Session, call))) == (
        agents["tm"].id, 2.0, 4)


def test_a_pop_that_only_reads_does_not_queue_for_the_write_lock(engine, Session, agents, pbx,
                                                                listener, phone):
    """SQLite: the screen pops' lookups that write nothing (the agent who answered) read beside
    a writer holding the lock, instead of taking it (the call log's writer queues for the lock
    the pops take)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the write lock held by one writer at a time is SQLite's")
    handle = queue_call(phone, "13800138000", pbx=pbx)
    run(pbx, 1)
    wait_for(lambda: listener.stats["pops"] + listener.stats["duplicates"] == 2)
    with WriterStatements(engine, "screen-pops") as pops, write_lock(engine):
        run(pbx, 1.5)      # answered at 2 s: DialEnd and AgentConnect name the agent
        # both lookups of the answering agent, and the queue state's, read; its write waits
        wait_for(lambda: [word for _, word in pops.seen if word != "BEGIN"] == ["SELECT"] * 3,
                 timeout=5)
    run(pbx, 6)
    assert ended_call(Session, handle.channel_id).user_id == agents["tm"].id


def test_two_writers_given_the_same_events_at_once_write_each_row_once(
        engine, Session, agents, pbx, simclock, phone):
    """Two listeners on one stream (a replay while another writer runs): each batch is read
    outside the write lock, so both may find a call absent and add it; the unique keys refuse
    the second, whose batch is applied again one event at a time and finds the first's rows.
    On SQLite both writers read while the lock is held, so the race always happens."""
    sqlite = engine.dialect.name == "sqlite"
    first, second = (start_listener(Session, pbx, simclock) for _ in range(2))
    try:
        held = write_lock(engine) if sqlite else contextlib.nullcontext()
        with WriterStatements(engine) as writers, held:
            handles = [queue_call(phone, "13800138000", pbx=pbx),
                     placed(pbx, phone.originate("Local/8001@cap-phones", context="cap-out",
                                                 exten="13900000001"))]
            if sqlite:
                wait_for(lambda: writers.readers() == 2, timeout=5)
        run(pbx, 8)
        rows = [_row(Session, h.channel_id) for h in handles]
        assert first.call_log.sync() and second.call_log.sync()
        stats = [first.call_log.stats, second.call_log.stats]
    finally:
        first.stop()
        second.stop()
    assert (_count(Session, Call), _count(Session, CallLeg)) == (2, 8)
    queued, clicked = rows
    assert (queued[0]["queue_seconds"], queued[0]["talk_seconds"], queued[0]["user_id"]) == (
        2.0, 4.5, agents["tm"].id)
    assert (clicked[0]["direction"], clicked[0]["to_number"]) == ("click_to_call", "+8613900000001")
    assert [s["errors"] for s in stats] == [0, 0]
    assert stats[0]["events"] == stats[1]["events"]
    if sqlite:
        assert stats[0]["batch_retries"] + stats[1]["batch_retries"] >= 1


def test_an_event_alone_waits_for_the_other_writers_row_and_finds_it(engine, Session):
    """The one-by-one fallback met the race too (CI, PostgreSQL): the other writer had inserted
    the same call and not yet committed, so this writer's insert waited for it and was refused.
    The event is tried again and finds the committed row instead of counting an error."""
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: an insert never waits on another's row")
    from agi.ami.call_log import CallLog, chan
    from agi.ami.wire import Message
    from models.telephony import calls

    msg = Message([("Event", "Newchannel"), ("Channel", "PJSIP/trunk-00000001"),
                   ("ChannelState", "4"), ("CallerIDNum", "13800138000"),
                   ("Context", "dialfunnel-inbound"), ("Exten", "400"),
                   ("Uniqueid", "1764122400.1"), ("Linkedid", "1764122400.1")])
    other = Session()
    calls.channel_seen(other, chan(msg), T0)
    other.flush()                       # the other writer's rows, not yet committed
    log = CallLog(Session, client=None)
    mine = Session()
    alone = threading.Thread(target=log._apply_alone, args=(mine, msg, T0))
    alone.start()
    time.sleep(0.5)
    assert alone.is_alive()             # waiting on the other's uncommitted key
    other.commit()
    alone.join(10)
    other.close()
    mine.close()
    assert not alone.is_alive()
    assert log.stats["errors"] == 0
    assert (_count(Session, Call), _count(Session, CallLeg)) == (1, 1)


@contextlib.contextmanager
def wire_trace(connection):
    """What a PostgreSQL connection says to the server (libpq's trace of every protocol
    message): ``trace["round_trips"]``, each time the client waited for the server's answer
    (a server message after client messages), and ``trace["statements"]`` it ran."""
    from psycopg import pq

    pgconn = connection.connection.driver_connection.pgconn
    trace = {}
    with tempfile.TemporaryFile() as out:
        pgconn.trace(out.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield trace
        finally:
            pgconn.untrace()
        out.seek(0)
        lines = [line.split("\t") for line in out.read().decode(errors="replace").splitlines()]
    sides = [fields[0] for fields in lines if fields[0] in ("F", "B")]
    trace["round_trips"] = sum(1 for a, b in zip(sides, sides[1:]) if (a, b) == ("F", "B"))
    trace["statements"] = sum(1 for fields in lines if fields[0] == "F" and len(fields) > 2
                              and fields[2] in ("Execute", "Query"))


def test_a_batch_costs_the_postgresql_writer_two_round_trips(engine, Session, agents, pbx,
                                                               phone, session, clock,
                                                               make_customer):
    """PostgreSQL: a batch of events (here a queue call, a dialer call, a manual call, their
    ~40 events from the simulator's socket) is read in one round trip (a pipeline of its
    reads) and written in one statement, outside a transaction (no BEGIN, no COMMIT: one
    statement is atomic by itself). It was eleven (BEGIN, six reads, the write, the call bars'
    events flushed apart, COMMIT, and a ping at every checkout)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("round trips to a PostgreSQL server")
    seen, handles, attempt = three_calls(pbx, phone, session, clock, make_customer)
    with engine.connect() as connection:
        with wire_trace(connection) as trace:
            log = write_one_batch(Session, connection, seen)
    assert log.stats["batch_retries"] == log.stats["batches_in_transaction"] == 0
    check_three_calls(Session, handles, agents, attempt)
    assert (trace["round_trips"], trace["statements"]) == (2, 7), trace


def three_calls(pbx, phone, session, clock, make_customer):
    """A queue call, a dialer call and a manual call from the simulator's socket: (the call
    log's events, the calls' handles, the dialer call's attempt)."""
    from agi.ami.call_log import EVENTS

    make_customer("上海浦东物流有限公司", owner="tm2", mobile="13800138000")
    attempt = make_attempt(session, clock, "13900000001")
    seen = []
    events = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET)
    events.on("*", lambda msg: seen.append(msg) if msg.name in EVENTS else None)
    events.connect()
    try:
        queued = queue_call(phone, "13800138000", pbx=pbx)
        dialled = placed(pbx, phone.originate("Local/13900000001@tx-outcomes",
                                              context="dialfunnel-outbound", exten="s",
                                              channel_id=attempt.channel_id))
        manual = placed(pbx, pbx.phone_call("8002", "13800138000"))
        run(pbx, 10)
        wait_for(lambda: sum(msg.name == "Hangup" for msg in seen) >= 9)
    finally:
        events.close()
    return seen, (queued, dialled, manual), attempt


def write_one_batch(Session, connection, seen):
    """The writer's one batch of ``seen`` over ``connection``; the writer (its stats)."""
    from agi.ami.call_log import CallLog, _timestamp

    writer = Session(bind=connection)
    log = CallLog(Session, client=None)
    try:
        log._commit(writer, [(msg, _timestamp(msg), 0.0) for msg in seen])
    finally:
        writer.close()
    return log


def check_three_calls(Session, handles, agents, attempt):
    queued, dialled, manual = handles
    logged = {h.channel_id: _row(Session, h.channel_id)[0] for h in handles}
    assert [(row["direction"], row["state"]) for row in logged.values()] == [
        ("inbound", "ended"), ("dialer", "ended"), ("manual", "ended")]
    assert logged[queued.channel_id]["user_id"] == agents["tm"].id
    assert logged[dialled.channel_id]["attempt_id"] == attempt.id


# --- the simulator against the captures ------------------------------------------------------
CAPTURES = "captures-2026-12/"
KEY_EVENTS = {"Newchannel", "DialBegin", "DialState", "DialEnd", "OriginateResponse",
              "BridgeCreate", "BridgeEnter", "BridgeLeave", "BridgeDestroy", "Hangup"}


def _capture_events(name):
    [lines] = [s for s in sessions(CAPTURES + name) if b"Originate" in joined(s, "<")]
    return list(iter_messages(joined(lines, ASTERISK), expect_banner=True))


def _key(msgs, variables=False):
    out = []
    for m in msgs:
        if m.name in KEY_EVENTS:
            out.append((m.name, m.get("Channel"), m.get("DestChannel"), m.get("DialStatus"),
                        m.get("Cause"), m.get("Response")))
        elif variables and m.name == "VarSet" and m.get("Variable", "").startswith("DF_"):
            out.append((m.name, m.get("Channel"), m.get("Variable"), m.get("Value")))
    return out


def _sim_events(pbx, action, seconds):
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=True)
    got = []
    client.on("*", got.append)
    client.connect()
    try:
        placed(pbx, action(client))
        run(pbx, seconds)
        time.sleep(0.3)
    finally:
        client.close()
    return got


def test_simulated_click_to_call_is_the_captured_one(simclock):
    captured = _capture_events("ami-click-to-call.txt")
    pbx = make_pbx(simclock)
    try:
        got = _sim_events(pbx, lambda c: c.originate(
            "Local/8001@cap-phones", context="cap-out", exten="13900000001", timeout_ms=30000,
            caller_id='"Shop Hotline" <02155550000>', channel_id="c2c-0001-agent",
            other_channel_id="c2c-0001-agent-phone",
            variables={"DF_CALL_ID": "c2c-20261207-0001", "DF_AGENT": "8001"}), 8)
    finally:
        pbx.stop()
    assert _key(got, variables=True) == _key(captured, variables=True)
    # Linkedid is our ChannelId on every channel
    assert {m.get("Linkedid") for m in got if m.name == "Newchannel"} == {"c2c-0001-agent"}


def test_simulated_queue_abandon_is_the_captured_order():
    def tail(msgs):
        join = next(m for m in msgs if m.name == "QueueCallerJoin")
        queue_uid = join.get("Uniqueid")
        after = msgs[msgs.index(join):]
        return [(m.name, "queue" if m.get("Uniqueid") == queue_uid else "caller") for m in after
                if m.name in ("Hangup", "MusicOnHoldStop", "QueueCallerAbandon", "QueueCallerLeave")]
    captured = [m for s in sessions(CAPTURES + "ami-queue-members.txt")
                for m in iter_messages(joined(s, ASTERISK), expect_banner=True)]
    pbx = make_pbx(SimClock(T0))
    try:
        got = _sim_events(pbx, lambda c: queue_call(c, "13900000009", "tx-queue-abandon"), 5)
    finally:
        pbx.stop()
    assert tail(got) == tail(captured) == [
        ("Hangup", "caller"), ("MusicOnHoldStop", "queue"), ("QueueCallerAbandon", "queue"),
        ("QueueCallerLeave", "queue"), ("Hangup", "queue")]
    abandon = next(m for m in got if m.name == "QueueCallerAbandon")
    assert [k for k, _ in abandon.headers][-4:] == ["Queue", "Position", "OriginalPosition", "HoldTime"]

