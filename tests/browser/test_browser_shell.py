"""In Debian's Chromium: log in, read the grid in Chinese, get a reminder popped."""
import datetime as dt

from models.crm.contact_records import add_contact_record, emit_due_reminders

from tests.browser.chromium import log_in, shot


def test_agent_logs_in_reads_grid_and_gets_reminder(live_server, browser_page, session, users,
                                                    clock, make_customer):
    c = make_customer("杭州西湖茶叶有限公司", stage="target", owner="tm")
    add_contact_record(session, users["tm"], c.id, content="约今天下午回访", progress="需求确认",
                       next_callback_at=clock.now() + dt.timedelta(minutes=5), remind=True,
                       clock=clock)
    session.commit()
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    page.wait_for_selector("#main-line")
    assert page.inner_text("h1") == "销售主线"
    cell = page.locator('tr[data-stage="target"] td[data-column="callback_now"]')
    assert cell.inner_text().strip() == "1"
    assert "cell-hot" in cell.get_attribute("class")
    shot(page, "agent-grid")

    clock.advance(minutes=5)
    assert emit_due_reminders(session, clock=clock) == 1
    session.commit()
    toast = page.wait_for_selector(".toast-body")
    assert "杭州西湖茶叶有限公司" in toast.inner_text() and "需求确认" in toast.inner_text()
    shot(page, "agent-reminder")
