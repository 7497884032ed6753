"""The Asterisk servers the dialer places calls on (settings.servers), one AMI client each.

An agent's phone belongs to the server whose extension ranges hold it (its channels, its agents'
calls). A call of an agent campaign goes to the server whose ready agents have the fewest lines
waiting for them; a call of an agentless (voice) campaign to the server with the most free trunk lines. A
server whose AMI connection is down gets no call.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from config.settings import Server
from models.schema import CampaignAgent, User

HOMES_RELOAD_SECONDS = 60.0   # an agent given a new extension is routed by it within this


@dataclass
class PBX:
    """One server as the dialer sees it."""
    name: str
    ami: object
    trunk_lines: int = 0                       # the most dialer lines up on it at once (0: any)
    extensions: tuple[tuple[int, int], ...] = ()   # config.settings.Server's ranges; (): all
    down_since: float | None = None            # when its AMI connection was first seen down

    @property
    def up(self) -> bool:
        return getattr(self.ami, "connected", True)

    def has_extension(self, extension: str | None) -> bool:
        return Server(self.name, extensions=self.extensions).has_extension(extension)

    def free(self, used: int) -> float:
        """Trunk lines still free with ``used`` up (inf: no limit; 0 while it is down)."""
        if not self.up:
            return 0
        return float("inf") if not self.trunk_lines else max(0, self.trunk_lines - used)


class Homes:
    """user id → the name of the server their extension is on (None: on none of them)."""

    def __init__(self, servers: list[PBX]):
        self.servers = servers
        self._homes: dict[int, str | None] = {}
        self._loaded_at: float | None = None

    def of(self, session_maker, user_id: int, now: float) -> str | None:
        if len(self.servers) == 1:
            return self.servers[0].name
        stale = self._loaded_at is None or now - self._loaded_at >= HOMES_RELOAD_SECONDS
        if stale or (user_id not in self._homes and now - self._loaded_at >= 1.0):
            self._load(session_maker, now)
        return self._homes.get(user_id)

    def _load(self, session_maker, now: float) -> None:
        with session_maker() as s:
            rows = s.execute(select(User.id, User.extension).where(User.extension.is_not(None))).all()
            s.commit()
        self._homes = {user_id: self.home_of(extension) for user_id, extension in rows}
        self._loaded_at = now

    def home_of(self, extension: str | None) -> str | None:
        return next((p.name for p in self.servers if p.has_extension(extension)), None)


def ami_for_extension(servers: list[PBX], extension: str | None):
    """The AMI client of the server an agent's phone is on (the first server if on none): an
    agent's calls are on that server, so are the controls, spies and queue members of them."""
    return next((p.ami for p in servers if p.has_extension(extension)), servers[0].ami)


def least_busy(servers: list[PBX], used: dict[str, int]) -> PBX:
    """The server up with the most free trunk lines (the first on a tie; the first if none is
    up): where a call for no agent goes (a fax)."""
    up = [p for p in servers if p.up] or servers[:1]
    return max(up, key=lambda p: p.free(used.get(p.name, 0)))


def place(servers: list[PBX], wanted: int, used: dict[str, int],
          agents: dict[str, tuple[int, int, int]] | None) -> list[str]:
    """The servers of up to ``wanted`` new calls, one name per call. ``used``: lines up on each
    server. ``agents``: for an agent campaign, (its ready agents, all its agents, its lines not
    yet with an agent) on each server: a call goes where the most ready agents have no line yet,
    then where the fewest lines wait per agent; never where the campaign has no agent. None for
    a voice campaign: a call goes where the most trunk lines are free."""
    used = dict(used)
    agents = dict(agents) if agents is not None and len(servers) > 1 else None
    names = []
    for _ in range(wanted):
        best = None
        for pbx in servers:
            free = pbx.free(used.get(pbx.name, 0))
            if free <= 0:
                continue
            if agents is None:
                key = (free, -used.get(pbx.name, 0))
            else:
                ready, here, pending = agents.get(pbx.name, (0, 0, 0))
                if here <= 0:
                    continue
                key = (max(ready - pending, 0), -pending / here, free)
            if best is None or key > best[0]:
                best = (key, pbx.name)
        if best is None:
            break
        name = best[1]
        names.append(name)
        used[name] = used.get(name, 0) + 1
        if agents is not None:
            ready, here, pending = agents[name]
            agents[name] = (ready, here, pending + 1)
    return names


def team_on_server(session, servers: list[Server], server: str | None, campaign_id: int) -> list[int] | None:
    """The campaign team's agents whose phones are on ``server`` (the attempt's): those an
    answered call there may be put through to. None with one server, or none known: any agent."""
    config = next((s for s in servers if s.name == server), None) if len(servers) > 1 else None
    if config is None:
        return None
    rows = session.execute(select(User.id, User.extension)
                           .join(CampaignAgent, CampaignAgent.user_id == User.id)
                           .where(CampaignAgent.campaign_id == campaign_id)).all()
    return [user_id for user_id, extension in rows if config.has_extension(extension)]
