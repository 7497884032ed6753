"""The wallboard's figures, built from rows the call-log writer makes, who sees which part,
the alerts, and a number of queries that does not grow with the agents."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, select

from models.dialer.wallboard import Wallboard, add_alert, diff, view
from models.errors import InvalidValue, NotFound
from models.org.users import create_user
from models.schema import AgentState, Event
from models.schema.wallboard import WallboardAlertFiring

from tests.call_helpers import abandoned_call, answered_call, open_manual_call, queue_call
from tests.models.dialer.test_agent_states import make_attempt, make_campaign

M = dt.timedelta(minutes=1)
S = dt.timedelta(seconds=1)


@pytest.fixture
def floor(session, users, clock):
    """10:00 in Shanghai. tm (8001) is on a hand-dialled call since 3 minutes, in the
    manager's campaign; tm2 (8002) is paused since 10 minutes, in the admin's campaign."""
    tm, tm2, mgr, admin = users["tm"], users["tm2"], users["mgr"], users["admin"]
    tm.extension, tm2.extension = "8001", "8002"
    mine = make_campaign(session, clock, [tm], name="经理的活动")
    mine.created_by_id = mgr.id
    other = make_campaign(session, clock, [tm2], name="管理员的活动")
    other.created_by_id = admin.id
    now = clock.now()
    session.add(AgentState(user_id=tm.id, campaign_id=mine.id, state="ready", since=now - 20 * M))
    session.add(AgentState(user_id=tm2.id, campaign_id=other.id, state="paused", reason="break",
                           since=now - 10 * M))
    session.commit()
    answered_call(session, clock, "+8613900000001", "8001", talk=90, start=now - 60 * M)
    open_manual_call(session, "8001", "+8613812348000", start=now - 3 * M - 5 * S)
    # The sales queue today: answered after 10 s (within 20 s), after 30 s, one abandoned,
    # one caller waiting since 45 s.
    queue_call(session, "+8613900000002", "sales", start=now - 50 * M, wait=10, extension="8002")
    queue_call(session, "+8613900000003", "sales", start=now - 40 * M, wait=30, extension="8002")
    abandoned_call(session, clock, "+8613900000004", start=now - 30 * M)
    queue_call(session, "+8613900000005", "sales", start=now - 45 * S, wait=0)
    # The manager's campaign: 3 calls placed in the last 5 minutes; 1 abandoned of 4 live in 24 h.
    for ago, outcome in ((2 * M, "answered"), (3 * M, "abandoned"), (4 * M, None),
                         (2 * 60 * M, "answered"), (5 * 60 * M, "answered")):
        make_attempt(session, clock, mine, started=now - ago, outcome=outcome,
                     ended=outcome is not None)
    return dict(mine=mine, other=other)


def test_the_figures(session, floor, users, clock):
    board = Wallboard().build(session, clock.now())
    tm = board["agents"][users["tm"].id]
    assert tm["state"] == "on_call"
    assert tm["since"] == clock.now() - 3 * M
    assert tm["call"]["number"] == "+8613812348000"
    assert tm["call"]["direction"] == "manual"
    assert tm["call"]["answered_at"] == clock.now() - 3 * M
    assert (tm["today_calls"], tm["today_talk"]) == (2, 90)
    tm2 = board["agents"][users["tm2"].id]
    assert (tm2["state"], tm2["reason"], tm2["call"]) == ("paused", "break", None)
    assert (tm2["today_calls"], tm2["today_talk"]) == (2, 120)
    sales = board["queues"]["sales"]
    assert (sales["waiting"], sales["oldest"]) == (1, clock.now() - 45 * S)
    assert (sales["answered"], sales["within"], sales["abandoned"]) == (2, 1, 1)
    assert sales["service_level"] == 50.0
    campaign = board["campaigns"][floor["mine"].id]
    assert campaign["dial_rate"] == 0.6
    assert campaign["abandon_rate"] == 25.0 and campaign["abandon_cap_pct"] == 3.0
    assert campaign["ready"] == 0


def test_a_manager_sees_his_team_an_admin_everything(session, floor, users, clock):
    board = Wallboard().build(session, clock.now())
    mgr = view(board, users["mgr"])
    assert set(mgr["agents"]) == {str(users["tm"].id)}
    assert set(mgr["campaigns"]) == {str(floor["mine"].id)}
    assert set(mgr["queues"]) == {"sales"}
    everything = view(board, users["admin"])
    assert set(everything["agents"]) == {str(users["tm"].id), str(users["tm2"].id)}
    assert set(everything["campaigns"]) == {str(floor["mine"].id), str(floor["other"].id)}
    with pytest.raises(NotFound):
        view(board, users["tm"])


def test_numbers_masked_for_a_masking_role(session, floor, users, clock):
    board = Wallboard().build(session, clock.now())
    users["mgr"].role.mask_numbers = True
    call = view(board, users["mgr"])["agents"][str(users["tm"].id)]["call"]
    assert call["number"] == "+86 138****8000"
    assert board["agents"][users["tm"].id]["call"]["number"] == "+8613812348000"


def test_diff_sends_what_changed(session, floor, users, clock):
    wallboard = Wallboard()
    first = view(wallboard.build(session, clock.now()), users["admin"])
    clock.advance(seconds=5)
    same = view(wallboard.build(session, clock.now()), users["admin"])
    assert diff(first, same) is None
    open_manual_call(session, "8002", "+8613700000000", start=clock.now(), answered=False)
    later = view(wallboard.build(session, clock.now()), users["admin"])
    change = diff(same, later)
    assert set(change) == {"agents", "now"}
    assert list(change["agents"]["changed"]) == [str(users["tm2"].id)]
    assert change["agents"]["changed"][str(users["tm2"].id)]["state"] == "ringing"


def test_an_alert_fires_once_for_its_managers_team(session, floor, users, clock):
    mgr, admin = users["mgr"], users["admin"]
    add_alert(session, mgr, "long_call", "2", now=clock.now())
    add_alert(session, mgr, "long_pause", "5", now=clock.now())     # tm2 is not his
    add_alert(session, admin, "long_pause", "5", now=clock.now())
    add_alert(session, mgr, "queue_wait", "30", now=clock.now())
    add_alert(session, mgr, "abandon_near_cap", "1", now=clock.now())
    session.commit()
    wallboard = Wallboard()
    board = wallboard.build(session, clock.now())
    fired = wallboard.fire_alerts(session, board, clock.now())
    session.commit()
    got = sorted((e.user_id, e.payload["kind"], e.payload["subject"]) for e in fired)
    assert got == sorted([(mgr.id, "long_call", "李红光"), (admin.id, "long_pause", "张军"),
                          (mgr.id, "queue_wait", "sales"),
                          (mgr.id, "abandon_near_cap", "经理的活动")])
    mine = view(board, mgr)
    assert mine["agents"][str(users["tm"].id)]["alert"] == "long_call"
    assert mine["queues"]["sales"]["alert"] == "queue_wait"
    assert mine["campaigns"][str(floor["mine"].id)]["alert"] == "abandon_near_cap"
    assert view(board, admin)["agents"][str(users["tm2"].id)]["alert"] == "long_pause"
    # Still over the thresholds a tick later, and in another web process: no second pop.
    clock.advance(seconds=1)
    for again in (wallboard, Wallboard()):
        board = again.build(session, clock.now())
        assert again.fire_alerts(session, board, clock.now()) == []
        session.commit()
    assert len(session.scalars(select(Event).where(Event.kind == "alert")).all()) == 4
    assert len(session.scalars(select(WallboardAlertFiring)).all()) == 4
    # A new occurrence (another long call) pops again.
    open_manual_call(session, "8001", "+8613812340001", start=clock.now() - 4 * M)
    board = wallboard.build(session, clock.now())
    assert [e.payload["kind"] for e in wallboard.fire_alerts(session, board, clock.now())] \
        == ["long_call"]


def test_alert_thresholds_are_checked(session, users, clock):
    with pytest.raises(InvalidValue):
        add_alert(session, users["mgr"], "long_call", "abc", now=clock.now())
    with pytest.raises(InvalidValue):
        add_alert(session, users["mgr"], "nap", "3", now=clock.now())
    with pytest.raises(InvalidValue):
        add_alert(session, users["mgr"], "queue_wait", "0", now=clock.now())
    with pytest.raises(NotFound):
        add_alert(session, users["tm"], "long_call", "3", now=clock.now())


def _agents(session, clock, campaign, n):
    now = clock.now()
    for i in range(n):
        user = create_user(session, f"agent{campaign.id}-{i}", f"坐席{i}", "pw-agent-1",
                           "telemarketer", extension=f"7{campaign.id}{i:03d}", clock=clock)
        session.add(AgentState(user_id=user.id, campaign_id=campaign.id,
                               state=("ready", "paused", "on_call")[i % 3],
                               reason="break" if i % 3 == 1 else None, since=now - i * S))
        session.flush()
        from models.schema import CampaignAgent
        session.add(CampaignAgent(campaign_id=campaign.id, user_id=user.id))
    session.commit()
    for i in range(0, n, 3):
        open_manual_call(session, f"7{campaign.id}{i:03d}", f"+861390000{i:04d}",
                         start=now - 2 * M)
        answered_call(session, clock, f"+861380000{i:04d}", f"7{campaign.id}{i:03d}",
                      start=now - 30 * M)


def _statements(engine, action):
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)
    event.listen(engine, "before_cursor_execute", count)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_queries_do_not_grow_with_the_agents(session, engine, users, clock):
    add_alert(session, users["mgr"], "long_call", "30", now=clock.now())
    add_alert(session, users["admin"], "queue_wait", "30", now=clock.now())
    session.commit()
    counts = []
    for n in (5, 50):
        campaign = make_campaign(session, clock, [], name=f"规模{n}")
        _agents(session, clock, campaign, n)
        session.expire_all()

        def build():
            board = Wallboard().build(session, clock.now())
            assert sum(a["call"] is not None for a in board["agents"].values()) >= n // 3
            Wallboard().fire_alerts(session, board, clock.now())
            session.rollback()
        counts.append(_statements(engine, build))
    assert counts[0] == counts[1] and counts[0] <= 18, counts


def test_a_queue_call_ringing_an_agent_shows_on_the_agent(session, floor, users, clock):
    """Before the answer the call has no agent; the ringing phone's leg names him."""
    from models.telephony import calls
    from models.telephony.calls import Chan
    caller = Chan("PJSIP/carrier-0000ab01", "3100.1", "3100.1", 4, "+8613900000009", None,
                  "dialfunnel-inbound", "4008001234")
    phone = Chan("PJSIP/8002-0000ab02", "3100.2", "3100.1", 0, "8002", None,
                 "dialfunnel-agents", "s")
    calls.channel_seen(session, caller, clock.now() - 10 * S)
    calls.queue_joined(session, caller, "sales", clock.now() - 10 * S)
    calls.dial_begin(session, caller, phone, clock.now() - 2 * S)
    session.commit()
    board = Wallboard().build(session, clock.now())
    tm2 = board["agents"][users["tm2"].id]
    assert tm2["state"] == "ringing" and tm2["call"]["number"] == "+8613900000009"
    assert tm2["call"]["direction"] == "inbound" and tm2["call"]["answered_at"] is None
    assert board["queues"]["sales"]["waiting"] == 2


def test_the_service_level_follows_the_company_setting(session, floor, users, clock):
    from models.dialer.wallboard import set_service_level_seconds
    from models.errors import PermissionDenied
    with pytest.raises(PermissionDenied):
        set_service_level_seconds(session, users["mgr"], "30")
    set_service_level_seconds(session, users["admin"], "30")
    sales = Wallboard().build(session, clock.now())["queues"]["sales"]
    assert (sales["threshold"], sales["within"], sales["service_level"]) == (30, 2, 100.0)


def test_manager_team_is_the_part_the_wallboard_shows(session, floor, users, clock):
    from models.org.teams import manager_team
    board = Wallboard().build(session, clock.now())
    assert manager_team(session, users["mgr"]) == {int(k) for k in view(board, users["mgr"])["agents"]}
    assert manager_team(session, users["admin"]) is None
