"""Demo recordings to review (issue 16): a few days of answered calls of the demo telemarketers
with their own customers, each a generated two-sided conversation (recordings/talk_corpus.py:
espeak-ng speech over line noise), with its call-log row, stored as the
dialplan's recording_done stores a call (compressed, waveform and talk figures kept), plus a
review form to score them with. Run once, after load_demo, by the demo command."""
from __future__ import annotations

import datetime as dt
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from agi.ami.listener import RecordingJob, ingest_recording
from models.clock import FakeClock
from models.quality.forms import add_item, add_section, create_form
from models.schema import Customer, CustomerOperator, Role, User
from models.schema.calls import Call
from recordings.store import RecordingStore
from recordings.talk_corpus import generate

DISPOSITIONS = ("interested", "callback", "not_interested", "other")
FORM = ("通话质检表", [
    ("开场", [("使用标准问候语并报出公司名称", "yes_no", 1, 1, False),
              ("核实客户身份", "yes_no", 1, 1, True)]),
    ("沟通", [("了解客户需求", "scale", 5, 2, False), ("语速、语气适中", "scale", 5, 1, False),
              ("没有抢话、打断客户", "yes_no", 1, 1, False)]),
    ("结束", [("约定下次联系时间", "yes_no", 1, 1, False), ("礼貌道别", "yes_no", 1, 1, False)]),
])


def add_review_form(session: Session, admin: User, clock):
    form = create_form(session, admin, FORM[0], clock=clock)
    for title, items in FORM[1]:
        section = add_section(session, admin, form.id, title)
        for label, kind, scale_max, weight, critical in items:
            add_item(session, admin, section.id, label, kind=kind, scale_max=scale_max,
                     weight=weight, critical=critical)
    return form


def _agents_and_customers(session: Session) -> list[tuple[User, list[Customer]]]:
    agents = session.scalars(select(User).join(Role, Role.id == User.role_id)
                             .where(Role.code == "telemarketer", User.extension.is_not(None))
                             .order_by(User.id)).all()
    out = []
    for agent in agents:
        customers = session.scalars(
            select(Customer).join(CustomerOperator, CustomerOperator.customer_id == Customer.id)
            .where(CustomerOperator.user_id == agent.id, Customer.phone_e164.is_not(None))
            .order_by(Customer.id).limit(20)).all()
        if customers:
            out.append((agent, list(customers)))
    return out


def _log_call(session: Session, n: int, agent: User, customer: Customer, start: dt.datetime,
              talk: float, disposition: str) -> str:
    """The call's row as the call log would have it after the call (written directly, as the
    rest of the demo is: the live writer would also tell the agent's call bar)."""
    linkedid = f"1790000000.{n}"
    answered = start + dt.timedelta(seconds=5)
    session.add(Call(linkedid=linkedid, direction="inbound", state="ended",
                     from_number=customer.phone_e164, to_number="4008001234", started_at=start,
                     ringing_at=start + dt.timedelta(seconds=1), answered_at=answered,
                     ended_at=answered + dt.timedelta(seconds=talk), ring_seconds=4.0,
                     talk_seconds=round(talk, 1), customer_id=customer.id, user_id=agent.id,
                     disposition=disposition))
    session.flush()
    return linkedid


def add_demo_recordings(session: Session, store: RecordingStore, clock, *, seed: int = 2026,
                        count: int = 6) -> int:
    """Store ``count`` demo calls (committing each); returns how many were stored."""
    admin = session.scalar(select(User).join(Role, Role.id == User.role_id)
                           .where(Role.is_admin.is_(True)).order_by(User.id))
    add_review_form(session, admin, clock)
    session.commit()
    pairs = _agents_and_customers(session)
    if not pairs:
        return 0
    rng = random.Random(seed)
    store.ensure()
    work = Path(tempfile.mkdtemp(prefix="demo-calls-"))
    stored = 0
    try:
        for n, call in enumerate(generate(work, seed=seed, count=count), start=1):
            agent, customers = pairs[n % len(pairs)]
            customer = rng.choice(customers)
            start = (clock.now() - dt.timedelta(days=1 + n % 6, hours=rng.randint(0, 6))).replace(microsecond=0)
            linkedid = _log_call(session, n, agent, customer, start, call.seconds,
                                 rng.choice(DISPOSITIONS))
            session.commit()
            name = f"{linkedid}.wav"
            shutil.copyfile(call.customer_wav, store.incoming / f"{linkedid}-r.wav")
            shutil.copyfile(call.agent_wav, store.incoming / f"{linkedid}-t.wav")
            subprocess.run(["sox", "-m", str(call.customer_wav), str(call.agent_wav),
                            str(store.incoming / name)], check=True, capture_output=True)
            job = RecordingJob(uniqueid=linkedid, filename=name, linkedid=linkedid,
                               number=customer.phone_e164, direction="inbound", user_id=agent.id,
                               started_at=start)
            ended = FakeClock(start + dt.timedelta(seconds=5 + call.seconds))
            if ingest_recording(session, store, job, clock=ended) is not None:
                stored += 1
            session.commit()
            for leftover in (name, f"{linkedid}-r.wav", f"{linkedid}-t.wav"):
                store.remove_incoming(leftover)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return stored
