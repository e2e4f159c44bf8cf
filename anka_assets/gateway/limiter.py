"""Adaptive concurrency (AIMD) and replica choice. Pure logic plus an asyncio wait; no I/O.

:class:`AdaptiveLimit` keeps a window of requests in flight between 1 and the configured maximum, as TCP
and Netflix's concurrency-limits do: it grows while answers come back at their usual speed (slow start
until the first sign of overload; then +1 per window), and shrinks multiplicatively on

* a timeout (x ``timeout_factor``, 0.5): the server is queueing requests it cannot serve in time;
* 429 or 503 (x ``overload_factor``, 0.9): the server says it is full or rate-limited;
* latency: the smoothed latency exceeds ``tolerance`` times the best smoothed latency seen, a sign that
  requests now wait in the server's queue, or one answer took more than half the timeout, a sign that
  the next ones will time out (x ``overload_factor``).

Growth is bounded by Little's law when a latency budget is known: a window of W requests served at the
measured throughput X (answers per second) waits W / X, so the window never grows past
``latency_budget_s * X``. In slow start it jumps straight to that bound (or the maximum), so a server
that answers many requests in parallel gets the whole window after its first answers, while one that
queues (its throughput stays flat as the window grows) does not get a window whose last request would
time out. Without a budget, slow start grows +1 per answer (doubling per round trip).

At most one decrease per "round trip" (the current smoothed latency), so a burst of 429s from one
window counts once. :class:`ReplicaPool` holds one window per replica of the same model, sends each
request to the replica with the least outstanding work, takes a failing replica out and lets one
request probe it back in after a cool-down that doubles while it keeps failing.
"""

from __future__ import annotations

import asyncio
import collections
import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Generic, Sequence, TypeVar

__all__ = ["AdaptiveLimit", "Replica", "ReplicaPool"]

T = TypeVar("T")


@dataclass
class AdaptiveLimit:
    """The AIMD window of one server. Call :meth:`on_success` / :meth:`on_overload` as answers arrive."""

    max_limit: int
    initial: int | None = None
    min_limit: int = 1
    tolerance: float = 2.0
    #: slow start ends when the smoothed latency passes this multiple of the best (queueing has begun)
    slow_start_exit: float = math.inf
    timeout_factor: float = 0.5
    overload_factor: float = 0.9
    warmup: int = 20
    #: an answer slower than this (half the call timeout) shrinks the window before calls start timing out
    latency_budget_s: float = math.inf
    alpha: float = 0.1
    clock: Callable[[], float] = time.monotonic
    limit: float = field(init=False)
    slow_start: bool = field(init=False, default=True)
    smoothed_s: float | None = field(init=False, default=None)
    baseline_s: float | None = field(init=False, default=None)
    samples: int = field(init=False, default=0)
    decreases: int = field(init=False, default=0)
    _last_decrease: float = field(init=False, default=-math.inf)
    #: completion times of recent answers (throughput) and the earliest send time seen
    _done: collections.deque = field(init=False, default_factory=collections.deque)
    _first_send: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.max_limit < 1:
            raise ValueError("max_limit must be >= 1")
        start = self.max_limit if self.initial is None else self.initial
        self.limit = float(min(self.max_limit, max(self.min_limit, start)))

    @property
    def window(self) -> int:
        """Requests allowed in flight now."""
        return max(self.min_limit, min(self.max_limit, int(self.limit)))

    def throughput(self) -> float:
        """Answers per second over the last few round trips (since the first request, early on)."""
        now = self.clock()
        horizon = max(1.0, 4.0 * (self.smoothed_s or 0.0))
        while self._done and self._done[0] <= now - horizon:
            self._done.popleft()
        first = self._first_send if self._first_send is not None else now
        span = min(horizon, now - first)
        return len(self._done) / span if span > 0 else 0.0

    def growth_cap(self) -> float:
        """The largest window whose queueing stays within ``latency_budget_s`` (Little's law: W = X * T)."""
        if math.isinf(self.latency_budget_s):
            return math.inf
        return self.latency_budget_s * self.throughput()

    def on_success(self, latency_s: float, inflight: int) -> None:
        """An answer arrived after ``latency_s``; ``inflight`` counts it (requests in flight before it ended)."""
        now = self.clock()
        sent = now - latency_s
        self._first_send = sent if self._first_send is None else min(self._first_send, sent)
        self._done.append(now)
        self.samples += 1
        a = self.alpha
        self.smoothed_s = latency_s if self.smoothed_s is None else (1 - a) * self.smoothed_s + a * latency_s
        if latency_s > self.latency_budget_s:
            self._decrease(self.overload_factor)
            return
        # The first answers of a run are its quickest ones (slow ones have not come back yet): judge
        # latency only once two windows of answers have arrived.
        if self.samples >= max(self.warmup, 2 * self.window):
            self.baseline_s = self.smoothed_s if self.baseline_s is None else min(self.baseline_s, self.smoothed_s)
            if self.smoothed_s > self.tolerance * self.baseline_s:
                self._decrease(self.overload_factor)
                return
            if self.smoothed_s > self.slow_start_exit * self.baseline_s:
                self.slow_start = False
        if inflight < self.window:  # not using the window: growing it would measure nothing
            return
        bound = self.growth_cap()
        cap = min(float(self.max_limit), bound)
        if self.slow_start:
            grown = self.limit + 1.0 if math.isinf(bound) else cap
        else:
            grown = min(cap, self.limit + 1.0 / self.limit)
        self.limit = max(self.limit, min(float(self.max_limit), grown))

    def on_overload(self, kind: str) -> None:
        """``kind``: ``timeout`` or ``busy`` (429/503)."""
        self._decrease(self.timeout_factor if kind == "timeout" else self.overload_factor)

    def _decrease(self, factor: float) -> None:
        now = self.clock()
        rtt = self.smoothed_s or 0.0
        self.slow_start = False
        if now - self._last_decrease < rtt:
            return
        self._last_decrease = now
        self.decreases += 1
        self.limit = max(float(self.min_limit), self.limit * factor)


@dataclass
class Replica(Generic[T]):
    """One server of a pool: its client, window, requests in flight and health."""

    name: str
    client: T
    limit: AdaptiveLimit
    inflight: int = 0
    healthy: bool = True
    failures: int = 0
    down_until: float = 0.0
    cooldown_s: float = 0.0
    probing: bool = False
    served: int = 0
    paused_until: float = 0.0  #: a Retry-After holds every request to this replica until then

    @property
    def load(self) -> float:
        return self.inflight / self.limit.window


class ReplicaPool(Generic[T]):
    """Replicas of one model; :meth:`acquire` waits for a free slot on the least loaded healthy one."""

    def __init__(
        self,
        replicas: Sequence[Replica[T]],
        *,
        eject_after: int = 3,
        cooldown_s: float = 1.0,
        max_cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not replicas:
            raise ValueError("a replica pool needs at least one replica")
        self.replicas = list(replicas)
        self.eject_after = eject_after
        self.base_cooldown_s = cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self.clock = clock
        self.rng = rng or random.Random()
        self._changed = asyncio.Condition()
        self.events: list[str] = []

    def _eligible(self, replica: Replica[T], now: float) -> bool:
        if now < replica.paused_until:
            return False
        if replica.healthy:
            return replica.inflight < replica.limit.window
        # Out of the pool: after the cool-down, one request at a time probes it.
        return now >= replica.down_until and not replica.probing and replica.inflight == 0

    def pick(self) -> Replica[T] | None:
        """The eligible replica with the least outstanding work (ties at random), or None. Pure but for rng."""
        now = self.clock()
        candidates = [r for r in self.replicas if self._eligible(r, now)]
        if not candidates:
            return None
        due = [r for r in candidates if not r.healthy]
        if due:  # a replica out of the pool whose cool-down is over: probe it now
            return due[0]
        low = min(r.load for r in candidates)
        best = [r for r in candidates if r.load == low]
        return best[0] if len(best) == 1 else self.rng.choice(best)

    def _free_slots(self) -> int:
        now = self.clock()
        return sum(
            (r.limit.window - r.inflight) if r.healthy else 1
            for r in self.replicas
            if self._eligible(r, now)
        )

    def _wake(self) -> None:
        """Wake as many waiters as there are free slots (not all of them: thousands may be waiting)."""
        free = self._free_slots()
        if free > 0:
            self._changed.notify(free)

    def _wake_later(self, delay: float) -> None:
        async def kick() -> None:
            async with self._changed:
                self._wake()

        loop = asyncio.get_running_loop()
        loop.call_later(max(0.0, delay) + 0.001, lambda: loop.create_task(kick()))

    async def acquire(self) -> Replica[T]:
        async with self._changed:
            while True:
                replica = self.pick()
                if replica is not None:
                    replica.inflight += 1
                    if not replica.healthy:
                        replica.probing = True
                    return replica
                await self._changed.wait()

    async def release(
        self, replica: Replica[T], outcome: str, latency_s: float = 0.0, retry_after_s: float | None = None
    ) -> None:
        """``outcome``: ``ok`` | ``timeout`` | ``busy`` (429/503) | ``down`` (connection error, 5xx) | ``other``.

        A ``busy`` answer with Retry-After pauses the replica for that long: the server said it is full,
        so no other request is sent to it meanwhile (instead of a storm of 429s)."""
        async with self._changed:
            if outcome == "busy" and retry_after_s:
                replica.paused_until = max(replica.paused_until, self.clock() + min(retry_after_s, 60.0))
                self._wake_later(replica.paused_until - self.clock())
            inflight = replica.inflight
            replica.inflight -= 1
            was_probe = replica.probing
            replica.probing = False
            if outcome == "ok":
                replica.served += 1
                replica.failures = 0
                replica.limit.on_success(latency_s, inflight)
                if not replica.healthy:
                    replica.healthy = True
                    replica.cooldown_s = 0.0
                    self.events.append(f"replica {replica.name} is back")
            elif outcome in ("timeout", "busy"):
                replica.limit.on_overload(outcome)
            if outcome == "down" or (was_probe and outcome != "ok"):
                replica.failures += 1
                if replica.failures >= self.eject_after or was_probe or not replica.healthy:
                    self._eject(replica)
            self._wake()

    def _eject(self, replica: Replica[T]) -> None:
        if len(self.replicas) == 1:
            return  # nowhere else to go: retries with backoff handle a single server
        others_up = any(r.healthy for r in self.replicas if r is not replica)
        if not others_up and replica.healthy:
            return  # never take the last healthy replica out
        replica.cooldown_s = min(self.max_cooldown_s, max(self.base_cooldown_s, replica.cooldown_s * 2))
        replica.down_until = self.clock() + replica.cooldown_s
        try:
            self._wake_later(replica.cooldown_s)
        except RuntimeError:  # no running loop (called outside asyncio): nothing waits
            pass
        if replica.healthy:
            self.events.append(f"replica {replica.name} taken out after {replica.failures} failures")
        replica.healthy = False

    def describe(self) -> list[dict[str, object]]:
        return [
            {"replica": r.name, "served": r.served, "window": r.limit.window, "healthy": r.healthy,
             "decreases": r.limit.decreases}
            for r in self.replicas
        ]
