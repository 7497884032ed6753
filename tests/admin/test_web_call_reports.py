"""Call reports through the web (issue 13, C10): the daily call-volume report per salesperson,
custom reports and saved templates; who sees whose figures, print, .xlsx, CSRF, whitelists."""
import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models.crm.contact_records import add_contact_record
from models.schema import ReportTemplate

from tests.call_helpers import (
    abandoned_call,
    answered_call,
    dialer_call,
    manual_call,
    set_disposition,
)
from tests.models.dialer.test_agent_states import make_attempt, make_campaign
from tests.web_helpers import committing, post

SH = ZoneInfo("Asia/Shanghai")
ROW = re.compile(r'data-bucket="([^"]+)" data-key="([^"]+)">(.*?)</tr>', re.S)
CELL = re.compile(r'data-measure="(\w+)">([^<]*)<')
DAILY = "/review/calls?from=2026-11-25&to=2026-11-26"


def sh(month, day, hour, minute=0):
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SH)


def cells(response):
    """{(bucket, key): {measure: text}} of the report table, without the empty cells."""
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    return {(b, k): {m: v for m, v in CELL.findall(body) if v not in ("0", "0:00:00", "")}
            for b, k, body in ROW.findall(response.get_data(as_text=True))}


def templates_count(session):
    session.rollback()
    return session.scalar(select(func.count()).select_from(ReportTemplate))


@pytest.fixture
def login(as_user, session):
    """A client per user; the test's session ends its read before each request (SQLite)."""
    return committing(as_user, session)


@pytest.fixture
def world(session, users, clock, make_customer):
    """tm (8001): a hand-dialled call at 23:50 on the 25th (answered, 60 s), one at 00:10 on the
    26th (not answered), an inbound call on the 26th (interested), a contact record at 00:05;
    tm2 (8002): a dialer call of 二组 on the 26th (not interested, 30 s)."""
    tm, tm2 = users["tm"], users["tm2"]
    tm.extension, tm2.extension = "8001", "8002"
    a = make_customer("甲公司", owner="tm", mobile="13800138000")
    b = make_customer("乙公司", owner="tm2", mobile="13900139000")
    make_campaign(session, clock, [tm], name="一组")
    two = make_campaign(session, clock, [tm2], name="二组")
    manual_call(session, "8001", "13800138000", start=sh(11, 25, 23, 50), talk=60)
    manual_call(session, "8001", "13800138000", start=sh(11, 26, 0, 10), answered=False)
    set_disposition(session, answered_call(session, clock, "13900139000", "8001", talk=120,
                                           start=sh(11, 26, 9)), "interested")
    attempt = make_attempt(session, clock, two, customer=b, started=sh(11, 26, 10),
                           outcome="answered", agent=tm2, ended=True, talk=30.0)
    set_disposition(session, dialer_call(session, attempt, "8002", talk=30), "not_interested")
    abandoned_call(session, clock, "13900139000", start=sh(11, 26, 11))
    clock.set(sh(11, 26, 0, 5))
    add_contact_record(session, tm, a.id, content="凌晨", clock=clock)
    clock.set(sh(11, 26, 18))
    session.commit()
    return dict(two=two)


def test_daily_call_volume_per_salesperson(login, users, world):
    mgr = login("mgr")
    response = mgr.get(DAILY)
    tm, tm2 = str(users["tm"].id), str(users["tm2"].id)
    assert cells(response) == {
        ("2026-11-25", tm): {"calls_made": "1", "talk_seconds": "0:01:00",
                             "customers_reached": "1"},
        ("2026-11-26", tm): {"calls_made": "1", "calls_answered": "1", "talk_seconds": "0:02:00",
                             "customers_reached": "1", "contact_records": "1", "successes": "1"},
        ("2026-11-26", tm2): {"calls_made": "1", "talk_seconds": "0:00:30",
                              "customers_reached": "1"},
        ("total", tm): {"calls_made": "2", "calls_answered": "1", "talk_seconds": "0:03:00",
                        "customers_reached": "2", "contact_records": "1", "successes": "1"},
        ("total", tm2): {"calls_made": "1", "talk_seconds": "0:00:30", "customers_reached": "1"},
        ("total", "all"): {"calls_made": "3", "calls_answered": "1", "talk_seconds": "0:03:30",
                           "customers_reached": "2", "contact_records": "1", "successes": "1"}}
    page = response.get_data(as_text=True)
    assert "电话日访问量统计报表" in page and "联系到的客户" in page and "成功数" in page
    assert "李红光" in page and "张军" in page and 'name="user_id"' in page
    one = cells(mgr.get(f"{DAILY}&user_id={users['tm2'].id}"))
    assert {k for _b, k in one} == {tm2, "all"}
    team = cells(mgr.get(f"{DAILY}&team_id={world['two'].id}"))
    assert {k for _b, k in team} == {tm2, "all"}


def test_a_salesperson_sees_only_his_own_row(login, users, world):
    tm = login("tm")
    me = str(users["tm"].id)
    for path in (DAILY, f"{DAILY}&user_id={users['tm2'].id}",
                 f"{DAILY}&team_id={world['two'].id}"):
        response = tm.get(path)
        assert {k for _b, k in cells(response)} <= {me, "all"}, path
        assert "张军" not in response.get_data(as_text=True)
    assert cells(tm.get(DAILY))[("total", "all")]["calls_made"] == "2"
    custom = tm.get("/review/calls/custom?rows=agent&period=none&range=custom&from=2026-11-01"
                    "&to=2026-11-30&columns=calls_made&columns=total_calls")
    assert {k for _b, k in cells(custom)} == {me, "all"}
    assert "save-template" not in custom.get_data(as_text=True)
    forced = tm.get(f"/review/calls/custom?rows=agent&period=day&range=this_month"
                    f"&columns=calls_made&user_id={users['tm2'].id}")
    assert forced.status_code == 403 and "张军" not in forced.get_data(as_text=True)


def test_print_and_xlsx_export(login, users, world):
    tm = login("tm")
    printed = tm.get(f"{DAILY}&print=1").get_data(as_text=True)
    assert "print-view" in printed and "@media print" in printed and "data-print" in printed
    assert 'id="daily-form"' not in printed and "李红光" in printed
    assert tm.get(f"{DAILY}&export=xlsx").status_code == 403     # no export right
    mgr = login("mgr")
    response = mgr.get(f"{DAILY}&export=xlsx")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.data)).active.values)
    assert rows[0] == ("时段", "销售代表", "呼出电话", "接听电话", "通话时长 （秒）", "联系到的客户",
                       "联系记录", "成功数")
    assert rows[1] == ("2026-11-25", "李红光", 1, 0, 60, 1, 0, 0)
    assert rows[-1] == ("合计", "合计", 3, 1, 210, 2, 1, 1)
    assert mgr.get(f"{DAILY}&export=pdf").status_code == 400


def test_templates_save_run_share_and_delete(login, users, session, world):
    mgr = login("mgr")
    spec = {"name": "本月外呼", "rows": "team", "period": "month", "range": "custom",
            "from": "2026-11-01", "to": "2026-11-30",
            "columns": ["successes", "calls_made", "dispositions"]}
    saved = post(mgr, "/review/calls/templates", spec)
    assert saved.status_code == 302
    template = session.scalars(select(ReportTemplate)).one()
    assert template.spec["columns"] == ["calls_made", "successes", "dispositions"]
    assert template.shared is False
    run = mgr.get(saved.location)
    two = str(world["two"].id)
    got = cells(run)
    assert got[("2026-11-01", two)] == {"calls_made": "1", "not_interested": "1"}
    assert got[("total", "all")] == {"calls_made": "3", "successes": "1", "interested": "1",
                                     "not_interested": "1"}
    assert "本月外呼" in run.get_data(as_text=True) and "没有意向" in run.get_data(as_text=True)
    xlsx = mgr.get(f"{saved.location}?export=xlsx")
    assert list(load_workbook(io.BytesIO(xlsx.data)).active.values)[0] == (
        "时段", "坐席组", "呼出电话", "成功数", "有意向", "没有意向")
    assert "print-view" in mgr.get(f"{saved.location}?print=1").get_data(as_text=True)
    assert "本月外呼" in mgr.get("/review/calls/templates").get_data(as_text=True)

    tm = login("tm")                                   # not shared: not his to see
    assert "本月外呼" not in tm.get("/review/calls/templates").get_data(as_text=True)
    assert tm.get(saved.location).status_code == 404
    shared = post(mgr, "/review/calls/templates", {**spec, "name": "全公司", "shared": "1",
                                                   "rows": "agent", "period": "none"})
    tm_run = tm.get(shared.location)
    assert {k for _b, k in cells(tm_run)} == {str(users["tm"].id), "all"}
    assert "张军" not in tm_run.get_data(as_text=True)
    shared_id = shared.location.rsplit("/", 1)[1]
    assert post(tm, f"/review/calls/templates/{shared_id}/delete").status_code == 403
    assert post(tm, "/review/calls/templates", {**spec, "name": "我的"}).status_code == 302
    assert templates_count(session) == 2                 # a salesperson saves nothing

    assert post(mgr, f"/review/calls/templates/{template.id}/delete").status_code == 302
    assert templates_count(session) == 1
    assert mgr.get(f"/review/calls/templates/{template.id}").status_code == 404


def test_forms_need_the_csrf_token(login, session, world):
    mgr = login("mgr")
    refused = mgr.post("/review/calls/templates", data={
        "name": "x", "rows": "agent", "period": "day", "range": "today", "columns": "calls_made"})
    assert refused.status_code == 400
    assert templates_count(session) == 0
    post(mgr, "/review/calls/templates", {"name": "x", "rows": "agent", "period": "day",
                                          "range": "today", "columns": "calls_made"})
    template_id = session.scalars(select(ReportTemplate.id)).one()
    assert mgr.post(f"/review/calls/templates/{template_id}/delete").status_code == 400
    assert templates_count(session) == 1


def test_forged_choices_are_refused(login, session, world):
    mgr = login("mgr")
    forged = post(mgr, "/review/calls/templates", {
        "name": "x", "rows": "agent", "period": "day", "range": "today",
        "columns": ["calls_made", "talk_seconds) FROM calls; DROP TABLE calls; --"]})
    assert forged.status_code == 302 and templates_count(session) == 0
    assert "输入值无效：列" in mgr.get(forged.location).get_data(as_text=True)
    good = dict(rows="agent", period="day", range="today", columns="calls_made")
    for key, value in (("columns", "password_hash"), ("rows", "users.password_hash"),
                       ("period", "hour"), ("directions", "internal"), ("range", "forever"),
                       ("team_id", "1;"), ("campaign_id", "999"), ("user_id", "x")):
        assert mgr.get("/review/calls/custom", query_string={**good, key: value}
                       ).status_code == 400, key
    base = "/review/calls/custom?rows=agent&period=day&range=today&columns=calls_made"
    assert mgr.get(base).status_code == 200
    assert post(mgr, "/review/calls/templates", {"name": " ", "rows": "agent", "period": "day",
                                                 "range": "today", "columns": "calls_made"}
                ).status_code == 302
    assert templates_count(session) == 0


def test_the_review_pages_link_the_call_reports(login, world):
    page = login("tm").get("/review?from=2026-11-26&to=2026-11-26").get_data(as_text=True)
    assert "/review/calls" in page and "电话报表" in page
    charts = login("tm").get("/review/charts").get_data(as_text=True)
    assert 'id="chart-calls-per-day"' in charts and "张军" not in charts
    assert "张军" in login("mgr").get("/review/charts").get_data(as_text=True)
