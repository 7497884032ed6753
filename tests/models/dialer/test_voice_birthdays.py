"""The daily birthday job (models.dialer.voice.queue_birthdays) and contacts' birthdays."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from models.crm.contacts import add_contact, update_contact
from models.dialer import campaigns, dnc
from models.dialer.voice import queue_birthdays
from models.errors import InvalidValue
from models.schema import CampaignLead

SH = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def greeting(session, users, clock):
    made = campaigns.create_campaign(session, users["admin"], clock=clock, name="生日问候",
                                     mode="predictive")
    session.commit()
    return made


def leads(session, campaign):
    return {(lead.customer_id, lead.status) for lead in session.scalars(
        select(CampaignLead).where(CampaignLead.campaign_id == campaign.id))}


def test_the_days_birthdays_are_queued_once(session, users, clock, make_customer, greeting):
    # 2026-11-26 10:00 in Shanghai; 2026-11-25 23:30 in Shanghai is still yesterday
    born = make_customer("寿星公司", mobile="13800138001")
    add_contact(session, users["admin"], born.id, {"name": "王总", "birthday": "1970-11-26"})
    other = make_customer("明天公司", mobile="13800138002")
    add_contact(session, users["admin"], other.id, {"name": "李总", "birthday": "1980-11-27"})
    blocked = make_customer("免打扰公司", mobile="13800138003")
    add_contact(session, users["admin"], blocked.id, {"name": "赵总", "birthday": "1990-11-26"})
    dnc.add_number(session, None, "13800138003", clock=clock)
    session.commit()
    assert queue_birthdays(session, ["生日问候", "没有这个活动"], clock=clock) == 1
    assert leads(session, greeting) == {(born.id, "queued")}
    assert queue_birthdays(session, ["生日问候"], clock=clock) == 0     # run again: nothing
    # a year later the customer greeted last year is queued again
    lead = session.scalars(select(CampaignLead)).one()
    lead.status, lead.last_attempt_at = "done", clock.now()
    clock.advance(days=365)
    assert queue_birthdays(session, ["生日问候"], clock=clock) == 1
    assert leads(session, greeting) == {(born.id, "queued")}
    # the next day belongs to the other customer; a stopped campaign gets nobody
    clock.advance(days=1)
    greeting.status = "stopped"
    assert queue_birthdays(session, ["生日问候"], clock=clock) == 0
    greeting.status = "paused"
    assert queue_birthdays(session, ["生日问候"], clock=clock) == 1
    assert leads(session, greeting) == {(born.id, "queued"), (other.id, "queued")}


def test_the_company_time_zone_decides_the_day(session, users, clock, make_customer, greeting):
    born = make_customer("寿星公司", mobile="13800138001")
    add_contact(session, users["admin"], born.id, {"name": "王总", "birthday": "1970-11-27"})
    session.commit()
    clock.set(dt.datetime(2026, 11, 26, 23, 59, tzinfo=SH))
    assert queue_birthdays(session, ["生日问候"], clock=clock) == 0
    clock.set(dt.datetime(2026, 11, 27, 0, 0, tzinfo=SH))     # 2026-11-26 16:00 UTC
    assert queue_birthdays(session, ["生日问候"], clock=clock) == 1


def test_leap_day_birthdays_on_march_first(session, users, clock, make_customer, greeting):
    born = make_customer("闰日公司", mobile="13800138001")
    add_contact(session, users["admin"], born.id, {"name": "周总", "birthday": "2000-02-29"})
    session.commit()
    clock.set(dt.datetime(2027, 3, 1, 9, tzinfo=SH))
    assert queue_birthdays(session, ["生日问候"], clock=clock) == 1


def test_a_birthday_is_a_date(session, users, make_customer):
    customer = make_customer("公司", mobile="13800138001")
    contact = add_contact(session, users["admin"], customer.id, {"name": "王总", "birthday": ""})
    assert contact.birthday is None
    for bad in ("1970-13-01", "生日", "1850-01-01"):
        with pytest.raises(InvalidValue):
            update_contact(session, users["admin"], customer.id, contact.id, {"birthday": bad})
    update_contact(session, users["admin"], customer.id, contact.id, {"birthday": " 1970-01-31 "})
    assert contact.birthday == dt.date(1970, 1, 31)
