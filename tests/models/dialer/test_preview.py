"""Preview dialling: the agent sees the customer, then dials. The whole model flow, compliance
at offer and at dial time, skips that count no attempt, and the races (two agents, two dialers,
a skip against a claim) on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from models.dialer import preview
from models.dialer.agent_states import call_ended, current, set_state, take_ready_agent
from models.dialer.campaigns import change_status, create_campaign
from models.dialer.dialing import finish_attempt, mark_answered
from models.dialer.dnc import add_number
from models.dialer.preview import (
    SKIP_DELAY,
    claim_dial_requests,
    preview_card,
    preview_next,
    request_dial,
    skip,
)
from models.errors import DomainError, NotFound, PermissionDenied
from models.org.users import create_user
from models.schema import AgentStateLog, CampaignLead, Customer, DialAttempt


@pytest.fixture
def agents(session, users):
    users["tm"].extension, users["tm2"].extension = "8001", "8002"
    session.commit()
    return users["tm"], users["tm2"]


@pytest.fixture
def running(session, users, clock, agents):
    """running(**fields) -> a started preview campaign with tm and tm2 on its team."""
    counter = iter(range(1, 1000))

    def make(team=agents, **fields):
        fields.setdefault("name", "预览活动%d" % next(counter))
        fields.setdefault("mode", "preview")
        c = create_campaign(session, users["mgr"], clock=clock,
                            agent_ids=[u.id for u in team], **fields)
        change_status(session, users["mgr"], c.id, "start", clock=clock)
        session.commit()
        return c
    return make


def ready(session, agent, campaign, clock):
    set_state(session, agent, "ready", campaign_id=campaign.id, clock=clock)
    session.commit()


def lead_of(session, attempt_or_customer_id, campaign):
    customer_id = getattr(attempt_or_customer_id, "customer_id", attempt_or_customer_id)
    return session.scalar(select(CampaignLead).where(
        CampaignLead.campaign_id == campaign.id, CampaignLead.customer_id == customer_id)
        .execution_options(populate_existing=True))


def state(session, agent):
    session.expire_all()
    me = current(session, agent.id)
    return me.state, me.reason, me.attempt_id


def attempt_count(session):
    return session.scalar(select(func.count()).select_from(DialAttempt))


def test_a_preview_call_from_next_customer_to_ready(session, users, running, clock, make_customer):
    from models.crm.contact_records import add_contact_record
    tm = users["tm"]
    customer = make_customer("杭州电梯有限公司", mobile="13955556666", contact_person="周先生")
    add_contact_record(session, tm, customer.id, content="上次说月底再联系", clock=clock)
    session.commit()
    c = running()
    ready(session, tm, c, clock)

    attempt = preview_next(session, tm, c.id, clock=clock)
    session.commit()
    assert (attempt.customer_id, attempt.agent_id, attempt.dialer_id, attempt.number) == \
        (customer.id, tm.id, None, "+8613955556666")
    assert state(session, tm) == ("on_call", "preview", attempt.id)
    assert lead_of(session, attempt, c).status == "dialling"
    card = preview_card(session, tm, attempt)
    assert card["customer"]["name"] == "杭州电梯有限公司"
    assert card["customer"]["contact_person"] == "周先生"
    assert [r["content"] for r in card["customer"]["records"]] == ["上次说月底再联系"]
    assert (card["hidden"], card["earlier_attempts"]) == (False, 0)
    # Asking again (a reload, a double click) gives the same customer.
    assert preview_next(session, tm, c.id, clock=clock).id == attempt.id
    # Nothing is dialled before the agent asks.
    assert claim_dial_requests(session, c.id, "d1", clock=clock) == []

    clock.advance(seconds=20)
    request_dial(session, tm, attempt.id, clock=clock)
    session.commit()
    assert state(session, tm) == ("on_call", "dial", attempt.id)
    claimed = claim_dial_requests(session, c.id, "d1", clock=clock)
    session.commit()
    assert claimed == [preview.PreviewDial(attempt.id, attempt.channel_id, "+8613955556666",
                                           tm.id, "8001")]
    assert state(session, tm) == ("on_call", "dialling", attempt.id)
    session.refresh(attempt)
    assert (attempt.dialer_id, attempt.started_at) == ("d1", clock.now())
    assert claim_dial_requests(session, c.id, "d2", clock=clock) == []

    # The customer answers; the outbound handler puts the call through to the agent who chose it.
    clock.advance(seconds=8)
    mark_answered(session, attempt.channel_id, clock=clock)
    assert take_ready_agent(session, attempt, clock=clock).id == tm.id
    session.commit()
    assert attempt.connected_at == clock.now()
    assert state(session, tm) == ("on_call", None, attempt.id)
    clock.advance(seconds=95)
    finished = finish_attempt(session, attempt.channel_id, reason=4, cause=16, clock=clock)
    assert call_ended(session, finished, clock=clock) is True
    session.commit()
    assert (finished.outcome, finished.talk_seconds) == ("answered", 95.0)
    assert state(session, tm)[0] == "wrap_up"
    assert lead_of(session, attempt, c).status == "done"
    set_state(session, tm, "ready", disposition="interested", clock=clock)
    session.commit()
    assert state(session, tm) == ("ready", None, None)
    spans = session.execute(select(AgentStateLog.state, AgentStateLog.reason,
                                   AgentStateLog.disposition)
                            .where(AgentStateLog.user_id == tm.id)
                            .order_by(AgentStateLog.id)).all()
    assert [tuple(s) for s in spans] == [
        ("ready", None, None), ("on_call", "preview", None), ("on_call", "dial", None),
        ("on_call", "dialling", None), ("on_call", None, None), ("wrap_up", None, "interested"),
        ("ready", None, None)]
    # The hopper is empty now.
    assert preview_next(session, tm, c.id, clock=clock) is None


def test_a_busy_preview_call_goes_to_wrap_up_and_is_retried(session, users, running, clock,
                                                            make_customer):
    tm = users["tm"]
    make_customer(mobile="13955550001")
    c = running(retry_rules={"busy": {"delay_min": 10, "max": 3}})
    ready(session, tm, c, clock)
    attempt = preview_next(session, tm, c.id, clock=clock)
    request_dial(session, tm, attempt.id, clock=clock)
    claim_dial_requests(session, c.id, "d1", clock=clock)
    session.commit()
    clock.advance(seconds=12)
    finished = finish_attempt(session, attempt.channel_id, reason=5, cause=17, clock=clock)
    call_ended(session, finished, clock=clock)
    session.commit()
    assert finished.outcome == "busy" and state(session, tm)[0] == "wrap_up"
    lead = lead_of(session, attempt, c)
    assert (lead.status, lead.attempts, lead.next_attempt_at) == \
        ("queued", 1, clock.now() + dt.timedelta(minutes=10))
    set_state(session, tm, "ready", disposition="callback", clock=clock)
    clock.advance(minutes=10)
    again = preview_next(session, tm, c.id, clock=clock)
    session.commit()
    card = preview_card(session, tm, again)
    assert (card["earlier_attempts"], card["last_outcome"]) == (1, "busy")


def test_blocked_and_out_of_hours_leads_are_never_offered(session, users, running, clock,
                                                          make_customer):
    tm = users["tm"]
    listed = make_customer("禁呼名单", mobile="13900000001")
    flagged = make_customer("客户拒绝", mobile="13900000002")
    london = make_customer("伦敦客户", mobile="13900000003")
    good = make_customer("可拨客户", mobile="13900000004")
    add_number(session, users["mgr"], "13900000001", clock=clock)
    session.get(Customer, flagged.id).do_not_call = True
    session.get(Customer, london.id).time_zone = "Europe/London"   # 02:00 there
    session.commit()
    c = running()
    ready(session, tm, c, clock)
    attempt = preview_next(session, tm, c.id, clock=clock)
    session.commit()
    assert attempt.customer_id == good.id
    skip(session, tm, attempt.id, clock=clock)
    session.commit()
    assert preview_next(session, tm, c.id, clock=clock) is None
    assert attempt_count(session) == 0
    assert lead_of(session, listed.id, c).status == "dnc"
    assert lead_of(session, london.id, c).status == "queued"


def test_dialling_checks_compliance_again(session, users, running, clock, make_customer):
    tm = users["tm"]
    customer = make_customer(mobile="13900000011")
    c = running()
    ready(session, tm, c, clock)
    attempt = preview_next(session, tm, c.id, clock=clock)
    session.commit()
    # Put on the list while the agent reads the card: the dial is refused, nothing changes.
    add_number(session, users["mgr"], "13900000011", clock=clock)
    session.commit()
    with pytest.raises(DomainError) as refused:
        request_dial(session, tm, attempt.id, clock=clock)
    assert refused.value.key == "preview.do_not_call"
    session.rollback()
    assert state(session, tm) == ("on_call", "preview", attempt.id)
    # Past 21:00 in the customer's zone.
    session.get(Customer, customer.id).do_not_call = False
    from models.dialer.dnc import remove_number
    remove_number(session, users["mgr"], "+8613900000011")
    clock.advance(hours=11)
    session.commit()
    with pytest.raises(DomainError) as refused:
        request_dial(session, tm, attempt.id, clock=clock)
    assert refused.value.key == "preview.outside_hours"
    session.rollback()
    # Asked in hours, but the dialer comes late: back to the preview, not dialled.
    clock.advance(hours=-11)
    request_dial(session, tm, attempt.id, clock=clock)
    session.commit()
    clock.advance(hours=11)
    assert claim_dial_requests(session, c.id, "d1", clock=clock) == []
    session.commit()
    assert state(session, tm) == ("on_call", "preview", attempt.id)
    session.refresh(attempt)
    assert attempt.dialer_id is None
    # A paused campaign dials nothing either.
    clock.advance(hours=-11)
    request_dial(session, tm, attempt.id, clock=clock)
    change_status(session, users["mgr"], c.id, "pause", clock=clock)
    session.commit()
    assert claim_dial_requests(session, c.id, "d1", clock=clock) == []
    session.commit()
    assert state(session, tm)[1] == "preview"


def test_skip_returns_the_lead_and_counts_no_attempt(session, users, running, clock,
                                                    make_customer):
    tm = users["tm"]
    first = make_customer(mobile="13900000021")
    second = make_customer(mobile="13900000022")
    c = running(max_attempts_24h=1, max_attempts_5min=1)
    ready(session, tm, c, clock)
    attempt = preview_next(session, tm, c.id, clock=clock)
    session.commit()
    assert attempt.customer_id == first.id
    request_dial(session, tm, attempt.id, clock=clock)   # a dial not yet claimed may be taken back
    skip(session, tm, attempt.id, clock=clock)
    session.commit()
    assert state(session, tm) == ("ready", None, None)
    assert attempt_count(session) == 0
    lead = lead_of(session, first.id, c)
    assert (lead.status, lead.attempts, lead.last_attempt_at, lead.next_attempt_at) == \
        ("queued", 0, None, clock.now() + SKIP_DELAY)
    with pytest.raises(NotFound):
        skip(session, tm, attempt.id, clock=clock)
    session.rollback()
    # The next customer is another one; the skipped one comes back later, its caps untouched.
    nxt = preview_next(session, tm, c.id, clock=clock)
    session.commit()
    assert nxt.customer_id == second.id
    skip(session, tm, nxt.id, clock=clock)
    session.commit()
    assert preview_next(session, tm, c.id, clock=clock) is None
    clock.advance(seconds=SKIP_DELAY.total_seconds())
    back = preview_next(session, tm, c.id, clock=clock)
    session.commit()
    assert back.customer_id == first.id
    assert lead_of(session, first.id, c).attempts == 1
    # Once the dialer has it, it cannot be skipped.
    request_dial(session, tm, back.id, clock=clock)
    claim_dial_requests(session, c.id, "d1", clock=clock)
    session.commit()
    with pytest.raises(DomainError) as refused:
        skip(session, tm, back.id, clock=clock)
    assert refused.value.key == "preview.already_dialled"


def test_leaving_the_campaign_returns_the_previewed_lead(session, users, running, clock,
                                                        make_customer):
    tm = users["tm"]
    customer = make_customer(mobile="13900000031")
    c = running()
    ready(session, tm, c, clock)
    attempt = preview_next(session, tm, c.id, clock=clock)
    request_dial(session, tm, attempt.id, clock=clock)
    session.commit()
    set_state(session, tm, "logged_out", clock=clock)
    session.commit()
    assert attempt_count(session) == 0
    lead = lead_of(session, customer.id, c)
    assert (lead.status, lead.attempts, lead.next_attempt_at) == ("queued", 0, clock.now())
    assert claim_dial_requests(session, c.id, "d1", clock=clock) == []


def test_an_answer_after_the_agent_left_is_not_put_through(session, users, running, clock,
                                                          make_customer):
    tm = users["tm"]
    make_customer(mobile="13900000041")
    c = running()
    ready(session, tm, c, clock)
    attempt = preview_next(session, tm, c.id, clock=clock)
    request_dial(session, tm, attempt.id, clock=clock)
    claim_dial_requests(session, c.id, "d1", clock=clock)
    set_state(session, tm, "logged_out", clock=clock)
    session.commit()
    assert attempt_count(session) == 1             # being dialled: not taken back
    mark_answered(session, attempt.channel_id, clock=clock)
    assert take_ready_agent(session, attempt, clock=clock) is None
    finished = finish_attempt(session, attempt.channel_id, reason=4, cause=16, clock=clock)
    session.commit()
    assert finished.outcome == "abandoned"
    lead = lead_of(session, attempt, c)
    assert (lead.status, lead.next_attempt_at) == ("queued", clock.now())   # no cool-down


def test_who_may_preview_dial_and_skip(session, users, running, clock, make_customer):
    tm, tm2, rep = users["tm"], users["tm2"], users["rep"]
    make_customer(mobile="13900000051")
    make_customer(mobile="13900000052")
    c = running()
    with pytest.raises(DomainError) as refused:
        preview_next(session, tm, c.id, clock=clock)             # not ready
    assert refused.value.key == "preview.not_ready"
    with pytest.raises(PermissionDenied):
        preview_next(session, rep, c.id, clock=clock)            # not on the team
    with pytest.raises(NotFound):
        preview_next(session, tm, c.id + 1000, clock=clock)
    predictive = running(mode="predictive")
    ready(session, tm, predictive, clock)
    with pytest.raises(DomainError) as refused:
        preview_next(session, tm, predictive.id, clock=clock)
    assert refused.value.key == "preview.not_preview"
    set_state(session, tm, "logged_out", clock=clock)
    ready(session, tm, c, clock)
    ready(session, tm2, c, clock)
    mine = preview_next(session, tm, c.id, clock=clock)
    session.commit()
    for action in (request_dial, skip):
        with pytest.raises(PermissionDenied):
            action(session, tm2, mine.id, clock=clock)
        session.rollback()
    assert state(session, tm) == ("on_call", "preview", mine.id)
    # tm2 has no preview of their own to dial; without an extension nobody can be put through.
    theirs = preview_next(session, tm2, c.id, clock=clock)
    tm2.extension = None
    session.commit()
    with pytest.raises(DomainError) as refused:
        request_dial(session, tm2, theirs.id, clock=clock)
    assert refused.value.key == "preview.no_extension"
    session.rollback()
    assert claim_dial_requests(session, c.id, "d1", clock=clock) == []


def test_a_customer_the_agent_may_not_open_shows_no_card(session, users, running, clock,
                                                        make_customer):
    make_customer("张军的私人客户", owner="tm2", mobile="13900000061")
    c = running()
    ready(session, users["tm"], c, clock)
    attempt = preview_next(session, users["tm"], c.id, clock=clock)
    session.commit()
    card = preview_card(session, users["tm"], attempt)
    assert (card["customer"], card["hidden"], card["number"]) == (None, True, "+8613900000061")


def run_together(*calls):
    """Run the calls in threads released at once; their results (or exceptions) in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(5)
            results[i] = call()
        except Exception as exc:   # returned to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def in_session(Session, fn):
    def call():
        with Session() as s:
            out = fn(s)
            s.commit()
            return out
    return call


def test_two_agents_never_get_the_same_lead(Session, session, users, running, clock,
                                            make_customer):
    make_customer(mobile="13900000071")
    c = running()
    tm, tm2 = users["tm"], users["tm2"]
    ready(session, tm, c, clock)
    ready(session, tm2, c, clock)

    def next_for(user_id):
        return in_session(Session, lambda s: getattr(
            preview_next(s, s.get(type(tm), user_id), c.id, clock=clock), "id", None))

    results = run_together(next_for(tm.id), next_for(tm2.id))
    assert not [r for r in results if isinstance(r, Exception)], results
    got = [r for r in results if r is not None]
    assert len(got) == 1 and attempt_count(session) == 1
    states = sorted([state(session, tm)[0], state(session, tm2)[0]])
    assert states == ["on_call", "ready"]


def test_two_dialers_claim_each_request_once(Session, session, users, running, clock,
                                             make_customer):
    team = [users["tm"], users["tm2"]] + [
        create_user(session, f"preview{i}", f"预览坐席{i}", "pw", "telemarketer",
                    extension=f"81{i:02d}", clock=clock) for i in range(4)]
    session.commit()
    for i in range(len(team)):
        make_customer(mobile=f"139000001{i:02d}")
    c = running(team=team)
    attempts = []
    for agent in team:
        ready(session, agent, c, clock)
        attempt = preview_next(session, agent, c.id, clock=clock)
        request_dial(session, agent, attempt.id, clock=clock)
        session.commit()
        attempts.append(attempt.id)

    def claim(dialer_id):
        return in_session(Session, lambda s: [
            d.attempt_id for d in claim_dial_requests(s, c.id, dialer_id, clock=clock)])

    first, second = run_together(claim("d1"), claim("d2"))
    assert not isinstance(first, Exception) and not isinstance(second, Exception), (first, second)
    assert sorted(first + second) == sorted(attempts) and not set(first) & set(second)
    session.expire_all()
    owners = dict(session.execute(select(DialAttempt.id, DialAttempt.dialer_id)).all())
    assert owners == {**{a: "d1" for a in first}, **{a: "d2" for a in second}}
    assert {state(session, agent)[1] for agent in team} == {"dialling"}


def test_a_skip_racing_the_dialer_has_one_winner(Session, session, users, running, clock,
                                                 make_customer):
    tm = users["tm"]
    make_customer(mobile="13900000081")
    c = running()
    ready(session, tm, c, clock)
    attempt = preview_next(session, tm, c.id, clock=clock)
    request_dial(session, tm, attempt.id, clock=clock)
    session.commit()
    skipped, claimed = run_together(
        in_session(Session, lambda s: skip(s, s.get(type(tm), tm.id), attempt.id, clock=clock)),
        in_session(Session, lambda s: claim_dial_requests(s, c.id, "d1", clock=clock)))
    session.expire_all()
    if claimed:
        assert isinstance(skipped, DomainError)
        assert skipped.key in ("preview.already_dialled", "agent_state.changed")
        assert session.get(DialAttempt, attempt.id).dialer_id == "d1"
        assert state(session, tm)[1] == "dialling"
    else:
        assert skipped is None and claimed == []
        assert attempt_count(session) == 0 and state(session, tm)[0] == "ready"
