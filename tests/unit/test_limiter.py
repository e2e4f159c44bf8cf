"""AdaptiveLimit's dynamics in virtual time: a discrete-event client (window, timeouts, retries with
backoff, Retry-After pauses, as core.py drives it) against three server models. Deterministic and fast;
the real-HTTP figures are bench/gateway.py's."""

from __future__ import annotations

import heapq
import itertools
import math
import random

from anka_assets.gateway.limiter import AdaptiveLimit


class Uniform:
    """Unlimited parallelism; latency U(a, b)."""

    def __init__(self, a: float, b: float, seed: int) -> None:
        self.a, self.b, self.rng = a, b, random.Random(seed)

    def send(self, t: float):
        return "ok", t + self.rng.uniform(self.a, self.b), None


class Queue:
    """Serves k at a time (FIFO, each ``service`` s); timed-out requests still take their slot."""

    def __init__(self, k: int, service: float) -> None:
        self.free, self.service = [0.0] * k, service

    def send(self, t: float):
        start = max(t, heapq.heappop(self.free))
        heapq.heappush(self.free, start + self.service)
        return "ok", start + self.service, None


class RateLimited:
    """429 with Retry-After above r requests per second (token bucket, one second of burst)."""

    def __init__(self, r: float, latency: float = 0.2) -> None:
        self.r, self.tokens, self.at, self.latency = r, r, 0.0, latency

    def send(self, t: float):
        self.tokens, self.at = min(self.r, self.tokens + (t - self.at) * self.r), t
        if self.tokens >= 1:
            self.tokens -= 1
            return "ok", t + self.latency, None
        return "busy", t + 0.003, (1 - self.tokens) / self.r


def simulate(server, n: int, timeout: float, retries: int, limit: AdaptiveLimit, seed: int = 0) -> dict:
    rng, order, now = random.Random(seed), itertools.count(), 0.0
    limit.clock = lambda: now
    events: list = []
    ready, attempts = list(range(n)), [0] * n
    inflight, paused, ok, failed, sent = 0, 0.0, 0, 0, 0

    def dispatch() -> None:
        nonlocal inflight, sent
        while ready and inflight < limit.window and now >= paused:
            i = ready.pop(0)
            attempts[i] += 1
            inflight += 1
            sent += 1
            outcome, done, retry_after = server.send(now)
            if done - now > timeout:
                outcome, done = "timeout", now + timeout
            heapq.heappush(events, (done, next(order), "end", i, outcome, now, retry_after))

    dispatch()
    while events:
        now, _, kind, i, outcome, sent_at, retry_after = heapq.heappop(events)
        if kind == "retry":
            ready.append(i)
        elif kind == "end":
            before, inflight = inflight, inflight - 1
            if outcome == "ok":
                limit.on_success(now - sent_at, before)
                ok += 1
            else:
                if retry_after:
                    paused = max(paused, now + retry_after)
                    heapq.heappush(events, (paused, next(order), "wake", i, None, 0.0, None))
                limit.on_overload(outcome)
                budget = 4 * (retries + 1) - 1 if retry_after else retries
                if attempts[i] > budget:
                    failed += 1
                else:
                    delay = retry_after + rng.random() * 0.5 if retry_after else rng.random() * 0.5 * 2 ** (attempts[i] - 1)
                    heapq.heappush(events, (now + delay, next(order), "retry", i, None, 0.0, None))
        dispatch()
    return {"throughput": ok / now, "failed": failed, "sent": sent}


def gateway_limit(c: int, timeout: float) -> AdaptiveLimit:
    """As core.py builds it."""
    return AdaptiveLimit(max_limit=c, initial=max(1, c // 2), latency_budget_s=timeout / 2)


def fixed_limit(c: int) -> AdaptiveLimit:
    return AdaptiveLimit(max_limit=c, initial=c, tolerance=math.inf, timeout_factor=1.0, overload_factor=1.0)


def test_queueing_server_is_served_at_capacity_without_timeouts_where_a_fixed_window_loses_rows():
    adaptive = simulate(Queue(4, 0.25), 480, 2.5, 3, gateway_limit(64, 2.5))
    assert adaptive["failed"] == 0 and adaptive["throughput"] >= 0.9 * 16
    assert adaptive["sent"] <= 480 + 5  # (almost) no attempt timed out
    fixed = simulate(Queue(4, 0.25), 480, 2.5, 3, fixed_limit(64))
    assert fixed["failed"] > 100


def test_parallel_server_gets_the_whole_window_after_the_first_answers():
    full = [simulate(Uniform(0.5, 3.5, s), 1280, 60, 5, fixed_limit(64), s)["throughput"] for s in range(3)]
    adaptive = [simulate(Uniform(0.5, 3.5, s), 1280, 60, 5, gateway_limit(64, 60), s)["throughput"] for s in range(3)]
    # Starting at half the window costs at most the first round trip: within 2% of a full fixed window.
    assert sum(adaptive) / sum(full) >= 0.98


def test_rate_limited_server_is_used_at_its_rate_without_failed_rows():
    result = simulate(RateLimited(20), 600, 60, 5, gateway_limit(64, 60))
    assert result["failed"] == 0 and result["throughput"] >= 0.9 * 20


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_slow_start_jumps_to_the_littles_law_bound_and_no_further():
    clock = Clock()
    lim = AdaptiveLimit(max_limit=64, initial=32, clock=clock, latency_budget_s=30)
    clock.t = 0.5
    lim.on_success(0.5, inflight=32)  # 1 answer in 0.5 s: 2/s * 30 s = 60
    assert lim.window == 60 and lim.slow_start
    clock.t = 0.6
    lim.on_success(0.6, inflight=60)
    assert lim.window == 64  # never above the maximum
    queue = AdaptiveLimit(max_limit=64, initial=32, clock=clock, latency_budget_s=1.25)
    clock.t = 10.25
    for _ in range(4):  # a server answering 4 at a time every 0.25 s: 16/s * 1.25 s = 20 < 32
        queue.on_success(0.25, inflight=32)
    assert queue.window == 32  # the bound stops growth; it does not shrink the window by itself


def test_congestion_avoidance_growth_stops_at_the_bound():
    clock = Clock()
    lim = AdaptiveLimit(max_limit=64, initial=10, clock=clock, latency_budget_s=1.0, warmup=1000)
    lim.on_overload("busy")  # leave slow start: 9
    assert not lim.slow_start and lim.window == 9
    for step in range(200):  # 10 answers per second, each 0.9 s: bound 10 * 1.0 = 10
        clock.t = 1.0 + step * 0.1
        lim.on_success(0.9, inflight=lim.window)
    assert lim.window == 10
