"""Estimators the predictive pacer learns from the dialer's feedback (pure, no I/O).

RingModel      when an unanswered line of a given age answers live, from recent results.
TalkModel      talk time, a lognormal fitted on recent talk times (log-moments).
WrapModel      wrap-up time, empirical over recent wrap-ups.
AbandonControl the risk threshold, steered so the realised abandon rate sits at its target.
HourBudget     what is left of the abandon cap in the current clock hour.
Each starts from a conservative prior worth a few observations; see docs/pacing.md.
"""
from __future__ import annotations

import bisect
import math
from collections import deque

SQRT2 = math.sqrt(2.0)
MAX_RING = 120  # seconds a result histogram covers; later results count in the last bin


def refit_due(count: int) -> bool:
    """Refit after 5, 10, 20, ... 160 observations, then every 200: cached forecasts stay valid
    between refits."""
    return count % 200 == 0 if count > 160 else count in (5, 10, 20, 40, 80, 160)


class RingModel:
    """Outcome of a dialled line and when it comes, as counts per 1-second bin of `ring_seconds`
    over the last `window` results (plus prior pseudo-counts).

    live_by(age, t): probability that a line still unanswered at `age` answers live within the
    next `t` seconds = #live in (age, age+t] / #results after age.

    The timing comes from the whole window; the level (the live share) from the last `recent`
    lines by dial time among those dialled over `settle` seconds ago (every one of them has its
    result), shrunk toward `prior_live` by `recent_weight` pseudo-lines. The answer rate of a
    campaign can move within minutes (lunch), its ring times hardly do; and results come back
    in the order of their ring times (dead numbers first), so a window of the latest results
    says little about the live share until a whole ring time has passed."""

    def __init__(self, *, window: int = 2000, prior_live: float = 0.35, prior_weight: float = 30.0,
                 prior_ring: tuple[float, float] = (4.0, 20.0), prior_timeout: float = 30.0,
                 recent: int = 200, recent_weight: float = 20.0, settle: float = 30.0):
        self.window = window
        self.recent = recent
        self.recent_weight = recent_weight
        self.settle = settle
        self.prior_live = prior_live
        self._dialled: list[tuple[float, bool]] = []   # (dial time, live), sorted
        self._recent: deque = deque()
        self.live = [0.0] * (MAX_RING + 1)
        self.all = [0.0] * (MAX_RING + 1)
        self.count = 0
        lo, hi = int(prior_ring[0]), int(prior_ring[1])
        for b in range(lo, hi):
            w = prior_weight * prior_live / (hi - lo)
            self.live[b] += w
            self.all[b] += w
        rest = prior_weight * (1.0 - prior_live)
        self.all[2] += rest / 2
        self.all[min(MAX_RING, int(prior_timeout))] += rest / 2
        self.version = 0

    def add(self, live: bool, ring_seconds: float, now: float | None = None) -> None:
        if now is not None:
            bisect.insort(self._dialled, (now - ring_seconds, live))
        b = min(MAX_RING, max(0, int(ring_seconds)))
        self._recent.append((live, b))
        self._count(live, b, 1.0)
        if len(self._recent) > self.window:
            old_live, old_b = self._recent.popleft()
            self._count(old_live, old_b, -1.0)
        self.count += 1
        self.version += 1

    def _count(self, live: bool, b: int, w: float) -> None:
        self.all[b] += w
        if live:
            self.live[b] += w

    def window_rate(self) -> float:
        return sum(self.live) / sum(self.all)

    def answer_rate(self, now: float | None = None) -> float:
        """The live share of the settled lines (see the class); without `now`, the window's."""
        if now is None:
            return self.window_rate()
        settled = bisect.bisect_left(self._dialled, (now - self.settle, False))
        if settled > self.recent:
            del self._dialled[:settled - self.recent]
            settled = self.recent
        lives = sum(live for _, live in self._dialled[:settled])
        w = self.recent_weight
        return (lives + w * self.prior_live) / (settled + w)

    def table(self, max_age: int, offsets: list[int], now: float | None = None) -> list[list[float]]:
        """rows[age][k] = live_by(age, offsets[k]) for ages 0..max_age, at answer_rate(now)."""
        long, now = self.window_rate(), self.answer_rate(now)
        up = now / long if long > 0 else 1.0
        down = (1.0 - now) / (1.0 - long) if long < 1 else 1.0
        cum_live, cum_all = [0.0], [0.0]
        for lv, al in zip(self.live, self.all):
            cum_live.append(cum_live[-1] + lv * up)
            cum_all.append(cum_all[-1] + lv * up + (al - lv) * down)
        total = cum_all[-1]
        top = len(cum_live) - 1
        rows = []
        for age in range(max_age + 1):
            alive = total - cum_all[min(age, top)]
            base = cum_live[min(age, top)]
            if alive <= 1e-9:
                rows.append([0.0] * len(offsets))
                continue
            rows.append([(cum_live[min(age + t, top)] - base) / alive for t in offsets])
        return rows


class TalkModel:
    """Lognormal talk time fitted by the mean and variance of log(talk) over the last `window`
    calls, with `prior_weight` pseudo-calls of the prior (median, sigma)."""

    def __init__(self, *, window: int = 1000, prior_mean: float = 180.0, prior_sigma: float = 0.9,
                 prior_weight: float = 20.0):
        self.window = window
        self._recent: deque = deque()
        self._sum = 0.0
        self._sumsq = 0.0
        self.prior_sigma = prior_sigma
        self.prior_mu = math.log(prior_mean) - prior_sigma ** 2 / 2
        self.prior_weight = prior_weight
        self.count = 0
        self.version = 0
        self.mu, self.sigma = self.prior_mu, prior_sigma

    def add(self, seconds: float) -> None:
        x = math.log(max(1.0, seconds))
        self._recent.append(x)
        self._sum += x
        self._sumsq += x * x
        if len(self._recent) > self.window:
            old = self._recent.popleft()
            self._sum -= old
            self._sumsq -= old * old
        self.count += 1
        if refit_due(self.count):
            self._fit()

    def _fit(self) -> None:
        n = len(self._recent)
        w = self.prior_weight
        mu = (self._sum + w * self.prior_mu) / (n + w)
        second = (self._sumsq + w * (self.prior_sigma ** 2 + self.prior_mu ** 2)) / (n + w)
        self.mu, self.sigma = mu, math.sqrt(max(0.05 ** 2, second - mu * mu))
        self.version += 1

    def mean(self) -> float:
        return math.exp(self.mu + self.sigma ** 2 / 2)

    def survival(self, x: float) -> float:
        if x <= 0:
            return 1.0
        return 0.5 * math.erfc((math.log(x) - self.mu) / (self.sigma * SQRT2))

    def done_within(self, elapsed: float, more: list[float]) -> list[float]:
        """P(talk ends within elapsed + m | it lasted `elapsed`) for each m in `more`."""
        s0 = self.survival(elapsed)
        if s0 <= 1e-12:
            return [1.0 if m > 0 else 0.0 for m in more]
        return [max(0.0, 1.0 - self.survival(elapsed + m) / s0) if m > 0 else 0.0 for m in more]


class WrapModel:
    """Empirical wrap-up time over the last `window` wrap-ups (prior: `prior` seconds)."""

    def __init__(self, *, window: int = 300, prior: float = 30.0):
        self.window = window
        self._recent: deque = deque()
        self._sorted: list[float] = [prior]
        self._prior = True
        self.count = 0
        self.version = 0

    def add(self, seconds: float) -> None:
        if self._prior:
            self._sorted, self._prior = [], False
        seconds = max(0.0, seconds)
        self._recent.append(seconds)
        bisect.insort(self._sorted, seconds)
        if len(self._recent) > self.window:
            old = self._recent.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        self.count += 1
        if refit_due(self.count) or self.count == 1:
            self.version += 1

    def mean(self) -> float:
        return sum(self._sorted) / len(self._sorted)

    def done_within(self, elapsed: float, more: list[float]) -> list[float]:
        """P(wrap-up ends within elapsed + m | it lasted `elapsed`) for each m in `more`. An agent
        past every observed wrap-up is taken to end it with a 10-second mean residual."""
        xs = self._sorted
        n = len(xs)
        before = bisect.bisect_right(xs, elapsed)
        if before >= n:
            return [1.0 - math.exp(-max(0.0, m) / 10.0) for m in more]
        alive = n - before
        return [(bisect.bisect_right(xs, elapsed + m) - before) / alive for m in more]


class AbandonControl:
    """Integral (Robbins-Monro) control of the risk threshold theta: every live answer put
    through raises log(theta) by gain*target, every abandon lowers it by gain*(1-target). Hence
    abandons = target*answers - log(theta_end/theta_start)/gain: starting low keeps the realised
    rate at or under the target."""

    def __init__(self, *, start: float = 0.05, low: float = 1e-5, high: float = 0.9, gain: float = 0.1):
        self.log_theta = math.log(start)
        self.low, self.high = math.log(low), math.log(high)
        self.gain = gain
        self.answers = 0
        self.abandons = 0

    @property
    def theta(self) -> float:
        return math.exp(self.log_theta)

    def update(self, abandoned: bool, target: float) -> None:
        self.answers += 1
        if abandoned:
            self.abandons += 1
            self.log_theta -= self.gain * (1.0 - target)
        else:
            self.log_theta += self.gain * target
        self.log_theta = min(self.high, max(self.low, self.log_theta))

    def rate(self) -> float:
        return self.abandons / self.answers if self.answers else 0.0


class HourBudget:
    """The abandon cap holds in every clock hour, not only over the day. The hour's budget is
    cap * (its answers so far + the answers still expected in it) - its abandons - `reserve`;
    the answers expected are `share` of the rate of the last `span` seconds times the time left.
    scale() is what the risk threshold is multiplied by: 1 while the rest of the hour may abandon
    at the pace expected (the target, or the last `span` seconds' abandon rate if higher),
    falling with the square of the rate it may still afford over that pace, and a thousandth
    (lines with next to no risk only) once the budget is spent."""

    def __init__(self, *, reserve: float = 1.0, share: float = 0.8, span: float = 600.0):
        self.reserve = reserve
        self.share = share
        self.span = span
        self.hour = None
        self.answers = 0
        self.abandons = 0
        self._times: deque = deque()   # (time, abandoned) over the last `span` seconds
        self._dropped = 0
        self._first = None

    def add(self, now: float, abandoned: bool) -> None:
        self._roll(now)
        self.answers += 1
        self.abandons += abandoned
        self._times.append((now, abandoned))
        self._dropped += abandoned
        if self._first is None:
            self._first = now

    def _roll(self, now: float) -> None:
        hour = int(now // 3600.0)
        if hour != self.hour:
            self.hour, self.answers, self.abandons = hour, 0, 0
        while self._times and self._times[0][0] < now - self.span:
            self._dropped -= self._times.popleft()[1]

    def scale(self, now: float, cap: float, target: float) -> float:
        self._roll(now)
        if self._first is None or target <= 0:
            return 1.0
        seen = min(self.span, max(60.0, now - self._first))
        left = (self.hour + 1) * 3600.0 - now
        coming = self.share * len(self._times) / seen * left
        spare = cap * (self.answers + coming) - self.abandons - self.reserve
        if spare <= 0:
            return 1e-3
        pace = max(target, self._dropped / len(self._times)) if self._times else target
        return max(1e-3, min(1.0, spare / max(1.0, coming) / pace) ** 2)
