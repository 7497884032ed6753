"""Quality reports (issue 16): review scores by agent, team and week (the week of the call, in
the company's time zone, from its Monday), the items most often failed, and the talk figures
per agent. Only reviews that count (not overturned) enter them. Reviews are few (a sample of
the calls), so rows are grouped here rather than in SQL: one rule on both databases."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.company import company_tz
from models.errors import PermissionDenied
from models.org.teams import team_agent_ids
from models.schema import Recording, Review, ReviewAnswer, ReviewItem, Role, User
from models.schema.quality import RecordingAnalysis

from .reviews import COUNTED_STATES, is_reviewer


@dataclasses.dataclass
class ScoreRow:
    key: object            # agent id, manager id or the week's Monday
    label: str
    reviews: int
    mean: float
    failed: int            # reviews failed by a critical item


def week_of(when: dt.datetime, tz) -> dt.date:
    day = when.astimezone(tz).date()
    return day - dt.timedelta(days=day.weekday())


def _reviews(session: Session, since: dt.datetime | None, until: dt.datetime | None):
    stmt = (select(Review.agent_id, Review.score, Review.failed, Recording.created_at)
            .join(Recording, Recording.id == Review.recording_id)
            .where(Review.state.in_(COUNTED_STATES)))
    if since is not None:
        stmt = stmt.where(Recording.created_at >= since)
    if until is not None:
        stmt = stmt.where(Recording.created_at < until)
    return session.execute(stmt).all()


def _row(key, label, scores: list[tuple[float, bool]]) -> ScoreRow:
    return ScoreRow(key, label, len(scores), round(sum(s for s, _ in scores) / len(scores), 1),
                    sum(1 for _, f in scores if f))


def _check(user: User) -> None:
    if not (user.role.can_manage or is_reviewer(user)):
        raise PermissionDenied()


def scores_by_agent(session: Session, user: User, since=None, until=None) -> list[ScoreRow]:
    _check(user)
    groups: dict[int, list] = defaultdict(list)
    for agent_id, score, failed, _ in _reviews(session, since, until):
        if agent_id is not None:
            groups[agent_id].append((score, failed))
    names = dict(session.execute(select(User.id, User.full_name)
                                 .where(User.id.in_(list(groups)))).all()) if groups else {}
    return sorted((_row(a, names.get(a, "?"), s) for a, s in groups.items()),
                  key=lambda r: (-r.mean, r.label))


def scores_by_team(session: Session, user: User, since=None, until=None) -> list[ScoreRow]:
    """One row per manager (a team: models.org.teams) whose agents have reviews."""
    _check(user)
    rows = _reviews(session, since, until)
    managers = session.scalars(select(User).join(Role, Role.id == User.role_id)
                               .where(Role.can_manage.is_(True), Role.is_admin.is_(False))
                               .order_by(User.full_name)).all()
    out = []
    for manager in managers:
        team = set(session.scalars(team_agent_ids(manager)))
        scores = [(s, f) for a, s, f, _ in rows if a in team]
        if scores:
            out.append(_row(manager.id, manager.full_name, scores))
    return out


def scores_by_week(session: Session, user: User, since=None, until=None,
                   agent_ids: set[int] | None = None) -> list[ScoreRow]:
    _check(user)
    tz = company_tz(session)
    groups: dict[dt.date, list] = defaultdict(list)
    for agent_id, score, failed, at in _reviews(session, since, until):
        if agent_ids is None or agent_id in agent_ids:
            groups[week_of(at, tz)].append((score, failed))
    return [_row(w, w.isoformat(), groups[w]) for w in sorted(groups)]


def most_failed_items(session: Session, user: User, since=None, until=None,
                      limit: int = 10) -> list[tuple[str, int, int]]:
    """(item, times failed, times answered), most failed first."""
    _check(user)
    stmt = (select(ReviewItem.label, func.count(ReviewAnswer.id),
                   func.count(ReviewAnswer.id).filter(ReviewAnswer.value <= 0))
            .join(ReviewAnswer, ReviewAnswer.item_id == ReviewItem.id)
            .join(Review, Review.id == ReviewAnswer.review_id)
            .join(Recording, Recording.id == Review.recording_id)
            .where(Review.state.in_(COUNTED_STATES))
            .group_by(ReviewItem.id, ReviewItem.label))
    if since is not None:
        stmt = stmt.where(Recording.created_at >= since)
    if until is not None:
        stmt = stmt.where(Recording.created_at < until)
    rows = [(label, int(bad or 0), int(total)) for label, total, bad in session.execute(stmt)]
    return sorted([r for r in rows if r[1]], key=lambda r: (-r[1], r[0]))[:limit]


@dataclasses.dataclass
class TalkRow:
    agent_id: int
    agent: str
    calls: int
    agent_share: float      # mean over the analysed calls, 0..1
    longest_silence_ms: int
    long_silences: int      # calls flagged
    dominant: int


def talk_by_agent(session: Session, user: User, since=None, until=None) -> list[TalkRow]:
    _check(user)
    stmt = (select(Recording.user_id, User.full_name, func.count(),
                   func.avg(RecordingAnalysis.agent_share),
                   func.max(RecordingAnalysis.longest_silence_ms),
                   func.count().filter(RecordingAnalysis.long_silence.is_(True)),
                   func.count().filter(RecordingAnalysis.agent_dominant.is_(True)))
            .join(RecordingAnalysis, RecordingAnalysis.recording_id == Recording.id)
            .join(User, User.id == Recording.user_id)
            .where(RecordingAnalysis.agent_share.is_not(None))
            .group_by(Recording.user_id, User.full_name).order_by(User.full_name))
    if since is not None:
        stmt = stmt.where(Recording.created_at >= since)
    if until is not None:
        stmt = stmt.where(Recording.created_at < until)
    return [TalkRow(a, name, n, round(float(share or 0), 3), int(longest or 0), int(ls), int(dom))
            for a, name, n, share, longest, ls, dom in session.execute(stmt)]
