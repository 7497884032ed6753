"""The carrier's early media, played to the dialer's early-media listener.

    server.early_media = EarlyMediaPlayer(listener_address)

A dialer Originate with ``EarlyMedia: true`` runs dialfunnel-early-media, whose EAGI forwarder
streams the call's audio to the listener in AudioSocket framing (agi/early_media/eagi.py).
The simulator does the same for the calls it fails: what a Chinese carrier plays before it
fails them (recordings.early_media.corpus: espeak-ng announcements after a ring; ringback for
a line that rings unanswered), paced by the simulator's clock (``step`` s of audio per tick),
from the first tick until the call ends or the audio runs out. The call's own script goes on
meanwhile: a call the dialer does not hang up fails with its cause as before.
"""
from __future__ import annotations

import random
import socket
import uuid

from recordings.early_media import corpus

# the simulator's outcome → what the carrier plays before it
SAID = {"unallocated": "unallocated", "invalid": "unallocated", "absent": "switched_off",
        "busy": "busy", "noanswer": "ringback"}
PACKET = 320                 # 20 ms of 8 kHz signed linear


def _frame(kind: int, payload: bytes = b"") -> bytes:
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


class EarlyMediaPlayer:
    def __init__(self, address: tuple[str, int], *, seconds: float = 14.0, step: float = 0.2,
                 seed: int = 0):
        self.address, self.seconds, self.step, self.seed = address, seconds, step, seed
        self.played: list[tuple[str, str]] = []      # (ChannelId, what was played)

    def start(self, call) -> bool:
        """Play the call's early media, if its outcome has any."""
        kind = SAID.get(call.outcome)
        if kind is None:
            return False
        rng = random.Random(f"{self.seed}:{call.channel_id}")
        made = corpus.call(corpus.World(kind=kind, lead="ringback", seconds=self.seconds), rng)
        try:
            sock = socket.create_connection(self.address, timeout=5)
            ident = call.channel_id
            try:
                payload = uuid.UUID(ident).bytes
            except ValueError:
                payload = ident.encode("utf-8")
            sock.sendall(_frame(0x01, payload))
        except OSError:
            return False                 # no listener: as a forwarder that failed
        self.played.append((call.channel_id, kind))
        per_tick = max(1, round(self.step * 8000 * 2 / PACKET)) * PACKET
        scheduler = call.server.scheduler

        def tick(when: float, offset: int = 0) -> None:
            chunk = made.pcm[offset:offset + per_tick]
            try:
                if call.done or not call.legs["o1"]["alive"] or not chunk:
                    sock.sendall(_frame(0x00))
                    sock.close()
                    return
                sock.sendall(b"".join(_frame(0x10, chunk[i:i + PACKET])
                                      for i in range(0, len(chunk), PACKET)))
            except OSError:                  # the listener ended it (it heard enough)
                sock.close()
                return
            scheduler.at(when + self.step, lambda t: tick(t, offset + per_tick))
        scheduler.at(call.t, tick)
        return True
