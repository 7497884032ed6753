"""A recording's analysis kept beside it (models.schema.quality.RecordingAnalysis): the
waveform peaks the page draws and the talk figures of recordings/talk.py, with the two flags
reviewers filter on, decided here (one rule): silence longer than 10 s, the agent talking
more than 80 % of the talk time."""
from __future__ import annotations

import json

from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.schema.quality import RecordingAnalysis

LONG_SILENCE_MS = 10_000
AGENT_DOMINANT_SHARE = 0.8


def _row(session: Session, recording_id: int, clock) -> RecordingAnalysis:
    row = session.get(RecordingAnalysis, recording_id)
    if row is None:
        row = RecordingAnalysis(recording_id=recording_id, analysed_at=clock.now())
        session.add(row)
    return row


def peaks_of(session: Session, recording_id: int) -> list[int] | None:
    row = session.get(RecordingAnalysis, recording_id)
    return json.loads(row.peaks) if row is not None and row.peaks else None


def save_peaks(session: Session, recording_id: int, peaks: list[int], clock=SYSTEM_CLOCK) -> None:
    row = _row(session, recording_id, clock)
    row.peaks = json.dumps([max(0, min(100, int(p))) for p in peaks], separators=(",", ":"))
    session.flush()


def save_talk(session: Session, recording_id: int, *, agent_share: float, customer_share: float,
              longest_silence_ms: int, crosstalk_ms: int, clock=SYSTEM_CLOCK) -> RecordingAnalysis:
    """Keep the talk figures of a call (shares of the talk time, 0..1) and set its flags."""
    row = _row(session, recording_id, clock)
    row.agent_share, row.customer_share = round(agent_share, 4), round(customer_share, 4)
    row.longest_silence_ms, row.crosstalk_ms = int(longest_silence_ms), int(crosstalk_ms)
    row.long_silence = longest_silence_ms > LONG_SILENCE_MS
    row.agent_dominant = agent_share > AGENT_DOMINANT_SHARE
    row.analysed_at = clock.now()
    session.flush()
    return row
