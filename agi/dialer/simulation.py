"""Driving the real dialer against the PBX simulator on a hand-moved clock (tests, benchmark).

The clock jumps from one thing that is due to the next: a simulator event, the dialer's next
tick or hold deadline, or a simulated agent's end of wrap-up. Before every decision the driver
makes sure everything due has happened: the simulator's scheduler has settled and every AMI
event it sent has reached the dialer (``Barrier``).
"""
from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

from sqlalchemy import bindparam, select

from agi.ami.client import AMIError
from models.dialer import agent_states, campaigns
from models.schema import AgentState, User

_WRAPPING = select(AgentState.user_id, AgentState.since).where(   # built once: read every call's end
    AgentState.campaign_id == bindparam("campaign_id"), AgentState.state == "wrap_up")


def start_with_ready_team(session, admin, campaign, team, *, clock) -> None:
    """A simulated day's start: the campaign's team set, its leads loaded, the campaign started
    and every agent ready for it (not committed)."""
    campaigns.set_team(session, admin, campaign.id, [u.id for u in team])
    campaigns.refresh_leads(session, campaign, clock=clock)
    campaigns.change_status(session, admin, campaign.id, "start", clock=clock)
    for user in team:
        agent_states.set_state(session, user, "ready", campaign_id=campaign.id, clock=clock)


class Barrier:
    """When ``wait()`` returns, every AMI event sent before it has been queued to the dialer:
    a UserEvent round trip (the simulator emits it after everything before it, and the client
    dispatches events in order). With the simulator at hand (``server``), the round trip is left
    out when nothing moved since the last one: no action written by the client, no event
    emitted by the simulator. Only where nothing else acts on a real-time clock (an early-media
    listener hangs up calls on its own): the round trips' wall time is what such tests wait on."""

    def __init__(self, ami, server=None):
        self.ami, self.server = ami, server
        self.token = None
        self.seen = threading.Event()
        self._quiet: tuple[int, int, int] | None = None   # _marks() right after the last round trip
        self.round_trips = 0
        ami.on("UserEvent", self._event)

    def _event(self, msg) -> None:
        if msg.get("UserEvent") == "DialerSimBarrier" and msg.get("Token") == self.token:
            self.seen.set()

    def _marks(self) -> tuple[int, int, int] | None:
        """Actions the client wrote; events the simulator began to emit, and finished writing."""
        if self.server is None:
            return None
        return self.ami.actions_sent, self.server.sent_count, self.server.delivered_count

    def wait(self, timeout: float = 30.0) -> None:
        marks = self._marks()
        if marks is not None and self._quiet is not None and marks[:2] == self._quiet[:2]:
            # nothing moved; the simulator counts an event written a moment after its bytes left
            settle = time.monotonic() + 0.5
            while marks[2] < self._quiet[2] and time.monotonic() < settle:
                time.sleep(0.0005)
                marks = self._marks()
        if marks is not None and marks == self._quiet:
            return
        deadline = time.monotonic() + timeout
        while True:
            self.token = uuid.uuid4().hex
            self.seen.clear()
            marks = self._marks()
            try:
                self.ami.send_action("UserEvent", [("UserEvent", "DialerSimBarrier"), ("Token", self.token)])
                if self.seen.wait(max(0.0, deadline - time.monotonic())):
                    self.round_trips += 1
                    # its own action and event; once written, every event begun before it is too
                    self._quiet = marks and (marks[0] + 1, marks[1] + 1, marks[1] + 1)
                    return
            except AMIError:  # the connection dropped (a test does that): wait for the reconnect
                time.sleep(0.02)
            if time.monotonic() >= deadline:
                raise RuntimeError("the barrier event never came back")


class SimulatedAgents:
    """Agents who finish their wrap-up after ``wrap_seconds`` with a disposition and go ready.
    ``wrap_seconds`` may be a function of (user_id, wrap-up start): drawn once per wrap-up."""

    def __init__(self, maker, clock, campaign_id: int, wrap_seconds=20.0,
                 disposition: str = "interested"):
        self.maker, self.clock, self.campaign_id = maker, clock, campaign_id
        self.wrap_seconds, self.disposition = wrap_seconds, disposition
        self._drawn: dict[tuple[int, dt.datetime], float] = {}

    def _wrap(self, user_id: int, since: dt.datetime) -> float:
        if not callable(self.wrap_seconds):
            return self.wrap_seconds
        key = (user_id, since)
        if key not in self._drawn:
            self._drawn[key] = self.wrap_seconds(user_id, since)
        return self._drawn[key]

    def step(self) -> float | None:
        """Ends the wrap-ups that are due; returns when the next one is due (epoch seconds).
        ``released`` tells how many agents it just made ready."""
        now = self.clock.now()
        upcoming = []
        self.released = 0
        with self.maker() as s:
            rows = s.connection().execute(_WRAPPING, {"campaign_id": self.campaign_id}).all()
            for user_id, since in rows:
                wrap = self._wrap(user_id, since)
                if (now - since).total_seconds() >= wrap - 1e-6:
                    self._drawn.pop((user_id, since), None)
                    agent_states.set_state(s, s.get(User, user_id), "ready", campaign_id=self.campaign_id,
                                           disposition=self.disposition, clock=self.clock)
                    self.released += 1
                else:
                    upcoming.append((since + dt.timedelta(seconds=wrap)).timestamp())
            s.commit()
        return min(upcoming) if upcoming else None


class Driver:
    """``server`` and ``ami`` may be lists (several simulators, one AMI client each): a server
    whose client is not connected (stopped by a test) is left out of the settling.
    ``quiet_barriers``: leave out the barriers' round trips when nothing moved (``Barrier``)."""

    def __init__(self, dialer, server, ami, clock, agents: SimulatedAgents | None = None, *,
                 quiet_barriers: bool = False):
        self.servers = server if isinstance(server, list) else [server]
        self.amis = ami if isinstance(ami, list) else [ami]
        self.dialer, self.server, self.clock, self.agents = dialer, self.servers[0], clock, agents
        self.barriers = [Barrier(client, server if quiet_barriers else None)
                         for client, server in zip(self.amis, self.servers)]
        self.barrier = self.barriers[0]
        self.steps = 0
        self._next_wrap: float | None = None
        self._finished_seen: int | None = None

    def _step_agents(self) -> bool:
        """Ends the due wrap-ups; True if an agent got free. The agents' rows are read only
        when a wrap-up is due or a call ended (a new wrap-up may have begun)."""
        finished = self.dialer.counts["finished"]
        now = self.clock.now().timestamp()
        if finished == self._finished_seen and (self._next_wrap is None or now < self._next_wrap):
            return False
        self._finished_seen = finished
        self._next_wrap = self.agents.step()
        return self.agents.released > 0

    def _live(self):
        return [(server, barrier) for server, barrier in zip(self.servers, self.barriers)
                if len(self.servers) == 1 or barrier.ami.connected]

    def _settle(self) -> None:
        for server, barrier in self._live():
            barrier.wait()
            server.scheduler.settle()
            barrier.wait()
        self.dialer.step()

    def run_until(self, end: float) -> None:
        """Run the world until ``end`` (epoch seconds of the clock)."""
        while True:
            self._settle()
            if self.agents and self._step_agents():
                self.dialer.tick_now()  # an agent is free: the pacer hears of it at once
            next_wrap = self._next_wrap if self.agents else None
            now = self.clock.now().timestamp()
            if now >= self.dialer.next_wakeup():
                self.dialer.tick()
                self._settle()
            if now >= end:
                return
            candidates = [self.dialer.next_wakeup(), end]
            for server, _ in self._live():
                due = server.scheduler.next_due()
                if due is not None:
                    candidates.append(due)
            if next_wrap is not None:
                candidates.append(next_wrap)
            target = max(min(candidates), now)
            if target > now:
                self.clock.set(dt.datetime.fromtimestamp(target, dt.timezone.utc))
            self.steps += 1
