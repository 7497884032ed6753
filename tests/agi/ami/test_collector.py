"""The event-driven processes' collector settings (agi/ami/collector.py)."""
from __future__ import annotations

import gc

from agi.ami.collector import YOUNG_THRESHOLD, calm_collector


def test_calm_collector_freezes_what_is_loaded_and_collects_young_objects_less_often():
    before = gc.get_threshold()
    try:
        calm_collector()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 20, 20)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
