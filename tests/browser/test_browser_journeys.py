"""The issue's browser journeys in Debian's Chromium: a new telemarketer's first calls, and an
admin lowering the claim quota until the telemarketer meets it."""
import datetime as dt

from sqlalchemy import func, select

from models.crm.contact_records import add_contact_record
from models.schema import ContactRecord, Customer

from tests.browser.chromium import log_in, shot


def read(session, query):
    """Read from the test's session and end the transaction at once: on SQLite an open
    transaction would hold the write lock the live server needs."""
    session.expire_all()
    try:
        return query()
    finally:
        session.commit()


def test_new_telemarketer_works_todays_target_callbacks(live_server, browser_page, session,
                                                        users, clock, make_customer):
    first = make_customer("上海浦江电子有限公司", stage="target", owner="tm", city="上海")
    second = make_customer("苏州园林设计有限公司", stage="target", owner="tm", city="苏州")
    for i, c in enumerate((first, second)):
        add_contact_record(session, users["tm"], c.id, content="上周联系过,约今天回访",
                           next_callback_at=clock.now() + dt.timedelta(hours=1 + i), clock=clock)
        session.commit()
    first_id, second_id = first.id, second.id  # plain ids: touching expired rows would lock
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    cell = page.locator('tr[data-stage="target"] td[data-column="callback_now"] a')
    assert cell.inner_text().strip() == "2"
    shot(page, "journey-1-grid")
    cell.click()  # today's target callbacks
    page.wait_for_selector("text=上海浦江电子有限公司")
    shot(page, "journey-2-callbacks")
    page.goto(live_server + f"/customers/{first_id}/track?list=target&tab=mine&sort=name")
    page.fill("#progress", "需求确认")
    page.fill("#content", "客户对呼叫中心方案有兴趣,下周报价")
    page.click("#record-form button[type=submit]")
    page.wait_for_selector("#records >> text=客户对呼叫中心方案有兴趣")
    shot(page, "journey-3-recorded")
    promote = page.locator("form[action$='/do/promote']")
    promote.locator("select").select_option("potential")
    promote.locator("button").click()
    page.wait_for_selector("#customer-name")
    assert read(session, lambda: session.get(Customer, first_id).stage) == "potential"
    page.goto(live_server + f"/customers/{second_id}/track?list=target&tab=mine&sort=name")
    assert page.inner_text("#customer-name") == "苏州园林设计有限公司"
    page.click("#next-button")  # the last of the list: it says so and stays
    page.wait_for_selector("#customer-name")
    shot(page, "journey-4-next")
    assert read(session, lambda: session.scalar(
        select(func.count()).select_from(ContactRecord)
        .where(ContactRecord.customer_id == first_id))) == 2


def test_admin_lowers_quota_and_telemarketer_meets_it(live_server, chromium, session, users,
                                                      make_customer):
    pool = [make_customer(f"共享目标客户{i}号", stage="target", owner=None).id for i in range(3)]
    admin_ctx = chromium.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    admin = admin_ctx.new_page()
    log_in(admin, live_server, "admin", "pw-admin")
    admin.goto(live_server + "/manage/roles")
    row = admin.locator('tr[data-role="telemarketer"]')
    row.locator('input[name="daily_claim_quota"]').fill("2")
    row.locator("button[type=submit]").click()
    admin.wait_for_selector('tr[data-role="telemarketer"]')
    shot(admin, "journey-quota-admin")
    admin_ctx.close()

    agent_ctx = chromium.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    agent = agent_ctx.new_page()
    log_in(agent, live_server, "tm", "pw-tm")
    agent.goto(live_server + "/customers/target?tab=shared&sort=name")
    for cid in pool:
        agent.check(f'.row-check[value="{cid}"]')
    agent.click('#batch-actions button[value="claim"]')
    results = agent.wait_for_selector("#batch-results")
    text = results.inner_text()
    shot(agent, "journey-quota-agent")
    agent_ctx.close()
    assert "上限" in text and "2" in text
    owned = read(session, lambda: [session.get(Customer, cid).ownership for cid in pool])
    assert sorted(owned) == ["personal", "personal", "shared"]
