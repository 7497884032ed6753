"""The weekly review sample as a background job (models/quality/sampling.py's run_due, hourly:
it samples the last full week once, on the first round after the week ended)."""
from __future__ import annotations

import logging
import threading

from models.clock import SYSTEM_CLOCK
from models.quality.sampling import run_due

log = logging.getLogger(__name__)


def sampling_loop(sessionmaker, stop: threading.Event, *, interval: float = 3600.0,
                  clock=SYSTEM_CLOCK) -> None:
    while not stop.is_set():
        try:
            with sessionmaker.begin() as session:
                made = run_due(session, clock=clock)
            if made:
                log.info("quality: %d recordings queued for review", len(made))
        except Exception:  # a dead database must not kill the worker
            log.exception("review sampling round failed")
        stop.wait(interval)
