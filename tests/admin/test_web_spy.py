"""Listen / whisper / barge from the wallboard: the buttons only for the agents the viewer may
supervise, the POST refused without the CSRF token, refused (with the text) for another team's
agent, and a queued spy_sessions row for the manager's own agent."""
from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import func, select

from models.schema.supervision import SpySession

from tests.admin.test_web_wallboard import floor  # noqa: F401
from tests.call_helpers import open_manual_call
from tests.web_helpers import committing, csrf_token


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


@pytest.fixture
def both_on_calls(session, users, clock, floor):  # noqa: F811
    """tm (8001) on the manager's team and tm2 (8002) on the admin's, both talking."""
    users["mgr"].extension = "8009"
    open_manual_call(session, "8002", "+8613812348001", start=clock.now())
    session.commit()
    return users


def spy(client, agent_id, mode, *, token=True):
    headers = {"Accept": "application/json"}
    if token:
        headers["X-CSRFToken"] = csrf_token(client, "/wallboard")
    return client.post(f"/wallboard/spy/{agent_id}/{mode}", json={}, headers=headers)


def rows(session):
    session.commit()
    return session.scalar(select(func.count()).select_from(SpySession))


def spy_ids(page) -> list[int]:
    found = re.search(r'data-spy-ids="([^"]*)"', page.get_data(as_text=True))
    return json.loads(html.unescape(found.group(1)))


def test_the_buttons_are_for_the_viewers_team(as_user, both_on_calls):
    users = both_on_calls
    assert spy_ids(as_user("mgr").get("/wallboard")) == [users["tm"].id]
    assert sorted(spy_ids(as_user("admin").get("/wallboard"))) == sorted(
        [users["tm"].id, users["tm2"].id])


def test_without_the_csrf_token_nothing_is_queued(as_user, session, both_on_calls):
    response = spy(as_user("mgr"), both_on_calls["tm"].id, "listen", token=False)
    assert response.status_code == 400 and rows(session) == 0


def test_another_teams_agent_is_refused_with_the_text(as_user, session, both_on_calls):
    client = as_user("mgr")
    response = spy(client, both_on_calls["tm2"].id, "whisper")
    assert response.status_code == 403
    assert response.get_json() == {"error": "spy.not_your_team", "message": "该坐席不在您的团队中，不能监听"}
    assert spy(client, both_on_calls["tm"].id, "shout").get_json()["error"] == "spy.bad_mode"
    assert spy(as_user("tm"), both_on_calls["tm2"].id, "listen").status_code == 403
    assert rows(session) == 0


def test_the_managers_agent_gets_a_queued_spy(as_user, session, both_on_calls):
    users = both_on_calls
    response = spy(as_user("mgr"), users["tm"].id, "barge")
    assert response.status_code == 202
    body = response.get_json()
    assert (body["agent_id"], body["mode"], body["state"]) == (users["tm"].id, "barge", "queued")
    session.commit()
    row = session.get(SpySession, body["id"])
    assert (row.manager_id, row.manager_extension, row.agent_channel.split("-")[0]) == (
        users["mgr"].id, "8009", "PJSIP/8001")
