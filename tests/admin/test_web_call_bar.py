"""The agent's call bar in the web: on every page of the workspace, its state as JSON, the
controls queued with the CSRF token and refused as JSON, the number masked for a masking role."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from models.schema.call_commands import CallCommand
from models.telephony import calls
from models.telephony.calls import Chan

from tests.admin.test_route_matrix import secret, urls  # noqa: F401  (the walk uses real ids)
from tests.web_helpers import committing, csrf_token

CUSTOMER_NUMBER = "13812348000"


def live_call(session, clock, extension="8001"):
    """The phone ``extension`` called the customer, who answered 3 s later."""
    agent = Chan(f"PJSIP/{extension}-00000001", "2100.1", "2100.1", 4, extension, None,
                 "dialfunnel-agents", CUSTOMER_NUMBER)
    trunk = Chan("PJSIP/dialfunnel-trunk-00000002", "2100.2", "2100.1", 0, CUSTOMER_NUMBER, None,
                 "dialfunnel-trunk-out", "s")
    t0 = clock.now() - dt.timedelta(seconds=65)
    calls.channel_seen(session, agent, t0)
    calls.dial_begin(session, agent, trunk, t0 + dt.timedelta(seconds=1), from_agent_context=True)
    calls.dial_end(session, agent, trunk, "ANSWER", t0 + dt.timedelta(seconds=5))
    session.commit()


@pytest.fixture
def on_call(session, users, clock, make_customer):
    users["tm"].extension = "8001"
    users["tm2"].extension = "8002"
    customer = make_customer("上海浦东物流有限公司", owner="tm", mobile=CUSTOMER_NUMBER)
    live_call(session, clock)
    return customer


def send(client, action, body=None, *, token=True):
    headers = {"Accept": "application/json"}
    if token:
        headers["X-CSRFToken"] = csrf_token(client, "/")
    return client.post(f"/call-bar/{action}", json=body or {}, headers=headers)


def queued(session):
    session.commit()
    return session.scalar(select(func.count()).select_from(CallCommand))


def test_the_bar_shows_the_call_and_its_controls(as_user, session, users, on_call):
    client = committing(as_user, session)("tm")
    state = client.get("/call-bar", headers={"Accept": "application/json"}).get_json()
    call = state["call"]
    assert (call["number"], call["direction"], call["customer"]["name"]) == (
        "+8613812348000", "manual", "上海浦东物流有限公司")
    assert call["seconds"] == 60 and not call["held"]
    assert set(state["actions"]) == {"hangup", "hold", "mute", "blind_transfer", "attended_transfer",
                                     "conference"}
    page = client.get("/").get_data(as_text=True)
    assert 'id="call-bar"' in page and "+8613812348000" in page and "上海浦东物流有限公司" in page
    assert '<button type="button" class="btn btn-outline-secondary" data-action="resume" disabled>' in page
    assert "快捷键" in page and "<kbd>Alt</kbd>+<kbd>H</kbd>" in page


def test_controls_need_the_csrf_token(as_user, session, users, on_call):
    client = committing(as_user, session)("tm")
    assert send(client, "hold", token=False).status_code == 400
    assert queued(session) == 0
    response = send(client, "hold")
    assert response.status_code == 202 and response.get_json()["state"] == "queued"
    assert queued(session) == 1


def test_refusals_come_back_as_json_and_queue_nothing(as_user, session, users, on_call):
    client = committing(as_user, session)("tm")
    response = send(client, "resume")
    assert response.status_code == 400
    assert response.get_json() == {"error": "call_bar.not_held", "message": "通话没有保持"}
    response = send(client, "blind_transfer", {"kind": "extension", "target": "8999"})
    assert response.get_json()["message"] == "分机不存在：8999"
    assert send(client, "explode").get_json()["error"] == "call_bar.unknown_action"
    assert queued(session) == 0
    other = committing(as_user, session)("tm2")
    assert send(other, "hangup").get_json()["error"] == "call_bar.no_call"
    assert queued(session) == 0


def test_a_transfer_is_queued_with_its_target(as_user, session, users, on_call):
    client = committing(as_user, session)("tm")
    targets = client.get("/call-bar/targets").get_json()
    assert targets["colleagues"] == [{"id": users["tm2"].id, "name": "张军", "extension": "8002"}]
    response = send(client, "attended_transfer", {"kind": "user", "target": "张军"})
    assert response.status_code == 202 and response.get_json()["target"] == "张军 (8002)"
    state = client.get("/call-bar").get_json()
    assert state["call"]["pending"] == "attended_transfer" and state["actions"] == []


def test_a_masking_role_sees_the_masked_number(as_user, session, users, on_call):
    users["tm"].role.mask_numbers = True
    client = committing(as_user, session)("tm")
    assert client.get("/call-bar").get_json()["call"]["number"] == "+86 138****8000"
    page = client.get("/").get_data(as_text=True)
    assert "+86 138****8000" in page and "13812348000" not in page


def test_the_bar_is_on_every_page_of_the_workspace(app, secret, as_user, session, users):  # noqa: F811
    routes = [(endpoint, url) for endpoint, methods, url in urls(app, secret)
              if "GET" in methods and endpoint not in ("events.stream", "auth.logout")]
    pages = 0
    for name in ("tm", "admin"):
        pages += _walk(as_user(name), routes)
    assert pages > 50


def _walk(client, routes) -> int:
    pages = 0
    for endpoint, url in routes:
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        text = response.get_data(as_text=True)
        if "<html" in text:
            pages += 1
            assert 'id="call-bar"' in text, url
            assert "call_bar.js" in text, url
    return pages


def test_a_three_way_call_lists_its_parties_and_drops_one_by_its_leg(as_user, session, users,
                                                                     on_call, clock):
    """Once the call is in its room the bar lists who is on it, by name or part (never the
    channel), and drops a party by its leg; the conference is queued with the CSRF token."""
    from models.telephony.call_commands import claim_commands, finish_command

    client = committing(as_user, session)("tm")
    assert send(client, "conference", {"kind": "extension", "target": "8002"},
                token=False).status_code == 400
    assert send(client, "drop_party", {"leg": 1}).get_json()["error"] == "call_bar.not_in_conference"
    response = send(client, "conference", {"kind": "extension", "target": "8002"})
    assert response.status_code == 202 and response.get_json()["target"] == "张军 (8002)"
    [command] = claim_commands(session, "test")
    finish_command(session, command, clock=clock)
    session.commit()
    state = client.get("/call-bar").get_json()
    assert state["call"]["in_room"] and "drop_party" in state["actions"]
    parties = state["call"]["parties"]
    assert [(p["label"], p["me"]) for p in parties] == [("我自己", True), ("客户", False)]
    assert "channel" not in parties[1]
    page = client.get("/").get_data(as_text=True)
    assert 'data-action="drop_party"' in page and "三方通话" in page
    dropped = send(client, "drop_party", {"leg": parties[1]["leg"]})
    assert dropped.status_code == 202
    session.commit()
    assert session.get(CallCommand, dropped.get_json()["command_id"]).args["channel"] == (
        "PJSIP/dialfunnel-trunk-00000002")
