"""Estimators the predictive pacer learns from the dialer's feedback (pure, no I/O).

RingModel      when an unanswered line of a given age answers live, from recent results.
TalkModel      talk time, a lognormal fitted on recent talk times (log-moments).
WrapModel      wrap-up time, empirical over recent wrap-ups.
AbandonControl the risk threshold, steered so the realised abandon rate sits at its target.
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
    next `t` seconds = #live in (age, age+t] / #results after age."""

    def __init__(self, *, window: int = 2000, prior_live: float = 0.35, prior_weight: float = 30.0,
                 prior_ring: tuple[float, float] = (4.0, 20.0), prior_timeout: float = 30.0):
        self.window = window
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

    def add(self, live: bool, ring_seconds: float) -> None:
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

    def answer_rate(self) -> float:
        return sum(self.live) / sum(self.all)

    def table(self, max_age: int, offsets: list[int]) -> list[list[float]]:
        """rows[age][k] = live_by(age, offsets[k]) for ages 0..max_age."""
        cum_live, cum_all = [0.0], [0.0]
        for lv, al in zip(self.live, self.all):
            cum_live.append(cum_live[-1] + lv)
            cum_all.append(cum_all[-1] + al)
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
