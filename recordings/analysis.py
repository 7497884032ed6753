"""What dialfunnel learns from a finished call's WAVs before they leave the spool (issue 16):
the waveform's peaks of the mixed file (recordings/peaks.py) and, when MixMonitor also wrote
the two directions apart (dialplan: ``r(<uniqueid>-r.wav)t(<uniqueid>-t.wav)``), the talk
figures (recordings/talk.py). Kept by models.quality.talk beside the Recording row.

Which side is the agent: MixMonitor runs on the customer's channel for inbound and dialer calls
(``-r`` is what the customer says, ``-t`` what is sent to him: the agent) and on the agent's
channel for an agent's own call (kind ``agent``: the other way round)."""
from __future__ import annotations

import dataclasses
import logging

from models.quality.talk import save_peaks, save_talk

from .audio import AudioError
from .peaks import peaks_of_file
from .store import RecordingStore, UnsafePath, incoming_name, shown
from .talk import TalkError, TalkFigures, analyse, read_wav

log = logging.getLogger(__name__)


@dataclasses.dataclass
class CallAnalysis:
    peaks: list[int]
    talk: TalkFigures | None


def leg_names(filename: str) -> tuple[str, str]:
    """The ``-r`` and ``-t`` files beside MixMonitor's file (names in the incoming folder)."""
    stem = incoming_name(filename)[:-4]
    return f"{stem}-r.wav", f"{stem}-t.wav"


def _leg(store: RecordingStore, name: str) -> tuple[bytes, int] | None:
    try:
        with store.open_incoming(name) as fh:
            return read_wav(fh)
    except FileNotFoundError:
        return None


def analyse_incoming(store: RecordingStore, filename: str, direction: str) -> CallAnalysis:
    """Peaks of the mixed WAV and, if both sides are there, the talk figures. Never raises for
    bad audio: what cannot be read is left out (one WARNING line)."""
    peaks: list[int] = []
    try:
        with store.open_incoming(filename) as fh:
            peaks = peaks_of_file(fh)
    except (FileNotFoundError, UnsafePath, AudioError) as exc:
        log.warning("recording %s: no waveform: %s", shown(filename), exc)
    talk = None
    try:
        received, sent = (_leg(store, name) for name in leg_names(filename))
        if received and sent:
            if received[1] != sent[1]:
                raise TalkError("the two sides differ in rate")
            agent, customer = (received, sent) if direction == "agent" else (sent, received)
            talk = analyse(agent[0], customer[0], agent[1])
    except (UnsafePath, TalkError) as exc:
        log.warning("recording %s: no talk figures: %s", shown(filename), exc)
    return CallAnalysis(peaks, talk)


def keep(session, recording_id: int, analysis: CallAnalysis, clock) -> None:
    if analysis.peaks:
        save_peaks(session, recording_id, analysis.peaks, clock=clock)
    if analysis.talk is not None:
        t = analysis.talk
        save_talk(session, recording_id, agent_share=t.agent_share,
                  customer_share=t.customer_share, longest_silence_ms=t.longest_silence_ms,
                  crosstalk_ms=t.crosstalk_ms, clock=clock)


def remove_legs(store: RecordingStore, filename: str) -> None:
    try:
        for name in leg_names(filename):
            store.remove_incoming(name)
    except UnsafePath:
        pass
