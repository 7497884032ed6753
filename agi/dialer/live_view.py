"""The dialer's live view of agents and lines, so a pacing decision reads memory, not the database.

Agents: ``AgentBoard.poll`` reads, in one query per tick, only the agent_states rows whose
``version`` moved since the last read (models.dialer.agent_states.changed_since): the web's
state changes, the FastAGI handler taking an agent, the dialer's own moves. Two transactions
can commit their versions out of order (PostgreSQL, read committed), so each poll re-reads the
last ``SLACK`` versions, and the whole table is read again every ``FULL_READ_SECONDS`` (rows
deleted with their user). Reserving an agent stays the conditional UPDATE of
agent_states.take_ready_agent: the board only paces.

Lines: ``Lines`` is the dialer's dict of calls in flight (by ChannelId) that also keeps them by
campaign, so a campaign's decision does not walk every line of every campaign, and counts them
by Asterisk server (each server's trunk lines).
"""
from __future__ import annotations

import datetime as dt

from models.dialer import agent_states

SLACK = 16
FULL_READ_SECONDS = 60.0


def _epoch(value) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


class AgentBoard:
    def __init__(self):
        self.version: int | None = None
        self.full_reads = 0
        self.rows_read = 0
        self._next_full = 0.0
        self._where: dict[int, int] = {}                          # user → campaign counted in
        self._campaigns: dict[int, dict[int, tuple[str, float]]] = {}  # campaign → user → (state, since)

    def poll(self, session, now: float) -> None:
        full = self.version is None or now >= self._next_full
        rows = agent_states.changed_since(session, None if full else self.version - SLACK)
        if full:
            self._where, self._campaigns = {}, {}
            self._next_full = now + FULL_READ_SECONDS
            self.full_reads += 1
        self.rows_read += len(rows)
        for row in rows:
            self.note(row.user_id, row.state, row.campaign_id, row.reason, row.since)
            self.version = max(self.version or 0, row.version)
        if self.version is None:
            self.version = 0

    def note(self, user_id: int, state: str, campaign_id: int | None, reason: str | None, since) -> None:
        """One agent's state as it now is (a polled row, or a move the dialer made itself)."""
        before = self._where.pop(user_id, None)
        if before is not None:
            self._campaigns[before].pop(user_id, None)
        if campaign_id is not None and agent_states.counts_for_dialer(state, reason):
            self._where[user_id] = campaign_id
            self._campaigns.setdefault(campaign_id, {})[user_id] = (state, _epoch(since))

    def agents(self, campaign_id: int) -> list[tuple[int, str, float]]:
        """(user_id, state, since epoch) of the campaign's agents, as agent_snapshot gives them."""
        here = self._campaigns.get(campaign_id, {})
        return [(user_id, *here[user_id]) for user_id in sorted(here)]


class Lines(dict):
    """ChannelId → Line, and the same lines by campaign."""

    def __init__(self):
        super().__init__()
        self._by_campaign: dict[int, dict[str, object]] = {}
        self.on_server: dict[str, int] = {}   # server name → lines up there

    def __setitem__(self, channel_id, line) -> None:
        self.pop(channel_id, None)
        super().__setitem__(channel_id, line)
        self._by_campaign.setdefault(line.campaign_id, {})[channel_id] = line
        self.on_server[line.server] = self.on_server.get(line.server, 0) + 1

    def __delitem__(self, channel_id) -> None:
        self.pop(channel_id)

    _missing = object()

    def pop(self, channel_id, default=_missing):
        if channel_id not in self:
            if default is Lines._missing:
                raise KeyError(channel_id)
            return default
        line = super().pop(channel_id)
        self._by_campaign.get(line.campaign_id, {}).pop(channel_id, None)
        self.on_server[line.server] -= 1
        return line

    def of(self, campaign_id: int):
        """The campaign's lines in flight."""
        return self._by_campaign.get(campaign_id, {}).values()
