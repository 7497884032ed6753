"""Voice campaigns (T9): the rules of an answered call that walks an IVR flow instead of
reaching an agent. The dialer (models.dialer.dialing, agi/handlers/outbound.py) dials; the
`ivr` handler runs the campaign's flow with the channel's DIALFUNNEL_ATTEMPT, and these
functions give the flow its customer's data and keep what the call came to.

  call_variables(session, attempt_id)    the flow variables of the attempt's customer
  opt_out(session, number)               按 9 不再接听: the number goes on the do-not-call list
  connect_agent(session, attempt_id)     press 1 to talk: a ready agent of the campaign's team
  record_call(session, attempt_id, ...)  voice_results + voice_answers + a contact record
  queue_birthdays(session, ...)          the day's birthdays into the greeting campaigns
  voice_report(session, campaign_id)     heard to the end, keys, survey answers, opt-outs

Amount due, due date and order number come from the customer's oldest order not fully paid;
its due date is the order date plus PAYMENT_TERM_DAYS.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.company import company_tz
from models.crm.contact_records import write_system_record
from models.dialer import dnc
from models.dialer.agent_states import take_ready_agent
from models.errors import InvalidValue
from models.schema import CampaignLead, Contact, Customer, DialAttempt, Order, User
from models.schema.campaigns import Campaign
from models.schema.voice import VoiceAnswer, VoiceResult

PAYMENT_TERM_DAYS = 30
SALUTATION = "尊敬的"
OPT_OUT_REASON = "语音外呼按键退订"
RECORD_PROGRESS = "语音外呼"
# How a call's outcome reads on the customer's contact record.
OUTCOME_WORDS = {
    "COMPLETED": "完整收听", "TRANSFER": "按键转人工", "CALLBACK": "按键转人工（无空闲坐席，已登记回电）",
    "OPTOUT": "按键退订（不再接听）", "HANGUP": "中途挂机", "FAILED": "未按有效键", "ERROR": "系统错误",
}


def _customer_of(session: Session, attempt: DialAttempt) -> Customer | None:
    return session.get(Customer, attempt.customer_id) if attempt.customer_id else None


def call_variables(session: Session, attempt_id: int) -> dict[str, str] | None:
    """{variable: text} of the attempt's call, None when there is no such attempt: campaign_id,
    attempt_id, customer_id, customer_name, contact_name, salutation (尊敬的 and the contact's
    or the customer's name, 尊敬的客户 without one: spoken as a `text` item), customer_number,
    order_number, amount_due, due_date (empty when the customer has no unpaid order)."""
    attempt = session.get(DialAttempt, attempt_id)
    if attempt is None:
        return None
    out = dict(campaign_id=str(attempt.campaign_id), attempt_id=str(attempt.id),
               customer_number=attempt.number)
    customer = _customer_of(session, attempt)
    return {**customer_variables(session, customer), **out}


def customer_variables(session: Session, customer: Customer | None) -> dict[str, str]:
    """The customer's part of call_variables (also the admin's preview of a flow)."""
    out = dict(customer_id="", customer_name="", contact_name="", salutation=SALUTATION + "客户",
               order_number="", amount_due="", due_date="",
               customer_number=(dnc.dial_number(customer) or "") if customer else "")
    if customer is None:
        return out
    out["customer_id"] = str(customer.id)
    out["customer_name"] = customer.name
    contact = session.scalar(select(Contact.name).where(Contact.customer_id == customer.id)
                             .order_by(Contact.id).limit(1))
    out["contact_name"] = contact or customer.contact_person or ""
    out["salutation"] = SALUTATION + (out["contact_name"] or customer.name)
    order = session.scalar(select(Order).where(Order.customer_id == customer.id,
                                               Order.payment_status != "paid")
                           .order_by(Order.ordered_on, Order.id).limit(1))
    if order is not None:
        out.update(order_number=order.number, amount_due=str(order.amount),
                   due_date=(order.ordered_on + dt.timedelta(days=PAYMENT_TERM_DAYS)).isoformat())
    return out


def opt_out(session: Session, number: str, *, clock=SYSTEM_CLOCK) -> bool:
    """The callee pressed the opt-out key: `number` is never dialled again. False when the
    number is not a phone number (nothing is written)."""
    try:
        dnc.add_number(session, None, number, reason=OPT_OUT_REASON, clock=clock)
    except InvalidValue:
        return False
    return True


def connect_agent(session: Session, attempt_id: int, *, clock=SYSTEM_CLOCK) -> User | None:
    """The longest-ready agent of the attempt's campaign team takes the call (on_call, the
    screen pop: models.dialer.agent_states.take_ready_agent); None when nobody is ready."""
    attempt = session.get(DialAttempt, attempt_id)
    if attempt is None:
        return None
    agent = take_ready_agent(session, attempt, clock=clock)
    return agent if agent is not None and agent.extension else None


@dataclasses.dataclass
class CallOutcome:
    flow: str
    outcome: str
    heard_to_end: bool = False
    keys: list = dataclasses.field(default_factory=list)
    path: list = dataclasses.field(default_factory=list)
    answers: list = dataclasses.field(default_factory=list)   # [(question, key), ...]


def record_call(session: Session, attempt_id: int, call: CallOutcome, *,
                clock=SYSTEM_CLOCK) -> VoiceResult | None:
    """Keep what an answered voice call came to: its voice_results row, its survey answers and
    a contact record on the customer saying so. Once per attempt (a second call is ignored)."""
    attempt = session.get(DialAttempt, attempt_id)
    if attempt is None or session.get(VoiceResult, attempt_id) is not None:
        return None
    now = clock.now()
    answers = list(dict(call.answers).items())     # the last answer to a question counts
    for question, key in answers:
        session.add(VoiceAnswer(attempt_id=attempt.id, campaign_id=attempt.campaign_id,
                                customer_id=attempt.customer_id, flow=call.flow,
                                question=question, answer=key, answered_at=now))
    row = VoiceResult(attempt_id=attempt.id, campaign_id=attempt.campaign_id,
                      customer_id=attempt.customer_id, flow=call.flow, outcome=call.outcome,
                      heard_to_end=call.heard_to_end, opted_out=call.outcome == "OPTOUT",
                      keys=call.keys, path=call.path, created_at=now)
    session.add(row)
    customer = _customer_of(session, attempt)
    if customer is not None:
        campaign = session.scalar(select(Campaign.name).where(Campaign.id == attempt.campaign_id))
        content = f"语音外呼「{campaign}」（{call.flow}）：{OUTCOME_WORDS.get(call.outcome, call.outcome)}"
        if answers:
            content += "；问卷回答：" + "，".join(f"{q}={k}" for q, k in answers)
        session.refresh(customer)       # a callback booked during the call is its next one
        record = write_system_record(session, customer, content=content,
                                     progress=RECORD_PROGRESS, clock=clock)
        row.record_id = record.id
    session.flush()
    return row


def queue_birthdays(session: Session, campaign_names, *, clock=SYSTEM_CLOCK) -> int:
    """The daily birthday job: every customer with a contact born on today's date (the company's
    time zone; 2-29 birthdays on 3-1 in other years) becomes a queued lead of each campaign
    named (the ones that run the birthday flow and are not stopped or finished). A customer
    already queued, dialled today, or whose number is blocked is left alone; one greeted in an
    earlier year is queued again. Safe to run many times a day. Returns the leads queued."""
    now = clock.now()
    today = now.astimezone(company_tz(session)).date()
    day_start = dt.datetime.combine(today, dt.time(), company_tz(session))
    days = [today.month * 100 + today.day]
    if (today.month, today.day) == (3, 1) and not _leap(today.year):
        days.append(229)
    born_today = select(Contact.customer_id).where(
        (extract("month", Contact.birthday) * 100 + extract("day", Contact.birthday)).in_(days))
    customers = session.scalars(select(Customer).where(Customer.id.in_(born_today))
                                .order_by(Customer.id)).all()
    campaign_ids = session.scalars(select(Campaign.id).where(
        Campaign.name.in_(list(campaign_names)), Campaign.status.not_in(("stopped", "finished")))
        .order_by(Campaign.id)).all()
    queued = 0
    for campaign_id in campaign_ids:
        leads = {lead.customer_id: lead for lead in session.scalars(
            select(CampaignLead).where(CampaignLead.campaign_id == campaign_id,
                                       CampaignLead.customer_id.in_([c.id for c in customers])))}
        for customer in customers:
            number = dnc.dial_number(customer)
            if number is None or dnc.is_blocked(session, number, customer):
                continue
            lead = leads.get(customer.id)
            if lead is None:
                session.add(CampaignLead(campaign_id=campaign_id, customer_id=customer.id,
                                         number=number, status="queued", attempts=0,
                                         next_attempt_at=now))
            elif lead.status in ("done", "exhausted") and (
                    lead.last_attempt_at is None or lead.last_attempt_at < day_start):
                lead.status, lead.attempts, lead.next_attempt_at = "queued", 0, now
                lead.number = number
            else:
                continue
            queued += 1
    session.flush()
    return queued


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@dataclasses.dataclass
class VoiceReport:
    answered: int = 0                     # calls that walked the flow
    heard_to_end: int = 0
    opted_out: int = 0
    outcomes: dict = dataclasses.field(default_factory=dict)      # outcome -> calls
    keys: dict = dataclasses.field(default_factory=dict)          # key -> calls that pressed it
    answers: dict = dataclasses.field(default_factory=dict)       # question -> {answer: count}

    def share(self, count: int) -> float:
        return count / self.answered if self.answered else 0.0


def voice_report(session: Session, campaign_id: int) -> VoiceReport:
    """What a voice campaign's answered calls came to: heard to the end, opt-outs, outcomes,
    the share of calls that pressed each key, and the survey answers per question."""
    out = VoiceReport()
    for outcome, heard, opted, keys in session.execute(
            select(VoiceResult.outcome, VoiceResult.heard_to_end, VoiceResult.opted_out,
                   VoiceResult.keys).where(VoiceResult.campaign_id == campaign_id)):
        out.answered += 1
        out.heard_to_end += bool(heard)
        out.opted_out += bool(opted)
        out.outcomes[outcome] = out.outcomes.get(outcome, 0) + 1
        for key in {k for _step, pressed in keys or () for k in pressed}:
            out.keys[key] = out.keys.get(key, 0) + 1
    out.keys = dict(sorted(out.keys.items()))
    for question, answer, count in session.execute(
            select(VoiceAnswer.question, VoiceAnswer.answer, func.count())
            .where(VoiceAnswer.campaign_id == campaign_id)
            .group_by(VoiceAnswer.question, VoiceAnswer.answer)
            .order_by(VoiceAnswer.question, VoiceAnswer.answer)):
        out.answers.setdefault(question, {})[answer] = count
    return out
