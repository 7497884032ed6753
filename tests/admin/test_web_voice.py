"""Voice campaigns' admin pages (T9): the per-campaign flow results (chart, xlsx) and the flow
editor with its preview."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from models.dialer import campaigns as rules
from models.dialer.voice import CallOutcome, record_call

from tests.models.dialer.test_agent_states import make_attempt
from tests.web_helpers import committing


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
