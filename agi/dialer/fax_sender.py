"""The fax sender (T8), a loop of the dialer process: originates the queued faxes.

Every ``poll()`` claims the due faxes, no more than the free fax lines
(models.fax.outbox.claim_due), and sends an async Originate of the trunk channel to the fax
number into the dialplan's ``dialfunnel-fax,send`` with ``DIALFUNNEL_FAX`` (the TIFF's path, which
Asterisk must be able to read: the fax folder on the PBX's disk) and ``DIALFUNNEL_FAX_ID``. The
ChannelId is ``fax-<id>-<attempt>``. A failed OriginateResponse (busy, no answer...) is the
attempt's result here; an answered call reports through the dialplan's hangup handler
(agi/handlers/fax_done.py). A fax whose result never comes is expired (outbox.expire_lost).

With several Asterisk servers (agi.dialer.servers) each fax goes out on the server up with the
most free trunk lines (``used``: the dialer's lines up on each); every server's answers are
heard."""
from __future__ import annotations

import datetime as dt
import logging
import queue
import re
import threading

from agi.ami.client import AMIError
from agi.dialer.servers import PBX, least_busy
from faxdocs.store import FaxStore
from models.clock import SYSTEM_CLOCK
from models.fax import outbox

log = logging.getLogger(__name__)

CONTEXT = "dialfunnel-fax"
EXTEN = "send"
RING_SECONDS = 60
POLL_SECONDS = 2.0
_CHANNEL_ID = re.compile(r"fax-(\d+)-\d+")


class FaxSender:
    def __init__(self, sessionmaker, ami, store: FaxStore, *, trunk: str, lines: int,
                 retry_wait: dt.timedelta, caller_id: str | None = None, clock=SYSTEM_CLOCK,
                 servers: list[PBX] | None = None, used=dict):
        self.servers = servers or [PBX("default", ami)]
        self.used = used       # () → {server name: the dialer's lines up on it}
        self.Session, self.ami, self.store = sessionmaker, self.servers[0].ami, store
        self.trunk, self.lines, self.retry_wait = trunk, lines, retry_wait
        self.caller_id, self.clock = caller_id, clock
        self._events: queue.Queue = queue.Queue()

    def attach(self) -> "FaxSender":
        for pbx in self.servers:
            pbx.ami.on("OriginateResponse", self._events.put)
        return self

    def step(self) -> int:
        """Handle the OriginateResponse events of our faxes; returns how many failed."""
        failed = 0
        while True:
            try:
                msg = self._events.get_nowait()
            except queue.Empty:
                return failed
            match = _CHANNEL_ID.fullmatch(msg.get("Uniqueid") or "")
            if match is None or msg.get("Response") == "Success":
                continue
            reason = int(msg.get("Reason") or 0) if (msg.get("Reason") or "0").isdigit() else 0
            with self.Session() as s:
                outbox.originate_failed(s, int(match[1]), reason, retry_wait=self.retry_wait,
                                        clock=self.clock)
                s.commit()
            failed += 1

    def poll(self) -> list[int]:
        """One round: results first, then the lost ones, then the due faxes are originated.
        Returns the ids originated."""
        self.step()
        with self.Session() as s:
            outbox.expire_lost(s, retry_wait=self.retry_wait, clock=self.clock)
            claimed = outbox.claim_due(s, lines=self.lines, clock=self.clock)
            calls = [(f.id, f.number, outbox.channel_id(f), f.tiff_key) for f in claimed]
            s.commit()
        used = dict(self.used()) if calls and len(self.servers) > 1 else {}
        for fax_id, number, channel_id, tiff_key in calls:
            pbx = least_busy(self.servers, used)
            used[pbx.name] = used.get(pbx.name, 0) + 1
            self._originate(pbx.ami, fax_id, number, channel_id, tiff_key)
        return [c[0] for c in calls]

    def _originate(self, ami, fax_id: int, number: str, channel_id: str, tiff_key: str) -> None:
        try:
            ami.originate(
                self.trunk.format(number=number), context=CONTEXT, exten=EXTEN, priority=1,
                timeout_ms=RING_SECONDS * 1000, caller_id=self.caller_id,
                variables={"DIALFUNNEL_FAX": str(self.store.path(tiff_key)),
                           "DIALFUNNEL_FAX_ID": fax_id},
                channel_id=channel_id, other_channel_id=f"{channel_id};2")
        except AMIError as exc:
            log.warning("fax %s: Originate failed: %s", fax_id, exc)
            with self.Session() as s:
                outbox.originate_failed(s, fax_id, 1, retry_wait=self.retry_wait, clock=self.clock)
                s.commit()


def run_forever(sender: FaxSender, stop: threading.Event, *, interval: float = POLL_SECONDS) -> None:
    while not stop.wait(interval):
        try:
            sender.poll()
        except Exception:
            log.exception("fax sender: a round failed")
