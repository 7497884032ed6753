"""The demo's recordings to review (issue 16): generated conversations of the demo agents with
their customers, through the call log and the recording store, analysed, with a review form."""
from __future__ import annotations

from sqlalchemy import select

from dialfunnel.demo import load_demo
from dialfunnel.demo_recordings import add_demo_recordings
from models.quality.forms import active_forms, item_rules
from models.quality.library import LibraryFilter, search
from models.schema import Recording, RecordingAnalysis, User
from recordings.store import RecordingStore


def test_demo_calls_are_stored_analysed_and_ready_to_review(Session, clock, tmp_path):
    with Session() as s:
        load_demo(s, seed=5, customers=200, clock=clock)
        s.commit()
    store = RecordingStore(tmp_path / "recordings", tmp_path / "monitor")
    with Session() as s:
        assert add_demo_recordings(s, store, clock, seed=5, count=3) == 3
    with Session() as s:
        recs = s.scalars(select(Recording)).all()
        assert len(recs) == 3 and all(store.exists(r.file_key) for r in recs)
        assert all(r.created_at < clock.now() for r in recs)
        analyses = s.scalars(select(RecordingAnalysis)).all()
        assert len(analyses) == 3 and all(a.agent_share is not None and a.peaks for a in analyses)
        (form,) = active_forms(s)
        assert len(item_rules(s, form.id)) == 7
        manager = s.scalar(select(User).where(User.username == "chenlei"))
        rows = search(s, manager, LibraryFilter(unreviewed=True))
        assert len(rows) == 3 and all(r.customer and r.disposition and r.agent for r in rows)
    assert list(store.incoming.iterdir()) == []
