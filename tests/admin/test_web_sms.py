"""SMS pages: send from the customer's page (CSRF, only customers one may open, masked numbers
for a masking role), the exact preview with its counter, the admin's templates and settings,
bulk sending with its progress for managers."""
import json
import re

import pytest
from sqlalchemy import select

from models.crm.contacts import add_contact
from models.schema import SmsBulkJob, SmsMessage, SmsTemplate
from models.sms.config import update_sms_settings
from models.sms.delivery import record_reply

from tests.admin.test_web_masking import set_masking
from tests.web_helpers import committing, post


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


@pytest.fixture
def customer(session, make_customer):
    update_sms_settings(session, {"signature": "达盟科技"})
    made = make_customer("上海宏达贸易有限公司", owner="tm", mobile="13812348000")
    session.commit()
    return made


def _messages(session):
    session.commit()
    return session.scalars(select(SmsMessage).order_by(SmsMessage.id)).all()


def test_send_from_the_customer_page(session, as_user, customer):
    tm = as_user("tm")
    page = tm.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'id="sms"' in page and "sms-form" in page and "138 1234 8000" not in page
    response = post(tm, f"/sms/customers/{customer.id}/send",
                    {"body": "{customer_name}您好，资料已发到您的邮箱", "contact_id": "",
                     "next": f"/customers/{customer.id}"})
    assert response.status_code == 302 and response.location.endswith(f"/customers/{customer.id}")
    [message] = _messages(session)
    assert message.text == "【达盟科技】上海宏达贸易有限公司您好，资料已发到您的邮箱"
    assert (message.status, message.to_number) == ("queued", "+8613812348000")
    page = tm.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert f'data-sms="{message.id}"' in page and "资料已发到您的邮箱" in page
    assert "发送短信" in page      # the contact record of type sms


def test_without_csrf_nothing_is_sent(session, as_user, customer):
    response = as_user("tm").post(f"/sms/customers/{customer.id}/send", data={"body": "您好"})
    assert response.status_code == 400 and _messages(session) == []


def test_a_colleague_may_not_text_my_customer(session, as_user, customer):
    other = as_user("tm2")
    response = post(other, f"/sms/customers/{customer.id}/send", {"body": "您好"})
    assert response.status_code == 403 and _messages(session) == []
    answer = post(other, "/sms/preview", {"customer_id": str(customer.id), "body": "{customer_name}"},
                  headers={"Accept": "application/json"})
    assert answer.status_code == 403 and customer.name not in answer.get_data(as_text=True)


def test_an_opted_out_number_is_refused_with_the_reason(session, as_user, customer):
    record_reply(session, "smpp", "+8613812348000", "10690000", "退订", customer.created_at)
    session.commit()
    tm = as_user("tm")
    response = post(tm, f"/sms/customers/{customer.id}/send", {"body": "您好"})
    assert response.status_code == 302
    assert "该号码已退订短信" in tm.get(response.location).get_data(as_text=True)
    assert [m.direction for m in _messages(session)] == ["in"]


def test_preview_gives_the_exact_text_and_the_70_67_counter(session, as_user, customer):
    tm = as_user("tm")
    answer = post(tm, "/sms/preview", {"customer_id": str(customer.id),
                                       "body": "{customer_name}" + "您好" * 30},
                  headers={"Accept": "application/json"}).get_json()
    assert answer["text"] == "【达盟科技】上海宏达贸易有限公司" + "您好" * 30
    assert (answer["encoding"], answer["length"], answer["segments"], answer["per_segment"]) == (
        "ucs2", 76, 2, 67)
    bad = post(tm, "/sms/preview", {"body": "{nickname}"}, headers={"Accept": "application/json"})
    assert bad.status_code == 400 and "nickname" in bad.get_json()["message"]


def test_a_masking_role_sees_masked_numbers_only(session, as_user, customer, users):
    add_contact(session, users["tm"], customer.id, {"name": "赵敏", "mobile": "13987654321"})
    record_reply(session, "smpp", "+8613812348000", "10690000", "好的", customer.created_at)
    set_masking(session, "telemarketer")
    page = as_user("tm").get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "138****8000" in page and "139****4321" in page
    assert not re.search(r"1381234800|13987654321|8613812348000", page)


def test_templates_are_for_admins_with_a_preview(session, as_user, customer):
    assert as_user("tm").get("/sms/templates").status_code == 403
    assert as_user("mgr").get("/sms/templates/new").status_code == 403
    admin = as_user("admin")
    assert "{customer_name}" in admin.get("/sms/templates/new").get_data(as_text=True)
    bad = post(admin, "/sms/templates/new", {"name": "问候", "body": "您好{nickname}", "active": "1"})
    assert bad.status_code == 400 and "nickname" in bad.get_data(as_text=True)
    good = post(admin, "/sms/templates/new", {"name": "问候", "body": "{contact_name}您好",
                                              "active": "1"})
    assert good.status_code == 302
    session.commit()
    template = session.scalar(select(SmsTemplate))
    page = as_user("tm").get(f"/customers/{customer.id}").get_data(as_text=True)
    assert f'value="{template.id}" data-body="{{contact_name}}您好"' in page
    sample = post(admin, "/sms/preview", {"body": template.body},
                  headers={"Accept": "application/json"}).get_json()
    assert sample["text"] == "【达盟科技】王先生您好" and sample["segments"] == 1


def test_sms_settings_for_admins(session, as_user):
    assert as_user("mgr").get("/sms/settings").status_code == 403
    admin = as_user("admin")
    assert post(admin, "/sms/settings", {"signature": "【新签名】", "opt_out_words": "退订 TD",
                                         "address": "", "website": "", "phone": ""}
                ).status_code == 302
    assert 'value="新签名"' in admin.get("/sms/settings").get_data(as_text=True)


def test_bulk_for_managers_with_progress(session, as_user, make_customer, users):
    for i in range(3):
        make_customer(owner="tm", mobile="1381234800%d" % i, city="上海")
    make_customer(owner="tm", mobile="13912340000", city="北京")
    assert as_user("tm").get("/sms/bulk").status_code == 403
    assert post(as_user("tm"), "/sms/bulk/new", {"name": "x"}).status_code == 403
    mgr = as_user("mgr")
    response = post(mgr, "/sms/bulk/new", {"name": "双十二", "body": "{customer_name}您好",
                                           "city": "上海", "rate_per_minute": "60",
                                           "hours_start": "09:00", "hours_end": "20:00"})
    assert response.status_code == 302, response.get_data(as_text=True)
    session.commit()
    job = session.scalar(select(SmsBulkJob))
    assert job.total == 3
    page = mgr.get(f"/sms/bulk/{job.id}").get_data(as_text=True)
    assert 'data-status="held"><th>' in page and "0 / 3" in page
    assert post(mgr, f"/sms/bulk/{job.id}/cancel").status_code == 302
    page = mgr.get(f"/sms/bulk/{job.id}").get_data(as_text=True)
    assert "3 / 3" in page
    bad = post(mgr, "/sms/bulk/new", {"name": "x", "body": "您好", "hours_start": "21:00",
                                      "hours_end": "09:00", "rate_per_minute": "60",
                                      "ids": "1"})
    assert bad.status_code == 400 and "发送时段无效" in bad.get_data(as_text=True)


def test_the_form_on_the_tracking_screen_the_pop_and_the_wrap_up(session, as_user, customer,
                                                                users, clock):
    from models.schema.calls import Call
    from models.telephony.popups import create_pop_event

    from tests.call_helpers import answered_call
    users["tm"].extension = "8001"
    linkedid = answered_call(session, clock, "13812348000", "8001", talk=60)
    call = session.scalar(select(Call).where(Call.linkedid == linkedid))
    pop = create_pop_event(session, users["tm"], "13812348000", clock=clock)
    session.commit()
    tm = as_user("tm")
    action = f'action="/sms/customers/{customer.id}/send"'
    for url in (f"/customers/{customer.id}/track", f"/pops/{pop.id}", f"/calls/{call.id}/wrap-up"):
        page = tm.get(url, headers={"X-Requested-With": "fetch"} if "pops" in url else {})
        assert page.status_code == 200 and action in page.get_data(as_text=True), url
    response = post(tm, f"/sms/customers/{customer.id}/send",
                    {"body": "刚才通话提到的资料：{company_website}", "next": f"/calls/{call.id}/wrap-up"})
    assert response.location.endswith(f"/calls/{call.id}/wrap-up")
    assert _messages(session)[0].text.startswith("【达盟科技】刚才通话提到的资料：")


def test_the_review_counts_sms(session, as_user, customer, users, clock):
    from models.sms.delivery import claim, mark_submitted, record_receipt
    from models.sms.sending import send_sms
    first = send_sms(session, users["tm"], customer.id, "您好", clock=clock)
    send_sms(session, users["tm"], customer.id, "再见", clock=clock)
    claim(session, "s", clock.now())
    mark_submitted(session, first.id, "smpp", ["a1"], clock.now())
    record_receipt(session, "smpp", "a1", "delivered", None, clock.now())
    record_reply(session, "smpp", "+8613812348000", "10690000", "好的", clock.now())
    session.commit()
    page = as_user("tm").get("/review?preset=today").get_data(as_text=True)
    counts = dict(re.findall(r'data-sms-count="(sms_\w+)">(\d+)<', page))
    assert counts == {"sms_sent": "2", "sms_delivered": "1", "sms_failed": "0",
                      "sms_received": "1"}
    assert re.findall(r'data-sms-count="sms_sent">(\d+)<',
                      as_user("tm2").get("/review?preset=today").get_data(as_text=True)) == ["0"]


def test_bulk_from_a_finder_query(session, as_user, make_customer):
    make_customer(owner="tm", mobile="13812348000", city="杭州")
    make_customer(owner="tm", mobile="13812348001", city="上海")
    mgr = as_user("mgr")
    page = mgr.get("/find?mode=simple&field=city&op=eq&value=杭州").get_data(as_text=True)
    link = re.search(r'id="bulk-sms-link" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    form = mgr.get(link).get_data(as_text=True)
    query = re.search(r'name="query" rows="2">([^<]+)<', form).group(1)
    query = query.replace("&#34;", '"').replace("&quot;", '"')
    assert json.loads(query) == {"all": [{"field": "city", "op": "eq", "value": "杭州"}]}
    response = post(mgr, "/sms/bulk/new", {"name": "杭州客户", "body": "您好", "query": query,
                                           "rate_per_minute": "60", "hours_start": "09:00",
                                           "hours_end": "20:00"})
    assert response.status_code == 302
    session.commit()
    assert session.scalar(select(SmsBulkJob)).total == 1
    assert 'id="bulk-sms-link"' not in as_user("tm").get(
        "/find?mode=simple&field=city&op=eq&value=杭州").get_data(as_text=True)


def test_a_failure_reason_is_shown_in_words(session, as_user, customer, users, clock):
    import datetime as dt

    from models.sms.delivery import claim, fail_stalled
    from models.sms.sending import send_sms
    send_sms(session, users["tm"], customer.id, "您好", clock=clock)
    claim(session, "s", clock.now())
    fail_stalled(session, clock.now() + dt.timedelta(hours=1))
    session.commit()
    page = as_user("tm").get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "发送程序中断，短信可能已发出" in page and "sms.sender_lost" not in page


def test_managers_list_add_and_restore_opt_outs(session, as_user, customer):
    """A number opted out by mistake (or by a reply) is put back by a manager, and one a
    customer asked for on the phone is added by hand; a salesperson may not, nor without CSRF."""
    from models.schema import SmsOptOut
    record_reply(session, "smpp", "+8613812348000", "10690000", "TD", customer.created_at)
    session.commit()
    mgr = as_user("mgr")
    page = mgr.get("/sms/opt-outs").get_data(as_text=True)
    assert 'id="sms-opt-outs"' in page and "138" in page and "短信退订号码" in page
    assert as_user("tm").get("/sms/opt-outs").status_code == 403
    assert post(as_user("tm"), "/sms/opt-outs/remove", {"number": "+8613812348000"}).status_code == 403
    assert mgr.post("/sms/opt-outs/remove", data={"number": "+8613812348000"}).status_code == 400
    assert session.get(SmsOptOut, "+8613812348000") is not None          # nothing without CSRF
    response = post(mgr, "/sms/opt-outs/remove", {"number": "138 1234 8000"})
    assert "该号码已恢复接收短信" in mgr.get(response.location).get_data(as_text=True)
    session.expire_all()
    assert session.get(SmsOptOut, "+8613812348000") is None
    response = post(mgr, "/sms/opt-outs/add", {"number": "13900001111", "reason": "电话里要求"})
    session.expire_all()
    row = session.get(SmsOptOut, "+8613900001111")
    assert row is not None and row.reason == "电话里要求"
    response = post(mgr, "/sms/opt-outs/add", {"number": "not a number"})
    assert "号码无效" in mgr.get(response.location).get_data(as_text=True)
