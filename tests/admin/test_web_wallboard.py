"""The wallboard page: managers and admins only, a manager sees his team, numbers masked for a
masking role, the alerts form (CSRF), and an alert that pops once on the manager's stream."""
from __future__ import annotations

import datetime as dt
import html
import json
import re
import threading

import pytest
from sqlalchemy import select

from models.dialer import campaigns as rules
from models.schema import Event
from models.schema.wallboard import WallboardAlert

from tests.call_helpers import open_manual_call
from tests.web_helpers import committing, post

M = dt.timedelta(minutes=1)


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


@pytest.fixture
def floor(session, users, clock):
    """The manager's campaign has tm (8001, on a call since 3 minutes); the admin's tm2 (8002)."""
    users["tm"].extension, users["tm2"].extension = "8001", "8002"
    mine = rules.create_campaign(session, users["mgr"], clock=clock, name="经理的活动",
                                 mode="progressive", agent_ids=[users["tm"].id])
    rules.create_campaign(session, users["admin"], clock=clock, name="管理员的活动",
                          mode="progressive", agent_ids=[users["tm2"].id])
    session.commit()
    open_manual_call(session, "8001", "+8613812348000", start=clock.now() - 3 * M - 5 * dt.timedelta(seconds=1))
    return mine


def initial(response) -> dict:
    found = re.search(r'data-initial="([^"]*)"', response.get_data(as_text=True))
    return json.loads(html.unescape(found.group(1)))


def events(response) -> list[tuple[str, dict]]:
    out, kind = [], None
    for line in response.get_data(as_text=True).splitlines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            out.append((kind, json.loads(line[6:])))
    return out


def test_only_managers_and_admins_open_it(as_user, floor):
    for name in ("tm", "rep"):
        client = as_user(name)
        assert client.get("/wallboard").status_code == 403
        assert client.get("/wallboard/stream").status_code == 403
        assert post(client, "/wallboard/alerts", dict(kind="long_call", threshold="3")).status_code == 403
        assert "/wallboard" not in client.get("/").get_data(as_text=True)
    for name in ("mgr", "admin"):
        client = as_user(name)
        assert client.get("/wallboard").status_code == 200
        assert 'href="/wallboard"' in client.get("/").get_data(as_text=True)


def test_a_manager_sees_his_team(as_user, users, floor):
    mine = initial(as_user("mgr").get("/wallboard"))
    assert [a["name"] for a in mine["agents"].values()] == ["李红光"]
    call = mine["agents"][str(users["tm"].id)]["call"]
    assert call["number"] == "+8613812348000" and call["direction"] == "manual"
    assert [c["name"] for c in mine["campaigns"].values()] == []   # a draft: not running
    everything = initial(as_user("admin").get("/wallboard"))
    assert sorted(a["name"] for a in everything["agents"].values()) == ["张军", "李红光"]


def test_the_stream_sends_the_viewers_part(app, as_user, users, floor):
    app.config.update(WALLBOARD_TICK_SECONDS=0.1, SSE_MAX_SECONDS=0.5)
    got = events(as_user("mgr").get("/wallboard/stream"))
    assert got[0][0] == "board"
    assert list(got[0][1]["agents"]) == [str(users["tm"].id)]


def test_numbers_are_masked_for_a_masking_role(app, as_user, session, users, floor):
    users["mgr"].role.mask_numbers = True
    session.commit()
    client = as_user("mgr")
    page = client.get("/wallboard")
    assert "13812348000" not in page.get_data(as_text=True)
    assert initial(page)["agents"][str(users["tm"].id)]["call"]["number"] == "+86 138****8000"
    app.config.update(WALLBOARD_TICK_SECONDS=0.1, SSE_MAX_SECONDS=0.5)
    stream = client.get("/wallboard/stream").get_data(as_text=True)
    assert "138****8000" in stream and "13812348000" not in stream


def test_the_alerts_form(app, as_user, session, users):
    client = as_user("mgr")
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/wallboard/alerts", data=dict(kind="long_call", threshold="5")).status_code == 400
    assert post(client, "/wallboard/alerts", dict(kind="long_call", threshold="abc")).status_code == 302
    assert post(client, "/wallboard/alerts", dict(kind="nap", threshold="5")).status_code == 302
    assert session.scalars(select(WallboardAlert)).all() == []
    assert post(client, "/wallboard/alerts", dict(kind="queue_wait", threshold="45")).status_code == 302
    alert = session.scalars(select(WallboardAlert)).one()
    assert (alert.manager_id, alert.kind, alert.threshold, alert.active) == \
        (users["mgr"].id, "queue_wait", 45.0, True)
    page = client.get("/wallboard").get_data(as_text=True)
    assert f"/wallboard/alerts/{alert.id}/delete" in page
    # Another manager cannot switch it off or delete it.
    admin = as_user("admin")
    post(admin, f"/wallboard/alerts/{alert.id}/active", dict(active="0"))
    post(admin, f"/wallboard/alerts/{alert.id}/delete")
    session.refresh(alert)
    assert alert.active is True
    assert post(client, f"/wallboard/alerts/{alert.id}/active", dict(active="0")).status_code == 302
    session.refresh(alert)
    assert alert.active is False
    assert post(client, f"/wallboard/alerts/{alert.id}/delete").status_code == 302
    assert session.scalars(select(WallboardAlert)).all() == []


def test_an_alert_pops_once_on_the_managers_stream(app, as_user, session, users, floor):
    mgr = as_user("mgr")
    assert post(mgr, "/wallboard/alerts", dict(kind="long_call", threshold="2")).status_code == 302
    app.config.update(WALLBOARD_TICK_SECONDS=0.05, SSE_MAX_SECONDS=0.6)
    # Two wallboards open at once, for a while: the board is built many times.
    readers = [threading.Thread(target=lambda c: c.get("/wallboard/stream").get_data(),
                                args=(as_user(name),)) for name in ("mgr", "admin")]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    session.commit()
    alerts = session.scalars(select(Event).where(Event.kind == "alert")).all()
    assert [(e.user_id, e.payload["kind"], e.payload["subject"]) for e in alerts] == \
        [(users["mgr"].id, "long_call", "李红光")]
    app.config.update(SSE_MAX_SECONDS=0.5)
    popped = [data for kind, data in events(mgr.get("/events/stream?after=0")) if kind == "alert"]
    assert len(popped) == 1 and popped[0]["seconds"] >= 180
    assert not [k for k, _d in events(as_user("admin").get("/events/stream?after=0")) if k == "alert"]


def test_an_alert_pops_on_any_page_of_the_manager(app, as_user, session, users, floor):
    """No wallboard open anywhere: the manager's own event stream keeps the alerts evaluated."""
    mgr = as_user("mgr")
    assert post(mgr, "/wallboard/alerts", dict(kind="long_call", threshold="2")).status_code == 302
    app.config.update(WALLBOARD_TICK_SECONDS=0.05, SSE_MAX_SECONDS=1.0)
    popped = [data for kind, data in events(mgr.get("/events/stream")) if kind == "alert"]
    assert [(d["kind"], d["subject"]) for d in popped] == [("long_call", "李红光")]
    # Once the stream is gone the builder stops.
    hub = app.extensions["dialfunnel.wallboard"]
    if hub._thread is not None:
        hub._thread.join(timeout=2)
    assert hub._thread is None


def test_an_admin_sets_the_service_level_threshold(app, as_user, session, users):
    from models.dialer.wallboard import service_level_seconds
    assert service_level_seconds(session) == 20
    mgr, admin = as_user("mgr"), as_user("admin")
    assert 'id="service-level-form"' not in mgr.get("/wallboard").get_data(as_text=True)
    assert post(mgr, "/wallboard/service-level", dict(seconds="30")).status_code == 403
    assert 'value="20"' in admin.get("/wallboard").get_data(as_text=True)
    post(admin, "/wallboard/service-level", dict(seconds="0"))
    post(admin, "/wallboard/service-level", dict(seconds="半分钟"))
    assert service_level_seconds(session) == 20
    assert post(admin, "/wallboard/service-level", dict(seconds="30")).status_code == 302
    session.commit()
    assert service_level_seconds(session) == 30
