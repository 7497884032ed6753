"""Click-to-call in the browser (admin/calls/click_to_call.py): the POST needs the CSRF token,
answers JSON with the request or the refusal's text, never dials a customer the user may not
see; a dial button sits next to every number the user is shown, and never carries the number."""
import re

import pytest
from sqlalchemy import func, select

from models.crm.contacts import add_contact
from models.dialer import dnc
from models.schema.calls import CallRequest
from models.dialer import click_to_call as c2c
from models.telephony.popups import create_pop_event

from tests.call_helpers import abandoned_call
from tests.web_helpers import committing, csrf_token

NUMBER = "13800138000"
BUTTON = re.compile(r'<button type="button" class="[^"]*dial-button" data-dial-customer="(\d*)" '
                    r'data-dial-target="([^"]+)"')


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


@pytest.fixture
def mine(session, users, clock, make_customer):
    users["tm"].extension = "8001"
    customer = make_customer("拨号测试有限公司", owner="tm", mobile=NUMBER, phone="021-62345678")
    contact = add_contact(session, users["tm"], customer.id, {"name": "王经理", "mobile": "13900000001"},
                          clock=clock)
    session.commit()
    return customer, contact


def dial(client, customer_id, target, token=True):
    data = {"customer_id": str(customer_id or ""), "target": target}
    if token:
        data["csrf_token"] = csrf_token(client, "/")
    return client.post("/calls/dial", data=data, headers={"Accept": "application/json"})


def requests(session):
    session.commit()
    return session.scalar(select(func.count()).select_from(CallRequest))


def test_without_the_csrf_token_nothing_is_queued(as_user, session, mine):
    customer, _ = mine
    response = dial(as_user("tm"), customer.id, "mobile", token=False)
    assert response.status_code == 400
    assert requests(session) == 0


def test_a_click_queues_the_call_and_its_state_can_be_followed(as_user, session, mine, users, clock):
    customer, contact = mine
    client = as_user("tm")
    response = dial(client, customer.id, f"contact:{contact.id}:mobile")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["state"], body["label"]) == ("queued", "正在发起呼叫…")
    assert NUMBER not in response.get_data(as_text=True) and "13900000001" not in response.get_data(as_text=True)
    request = session.get(CallRequest, body["id"])
    assert (request.number, request.user_id) == ("+8613900000001", users["tm"].id)
    c2c.claim_requests(session, "d", clock=clock)
    c2c.advance(session, request.channel_id, "talking", clock=clock)
    session.commit()
    status = client.get(f"/calls/dial/{body['id']}").get_json()
    assert (status["state"], status["label"], status["wrap_up_url"]) == ("talking", "通话中", None)
    hung = client.post(f"/calls/dial/{body['id']}/hangup", data={"csrf_token": csrf_token(client, "/")},
                       headers={"Accept": "application/json"})
    assert hung.status_code == 200
    session.expire_all()
    assert c2c.hangups_wanted(session, "d") == [request.channel_id]
    assert as_user("tm2").get(f"/calls/dial/{body['id']}").status_code == 404


def test_a_customer_the_user_may_not_see_is_refused(as_user, session, users, make_customer):
    users["tm2"].extension = "8002"
    theirs = make_customer("别人的客户", owner="tm", mobile=NUMBER)
    response = dial(as_user("tm2"), theirs.id, "mobile")
    assert response.status_code == 403
    assert response.get_json()["message"] == "这不是您的客户"
    assert requests(session) == 0


def test_a_do_not_call_number_is_refused_with_its_text(as_user, session, mine, users, clock):
    customer, _ = mine
    dnc.add_number(session, users["admin"], NUMBER, clock=clock)
    response = dial(as_user("tm"), customer.id, "mobile")
    assert response.status_code == 400
    assert response.get_json()["message"] == "该号码在禁呼名单中，不能拨打"
    assert requests(session) == 0


def buttons(page):
    return set(BUTTON.findall(page))


def test_buttons_sit_next_to_every_number_shown(as_user, session, mine, users, clock):
    customer, contact = mine
    cid = str(customer.id)
    client = as_user("tm")
    detail = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert {(cid, "phone"), (cid, "mobile"), (cid, f"contact:{contact.id}:mobile")} <= buttons(detail)
    track = client.get(f"/customers/{customer.id}/track").get_data(as_text=True)
    assert {(cid, "phone"), (cid, "mobile"), (cid, f"contact:{contact.id}:mobile")} <= buttons(track)
    found = client.get("/search?q=拨号测试").get_data(as_text=True)
    assert {(cid, "phone"), (cid, "mobile")} <= buttons(found)
    listed = client.get(f"/customers/{customer.stage}").get_data(as_text=True)
    assert (cid, "phone") in buttons(listed)
    pop = create_pop_event(session, users["tm"], NUMBER, clock=clock)
    session.commit()
    panel = client.get(f"/pops/{pop.id}").get_data(as_text=True)
    assert {(cid, "phone"), (cid, "mobile"), (cid, f"contact:{contact.id}:mobile")} <= buttons(panel)
    for page in (detail, track, found, listed, panel):
        assert all(not re.search(r"\d{7}", target) for _, target in buttons(page))
    assert "click_to_call.js" in detail


def test_the_unanswered_page_calls_back_in_one_click(as_user, session, mine, users, clock):
    abandoned_call(session, clock, NUMBER)
    session.commit()
    page = as_user("tm").get("/calls/unanswered").get_data(as_text=True)
    [(customer_id, target)] = buttons(page)
    assert customer_id == str(mine[0].id) and target.startswith("call:")
    assert "一键回拨" in page
    response = dial(as_user("tm"), customer_id, target)
    assert response.status_code == 200
    assert session.get(CallRequest, response.get_json()["id"]).number == "+8613800138000"


def test_an_admin_sets_the_hours_manual_calls_are_allowed_in(as_user, session, mine, clock):
    customer, _ = mine
    admin = as_user("admin")
    assert 'href="/calls/settings"' in admin.get("/manage/settings").get_data(as_text=True)
    assert as_user("tm").get("/calls/settings").status_code == 403
    token = csrf_token(admin, "/calls/settings")
    bad = admin.post("/calls/settings", data={"csrf_token": token, "only": "1", "start": "18:00",
                                              "end": "09:00"})
    assert bad.status_code == 400 and "开始时间必须早于结束时间" in bad.get_data(as_text=True)
    saved = admin.post("/calls/settings", data={"csrf_token": token, "only": "1", "start": "09:00",
                                                "end": "18:00"})
    assert saved.status_code == 302
    clock.set(clock.now().replace(hour=12))          # 20:00 in Shanghai
    response = dial(as_user("tm"), customer.id, "mobile")
    assert response.status_code == 400
    assert response.get_json()["message"] == "公司规定现在不允许手动外呼"
    assert requests(session) == 0
