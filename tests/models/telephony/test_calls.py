"""The call log's writer (models/telephony/calls.py): first write wins, nothing moves once a
call ended, reconciliation from a CoreShowChannels list a real Asterisk 22 sent."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from models.db import begin_read
from models.dialer.dialing import finish_attempt
from models.schema import Campaign, DialAttempt
from models.schema.calls import Call, CallLeg
from models.telephony import calls
from models.telephony.calls import Chan

from tests.ami_helpers import sessions, transcript_messages

CALLER = Chan("PJSIP/carrier-00000001", "1700.1", "1700.1", 4, "13800138000", None,
              "dialfunnel-inbound", "4008001234")
AGENT = Chan("PJSIP/8001-00000002", "1700.2", "1700.1", 0, "8001", None, "dialfunnel-agents", "s")


def rows(session):
    session.commit()
    return (list(session.scalars(select(Call))), list(session.scalars(select(CallLeg))))


def inbound_call(session, clock, *, repeat=1):
    """An inbound call rung to 8001, answered 3 s later, talked 60 s; each event ``repeat`` times
    (later copies arrive a second later, as a replay would)."""
    t0 = clock.now()
    steps = [
        (0, lambda now: calls.channel_seen(session, CALLER, now)),
        (1, lambda now: calls.dial_begin(session, CALLER, AGENT, now)),
        (4, lambda now: calls.dial_end(session, CALLER, AGENT, "ANSWER", now)),
        (64, lambda now: calls.channel_ended(session, AGENT, 16, now)),
        (64, lambda now: calls.channel_ended(session, CALLER, 16, now)),
    ]
    for offset, step in steps:
        for copy in range(repeat):
            step(t0 + dt.timedelta(seconds=offset + copy))
    return t0


def test_an_inbound_call_and_its_figures(session, users, clock, make_customer):
    users["tm"].extension = "8001"
    customer = make_customer("上海浦东物流有限公司", owner="tm", mobile="13800138000")
    t0 = inbound_call(session, clock)
    [call], legs = rows(session)
    assert (call.direction, call.from_number, call.to_number, call.customer_id, call.user_id) == (
        "inbound", "+8613800138000", "+864008001234", customer.id, users["tm"].id)
    assert (call.started_at, call.ringing_at, call.answered_at) == (
        t0, t0 + dt.timedelta(seconds=1), t0 + dt.timedelta(seconds=4))
    assert (call.ring_seconds, call.talk_seconds, call.state, call.hangup_cause) == (3.0, 60.0, "ended", 16)
    assert sorted((leg.role, leg.user_id) for leg in legs) == [("agent", users["tm"].id), ("caller", None)]


def test_duplicated_and_replayed_events_write_once_and_move_no_time(session, users, clock):
    users["tm"].extension = "8001"
    t0 = inbound_call(session, clock, repeat=3)
    [call], legs = rows(session)
    assert len(legs) == 2
    assert (call.answered_at, call.ended_at) == (t0 + dt.timedelta(seconds=4), t0 + dt.timedelta(seconds=64))
    assert call.talk_seconds == 60.0


def test_nothing_changes_once_the_call_ended(session, users, clock):
    inbound_call(session, clock)
    [before], _ = rows(session)
    snapshot = dict(vars(before))
    late = clock.now() + dt.timedelta(hours=1)
    calls.channel_ended(session, CALLER, 34, late)
    calls.channel_seen(session, Chan("PJSIP/x-00000009", "1700.9", "1700.1", 4), late)
    calls.hold(session, CALLER, True, late)
    [after], legs = rows(session)
    assert {k: v for k, v in vars(after).items() if not k.startswith("_")} == \
        {k: v for k, v in snapshot.items() if not k.startswith("_")}
    assert len(legs) == 2


def test_hold_counts_only_after_the_answer(session, users, clock):
    users["tm"].extension = "8001"
    t0 = clock.now()
    at = lambda s: t0 + dt.timedelta(seconds=s)  # noqa: E731
    calls.channel_seen(session, CALLER, at(0))
    calls.queue_joined(session, CALLER, "sales", at(0))
    calls.hold(session, CALLER, True, at(0))           # the queue's music
    calls.dial_begin(session, CALLER, AGENT, at(5))
    calls.hold(session, CALLER, False, at(7))
    calls.dial_end(session, CALLER, AGENT, "ANSWER", at(7))
    calls.queue_left(session, CALLER, at(7))
    calls.hold(session, CALLER, True, at(20))
    calls.hold(session, CALLER, True, at(25))          # duplicate: the first start stands
    calls.hold(session, CALLER, False, at(50))
    calls.hold(session, CALLER, False, at(55))         # duplicate stop: nothing more
    calls.channel_ended(session, CALLER, 16, at(90))
    calls.channel_ended(session, AGENT, 16, at(90))
    [call], _ = rows(session)
    assert (call.queue_seconds, call.hold_seconds, call.talk_seconds) == (7.0, 30.0, 83.0)


def test_a_dialer_call_gets_the_attempts_status_whichever_ends_first(session, clock):
    campaign = Campaign(name="活动", status="running", mode="predictive", created_at=clock.now(),
                        retry_rules={})
    session.add(campaign)
    session.flush()
    for n, attempt_first in ((1, True), (2, False)):
        attempt = DialAttempt(campaign_id=campaign.id, number=f"+861390000000{n}",
                              channel_id=f"chan-{n}", started_at=clock.now(), talk_seconds=0.0)
        session.add(attempt)
        session.flush()
        far = Chan(f"PJSIP/dialfunnel-trunk-0000000{n}", f"chan-{n}", f"chan-{n}", 0)
        calls.channel_seen(session, far, clock.now())
        if attempt_first:
            attempt.outcome = "unallocated"
            calls.channel_ended(session, far, 1, clock.now())
        else:
            calls.channel_ended(session, far, 1, clock.now())
            attempt.outcome = "unallocated"
            calls.attempt_closed(session, attempt)
    session.commit()
    session.expire_all()
    got = [(c.direction, c.to_number, c.hangup_cause, c.dial_status)
           for c in session.scalars(select(Call).order_by(Call.id))]
    assert got == [("dialer", "+8613900000001", 1, "unallocated"),
                   ("dialer", "+8613900000002", 1, "unallocated")]


def test_an_outcome_written_between_the_batchs_read_and_its_write_is_kept(Session, clock):
    """The writer reads a batch outside the write lock (SQLite): the dialer closes the attempt
    of a call the batch adds and ends, after the read and before the write (its
    ``attempt_closed`` finds no row yet). ``reread_outcomes``, under the lock, brings it."""
    with Session() as s:
        campaign = Campaign(name="活动", status="running", mode="predictive",
                            created_at=clock.now(), retry_rules={})
        s.add(campaign)
        s.flush()
        s.add(DialAttempt(campaign_id=campaign.id, number="+8613900000404", channel_id="chan-9",
                          started_at=clock.now(), talk_seconds=0.0))
        s.commit()
    far = Chan("PJSIP/dialfunnel-trunk-00000009", "chan-9", "chan-9", 0)
    writer = Session()
    begin_read(writer)
    calls.prefetch(writer, {far.linkedid}, {far.uniqueid})
    writer.commit()
    with Session() as dialer:
        finish_attempt(dialer, "chan-9", reason=0, cause=1, clock=clock)
        dialer.commit()
    calls.reread_outcomes(writer)
    with writer.no_autoflush:
        calls.channel_seen(writer, far, clock.now())
        calls.channel_ended(writer, far, 1, clock.now())
    calls.write_batch(writer)
    writer.commit()
    writer.close()
    with Session() as s:
        call = s.scalar(select(Call))
        assert (call.direction, call.state, call.dial_status) == ("dialer", "ended", "unallocated")


def _listed():
    """The CoreShowChannel events of the capture (2 bridged calls, 1 ringing)."""
    from agi.ami.call_log import chan, _duration
    msgs = [m for s in sessions("captures-2026-12/ami-coreshowchannels.txt")
            for m in transcript_messages(s)]
    return [(chan(m), _duration(m.get("Duration"))) for m in msgs
            if m.name == "CoreShowChannel" and m.get("ActionID") == "csc-list"]


def test_reconcile_adds_live_channels_and_closes_calls_that_are_gone(session, users, clock):
    users["tm"].extension = "8001"
    gone = Chan("PJSIP/8002-000000aa", "old.1", "old.1", 4, "8002", None, "dialfunnel-agents",
                "13900000002")
    since = clock.now()
    calls.channel_seen(session, gone, since - dt.timedelta(minutes=5))
    session.commit()
    live = _listed()
    assert len(live) == 12
    added, closed = calls.reconcile(session, live, since + dt.timedelta(seconds=1), since)
    assert (added, closed) == (12, 1)
    session.commit()
    by_linkedid = {c.linkedid: c for c in session.scalars(select(Call))}
    assert by_linkedid["old.1"].state == "ended"
    first = by_linkedid["csc-call1-agent"]
    assert first.state == "ringing" and first.started_at == since + dt.timedelta(seconds=1 - 8)
    assert (first.direction, first.user_id, first.from_number) == ("click_to_call", users["tm"].id, "8001")
    # the same list again (a second reconnect) adds and closes nothing
    assert calls.reconcile(session, live, since + dt.timedelta(seconds=2), since) == (0, 0)
    # a call the list no longer shows is closed; its start stays
    assert calls.reconcile(session, [x for x in live if x[0].linkedid != "csc-call3-agent"],
                           since + dt.timedelta(seconds=3), since + dt.timedelta(seconds=2.5)) == (0, 1)
    session.commit()
    call3 = session.scalar(select(Call).where(Call.linkedid == "csc-call3-agent"))
    assert (call3.state, call3.ended_at) == ("ended", since + dt.timedelta(seconds=3))
    assert session.scalar(select(CallLeg).where(CallLeg.uniqueid == "1796601250.72")).ended_at is not None


def test_many_numbers_match_as_one_does(session, users, make_customer):
    """ids_by_phones (the writer's batch lookup) gives find_by_phone's customers."""
    from models.crm.contacts import add_contact
    from models.crm.customers import find_by_phone, ids_by_phones
    a = make_customer("甲公司", owner="tm", mobile="13800138000", phone="021-62345678")
    b = make_customer("乙公司", owner=None, fax="021-62345678")
    add_contact(session, users["admin"], b.id, dict(name="王工", mobile="13900000001"))
    session.commit()
    numbers = ["+8613800138000", "+862162345678", "+8613900000001", "+8613700000000"]
    assert ids_by_phones(session, numbers) == {
        n: [c.id for c in find_by_phone(session, n)] for n in numbers}
    assert ids_by_phones(session, numbers)["+862162345678"] == sorted([a.id, b.id])


def _second_call(n: int) -> tuple[Chan, Chan]:
    caller = Chan(f"PJSIP/carrier-0000010{n}", f"1800.{n}", f"1800.{n}", 4, f"1390000000{n}",
                  None, "dialfunnel-inbound", "4008001234")
    agent = Chan(f"PJSIP/8001-0000020{n}", f"1800.{n}0", f"1800.{n}", 0, "8001", None,
                 "dialfunnel-agents", "s")
    return caller, agent


def test_a_batch_flushes_one_update_per_table(session, users, clock):
    """write_batch: calls changed in different columns go out in one UPDATE statement per table."""
    users["tm"].extension = "8001"
    pairs = [_second_call(n) for n in (1, 2, 3)]
    t0 = clock.now()
    for caller, agent in pairs:
        calls.channel_seen(session, caller, t0)
        calls.dial_begin(session, caller, agent, t0)
    session.commit()
    statements = []
    engine = session.get_bind()

    def seen(conn, cursor, statement, *_):
        statements.append(statement.split()[:3])
    event.listen(engine, "before_cursor_execute", seen)
    try:
        later = t0 + dt.timedelta(seconds=5)
        calls.queue_left(session, pairs[0][0], later, abandoned=True, hold_time=5)  # abandoned
        calls.queue_joined(session, pairs[1][0], "sales", later)                 # queued_at
        calls.channel_ended(session, pairs[2][1], 16, later)                      # a leg ends
        calls.channel_ended(session, pairs[2][0], 16, later)                      # the call ends
        calls.write_batch(session)
        session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    if engine.dialect.name == "postgresql":     # the calls' and legs' writes in one statement
        assert [s for s in statements if s[0] in ("UPDATE", "WITH")
                or s[:3] in (["INSERT", "INTO", "calls"], ["INSERT", "INTO", "call_legs"])] == [
            ["WITH", "uc", "AS"]]
    else:
        assert statements.count(["UPDATE", "calls", "SET"]) == 1
        assert statements.count(["UPDATE", "call_legs", "SET"]) == 1
    abandoned, queued, ended = (session.scalar(select(Call).where(Call.linkedid == c.linkedid))
                                for c, _ in pairs)
    assert (abandoned.abandoned, abandoned.queue_seconds, abandoned.queued_at) == (True, 5.0, None)
    assert (queued.queued_at, queued.queue, queued.answered_at) == (later, "sales", None)
    assert (ended.state, ended.ended_at, ended.hangup_cause) == ("ended", later, 16)


def test_the_writer_leaves_what_others_write_on_a_live_call(session, users, clock):
    """The wrap-up's disposition and note and the dialer's status, written by another session
    while the call is up, survive the writer's next flush."""
    users["tm"].extension = "8001"
    t0 = clock.now()
    calls.channel_seen(session, CALLER, t0)
    calls.dial_begin(session, CALLER, AGENT, t0)
    calls.dial_end(session, CALLER, AGENT, "ANSWER", t0 + dt.timedelta(seconds=2))
    calls.write_batch(session)
    session.commit()
    with Session(session.get_bind()) as other:
        other.execute(update(Call).values(disposition="interested", note="回电", dial_status="answered"))
        other.commit()
    calls.hold(session, CALLER, True, t0 + dt.timedelta(seconds=10))
    calls.hold(session, CALLER, False, t0 + dt.timedelta(seconds=20))
    calls.channel_ended(session, AGENT, 16, t0 + dt.timedelta(seconds=30))
    calls.channel_ended(session, CALLER, 16, t0 + dt.timedelta(seconds=30))
    calls.write_batch(session)
    session.commit()
    session.expire_all()
    [call] = session.scalars(select(Call))
    assert (call.disposition, call.note, call.dial_status) == ("interested", "回电", "answered")
    assert (call.state, call.hold_seconds, call.talk_seconds) == ("ended", 10.0, 28.0)


def test_a_batch_writes_one_statement_per_table_whatever_columns_changed(
        session, users, clock, make_customer):
    """write_batch: calls changing different columns, the agent who answered (first written
    wins) among them, and new calls: one UPDATE per table (on PostgreSQL the updates and the
    inserts in one statement). The customer another
    session gave a call meanwhile (an IVR caller who became one) stays."""
    users["tm"].extension = "8001"
    customer = make_customer("来电客户 139****0001", owner=None)
    pairs = [_second_call(n) for n in (1, 2, 3)]
    t0 = clock.now()
    for caller, agent in pairs:
        calls.channel_seen(session, caller, t0)
        calls.dial_begin(session, caller, agent, t0)
    calls.write_batch(session)
    session.commit()
    with Session(session.get_bind()) as other:
        assert calls.attach_customer(other, pairs[0][0].linkedid, customer.id)
        other.commit()
    statements = []
    engine = session.get_bind()

    def seen(conn, cursor, statement, *_):
        statements.append(statement.split()[:3])
    event.listen(engine, "before_cursor_execute", seen)
    try:
        later = t0 + dt.timedelta(seconds=5)
        batch = pairs + [_second_call(4), _second_call(5)]
        calls.prefetch(session, {c.linkedid for c, _ in batch},
                       {ch.uniqueid for pair in batch for ch in pair}, ["13900000004"])
        with session.no_autoflush:                       # as the AMI listener's writer does
            calls.dial_end(session, pairs[0][0], pairs[0][1], "ANSWER", later)   # user_id too
            calls.queue_joined(session, pairs[1][0], "sales", later)
            calls.channel_ended(session, pairs[2][1], 16, later)
            calls.channel_ended(session, pairs[2][0], 16, later)
            for caller, agent in batch[3:]:
                calls.channel_seen(session, caller, later)
                calls.dial_begin(session, caller, agent, later)
        calls.write_batch(session)
        session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    if engine.dialect.name == "postgresql":   # the batch's writes in one statement
        assert [w for w in statements if w[0] in ("UPDATE", "INSERT", "WITH")   # (events:
                and w != ["INSERT", "INTO", "events"]] == [["WITH", "uc", "AS"]]  # the call bar's)
    else:                                     # SQLite's inserts stay the flush's (no round trips)
        updates = [w[:2] for w in statements if w[0] == "UPDATE"]
        assert updates.count(["UPDATE", "calls"]) == updates.count(["UPDATE", "call_legs"]) == 1
    session.expire_all()
    answered = session.scalar(select(Call).where(Call.linkedid == pairs[0][0].linkedid))
    assert (answered.user_id, answered.customer_id, answered.state) == (
        users["tm"].id, customer.id, "up")
    assert {c.linkedid: c.state for c in session.scalars(select(Call))} == {
        "1800.1": "up", "1800.2": "ringing", "1800.3": "ended", "1800.4": "ringing",
        "1800.5": "ringing"}
    assert len(session.scalars(select(CallLeg)).all()) == 10


def test_a_third_party_joining_the_three_way_room_becomes_a_leg_of_the_call(session, users, clock):
    """ConfbridgeJoin of dialfunnel-<call id>: the colleague's own call (another linkedid) is
    folded into the room's call, which ends only with its last leg."""
    users["tm"].extension, users["tm2"].extension = "8001", "8002"
    t0 = clock.now()
    calls.channel_seen(session, CALLER, t0)
    calls.dial_end(session, CALLER, AGENT, "ANSWER", t0)
    session.commit()
    call = calls.find_call(session, "1700.1")
    colleague = Chan("PJSIP/8002-00000009", "spy-or-3rd", "spy-or-3rd", 0, "8002", None, "dialfunnel-agents", "s")
    calls.channel_seen(session, colleague, t0)
    calls.conference_joined(session, AGENT, f"dialfunnel-{call.id}", t0)        # already ours
    calls.conference_joined(session, colleague, f"dialfunnel-{call.id}", t0)
    calls.conference_joined(session, colleague, "some-other-room", t0)
    session.commit()
    [row] = session.scalars(select(Call)).all()
    assert sorted(leg.channel for leg in session.scalars(select(CallLeg))) == [
        "PJSIP/8001-00000002", "PJSIP/8002-00000009", "PJSIP/carrier-00000001"]
    for ch in (AGENT, CALLER):
        calls.channel_ended(session, ch, 16, t0 + dt.timedelta(seconds=30))
    session.commit()
    assert row.state == "up"                      # the colleague still talks
    calls.channel_ended(session, colleague, 16, t0 + dt.timedelta(seconds=90))
    session.commit()
    assert (row.state, row.talk_seconds) == ("ended", 90.0)


def test_a_prefetched_batch_asks_no_query_per_unknown_channel(session, users, clock):
    """The agents among a batch's channels are looked up in prefetch's one query: applying
    calls from numbers and trunks that are no agent's then asks the database nothing (one
    query per new number was the writer's main cost under load); an agent's phone among them
    is still known, and one given an extension after the last load too."""
    users["tm"].extension = "8001"
    session.commit()
    calls.prefetch(session, [], [], channels=["PJSIP/8001-00000001"])   # the agents are loaded
    users["tm2"].extension = "8002"                                     # then given
    session.commit()
    t0 = clock.now()
    chans = [Chan(f"PJSIP/carrier-0000030{n}", f"1900.{n}", f"1900.{n}", 4, f"1390000010{n}",
                  None, "dialfunnel-inbound", "4008001234") for n in range(5)]
    chans += [Chan(f"Local/1390000020{n}@dialfunnel-trunk-out-0000040{n};1", f"1901.{n}",
                   f"1901.{n}", 0, None, None, "dialfunnel-trunk-out", "s") for n in range(3)]
    chans.append(Chan("PJSIP/8002-00000050", "1902.1", "1902.1", 4, "8002", None,
                      "dialfunnel-agents", "13900000999"))
    calls.prefetch(session, [c.linkedid for c in chans], [c.uniqueid for c in chans],
                   [c.caller_num for c in chans], [c.channel for c in chans])
    statements = []
    engine = session.get_bind()

    def seen(conn, cursor, statement, *_):
        statements.append(statement)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with session.no_autoflush:
            for ch in chans:
                calls.channel_seen(session, ch, t0)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert [s for s in statements if "users" in s] == []
    calls.write_batch(session)
    session.commit()
    manual = session.scalar(select(Call).where(Call.linkedid == "1902.1"))
    assert (manual.direction, manual.user_id) == ("manual", users["tm2"].id)


def test_one_write_is_only_what_the_batch_statement_sends(session, users, clock):
    """models.telephony.calls.one_write (PostgreSQL's batches outside a transaction): new
    calls, legs and call-bar events and the event columns of written rows are the one write
    statement's; a row of another table, a column it does not send, a deleted row are not."""
    calls.channel_seen(session, CALLER, clock.now())
    calls.dial_begin(session, CALLER, AGENT, clock.now())
    assert calls.one_write(session)
    session.commit()
    call = calls.find_call(session, CALLER.linkedid)
    calls.dial_end(session, CALLER, AGENT, "ANSWER", clock.now())     # answered: a call bar event
    assert calls.one_write(session)
    call.disposition = "有意向"
    assert not calls.one_write(session)
    session.rollback()
    session.add(Campaign(name="双十二回访", status="draft", mode="predictive",
                         created_at=clock.now(), retry_rules={}))
    assert not calls.one_write(session)
    session.rollback()
    session.delete(session.scalars(select(CallLeg)).first())
    assert not calls.one_write(session)
