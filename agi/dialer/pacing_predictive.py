"""The predictive pacer: how many lines to dial now so that live answers meet free agents.

For every offset t = 0, 1, ... T seconds (T = ring timeout + 2) it forecasts
  demand(t) = calls waiting now + live answers by t (lines in flight, new lines)
  supply(t) = agents free by t + hold (ready now, wrap-ups ending, calls ending then wrap-up)
as sums of independent Bernoullis, in mean and variance. A live answer in (t-1, t] is abandoned
when the other calls take every agent free by t + hold: P = Phi((E[others - supply] + 1/2) / sd)
(normal approximation; "others" leaves out the answering line's own share); expected abandons
= sum over t of the answers expected in the step times that probability. New lines are added while the abandons each adds stay under
theta * (its chance to answer live); AbandonControl steers theta from the realised abandons.
See docs/pacing.md.
"""
from __future__ import annotations

import math

from agi.dialer.pacing_estimators import AbandonControl, HourBudget, RingModel, TalkModel, WrapModel

INV_SQRT2 = 1.0 / math.sqrt(2.0)


class Forecast:
    """demand(t) and supply(t) on the offset grid, before any new line."""

    def __init__(self, k: int, waiting: int, lines: int):
        self.waiting = waiting
        self.lines = lines
        self.demand = [float(waiting)] * k
        self.demand_var = [0.0] * k
        self.supply = [0.0] * k
        self.supply_var = [0.0] * k


class PredictivePacer:
    name = "predictive"

    def __init__(self, *, target: float | None = None, target_share: float = 0.9, hold: float = 2.0,
                 theta_start: float = 0.012, gain: float = 0.3, gain_agents: int = 20,
                 max_lines_per_agent: float = 10.0, prior_answer: float = 0.35, prior_talk: float = 180.0,
                 prior_wrap: float = 30.0, rate_sd: float = 0.2, hour_reserve: float = 1.0):
        self.target = target
        self.rate_sd = rate_sd
        self.budget = HourBudget(reserve=hour_reserve)
        self.target_share = target_share
        self.hold = hold
        self.max_lines_per_agent = max_lines_per_agent
        self.ring = RingModel(prior_live=prior_answer)
        self.talk = TalkModel(prior_mean=prior_talk)
        self.wrap = WrapModel(prior=prior_wrap)
        self.control = AbandonControl(start=theta_start, gain=gain)
        self.gain, self.gain_agents = gain, gain_agents
        self.cap = 0.03
        self._offsets: list[int] = []
        self._lines_key = None
        self._line_rows: list[tuple[list[float], list[float]]] = []
        self._agents_key = None
        self._agent_rows: dict = {}

    # --- feedback -----------------------------------------------------------------------------
    def on_result(self, now: float, kind: str, ring_seconds: float) -> None:
        self.ring.add(kind == "live", ring_seconds, now)

    def on_connected(self, now: float, wait_seconds: float) -> None:
        self.control.update(False, self.abandon_target())
        self.budget.add(now, False)

    def on_abandoned(self, now: float) -> None:
        self.control.update(True, self.abandon_target())
        self.budget.add(now, True)

    def on_talk_end(self, now: float, talk_seconds: float) -> None:
        self.talk.add(talk_seconds)

    def on_wrap_end(self, now: float, wrap_seconds: float) -> None:
        self.wrap.add(wrap_seconds)

    def abandon_target(self) -> float:
        return self.target if self.target is not None else self.cap * self.target_share

    # --- forecast -----------------------------------------------------------------------------
    def _prepare(self, ring_timeout: float, now: float) -> None:
        horizon = max(1, int(math.ceil(ring_timeout))) + 2
        self.ring.settle = ring_timeout + 5.0
        if horizon + 1 != len(self._offsets):
            self._offsets = list(range(horizon + 1))
            self._lines_key = self._agents_key = None
        key = self.ring.version // 5
        if key != self._lines_key:
            self._lines_key = key
            rows = self.ring.table(horizon + 5, self._offsets, now)
            self._line_rows = [(r, [p * (1.0 - p) for p in r]) for r in rows]
        key = (self.talk.version, self.wrap.version)
        if key != self._agents_key:
            self._agents_key = key
            self._agent_rows = {}

    def _agent_row(self, state: str, elapsed: int) -> tuple[int, list[float], list[float]]:
        """(first offset index with a nonzero chance, P(free by t + hold) from there, variances)."""
        row = self._agent_rows.get((state, elapsed))
        if row is None:
            ahead = [t + self.hold for t in self._offsets]
            if state == "ready":
                p = [1.0] * len(ahead)
            elif state == "wrap_up":
                p = self.wrap.done_within(elapsed, ahead)
            else:
                wrap = self.wrap.mean()
                p = self.talk.done_within(elapsed, [a - wrap for a in ahead])
            first = next((i for i, x in enumerate(p) if x > 0.0), len(p))
            tail = p[first:]
            row = (first, tail, [x * (1.0 - x) for x in tail])
            if len(self._agent_rows) > 20000:
                self._agent_rows.clear()
            self._agent_rows[(state, elapsed)] = row
        return row

    def forecast(self, snap) -> Forecast:
        self._prepare(snap.ring_timeout, snap.now)
        f = Forecast(len(self._offsets), snap.waiting, len(snap.lines))
        ages: dict[int, int] = {}
        for age in snap.lines:
            a = int(age + 0.5)
            ages[a] = ages.get(a, 0) + 1
        last = len(self._line_rows) - 1
        demand, demand_var = f.demand, f.demand_var
        for a, c in ages.items():
            p, pv = self._line_rows[a if a < last else last]
            demand = [m + c * x for m, x in zip(demand, p)]
            demand_var = [v + c * x for v, x in zip(demand_var, pv)]
        f.demand, f.demand_var = demand, demand_var
        groups: dict[tuple[str, int], int] = {}
        for agent in snap.agents:
            key = (agent.state, 0 if agent.state == "ready" else int(agent.seconds_in_state + 0.5))
            groups[key] = groups.get(key, 0) + 1
        supply, supply_var = f.supply, f.supply_var
        for (state, elapsed), c in groups.items():
            first, p, pv = self._agent_row(state, elapsed)
            for i, x in enumerate(p, first):
                supply[i] += c * x
            for i, x in enumerate(pv, first):
                supply_var[i] += c * x
        return f

    def expected_abandons(self, f: Forecast, n: int) -> float:
        """Abandons expected among the live answers of the horizon with `n` new lines."""
        c0, cv0 = self._line_rows[0]
        lines = f.lines + n
        total, before = 0.0, 0.0
        for d, dv, s, sv, x, y in zip(f.demand, f.demand_var, f.supply, f.supply_var, c0, cv0):
            d += n * x
            step = d - before
            before = d
            if step <= 1e-12:
                continue
            own = (d - f.waiting) / lines if lines else 0.0
            gap = d - own - s + 0.5
            var = dv + sv + n * y - own * (1.0 - own) + (self.rate_sd * (d - f.waiting)) ** 2
            if var < 1e-9:
                total += step if gap > 0 else 0.0
            else:
                total += step * 0.5 * math.erfc(-gap * INV_SQRT2 / math.sqrt(var))
        return total

    def lines_to_launch(self, snap) -> int:
        self.cap = snap.abandon_cap
        if not snap.agents:
            return 0
        # a team of N answers N times as often: each answer moves theta less far
        self.control.gain = self.gain * min(1.0, math.sqrt(self.gain_agents / len(snap.agents)))
        room = int(self.max_lines_per_agent * len(snap.agents)) - len(snap.lines)
        if room <= 0:
            return 0
        f = self.forecast(snap)
        p0 = self._line_rows[0][0][-1]
        ready = sum(1 for a in snap.agents if a.state == "ready")
        floor = max(0, min(room, ready - snap.waiting - len(snap.lines)))  # progressive: no risk
        if p0 <= 1e-6:  # no line answers: one per ready agent, as progressive dialling
            return floor
        return max(floor, self._ahead(snap, f, p0, room))

    def _ahead(self, snap, f: Forecast, p0: float, room: int) -> int:
        """Lines while each adds abandons under theta (scaled by the hour's budget) per answer."""
        budget = self.control.theta * self.budget.scale(snap.now, self.cap, self.abandon_target()) * p0
        known: dict[int, float] = {}

        def worth(n: int) -> bool:
            for m in (n - 1, n):
                if m not in known:
                    known[m] = self.expected_abandons(f, m)
            return known[n] - known[n - 1] <= budget

        if not worth(1):
            return 0
        lo, hi = 1, 2
        while hi <= room and worth(hi):
            lo, hi = hi, hi * 2
        hi = min(hi, room + 1)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if worth(mid):
                lo = mid
            else:
                hi = mid
        return min(lo, room)
