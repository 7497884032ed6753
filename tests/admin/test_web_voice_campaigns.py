"""The campaign pages for voice campaigns (T9): the kind, flow and line limit in the form, the
live line figures and the dial report with its xlsx export; zh_CN."""
from __future__ import annotations

import dataclasses
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models.dialer import campaigns as rules
from models.schema import Campaign

from tests.models.dialer.test_agent_states import make_attempt
from tests.web_helpers import committing, post

from .test_web_campaigns import form_data, text


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


def test_a_voice_campaign_is_made_with_a_flow_of_ivr_flows_and_a_line_limit(as_user, session, users):
    mgr = as_user("mgr")
    page = text(mgr.get("/campaigns/new"))
    assert '<option value="voice"' in page and "语音外呼（无需坐席）" in page
    assert '<option value="main"' in page and 'name="max_lines"' in page
    assert "等待提示音后留言" in page
    refused = post(mgr, "/campaigns/new", form_data(name="通知", mode="voice", ivr_flow="nosuch",
                                                    max_lines="30", machine_action="hangup"))
    assert refused.status_code == 400 and "语音流程的值无效" in text(refused)
    missing = post(mgr, "/campaigns/new", form_data(name="通知", mode="voice", ivr_flow="main",
                                                    max_lines=""))
    assert missing.status_code == 400 and "语音外呼活动需要选择语音流程并设置线路上限" in text(missing)
    assert session.scalar(select(Campaign).where(Campaign.name == "通知")) is None
    done = post(mgr, "/campaigns/new", form_data(name="通知", mode="voice", ivr_flow="main",
                                                 max_lines="30", machine_action="hangup"))
    assert done.status_code == 302, text(done)
    c = session.scalar(select(Campaign).where(Campaign.name == "通知"))
    assert (c.mode, c.ivr_flow, c.max_lines, c.machine_action) == ("voice", "main", 30, "hangup")
    started = post(mgr, f"/campaigns/{c.id}/status", {"action": "start"})
    assert started.status_code == 302           # no team needed
    session.refresh(c)
    assert c.status == "running"


def test_live_line_figures_and_the_dial_report(app, as_user, session, users, clock, monkeypatch):
    monkeypatch.setitem(app.config, "DIALFUNNEL_SETTINGS", dataclasses.replace(
        app.config["DIALFUNNEL_SETTINGS"], dialer_trunk_lines=60))
    campaign = rules.create_campaign(session, users["mgr"], clock=clock, name="欠费通知",
                                     mode="voice", ivr_flow="main", max_lines=30)
    make_attempt(session, clock, campaign, outcome="answered", ended=True, talk=90)
    make_attempt(session, clock, campaign, outcome="machine", ended=True)
    make_attempt(session, clock, campaign, outcome="busy", ended=True)
    make_attempt(session, clock, campaign)
    session.commit()
    mgr = as_user("mgr")
    page = text(mgr.get(f"/campaigns/{campaign.id}"))
    assert re.search(r'data-stat="voice_lines_in_use">1</span> / 30', page)
    assert "中继上限 60" in page and re.search(r'data-stat="voice_dialled">4<', page)
    assert re.search(r'data-stat="voice_machine">1<', page)
    assert re.search(r'data-stat="voice_no_answer">1<', page)
    report = text(mgr.get(f"/campaigns/{campaign.id}/report"))
    assert "拨号统计" in report and "线路分钟数" in report and "合计" in report
    xlsx = mgr.get(f"/campaigns/{campaign.id}/report?by=dial&export=xlsx")
    assert xlsx.status_code == 200
    rows = list(load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("日期", "已拨打", "已接通")
    assert rows[-1][0] == "合计" and rows[-1][1:5] == (4, 1, 1, 1)
    ordinary = rules.create_campaign(session, users["mgr"], clock=clock, name="普通",
                                     mode="progressive")
    session.commit()
    assert mgr.get(f"/campaigns/{ordinary.id}/report?by=dial").status_code == 400
