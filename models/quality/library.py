"""The recording library: the recordings a user may hear, searched by date, agent, team,
customer, campaign, direction, duration, disposition, score, "not yet reviewed" and the talk
flags, through the call log (a recording joins its call by ``linkedid``: the call gives the
disposition, the campaign and the customer when the recording has none; a dialer recording's
attempt gives the campaign too)."""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from models.crm.recordings import audible_filter
from models.org.teams import team_agent_ids
from models.schema import Campaign, Customer, DialAttempt, Recording, Review, User
from models.schema.calls import Call
from models.schema.quality import RecordingAnalysis, ReviewQueueEntry

from .reviews import COUNTED_STATES


@dataclasses.dataclass
class LibraryFilter:
    since: dt.datetime | None = None          # UTC, inclusive
    until: dt.datetime | None = None          # UTC, exclusive
    agent_id: int | None = None
    team_of: int | None = None                # a manager: the agents on his team
    customer: str | None = None               # part of the customer's name
    campaign_id: int | None = None
    direction: str | None = None
    min_seconds: int | None = None
    max_seconds: int | None = None
    disposition: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    unreviewed: bool = False
    long_silence: bool = False
    agent_dominant: bool = False
    queued_for: int | None = None             # the sample assigned to this reviewer


@dataclasses.dataclass
class LibraryRow:
    recording: Recording
    agent: str | None
    customer_id: int | None
    customer: str | None
    campaign: str | None
    disposition: str | None
    score: float | None       # the mean of the reviews that count; None: not reviewed
    analysis: RecordingAnalysis | None


def _score():
    return (select(func.avg(Review.score)).where(Review.recording_id == Recording.id,
                                                 Review.state.in_(COUNTED_STATES))
            .correlate(Recording).scalar_subquery())


def _campaign_id(attempt):
    return func.coalesce(Call.campaign_id, attempt.campaign_id)


def _matching(session: Session, user: User, flt: LibraryFilter, attempt):
    base = (select(Recording.id)
            .outerjoin(Call, Call.linkedid == Recording.linkedid)
            .outerjoin(attempt, attempt.id == Recording.attempt_id)
            .outerjoin(Customer, Customer.id == func.coalesce(Recording.customer_id, Call.customer_id))
            .outerjoin(RecordingAnalysis, RecordingAnalysis.recording_id == Recording.id)
            .where(audible_filter(user)))
    conds = []
    if flt.since is not None:
        conds.append(Recording.created_at >= flt.since)
    if flt.until is not None:
        conds.append(Recording.created_at < flt.until)
    if flt.agent_id is not None:
        conds.append(Recording.user_id == flt.agent_id)
    if flt.team_of is not None:
        manager = session.get(User, flt.team_of)
        conds.append(Recording.user_id.in_(team_agent_ids(manager)) if manager is not None
                     else Recording.id.is_(None))
    if flt.customer:
        conds.append(Customer.name.contains(flt.customer.strip(), autoescape=True))
    if flt.campaign_id is not None:
        conds.append(_campaign_id(attempt) == flt.campaign_id)
    if flt.direction:
        conds.append(Recording.direction == flt.direction)
    if flt.min_seconds is not None:
        conds.append(Recording.duration_ms >= flt.min_seconds * 1000)
    if flt.max_seconds is not None:
        conds.append(Recording.duration_ms <= flt.max_seconds * 1000)
    if flt.disposition:
        conds.append(Call.disposition == flt.disposition)
    if flt.min_score is not None:
        conds.append(_score() >= flt.min_score)
    if flt.max_score is not None:
        conds.append(_score() <= flt.max_score)
    if flt.unreviewed:
        conds.append(~exists().where(Review.recording_id == Recording.id))
    if flt.long_silence:
        conds.append(RecordingAnalysis.long_silence.is_(True))
    if flt.agent_dominant:
        conds.append(RecordingAnalysis.agent_dominant.is_(True))
    if flt.queued_for is not None:
        conds.append(exists().where(ReviewQueueEntry.recording_id == Recording.id,
                                    ReviewQueueEntry.reviewer_id == flt.queued_for))
    return base.where(and_(*conds)) if conds else base


def count(session: Session, user: User, flt: LibraryFilter) -> int:
    base = _matching(session, user, flt, aliased(DialAttempt))
    return session.scalar(select(func.count()).select_from(base.subquery())) or 0


def search(session: Session, user: User, flt: LibraryFilter, *, limit: int = 50,
           offset: int = 0) -> list[LibraryRow]:
    """One page of the recordings ``user`` may hear that match, newest first."""
    attempt = aliased(DialAttempt)
    score = _score().label("score")
    base = _matching(session, user, flt, attempt)
    rows = session.execute(
        base.add_columns(User.full_name, Customer.id, Customer.name, Campaign.name,
                         Call.disposition, score)
        .outerjoin(User, User.id == Recording.user_id)
        .outerjoin(Campaign, Campaign.id == _campaign_id(attempt))
        .order_by(Recording.created_at.desc(), Recording.id.desc())
        .offset(offset).limit(limit)).all()
    ids = [r[0] for r in rows]
    recs = {r.id: r for r in session.scalars(select(Recording).where(Recording.id.in_(ids)))} if ids else {}
    analyses = {a.recording_id: a for a in session.scalars(
        select(RecordingAnalysis).where(RecordingAnalysis.recording_id.in_(ids)))} if ids else {}
    return [LibraryRow(recs[r[0]], r[1], r[2], r[3], r[4], r[5],
                              None if r[6] is None else round(float(r[6]), 1), analyses.get(r[0]))
                   for r in rows]


def dispositions_in_use(session: Session) -> list[str]:
    return sorted(d for d in session.scalars(select(Call.disposition).distinct()
                                             .where(Call.disposition.is_not(None))) if d)


