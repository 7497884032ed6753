"""The weekly review sample (issue 16): a share of every agent's answered calls, at least N
each with the shortest and the longest, spread over the reviewers, once per week, on the
injected clock."""
from __future__ import annotations

import datetime as dt

import pytest

from models.errors import InvalidValue, PermissionDenied
from models.quality import reviews as rv
from models.quality.sampling import (
    queue_of,
    run_due,
    sample_settings,
    sample_week,
    set_sample_settings,
)
from models.schema.quality import ReviewQueueEntry

from tests.call_helpers import abandoned_call, record

from .helpers import answers, make_form, recorded_call

MONDAY = dt.date(2026, 11, 23)   # the week of the clock fixture's Thursday 2026-11-26


@pytest.fixture
def week(session, users, clock):
    """tm: 10 calls of 10..100 s; tm2: 2 calls; mgr: 1 call; an abandoned call with a file."""
    made = {"tm": [], "tm2": [], "mgr": []}
    for n in range(10):
        made["tm"].append(recorded_call(session, clock, users["tm"], talk=10 * (n + 1)))
        clock.advance(minutes=7)
    for name in ("tm2", "tm2", "mgr"):
        made[name].append(recorded_call(session, clock, users[name], talk=40))
    made["abandoned"] = record(session, clock, abandoned_call(session, clock, "021-62345678"),
                               users["tm2"])
    return made


def test_a_share_with_the_shortest_and_longest_spread_over_the_reviewers(session, users, clock, week):
    made = sample_week(session, MONDAY, percent=20, minimum=3, clock=clock)
    session.commit()
    by_agent = {}
    for entry in made:
        rec = next(r for rs in week.values() if isinstance(rs, list) for r in rs if r.id == entry.recording_id)
        by_agent.setdefault(rec.user_id, []).append(rec)
    tm = sorted(r.duration_ms for r in by_agent[users["tm"].id])
    assert len(tm) == 3 and tm[0] == 10_000 and tm[-1] == 100_000
    assert len(by_agent[users["tm2"].id]) == 2          # fewer than the minimum: all of them
    assert week["abandoned"].id not in {e.recording_id for e in made}
    load = {}
    for entry in made:
        assert entry.reviewer_id in (users["mgr"].id, users["admin"].id)
        load[entry.reviewer_id] = load.get(entry.reviewer_id, 0) + 1
        if entry.recording_id == week["mgr"][0].id:
            assert entry.reviewer_id == users["admin"].id   # never his own call
    assert sorted(load.values()) == [3, 3]
    # a second run of the same week adds nothing
    assert sample_week(session, MONDAY, percent=20, minimum=3, clock=clock) == []
    # the reviewer's queue empties as he reviews
    form, items = make_form(session, users["admin"], clock)
    queue = queue_of(session, users["mgr"])
    assert len(queue) == 3
    rv.submit_review(session, users["mgr"], queue[0].recording_id, form.id, answers(items), clock=clock)
    assert len(queue_of(session, users["mgr"])) == 2


def test_the_weekly_job_samples_the_last_full_week_once(session, users, clock, week):
    assert sample_settings(session) == (10, 3)
    assert run_due(session, clock=clock) == []            # the week of the calls is not over
    session.commit()
    clock.set(dt.datetime(2026, 11, 29, 15, 59, tzinfo=dt.timezone.utc))   # Sunday 23:59 Shanghai
    assert run_due(session, clock=clock) == []
    clock.set(dt.datetime(2026, 11, 29, 16, 1, tzinfo=dt.timezone.utc))    # Monday 00:01
    made = run_due(session, clock=clock)
    assert len(made) == 3 + 2 + 1
    session.commit()
    assert run_due(session, clock=clock) == []
    assert session.query(ReviewQueueEntry).count() == 6


def test_sample_settings_are_checked(session, users):
    with pytest.raises(PermissionDenied):
        set_sample_settings(session, users["mgr"], 20, 3)
    for percent, minimum in ((101, 3), ("x", 3), (10, -1)):
        with pytest.raises(InvalidValue):
            set_sample_settings(session, users["admin"], percent, minimum)
    set_sample_settings(session, users["admin"], "25", "5")
    assert sample_settings(session) == (25, 5)
