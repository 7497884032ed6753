"""The weekly sample (抽检): each week a chosen share of every agent's answered, recorded calls
(at least ``minimum`` per agent, the shortest and the longest always among them) is queued for
review and assigned to the reviewers, the least loaded first, never an agent to himself.

Settings (app settings an admin edits on the review forms page): ``quality.sample_percent``
(default 10) and ``quality.sample_minimum`` (default 3). ``run_due`` samples the last full week
(Monday to Sunday, company time) once, on the first run after it ended; ``sample_week`` does one
week and is idempotent (a recording is queued once; an agent sampled for a week is not again).
The choice among the middle calls is random but repeatable (seeded by week and agent)."""
from __future__ import annotations

import datetime as dt
import math
import random

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.company import company_tz, day_bounds
from models.errors import InvalidValue, PermissionDenied
from models.schema import AppSetting, Recording, Review, Role, User
from models.schema.calls import Call
from models.schema.quality import ReviewQueueEntry

PERCENT_KEY, MINIMUM_KEY, LAST_KEY = ("quality.sample_percent", "quality.sample_minimum",
                                      "quality.sampled_week")
DEFAULT_PERCENT, DEFAULT_MINIMUM = 10, 3


def _setting(session: Session, key: str) -> str | None:
    return session.scalar(select(AppSetting.value).where(AppSetting.key == key))


def _put(session: Session, key: str, value: str) -> None:
    row = session.get(AppSetting, key)
    if row is None:
        session.add(AppSetting(key=key, value=value))
    else:
        row.value = value
    session.flush()


def sample_settings(session: Session) -> tuple[int, int]:
    """(percent, minimum per agent)."""
    def read(key, default):
        try:
            return int(_setting(session, key) or default)
        except ValueError:
            return default
    return read(PERCENT_KEY, DEFAULT_PERCENT), read(MINIMUM_KEY, DEFAULT_MINIMUM)


def set_sample_settings(session: Session, actor: User, percent, minimum) -> None:
    if not actor.role.is_admin:
        raise PermissionDenied()
    try:
        percent, minimum = int(str(percent).strip()), int(str(minimum).strip())
    except ValueError:
        raise InvalidValue("quality.bad_share") from None
    if not 0 <= percent <= 100:
        raise InvalidValue("quality.bad_share")
    if not 0 <= minimum <= 100:
        raise InvalidValue(field="minimum")
    _put(session, PERCENT_KEY, str(percent))
    _put(session, MINIMUM_KEY, str(minimum))


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def reviewers(session: Session) -> list[User]:
    return list(session.scalars(select(User).join(Role, Role.id == User.role_id)
                                .where(User.active.is_(True),
                                       Role.can_hear_others_recordings.is_(True))
                                .order_by(User.id)))


def choose(recordings: list[Recording], count: int, rng: random.Random) -> list[Recording]:
    """``count`` of the recordings: the shortest, the longest, then random others."""
    if count >= len(recordings):
        return list(recordings)
    by_length = sorted(recordings, key=lambda r: (r.duration_ms, r.id))
    picked = [by_length[0], by_length[-1]][:count]
    rest = by_length[1:-1]
    picked += rng.sample(rest, count - len(picked))
    return picked


def sample_week(session: Session, monday: dt.date, *, percent: int, minimum: int,
                clock=SYSTEM_CLOCK) -> list[ReviewQueueEntry]:
    """Queue the week's sample; returns the new entries (flushed)."""
    tz = company_tz(session)
    since, _ = day_bounds(tz, monday)
    until, _ = day_bounds(tz, monday + dt.timedelta(days=7))
    rows = session.scalars(
        select(Recording).join(Call, Call.linkedid == Recording.linkedid)
        .where(Call.answered_at.is_not(None), Recording.user_id.is_not(None),
               Recording.deleted_at.is_(None), Recording.duration_ms > 0,
               Recording.created_at >= since, Recording.created_at < until,
               ~Recording.id.in_(select(Review.recording_id)))
        .order_by(Recording.id)).all()
    by_agent: dict[int, list[Recording]] = {}
    for rec in rows:
        by_agent.setdefault(rec.user_id, []).append(rec)
    done = set(session.scalars(select(Recording.user_id).join(
        ReviewQueueEntry, ReviewQueueEntry.recording_id == Recording.id)
        .where(ReviewQueueEntry.week == monday)))
    load = dict(session.execute(select(ReviewQueueEntry.reviewer_id, func.count())
                                .group_by(ReviewQueueEntry.reviewer_id)).all())
    pool = reviewers(session)
    made = []
    for agent_id in sorted(by_agent):
        if agent_id in done:
            continue
        calls = by_agent[agent_id]
        count = min(len(calls), max(minimum, math.ceil(len(calls) * percent / 100)))
        rng = random.Random(f"{monday.isoformat()}/{agent_id}")
        for rec in sorted(choose(calls, count, rng), key=lambda r: r.id):
            candidates = [u for u in pool if u.id != agent_id]
            reviewer = min(candidates, key=lambda u: (load.get(u.id, 0), u.id)) if candidates else None
            if reviewer is not None:
                load[reviewer.id] = load.get(reviewer.id, 0) + 1
            entry = ReviewQueueEntry(recording_id=rec.id, week=monday, created_at=clock.now(),
                                     reviewer_id=reviewer.id if reviewer else None)
            session.add(entry)
            made.append(entry)
    session.flush()
    return made


def run_due(session: Session, clock=SYSTEM_CLOCK) -> list[ReviewQueueEntry]:
    """Sample the last full week if that was not done yet (the weekly job; caller commits)."""
    today = clock.now().astimezone(company_tz(session)).date()
    last_week = week_start(today) - dt.timedelta(days=7)
    if _setting(session, LAST_KEY) == last_week.isoformat():
        return []
    percent, minimum = sample_settings(session)
    made = sample_week(session, last_week, percent=percent, minimum=minimum, clock=clock)
    _put(session, LAST_KEY, last_week.isoformat())
    return made


def queue_of(session: Session, reviewer: User) -> list[ReviewQueueEntry]:
    """The reviewer's queued recordings not reviewed yet, oldest week first."""
    return list(session.scalars(
        select(ReviewQueueEntry).where(ReviewQueueEntry.reviewer_id == reviewer.id,
                                       ~ReviewQueueEntry.recording_id.in_(select(Review.recording_id)))
        .order_by(ReviewQueueEntry.week, ReviewQueueEntry.id)))
