"""Audio processing with pydub: MixMonitor's WAV → a small file browsers play, and durations.

MixMonitor writes 16-bit signed linear PCM WAV, 8 kHz mono for telephone channels (see
fastagi-record.txt / ami-mixmonitor*.txt): about 57 MB an hour. Compressed as mono MP3 at
24 kbit/s (every browser's <audio> plays it) it is about 10 MB an hour; ``ogg`` (Opus) is
smaller still but Safari plays it only lately. pydub reads WAV itself and needs ffmpeg
(Debian package ``ffmpeg``) to encode.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError, CouldntEncodeError

# format → (pydub/ffmpeg container, codec, extra ffmpeg parameters)
ENCODINGS = {
    "mp3": ("mp3", "libmp3lame", []),
    "ogg": ("ogg", "libopus", ["-application", "voip"]),
    "wav": ("wav", None, []),
}
DEFAULT_FORMAT = "mp3"
DEFAULT_BITRATE = "24k"
MAX_WAV_BYTES = 1024 * 1024 * 1024  # 1 GiB (~9 hours at 8 kHz); bigger is not a call


class AudioError(Exception):
    """The audio could not be read or encoded."""


@dataclass(frozen=True)
class AudioInfo:
    format: str
    duration_ms: int
    size_bytes: int
    sample_rate: int
    channels: int


def _segment(source: BinaryIO | str | os.PathLike, fmt: str | None = "wav") -> AudioSegment:
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as fh:
                data = fh.read(MAX_WAV_BYTES + 1)
        else:
            data = source.read(MAX_WAV_BYTES + 1)
        if len(data) > MAX_WAV_BYTES:
            raise AudioError("recording too large")
        if not data:
            raise AudioError("empty file")
        return AudioSegment.from_file(io.BytesIO(data), format=fmt)
    except (CouldntDecodeError, IndexError, ValueError, EOFError) as exc:
        raise AudioError(f"cannot read the audio: {exc}") from exc


def duration_ms(source: BinaryIO | str | os.PathLike, fmt: str | None = "wav") -> int:
    return len(_segment(source, fmt))


def compress(source: BinaryIO | str | os.PathLike, dest: str | os.PathLike, *,
             fmt: str = DEFAULT_FORMAT, bitrate: str = DEFAULT_BITRATE) -> AudioInfo:
    """Read a WAV (path or open file), write it to ``dest`` as ``fmt``, mono.
    Returns the format, the duration (of the source), the written size and the sample rate."""
    if fmt not in ENCODINGS:
        raise AudioError(f"unknown format {fmt!r}")
    segment = _segment(source, "wav").set_channels(1)
    container, codec, params = ENCODINGS[fmt]
    if fmt == "ogg" and segment.frame_rate not in (8000, 12000, 16000, 24000, 48000):
        segment = segment.set_frame_rate(16000)  # Opus runs at these rates only
    try:
        kwargs = dict(format=container, parameters=list(params))
        if codec:
            kwargs.update(codec=codec, bitrate=bitrate)
        handle = segment.export(str(dest), **kwargs)
        handle.close()
    except (CouldntEncodeError, OSError) as exc:
        raise AudioError(f"cannot encode {fmt}: {exc}") from exc
    return AudioInfo(format=fmt, duration_ms=len(segment), size_bytes=Path(dest).stat().st_size,
                     sample_rate=segment.frame_rate, channels=1)
