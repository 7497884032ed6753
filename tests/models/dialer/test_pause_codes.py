"""Pause codes: the admin's table replaces the fixed list; the agent's pause reads it."""
from __future__ import annotations

import pytest

from models.dialer import pause_codes
from models.dialer.agent_states import current, set_state
from models.errors import DomainError, InvalidValue, NotFound
from models.schema import PauseCode
from models.setup import install_defaults

from tests.models.dialer.test_agent_states import make_campaign


def test_defaults_are_the_six_reasons_of_old_in_order(session):
    assert [p.code for p in pause_codes.all_codes(session)] == [
        "break", "meal", "meeting", "training", "paperwork", "other"]
    assert pause_codes.labels(session)["meal"] == "用餐"
    assert pause_codes.labels(session, "en")["meal"] == "Meal"
    assert pause_codes.productive_codes(session) == {"meeting", "training", "paperwork"}


def test_install_keeps_what_the_admin_changed(session):
    pause_codes.update_code(session, "meal", dict(label_zh="吃饭", label_en="Lunch", active=False,
                                                  position=5))
    install_defaults(session)
    row = session.get(PauseCode, "meal")
    assert (row.label_zh, row.active, row.position) == ("吃饭", False, 5)


def test_create_checks_code_and_labels(session):
    pause_codes.create_code(session, dict(code="coaching", label_zh="辅导", label_en="Coaching",
                                          productive="on", active="on", position="70"))
    assert session.get(PauseCode, "coaching").productive is True
    with pytest.raises(InvalidValue) as e:
        pause_codes.create_code(session, dict(code="coaching", label_zh="x", label_en="x"))
    assert e.value.key == "pause_code.duplicate_code"
    for bad in ("Coach", "c", "教练", "a b"):
        with pytest.raises(InvalidValue):
            pause_codes.create_code(session, dict(code=bad, label_zh="x", label_en="x"))
    for label in ("", "午\r\nAction: Hangup"):     # the label goes into an AMI header
        with pytest.raises(InvalidValue):
            pause_codes.create_code(session, dict(code="badlabel", label_zh=label, label_en="x"))
    with pytest.raises(NotFound):
        pause_codes.update_code(session, "nope", dict(label_zh="x", label_en="x"))


def test_the_agent_pauses_with_an_active_code_of_the_table_only(session, users, clock):
    tm = users["tm"]
    campaign = make_campaign(session, clock, [tm])
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    pause_codes.create_code(session, dict(code="coaching", label_zh="辅导", label_en="Coaching",
                                          active="on"))
    assert set_state(session, tm, "paused", reason="coaching", clock=clock).reason == "coaching"
    for bad in (None, "", "nap"):
        with pytest.raises(DomainError) as e:
            set_state(session, tm, "paused", reason=bad, clock=clock)
        assert e.value.key == "agent_state.reason_required"
    pause_codes.update_code(session, "break", dict(label_zh="小休", label_en="Break", active=False))
    with pytest.raises(InvalidValue) as e:
        set_state(session, tm, "paused", reason="break", clock=clock)
    assert e.value.key == "pause_code.inactive"
    assert current(session, tm.id).reason == "coaching"
