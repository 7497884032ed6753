"""The call log in pages: the customer page's and the tracking screen's 通话记录 section with its
recordings playable inline within the roles' permission, and the unanswered calls page; a
colleague who may not open the customer sees neither its calls nor the caller's number."""
import re

import pytest

from tests.call_helpers import abandoned_call, answered_call, record
from tests.web_helpers import committing

NUMBER = "13800138000"


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


@pytest.fixture
def called(session, users, clock, make_customer):
    """tm's personal customer with an answered, recorded call and an abandoned one."""
    users["tm"].extension = "8001"
    customer = make_customer("通话测试有限公司", owner="tm", mobile=NUMBER)
    linkedid = answered_call(session, clock, NUMBER, "8001", talk=75)
    abandoned_call(session, clock, NUMBER)
    rec = record(session, clock, linkedid, users["tm"])
    return customer, rec


def calls_section(page: str) -> str:
    found = re.search(r'<section[^>]*id="calls".*?</section>', page, re.S)
    return found.group(0) if found else ""


@pytest.mark.parametrize("path", ["/customers/{id}", "/customers/{id}/track"])
def test_the_owner_sees_the_calls_and_plays_the_recording(as_user, called, path):
    customer, rec = called
    page = as_user("tm").get(path.format(id=customer.id)).get_data(as_text=True)
    section = calls_section(page)
    assert "通话记录" in section and "李红光" in section and "1:15" in section
    assert section.count("<tr data-call=") == 2
    assert f'<audio class="d-block" controls preload="none" data-recording="{rec.id}" ' \
           f'src="/recordings/{rec.id}/audio">' in section


def test_a_colleague_sees_no_call_no_recording_and_no_number(as_user, called):
    customer, rec = called
    client = as_user("tm2")
    for path in (f"/customers/{customer.id}", f"/customers/{customer.id}/track"):
        response = client.get(path)
        body = response.get_data(as_text=True)
        assert response.status_code in (403, 404)
        assert NUMBER not in body and f"/recordings/{rec.id}" not in body


def test_a_shared_customers_call_shows_its_recording_only_to_who_may_hear_it(
        as_user, session, called):
    customer, rec = called
    customer.ownership = "shared"
    session.commit()
    colleague = calls_section(as_user("tm2").get(f"/customers/{customer.id}").get_data(as_text=True))
    assert "有录音（无权收听）" in colleague and "<audio" not in colleague
    manager = calls_section(as_user("mgr").get(f"/customers/{customer.id}").get_data(as_text=True))
    assert f'src="/recordings/{rec.id}/audio"' in manager


def test_unanswered_calls_for_callback(as_user, session, clock, called):
    customer, _ = called
    abandoned_call(session, clock, "13900139000")   # no customer has this number
    manager = as_user("mgr").get("/calls/unanswered").get_data(as_text=True)
    assert "未接来电" in manager and "+8613900139000" in manager
    assert f'<a href="/customers/{customer.id}">通话测试有限公司</a>' in manager
    agent = as_user("tm").get("/calls/unanswered").get_data(as_text=True)
    assert "+8613800138000" in agent and "+8613900139000" not in agent
    colleague = as_user("tm2").get("/calls/unanswered").get_data(as_text=True)
    assert "暂无未接来电" in colleague
    assert "13800138000" not in colleague and "通话测试有限公司" not in colleague
