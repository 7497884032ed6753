"""The live wallboard (issue 14): what it shows, who sees which part, and the managers' alerts.

One ``Wallboard`` per web process builds the whole board (every agent, queue and running
campaign) with a fixed handful of set-based queries, whatever the number of agents or viewers;
``view`` then cuts each viewer's part out of it in memory (models/ only; the web's builder and
streams are in admin/wallboard/).

Figures:
- agent: the dialer state (agent_states) with its reason and since; an agent on an open call
  of the call log (state ringing/up; the call's agent ``calls.user_id`` or an open leg of the
  agent's phone ``call_legs.user_id``: a queue rings the phone before the call has an agent) is
  shown ``ringing``/``on_call`` from that call even when not in the dialer's ready/paused. The current call:
  the other party's number (masked for a masking viewer), customer, direction, campaign and
  ``answered_at`` (the talk timer). Today's calls and talk time: the call figures of the company
  day (models.telephony.call_reports: calls made + answered, talk seconds).
- queue (calls.queue): waiting callers (queued, not answered, not ended), the longest wait now;
  today's answered calls and those answered within the service-level threshold (the company
  setting ``wallboard.service_level_seconds``, default 20 s; a call's wait is its
  ``queue_seconds``), the service level being their ratio in percent.
- campaign (status running): dial rate per minute (attempts placed in the last DIAL_RATE_WINDOW,
  per minute), the 24 h abandon rate against the campaign's cap (the rule of
  models.dialer.campaign_stats), agents ready.
Times go out as ISO instants; the browser counts the timers itself, so a row changes only when
its state does.

Who sees what: an admin everything; a manager the agents on the teams of the campaigns he
leads (models.org.teams: the board applies the same rule in memory), those campaigns, and every
queue (queues belong to no team).
Nobody else opens the wallboard.

Alerts (wallboard_alerts), evaluated on each build against the manager's part of the board:
long_call (a call up longer than N minutes: one occurrence per call), long_pause (paused
longer than N minutes: one per pause span), queue_wait (a caller waiting longer than N
seconds: one per call), abandon_near_cap (24 h abandon rate >= cap - N points: one per campaign
and company day). Each occurrence is written once (a unique row in wallboard_alert_firings,
so several web processes agree) with an ``alert`` event to its manager: the pop."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.company import DEFAULTS, company_tz, day_bounds, get_setting, set_setting
from models.dialer.campaign_stats import abandons_24h_of, pct, placed
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.org.masking import mask
from models.org.teams import DISBANDED, leads
from models.schema import (
    AgentState,
    Call,
    CallLeg,
    Campaign,
    CampaignAgent,
    Customer,
    DialAttempt,
    Event,
    Role,
    User,
)
from models.schema.wallboard import ALERT_KINDS, WallboardAlert, WallboardAlertFiring
from models.telephony.call_reports import Filters, call_figures

ALERT_EVENT = "alert"
SERVICE_LEVEL_KEY = "wallboard.service_level_seconds"
DIAL_RATE_WINDOW = dt.timedelta(minutes=5)
TODAY_REFRESH = dt.timedelta(seconds=30)   # today's figures also refresh when a call ends
ALERT_LIMITS = {"long_call": (1, 600), "long_pause": (1, 600), "queue_wait": (1, 3600),
                "abandon_near_cap": (0, 100)}
OPEN = ("ringing", "up")


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class Wallboard:
    """Builds the board; keeps today's per-agent figures between builds (they change only
    when a call ends) and the alert occurrences already fired."""

    def __init__(self):
        self._today: dict[int, tuple[int, int]] = {}
        self._today_key: tuple | None = None
        self._today_at: dt.datetime | None = None
        self._fired: set[tuple[int, str]] = set()

    def build(self, session: Session, now: dt.datetime) -> dict:
        tz = company_tz(session)
        today = now.astimezone(tz).date()
        agents = self._agents(session, now)
        open_calls = self._open_calls(session)
        queues = self._queues(session, day_bounds(tz, today)[0], open_calls)
        campaigns, teams = self._campaigns(session, now)
        for call in open_calls:   # the latest call of an agent on two is shown
            for agent in filter(None, map(agents.get, call["agent_ids"])):
                agent["call"] = {k: call[k] for k in (
                    "linkedid", "number", "customer", "customer_id", "direction", "campaign_id",
                    "started_at", "answered_at")}
                agent["call"]["campaign"] = teams["names"].get(call["campaign_id"])
        for agent in agents.values():
            call = agent["call"]
            if call and agent["state"] in ("logged_out", "ready", "paused"):
                agent["state"] = "on_call" if call["answered_at"] else "ringing"
                agent["since"], agent["reason"] = call["answered_at"] or call["started_at"], None
            if agent["state"] == "ready" and agent["campaign_id"] in campaigns:
                campaigns[agent["campaign_id"]]["ready"] += 1
        self._refresh_today(session, now, today, open_calls)
        for user_id, agent in agents.items():
            agent["today_calls"], agent["today_talk"] = self._today.get(user_id, (0, 0))
        return dict(now=now.isoformat(), day=today.isoformat(), agents=agents, queues=queues,
                    campaigns=campaigns, teams=teams, calls=open_calls)

    # -- the queries ------------------------------------------------------------------------

    def _agents(self, session: Session, now: dt.datetime) -> dict[int, dict]:
        on_call = select(Call.user_id).where(Call.state.in_(OPEN), Call.user_id.is_not(None))
        on_leg = select(CallLeg.user_id).join(Call, Call.id == CallLeg.call_id).where(
            Call.state.in_(OPEN), CallLeg.ended_at.is_(None), CallLeg.user_id.is_not(None))
        rows = session.execute(
            select(User.id, User.full_name, User.extension, AgentState.state, AgentState.reason,
                   AgentState.since, AgentState.campaign_id)
            .outerjoin(AgentState, AgentState.user_id == User.id)
            .where(User.active.is_(True),
                   or_(User.id.in_(select(CampaignAgent.user_id)),
                       AgentState.state.not_in(("logged_out",)), User.id.in_(on_call),
                       User.id.in_(on_leg)))
            .order_by(User.full_name, User.id)).all()
        return {uid: dict(id=uid, name=name, extension=ext, state=state or "logged_out",
                          reason=reason, since=since, campaign_id=cid, call=None)
                for uid, name, ext, state, reason, since, cid in rows}

    def _open_calls(self, session: Session) -> list[dict]:
        """The calls ringing or up, each with the agents on it: the call's agent and every
        agent whose phone leg is open (an inbound call rings an agent before it has one)."""
        leg = CallLeg.__table__.alias("agent_leg")
        rows = session.execute(
            select(Call.linkedid, Call.direction, Call.state, Call.from_number, Call.to_number,
                   Call.started_at, Call.answered_at, Call.queued_at, Call.queue, Call.user_id,
                   Call.customer_id, Call.campaign_id, Customer.name, leg.c.user_id)
            .outerjoin(Customer, Customer.id == Call.customer_id)
            .outerjoin(leg, (leg.c.call_id == Call.id) & leg.c.user_id.is_not(None)
                       & leg.c.ended_at.is_(None))
            .where(Call.state.in_(OPEN)).order_by(Call.started_at, Call.id)).all()
        found: dict[str, dict] = {}
        for r in rows:
            call = found.get(r.linkedid)
            if call is None:
                call = found[r.linkedid] = dict(
                    linkedid=r.linkedid, direction=r.direction, state=r.state,
                    number=r.from_number if r.direction == "inbound" else r.to_number,
                    started_at=r.started_at, answered_at=r.answered_at, queued_at=r.queued_at,
                    queue=r.queue, user_id=r.user_id, customer_id=r.customer_id,
                    customer=r.name, campaign_id=r.campaign_id,
                    agent_ids=[r.user_id] if r.user_id is not None else [],
                    waiting=r.queue is not None and r.queued_at is not None
                    and r.answered_at is None)
            if r[-1] is not None and r[-1] not in call["agent_ids"]:
                call["agent_ids"].append(r[-1])
        return list(found.values())

    def _queues(self, session: Session, start: dt.datetime, open_calls: list[dict]) -> dict:
        threshold = service_level_seconds(session)
        answered = Call.answered_at.is_not(None)
        queues: dict[str, dict] = {}
        for name, n_answered, n_within, n_abandoned in session.execute(
                select(Call.queue, _count_if(answered),
                       _count_if(answered & (Call.queue_seconds <= threshold)),
                       _count_if(Call.abandoned.is_(True)))
                .where(Call.queue.is_not(None), Call.queued_at >= start)
                .group_by(Call.queue)):
            queues[name] = _queue(name, threshold, n_answered or 0, n_within or 0,
                                  n_abandoned or 0)
        for call in open_calls:
            if call["waiting"]:
                queue = queues.setdefault(call["queue"], _queue(call["queue"], threshold))
                queue["waiting"] += 1
                if queue["oldest"] is None or call["queued_at"] < queue["oldest"]:
                    queue["oldest"] = call["queued_at"]
        return queues

    def _campaigns(self, session: Session, now: dt.datetime) -> tuple[dict, dict]:
        teams: dict[int, list] = {}
        owners: dict[int, int | None] = {}
        names: dict[int, str] = {}
        for cid, name, owner, user_id in session.execute(
                select(Campaign.id, Campaign.name, Campaign.created_by_id, CampaignAgent.user_id)
                .outerjoin(CampaignAgent, CampaignAgent.campaign_id == Campaign.id)
                .where(Campaign.status.not_in(DISBANDED))):
            owners[cid], names[cid] = owner, name
            if user_id is not None:
                teams.setdefault(cid, []).append(user_id)
        campaigns = {cid: dict(id=cid, name=name, mode=mode, owner=owners.get(cid),
                               abandon_cap_pct=cap, ready=0, dial_rate=0.0)
                     for cid, name, mode, cap in session.execute(
                         select(Campaign.id, Campaign.name, Campaign.mode,
                                Campaign.abandon_cap_pct)
                         .where(Campaign.status == "running").order_by(Campaign.name))}
        if campaigns:
            minutes = DIAL_RATE_WINDOW.total_seconds() / 60
            for cid, n in session.execute(
                    select(DialAttempt.campaign_id, func.count())
                    .where(DialAttempt.campaign_id.in_(list(campaigns)), placed(),
                           DialAttempt.started_at >= now - DIAL_RATE_WINDOW)
                    .group_by(DialAttempt.campaign_id)):
                campaigns[cid]["dial_rate"] = round(n / minutes, 1)
        rates = abandons_24h_of(session, list(campaigns), now)
        for cid, campaign in campaigns.items():
            abandoned, live = rates.get(cid, (0, 0))
            campaign["abandon_rate"] = pct(abandoned, live)
        return campaigns, dict(teams=teams, owners=owners, names=names)

    def _refresh_today(self, session: Session, now: dt.datetime, today: dt.date,
                       open_calls: list[dict]) -> None:
        """Today's figures per agent, again when a call has ended since (the set of open
        calls changed), the day changed or TODAY_REFRESH passed."""
        key = (today, frozenset(c["linkedid"] for c in open_calls))
        if key == self._today_key and now - self._today_at < TODAY_REFRESH:
            return
        self._today_key, self._today_at = key, now
        rows = call_figures(session, Filters(start=today, end=today), group="agent",
                            period=None, totals=False)
        self._today = {row.key: (row.figures.total_calls, row.figures.talk_seconds)
                       for row in rows if row.key is not None}

    # -- alerts -----------------------------------------------------------------------------

    def evaluate_alerts(self, session: Session, board: dict, now: dt.datetime) -> list[tuple]:
        """Mark the firing rows of the board (board["firing"]: {manager id: [(section, key,
        kind)]}) and return the occurrences this builder has not fired yet (one read)."""
        alerts = session.execute(
            select(WallboardAlert.id, WallboardAlert.manager_id, WallboardAlert.kind,
                   WallboardAlert.threshold, Role.is_admin)
            .join(User, User.id == WallboardAlert.manager_id).join(Role, Role.id == User.role_id)
            .where(WallboardAlert.active.is_(True), User.active.is_(True),
                   Role.can_manage.is_(True))).all()
        board["firing"] = firing = {}
        current, new = set(), []
        for alert_id, manager_id, kind, threshold, admin in alerts:
            team = None if admin else _team_from_board(board, manager_id)
            for section, key, occurrence, payload in _occurrences(
                    board, kind, threshold, now, team, None if admin else manager_id,
                    board["day"]):
                firing.setdefault(manager_id, []).append((section, key, kind))
                current.add((alert_id, occurrence))
                if (alert_id, occurrence) not in self._fired:
                    new.append((alert_id, occurrence, manager_id, dict(
                        payload, alert_id=alert_id, kind=kind, threshold=threshold)))
        self._fired = current   # what is over its threshold now: memory stays bounded
        return new

    @staticmethod
    def fire(session: Session, occurrences: list[tuple], now: dt.datetime) -> list[Event]:
        """The firing row and the ``alert`` event of each occurrence no process fired before."""
        events = []
        for alert_id, occurrence, manager_id, payload in occurrences:
            try:
                with session.begin_nested():
                    session.add(WallboardAlertFiring(alert_id=alert_id, occurrence=occurrence,
                                                     fired_at=now))
            except IntegrityError:
                continue   # fired already, by this process earlier or by another
            event = Event(kind=ALERT_EVENT, user_id=manager_id, created_at=now, payload=payload)
            session.add(event)
            events.append(event)
        session.flush()
        return events

    def fire_alerts(self, session: Session, board: dict, now: dt.datetime) -> list[Event]:
        """evaluate_alerts then fire, in one session."""
        return self.fire(session, self.evaluate_alerts(session, board, now), now)


def _count_if(condition):
    return func.sum(case((condition, 1), else_=0))


def _queue(name: str, threshold: int, answered: int = 0, within: int = 0,
           abandoned: int = 0) -> dict:
    return dict(name=name, waiting=0, oldest=None, answered=answered, within=within,
                abandoned=abandoned, threshold=threshold, service_level=pct(within, answered))


def service_level_seconds(session: Session) -> int:
    try:
        return max(1, int(get_setting(session, SERVICE_LEVEL_KEY)))
    except ValueError:
        return int(DEFAULTS[SERVICE_LEVEL_KEY])


def set_service_level_seconds(session: Session, user: User, value: Any) -> int:
    """The company's service-level threshold (admins only), 1 to 600 seconds."""
    if not user.role.is_admin:
        raise PermissionDenied()
    try:
        seconds = int(str(value).strip())
    except ValueError:
        raise InvalidValue(field="service_level_seconds") from None
    if not 1 <= seconds <= 600:
        raise InvalidValue(field="service_level_seconds")
    set_setting(session, SERVICE_LEVEL_KEY, str(seconds))
    return seconds


def _team_from_board(board: dict, manager_id: int) -> set[int]:
    owners, teams = board["teams"]["owners"], board["teams"]["teams"]
    return {uid for cid, owner in owners.items() if leads(manager_id, owner, teams.get(cid, ()))
            for uid in teams.get(cid, ())}


def _occurrences(board, kind, threshold, now, team, owner_id, day):
    """(section, key, occurrence, payload) of each thing over the alert's threshold in the
    part of the board of the manager (team, owner_id: None for an admin)."""
    def mine(user_id):
        return team is None or user_id in team
    if kind == "long_call":
        for call in board["calls"]:
            agent = next((board["agents"][uid] for uid in call["agent_ids"]
                          if uid in board["agents"] and mine(uid)), None)
            if agent and call["answered_at"] and \
                    now - call["answered_at"] > dt.timedelta(minutes=threshold):
                yield ("agents", agent["id"], "call:" + call["linkedid"],
                       dict(subject=agent["name"],
                            seconds=int((now - call["answered_at"]).total_seconds())))
    elif kind == "long_pause":
        for agent in board["agents"].values():
            if agent["state"] == "paused" and agent["since"] and mine(agent["id"]) and \
                    now - agent["since"] > dt.timedelta(minutes=threshold):
                yield ("agents", agent["id"], f"pause:{agent['id']}:{agent['since'].isoformat()}",
                       dict(subject=agent["name"], reason=agent["reason"],
                            seconds=int((now - agent["since"]).total_seconds())))
    elif kind == "queue_wait":
        for call in board["calls"]:
            if call["waiting"] and now - call["queued_at"] > dt.timedelta(seconds=threshold):
                yield ("queues", call["queue"], "wait:" + call["linkedid"],
                       dict(subject=call["queue"],
                            seconds=int((now - call["queued_at"]).total_seconds())))
    elif kind == "abandon_near_cap":
        for campaign in board["campaigns"].values():
            rate = campaign["abandon_rate"]
            if rate is None or rate < campaign["abandon_cap_pct"] - threshold or \
                    (owner_id is not None and not leads(owner_id, campaign["owner"],
                                                        board["teams"]["teams"].get(campaign["id"], ()))):
                continue
            yield ("campaigns", campaign["id"], f"abandon:{campaign['id']}:{day}",
                   dict(subject=campaign["name"], rate=rate, cap=campaign["abandon_cap_pct"]))


# -- a viewer's part ----------------------------------------------------------------------

def view(board: dict, viewer: User, team: set[int] | None = None) -> dict:
    """The part of ``board`` ``viewer`` sees, ready for JSON: {"agents": {id: row}, "queues":
    {name: row}, "campaigns": {id: row}, "now"}. Numbers masked for a masking viewer."""
    if not viewer.role.can_manage:
        raise NotFound()
    admin = viewer.role.is_admin
    if team is None and not admin:
        team = _team_from_board(board, viewer.id)
    masked = bool(viewer.role.mask_numbers)
    marks = {(section, key): kind for section, key, kind in board.get("firing", {}).get(viewer.id, ())}
    agents = {}
    for uid, agent in board["agents"].items():
        if not admin and uid not in team:
            continue
        row = dict(agent, since=_iso(agent["since"]), alert=marks.get(("agents", uid)))
        if agent["call"]:
            call = dict(agent["call"], started_at=_iso(agent["call"]["started_at"]),
                        answered_at=_iso(agent["call"]["answered_at"]))
            if masked:
                call["number"] = mask(call["number"])
            row["call"] = call
        agents[str(uid)] = row
    queues = {name: dict(q, oldest=_iso(q["oldest"]), alert=marks.get(("queues", name)))
              for name, q in board["queues"].items()}
    campaigns = {str(cid): dict(c, alert=marks.get(("campaigns", cid)))
                 for cid, c in board["campaigns"].items()
                 if admin or leads(viewer.id, c["owner"], board["teams"]["teams"].get(cid, ()))}
    return dict(now=board["now"], agents=agents, queues=queues, campaigns=campaigns)


def diff(before: dict | None, after: dict) -> dict | None:
    """What changed from one view to the next: per section the new or changed rows and the
    keys gone; None when nothing did (the clock alone is no change)."""
    out: dict[str, Any] = {}
    for section in ("agents", "queues", "campaigns"):
        old = (before or {}).get(section, {})
        new = after[section]
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        gone = [k for k in old if k not in new]
        if changed or gone:
            out[section] = dict(changed=changed, gone=gone)
    if not out:
        return None
    out["now"] = after["now"]
    return out


# -- the alerts a manager sets ----------------------------------------------------------------

def alerts_of(session: Session, manager: User) -> list[WallboardAlert]:
    return list(session.scalars(select(WallboardAlert).where(WallboardAlert.manager_id == manager.id)
                                .order_by(WallboardAlert.id)))


def has_active_alerts(session: Session, user: User) -> bool:
    if not user.role.can_manage:
        return False
    return session.scalar(select(WallboardAlert.id).where(
        WallboardAlert.manager_id == user.id, WallboardAlert.active.is_(True)).limit(1)) is not None


def add_alert(session: Session, manager: User, kind: Any, threshold: Any, *, now) -> WallboardAlert:
    if not manager.role.can_manage:
        raise NotFound()
    if kind not in ALERT_KINDS:
        raise InvalidValue(field="alert_kind")
    try:
        value = float(str(threshold).strip())
    except ValueError:
        raise InvalidValue(field="alert_threshold") from None
    low, high = ALERT_LIMITS[kind]
    if not low <= value <= high:
        raise InvalidValue(field="alert_threshold")
    alert = WallboardAlert(manager_id=manager.id, kind=kind, threshold=value, active=True,
                           created_at=now)
    session.add(alert)
    session.flush()
    return alert


def set_alert_active(session: Session, manager: User, alert_id: int, active: bool) -> None:
    alert = session.get(WallboardAlert, alert_id)
    if alert is None or alert.manager_id != manager.id:
        raise NotFound()
    alert.active = active
    session.flush()


def delete_alert(session: Session, manager: User, alert_id: int) -> None:
    alert = session.get(WallboardAlert, alert_id)
    if alert is None or alert.manager_id != manager.id:
        raise NotFound()
    session.delete(alert)
    session.flush()
