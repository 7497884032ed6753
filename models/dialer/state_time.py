"""Time in each agent state, per agent and company day, from agent_state_log (issue 14).

Every span of a state other than logged_out is logged-in time; a span is cut at the company
day's midnights (models.company.day_bounds) and one still open ends ``now``. Per agent and day:
  logged_in, ready, on_call, wrap_up, paused   seconds in each state (inbound and outbound alike);
  paused_by_reason                             paused seconds by pause code;
  occupancy    = (on_call + wrap_up) / (logged_in - paused)   — of the time he could take calls,
                 the share spent on them (None when that time is 0);
  utilisation  = (on_call + wrap_up + productive pauses) / logged_in — productive pause codes
                 (training, meetings: models.dialer.pause_codes) count as work here.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models.company import company_tz, day_bounds
from models.dialer.pause_codes import productive_codes
from models.schema import AgentStateLog, User

STATES = ("ready", "on_call", "wrap_up", "paused")
MAX_DAYS = 366


@dataclass
class StateTime:
    user_id: int
    name: str
    day: dt.date
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STATES, 0.0))
    paused_by_reason: dict[str, float] = field(default_factory=dict)
    productive_pause: float = 0.0

    @property
    def logged_in(self) -> float:
        return sum(self.seconds.values())

    @property
    def occupancy(self) -> float | None:
        available = self.logged_in - self.seconds["paused"]
        busy = self.seconds["on_call"] + self.seconds["wrap_up"]
        return busy / available if available > 0 else None

    @property
    def utilisation(self) -> float | None:
        work = self.seconds["on_call"] + self.seconds["wrap_up"] + self.productive_pause
        return work / self.logged_in if self.logged_in > 0 else None


def state_time(session: Session, start: dt.date, end: dt.date, *, now: dt.datetime,
               user_ids: tuple[int, ...] | None = None) -> list[StateTime]:
    """One row per agent and day with logged-in time, from ``start`` to ``end`` (inclusive),
    ordered by day then agent name."""
    days = [start + dt.timedelta(days=n) for n in range(min((end - start).days + 1, MAX_DAYS))]
    if not days:
        return []
    tz = company_tz(session)
    bounds = [(day, *day_bounds(tz, day)) for day in days]
    low, high = bounds[0][1], bounds[-1][2]
    query = (select(AgentStateLog.user_id, User.full_name, AgentStateLog.state,
                    AgentStateLog.reason, AgentStateLog.started_at, AgentStateLog.ended_at)
             .join(User, User.id == AgentStateLog.user_id)
             .where(AgentStateLog.state != "logged_out", AgentStateLog.started_at < high,
                    or_(AgentStateLog.ended_at.is_(None), AgentStateLog.ended_at > low)))
    if user_ids is not None:
        query = query.where(AgentStateLog.user_id.in_(user_ids))
    productive = productive_codes(session)
    rows: dict[tuple[dt.date, int], StateTime] = {}
    for user_id, name, state, reason, began, ended in session.execute(query):
        if state not in STATES:
            continue
        ended = ended or now
        for day, day_start, day_end in bounds:
            seconds = (min(ended, day_end) - max(began, day_start)).total_seconds()
            if seconds <= 0:
                continue
            row = rows.setdefault((day, user_id), StateTime(user_id, name, day))
            row.seconds[state] += seconds
            if state == "paused":
                key = reason or ""
                row.paused_by_reason[key] = row.paused_by_reason.get(key, 0.0) + seconds
                if key in productive:
                    row.productive_pause += seconds
    return sorted(rows.values(), key=lambda r: (r.day, r.name, r.user_id))
