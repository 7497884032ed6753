"""Dispositions are a table the admin edits (issue 13): the defaults reproduce the dialer's five
and add do-not-call and dead number; an unknown or inactive code is refused wherever an agent
picks one; the reports read the success codes and every code from it."""
from __future__ import annotations

import pytest

from models.dialer.agent_states import call_ended, set_state, take_ready_agent
from models.dialer.campaign_stats import report
from models.errors import DomainError, InvalidValue, NotFound
from models.setup import install_defaults
from models.telephony import dispositions as rules

from tests.models.dialer.test_agent_states import make_attempt, make_campaign


def test_the_defaults_are_the_dialers_five_and_two_that_act_on_the_number(session):
    rows = rules.all_dispositions(session)
    assert [(d.code, d.label_zh) for d in rows] == [
        ("interested", "有意向"), ("not_interested", "没有意向"), ("callback", "稍后回访"),
        ("wrong_person", "找错人"), ("other", "其他"), ("do_not_call", "要求不再来电"),
        ("dead_number", "空号/错号")]
    by = {d.code: d for d in rows}
    assert by["callback"].callback_required and by["do_not_call"].add_to_dnc
    assert by["dead_number"].mark_dead and all(d.active for d in rows)
    assert rules.success_codes(session) == {"interested"}
    assert [d.code for d in rows if rules.claims(d)] == ["interested", "not_interested",
                                                        "callback", "other"]


def test_install_defaults_never_overwrites_the_admins_changes(session):
    rules.update_disposition(session, "other", dict(label_zh="其它情况", label_en="Other",
                                                    position=5, counts_as_success="1"))
    rules.set_active(session, "wrong_person", False)
    install_defaults(session)
    assert session.get(rules.Disposition, "other").label_zh == "其它情况"
    assert not session.get(rules.Disposition, "wrong_person").active
    assert rules.success_codes(session) == {"interested", "other"}
    assert rules.codes(session)[0] == "other"      # position 5 comes first


def test_the_admin_adds_one_and_bad_input_is_refused_with_its_reason(session):
    made = rules.create_disposition(session, dict(
        code="sent_quote", label_zh="已发报价", label_en="Quote sent", position="60",
        stage_action="make", stage_target="potential", counts_as_success="1"))
    assert (made.stage_action, made.stage_target, made.counts_as_success, made.active) == (
        "make", "potential", True, False)   # unchecked boxes are off, "active" included
    for values, key in [
            (dict(code="Bad Code", label_zh="甲", label_en="A"), "disposition.bad_code"),
            (dict(code="sent_quote", label_zh="甲", label_en="A"), "disposition.duplicate_code"),
            (dict(code="x_ok", label_zh="", label_en="A"), "disposition.label_required"),
            (dict(code="x_ok", label_zh="甲", label_en="A", stage_action="jump"),
             "disposition.bad_stage_action"),
            (dict(code="x_ok", label_zh="甲", label_en="A", stage_action="suggest"),
             "disposition.stage_target_required")]:
        with pytest.raises(InvalidValue) as err:
            rules.create_disposition(session, values)
        assert err.value.key == key
    with pytest.raises(NotFound):
        rules.update_disposition(session, "nope", dict(label_zh="甲", label_en="A"))


def test_an_inactive_or_unknown_code_is_refused_when_leaving_the_dialers_wrap_up(
        session, users, clock):
    tm = users["tm"]
    campaign = make_campaign(session, clock, [tm])
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    attempt = make_attempt(session, clock, campaign)
    take_ready_agent(session, attempt, clock=clock)
    call_ended(session, attempt, clock=clock)
    rules.set_active(session, "other", False)
    with pytest.raises(DomainError) as err:
        set_state(session, tm, "ready", disposition="other", clock=clock)
    assert err.value.key == "disposition.inactive"
    assert "其他" in err.value.message() and "no longer in use" in err.value.message("en")
    with pytest.raises(DomainError) as err:
        set_state(session, tm, "ready", disposition="maybe", clock=clock)
    assert err.value.message("en") == "Unknown disposition: maybe"
    set_state(session, tm, "ready", disposition="interested", clock=clock)


def test_the_agent_report_has_a_column_for_every_code_of_the_table(session, users, clock):
    tm = users["tm"]
    rules.create_disposition(session, dict(code="sent_quote", label_zh="已发报价",
                                           label_en="Quote sent", active="1"))
    campaign = make_campaign(session, clock, [tm])
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    attempt = make_attempt(session, clock, campaign)
    take_ready_agent(session, attempt, clock=clock)
    call_ended(session, attempt, clock=clock)
    set_state(session, tm, "ready", disposition="sent_quote", clock=clock)
    session.commit()
    [row] = report(session, campaign.id, "agent", clock=clock)
    assert row["dispositions"]["sent_quote"] == 1 and row["dispositions"]["interested"] == 0
    assert set(row["dispositions"]) == set(rules.codes(session))
