"""Campaign settings, team, status and the hopper's filling (T4)."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from models.dialer.campaigns import (
    DEFAULT_RETRY_RULES,
    active_campaigns,
    change_status,
    create_campaign,
    refresh_leads,
    set_team,
    team_ids,
    update_campaign,
)
from models.errors import DomainError, InvalidQuery, NotFound, PermissionDenied
from models.schema import Campaign, CampaignLead, DoNotCall

UTC = dt.timezone.utc


def make(session, users, clock, **fields):
    fields.setdefault("name", "秋季回访")
    campaign = create_campaign(session, users["mgr"], clock=clock, **fields)
    session.commit()
    return campaign


def leads_by_customer(session, campaign):
    rows = session.execute(select(CampaignLead.customer_id, CampaignLead.number, CampaignLead.status)
                           .where(CampaignLead.campaign_id == campaign.id))
    return {cid: (number, status) for cid, number, status in rows}


def test_defaults(session, users, clock):
    c = make(session, users, clock)
    assert (c.status, c.mode, c.ring_timeout_s, c.abandon_cap_pct) == ("draft", "predictive", 25, 3.0)
    assert (c.hours_start, c.hours_end, c.skip_holidays) == ("08:00", "21:00", True)
    assert (c.max_attempts_24h, c.max_attempts_5min, c.abandon_cooldown_h) == (5, 3, 72)
    assert c.machine_action == "message"
    assert c.retry_rules == {"busy": {"delay_min": 10, "max": 3},
                             "rejected": {"delay_min": 240, "max": 2},
                             "noanswer": {"delay_min": 60, "max": 3},
                             "absent": {"delay_min": 180, "max": 3},
                             "noroute": {"delay_min": 120, "max": 2},
                             "congestion": {"delay_min": 5, "max": 3},
                             "machine": {"delay_min": 120, "max": 2},
                             "failed": {"delay_min": 30, "max": 2}}
    assert c.created_by_id == users["mgr"].id and c.created_at == clock.now()


def test_admin_creates_with_every_field(session, users, clock):
    c = create_campaign(
        session, users["admin"], clock=clock, name=" 年终促销 ", mode="progressive",
        filter_stage="target", filter_ownership="shared",
        filter_query={"field": "city", "op": "eq", "value": "上海"}, caller_id="021-6123 4567",
        ring_timeout_s="30", abandon_cap_pct="2.5", hours_start="09:00", hours_end="18:30",
        skip_holidays="off", max_attempts_24h=4, max_attempts_5min=2, abandon_cooldown_h=96,
        retry_rules={"busy": {"max": 5}}, machine_action="retry", machine_message="leave-msg",
        abandon_message="sorry_busy", schedule_start_at="2026-12-01T09:00",
        schedule_end_at=dt.datetime(2026, 12, 31, 10, tzinfo=UTC), agent_ids=[users["tm"].id])
    assert c.name == "年终促销" and c.caller_id == "+862161234567"
    assert (c.ring_timeout_s, c.abandon_cap_pct, c.skip_holidays) == (30, 2.5, False)
    assert c.retry_rules["busy"] == {"delay_min": 10, "max": 5}
    assert c.retry_rules["noanswer"] == DEFAULT_RETRY_RULES["noanswer"]
    # a naive time is the company's (Shanghai): 09:00 there is 01:00 UTC
    assert c.schedule_start_at == dt.datetime(2026, 12, 1, 1, tzinfo=UTC)
    assert team_ids(session, c.id) == [users["tm"].id]


@pytest.mark.parametrize("role", ["tm", "rep"])
def test_only_managers_and_admins(session, users, clock, role):
    with pytest.raises(PermissionDenied):
        create_campaign(session, users[role], clock=clock, name="x")
    c = make(session, users, clock)
    for call in (lambda: update_campaign(session, users[role], c.id, clock=clock, mode="preview"),
                 lambda: set_team(session, users[role], c.id, [users["tm"].id]),
                 lambda: change_status(session, users[role], c.id, "start", clock=clock)):
        with pytest.raises(PermissionDenied):
            call()
    assert session.get(Campaign, c.id).mode == "predictive"


INVALID = [
    ({"ring_timeout_s": 14}, "campaign.ring_timeout_too_short"),
    ({"ring_timeout_s": 0}, "campaign.ring_timeout_too_short"),
    ({"ring_timeout_s": 121}, "campaign.out_of_range"),
    ({"ring_timeout_s": "abc"}, "campaign.bad_value"),
    ({"ring_timeout_s": True}, "campaign.bad_value"),
    ({"mode": "robot"}, "campaign.bad_value"),
    ({"filter_stage": "archive"}, "campaign.bad_value"),
    ({"filter_ownership": "mine"}, "campaign.bad_value"),
    ({"filter_query": "{not json"}, "campaign.bad_value"),
    ({"caller_id": "12"}, "campaign.bad_value"),
    ({"abandon_cap_pct": 101}, "campaign.out_of_range"),
    ({"abandon_cap_pct": -1}, "campaign.out_of_range"),
    ({"hours_start": "8:00"}, "campaign.bad_hours"),
    ({"hours_end": "24:00"}, "campaign.bad_hours"),
    ({"hours_start": "21:00", "hours_end": "08:00"}, "campaign.bad_hours"),
    ({"hours_start": "09:00", "hours_end": "09:00"}, "campaign.bad_hours"),
    ({"skip_holidays": "maybe"}, "campaign.bad_value"),
    ({"max_attempts_24h": 0}, "campaign.out_of_range"),
    ({"max_attempts_24h": 2}, "campaign.short_cap_over_daily"),
    ({"max_attempts_5min": 21}, "campaign.out_of_range"),
    ({"abandon_cooldown_h": 71}, "campaign.out_of_range"),
    ({"retry_rules": {"answered": {"max": 1}}}, "campaign.bad_retry_rules"),
    ({"retry_rules": {"busy": {"max": -1}}}, "campaign.bad_retry_rules"),
    ({"retry_rules": {"busy": {"delay_min": 0}}}, "campaign.bad_retry_rules"),
    ({"retry_rules": {"busy": {"every": 3}}}, "campaign.bad_retry_rules"),
    ({"retry_rules": ["busy"]}, "campaign.bad_value"),
    ({"machine_action": "voicemail"}, "campaign.bad_value"),
    ({"mode": "voice"}, "campaign.voice_needs_flow"),
    ({"mode": "voice", "ivr_flow": "notice"}, "campaign.voice_needs_flow"),
    ({"mode": "voice", "ivr_flow": "Notice!", "max_lines": 5}, "campaign.bad_value"),
    ({"mode": "voice", "ivr_flow": "notice", "max_lines": 0}, "campaign.out_of_range"),
    ({"mode": "voice", "ivr_flow": "notice", "max_lines": "x"}, "campaign.bad_value"),
    ({"machine_message": "../etc/passwd"}, "campaign.bad_value"),
    ({"schedule_start_at": "tomorrow"}, "campaign.bad_value"),
    ({"schedule_start_at": "2026-12-02T09:00", "schedule_end_at": "2026-12-01T09:00"},
     "campaign.bad_schedule"),
    ({"colour": "red"}, "campaign.unknown_field"),
    ({"name": "  "}, "campaign.name_required"),
    ({"name": "x" * 101}, "campaign.out_of_range"),
    ({"agent_ids": [999999]}, "campaign.bad_team"),
    ({"agent_ids": "1,2"}, "campaign.bad_value"),
]


def test_invalid_fields_are_refused_and_nothing_is_saved(session, users, clock):
    for fields, key in INVALID:       # one database for all cases (quicker on PostgreSQL)
        with pytest.raises(DomainError) as err:
            create_campaign(session, users["mgr"], clock=clock, **{"name": "n", **fields})
        assert err.value.key == key, fields
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_bad_query_is_the_query_builders_refusal(session, users, clock):
    with pytest.raises(InvalidQuery):
        make(session, users, clock, filter_query={"field": "password_hash", "op": "eq", "value": 1})


def test_refusal_names_the_field_in_both_languages(session, users, clock):
    with pytest.raises(DomainError) as err:
        make(session, users, clock, max_attempts_24h=500)
    assert err.value.message("en") == "Attempts per number per 24 h must be between 1 and 100"
    assert err.value.message() == "每号码 24 小时呼叫上限必须在 1 到 100 之间"
    with pytest.raises(DomainError) as err:
        make(session, users, clock, ring_timeout_s=10)
    assert err.value.message("en") == "The ring timeout must be at least 15 seconds"


def test_names_are_unique(session, users, clock):
    make(session, users, clock, name="A")
    b = make(session, users, clock, name="B")
    with pytest.raises(DomainError) as err:
        make(session, users, clock, name="A")
    assert err.value.key == "campaign.name_taken"
    with pytest.raises(DomainError):
        update_campaign(session, users["mgr"], b.id, clock=clock, name="A")
    session.rollback()
    assert session.get(Campaign, b.id).name == "B"


def test_update_checks_fields_against_the_saved_ones(session, users, clock):
    c = make(session, users, clock, hours_start="09:00", hours_end="18:00")
    with pytest.raises(DomainError) as err:
        update_campaign(session, users["mgr"], c.id, clock=clock, hours_end="08:30")
    assert err.value.key == "campaign.bad_hours"
    update_campaign(session, users["mgr"], c.id, clock=clock, retry_rules={"noanswer": {"max": 1}},
                    ring_timeout_s=15)
    update_campaign(session, users["mgr"], c.id, clock=clock, retry_rules={"busy": {"delay_min": 3}})
    session.commit()
    fresh = session.get(Campaign, c.id)
    assert fresh.hours_end == "18:00" and fresh.ring_timeout_s == 15
    assert fresh.retry_rules["noanswer"] == {"delay_min": 60, "max": 1}
    assert fresh.retry_rules["busy"] == {"delay_min": 3, "max": 3}
    with pytest.raises(NotFound):
        update_campaign(session, users["mgr"], 99999, clock=clock, mode="preview")


def test_team(session, users, clock):
    c = make(session, users, clock)
    assert set_team(session, users["mgr"], c.id, [users["tm"].id, users["tm2"].id]) == \
        sorted([users["tm"].id, users["tm2"].id])
    set_team(session, users["mgr"], c.id, [users["tm2"].id, users["rep"].id])
    session.commit()
    assert team_ids(session, c.id) == sorted([users["tm2"].id, users["rep"].id])
    users["tm"].active = False
    session.commit()
    with pytest.raises(DomainError) as err:
        set_team(session, users["mgr"], c.id, [users["tm"].id])
    assert err.value.key == "campaign.bad_team"
    assert team_ids(session, c.id) == sorted([users["tm2"].id, users["rep"].id])


def test_status_lifecycle(session, users, clock, make_customer):
    make_customer(mobile="13800138000")
    c = make(session, users, clock)
    mgr = users["mgr"]
    with pytest.raises(DomainError) as err:
        change_status(session, mgr, c.id, "start", clock=clock)
    assert err.value.key == "campaign.no_team"
    set_team(session, mgr, c.id, [users["tm"].id])
    for bad in ("pause", "launch"):
        with pytest.raises(DomainError) as err:
            change_status(session, mgr, c.id, bad, clock=clock)
        assert err.value.key == "campaign.bad_transition"
    started = clock.now()
    assert change_status(session, mgr, c.id, "start", clock=clock).status == "running"
    assert c.started_at == started
    assert len(leads_by_customer(session, c)) == 1      # starting fills the hopper
    clock.advance(hours=1)
    assert change_status(session, mgr, c.id, "pause", clock=clock).status == "paused"
    assert change_status(session, mgr, c.id, "start", clock=clock).status == "running"
    assert c.started_at == started
    assert change_status(session, mgr, c.id, "stop", clock=clock).status == "stopped"
    assert c.stopped_at == clock.now()
    for action in ("start", "pause", "stop"):
        with pytest.raises(DomainError):
            change_status(session, mgr, c.id, action, clock=clock)
    with pytest.raises(DomainError) as err:
        update_campaign(session, mgr, c.id, clock=clock, mode="preview")
    assert err.value.key == "campaign.closed"


def test_cannot_start_after_the_schedule(session, users, clock):
    c = make(session, users, clock, agent_ids=[users["tm"].id],
             schedule_end_at=clock.now() - dt.timedelta(minutes=1))
    with pytest.raises(DomainError) as err:
        change_status(session, users["mgr"], c.id, "start", clock=clock)
    assert err.value.key == "campaign.schedule_over"


def test_active_campaigns_are_running_inside_their_schedule(session, users, clock):
    now = clock.now()
    team = [users["tm"].id]
    always = make(session, users, clock, name="always", agent_ids=team)
    later = make(session, users, clock, name="later", agent_ids=team,
                 schedule_start_at=now + dt.timedelta(hours=1))
    window = make(session, users, clock, name="window", agent_ids=team,
                  schedule_start_at=now - dt.timedelta(hours=1),
                  schedule_end_at=now + dt.timedelta(hours=1))
    paused = make(session, users, clock, name="paused", agent_ids=team)
    make(session, users, clock, name="draft", agent_ids=team)
    for c in (always, later, window, paused):
        change_status(session, users["mgr"], c.id, "start", clock=clock)
    change_status(session, users["mgr"], paused.id, "pause", clock=clock)
    session.commit()
    assert [c.name for c in active_campaigns(session, clock=clock)] == ["always", "window"]
    clock.advance(hours=1)
    assert [c.name for c in active_campaigns(session, clock=clock)] == ["always", "later"]


def test_refresh_leads_filters_and_number_rule(session, users, clock, make_customer):
    mobile = make_customer(mobile="138 0013 8000", phone="021-61234567")
    landline = make_customer(phone="(021) 6123-4568")
    none = make_customer()
    flagged = make_customer(mobile="13800138001", do_not_call=True)
    listed = make_customer(mobile="13800138002")
    session.add(DoNotCall(number="+8613800138002", added_at=clock.now()))
    dead = make_customer(mobile="13800138003")
    dead.number_status = "unallocated"
    make_customer(mobile="13800138004", stage="reserve")   # other stage
    make_customer(mobile="13800138005", owner=None)        # shared
    archived = make_customer(mobile="13800138006", stage=None)
    session.commit()
    c = make(session, users, clock, filter_stage="target", filter_ownership="personal")
    assert refresh_leads(session, c, clock=clock) == 2
    session.commit()
    assert leads_by_customer(session, c) == {
        mobile.id: ("+8613800138000", "queued"), landline.id: ("+862161234568", "queued"),
        none.id: ("", "dead"), flagged.id: ("+8613800138001", "dnc"),
        listed.id: ("+8613800138002", "dnc"), dead.id: ("+8613800138003", "dead")}
    assert refresh_leads(session, c, clock=clock) == 0      # nobody twice
    any_stage = make(session, users, clock, name="any")
    refresh_leads(session, any_stage, clock=clock)
    assert archived.id not in leads_by_customer(session, any_stage)
    assert len(leads_by_customer(session, any_stage)) == 8


def test_refresh_leads_uses_the_saved_query(session, users, clock, make_customer):
    shanghai = make_customer(mobile="13800138000", city="上海")
    make_customer(mobile="13800138001", city="北京")
    c = make(session, users, clock, filter_query={"any": [
        {"field": "city", "op": "eq", "value": "上海"},
        {"field": "industry", "op": "contains", "value": "软件"}]})
    assert refresh_leads(session, c, clock=clock) == 1
    assert list(leads_by_customer(session, c)) == [shanghai.id]


def test_refresh_leads_follows_number_changes_of_queued_leads(session, users, clock, make_customer):
    a = make_customer(mobile="13800138000")
    b = make_customer(mobile="13800138001")
    c = make(session, users, clock)
    refresh_leads(session, c, clock=clock)
    a.mobile_e164, b.mobile_e164 = "+8613900139000", None
    session.commit()
    refresh_leads(session, c, clock=clock)
    session.commit()
    assert leads_by_customer(session, c) == {a.id: ("+8613900139000", "queued"),
                                             b.id: ("+8613800138001", "dead")}
