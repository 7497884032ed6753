"""Voice campaigns (T9) once the call is answered: the shipped outbound flows walked by the
FastAGI server over real TCP sockets, the PBX simulator playing Asterisk (the channel carries
DIALFUNNEL_ATTEMPT as the dialer's Originate sets it), against the database (SQLite, or
PostgreSQL with DIALFUNNEL_TEST_DATABASE_URL)."""
from __future__ import annotations

import datetime as dt
import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from agi.fastagi.dispatch import Registry
from agi.fastagi.server import FastAGIServer
from agi.handlers.ivr import make_ivr_handler
from agi.pbxsim.agi_driver import Scenario, run_call
from ivr_flows import load_flows
from ivr_flows.say_zh import speak
from models.crm.sales import create_order
from models.dialer import agent_states, campaigns, dialing
from models.crm.contact_records import add_contact_record
from models.schema import CampaignLead, ContactRecord, Customer, DoNotCall, Event
from models.schema.campaigns import DialAttempt
from models.schema.ivr import IVRCall
from models.schema.voice import VoiceAnswer, VoiceResult
from models.telephony.ivr import CALLBACK_PROGRESS

HOST = "127.0.0.1"
ITEM = [dict(product_name="工业除湿机", quantity=1, unit_price="1205.30")]


@pytest.fixture
def results():
    return {}


@pytest.fixture
def server(Session, clock, results):
    def keep(agi, result):
        results[agi.uniqueid] = result

    registry = Registry()
    registry.register("ivr", make_ivr_handler(clock=clock, on_result=keep, speak_text=None))
    fastagi = FastAGIServer(registry, Session, port=0, hangup_grace=0.3, env_timeout=2.0,
                            close_wait=0.5).start()
    yield fastagi
    fastagi.shutdown(grace=5)


@pytest.fixture
def attempt(Session, session, users, clock, make_customer):
    """A customer with an unpaid order (1205.30 元, ordered 2026-11-26), in a running campaign
    whose team is tm (extension 8001, not ready); one attempt dialled and answered."""
    customer = make_customer("杭州恒远机电", mobile="13800138000", stage="closed", owner="tm")
    create_order(session, users["tm"], customer.id, ITEM, clock=clock)
    admin = session.merge(users["admin"])
    campaign = campaigns.create_campaign(session, admin, clock=clock, name="催缴十二月",
                                         mode="predictive", filter_stage="closed")
    tm = session.merge(users["tm"])
    tm.extension = "8001"
    campaigns.set_team(session, admin, campaign.id, [tm.id])
    campaigns.refresh_leads(session, campaign, clock=clock)
    campaigns.change_status(session, admin, campaign.id, "start", clock=clock)
    picked = dialing.pick_leads(session, campaign.id, 1, dialer_id="t", clock=clock)[0]
    session.commit()
    return picked


def answered(server, attempt, flow, keys=(), **scenario) -> object:
    result = run_call(HOST, server.port, f"ivr?flow={flow}", callerid="4008001234",
                      env={"agi_uniqueid": attempt.channel_id, "agi_context": "dialfunnel-outbound",
                           "agi_extension": "ivr"},
                      scenario=Scenario(keys=keys, answered=True,
                                        variables={"DIALFUNNEL_ATTEMPT": str(attempt.id),
                                                   "DIALFUNNEL_CAMPAIGN": str(attempt.campaign_id)},
                                        **scenario))
    assert result.error == "", result.error
    return result


def streamed(result) -> list[str]:
    return [c.split()[2].split("/")[-1] for c in result.commands if c.startswith("STREAM FILE")]


def voice_row(Session, attempt) -> VoiceResult:
    with Session() as s:
        return s.get(VoiceResult, attempt.id)


def record_of(Session, row: VoiceResult) -> ContactRecord:
    with Session() as s:
        return s.get(ContactRecord, row.record_id)


MONEY = speak("money", "1205.30")          # 一千二百零五元三角
DUE = speak("date", "2026-12-26")           # 二〇二六年十二月二十六日 (30 days after the order)


def test_notice_speaks_the_customers_data_and_is_heard_to_the_end(server, attempt, Session,
                                                                  users, clock):
    planned = clock.now() + dt.timedelta(days=3)
    with Session() as s:
        add_contact_record(s, users["tm"], attempt.customer_id, content="下周再联系",
                           next_callback_at=planned, clock=clock)
        s.commit()
    clock.advance(minutes=10)
    result = answered(server, attempt, "notice")
    assert result.status == "COMPLETED" and result.hungup
    assert streamed(result) == (["notice-hello", "notice-order"]
                                + speak("id", "SO20261126-0001") + ["notice-amount"] + MONEY
                                + ["notice-due"] + DUE + ["notice-due-end", "notice-menu",
                                                          "voice-goodbye"])
    assert MONEY == ["say-1", "say-qian", "say-2", "say-bai", "say-0", "say-5", "say-yuan",
                     "say-3", "say-jiao"]
    # the message may be stopped by the opt-out key only; the menu listens to every key
    assert 'STREAM FILE dialfunnel/notice-hello "9" 0' in result.commands
    row = voice_row(Session, attempt)
    assert (row.outcome, row.heard_to_end, row.opted_out, row.flow, row.campaign_id) == (
        "COMPLETED", True, False, "notice", attempt.campaign_id)
    record = record_of(Session, row)
    assert (record.customer_id, record.user_id, record.method) == (attempt.customer_id, None, "phone")
    assert record.content == "语音外呼「催缴十二月」（notice）：完整收听"
    with Session() as s:     # a voice call leaves the callback an agent planned as it was
        customer = s.get(Customer, attempt.customer_id)
        assert (customer.next_callback_at, customer.last_contacted_at) == (planned, clock.now())
    with Session() as s:
        logged = s.scalars(select(IVRCall).where(IVRCall.uniqueid == attempt.channel_id)).one()
        assert (logged.flow, logged.outcome, logged.customer_id) == (
            "notice", "COMPLETED", attempt.customer_id)


def test_pressing_1_hears_the_notice_again(server, attempt, Session):
    before_menu = 3 + len(speak("id", "SO20261126-0001")) + len(MONEY) + len(DUE) + 2
    result = answered(server, attempt, "notice", [None] * before_menu + ["1"])
    assert streamed(result).count("notice-hello") == 2
    assert voice_row(Session, attempt).keys == [["again", "1"], ["again", ""]]


def test_nine_during_the_message_opts_out_confirmed_by_voice(server, attempt, Session, clock):
    result = answered(server, attempt, "notice", [None, None, "9"])
    assert result.status == "OPTOUT" and result.hungup
    assert streamed(result)[-1] == "optout-confirmed"
    assert result.commands[-2] == "HANGUP"
    with Session() as s:
        listed = s.get(DoNotCall, "+8613800138000")
        assert listed is not None and listed.added_by_id is None and listed.added_at == clock.now()
    row = voice_row(Session, attempt)
    assert (row.outcome, row.opted_out, row.heard_to_end) == ("OPTOUT", True, False)
    assert row.keys == [["opt_out", "9"]] and row.path[-1] == "opt_out"
    assert record_of(Session, row).content.endswith("按键退订（不再接听）")


def test_hanging_up_during_the_confirmation_still_opts_out(server, attempt, Session):
    # commands: GET VARIABLE, ANSWER, notice-hello (9 pressed), optout-confirmed (hung up)
    result = answered(server, attempt, "notice", ["9"], hangup_at=3)
    assert result.status == "OPTOUT" and streamed(result) == ["notice-hello", "optout-confirmed"]
    with Session() as s:
        assert s.get(DoNotCall, "+8613800138000") is not None
    assert voice_row(Session, attempt).outcome == "OPTOUT"


def test_nine_at_a_menu_opts_out_too(server, attempt, Session):
    result = answered(server, attempt, "survey", [None, "9"])
    assert result.status == "OPTOUT"
    with Session() as s:
        assert s.get(DoNotCall, "+8613800138000") is not None
        assert s.scalars(select(VoiceAnswer)).all() == []


def test_survey_reasks_on_no_or_a_wrong_key_and_keeps_the_answers(server, attempt, Session):
    result = answered(server, attempt, "survey", [None, None, None, "7", "2", "1"])
    assert result.status == "COMPLETED"
    said = streamed(result)
    assert said == ["survey-intro", "survey-q1", "no-input", "survey-q1", "invalid-key",
                    "survey-q1", "survey-q2", "survey-thanks"]
    with Session() as s:
        answers = {(a.question, a.answer, a.customer_id, a.campaign_id)
                   for a in s.scalars(select(VoiceAnswer))}
    assert answers == {("satisfaction", "2", attempt.customer_id, attempt.campaign_id),
                       ("recommend", "1", attempt.customer_id, attempt.campaign_id)}
    row = voice_row(Session, attempt)
    assert row.keys == [["satisfaction", ""], ["satisfaction", "7"], ["satisfaction", "2"],
                        ["recommend", "1"]]
    assert record_of(Session, row).content.endswith("问卷回答：satisfaction=2，recommend=1")


def test_survey_never_answered_fails_and_a_hang_up_is_early(server, attempt, Session):
    result = answered(server, attempt, "survey", [None, None, None])
    assert result.status == "FAILED"
    assert voice_row(Session, attempt).outcome == "FAILED"


def test_hanging_up_during_the_message(server, attempt, Session):
    result = answered(server, attempt, "notice", hangup_at=4)
    assert result.status == "HANGUP"
    row = voice_row(Session, attempt)
    assert (row.outcome, row.heard_to_end) == ("HANGUP", False)
    assert record_of(Session, row).content.endswith("中途挂机")


def before_reminder_menu() -> int:
    return 4 + len(MONEY) + len(DUE)


def test_payment_reminder_repeats_the_amount_then_reaches_a_ready_agent(
        server, attempt, Session, users, clock):
    with Session() as s:
        agent_states.set_state(s, s.merge(users["tm"]), "ready", campaign_id=attempt.campaign_id,
                               clock=clock)
        s.commit()
    keys = [None] * before_reminder_menu() + ["1"] + [None] * (3 + len(MONEY) + len(DUE)) + ["2"]
    result = answered(server, attempt, "payment_reminder", keys)
    assert result.status == "TRANSFER"
    assert result.variables["DIALFUNNEL_TRANSFER"] == "agent:8001"
    said = streamed(result)
    assert said.count("say-jiao") == 2 and said[-1] == "transfer-agent"
    with Session() as s:
        dialled = s.get(DialAttempt, attempt.id)
        assert (dialled.agent_id, dialled.connected_at) == (users["tm"].id, clock.now())
        assert agent_states.current(s, users["tm"].id).state == "on_call"
        pop = s.scalars(select(Event).where(Event.kind == "screen_pop")).one()
        assert pop.user_id == users["tm"].id
        assert pop.payload["campaign"]["attempt_id"] == attempt.id
    row = voice_row(Session, attempt)
    assert row.outcome == "TRANSFER" and row.keys == [["menu", "1"], ["menu", "2"]]


def test_press_1_with_no_agent_ready_books_a_callback(server, attempt, Session, users, clock):
    result = answered(server, attempt, "press1_talk", ["1"])
    assert result.status == "CALLBACK"
    assert streamed(result)[-2:] == ["agent-busy-callback", "voice-goodbye"]
    with Session() as s:
        callback = s.scalars(select(ContactRecord)
                             .where(ContactRecord.progress == CALLBACK_PROGRESS)).one()
        assert (callback.customer_id, callback.user_id, callback.remind) == (
            attempt.customer_id, users["tm"].id, True)
        assert s.get(DialAttempt, attempt.id).agent_id is None
    row = voice_row(Session, attempt)
    assert row.outcome == "CALLBACK"
    record = record_of(Session, row)
    assert record.content.endswith("按键转人工（无空闲坐席，已登记回电）")
    # the call's record, now the latest, keeps the callback it booked as the customer's next
    assert record.next_callback_at == callback.next_callback_at == clock.now()
    with Session() as s:
        customer = s.get(Customer, attempt.customer_id)
        assert (customer.next_callback_at, customer.last_contacted_at) == (clock.now(), clock.now())


def test_press_1_with_a_ready_agent(server, attempt, Session, users, clock):
    with Session() as s:
        agent_states.set_state(s, s.merge(users["tm"]), "ready", campaign_id=attempt.campaign_id,
                               clock=clock)
        s.commit()
    result = answered(server, attempt, "press1_talk", [None, "1"])
    assert (result.status, result.variables["DIALFUNNEL_TRANSFER"]) == ("TRANSFER", "agent:8001")
    assert voice_row(Session, attempt).outcome == "TRANSFER"


def test_the_dialplan_cannot_pose_as_another_attempt(server, attempt, Session, users, clock):
    """The customer's variables come from the channel's attempt only: a query parameter
    naming another attempt (or amount) is ignored, and with no attempt nobody is connected."""
    with Session() as s:
        agent_states.set_state(s, s.merge(users["tm"]), "ready", campaign_id=attempt.campaign_id,
                               clock=clock)
        s.commit()
    result = run_call(HOST, server.port, f"ivr?flow=press1_talk&attempt_id={attempt.id}"
                      "&customer_number=13900000000", callerid="4008001234",
                      env={"agi_uniqueid": "1790000000.2"}, scenario=Scenario(keys=["1"]))
    assert result.status == "COMPLETED"           # no agent, no callback number: goodbye
    with Session() as s:
        assert s.get(DialAttempt, attempt.id).agent_id is None
        assert agent_states.current(s, users["tm"].id).state == "ready"


def test_a_call_without_a_known_attempt_walks_but_keeps_no_result(server, attempt, Session):
    result = run_call(HOST, server.port, "ivr?flow=greeting", callerid="4008001234",
                      env={"agi_uniqueid": "1790000000.1"},
                      scenario=Scenario(variables={"DIALFUNNEL_ATTEMPT": "999999"}))
    assert result.status == "COMPLETED"
    with Session() as s:
        assert s.scalars(select(VoiceResult)).all() == []
        assert s.scalar(select(CampaignLead.status)) == "dialling"


MEDIA = ("ANSWER", "STREAM FILE", "GET DATA", "WAIT FOR DIGIT", "SAY DIGITS")
_numbers = itertools.count(1)


def test_a_hangup_at_every_step_of_the_voice_flows_ends_cleanly(server, attempt, Session, results,
                                                                 clock):
    """Each voice flow walked to its end, then again with the callee hanging up before every
    step and during every command: the call always ends as HANGUP (or its outcome, when the
    flow's own last HANGUP was the command), with one voice_results row per attempt."""
    def another_attempt():
        with Session() as s:
            made = DialAttempt(campaign_id=attempt.campaign_id, customer_id=attempt.customer_id,
                               number=f"+86139{next(_numbers):08d}", dialer_id="t",
                               channel_id=f"voice-{next(_numbers)}", started_at=clock.now())
            s.add(made)
            s.commit()
            return made

    menu = before_reminder_menu()
    journeys = {
        "notice": ([], "COMPLETED"),
        "greeting": ([], "COMPLETED"),
        "birthday": ([], "COMPLETED"),
        "survey": ([None, "1", "2"], "COMPLETED"),
        "survey_silent": ([None] * 7, "FAILED"),
        "payment_reminder": ([None] * menu + ["1"] + [None] * (menu - 1) + ["2"], "CALLBACK"),
        "reminder_silent": ([None] * (menu + 4), "COMPLETED"),
        "press1_talk": (["1"], "CALLBACK"),
    }
    flow_of = {"survey_silent": "survey", "reminder_silent": "payment_reminder"}
    covered, runs = set(), 0
    for name, (keys, outcome) in journeys.items():
        flow = flow_of.get(name, name)
        full_attempt = another_attempt()
        full = answered(server, full_attempt, flow, keys)
        assert full.status == outcome, name
        walk = results[full_attempt.channel_id]
        last = len(full.commands) - 2
        starts = walk.step_starts + [last + 1]
        jobs = []
        for k, step in enumerate(walk.path):
            jobs.append((step, dict(hangup_before=starts[k]), "HANGUP" if starts[k] <= last else outcome))
            for index in range(starts[k], starts[k + 1]):
                final = index == last and not full.commands[index].startswith(MEDIA)
                jobs.append((step, dict(hangup_at=index), outcome if final else "HANGUP"))
        jobs = [(another_attempt(), *job) for job in jobs]

        def run(job):
            dialled, step, how, expected = job
            return job, answered(server, dialled, flow, keys, **how)
        with ThreadPoolExecutor(max_workers=6) as pool:
            for (dialled, step, how, expected), result in pool.map(run, jobs):
                assert result.status == expected, (name, step, how)
                assert voice_row(Session, dialled).outcome == expected, (name, step, how)
                covered.add((flow, step))
                runs += 1
    every = {(f.name, step) for f in load_flows().flows.values() if f.outbound for step in f.steps}
    assert covered == every, sorted(every - covered)
    assert runs > 150
    assert server.wait_idle(5) and server.active_calls == 0


def test_the_callee_is_greeted_by_name_with_a_prompt_made_on_first_use(Session, clock, attempt,
                                                                       tmp_path):
    """{text: ${salutation}}: the contact's name is no prompt of the project; the handler has
    espeak-ng say 尊敬的<name> once into the prompts folder (8 kHz, the formats Asterisk plays)
    and streams it before the message; the next call to the same contact reuses the file."""
    import wave

    from recordings.prompts import FORMATS, spoken_prompt
    made = []

    def speak_text(text):
        made.append(text)
        return spoken_prompt(tmp_path, text)
    registry = Registry()
    registry.register("ivr", make_ivr_handler(clock=clock, speak_text=speak_text))
    fastagi = FastAGIServer(registry, Session, port=0, hangup_grace=0.3, env_timeout=2.0,
                            close_wait=0.5).start()
    try:
        result = answered(fastagi, attempt, "notice")
        with Session() as s:
            name = s.get(Customer, attempt.customer_id).name
    finally:
        fastagi.shutdown(grace=5)
    first = streamed(result)[0]
    assert made == [f"尊敬的{name}"] and first.startswith("tts-")
    assert streamed(result)[1] == "notice-hello" and result.status == "COMPLETED"
    for fmt in FORMATS:
        assert (tmp_path / f"{first}.{fmt}").stat().st_size > 0
    with wave.open(str(tmp_path / f"{first}.wav")) as wav:
        assert wav.getframerate() == 8000 and wav.getnframes() > 8000 * 0.5   # ≥ 0.5 s of speech
    before = (tmp_path / f"{first}.wav").stat().st_mtime_ns
    assert spoken_prompt(tmp_path, f"尊敬的{name}") == first
    assert (tmp_path / f"{first}.wav").stat().st_mtime_ns == before


def test_a_name_that_cannot_be_spoken_leaves_the_message_whole(attempt, Session, clock):
    """No speech (espeak-ng missing, a bad text): the walk notes it and plays the rest."""
    def broken(text):
        raise OSError("espeak-ng: not found")
    registry = Registry()
    registry.register("ivr", make_ivr_handler(clock=clock, speak_text=broken))
    fastagi = FastAGIServer(registry, Session, port=0, hangup_grace=0.3, env_timeout=2.0,
                            close_wait=0.5).start()
    try:
        result = answered(fastagi, attempt, "notice")
    finally:
        fastagi.shutdown(grace=5)
    assert streamed(result)[0] == "notice-hello" and result.status == "COMPLETED"
