"""The dialer's side of early media: hang up what the carrier announced, remember what it said.

    hook = EarlyMediaHook(ami)
    server = EarlyMediaServer(hook).start()     # agi.early_media.server
    dialer = Dialer(..., early_media=hook)      # _finish books hook.take(channel_id)

A final verdict hangs the call up by AMI (Hangup with the ChannelId, which Asterisk takes for
a channel name, and the cause of models.dialer.early_media.cause_for) and is kept until the
dialer closes that attempt. Called from the server's threads; take() from the dialer's.
"""
from __future__ import annotations

import logging
import threading

from agi.ami.client import AMIError
from models.dialer import early_media

log = logging.getLogger("agi.early_media")


class EarlyMediaHook:
    def __init__(self, ami, ami_for=None):
        self.ami = ami
        self.ami_for = ami_for     # channel id → the AMI client of its server (several servers)
        self._heard: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, channel_id: str, verdict) -> None:
        with self._lock:
            self._heard[channel_id] = verdict.label
        try:
            ami = self.ami_for(channel_id) if self.ami_for else self.ami
            ami.hangup(channel_id, early_media.cause_for(verdict.label))
        except AMIError as exc:       # gone already: its Hangup event books the outcome
            log.info("early media: hangup of %s: %s", channel_id, exc)

    def take(self, channel_id: str) -> str | None:
        """What was heard on this call (None: nothing final), forgotten once taken."""
        with self._lock:
            return self._heard.pop(channel_id, None)


def references_with_stored(sessionmaker) -> list:
    """The default references, then those managers took from calls (admin: a recording's
    "this was a 关机 announcement")."""
    from recordings.early_media import references
    from recordings.early_media.classifier import Reference
    with sessionmaker() as session:
        rows = early_media.stored_references(session)
    return references.load() + [Reference(label, name, references.from_text(bits))
                                for label, name, bits in rows]
