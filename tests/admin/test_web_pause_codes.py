"""Issue 14 on the web: the admin's pause codes page (admins only, CSRF), the dialer panel's queue
login checkboxes and pause reasons from the table, and the agent time by state on the daily
call report."""
from __future__ import annotations

import pytest

from models.dialer import campaigns as campaign_rules
from models.dialer.agent_states import current, inbound_connected, inbound_ended, set_queues, set_state
from models.dialer.queue_logins import queues_of
from models.schema import PauseCode

from tests.web_helpers import committing, post


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_admin_adds_and_edits_a_pause_code(as_user, session):
    admin = as_user("admin")
    listing = text(admin.get("/manage/pause-codes"))
    assert "用餐" in listing and "整理资料" in listing
    assert "/manage/pause-codes" in text(admin.get("/manage/"))
    bad = post(admin, "/manage/pause-codes/new", {"code": "Bad!", "label_zh": "辅导", "label_en": "Coaching"})
    assert bad.status_code == 400 and "辅导" in text(bad)
    assert session.get(PauseCode, "Bad!") is None
    assert post(admin, "/manage/pause-codes/new", {
        "code": "coaching", "label_zh": "辅导", "label_en": "Coaching", "position": "65",
        "productive": "1", "active": "1"}).status_code == 302
    assert post(admin, "/manage/pause-codes/break", {
        "label_zh": "休息", "label_en": "Break", "position": "10"}).status_code == 302   # inactive now
    session.expire_all()
    assert session.get(PauseCode, "coaching").productive is True
    assert (session.get(PauseCode, "break").label_zh, session.get(PauseCode, "break").active) == (
        "休息", False)
    assert admin.get("/manage/pause-codes/nope").status_code == 404


def test_only_admins_and_only_with_the_token(as_user, session):
    for name in ("tm", "mgr"):
        assert as_user(name).get("/manage/pause-codes").status_code == 403
        assert post(as_user(name), "/manage/pause-codes/new", {
            "code": "sneaky", "label_zh": "x", "label_en": "x"}).status_code == 403
    response = as_user("admin").post("/manage/pause-codes/new", data={
        "code": "nocsrf", "label_zh": "x", "label_en": "x", "active": "1"})
    assert response.status_code == 400 and session.get(PauseCode, "nocsrf") is None


@pytest.fixture
def campaign(session, users, clock):
    c = campaign_rules.create_campaign(session, users["mgr"], clock=clock, name="春季回访",
                                       mode="progressive", agent_ids=[users["tm"].id])
    session.commit()
    return c


def test_the_panel_logs_in_to_queues_and_pauses_with_a_code_of_the_table(as_user, session, users, campaign):
    tm = as_user("tm")
    page = text(tm.get("/dialer"))
    assert 'id="queue-login"' in page and 'value="sales"' in page
    assert post(tm, "/dialer/queues", {"queue": "sales"}).status_code == 302
    session.expire_all()
    assert queues_of(session, users["tm"].id) == ["sales"]
    assert current(session, users["tm"].id).state == "ready"
    page = text(tm.get("/dialer"))
    assert 'id="queue-sales" checked' in page
    assert f'id="join-{campaign.id}"' in page                        # blended: join a campaign too
    assert '<option value="meal">用餐</option>' in page
    post(tm, "/dialer/state", {"state": "ready", "campaign_id": str(campaign.id)})
    session.expire_all()
    assert current(session, users["tm"].id)[:2] == ("ready", campaign.id)
    refused = post(tm, "/dialer/queues", {"queue": "vip"}, follow_redirects=True)
    assert "没有这个呼入队列：vip" in text(refused)
    session.expire_all()
    assert queues_of(session, users["tm"].id) == ["sales"]
    assert post(tm, "/dialer/state", {"state": "paused", "reason": "meal"}).status_code == 302
    session.expire_all()
    assert current(session, users["tm"].id).reason == "meal"
    assert "用餐" in text(tm.get("/dialer/panel"))
    response = tm.post("/dialer/queues", data={})          # no token: refused
    assert response.status_code == 400
    session.expire_all()
    assert queues_of(session, users["tm"].id) == ["sales"]


def test_an_inbound_wrap_up_ends_without_a_disposition(as_user, session, users, clock):
    set_queues(session, users["tm"], ["sales"], allowed=("sales",), clock=clock)
    inbound_connected(session, users["tm"].id, clock=clock)
    inbound_ended(session, users["tm"].id, clock=clock)
    session.commit()
    tm = as_user("tm")
    assert 'id="inbound-wrap-up"' in text(tm.get("/dialer"))
    assert post(tm, "/dialer/state", {"state": "ready"}).status_code == 302
    session.expire_all()
    assert current(session, users["tm"].id).state == "ready"


def test_the_daily_report_shows_time_by_state(as_user, session, users, clock, campaign):
    set_state(session, users["tm"], "ready", campaign_id=campaign.id, clock=clock)
    clock.advance(minutes=20)
    set_state(session, users["tm"], "paused", reason="meal", clock=clock)
    clock.advance(minutes=30)
    set_state(session, users["tm"], "logged_out", clock=clock)
    session.commit()
    page = text(as_user("mgr").get("/review/calls?from=2026-11-26&to=2026-11-26"))
    assert 'id="state-time"' in page and "坐席各状态时长" in page
    assert 'data-reason="meal">用餐 0:30:00' in page
    assert "0:50:00" in page
    mine = text(as_user("tm2").get("/review/calls?from=2026-11-26&to=2026-11-26"))
    assert 'id="state-time-empty"' in mine                           # others' time is not shown
