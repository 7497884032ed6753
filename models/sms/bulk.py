"""Bulk SMS to a list of customers or a query's result. The job writes one ``held`` message a
customer with a mobile at creation (the text rendered for each); `release` hands them to the
senders from the job's time on, within its sending hours (company time) at its rate, and
skips the numbers opted out or on the do-not-call list at that moment."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.company import company_tz
from models.crm.query import compile_query
from models.crm.visibility import visible_filter
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.schema import Customer, SmsBulkJob, SmsMessage, User
from models.sms.optouts import refusal
from models.sms.sending import is_mobile, log_contact, queue_message
from models.sms.templates import (check_body, get_template, render, template_params,
                                  variables_for)
from models.values import clean_int, clean_text

HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
MAX_RECIPIENTS = 100_000


def _manager(actor: User) -> None:
    if not actor.sees_all:
        raise PermissionDenied()


def _hhmm(value) -> str:
    text = str(value or "").strip()
    if not HHMM.fullmatch(text):
        raise InvalidValue("sms.bad_hours")
    return text


def _customers(session: Session, actor: User, source: dict):
    if "ids" in source:
        ids = [int(i) for i in source["ids"]][:MAX_RECIPIENTS]
        stmt = select(Customer).where(Customer.id.in_(ids))
    elif "query" in source:
        stmt = compile_query(session, source["query"])
    else:
        raise InvalidValue("sms.no_recipients")
    return session.scalars(stmt.where(visible_filter(actor)).order_by(Customer.id)
                           .limit(MAX_RECIPIENTS))


def create_job(session: Session, actor: User, *, name, body, source: dict, scheduled_at=None,
               rate_per_minute=60, hours_start="09:00", hours_end="20:00", template_id=None,
               clock=SYSTEM_CLOCK) -> SmsBulkJob:
    _manager(actor)
    name = clean_text(name, "name", 100, required=True)
    body = check_body(body)
    start, end = _hhmm(hours_start), _hhmm(hours_end)
    if start >= end:
        raise InvalidValue("sms.bad_hours")
    if scheduled_at is not None and scheduled_at.tzinfo is None:
        raise InvalidValue(field="at")
    template = get_template(session, int(template_id)) if template_id else None
    now = clock.now()
    job = SmsBulkJob(name=name, body=body, source=source, status="scheduled",
                     template_id=int(template_id) if template_id else None,
                     scheduled_at=scheduled_at or now,
                     rate_per_minute=clean_int(rate_per_minute, "rate_per_minute", 1, 6000),
                     hours_start=start, hours_end=end, total=0, created_by_id=actor.id,
                     created_at=now)
    session.add(job)
    session.flush()
    for customer in _customers(session, actor, source):
        job.total += 1
        if not is_mobile(customer.mobile_e164):
            continue
        variables = variables_for(session, actor, customer)
        queue_message(session, to_number=customer.mobile_e164,
                      text=render(session, body, variables), customer=customer,
                      contact=None, user=actor, template_id=job.template_id,
                      template_params=template_params(template.body, variables)
                      if template else None,
                      bulk_job_id=job.id, status="held", clock=clock)
    if job.total == 0:
        raise InvalidValue("sms.no_recipients")
    session.flush()
    return job


def _within_hours(session: Session, job: SmsBulkJob, now: dt.datetime) -> bool:
    local = now.astimezone(company_tz(session)).strftime("%H:%M")
    return job.hours_start <= local < job.hours_end


def release(session: Session, *, clock=SYSTEM_CLOCK) -> int:
    """Queue what each running job may send by now; returns how many were queued."""
    now = clock.now()
    queued = 0
    jobs = session.scalars(select(SmsBulkJob).where(SmsBulkJob.status.in_(("scheduled",
                                                                           "running")),
                                                    SmsBulkJob.scheduled_at <= now)
                           .order_by(SmsBulkJob.id).with_for_update(skip_locked=True))
    for job in list(jobs):
        job.status = "running"
        if not _within_hours(session, job, now):
            job.released_at = None
            continue
        elapsed = 60.0 if job.released_at is None else (now - job.released_at).total_seconds()
        budget = int(job.rate_per_minute * min(elapsed, 60.0) / 60)
        if budget < 1:
            continue
        job.released_at = now
        queued += _release_some(session, job, budget, clock)
        _finish_if_done(session, job, now)
    session.flush()
    return queued


def _release_some(session: Session, job: SmsBulkJob, budget: int, clock) -> int:
    """Queue up to `budget` held messages; the skipped ones do not count."""
    author = session.get(User, job.created_by_id) if job.created_by_id else None
    queued = 0
    while queued < budget:
        held = list(session.scalars(
            select(SmsMessage).where(SmsMessage.bulk_job_id == job.id,
                                     SmsMessage.status == "held")
            .order_by(SmsMessage.id).limit(budget - queued)))
        if not held:
            break
        for message in held:
            customer = session.get(Customer, message.customer_id) if message.customer_id else None
            why = refusal(session, message.to_number, customer)
            if why:
                message.status, message.reason = "skipped", why
                continue
            message.status = "queued"
            queued += 1
            if customer is not None:
                log_contact(session, message, author, customer, clock=clock)
        session.flush()
    return queued


def _finish_if_done(session: Session, job: SmsBulkJob, now: dt.datetime) -> None:
    open_ = session.scalar(select(func.count()).where(
        SmsMessage.bulk_job_id == job.id,
        SmsMessage.status.in_(("held", "queued", "sending"))))
    if not open_:
        job.status, job.finished_at = "done", now


def set_status(session: Session, actor: User, job_id: int, action: str, *,
               clock=SYSTEM_CLOCK) -> SmsBulkJob:
    """pause, resume or cancel (the held messages are dropped as skipped)."""
    _manager(actor)
    job = get_job(session, job_id)
    if action == "pause" and job.status in ("scheduled", "running"):
        job.status = "paused"
    elif action == "resume" and job.status == "paused":
        job.status, job.released_at = "running", None
    elif action == "cancel" and job.status in ("scheduled", "running", "paused"):
        job.status, job.finished_at = "cancelled", clock.now()
        session.execute(update(SmsMessage).where(SmsMessage.bulk_job_id == job.id,
                                                 SmsMessage.status == "held")
                        .values(status="skipped", reason="sms.cancelled")
                        .execution_options(synchronize_session=False))
    else:
        raise InvalidValue("sms.bad_job_action")
    session.flush()
    return job


def get_job(session: Session, job_id: int) -> SmsBulkJob:
    job = session.get(SmsBulkJob, job_id)
    if job is None:
        raise NotFound("sms.job_not_found")
    return job


def list_jobs(session: Session, limit: int = 100) -> list[SmsBulkJob]:
    return list(session.scalars(select(SmsBulkJob).order_by(SmsBulkJob.id.desc()).limit(limit)))


def progress(session: Session, job_id: int) -> dict:
    """The job's report: its messages by status and by skip reason, and those without a mobile."""
    job = get_job(session, job_id)
    by_status = dict(session.execute(
        select(SmsMessage.status, func.count()).where(SmsMessage.bulk_job_id == job_id)
        .group_by(SmsMessage.status)).all())
    skipped = dict(session.execute(
        select(SmsMessage.reason, func.count()).where(SmsMessage.bulk_job_id == job_id,
                                                      SmsMessage.status == "skipped")
        .group_by(SmsMessage.reason)).all())
    messages = sum(by_status.values())
    return {"job": job, "total": job.total, "no_mobile": job.total - messages,
            "by_status": by_status, "skipped": skipped,
            "done": by_status.get("delivered", 0) + by_status.get("failed", 0)
            + by_status.get("sent", 0) + by_status.get("skipped", 0)}
