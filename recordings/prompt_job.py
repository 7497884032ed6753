"""Generating the IVR prompts in the background (the admin's button; the command line runs
recordings.prompts.generate_prompts directly).

The job's state is a small JSON file in the prompts folder (`.generate.json`), so every web
process (gunicorn runs several) sees the same progress:
  {"state": "running" | "done" | "failed", "done": n, "total": N, "started_at", "beat_at",
   "finished_at", "generated": n, "error": text}
A running job beats every time a prompt is finished; one whose beat is older than
STALE_SECONDS died with its process and may be started again."""
from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path

from models.clock import SYSTEM_CLOCK

from .prompts import AudioError, generate_prompts

STATE_FILE = ".generate.json"
STALE_SECONDS = 120
_lock = threading.Lock()


def read_state(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write(folder: Path, state: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (STATE_FILE + f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, folder / STATE_FILE)


def is_running(state: dict | None, clock=SYSTEM_CLOCK) -> bool:
    if not state or state.get("state") != "running":
        return False
    beat = dt.datetime.fromisoformat(state["beat_at"])
    return (clock.now() - beat).total_seconds() < STALE_SECONDS


def start(folder: Path, texts: dict[str, str], voice: str, *, clock=SYSTEM_CLOCK,
          run=threading.Thread) -> bool:
    """Start generating in a background thread; False when a job is already running."""
    folder = Path(folder)
    with _lock:
        if is_running(read_state(folder), clock):
            return False
        now = clock.now().isoformat()
        state = dict(state="running", done=0, total=len(texts), started_at=now, beat_at=now)
        _write(folder, state)
    run(target=_run, args=(folder, texts, voice, state, clock), daemon=True,
        name="prompts-generate").start()
    return True


def _run(folder: Path, texts, voice, state: dict, clock) -> None:
    def progress(done: int, total: int) -> None:
        state.update(done=done, total=total, beat_at=clock.now().isoformat())
        _write(folder, state)
    try:
        report = generate_prompts(folder, texts, voice=voice, on_progress=progress)
    except (AudioError, OSError, ValueError) as exc:
        state.update(state="failed", error=str(exc)[:500])
    else:
        state.update(state="done", generated=len(report.generated), done=state["total"])
    state["finished_at"] = state["beat_at"] = clock.now().isoformat()
    _write(folder, state)
