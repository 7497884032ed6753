"""The carrier's early media, played to the dialer's early-media listener.

    server.early_media = EarlyMediaPlayer(listener_address)

A dialer Originate with ``EarlyMedia: true`` runs dialfunnel-early-media, whose EAGI forwarder
streams the call's audio to the listener in AudioSocket framing (agi/early_media/eagi.py).
The simulator does the same for the calls it fails: what a Chinese carrier plays before it
fails them (recordings.early_media.corpus: espeak-ng announcements after a ring; ringback for
a line that rings unanswered), paced by the simulator's clock (``step`` s of audio per tick),
from the first tick until the call ends or the audio runs out. The call's own script goes on
meanwhile: a call the dialer does not hang up fails with its cause as before.

A carrier that announces holds the call while it speaks and clears it with its cause after
that: CARRIER_TIMING, merged into a scenario's timing, fails the announced calls as late
(the demo and bench/dialer_sim.py --early-media use it). `variants`: how many recordings of
each kind the carrier plays (0: each call its own, seeded by its channel; a few: cached, as a
carrier plays the same recording every time, and cheap for a long simulation).
"""
from __future__ import annotations

import random
import socket
import uuid
import zlib

from recordings.early_media import corpus, references

# the simulator's outcome → what the carrier plays before it
SAID = {"unallocated": "unallocated", "invalid": "unallocated", "absent": "switched_off",
        "busy": "busy", "noanswer": "ringback"}
PACKET = 320                 # 20 ms of 8 kHz signed linear
# the failing outcomes the player announces: the carrier's cause comes after its words
CARRIER_TIMING = {outcome: {"setup_time": (14.0, 20.0)}
                  for outcome in ("unallocated", "invalid", "absent", "busy")}


def _frame(kind: int, payload: bytes = b"") -> bytes:
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


class EarlyMediaPlayer:
    def __init__(self, address: tuple[str, int], *, seconds: float = 14.0, step: float = 0.2,
                 seed: int = 0, variants: int = 0, on_sent=None):
        self.address, self.seconds, self.step, self.seed = address, seconds, step, seed
        self.variants = variants
        self.on_sent = on_sent                       # (ChannelId, bytes of audio sent so far)
        self.played: list[tuple[str, str]] = []      # (ChannelId, what was played)
        self._made: dict[tuple[str, int], corpus.Call] = {}

    def audio(self, kind: str, channel_id: str) -> corpus.Call:
        """What the carrier plays on that call (speech_at_ms: where its words begin)."""
        if not self.variants:
            return self._make(kind, random.Random(f"{self.seed}:{channel_id}"))
        key = (kind, zlib.crc32(channel_id.encode()) % self.variants)
        if key not in self._made:
            self._made[key] = self._make(kind, random.Random(f"{self.seed}:{kind}:{key[1]}"))
        return self._made[key]

    def _make(self, kind: str, rng: random.Random) -> corpus.Call:
        """In one of the references' voices, at its speed ±2 % (a recording of the carrier's
        own, not the reference itself)."""
        voice, speed = rng.choice(references.VOICES)
        return corpus.call(corpus.World(kind=kind, lead="ringback", seconds=self.seconds,
                                        voice=voice, speed=speed, tempo=rng.uniform(0.98, 1.02)),
                           rng)

    def start(self, call) -> bool:
        """Play the call's early media, if its outcome has any."""
        kind = SAID.get(call.outcome)
        if kind is None:
            return False
        made = self.audio(kind, call.channel_id)
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
                if self.on_sent is not None:
                    self.on_sent(call.channel_id, offset + len(chunk))
            except OSError:                  # the listener ended it (it heard enough)
                sock.close()
                return
            scheduler.at(when + self.step, lambda t: tick(t, offset + per_tick))
        scheduler.at(call.t, tick)
        return True
