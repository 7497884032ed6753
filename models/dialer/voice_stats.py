"""A voice campaign's figures (T9): the live view and the report's dial section.

- lines in use: its attempts placed and not ended (ringing, in the flow, leaving a message).
- dialled: attempts placed; answered: a person heard the flow; machine, no answer (no answer,
  busy, rejected, powered off), dead (DEAD_OUTCOMES), failed (the rest).
- line-minutes: what the campaign cost in trunk channels, each attempt from its dial to its
  end (an open one up to now); answered minutes: the part after the answer (talk_seconds).
The flow's own results (heard to the end, keys, survey answers) are the flow report's."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.company import company_tz
from models.crm.reports import _by_company_day, utc_range
from models.db import UTCDateTime
from models.dialer.campaign_stats import _campaign, _count_if, _seconds_between, pct, placed
from models.schema import CampaignLead, DialAttempt
from models.schema.campaigns import DEAD_OUTCOMES

NO_ANSWER = ("noanswer", "busy", "rejected", "absent")


def _figures(session: Session, now: dt.datetime):
    outcome, ended = DialAttempt.outcome, DialAttempt.ended_at
    end = func.coalesce(ended, literal(now, UTCDateTime()))
    return (_count_if(placed()), _count_if(ended.is_(None) & DialAttempt.dialer_id.is_not(None)),
            _count_if(outcome == "answered"), _count_if(outcome == "machine"),
            _count_if(outcome.in_(NO_ANSWER)), _count_if(outcome.in_(DEAD_OUTCOMES)),
            _count_if(ended.is_not(None) & outcome.not_in(("answered", "machine", *NO_ANSWER,
                                                           *DEAD_OUTCOMES))),
            func.sum(_seconds_between(session, DialAttempt.started_at, end)),
            func.sum(DialAttempt.talk_seconds))


def _row(dialled, in_use, answered, machine, no_answer, dead, failed, line_s, talk_s) -> dict:
    completed = (dialled or 0) - (in_use or 0)
    return dict(dialled=dialled or 0, lines_in_use=in_use or 0, completed=completed,
                answered=answered or 0, machine=machine or 0, no_answer=no_answer or 0,
                dead=dead or 0, failed=failed or 0, answer_rate=pct(answered, completed),
                line_minutes=round((line_s or 0) / 60.0, 1),
                answered_minutes=round((talk_s or 0) / 60.0, 1))


def voice_live(session: Session, campaign_id: int, *, trunk_lines: int = 0,
               clock=SYSTEM_CLOCK) -> dict:
    """The live figures, with the line limits and the leads still to call."""
    campaign = _campaign(session, campaign_id)
    now = clock.now()
    figures = session.execute(select(*_figures(session, now))
                              .where(DialAttempt.campaign_id == campaign_id)).one()
    waiting = session.scalar(select(func.count()).where(CampaignLead.campaign_id == campaign_id,
                                                        CampaignLead.status == "queued"))
    return dict(_row(*figures), max_lines=campaign.max_lines, trunk_lines=trunk_lines or None,
                ivr_flow=campaign.ivr_flow, leads_waiting=waiting or 0)


def voice_report(session: Session, campaign_id: int, *, clock=SYSTEM_CLOCK,
                 start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
    """The figures per company day of the attempts started in [start, end] (default: the
    whole campaign), then a total row (day None)."""
    _campaign(session, campaign_id)
    now = clock.now()
    tz = company_tz(session)
    if start is None or end is None:
        first = session.scalar(select(func.min(DialAttempt.started_at))
                               .where(DialAttempt.campaign_id == campaign_id))
        today = now.astimezone(tz).date()
        start = start or (first.astimezone(tz).date() if first else today)
        end = end or max(today, start)
    rows = [dict(day=day, **_row(*figures)) for day, *figures in _by_company_day(
        session, DialAttempt.started_at, start, end, aggregates=_figures(session, now),
        where=(DialAttempt.campaign_id == campaign_id,))]
    rows.sort(key=lambda r: r["day"])
    if rows:
        lo, hi = utc_range(session, start, end)
        total = session.execute(select(*_figures(session, now)).where(
            DialAttempt.campaign_id == campaign_id, DialAttempt.started_at >= lo,
            DialAttempt.started_at < hi)).one()
        rows.append(dict(day=None, **_row(*total)))
    return rows
