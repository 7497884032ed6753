"""Voice campaigns' admin pages (T9): the per-campaign flow results (chart, xlsx) and the flow
editor with its preview."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from models.dialer import campaigns as rules
from models.dialer.voice import CallOutcome, record_call

from tests.models.dialer.test_agent_states import make_attempt
from tests.web_helpers import committing, post


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


@pytest.fixture
def campaign(session, users, clock):
    made = rules.create_campaign(session, users["mgr"], clock=clock, name="满意度回访",
                                 mode="progressive", agent_ids=[users["tm"].id])
    session.commit()
    return made


def call(session, clock, campaign, outcome, keys, answers=(), customer=None):
    attempt = make_attempt(session, clock, campaign, customer=customer)
    record_call(session, attempt.id, CallOutcome(flow="survey", outcome=outcome,
                                                 heard_to_end=outcome == "COMPLETED", keys=keys,
                                                 answers=list(answers)), clock=clock)
    session.commit()


def test_the_voice_results_of_a_campaign(as_user, session, users, clock, campaign, make_customer):
    customer = make_customer("回访客户", mobile="13800138000")
    call(session, clock, campaign, "COMPLETED", [["satisfaction", "1"], ["recommend", "1"]],
         [("satisfaction", "1"), ("recommend", "1")], customer=customer)
    call(session, clock, campaign, "COMPLETED", [["satisfaction", ""], ["satisfaction", "2"],
                                                 ["recommend", "2"]],
         [("satisfaction", "2"), ("recommend", "2")])
    call(session, clock, campaign, "OPTOUT", [["opt_out", "9"]])
    call(session, clock, campaign, "HANGUP", [])
    mgr = as_user("mgr")
    live = mgr.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'href="/campaigns/{campaign.id}/voice-results"' in live
    page = mgr.get(f"/campaigns/{campaign.id}/voice-results")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "完整收听</td><td class=\"text-end\">2</td><td class=\"text-end\">50.0%" in html
    assert "退订（不再接听）</td><td class=\"text-end\">1</td><td class=\"text-end\">25.0%" in html
    assert html.count("<svg") == 3          # keys, and one chart per question
    assert 'data-question="satisfaction"' in html and 'data-question="recommend"' in html
    xlsx = mgr.get(f"/campaigns/{campaign.id}/voice-results?export=xlsx")
    rows = [r for r in load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True)]
    assert rows[0] == ("分类", "项目", "呼叫数", "占比")
    table = {(r[0], r[1]): (r[2], r[3]) for r in rows[1:]}
    assert table[("按键", "1")] == (1, 0.25) and table[("按键", "9")] == (1, 0.25)
    assert table[("按键", "2")] == (1, 0.25)
    assert table[("问题 satisfaction", "1")] == (1, 0.5)
    # an agent may not see it
    assert as_user("tm").get(f"/campaigns/{campaign.id}/voice-results").status_code == 403


def test_no_results_yet(as_user, campaign):
    html = as_user("mgr").get(f"/campaigns/{campaign.id}/voice-results").get_data(as_text=True)
    assert 'id="no-results"' in html


@pytest.fixture
def flows_dir(app, tmp_path):
    """A copy of the shipped flows the page edits (the repository's stay as they are)."""
    import shutil

    from ivr_flows.flows import DEFAULT_DIR
    folder = tmp_path / "flows"
    folder.mkdir()
    for path in DEFAULT_DIR.glob("*.yaml"):
        shutil.copy(path, folder)
    app.config["IVR_FLOWS_DIR"] = str(folder)
    return folder


def test_an_admin_previews_a_flow_for_a_customer(as_user, session, users, clock, flows_dir,
                                                 make_customer):
    from models.crm.sales import create_order
    customer = make_customer("杭州恒远机电", mobile="13800138000", stage="closed", owner="tm")
    create_order(session, users["tm"], customer.id,
                 [dict(product_name="除湿机", quantity=1, unit_price="1205.30")], clock=clock)
    session.commit()
    admin = as_user("admin")
    listing = admin.get("/manage/voice-flows").get_data(as_text=True)
    for name in ("notice", "survey", "payment_reminder", "press1_talk", "greeting", "birthday"):
        assert f'href="/manage/voice-flows/{name}"' in listing
    assert 'href="/manage/voice-flows/main"' not in listing
    html = admin.get(f"/manage/voice-flows/notice?customer={customer.id}").get_data(as_text=True)
    assert ("您的订单，编号二〇二六一一二六〇〇〇一尚有应付款一千二百零五元三角请于"
            "二〇二六年十二月二十六日前完成付款。") in html
    assert 'data-step="opt_out (9)"' in html
    assert "尊敬的杭州恒远机电您好，这里是达盟科技" in html      # the salutation, spoken by name
    # without a customer the values are named, not spoken
    html = admin.get("/manage/voice-flows/notice").get_data(as_text=True)
    assert "尚有应付款[${amount_due}]" in html
    assert admin.get("/manage/voice-flows/main").status_code == 404
    assert admin.get("/manage/voice-flows/..%2Fsecrets").status_code == 404
    assert as_user("mgr").get("/manage/voice-flows").status_code == 403


def test_an_admin_edits_a_flow_and_a_bad_one_is_refused_as_typed(as_user, flows_dir):
    admin = as_user("admin")
    original = (flows_dir / "greeting.yaml").read_text(encoding="utf-8")
    broken = original.replace("opt_out: {key: 9, prompt: optout-confirmed}\n", "")
    page = post(admin, "/manage/voice-flows/greeting", {"text": broken})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'id="flow-errors"' in html
    assert "an outbound flow needs `opt_out:`" in html
    assert "description: 节日问候" in html                       # what was typed is kept
    assert (flows_dir / "greeting.yaml").read_text(encoding="utf-8") == original
    changed = original.replace("[greeting-holiday, optout-hint]", "[greeting-birthday, optout-hint]")
    page = post(admin, "/manage/voice-flows/greeting", {"text": changed})
    assert page.status_code == 302
    assert (flows_dir / "greeting.yaml").read_text(encoding="utf-8") == changed
    html = admin.get("/manage/voice-flows/greeting").get_data(as_text=True)
    assert "今天是您的生日" in html
    inbound = changed.replace("outbound: true\n", "").replace(
        "opt_out: {key: 9, prompt: optout-confirmed}\n", "")
    page = post(admin, "/manage/voice-flows/greeting", {"text": inbound})
    assert page.status_code == 400
    assert "语音外呼流程必须写明" in page.get_data(as_text=True)
