"""recording_done: the dialplan's hangup handler says a MixMonitor file is complete.

    same => n,AGI(agi://127.0.0.1:4573/recording_done,${MIXMONITOR_FILENAME},inbound)

The WAV is compressed into the recording store, linked to call, customer and contact record,
and removed from the incoming folder. Status STORED, or SKIPPED when the call's recording is
already stored (the AMI listener may have been first) or the file is not there."""
from __future__ import annotations

from pathlib import Path

from recordings.store import RecordingStore

from . import register

DIRECTIONS = ("inbound", "outbound", "agent")
_store: RecordingStore | None = None


def configure(store: RecordingStore | None) -> None:
    """Use this store instead of the one the settings name (tests, embedding)."""
    global _store
    _store = store


def _settings_store() -> RecordingStore:
    from dialfunnel.settings import load_settings
    settings = load_settings()
    root = Path(settings.recordings_dir) if settings.recordings_dir \
        else settings.data_dir / "recordings"
    return RecordingStore(root, settings.recordings_incoming or None)


@register("recording_done")
def recording_done(agi, session, args):
    from agi.events import RecordingJob, ingest_recording
    if not args or not args[0]:
        return "ERROR"
    store = _store or _settings_store()
    direction = args[1] if len(args) > 1 and args[1] in DIRECTIONS else "inbound"
    caller = agi.env.get("agi_callerid")
    job = RecordingJob(uniqueid=agi.uniqueid, filename=args[0], direction=direction,
                       number=None if caller in (None, "", "unknown") else caller)
    recording = ingest_recording(session, store, job)
    session.commit()
    if recording is None:
        return "SKIPPED"
    store.remove_incoming(args[0])
    return "STORED"
