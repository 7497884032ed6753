"""A manager's team: the agents on the campaigns he created or works on, finished ones left out;
the wallboard and listen / whisper / barge both ask models.org.teams."""
from __future__ import annotations

from models.dialer import campaigns as rules
from models.dialer.wallboard import Wallboard, view
from models.org.teams import manager_team
from models.telephony.supervision import may_supervise


def test_a_managers_team_is_the_same_for_the_wallboard_and_supervision(session, users, clock):
    mgr, admin = users["mgr"], users["admin"]
    rules.create_campaign(session, mgr, clock=clock, name="自建活动", agent_ids=[users["tm"].id])
    rules.create_campaign(session, admin, clock=clock, name="参与活动",
                          agent_ids=[mgr.id, users["tm2"].id])
    done = rules.create_campaign(session, mgr, clock=clock, name="已结束活动",
                                 agent_ids=[users["rep"].id])
    done.status = "finished"
    session.commit()
    team = manager_team(session, mgr)
    assert team == {users["tm"].id, users["tm2"].id, mgr.id}
    assert manager_team(session, admin) is None
    assert [may_supervise(session, mgr, users[n].id) for n in ("tm", "tm2", "rep")] == [
        True, True, False]
    board = Wallboard().build(session, clock.now())
    assert {int(k) for k in view(board, mgr)["agents"]} == team
