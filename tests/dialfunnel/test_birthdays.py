"""The worker's birthday job: the setting names the campaigns, a round queues the day's
birthdays, the loop keeps going when a round fails."""
from __future__ import annotations

import threading

from sqlalchemy import select

from config.settings import load_settings
from dialfunnel.birthdays import birthday_loop
from models.crm.contacts import add_contact
from models.dialer import campaigns
from models.schema import CampaignLead


def test_the_setting_names_the_campaigns():
    settings = load_settings({"DIALFUNNEL_BIRTHDAY_CAMPAIGNS": " 生日问候, VIP生日 ,"})
    assert settings.birthday_campaign_names == ["生日问候", "VIP生日"]
    assert load_settings({}).birthday_campaign_names == []


def test_the_loop_queues_the_days_birthdays(Session, session, users, clock, make_customer):
    greeting = campaigns.create_campaign(session, users["admin"], clock=clock, name="生日问候")
    born = make_customer("寿星公司", mobile="13800138001")
    add_contact(session, users["admin"], born.id, {"name": "王总", "birthday": "1970-11-26"})
    session.commit()
    stop = threading.Event()
    rounds = []

    class Counting:
        """The sessionmaker, counting rounds; the first round fails as a dead database would."""
        def begin(self):
            rounds.append(1)
            if len(rounds) == 1:
                raise OSError("database away")
            if len(rounds) >= 3:
                stop.set()
            return Session.begin()

    thread = threading.Thread(target=birthday_loop, args=(Counting(), ["生日问候"], stop),
                              kwargs=dict(interval=0.01, clock=clock))
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and len(rounds) == 3
    with Session() as s:
        assert [(lead.campaign_id, lead.customer_id, lead.status)
                for lead in s.scalars(select(CampaignLead))] == [(greeting.id, born.id, "queued")]
