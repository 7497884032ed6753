"""The screen pop's customer cards carry the customer's last calls (models.telephony.popups
call_item over models.telephony.call_history): newest first, at most MAX_CALLS, each with who,
direction, duration, outcome, disposition, note, and its recordings playable only within the
agent's recording permission."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from models.schema.calls import Call
from models.telephony.popups import MAX_CALLS, build_pop

from tests.call_helpers import abandoned_call, answered_call, record


def test_the_pop_card_lists_the_last_calls_newest_first(session, users, clock, make_customer):
    users["tm"].extension = "8001"
    c = make_customer("杭州恒远机电", owner="tm", mobile="13800138000")
    t0 = clock.now() - dt.timedelta(days=2)
    linkedids = [answered_call(session, clock, "13800138000", "8001", talk=30 + n,
                               start=t0 + dt.timedelta(hours=n)) for n in range(MAX_CALLS)]
    abandoned_call(session, clock, "13800138000", start=t0 + dt.timedelta(hours=9))
    session.execute(update(Call).where(Call.linkedid == linkedids[-1])
                    .values(disposition="interested", note="要报价" * 50))
    rec = record(session, clock, linkedids[-1], users["tm"])
    [card] = build_pop(session, users["tm"], "13800138000", clock=clock)["customers"]
    assert card["id"] == c.id and len(card["calls"]) == MAX_CALLS
    newest, answered = card["calls"][0], card["calls"][1]
    assert (newest["direction"], newest["outcome"], newest["seconds"], newest["user"],
            newest["recordings"]) == ("inbound", "abandoned", 25.0, None, [])
    assert newest["started_at"] == (t0 + dt.timedelta(hours=9)).isoformat()
    assert (answered["user"], answered["outcome"], answered["seconds"], answered["disposition"]) == (
        "李红光", "answered", 34.0, "interested")
    assert answered["note"] == ("要报价" * 50)[:120]
    assert answered["recordings"] == [dict(id=rec.id, may_hear=True, removed=False)]
    assert [k["seconds"] for k in card["calls"][1:]] == [34.0, 33.0, 32.0, 31.0]


def test_a_colleague_sees_the_shared_customers_calls_but_may_not_hear_the_recording(
        session, users, clock, make_customer):
    users["tm"].extension = "8001"
    make_customer("共享客户", owner=None, mobile="13800138000")
    rec = record(session, clock, answered_call(session, clock, "13800138000", "8001"), users["tm"])
    heard = {name: [r for k in build_pop(session, users[name], "13800138000",
                                         clock=clock)["customers"][0]["calls"]
                    for r in k["recordings"]]
             for name in ("tm", "tm2", "mgr")}
    assert heard == {"tm": [dict(id=rec.id, may_hear=True, removed=False)],
                     "tm2": [dict(id=rec.id, may_hear=False, removed=False)],
                     "mgr": [dict(id=rec.id, may_hear=True, removed=False)]}


def test_a_customer_without_calls_and_a_colleagues_customer(session, users, clock, make_customer):
    users["tm"].extension = "8001"
    make_customer(owner="tm", mobile="13800138000")
    answered_call(session, clock, "13800138000", "8001")
    assert build_pop(session, users["tm2"], "13800138000", clock=clock)["customers"] == []
    make_customer(owner="tm", mobile="13900139000")
    [card] = build_pop(session, users["tm"], "13900139000", clock=clock)["customers"]
    assert card["calls"] == []
