"""A recording's waveform as the page draws it: the loudest sample of each of ``buckets``
equal slices of the call, scaled 0–100 against the loudest slice (so a quiet line still
shows its shape). Computed once from the audio and kept (models/quality/talk.py)."""
from __future__ import annotations

import os
from array import array
from typing import BinaryIO

from .audio import _segment

BUCKETS = 600


def peaks_of_samples(samples: array, buckets: int = BUCKETS) -> list[int]:
    """Peaks of 16-bit mono samples."""
    n = len(samples)
    if n == 0:
        return []
    buckets = min(buckets, n)
    step = n / buckets
    raw = []
    for b in range(buckets):
        chunk = samples[int(b * step):int((b + 1) * step)] or samples[int(b * step):int(b * step) + 1]
        raw.append(max(max(chunk), -min(chunk)))
    top = max(raw) or 1
    return [round(100 * v / top) for v in raw]


def peaks_of_file(source: BinaryIO | str | os.PathLike, fmt: str | None = "wav",
                  buckets: int = BUCKETS) -> list[int]:
    """Peaks of an audio file (WAV read directly; other formats through ffmpeg)."""
    segment = _segment(source, fmt).set_channels(1).set_sample_width(2)
    return peaks_of_samples(array("h", segment.raw_data), buckets)
