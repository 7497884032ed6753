"""C10 through the web: work review, charts, reports (print, export), permissions, both
languages."""
import csv
import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from models.crm.contact_records import add_contact_record
from models.crm.customers import create_customer
from models.crm.sales import create_opportunity, create_order

from tests.call_helpers import (
    abandoned_call,
    answered_call,
    dialer_call,
    manual_call,
    set_disposition,
)
from tests.models.dialer.test_agent_states import make_attempt, make_campaign
from tests.web_helpers import post

SH = ZoneInfo("Asia/Shanghai")
ROW = re.compile(r'<tr class="[^"]*" data-bucket="([^"]+)" data-user="([^"]+)">(.*?)</tr>', re.S)
CELL = re.compile(r'data-metric="(\w+)">([^<]*)<')
COUNT = re.compile(r'data-count="(\w+)">([^<]*)<')


def sh(month, day, hour, minute=0):
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SH)


def report_cells(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    html = response.get_data(as_text=True)
    return {(bucket, user): {m: v for m, v in CELL.findall(body)
                             if v not in ("0", "0.00", "0:00:00")}
            for bucket, user, body in ROW.findall(html)}


def calls(made, answered, talk, handle, successes=0):
    out = {"calls_made": str(made), "calls_answered": str(answered), "talk_seconds": talk,
           "handle_seconds": handle, "successes": str(successes)}
    return {k: v for k, v in out.items() if v not in ("0", "0:00:00")}


def review_counts(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    return dict(COUNT.findall(response.get_data(as_text=True)))


@pytest.fixture
def world(session, users, clock, make_customer):
    """tm: customer 甲 (own), records on the 25th and 26th, an opportunity and an order on the
    26th. tm2: personal 乙 in 深圳 with a record today. Shared 丙 in 上海."""
    tm, tm2 = users["tm"], users["tm2"]
    clock.set(sh(11, 3, 9))
    a = create_customer(session, tm, {"name": "甲公司", "city": "上海", "industry": "软件",
                                      "source": "展会"}, stage="target", clock=clock)
    clock.set(sh(11, 5, 9))
    b = create_customer(session, tm2, {"name": "乙秘密", "city": "深圳", "industry": "私密行业",
                                       "source": "私密来源"}, stage="potential", clock=clock)
    clock.set(sh(11, 25, 23, 30))
    add_contact_record(session, tm, a.id, content="晚上联系", clock=clock)
    clock.set(sh(11, 26, 0, 30))
    add_contact_record(session, tm, a.id, content="凌晨联系", progress="报价", clock=clock)
    add_contact_record(session, tm2, b.id, content="乙的记录", clock=clock)
    clock.set(sh(11, 26, 9))
    create_opportunity(session, tm, a.id, "CRM 项目", amount="1000.50", clock=clock)
    clock.set(sh(11, 26, 9, 30))
    create_order(session, tm, a.id, [dict(product_name="座席", quantity=2, unit_price="150")],
                 clock=clock)
    campaign = make_campaign(session, clock, [tm, tm2])
    tm.extension, tm2.extension = "8001", "8002"       # calls of the call log (issue 13)
    manual_call(session, "8001", "13800138000", start=sh(11, 25, 14), talk=30)
    attempt = make_attempt(session, clock, campaign, customer=a, started=sh(11, 26, 9, 40),
                           outcome="answered", talk=65.0, agent=tm, ended=True)
    set_disposition(session, dialer_call(session, attempt, "8001", talk=65), "interested")
    manual_call(session, "8001", "13800138001", start=sh(11, 26, 9, 45), answered=False)
    make_attempt(session, clock, campaign, customer=a, started=sh(11, 26, 9, 50),
                 outcome="machine", ended=True)     # never put through: nobody's call
    answered_call(session, clock, "13900139000", "8002", talk=10, start=sh(11, 26, 9, 55))
    abandoned_call(session, clock, "13900139001", start=sh(11, 26, 9, 56))
    clock.set(sh(11, 26, 10))
    c = make_customer("丙共享", stage="target", owner=None, city="上海", industry="软件")
    session.commit()
    return dict(a=a, b=b, c=c)


def test_work_review_today_and_periods(as_user, users, world):
    tm = as_user("tm")
    response = tm.get("/review")
    page = response.get_data(as_text=True)
    assert "工作回顾" in page and "今天" in page and "开始日期" in page and "结束日期" in page
    assert review_counts(response) == {
        "new_customers": "0", "contact_records": "1", "opportunities": "1", "orders": "1",
        "calls_made": "2", "calls_answered": "0", "talk_time": "0:01:05",
        "handle_time": "0:01:05", "successes": "1"}
    assert "金额 1,000.50" in page and "金额 300.00" in page and "有意向 1" in page
    assert "接入电话系统" not in page and "—" not in page and "呼出电话：" in page
    assert "凌晨联系" in page and "晚上联系" not in page and "乙的记录" not in page
    assert "SO20261126-0001" in page and "CRM 项目" in page
    week = tm.get("/review?preset=week")
    assert review_counts(week)["contact_records"] == "2"
    month = tm.get("/review?preset=month")
    assert review_counts(month)["new_customers"] == "1"
    assert "甲公司" in month.get_data(as_text=True)
    custom = tm.get("/review?from=2026-11-25&to=2026-11-25")
    assert review_counts(custom) == {
        "new_customers": "0", "contact_records": "1", "opportunities": "0", "orders": "0",
        "calls_made": "1", "calls_answered": "0", "talk_time": "0:00:30",
        "handle_time": "0:00:30", "successes": "0"}
    assert "乙秘密" not in month.get_data(as_text=True)


def test_manager_reviews_the_team_or_one_agent(as_user, users, world):
    mgr = as_user("mgr")
    team = mgr.get("/review?preset=month&scope=team")
    counts = review_counts(team)
    # 甲 (tm), 乙 (tm2), 丙 (admin through make_customer)
    assert (counts["new_customers"], counts["contact_records"]) == ("3", "3")
    assert "乙秘密" in team.get_data(as_text=True)
    one = mgr.get(f"/review?preset=today&scope=user:{users['tm2'].id}")
    assert review_counts(one)["contact_records"] == "1"
    assert "乙的记录" in one.get_data(as_text=True) and "凌晨联系" not in one.get_data(as_text=True)
    assert 'name="scope"' in team.get_data(as_text=True)


def test_telemarketer_reviews_only_themselves(as_user, users, world):
    tm = as_user("tm")
    assert 'name="scope"' not in tm.get("/review").get_data(as_text=True)
    for path in ("/review?scope=team", f"/review?scope=user:{users['tm2'].id}",
                 "/review/reports?scope=team", f"/review/reports?scope=user:{users['tm2'].id}"):
        response = tm.get(path)
        assert response.status_code == 403, path
        assert "乙的记录" not in response.get_data(as_text=True)
    assert tm.get(f"/review?scope=user:{users['tm'].id}").status_code == 200
    assert as_user("mgr").get("/review?scope=user:99999").status_code == 404


def test_bad_dates_and_periods_are_refused(as_user, world):
    tm = as_user("tm")
    assert tm.get("/review?from=2026-13-01").status_code == 400
    assert tm.get("/review?from=2026-11-26&to=2026-11-01").status_code == 400
    assert tm.get("/review/reports?period=hour").status_code == 400
    response = tm.get("/review/reports?period=day&from=2020-01-01&to=2026-11-26")
    assert response.status_code == 400 and "输入值无效" in response.get_data(as_text=True)


def test_charts_follow_visibility(as_user, world, make_customer):
    make_customer("注入", owner="tm", city="<script>alert(1)</script>", industry="软件")
    tm = as_user("tm")
    page = tm.get("/review/charts").get_data(as_text=True)
    assert page.count("<svg") == 9
    assert "客户阶段漏斗" in page and "客户按城市分布" in page
    assert "深圳" not in page and "私密行业" not in page and "私密来源" not in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page
    funnel = page.split('id="chart-funnel"')[1].split("</svg>")[0]
    # tm sees 甲 (closed after the order), 丙 (target, shared) and 注入 (target)
    numbers = re.findall(r'font-weight="bold">(\d+)<', funnel)
    assert numbers == ["0", "2", "0", "0", "1", "0"]
    weekly = page.split('id="weekly-table"')[1]
    assert "<td>2026-11-23</td><td class=\"text-end\">1</td><td class=\"text-end\">1,000.50</td>" \
        "<td class=\"text-end\">1</td><td class=\"text-end\">300.00</td>" in weekly
    mgr_page = as_user("mgr").get("/review/charts").get_data(as_text=True)
    assert "深圳" in mgr_page and "私密行业" in mgr_page


def test_day_report_per_agent(as_user, users, world):
    tm = as_user("tm")
    cells = report_cells(tm.get("/review/reports?period=day&from=2026-11-24&to=2026-11-26"))
    me = str(users["tm"].id)
    assert cells == {
        ("2026-11-24", me): {},
        ("2026-11-25", me): {"contact_records": "1", **calls(1, 0, "0:00:30", "0:00:30")},
        ("2026-11-26", me): {"contact_records": "1", "to_opportunity": "1", "to_closed": "1",
                             "opportunities": "1", "opportunity_amount": "1,000.50", "orders": "1",
                             "order_value": "300.00", **calls(2, 0, "0:01:05", "0:01:05", 1)},
        ("total", me): {"contact_records": "2", "to_opportunity": "1", "to_closed": "1",
                        "opportunities": "1", "opportunity_amount": "1,000.50", "orders": "1",
                        "order_value": "300.00", **calls(3, 0, "0:01:35", "0:00:48", 1)}}
    page = tm.get("/review/reports").get_data(as_text=True)   # default: this month by day
    assert 'value="2026-11-01"' in page and 'value="2026-11-26"' in page
    assert "乙" not in page


def test_team_week_report(as_user, users, world):
    mgr = as_user("mgr")
    cells = report_cells(mgr.get(
        "/review/reports?period=week&from=2026-11-16&to=2026-11-29&scope=team"))
    tm, tm2, admin = (str(users[n].id) for n in ("tm", "tm2", "admin"))
    assert cells == {
        ("2026-11-16", "team"): {},
        ("2026-11-23", tm2): {"contact_records": "1", **calls(0, 1, "0:00:10", "0:00:10")},
        ("2026-11-23", tm): {"contact_records": "2", "to_opportunity": "1", "to_closed": "1",
                             "opportunities": "1", "opportunity_amount": "1,000.50", "orders": "1",
                             "order_value": "300.00", **calls(3, 0, "0:01:35", "0:00:48", 1)},
        ("2026-11-23", admin): {"new_customers": "1"},
        ("2026-11-23", "team"): {"contact_records": "3", "new_customers": "1", "to_opportunity": "1",
                                 "to_closed": "1", "opportunities": "1", "opportunity_amount": "1,000.50",
                                 "orders": "1", "order_value": "300.00",
                                 **calls(3, 1, "0:01:45", "0:00:35", 1)},
        ("total", tm2): {"contact_records": "1", **calls(0, 1, "0:00:10", "0:00:10")},
        ("total", tm): {"contact_records": "2", "to_opportunity": "1", "to_closed": "1",
                        "opportunities": "1", "opportunity_amount": "1,000.50", "orders": "1",
                        "order_value": "300.00", **calls(3, 0, "0:01:35", "0:00:48", 1)},
        ("total", admin): {"new_customers": "1"},
        ("total", "team"): {"contact_records": "3", "new_customers": "1", "to_opportunity": "1",
                            "to_closed": "1", "opportunities": "1", "opportunity_amount": "1,000.50",
                            "orders": "1", "order_value": "300.00",
                            **calls(3, 1, "0:01:45", "0:00:35", 1)}}
    page = mgr.get("/review/reports?period=month&scope=team").get_data(as_text=True)
    assert "团队合计" in page and "2026-11 " not in page and ">2026-11<" in page


def test_report_export_and_print(as_user, users, world):
    args = "period=month&from=2026-11-01&to=2026-11-30"
    tm = as_user("tm")
    assert tm.get(f"/review/reports?{args}&export=xlsx").status_code == 403
    assert "导出到 Excel" not in tm.get(f"/review/reports?{args}").get_data(as_text=True)
    printed = tm.get(f"/review/reports?{args}&print=1").get_data(as_text=True)
    assert "print-view" in printed and "data-print" in printed and "李红光" in printed
    mgr = as_user("mgr")
    response = mgr.get(f"/review/reports?{args}&scope=team&export=xlsx")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.data)).active.values)
    assert rows[0][:4] == ("时段", "业务员", "联系记录", "新建客户")
    assert rows[-1][:4] == ("合计", "团队合计", 3, 3)
    assert rows[-1][-9:] == (1, 1000.5, 1, 300.0, 3, 1, 105, 35, 1)   # durations in seconds
    text = mgr.get(f"/review/reports?{args}&scope=user:{users['tm'].id}&export=csv").data
    lines = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert lines[1][:4] == ["2026-11", "李红光", "2", "1"]
    assert mgr.get(f"/review/reports?{args}&export=pdf").status_code == 400


def test_pages_in_english(as_user, world):
    tm = as_user("tm")
    post(tm, "/language", {"lang": "en"})
    review = tm.get("/review?preset=week").get_data(as_text=True)
    assert "Work review" in review and "This week" in review and "Calls made" in review
    charts = tm.get("/review/charts").get_data(as_text=True)
    assert "Stage funnel" in charts and "Customers by City" in charts
    reports = tm.get("/review/reports?period=week").get_data(as_text=True)
    assert "By week" in reports and "Contact records" in reports and "→ Closed" in reports


def test_login_required(app):
    for path in ("/review", "/review/charts", "/review/reports"):
        response = app.test_client().get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_svg_charts_escape_and_scale():
    from admin.analysis.charts import bar_chart, funnel_chart, line_chart, nice_ceiling
    svg = bar_chart([('<img src=x onerror="alert(1)">', 3), ("上海", 1)], title="a&b")
    assert "<img" not in svg and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in svg
    assert 'aria-label="a&amp;b"' in svg and svg.startswith("<svg") and svg.endswith("</svg>")
    assert "暂无" in bar_chart([], title="t", empty="暂无")
    assert funnel_chart([("储备客户", 0)], title="f").count("<rect") == 1
    line = line_chart(["09-07", "09-14"], [("商机", [0, 27])], title="l")
    assert ">30<" in line and ">15<" in line and line.count("<circle") == 2
    assert [nice_ceiling(v) for v in (0, 0.7, 27, 1069688, 100)] == [1.0, 0.8, 30, 1200000, 100]
