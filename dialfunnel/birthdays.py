"""The birthday job (T9): every hour, the day's birthdays are queued into the greeting
campaigns named by the `birthday_campaigns` setting (models.dialer.voice.queue_birthdays: a
customer is queued once a day, so the hourly rounds only catch up after a restart or a new
birthday typed in)."""
from __future__ import annotations

import logging
import threading

from models.clock import SYSTEM_CLOCK
from models.dialer.voice import queue_birthdays

log = logging.getLogger(__name__)
INTERVAL = 3600.0


def birthday_round(maker, names: list[str], *, clock=SYSTEM_CLOCK) -> int:
    with maker.begin() as session:
        return queue_birthdays(session, names, clock=clock)


def birthday_loop(maker, names: list[str], stop: threading.Event, *, interval: float = INTERVAL,
                  clock=SYSTEM_CLOCK) -> None:
    while not stop.is_set():
        try:
            queued = birthday_round(maker, names, clock=clock)
            if queued:
                log.info("birthday greetings queued: %d", queued)
        except Exception:  # a dead database must not kill the worker; retry next round
            log.exception("birthday round failed")
        stop.wait(interval)
