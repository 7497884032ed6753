"""Asterisk's queue membership made to match the agents' queue logins and states (issue 14).

Declarative: every ``interval`` seconds (and at once after each AMI login, the first and every
reconnect) ``reconcile()`` reads what the membership should be
(models.dialer.queue_logins.desired_members), asks Asterisk what it is (QueueStatus, per queue
of the ``queues`` setting) and sends only the difference:
  * QueueAdd (Interface PJSIP/<ext>, MemberName the agent's name, StateInterface, Paused false)
    for a login Asterisk lacks;
  * QueuePause Paused true with Reason = the pause code (or the state: on_call, wrap_up) and
    Paused false, for a member whose pause differs;
  * QueueRemove for a dynamic member nobody is logged in as (static members of queues.conf are
    left alone: Asterisk refuses to remove them).
Running it twice sends nothing the second time. Started by agi.dialer.process with the dialer:
one reconciler per Asterisk server, each for the agents whose phones are on it (an agent given
an extension on another server is removed from the old one and added to the new).
"""
from __future__ import annotations

import logging
import threading
import uuid
from typing import Callable, NamedTuple

from agi.ami.client import CLOSED, AMIError
from agi.dialer.servers import PBX
from models.dialer.queue_logins import desired_members

log = logging.getLogger(__name__)

INTERVAL = 2.0        # seconds between two reconciliations (a state change shows within this)
STATUS_TIMEOUT = 5.0


class Actual(NamedTuple):
    paused: bool
    reason: str
    dynamic: bool


class QueueMembers:
    def __init__(self, sessionmaker, ami, *, queues: list[str], interval: float = INTERVAL,
                 has_extension: Callable[[str], bool] | None = None,
                 served: Callable[[str], bool] | None = None):
        """``served``: whether any server takes a phone; given to one reconciler of several, it
        logs each agent in a queue whose phone no server takes (they ring nowhere)."""
        self.maker, self.ami = sessionmaker, ami
        self.has_extension = has_extension     # whose phones are on this server (None: all)
        self.served = served
        self.unserved: set[str] = set()        # interfaces already logged
        self.queues = list(queues)
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent: list[tuple[str, str, str]] = []   # (action, queue, interface), for the log/tests

    def start(self) -> "QueueMembers":
        self.ami.add_on_connect(lambda _client: self._wake.set())
        self._wake.set()   # a first round at once
        self._thread = threading.Thread(target=self._run, name="queue-members", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set() and self.ami.state != CLOSED:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set() or not self.ami.connected:
                continue
            try:
                self.reconcile()
            except AMIError as exc:
                log.warning("queue members: %s (next try in %ss)", exc, self.interval)
            except Exception:
                log.exception("queue members: reconcile failed")

    def reconcile(self) -> int | None:
        """Bring every queue in line; how many actions were sent, None if a QueueStatus failed."""
        with self.maker() as session:
            desired = desired_members(session)
            session.rollback()
        if self.served is not None:
            for member in desired:
                if member.interface not in self.unserved \
                        and not self.served(member.interface.partition("/")[2]):
                    self.unserved.add(member.interface)
                    log.warning("queue members: %s (%s) is in queue %s but no Asterisk server "
                                "takes that phone (the servers' extensions): it rings nowhere",
                                member.name, member.interface, member.queue)
        if self.has_extension is not None:
            desired = [m for m in desired if self.has_extension(m.interface.partition("/")[2])]
        sent = 0
        for queue in self.queues:
            actual = self.status(queue)
            if actual is None:
                return None
            want = {m.interface: m for m in desired if m.queue == queue}
            for iface, member in want.items():
                have = actual.get(iface)
                if have is None:
                    self._send("QueueAdd", queue, iface, [
                        ("Queue", queue), ("Interface", iface), ("Penalty", "0"),
                        ("Paused", "false"), ("MemberName", member.name), ("StateInterface", iface)])
                    have = Actual(False, "", True)
                    sent += 1
                reason = member.reason if member.paused else ""
                if (have.paused, have.reason if have.paused else "") != (member.paused, reason):
                    headers = [("Queue", queue), ("Interface", iface),
                               ("Paused", "true" if member.paused else "false")]
                    if member.paused:
                        headers.append(("Reason", reason))
                    self._send("QueuePause", queue, iface, headers)
                    sent += 1
            for iface, have in actual.items():
                if iface not in want and have.dynamic:
                    self._send("QueueRemove", queue, iface, [("Queue", queue), ("Interface", iface)])
                    sent += 1
        return sent

    def _send(self, action: str, queue: str, iface: str, headers) -> None:
        response = self.ami.send_action(action, headers, timeout=STATUS_TIMEOUT)
        self.sent.append((action, queue, iface))
        if response.response != "Success":
            log.warning("queue members: %s %s %s refused: %s", action, queue, iface,
                        response.get("Message"))

    def status(self, queue: str) -> dict[str, Actual] | None:
        """The queue's members by interface (QueueStatus), None when AMI did not answer."""
        got: dict[str, Actual] = {}
        done = threading.Event()
        action_id = f"queue-status-{uuid.uuid4().hex[:8]}"

        def collect(msg):
            if msg.get("ActionID") != action_id:
                return
            if msg.name == "QueueMember" and msg.get("Queue") == queue:
                got[msg.get("Location") or ""] = Actual(
                    msg.get("Paused") == "1", msg.get("PausedReason") or "",
                    msg.get("Membership") == "dynamic")
            elif msg.name == "QueueStatusComplete":
                done.set()
        self.ami.on("QueueMember", collect)
        self.ami.on("QueueStatusComplete", collect)
        try:
            self.ami.send_action("QueueStatus", [("Queue", queue)], action_id=action_id,
                                 timeout=STATUS_TIMEOUT, check=True)
            return got if done.wait(STATUS_TIMEOUT) else None
        except AMIError as exc:
            log.warning("queue members: no QueueStatus of %s: %s", queue, exc)
            return None
        finally:
            self.ami.off("QueueMember", collect)
            self.ami.off("QueueStatusComplete", collect)


def for_servers(sessionmaker, servers: list[PBX], settings) -> list[QueueMembers]:
    """One reconciler of the ``queues`` setting's queues per server (agi.dialer.servers)."""
    several = len(servers) > 1

    def served(extension: str) -> bool:
        return any(pbx.has_extension(extension) for pbx in servers)
    return [QueueMembers(sessionmaker, pbx.ami, queues=settings.queue_names,
                         has_extension=pbx.has_extension if several else None,
                         served=served if several and i == 0 else None)
            for i, pbx in enumerate(servers)]


def start(sessionmaker, servers: list[PBX], settings) -> list[QueueMembers]:
    """The reconcilers, each in its own thread of the dialer process (it ends when its AMI
    client is closed)."""
    return [members.start() for members in for_servers(sessionmaker, servers, settings)]
