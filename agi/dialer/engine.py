"""The dialer: picks leads, paces lines, places calls over AMI and books their outcomes.

One ``Dialer`` serves every running campaign. It is single-threaded: AMI callbacks only queue
events; ``step()`` handles them and ``tick()`` makes the pacing decisions, so the process loop
(``run``) and the simulation benchmark (which moves a fake clock by hand) drive the same code.

Correlation: each attempt row carries the ChannelId we give Originate; the ;2 half of a Local
channel gets ``other_channel_id(channel_id)``. Failures arrive as Hangup events (the far side's
Q.850 cause) followed by the OriginateResponse (its Reason); an answered call ends with the
Hangup of our ;1 leg.

Who connects an answered call to an agent: on a real Asterisk the ``outbound`` AGI handler does
(AMD first, then ``agent_states.take_ready_agent``, up to ``HOLD_SECONDS``, else the abandon
message). From OriginateResponse Reason 4 until the dialer learns the call left that handler
(an agent taken for it: the attempt's agent_id or the DialBegin to the agent's phone; a machine:
the attempt's AMD result; the DialfunnelAbandon UserEvent; its hangup), at most
``HANDLER_SECONDS``, the call counts as waiting for an agent (``pacing.Snapshot.waiting``): it
will want an agent in a moment, so the pacer must not dial for it again.
The pacer hears each attempt's result once, with its final class (_tell): such an answer only
when AMD's verdict in the attempt row, an agent taken, the abandon or the call's end says
whether a person or a machine took it.
A voice campaign's answered calls hear an IVR flow and need no agent: it is paced by lines
(``pacing.VoicePacer``), every call up counting against the campaign's ``max_lines``; every
campaign's lines together stay within ``trunk_lines`` (0: no limit), the trunk's channels.
With ``route_answers=True`` the dialer connects answered calls itself with the same model
functions, for a PBX simulator that runs no dialplan (no FastAGI server to call).

A decision reads memory (agi.dialer.live_view): the agents, polled once a tick (only the rows
changed since), and the lines in flight, kept by campaign as they are dialled and end.

Several Asterisk servers (agi.dialer.servers): the dialer holds one AMI client per server; each
line remembers its server (and the attempt row its name), its Originate and Hangup go there, and
only that server's events move it. ``trunk_lines`` is then each server's own. A server whose AMI
connection is down gets no new call; its unanswered lines are closed once they can no longer be
ringing (the lead goes back to the hopper, as reconcile() does), its answered ones after
``LOST_SERVER_SECONDS``; when it comes back, reconcile() follows what it still has.
An answer an AMI outage hid is taken from what still knows of it before any line is closed: the
attempt row (the outbound handler marks the answer and the agent on the PBX's side) or our
channel up in CoreShowChannels. Such a call is followed to its Hangup, or closed as answered at
its recording's end; only a line nothing shows answered is closed as failed (lead retried).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select, update

from agi.ami.client import AMIActionError, AMIError
from agi.dialer import pacing
from agi.dialer.live_view import AgentBoard, Lines
from agi.dialer.servers import PBX, Homes, place
from agi.handlers.amd import MAX_SECONDS as AMD_SECONDS
from models.clock import SYSTEM_CLOCK
from models.db import begin_read
from models.dialer import agent_states, campaign_stats, campaigns, dialing, preview
from models.schema import Campaign, DialAttempt
from models.schema.campaigns import DEAD_OUTCOMES

log = logging.getLogger(__name__)

HOLD_SECONDS = 2.0          # a live answer waits this long for an agent, then it is abandoned
                            # (agi/handlers/outbound.py's hold, and route_answers')
HANDLER_SECONDS = AMD_SECONDS + HOLD_SECONDS + 3.0   # the longest an answer stays in the handler
TICK_SECONDS = 1.0
EVENTS = ("Hangup", "OriginateResponse", "UserEvent", "DialBegin")   # the AMI events the dialer hears
CAMPAIGN_REFRESH_SECONDS = 5.0   # a started or paused campaign is seen within this; a campaign
                                 # with nothing left to dial is marked finished at that pace too
PREVIEW_SWEEP_SECONDS = 60.0     # how often previews nobody will dial are given back
STALE_GRACE_SECONDS = 30.0       # an unanswered line silent this long past its ring timeout is lost
RECONCILE_MIN_AGE = 5.0
LOST_SERVER_SECONDS = 120.0  # a server down this long: its answered lines are closed too
CHANNEL_UP = "6"            # CoreShowChannel's ChannelState of an answered channel
HANGUP_WAIT = 5.0           # after a failed OriginateResponse, the longest wait for the far side's cause
_OTHER_NS = uuid.UUID("6f1d1f5e-3c59-4a43-9d7e-2b8f0d0c6a11")
# What the handler wrote for the answered calls still in it (each tick: built once, run in Core)
_HANDLER_ROWS = (select(DialAttempt.channel_id, DialAttempt.agent_id, DialAttempt.amd)
                 .where(DialAttempt.channel_id.in_(bindparam("channel_ids", expanding=True))))

# What a finished attempt tells the pacer.
_PACER_KIND = {"busy": "busy", "rejected": "busy", "noanswer": "noanswer", "absent": "dead",
               "congestion": "congestion",
               "noroute": "failed", "failed": "failed", **{o: "dead" for o in DEAD_OUTCOMES}}


def other_channel_id(channel_id: str) -> str:
    """The OtherChannelId of an attempt: derived, so a restarted dialer can recognise it."""
    return str(uuid.uuid5(_OTHER_NS, channel_id))


def _epoch(clock) -> float:
    return clock.now().timestamp()


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


@dataclass
class Line:
    attempt_id: int
    campaign_id: int
    channel_id: str
    number: str
    started: float
    answered: float | None = None
    reason: int | None = None
    cause: int | None = None
    agent_id: int | None = None
    hold_until: float | None = None    # answered, waiting for an agent (route_answers)
    in_handler_until: float | None = None  # answered, in the outbound AGI (AMD, then an agent)
    abandoned: bool = False
    responded: bool = False            # OriginateResponse seen
    responded_at: float | None = None
    ours_gone: bool = False            # Hangup of our (;1) leg seen
    told: bool = False                 # the pacer has this attempt's result (_tell)
    server: str = "default"            # the Asterisk server it was placed on


@dataclass
class CampaignRun:
    campaign_id: int
    mode: str
    pacer: object
    ring_timeout: float
    abandon_cap: float
    caller_id: str | None = None
    max_lines: int | None = None    # a voice campaign's line limit
    at_cap: bool = False            # campaign_stats.no_abandon_headroom, read with the campaigns
    agent_states: dict[int, tuple[str, float]] = field(default_factory=dict)  # user → (state, since)


class Dialer:
    def __init__(self, sessionmaker, ami, *, clock=SYSTEM_CLOCK, dialer_id: str | None = None,
                 trunk: str = "PJSIP/{number}@dialfunnel-trunk", context: str = "dialfunnel-outbound",
                 route_answers: bool = False, pacer_mode: str | None = None, pacer_options: dict | None = None,
                 dead_causes=dialing.DEFAULT_DEAD_CAUSES, click_to_call=None, early_media=None,
                 trunk_lines: int = 0, servers: list[PBX] | None = None):
        self.Session = sessionmaker
        self.click_to_call = click_to_call    # agi.dialer.click_to_call.ClickToCall, run here too
        self.early_media = early_media        # agi.early_media.hook.EarlyMediaHook: what was heard
        # servers: several Asterisks (agi.dialer.servers), each with its AMI client and trunk
        # lines; None: the one server of ``ami`` and ``trunk_lines``
        self.servers = servers or [PBX("default", ami, trunk_lines)]
        self.pbx = {p.name: p for p in self.servers}
        self.homes = Homes(self.servers)
        self.ami = self.servers[0].ami
        self.clock = clock
        self.dialer_id = dialer_id or f"dialer-{uuid.uuid4().hex[:8]}"
        self.trunk, self.context = trunk, context
        self.route_answers = route_answers
        self.pacer_mode = pacer_mode          # None: each campaign's own mode
        self.pacer_options = pacer_options or {}
        self.dead_causes = dead_causes        # the trunk's dead-number causes (dialing.classify)
        self.lines: Lines = Lines()           # by ChannelId, and by campaign
        self.board = AgentBoard()             # the agents, polled once a tick
        self.decision_seconds: list[float] | None = None   # a list: each tick's pacing time kept
        self._by_other: dict[str, str] = {}   # OtherChannelId → ChannelId
        self.campaigns: dict[int, CampaignRun] = {}
        self._events: queue.Queue = queue.Queue()
        self._next_refresh = 0.0
        self._next_preview_sweep = 0.0
        self._next_tick = 0.0
        self._stop = threading.Event()
        self._reconcile_wanted = threading.Event()
        self._changed = False
        self.counts = {"dialled": 0, "answered": 0, "abandoned": 0, "connected": 0, "finished": 0,
                       "ami_errors": 0}
        self.server_counts = {p.name: dict.fromkeys(("dialled", "answered", "abandoned", "closed_lost"), 0)
                              for p in self.servers}

    # --- wiring ---------------------------------------------------------------------------------
    def attach(self) -> None:
        """Each server's events are queued tagged with its name."""
        for pbx in self.servers:
            def put(msg, server=pbx.name):
                self._events.put((server, msg))
            for name in EVENTS:
                pbx.ami.on(name, put)

    def stop(self) -> None:
        self._stop.set()

    def request_reconcile(self) -> None:
        """Ask for a reconcile() at the next tick (the AMI client's on_connect: after a
        reconnect, OriginateResponses and Hangups sent while we were away are lost)."""
        self._reconcile_wanted.set()

    def run(self) -> None:
        """The process loop: events as they come, a pacing tick every second."""
        self._reconcile_wanted.set()
        while not self._stop.is_set():
            try:
                msg = self._events.get(timeout=0.1)
            except queue.Empty:
                msg = None
            if msg is not None:
                self._handle(msg)
                self.step()
            if self.click_to_call is not None:
                self.click_to_call.step()
                self.click_to_call.poll()
            now = _epoch(self.clock)
            if now >= self._next_tick or self._holding_due(now):
                self.tick()

    # --- driving ------------------------------------------------------------------------------
    def step(self) -> int:
        """Handle every queued AMI event; returns how many. A call that answered or ended
        changes what the pacer should do, so the next tick comes at once."""
        handled = 0
        while True:
            try:
                msg = self._events.get_nowait()
            except queue.Empty:
                break
            self._handle(msg)
            handled += 1
        if self._changed:
            self._changed = False
            self.tick_now()
        return handled

    def tick_now(self) -> None:
        """Have the next tick() come now (something changed: an agent got free, a call ended)."""
        self._next_tick = min(self._next_tick, _epoch(self.clock))

    def next_wakeup(self) -> float:
        holds = [line.hold_until for line in self.lines.values() if line.hold_until is not None]
        holds += [line.in_handler_until for line in self.lines.values() if line.in_handler_until is not None]
        return min([self._next_tick] + holds)

    def _holding_due(self, now: float) -> bool:
        return any(line.hold_until is not None and line.hold_until <= now for line in self.lines.values())

    def tick(self) -> None:
        now = _epoch(self.clock)
        self._next_tick = now + TICK_SECONDS
        if self._reconcile_wanted.is_set():
            self._reconcile_wanted.clear()
            self.step()
            self.reconcile()
        if now >= self._next_refresh:
            self._refresh_campaigns(now)
        self._sweep_lost_servers(now)
        self._sweep_stale(now)
        self._sweep_previews(now)
        self._check_handler_lines(now)
        spent, started = 0.0, time.perf_counter()   # the decisions' time, without the dialling
        with self.Session() as s:
            begin_read(s)    # not queued behind the FastAGI handlers' writes (SQLite)
            self.board.poll(s, now)
            s.commit()
        for run in list(self.campaigns.values()):
            if self.route_answers:
                self._connect_waiting(run, now)
            views = self._agents(run, now)  # once, after any agent was taken
            if run.mode == "preview":
                self._dial_previews(run, now)
                continue
            mine = self.lines.of(run.campaign_id)
            lines = tuple(now - line.started for line in mine if line.answered is None)
            waiting = sum(1 for line in mine
                          if line.hold_until is not None or line.in_handler_until is not None)
            snap = pacing.Snapshot(now=now, agents=views, lines=lines, waiting=waiting,
                                   abandon_cap=run.abandon_cap, ring_timeout=run.ring_timeout,
                                   at_cap=run.at_cap, free_lines=self._free_lines(run))
            wanted = pacing.launch(run.pacer, snap)
            spent += time.perf_counter() - started
            if wanted:
                self._dial(run, wanted, now)
            started = time.perf_counter()
        if self.decision_seconds is not None:
            self.decision_seconds.append(spent + time.perf_counter() - started)

    def _free_lines(self, run: CampaignRun) -> int | None:
        """Lines the trunk's and the campaign's limits still allow (None: no limit). Every line
        counts until its call has ended, answered or not."""
        free = []
        trunk = sum(p.free(self.lines.on_server.get(p.name, 0)) for p in self.servers)
        if trunk != float("inf"):
            free.append(int(trunk))
        if run.max_lines:
            free.append(run.max_lines - len(self.lines.of(run.campaign_id)))
        return max(0, min(free)) if free else None

    # --- campaigns and agents ---------------------------------------------------------------
    def _refresh_campaigns(self, now: float) -> None:
        self._next_refresh = now + CAMPAIGN_REFRESH_SECONDS
        with self.Session() as s:
            active = [c for c in campaigns.active_campaigns(s, clock=self.clock)
                      if not self._finished(s, c.id)]
            for campaign in active:
                run = self.campaigns.get(campaign.id)
                mode = "voice" if campaign.mode == "voice" else self.pacer_mode or campaign.mode
                if run is None or run.mode != mode:
                    run = CampaignRun(campaign.id, mode, pacing.make_pacer(mode, **self.pacer_options),
                                      float(campaign.ring_timeout_s), campaign.abandon_cap_pct / 100.0)
                    self.campaigns[campaign.id] = run
                run.ring_timeout = float(campaign.ring_timeout_s)
                run.caller_id = campaign.caller_id
                run.max_lines = campaign.max_lines if mode == "voice" else None
                run.abandon_cap = campaign.abandon_cap_pct / 100.0
                run.at_cap = campaign_stats.no_abandon_headroom(s, campaign, clock=self.clock)
            s.commit()
        active_ids = {c.id for c in active}
        for cid in list(self.campaigns):
            if cid not in active_ids:
                del self.campaigns[cid]

    def _finished(self, s, campaign_id: int) -> bool:
        """Whether the campaign had nothing left to dial and was marked finished now."""
        if not campaigns.finish_if_done(s, campaign_id, clock=self.clock):
            return False
        log.info("dialer: campaign %s finished: no lead left to dial", campaign_id)
        return True

    def _agents(self, run: CampaignRun, now: float) -> tuple:
        seen = {}
        views = []
        for user_id, state, since_s in self.board.agents(run.campaign_id):
            seen[user_id] = (state, since_s)
            before = run.agent_states.get(user_id)
            if before and before[0] == "wrap_up" and state != "wrap_up":
                run.pacer.on_wrap_end(now, max(0.0, since_s - before[1]))
            if state in ("ready", "on_call", "wrap_up"):
                views.append(pacing.AgentView(state, max(0.0, now - since_s)))
        run.agent_states = seen
        return tuple(views)

    # --- dialling ------------------------------------------------------------------------------
    def _dial(self, run: CampaignRun, wanted: int, now: float) -> None:
        servers = place(self.servers, wanted, self.lines.on_server,
                        None if run.mode == "voice" else self._agents_by_server(run, now))
        if not servers:
            return
        with self.Session() as s:
            attempts = dialing.pick_leads(s, run.campaign_id, len(servers), dialer_id=self.dialer_id,
                                          clock=self.clock, servers=servers)
            picked = [(a.id, a.channel_id, a.number, a.server) for a in attempts]
            campaign = s.get(Campaign, run.campaign_id)
            caller_id = campaign.caller_id if campaign else None
            s.commit()
        run.caller_id = caller_id
        self._originate(run, [Line(attempt_id, run.campaign_id, channel_id, number, now, server=server)
                              for attempt_id, channel_id, number, server in picked])

    def _agents_by_server(self, run: CampaignRun, now: float) -> dict[str, tuple[int, int, int]] | None:
        """Server → (the campaign's ready agents there, all its agents there, its lines there
        not yet with an agent); None with one server."""
        if len(self.servers) == 1:
            return None
        counts: dict[str | None, list[int]] = {}
        for user_id, state, _since in self.board.agents(run.campaign_id):
            if state not in ("ready", "on_call", "wrap_up"):   # those the pacer counts
                continue
            row = counts.setdefault(self.homes.of(self.Session, user_id, now), [0, 0, 0])
            row[0] += state == "ready"
            row[1] += 1
        for line in self.lines.of(run.campaign_id):
            if line.agent_id is None and not line.abandoned and line.server in counts:
                counts[line.server][2] += 1
        return {name: tuple(row) for name, row in counts.items() if name is not None}

    def _originate(self, run: CampaignRun, lines: list[Line]) -> None:
        """The lines' Originates: one pipelined batch per server (AMIClient.originate_many)."""
        by_server: dict[str, list[Line]] = {}
        for line in lines:
            self.lines[line.channel_id] = line
            self._by_other[other_channel_id(line.channel_id)] = line.channel_id
            by_server.setdefault(line.server, []).append(line)
        for server, batch in by_server.items():
            outcomes = self.pbx[server].ami.originate_many([self._originate_request(run, line) for line in batch])
            for line, outcome in zip(batch, outcomes):
                self._originated(line, outcome)

    def _originate_request(self, run: CampaignRun, line: Line) -> dict:
        """``AMIClient.originate``'s arguments for the line."""
        variables = {"DIALFUNNEL_CAMPAIGN": run.campaign_id, "DIALFUNNEL_ATTEMPT": line.attempt_id}
        if len(self.servers) > 1:
            variables["DIALFUNNEL_SERVER"] = line.server
        return dict(channel=self.trunk.format(number=line.number), context=self.context, exten="s", priority=1,
                    timeout_ms=int(run.ring_timeout * 1000), caller_id=run.caller_id,
                    variables=variables,
                    channel_id=line.channel_id, other_channel_id=other_channel_id(line.channel_id),
                    **({"early_media": True} if self.early_media else {}))

    def _originated(self, line: Line, outcome) -> None:
        """What Asterisk said to the line's Originate (an Originate, or the AMIError)."""
        if isinstance(outcome, AMIActionError):
            log.warning("dialer: Originate refused for attempt %s: %s", line.attempt_id, outcome)
            line.responded, line.responded_at, line.reason = True, _epoch(self.clock), 0
            self._finish(line)
        elif isinstance(outcome, AMIError):
            # Asterisk may or may not have the call: the line stays open and reconcile() or
            # the stale sweep settles it; it is never dialled again while open.
            self.counts["ami_errors"] += 1
            log.warning("dialer: Originate of attempt %s unconfirmed: %s", line.attempt_id, outcome)
        else:
            self.counts["dialled"] += 1
            self.server_counts[line.server]["dialled"] += 1

    def _dial_previews(self, run: CampaignRun, now: float) -> None:
        """Preview mode: the agent saw the customer and pressed dial (models.dialer.preview)."""
        with self.Session() as s:
            requests = preview.claim_dial_requests(s, run.campaign_id, self.dialer_id, clock=self.clock)
            homes = {req.attempt_id: self.homes.home_of(req.extension) or self.servers[0].name
                     for req in requests}
            for server in set(homes.values()):
                s.execute(update(DialAttempt).where(DialAttempt.id.in_(
                    [a for a, h in homes.items() if h == server])).values(server=server))
            s.commit()
        # each on the server of the agent's phone
        self._originate(run, [Line(req.attempt_id, run.campaign_id, req.channel_id, req.number, now,
                                   agent_id=req.agent_id, server=homes[req.attempt_id]) for req in requests])

    # --- AMI events -----------------------------------------------------------------------------
    def _line_for(self, uid: str | None, server: str | None = None) -> tuple[Line | None, bool]:
        """Our line with that Uniqueid, if it is on ``server`` (None: any)."""
        if not uid:
            return None, False
        if uid in self.lines:
            line, ours = self.lines[uid], True
        else:
            cid = self._by_other.get(uid)
            line, ours = (self.lines.get(cid), False) if cid else (None, False)
        if line is not None and server is not None and line.server != server:
            return None, False
        return line, ours

    def _handle(self, item) -> None:
        """One queued event: (server name, message), or a bare message (any server)."""
        server, msg = item if isinstance(item, tuple) else (None, item)
        name = msg.name
        if name == "Hangup":
            line, ours = self._line_for(msg.get("Uniqueid"), server)
            if line is None:
                return
            try:
                cause = int(msg.get("Cause") or 0)
            except ValueError:
                cause = 0
            if cause and (not ours or line.cause is None):
                line.cause = cause
            if ours:
                line.ours_gone = True
            if line.answered is not None:
                if ours:
                    self._finish(line)
            elif line.responded and line.ours_gone and line.cause:
                self._finish(line)
            # else a failed call whose cause is still to come: with Congestion() our ;1 leg
            # goes with cause 0 and the ;2 Hangup (34) follows; _sweep_stale ends the wait
        elif name == "OriginateResponse":
            line, _ = self._line_for(msg.get("Uniqueid"), server)
            if line is None or line.responded:
                return
            line.responded, line.responded_at = True, _epoch(self.clock)
            try:
                line.reason = int(msg.get("Reason") or 0)
            except ValueError:
                line.reason = 0
            if msg.get("Response") == "Success" and line.reason == 4:
                self._answered(line)
            elif line.ours_gone and line.cause:
                self._finish(line)
            # else: the Hangups (with the far side's cause) are still to come (空号, 错号)
        elif name == "UserEvent" and msg.get("UserEvent") == "DialfunnelAbandon":
            run = self.campaigns.get(_int(msg.get("Campaign")))
            if run:
                run.pacer.on_abandoned(_epoch(self.clock))
            attempt_id = _int(msg.get("Attempt"))
            for line in self.lines.values():
                if line.attempt_id == attempt_id and line.in_handler_until is not None \
                        and server in (None, line.server):
                    self._left_handler(line, abandoned=True)
        elif name == "DialBegin":  # our answered channel dials: the handler gave it an agent
            line, ours = self._line_for(msg.get("Uniqueid"), server)
            if line is not None and ours and line.in_handler_until is not None:
                self._left_handler(line, agent=True)

    def _answered(self, line: Line) -> None:
        now = _epoch(self.clock)
        self._changed = True
        line.answered = now
        self.counts["answered"] += 1
        self.server_counts[line.server]["answered"] += 1
        run = self.campaigns.get(line.campaign_id)
        if self.route_answers or line.agent_id is not None:
            self._tell(line, "live")   # no AMD on this call: it is a person
        with self.Session() as s:
            dialing.note_answered(s, line.channel_id, clock=self.clock)
            s.commit()
        if run and run.mode == "voice":
            return   # the flow answers it: no agent wanted
        if self.route_answers:
            line.hold_until = now + HOLD_SECONDS
            if run:
                self._connect_waiting(run, now)
        elif line.agent_id is None:  # not a preview (its agent is waiting for it)
            line.in_handler_until = now + HANDLER_SECONDS

    def _left_handler(self, line: Line, *, agent: bool = False, abandoned: bool = False) -> None:
        """The answered call left the outbound handler: it stops counting as waiting."""
        now = _epoch(self.clock)
        line.in_handler_until = None
        self._changed = True
        run = self.campaigns.get(line.campaign_id)
        if agent or abandoned:
            self._tell(line, "live")
        if agent:
            self.counts["connected"] += 1
            if run and line.answered is not None:
                run.pacer.on_connected(now, now - line.answered)
        elif abandoned:
            line.abandoned = True
            self.counts["abandoned"] += 1
            self.server_counts[line.server]["abandoned"] += 1

    def _check_handler_lines(self, now: float) -> None:
        """Answered calls still counted in the handler: what the handler wrote (an agent taken,
        a machine heard) ends the count, and so does HANDLER_SECONDS."""
        inside = {line.channel_id: line for line in self.lines.values() if line.in_handler_until is not None}
        if not inside:
            return
        with self.Session() as s:
            begin_read(s)
            rows = s.connection().execute(_HANDLER_ROWS, {"channel_ids": list(inside)}).all()
            s.commit()
        for channel_id, agent_id, amd in rows:
            line = inside[channel_id]
            if agent_id is not None:
                line.agent_id = agent_id
                self._left_handler(line, agent=True)
            elif amd == "machine":
                self._tell(line, "machine")
                self._left_handler(line)
            elif amd is not None:   # a person (or unsure: put through as one), still waiting
                self._tell(line, "live")
        for line in inside.values():
            if line.in_handler_until is not None and now >= line.in_handler_until:
                log.info("dialer: attempt %s still unrouted %.0f s after its answer", line.attempt_id,
                         now - (line.answered or now))
                line.in_handler_until = None
                self._tell(line, "live")

    def _connect_waiting(self, run: CampaignRun, now: float) -> None:
        """Answered calls waiting for an agent: put through, or abandoned past their hold."""
        waiting = sorted((line for line in self.lines.values()
                          if line.campaign_id == run.campaign_id and line.hold_until is not None),
                         key=lambda line: line.answered)
        for line in waiting:
            among = self._agents_on(run, line.server, now)   # before the session: it may read users
            with self.Session() as s:
                attempt = s.scalar(select(DialAttempt).where(DialAttempt.channel_id == line.channel_id))
                agent = agent_states.take_ready_agent(s, attempt, clock=self.clock, among=among) \
                    if attempt else None
                agent_id = agent.id if agent else None
                s.commit()
            if agent_id is not None:
                self.board.note(agent_id, "on_call", run.campaign_id, None, now)
                line.agent_id, line.hold_until = agent_id, None
                self.counts["connected"] += 1
                run.pacer.on_connected(now, now - line.answered)
            elif line.hold_until <= now:
                line.hold_until, line.abandoned = None, True
                self.counts["abandoned"] += 1
                self.server_counts[line.server]["abandoned"] += 1
                run.pacer.on_abandoned(now)
                self._hang_up(line)
            elif len(self.servers) == 1:
                break  # no agent for the oldest: none for the younger ones either

    def _agents_on(self, run: CampaignRun, server: str, now: float) -> list[int] | None:
        """The campaign's agents whose phones are on ``server`` (None: one server, any agent)."""
        if len(self.servers) == 1:
            return None
        return [user_id for user_id, *_ in self.board.agents(run.campaign_id)
                if self.homes.of(self.Session, user_id, now) == server]

    def ami_for_channel(self, channel_id: str):
        """The AMI client of the server a call of ours is on (the first one if unknown)."""
        line = self.lines.get(channel_id)
        return self.pbx[line.server].ami if line is not None else self.ami

    def _hang_up(self, line: Line) -> None:
        try:
            self.pbx[line.server].ami.hangup(line.channel_id, cause=16)
        except AMIError as exc:
            log.warning("dialer: Hangup of %s failed: %s", line.channel_id, exc)

    def _finish(self, line: Line, *, unheard: bool = False) -> None:
        """Close the line's attempt. ``unheard``: its end came while we were not listening;
        an answered call is closed as of its recording's end if one is stored."""
        now = _epoch(self.clock)
        self._changed = True
        self.lines.pop(line.channel_id, None)
        self._by_other.pop(other_channel_id(line.channel_id), None)
        with self.Session() as s:
            heard = self.early_media.take(line.channel_id) if self.early_media else None
            ended = dialing.recorded_end(s, line.channel_id) if unheard and line.answered is not None \
                else None
            attempt = dialing.finish_attempt(s, line.channel_id, reason=line.reason, cause=line.cause,
                                             dead_causes=self.dead_causes, heard=heard, ended_at=ended,
                                             clock=self.clock)
            outcome, talk, amd = attempt.outcome, attempt.talk_seconds, attempt.amd
            if attempt.agent_id is not None:
                agent_states.call_ended(s, attempt, clock=self.clock)
            run = self.campaigns.get(line.campaign_id)
            if run is not None and outcome in campaign_stats.LIVE:  # the 24 h rate moved
                run.at_cap = campaign_stats.no_abandon_headroom(s, s.get(Campaign, run.campaign_id),
                                                                clock=self.clock)
            s.commit()
        self.counts["finished"] += 1
        if run is None:
            return
        if line.answered is None:
            self._tell(line, _PACER_KIND.get(outcome, "failed"))
        else:
            self._tell(line, "machine" if amd == "machine" else "live")
            if outcome == "answered":
                run.pacer.on_talk_end(now, talk or 0.0)

    def _tell(self, line: Line, kind: str) -> None:
        """The attempt's one result for the pacer, of its final class: an answer is told when
        AMD (or an agent taken, or the call's end) says whether a person or a machine took it,
        as of the answer's time."""
        run = self.campaigns.get(line.campaign_id)
        if line.told or run is None:
            return
        line.told = True
        at = line.answered if line.answered is not None else _epoch(self.clock)
        run.pacer.on_result(at, kind, at - line.started)

    # --- recovery -----------------------------------------------------------------------------
    def reconcile(self, timeout: float = 10.0) -> dict:
        """After a restart or a reconnect: this dialer's open attempts are matched against the
        channels their server still has. Live ones are followed to their end; the others ended
        while we were not listening and are closed (outcome unknown: failed, the lead goes back
        to the hopper). Lines younger than RECONCILE_MIN_AGE are left alone: their channels
        may not exist yet. Attempts on a server that is down are kept (as lines) until it comes
        back or is lost (_sweep_lost_servers)."""
        now = _epoch(self.clock)
        with self.Session() as s:
            open_rows = [(a.id, a.campaign_id, a.channel_id, a.number, a.started_at, a.answered_at,
                          a.agent_id, a.server) for a in dialing.open_attempts(s, dialer_id=self.dialer_id)]
            s.commit()
        if not open_rows:
            return {"adopted": 0, "closed": 0}
        alive: dict[str, dict[str, str] | None] = {}
        for pbx in self.servers:
            alive[pbx.name] = self._live_channel_ids(timeout, pbx) if pbx.up else None
            if alive[pbx.name] is None:
                self._reconcile_wanted.set()
        if all(ids is None for ids in alive.values()):
            return {"adopted": 0, "closed": 0}
        adopted = closed = 0
        for attempt_id, campaign_id, channel_id, number, started, answered, agent_id, server in open_rows:
            server = server if server in self.pbx else self.servers[0].name
            here = alive[server]
            is_alive = here is None or channel_id in here or other_channel_id(channel_id) in here
            line = self.lines.get(channel_id)
            if line is not None and line.answered is None and answered is not None:
                self._answered_unheard(line, answered.timestamp(), agent_id)
            if line is None:
                line = Line(attempt_id, campaign_id, channel_id, number, started.timestamp(),
                            answered.timestamp() if answered else None, agent_id=agent_id, server=server)
                if is_alive:
                    self.lines[channel_id] = line
                    self._by_other[other_channel_id(channel_id)] = channel_id
                    adopted += 1
                    self._answer_shown(line, here)
                    continue
            elif is_alive or now - line.started < RECONCILE_MIN_AGE:
                self._answer_shown(line, here)
                continue
            self._close_unknown(line)
            closed += 1
        return {"adopted": adopted, "closed": closed}

    def _close_unknown(self, line: Line) -> None:
        """A line whose end we did not see: answered or failed, as far as we know."""
        if line.reason is None:
            line.reason = 4 if line.answered is not None else 0
        self._finish(line, unheard=True)

    def _answers_written(self, lines: list[Line]) -> None:
        """Lines we saw no answer for (an AMI drop ate it) whose attempt the outbound handler,
        on the PBX's side, marked answered: the answer is taken from the row (_answered_unheard)."""
        unanswered = {line.channel_id: line for line in lines if line.answered is None}
        if not unanswered:
            return
        with self.Session() as s:
            rows = s.execute(select(DialAttempt.channel_id, DialAttempt.answered_at, DialAttempt.agent_id)
                             .where(DialAttempt.channel_id.in_(list(unanswered)),
                                    DialAttempt.answered_at.is_not(None))).all()
            s.commit()
        for channel_id, answered_at, agent_id in rows:
            self._answered_unheard(unanswered[channel_id], answered_at.timestamp(), agent_id)

    def _answer_shown(self, line: Line, states: dict[str, str] | None) -> None:
        """Our channel is up on the PBX (CoreShowChannels) and nothing recorded its answer:
        answered while we were not listening, it is handled as an answer heard now."""
        if line.answered is None and states and states.get(line.channel_id) == CHANNEL_UP:
            line.responded, line.responded_at, line.reason = True, _epoch(self.clock), 4
            self._answered(line)

    def _answered_unheard(self, line: Line, at: float, agent_id: int | None) -> None:
        """An answer we learn of afterwards: the call is followed (or closed) as answered, with
        its agent, never as a failure whose lead is dialled again. Until the handler's row says
        where it went, it counts as waiting (_check_handler_lines)."""
        self._changed = True
        line.answered, line.reason, line.responded, line.responded_at = at, 4, True, at
        line.agent_id = line.agent_id or agent_id
        self.counts["answered"] += 1
        self.server_counts[line.server]["answered"] += 1
        run = self.campaigns.get(line.campaign_id)
        if line.agent_id is None and not self.route_answers and not (run and run.mode == "voice"):
            line.in_handler_until = _epoch(self.clock) + HANDLER_SECONDS

    def _live_channel_ids(self, timeout: float, pbx: PBX | None = None) -> dict[str, str] | None:
        """Uniqueid → ChannelState of every channel the server has (CoreShowChannels), None if
        AMI is down."""
        ami = (pbx or self.servers[0]).ami
        got: dict[str, str] = {}
        done = threading.Event()
        action_id = f"{self.dialer_id}-show-{uuid.uuid4().hex[:6]}"

        def collect(msg):
            if msg.get("ActionID") != action_id:
                return
            if msg.name == "CoreShowChannel":
                got[msg.get("Uniqueid") or ""] = msg.get("ChannelState") or ""
            elif msg.name == "CoreShowChannelsComplete":
                done.set()
        ami.on("CoreShowChannel", collect)
        ami.on("CoreShowChannelsComplete", collect)
        try:
            ami.send_action("CoreShowChannels", [], action_id=action_id, timeout=timeout, check=True)
            if not done.wait(timeout):
                return None
            return got
        except AMIError as exc:
            log.warning("dialer: cannot list channels: %s", exc)
            return None
        finally:
            ami.off("CoreShowChannel", collect)
            ami.off("CoreShowChannelsComplete", collect)

    def _sweep_stale(self, now: float) -> None:
        """A failed line whose far side's cause never came (no Hangup, or only ours with cause 0)
        is closed HANGUP_WAIT after its OriginateResponse, with what it has.
        Lines whose OriginateResponse never came (an AMI drop ate it) are settled against
        CoreShowChannels once they are older than the ring timeout plus a grace period."""
        for line in [line for line in self.lines.values() if line.answered is None and line.responded
                     and now - line.responded_at >= HANGUP_WAIT]:
            self._finish(line)
        stale = [line for line in self.lines.values() if line.answered is None and not line.responded
                 and now - line.started > STALE_GRACE_SECONDS     # cheap first: thousands a tick
                 and now - line.started > self._ring_timeout(line) + STALE_GRACE_SECONDS]
        self._answers_written(stale)
        stale = [line for line in stale if line.answered is None]
        for pbx in self.servers:
            mine = [line for line in stale if line.server == pbx.name]
            if not mine or not pbx.up:
                continue
            alive = self._live_channel_ids(5.0, pbx)
            if alive is None:
                continue
            for line in mine:
                if line.channel_id not in alive and other_channel_id(line.channel_id) not in alive:
                    line.reason = 0
                    self._finish(line)
                else:
                    self._answer_shown(line, alive)

    def _sweep_lost_servers(self, now: float) -> None:
        """Lines on a server whose AMI connection is down, with several servers: an unanswered
        one is closed once it can no longer be ringing (its lead goes back to the hopper and is
        dialled on another server), an answered one once the server has been down
        LOST_SERVER_SECONDS. With one server the lines wait for it (reconcile on reconnect)."""
        for pbx in self.servers:
            if pbx.up:
                pbx.down_since = None
                continue
            if pbx.down_since is None:
                pbx.down_since = now
                log.warning("dialer: server %s is down: no call goes there", pbx.name)
            if len(self.servers) == 1:
                continue
            lost = now - pbx.down_since >= LOST_SERVER_SECONDS
            self._answers_written([line for line in self.lines.values() if line.server == pbx.name
                                   and now - line.started > self._ring_timeout(line) + STALE_GRACE_SECONDS])
            for line in [line for line in self.lines.values() if line.server == pbx.name]:
                if lost if line.answered is not None else \
                        now - line.started > self._ring_timeout(line) + STALE_GRACE_SECONDS:
                    self.server_counts[pbx.name]["closed_lost"] += 1
                    self._close_unknown(line)

    def _sweep_previews(self, now: float) -> None:
        """Every PREVIEW_SWEEP_SECONDS: previews held past their limit, or by an agent who
        left, go back to the hopper (models.dialer.preview.sweep_held_previews)."""
        if now < self._next_preview_sweep:
            return
        self._next_preview_sweep = now + PREVIEW_SWEEP_SECONDS
        with self.Session() as s:
            released = preview.sweep_held_previews(s, clock=self.clock)
            s.commit()
        if released:
            log.info("dialer: %d held preview(s) given back to the hopper", released)

    def _ring_timeout(self, line: Line) -> float:
        run = self.campaigns.get(line.campaign_id)
        return run.ring_timeout if run else 60.0

