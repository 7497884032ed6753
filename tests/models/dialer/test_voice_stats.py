"""A voice campaign's live figures and report (models.dialer.voice_stats), over attempts the
dialing rules opened and closed."""
from __future__ import annotations

import datetime as dt

from models.dialer import campaigns, dialing
from models.dialer.voice_stats import voice_live, voice_report
from models.schema import ContactRecord, Customer

from sqlalchemy import select


def test_voice_figures_count_lines_outcomes_and_line_minutes(session, users, clock):
    for n in range(5):
        session.add(Customer(name=f"客户{n}", ownership="shared", stage="target",
                             phone=f"1390000{n:04d}", phone_e164=f"+861390000{n:04d}",
                             created_at=clock.now(), updated_at=clock.now()))
    session.flush()
    campaign = campaigns.create_campaign(session, users["mgr"], clock=clock, name="通知",
                                         mode="voice", ivr_flow="notice", max_lines=4,
                                         filter_stage="target")
    campaigns.change_status(session, users["mgr"], campaign.id, "start", clock=clock)
    opened = dialing.pick_leads(session, campaign.id, 4, dialer_id="d", clock=clock)
    assert len(opened) == 4
    assert voice_live(session, campaign.id, clock=clock)["lines_in_use"] == 4
    clock.advance(seconds=5)
    dialing.mark_answered(session, opened[0].channel_id, clock=clock)
    dialing.mark_answered(session, opened[1].channel_id, clock=clock)
    dialing.record_amd(session, opened[1].channel_id, "machine")
    clock.advance(seconds=55)      # 60 s after the dial: the flow and the message are over
    first = dialing.finish_attempt(session, opened[0].channel_id, reason=4, clock=clock)
    dialing.finish_attempt(session, opened[1].channel_id, reason=4, clock=clock)
    dialing.finish_attempt(session, opened[2].channel_id, reason=0, cause=17, clock=clock)
    assert first.outcome == "answered" and first.talk_seconds == 55.0   # not "abandoned"
    live = voice_live(session, campaign.id, trunk_lines=30, clock=clock)
    assert {k: live[k] for k in ("dialled", "lines_in_use", "completed", "answered", "machine",
                                 "no_answer", "dead", "max_lines", "trunk_lines",
                                 "leads_waiting")} == dict(
        dialled=4, lines_in_use=1, completed=3, answered=1, machine=1, no_answer=1, dead=0,
        max_lines=4, trunk_lines=30, leads_waiting=2)   # the 5th, and the busy one's retry
    assert live["line_minutes"] == 4.0 and live["answered_minutes"] == round(110 / 60, 1)
    rows = voice_report(session, campaign.id, clock=clock)
    assert [r["day"] for r in rows] == [clock.now().astimezone(dt.timezone(dt.timedelta(hours=8))).date(), None]
    assert rows[-1]["dialled"] == 4 and rows[-1]["line_minutes"] == 4.0
    records = session.scalars(select(ContactRecord.progress).order_by(ContactRecord.id)).all()
    assert records == ["答录机", "忙线"]
