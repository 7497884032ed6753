"""Listen / whisper / barge through AMI: the dialer process rings the manager's phone into
ChanSpy for each queued request (models/telephony/supervision.py) and keeps the log's times.

    runner = SpyRunner(sessionmaker, ami, dialer_id="dialer-1").attach()
    runner.poll()              # claim the queued requests and Originate each (the process: start())

The Originate: Channel PJSIP/<manager extension>, Context dialfunnel-spy, Exten <mode> (the
dialplan turns the mode into ChanSpy's options q / qw / qB, never the request), Variable
DF_SPY_TARGET=<the agent's channel> (the dialplan filters it to a channel name's characters),
ChannelId spy-<row id>-<random>: the manager's channel's Uniqueid, by which the events find the
row. ChanSpyStart (SpyerUniqueid) marks it active; the Hangup of that channel ends it (a phone
never answered: failed). As captured from Asterisk 22 (ami-chanspy.txt): ChanSpyStart/Stop carry
Spyer* then Spyee* headers, and a manager hung up by AMI shows Cause 0.

With several Asterisk servers (agi.dialer.servers) the manager's phone is rung on the server of
the spied agent's phone, where the agent's calls are (ChanSpy sees that server's channels only:
the manager's phone must be reachable from there); every server's events are heard.
"""
from __future__ import annotations

import logging
import re
import threading
import uuid

from agi.ami.client import AMIClient, AMIError
from agi.ami.wire import Message
from agi.dialer.servers import PBX, ami_for_extension
from models.clock import SYSTEM_CLOCK
from models.schema.supervision import SPY_MODES
from models.telephony import supervision

log = logging.getLogger(__name__)

SPY_CONTEXT = "dialfunnel-spy"
TARGET_VARIABLE = "DF_SPY_TARGET"
CHANNEL_PREFIX = "spy-"
_EXTENSION = re.compile(r"\d{1,32}")
_CHANNEL = re.compile(r"[-A-Za-z0-9/@._;]{1,128}")
POLL_SECONDS = 0.5


class SpyError(Exception):
    pass


def originate_spy(ami: AMIClient, *, extension: str, mode: str, target_channel: str,
                  channel_id: str, ring_seconds: int = 30, caller_id: str | None = None):
    """Ring the manager's phone; once answered it runs ChanSpy on the agent's channel. Bad
    values never reach AMI (an extension is digits, a channel a channel name's characters)."""
    if not _EXTENSION.fullmatch(extension or ""):
        raise SpyError(f"bad extension {extension!r}")
    if mode not in SPY_MODES:
        raise SpyError(f"bad mode {mode!r}")
    if not _CHANNEL.fullmatch(target_channel or ""):
        raise SpyError(f"bad channel {target_channel!r}")
    return ami.originate(f"PJSIP/{extension}", context=SPY_CONTEXT, exten=mode, priority=1,
                         timeout_ms=ring_seconds * 1000, caller_id=caller_id,
                         variables={TARGET_VARIABLE: target_channel}, channel_id=channel_id)


class SpyRunner:
    def __init__(self, sessionmaker, ami: AMIClient, *, dialer_id: str, clock=SYSTEM_CLOCK,
                 caller_id: str | None = None, servers: list[PBX] | None = None):
        self.servers = servers or [PBX("default", ami)]
        self.ami = self.servers[0].ami
        self.maker, self.dialer_id, self.clock = sessionmaker, dialer_id, clock
        self.caller_id = caller_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self) -> "SpyRunner":
        for pbx in self.servers:
            for name in ("ChanSpyStart", "Hangup", "OriginateResponse"):
                pbx.ami.on(name, self.handle)
        return self

    def start(self) -> "SpyRunner":
        """Poll for requests in a thread of the dialer process until stop()."""
        self._thread = threading.Thread(target=self._loop, name="spy-runner", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.poll()
            except Exception:
                log.exception("spy requests: poll failed")

    def poll(self) -> int:
        """Claim the queued requests and ring each manager; returns how many were rung."""
        with self.maker() as session:
            rows = supervision.claim_spy_requests(
                session, self.dialer_id,
                lambda row_id: f"{CHANNEL_PREFIX}{row_id}-{uuid.uuid4().hex[:12]}", clock=self.clock)
            session.commit()
            work = [(r.channel_id, r.manager_extension, r.mode, r.agent_channel,
                     self._ami_of(r)) for r in rows]
        rung = 0
        for channel_id, extension, mode, target, ami in work:
            try:
                originate_spy(ami, extension=extension, mode=mode, target_channel=target,
                              channel_id=channel_id, caller_id=self.caller_id)
                rung += 1
            except (AMIError, SpyError) as exc:
                log.warning("spy request %s: %s", channel_id, exc)
                self._end(channel_id, "refused")
        return rung

    def _ami_of(self, row):
        """The AMI client of the spied agent's server."""
        if len(self.servers) == 1 or row.agent is None:
            return self.ami
        return ami_for_extension(self.servers, row.agent.extension)

    def handle(self, msg: Message) -> None:
        """The AMI dispatcher thread: ChanSpyStart, the manager channel's Hangup, a failed
        OriginateResponse."""
        uid = msg.get("SpyerUniqueid") if msg.name == "ChanSpyStart" else msg.get("Uniqueid")
        if not uid or not uid.startswith(CHANNEL_PREFIX):
            return
        if msg.name == "ChanSpyStart":
            with self.maker() as session:
                supervision.spy_started(session, uid, self.clock)
                session.commit()
        elif msg.name == "Hangup":
            self._end(uid, f"hangup {msg.get('Cause') or ''}".strip())
        elif msg.get("Response") == "Failure":
            self._end(uid, f"originate {msg.get('Reason') or ''}".strip())

    def _end(self, channel_id: str, reason: str) -> None:
        with self.maker() as session:
            supervision.spy_ended(session, channel_id, reason, self.clock)
            session.commit()
