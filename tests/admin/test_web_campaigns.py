"""Campaign pages: settings form, start / pause / stop, live view and its event stream, reports
and exports, the do-not-call list, the agent's dialer widget; who may see what; zh_CN and en."""
from __future__ import annotations

import io
import json
import re

import pytest
from babel.messages.pofile import read_po
from openpyxl import load_workbook
from sqlalchemy import select

from models.dialer import campaigns as rules
from models.dialer.agent_states import call_ended, current, set_state, take_ready_agent
from models.schema import AgentStateLog, Campaign, CampaignAgent, DialAttempt, DoNotCall

from tests.models.dialer.test_agent_states import make_attempt
from tests.repo_paths import ROOT
from tests.web_helpers import committing, post


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


@pytest.fixture
def campaign(session, users, clock):
    c = rules.create_campaign(session, users["mgr"], clock=clock, name="春季回访",
                              mode="progressive", agent_ids=[users["tm"].id])
    session.commit()
    return c


def text(response) -> str:
    return response.get_data(as_text=True)


def form_data(**changes):
    data = dict(name="双十一外呼", mode="predictive", filter_stage="target", filter_ownership="",
                filter_query="", caller_id="021-62345678", ring_timeout_s="30",
                abandon_cap_pct="2.5", hours_start="09:00", hours_end="20:00",
                skip_holidays="1", max_attempts_24h="4", max_attempts_5min="2",
                abandon_cooldown_h="96", machine_action="retry", machine_message="",
                abandon_message="sorry_busy", schedule_start_at="2026-12-01T09:00",
                schedule_end_at="", retry_busy_delay="15", retry_busy_max="2")
    data.update(changes)
    return data


def test_a_manager_creates_and_edits_a_campaign(as_user, session, users, clock):
    mgr = as_user("mgr")
    page = mgr.get("/campaigns/new")
    assert page.status_code == 200 and 'id="campaign-form"' in text(page)
    data = form_data()
    data["agent_ids"] = [str(users["tm"].id), str(users["tm2"].id)]
    response = post(mgr, "/campaigns/new", data)
    assert response.status_code == 302, text(response)
    c = session.scalar(select(Campaign).where(Campaign.name == "双十一外呼"))
    assert (c.mode, c.filter_stage, c.filter_ownership, c.caller_id, c.ring_timeout_s,
            c.abandon_cap_pct, c.hours_start, c.hours_end, c.skip_holidays) == \
        ("predictive", "target", None, "+862162345678", 30, 2.5, "09:00", "20:00", True)
    assert (c.max_attempts_24h, c.max_attempts_5min, c.abandon_cooldown_h, c.machine_action,
            c.abandon_message) == (4, 2, 96, "retry", "sorry_busy")
    assert c.retry_rules["busy"] == {"delay_min": 15, "max": 2}
    assert c.retry_rules["noanswer"] == rules.DEFAULT_RETRY_RULES["noanswer"]
    assert c.schedule_start_at.isoformat() == "2026-12-01T01:00:00+00:00"   # 09:00 Shanghai
    assert response.location.endswith(f"/campaigns/{c.id}")
    assert rules.team_ids(session, c.id) == sorted([users["tm"].id, users["tm2"].id])
    # The edit form shows what is stored, in company time.
    page = text(mgr.get(f"/campaigns/{c.id}/edit"))
    assert 'value="2026-12-01T09:00"' in page and 'value="+862162345678"' in page
    assert re.search(r'<input[^>]*name="name"[^>]*value="双十一外呼"', page), "the name is shown"
    data = form_data(name="双十一外呼（二）", skip_holidays="", retry_busy_delay="20",
                     filter_query=json.dumps({"field": "city", "op": "eq", "value": "上海"}))
    data["agent_ids"] = [str(users["tm2"].id)]
    response = post(mgr, f"/campaigns/{c.id}/edit", data)
    assert response.status_code == 302, text(response)
    session.expire_all()
    c = session.get(Campaign, c.id)
    assert c.name == "双十一外呼（二）" and c.skip_holidays is False
    assert c.filter_query == {"field": "city", "op": "eq", "value": "上海"}
    assert c.retry_rules["busy"] == {"delay_min": 20, "max": 2}
    assert rules.team_ids(session, c.id) == [users["tm2"].id]


def test_a_refused_form_is_shown_again_and_changes_nothing(as_user, session, campaign):
    mgr = as_user("mgr")
    response = post(mgr, "/campaigns/new", form_data(hours_start="21:00", hours_end="08:00"))
    assert response.status_code == 400
    page = text(response)
    assert 'id="form-error"' in page and 'value="双十一外呼"' in page
    response = post(mgr, f"/campaigns/{campaign.id}/edit", form_data(ring_timeout_s="5"))
    assert response.status_code == 400 and 'id="form-error"' in text(response)
    assert session.scalar(select(Campaign.name).where(Campaign.name == "双十一外呼")) is None
    session.expire_all()
    assert session.get(Campaign, campaign.id).ring_timeout_s == 25


def test_start_pause_stop(as_user, session, campaign):
    mgr = as_user("mgr")
    page = text(mgr.get(f"/campaigns/{campaign.id}"))
    assert 'id="campaign-start"' in page and 'id="campaign-pause"' not in page
    for action, status in (("start", "running"), ("pause", "paused"), ("start", "running"),
                           ("stop", "stopped")):
        response = post(mgr, f"/campaigns/{campaign.id}/status", {"action": action})
        assert response.status_code == 302
        session.expire_all()
        assert session.get(Campaign, campaign.id).status == status
    page = text(mgr.get(f"/campaigns/{campaign.id}"))
    assert "已停止" in page and 'id="campaign-start"' not in page
    response = post(mgr, f"/campaigns/{campaign.id}/status", {"action": "start"},
                    headers={"Referer": f"/campaigns/{campaign.id}"})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == "stopped"


def test_telemarketers_see_only_their_campaigns_and_change_nothing(
        as_user, session, users, clock, campaign):
    other = rules.create_campaign(session, users["mgr"], clock=clock, name="秘密活动",
                                  agent_ids=[users["tm2"].id])
    session.commit()
    tm = as_user("tm")
    listing = text(tm.get("/campaigns"))
    assert "春季回访" in listing and "秘密活动" not in listing and "new-campaign" not in listing
    assert tm.get(f"/campaigns/{campaign.id}").status_code == 200
    assert tm.get(f"/campaigns/{other.id}").status_code == 404
    assert tm.get(f"/campaigns/{other.id}/live").status_code == 404
    for path in ("/campaigns/new", f"/campaigns/{campaign.id}/edit",
                 f"/campaigns/{campaign.id}/report", "/campaigns/dnc"):
        assert tm.get(path).status_code == 403, path
    for path, data in ((f"/campaigns/{campaign.id}/status", {"action": "start"}),
                       ("/campaigns/dnc/add", {"number": "13800000000"}),
                       (f"/campaigns/{campaign.id}/edit", form_data())):
        assert post(tm, path, data).status_code == 403, path
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == "draft"
    assert session.scalar(select(DoNotCall.number)) is None
    page = text(tm.get(f"/campaigns/{campaign.id}"))
    assert 'id="campaign-start"' not in page
    manager_list = text(as_user("mgr").get("/campaigns"))
    assert "春季回访" in manager_list and "秘密活动" in manager_list


def test_live_view_and_its_stream(app, as_user, session, users, clock, campaign):
    app.config.update(SSE_MAX_SECONDS=0.5, CAMPAIGN_LIVE_POLL_SECONDS=0.05)
    make_attempt(session, clock, campaign, outcome="answered", ended=True, talk=120,
                 agent=users["tm"])
    make_attempt(session, clock, campaign, outcome="abandoned", ended=True)
    make_attempt(session, clock, campaign)
    make_attempt(session, clock, campaign, outcome="absent", ended=True).heard = "switched_off"
    make_attempt(session, clock, campaign, outcome="absent", ended=True)   # by its cause
    set_state(session, users["tm"], "paused", reason="meal", campaign_id=campaign.id, clock=clock)
    mgr = as_user("mgr")
    page = text(mgr.get(f"/campaigns/{campaign.id}"))
    absent = re.search(r'<tr data-outcome="absent">(.*?)</tr>', page, re.S).group(1)
    assert ">2<" in absent and 'data-announced="1"' in absent and "提示音 1" in absent
    assert "由运营商提示音识别结束" in absent
    assert 'data-announced="0"' in re.search(r'<tr data-outcome="busy">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'data-stat="lines_in_flight">1<', page)
    assert re.search(r'data-stat="abandon_rate_24h">50.0%<', page)
    assert "超过上限" in page and "用餐" in page
    labels = json.loads(re.search(r'data-labels="([^"]+)"', page).group(1)
                        .replace("&#34;", '"').replace("&amp;", "&"))
    assert labels["states"]["paused"] == "暂停" and labels["outcomes"]["absent"] == "关机 / 无法接通"
    assert (labels["outcomes"]["rejected"], labels["outcomes"]["changed"]) == ("拒接", "改号")
    assert all(re.search(r"[\u4e00-\u9fff]", name) for name in labels["outcomes"].values())
    stream = mgr.get(f"/campaigns/{campaign.id}/live")
    assert stream.mimetype == "text/event-stream"
    events = [json.loads(line[6:]) for line in text(stream).splitlines()
              if line.startswith("data: ")]
    assert len(events) == 1            # nothing changed: sent once
    stats = events[0]
    assert (stats["lines_in_flight"], stats["answered"], stats["abandoned"],
            stats["abandon_rate_24h"], stats["over_cap"]) == (1, 1, 1, 50.0, True)
    assert [(a["name"], a["state"], a["reason"]) for a in stats["agents"]] == [
        (users["tm"].full_name, "paused", "meal")]
    assert stats["announced"] == {"absent": 1}
    assert (labels["announcement"], labels["announced"]) == ("提示音", "由运营商提示音识别结束，而非挂机原因")


def test_reports_and_exports(as_user, session, users, clock, campaign):
    make_attempt(session, clock, campaign, outcome="answered", ended=True, talk=90,
                 agent=users["tm"])
    make_attempt(session, clock, campaign, outcome="busy", ended=True)
    mgr = as_user("mgr")
    day = text(mgr.get(f"/campaigns/{campaign.id}/report"))
    assert "2026-11-26" in day and "50.0%" in day
    agent = text(mgr.get(f"/campaigns/{campaign.id}/report?by=agent"))
    assert users["tm"].full_name in agent
    outcome = text(mgr.get(f"/campaigns/{campaign.id}/report?by=outcome"))
    assert "忙音" in outcome and "空号" in outcome
    assert mgr.get(f"/campaigns/{campaign.id}/report?by=week").status_code == 400
    assert mgr.get(f"/campaigns/{campaign.id}/report?from=yesterday").status_code == 400
    xlsx = mgr.get(f"/campaigns/{campaign.id}/report?by=outcome&export=xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    rows = {r[0]: r for r in sheet.iter_rows(values_only=True)}
    assert rows["已接通"][1] == 1 and rows["已接通"][2] == 50.0 and rows["忙音"][1] == 1
    csv = mgr.get(f"/campaigns/{campaign.id}/report?by=day&export=csv&from=2026-11-26&to=2026-11-26")
    lines = csv.data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("日期,呼叫数,已结束,已接通,放弃,答录机,无效号码,接通率,放弃率")
    assert lines[1].startswith("2026-11-26,2,2,1,0,0,0,50.0,0.0,1.5")
    assert mgr.get(f"/campaigns/{campaign.id}/report?export=pdf").status_code == 400


def test_do_not_call_list(as_user, session, users):
    mgr = as_user("mgr")
    response = post(mgr, "/campaigns/dnc/add", {"number": "139 1234 5678", "reason": "客户要求"})
    assert response.status_code == 302
    assert session.get(DoNotCall, "+8613912345678").reason == "客户要求"
    upload = post(mgr, "/campaigns/dnc/upload", {
        "reason": "名单", "file": (io.BytesIO("号码,备注\n13800000001,x\n\n021-62345678\n13912345678\n".encode()),
                                   "dnc.csv")}, content_type="multipart/form-data")
    assert upload.status_code == 302
    page = text(mgr.get("/campaigns/dnc"))
    assert 'id="dnc-total">3<' in page and "客户要求" in page and "+862162345678" in page
    assert "已添加 2 个号码，1 个已在名单中，1 个无效" in page
    found = text(mgr.get("/campaigns/dnc?q=6234"))
    assert "+862162345678" in found and "+8613800000001" not in found
    assert post(mgr, "/campaigns/dnc/remove", {"number": "+8613800000001"}).status_code == 302
    assert session.get(DoNotCall, "+8613800000001") is None
    refused = post(mgr, "/campaigns/dnc/add", {"number": "abc"},
                   headers={"Referer": "/campaigns/dnc"})
    assert refused.status_code == 302
    assert len(session.scalars(select(DoNotCall.number)).all()) == 2


def test_the_agents_dialer_widget(app, as_user, session, users, clock, campaign, make_customer):
    campaign.status = "running"
    session.commit()
    customer = make_customer("杭州电梯有限公司", phone="13955556666")
    tm = as_user("tm")
    page = text(tm.get("/dialer"))
    assert f'id="join-{campaign.id}"' in page and 'data-stream="/dialer/stream"' not in page
    assert tm.get("/dialer/stream").status_code == 204
    assert post(tm, "/dialer/state", {"state": "ready", "campaign_id": str(campaign.id)}).status_code == 302
    assert current(session, users["tm"].id)[:2] == ("ready", campaign.id)
    page = text(tm.get("/dialer"))
    assert 'data-state="ready"' in page and 'data-stream="/dialer/stream"' in page
    # A pause needs a reason: refused, nothing changes.
    post(tm, "/dialer/state", {"state": "paused", "reason": ""}, headers={"Referer": "/dialer"})
    assert current(session, users["tm"].id).state == "ready"
    assert "请选择暂停原因" in text(tm.get("/dialer"))
    # The dialer puts a call through: the panel names the customer.
    attempt = make_attempt(session, clock, campaign, customer=customer, number="+8613955556666")
    take_ready_agent(session, attempt, clock=clock)
    session.commit()
    panel = text(tm.get("/dialer/panel"))
    assert 'data-state="on_call"' in panel and "杭州电梯有限公司" in panel
    app.config.update(SSE_MAX_SECONDS=0.3, SSE_POLL_SECONDS=0.05)
    events = [json.loads(line[6:]) for line in text(tm.get("/dialer/stream")).splitlines()
              if line.startswith("data: ")]
    assert events == [dict(state="on_call", campaign_id=campaign.id, reason=None,
                           attempt_id=attempt.id, idle="")]
    call_ended(session, attempt, clock=clock)
    session.commit()
    panel = text(tm.get("/dialer/panel"))
    assert 'id="wrap-up"' in panel and "有意向" in panel
    post(tm, "/dialer/state", {"state": "ready"}, headers={"Referer": "/dialer"})
    assert current(session, users["tm"].id).state == "wrap_up"
    post(tm, "/dialer/state", {"state": "paused", "disposition": "callback", "reason": "paperwork"})
    assert current(session, users["tm"].id).state == "wrap_up"     # "call back later": when?
    post(tm, "/dialer/state", {"state": "paused", "disposition": "callback", "reason": "paperwork",
                               "callback_date": "2026-11-30"})
    assert current(session, users["tm"].id)[:3] == ("paused", campaign.id, "paperwork")
    post(tm, "/dialer/state", {"state": "logged_out"})
    assert current(session, users["tm"].id).state == "logged_out"
    dispositions = session.scalars(select(AgentStateLog.disposition)
                                   .where(AgentStateLog.disposition.is_not(None))).all()
    assert dispositions == ["callback"]
    # Someone not on the team cannot join it.
    tm2 = as_user("tm2")
    assert "no-team" in text(tm2.get("/dialer"))
    post(tm2, "/dialer/state", {"state": "ready", "campaign_id": str(campaign.id)},
         headers={"Referer": "/dialer"})
    assert current(session, users["tm2"].id).state == "logged_out"
    assert session.scalar(select(CampaignAgent.user_id).where(
        CampaignAgent.user_id == users["tm2"].id)) is None


def test_pages_in_english(as_user, session, users, campaign):
    users["mgr"].language = "en"
    session.commit()
    mgr = as_user("mgr")
    page = text(mgr.get(f"/campaigns/{campaign.id}"))
    assert "Abandon rate, last 24 h" in page and "Lines in use" in page
    assert "Do-not-call list" in text(mgr.get("/campaigns/dnc"))
    assert "Retry rules" in text(mgr.get(f"/campaigns/{campaign.id}/edit"))


def test_the_edit_form_shows_the_retry_rules_in_force(as_user, session, campaign):
    """A campaign saved before the "rejected" outcome existed is retried by its default."""
    campaign.retry_rules = {"busy": {"delay_min": 15, "max": 2}}
    session.commit()
    page = text(as_user("mgr").get(f"/campaigns/{campaign.id}/edit"))
    assert re.search(r'name="retry_busy_delay" type="number" min="1" value="15"', page)
    assert re.search(r'name="retry_rejected_delay" type="number" min="1" value="240"', page)
    assert "拒接" in page and "无路由" in page


def test_every_campaign_text_has_a_chinese_translation():
    pattern = re.compile(r"""\b_l?\(\s*(['"])((?:\\.|(?!\1).)+)\1""")
    sources = [*ROOT.glob("admin/campaigns/*.py"), *ROOT.glob("admin/campaigns/templates/campaigns/*.html")]
    wanted = {m.group(2).replace("\\'", "'") for path in sources
              for m in pattern.finditer(path.read_text())}
    assert len(wanted) > 100
    translated = {}
    for po in (ROOT / "admin/i18n").glob("*.po"):
        with po.open("rb") as fh:
            translated.update({m.id: m.string for m in read_po(fh) if m.id and m.string})
    assert sorted(wanted - set(translated)) == []


@pytest.fixture
def preview_campaign(session, users, clock, make_customer):
    """A running preview campaign of tm (extension 8001) with one customer in its hopper."""
    from models.crm.contact_records import add_contact_record
    users["tm"].extension = "8001"
    customer = make_customer("宁波港务预览公司", mobile="13955557777", contact_person="钱女士")
    add_contact_record(session, users["tm"], customer.id, content="预览前的跟进记录", clock=clock)
    c = rules.create_campaign(session, users["mgr"], clock=clock, name="预览外呼",
                              mode="preview", agent_ids=[users["tm"].id])
    rules.change_status(session, users["mgr"], c.id, "start", clock=clock)
    session.commit()
    return c


def test_preview_in_the_dialer_widget(app, as_user, session, users, clock, preview_campaign):
    from models.dialer.dialing import finish_attempt, mark_answered
    from models.dialer.preview import claim_dial_requests
    tm = as_user("tm")
    post(tm, "/dialer/state", {"state": "ready", "campaign_id": str(preview_campaign.id)})
    page = text(tm.get("/dialer"))
    assert 'id="preview-next"' in page and "下一个客户" in page and "正在等待下一通电话" not in page
    assert 'id="preview-card"' not in page
    assert post(tm, "/dialer/next").status_code == 302
    me = current(session, users["tm"].id)
    assert (me.state, me.reason) == ("on_call", "preview")
    panel = text(tm.get("/dialer/panel"))
    assert 'id="preview-card"' in panel and "宁波港务预览公司" in panel and "钱女士" in panel
    assert "预览前的跟进记录" in panel and "+8613955557777" in panel and "预览中" in panel
    assert 'id="preview-dial"' in panel and 'id="preview-skip"' in panel
    assert f'name="attempt_id" value="{me.attempt_id}"' in panel
    # Dial: waiting for the dialer, which claims it; the panel follows.
    assert post(tm, "/dialer/dial", {"attempt_id": str(me.attempt_id)}).status_code == 302
    assert current(session, users["tm"].id).reason == "dial"
    panel = text(tm.get("/dialer/panel"))
    assert "等待拨号" in panel and "取消拨号" in panel and 'id="preview-dial"' not in panel
    [claimed] = claim_dial_requests(session, preview_campaign.id, "d1", clock=clock)
    session.commit()
    app.config.update(SSE_MAX_SECONDS=0.3, SSE_POLL_SECONDS=0.05)
    events = [json.loads(line[6:]) for line in text(tm.get("/dialer/stream")).splitlines()
              if line.startswith("data: ")]
    assert events == [dict(state="on_call", campaign_id=preview_campaign.id, reason="dialling",
                           attempt_id=me.attempt_id, idle="")]
    panel = text(tm.get("/dialer/panel"))
    assert "正在拨号" in panel and 'id="preview-skip"' not in panel
    attempt = mark_answered(session, claimed.channel_id, clock=clock)
    take_ready_agent(session, attempt, clock=clock)
    session.commit()
    panel = text(tm.get("/dialer/panel"))
    assert "宁波港务预览公司" in panel and 'id="preview-dialling"' not in panel
    clock.advance(seconds=60)
    call_ended(session, finish_attempt(session, claimed.channel_id, clock=clock), clock=clock)
    session.commit()
    panel = text(tm.get("/dialer/panel"))
    assert 'id="wrap-up"' in panel and 'id="preview-card"' in panel
    post(tm, "/dialer/state", {"state": "ready", "disposition": "interested"})
    # The hopper is empty now: said so, nothing changes.
    response = post(tm, "/dialer/next", headers={"Referer": "/dialer"})
    assert response.status_code == 302
    assert current(session, users["tm"].id).state == "ready"
    assert "现在没有可拨打的客户" in text(tm.get("/dialer"))


def test_preview_skip_and_refusals_in_the_widget(as_user, session, users, clock,
                                                 preview_campaign):
    tm = as_user("tm")
    post(tm, "/dialer/state", {"state": "ready", "campaign_id": str(preview_campaign.id)})
    post(tm, "/dialer/next")
    attempt_id = current(session, users["tm"].id).attempt_id
    # Someone else cannot dial or skip it; nor can anybody not logged into a preview.
    tm2 = as_user("tm2")
    for path in ("/dialer/dial", "/dialer/skip"):
        response = post(tm2, path, {"attempt_id": str(attempt_id)}, headers={"Referer": "/dialer"})
        assert response.status_code == 302
    assert "这不是您正在预览的客户" in text(tm2.get("/dialer"))
    post(tm2, "/dialer/next", headers={"Referer": "/dialer"})
    assert "请先在该外呼活动中进入就绪状态" in text(tm2.get("/dialer"))
    assert current(session, users["tm2"].id).state == "logged_out"
    assert post(tm, "/dialer/dial", {"attempt_id": "abc"}).status_code == 302
    assert current(session, users["tm"].id)[2:4] == ("preview", attempt_id)
    # Skip: ready again, the lead back in the hopper for later.
    assert post(tm, "/dialer/skip", {"attempt_id": str(attempt_id)}).status_code == 302
    me = current(session, users["tm"].id)
    assert (me.state, me.attempt_id) == ("ready", None)
    assert session.get(DialAttempt, attempt_id) is None
    page = text(tm.get("/dialer"))
    assert 'id="preview-next"' in page and 'id="preview-card"' not in page


def test_preview_widget_in_english(as_user, session, users, preview_campaign):
    users["tm"].language = "en"
    session.commit()
    tm = as_user("tm")
    post(tm, "/dialer/state", {"state": "ready", "campaign_id": str(preview_campaign.id)})
    assert "Next customer" in text(tm.get("/dialer"))
    post(tm, "/dialer/next")
    panel = text(tm.get("/dialer/panel"))
    assert "Previewing" in panel and ">Dial<" in panel and "Skip this customer" in panel
    assert "Number to dial" in panel and "Latest contact records" in panel
