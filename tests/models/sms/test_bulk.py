"""Bulk SMS: a list or a query, scheduled, within sending hours, at a rate, skipping opted-out
and do-not-call numbers, with its report."""
import datetime as dt

import pytest

from models.dialer.dnc import add_number
from models.errors import InvalidValue, PermissionDenied
from models.sms.bulk import create_job, progress, release, set_status
from models.sms.delivery import record_reply


def _job(session, users, ids, clock, **kw):
    kw.setdefault("rate_per_minute", 2)
    return create_job(session, users["mgr"], name="双十二问候", body="{customer_name}您好",
                      source={"ids": ids}, clock=clock, **kw)


def test_rate_hours_schedule_and_skips(session, users, make_customer, clock):
    customers = [make_customer(mobile="1380013800%d" % i) for i in range(5)]
    landline = make_customer(phone="021-62345678")
    add_number(session, users["mgr"], "13800138001", clock=clock)
    job = _job(session, users, [c.id for c in customers] + [landline.id], clock,
               scheduled_at=clock.now() + dt.timedelta(minutes=5))
    assert job.total == 6
    assert release(session, clock=clock) == 0            # not yet its time
    clock.advance(minutes=5)
    assert release(session, clock=clock) == 2             # 2 a minute: #0, #2 queued; #1 on DNC
    record_reply(session, "smpp", "+8613800138003", "1069", "退订", clock.now())
    clock.advance(seconds=20)
    assert release(session, clock=clock) == 0             # 20 s at 2 a minute: none yet
    clock.advance(seconds=40)
    assert release(session, clock=clock) == 1             # #3 opted out, #4 queued
    report = progress(session, job.id)
    assert report["by_status"] == {"queued": 3, "skipped": 2}
    assert report["skipped"] == {"sms.do_not_call": 1, "sms.opted_out": 1}
    assert report["no_mobile"] == 1
    assert job.status == "running"


def test_nothing_goes_out_of_hours(session, users, make_customer, clock):
    customer = make_customer(mobile="13800138000")
    clock.set(dt.datetime(2026, 11, 26, 13, 0, tzinfo=dt.timezone.utc))   # 21:00 in Shanghai
    job = _job(session, users, [customer.id], clock)
    assert release(session, clock=clock) == 0
    clock.advance(hours=12)                                                 # 09:00
    assert release(session, clock=clock) == 1
    assert progress(session, job.id)["by_status"] == {"queued": 1}


def test_a_query_result_only_customers_the_manager_sees_and_checks(session, users,
                                                                   make_customer, clock):
    make_customer(mobile="13800138000", city="上海")
    make_customer(mobile="13800138001", city="北京")
    job = create_job(session, users["mgr"], name="上海", body="您好",
                     source={"query": {"field": "city", "op": "eq", "value": "上海"}},
                     clock=clock)
    assert job.total == 1
    with pytest.raises(PermissionDenied):
        create_job(session, users["tm"], name="x", body="您好", source={"ids": [1]}, clock=clock)
    with pytest.raises(InvalidValue):
        _job(session, users, [1], clock, hours_start="20:00", hours_end="09:00")


def test_cancel_skips_what_is_held(session, users, make_customer, clock):
    customer = make_customer(mobile="13800138000")
    job = _job(session, users, [customer.id], clock)
    set_status(session, users["mgr"], job.id, "cancel", clock=clock)
    assert progress(session, job.id)["by_status"] == {"skipped": 1}
    assert release(session, clock=clock) == 0
