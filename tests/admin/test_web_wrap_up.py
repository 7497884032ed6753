"""The wrap-up in the browser (issue 13): the pending list with its badge in the top bar, the form
at /calls/<id>/wrap-up (dispositions from the table, callback only where required, refusals
that keep what was typed, CSRF), the stage suggestion as one click, and the admin's
dispositions page."""
import datetime as dt
import re

import pytest
from sqlalchemy import select

from models.schema import ContactRecord, Customer, Disposition
from models.schema.calls import Call
from models.telephony import dispositions as rules

from tests.call_helpers import answered_call
from tests.web_helpers import committing, post

NUMBER = "13800138000"


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


@pytest.fixture
def answered(session, users, clock, make_customer):
    """tm's customer and an inbound call tm answered from it (not wrapped up yet)."""
    users["tm"].extension = "8001"
    customer = make_customer("话后测试有限公司", owner="tm", mobile=NUMBER)
    linkedid = answered_call(session, clock, NUMBER, "8001", talk=75)
    call = session.scalar(select(Call).where(Call.linkedid == linkedid))
    return customer, call


def badge(page: str) -> str:
    found = re.search(r'id="nav-wrap-ups"[^>]*>(.*?)</a>', page, re.S)
    return found.group(1) if found else ""


def test_the_pending_call_is_listed_with_a_badge_and_wrapped_up(as_user, session, answered):
    customer, call = answered
    tm = as_user("tm")
    home = tm.get("/").get_data(as_text=True)
    assert "待处理话后" in badge(home) and ">1</span>" in badge(home)
    listing = tm.get("/calls/wrap-ups").get_data(as_text=True)
    assert f'href="/calls/{call.id}/wrap-up"' in listing and "话后测试有限公司" in listing
    form = tm.get(f"/calls/{call.id}/wrap-up").get_data(as_text=True)
    for code in ("interested", "callback", "do_not_call", "dead_number"):
        assert f'value="{code}"' in form
    assert 'name="csrf_token"' in form and "有意向" in form
    response = post(tm, f"/calls/{call.id}/wrap-up", {
        "disposition": "callback", "note": "下周二再联系", "callback_date": "2026-12-01",
        "callback_time": "10:00"})
    assert response.status_code == 302 and response.location.endswith(f"/customers/{customer.id}")
    page = tm.get(response.location).get_data(as_text=True)
    assert "下周二再联系" in page and "稍后回访" in page
    session.expire_all()
    assert session.get(Call, call.id).disposition == "callback"
    assert session.get(Customer, customer.id).next_callback_at == dt.datetime(
        2026, 12, 1, 2, 0, tzinfo=dt.timezone.utc)
    assert ">1</span>" not in badge(page)
    again = tm.get(f"/calls/{call.id}/wrap-up")
    assert again.status_code == 302 and again.location.endswith("/calls/wrap-ups")


def test_a_refused_form_keeps_the_note_and_writes_nothing(as_user, session, answered):
    customer, call = answered
    tm = as_user("tm")
    response = post(tm, f"/calls/{call.id}/wrap-up", {"disposition": "callback",
                                                      "note": "客户说月底再打"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "选择“稍后回访”时请填写回访日期和时间" in body and "客户说月底再打" in body
    assert re.search(r'value="callback"[^>]*checked', body)      # the choice is kept too
    rules.set_active(session, "other", False)
    session.commit()
    response = post(tm, f"/calls/{call.id}/wrap-up", {"disposition": "other", "note": "x"})
    assert response.status_code == 400 and "已停用" in response.get_data(as_text=True)
    assert 'value="other"' not in tm.get(f"/calls/{call.id}/wrap-up").get_data(as_text=True)
    session.expire_all()
    assert session.get(Call, call.id).disposition is None
    assert session.scalar(select(ContactRecord.id)) is None


def test_a_colleague_may_not_wrap_up_the_call_and_the_form_needs_csrf(as_user, session,
                                                                     answered):
    _, call = answered
    tm2 = as_user("tm2")
    assert tm2.get(f"/calls/{call.id}/wrap-up").status_code == 403
    refused = post(tm2, f"/calls/{call.id}/wrap-up", {"disposition": "interested"})
    assert refused.status_code == 302      # a refused POST is flashed on the page it came from
    assert "这不是您接听的通话" in tm2.get("/calls/wrap-ups").get_data(as_text=True)
    assert as_user("tm").post(f"/calls/{call.id}/wrap-up",
                              data={"disposition": "interested"}).status_code == 400
    session.expire_all()
    assert session.get(Call, call.id).disposition is None


def test_a_suggested_stage_is_one_click_away(as_user, session, answered):
    customer, call = answered
    rules.create_disposition(session, dict(code="keen", label_zh="很感兴趣", label_en="Keen",
                                           active="1", stage_action="suggest",
                                           stage_target="potential"))
    session.commit()
    tm = as_user("tm")
    response = post(tm, f"/calls/{call.id}/wrap-up", {"disposition": "keen", "note": ""})
    assert response.status_code == 302 and "/calls/suggestion/" in response.location
    page = tm.get(response.location).get_data(as_text=True)
    assert 'id="suggestion-accept"' in page and 'value="potential"' in page
    assert session.get(Customer, customer.id).stage == "target"
    done = post(tm, f"/customers/{customer.id}/do/promote",
                {"to_stage": "potential", "next": f"/customers/{customer.id}"})
    assert done.status_code == 302
    session.expire_all()
    assert session.get(Customer, customer.id).stage == "potential"


def test_the_admin_adds_edits_and_deactivates_a_disposition(as_user, session):
    admin = as_user("admin")
    listing = admin.get("/manage/dispositions").get_data(as_text=True)
    assert "要求不再来电" in listing and "空号/错号" in listing
    bad = post(admin, "/manage/dispositions/new", {"code": "Bad!", "label_zh": "已发报价",
                                                   "label_en": "Quote sent"})
    assert bad.status_code == 400 and "已发报价" in bad.get_data(as_text=True)
    assert post(admin, "/manage/dispositions/new", {
        "code": "quote_sent", "label_zh": "已发报价", "label_en": "Quote sent", "position": "15",
        "counts_as_success": "1", "active": "1", "stage_action": "make",
        "stage_target": "potential"}).status_code == 302
    post(admin, "/manage/dispositions/quote_sent", {
        "label_zh": "报价已发", "label_en": "Quote sent", "position": "15", "active": "1",
        "stage_action": "none"})
    post(admin, "/manage/dispositions/wrong_person/active", {"active": "0"})
    session.expire_all()
    row = session.get(Disposition, "quote_sent")
    assert (row.label_zh, row.stage_action, row.counts_as_success) == ("报价已发", "none", False)
    assert not session.get(Disposition, "wrong_person").active
    assert rules.success_codes(session) == {"interested"}
    for name in ("tm", "mgr"):
        assert as_user(name).get("/manage/dispositions").status_code == 403
        assert post(as_user(name), "/manage/dispositions/interested/active",
                    {"active": "0"}).status_code == 403
    assert session.get(Disposition, "interested").active
