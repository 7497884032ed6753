"""The SMS form in a real Chromium: picking a template fills the text, the preview shows the
exact text with the 【signature】 and the customer's name, the counter knows the 70/67 split of
Chinese text, and sending puts the message on the customer's page."""
from __future__ import annotations

from sqlalchemy import select

from models.schema import SmsMessage
from models.sms.config import update_sms_settings
from models.sms.templates import save_template

from tests.browser.chromium import log_in, shot


def test_template_preview_counter_and_send(live_server, browser_page, session, users,
                                           make_customer, clock):
    update_sms_settings(session, {"signature": "达盟科技"})
    save_template(session, users["admin"], {"name": "资料", "body": "{customer_name}您好，资料已发送"},
                  clock=clock)
    customer = make_customer("上海宏达贸易有限公司", owner="tm", mobile="13812348000")
    session.commit()
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    page.goto(f"{live_server}/customers/{customer.id}")
    page.select_option("#sms .sms-template", label="资料")
    page.wait_for_function("document.querySelector('#sms .sms-preview').textContent.length > 0")
    assert page.inner_text("#sms .sms-preview") == "【达盟科技】上海宏达贸易有限公司您好，资料已发送"
    assert "共 1 条（每条 70 字）" in page.inner_text("#sms .sms-counter")
    page.fill("#sms .sms-body", "{customer_name}" + "您好" * 30)
    page.wait_for_function(
        "document.querySelector('#sms .sms-counter').textContent.includes('共 2 条')")
    assert page.inner_text("#sms .sms-counter") == "76 字，共 2 条（每条 67 字）"
    shot(page, "sms-form")
    page.click("#sms button[type=submit]")
    page.wait_for_selector("#sms tr[data-sms]")
    session.commit()
    sent = session.scalar(select(SmsMessage))
    assert sent.text == "【达盟科技】上海宏达贸易有限公司" + "您好" * 30 and sent.segments == 2
