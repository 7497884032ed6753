"""Short garbage-collector pauses for the processes that answer AMI events as they come (the
worker's listener and call-log writer, the dialer).

Python's full collections walk every tracked object; with thousands of calls and legs cached
by the call-log writer they stall the writer for tens of milliseconds at a time, and young
collections every 700 allocations run hundreds of times a second under a busy event stream.
What the process loaded at start leaves the collector's care (``gc.freeze``) and young objects
are collected every ``YOUNG_THRESHOLD`` allocations. Measured with bench/call_log.py on
PostgreSQL under load (alternate runs): Hangup → committed row p99 3,984–6,432 ms with
Python's defaults, 1,097–1,162 ms with these."""
from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def calm_collector(young: int = YOUNG_THRESHOLD) -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(young, 20, 20)
