"""The model gateway: the one path by which any asset reaches a model.

Order of work in one :meth:`ModelGateway.run` call:

1. check every item's type (a bad one stops the run before any call); open the warehouse in its
   thread (waiting out another process's lock);
2. admit the requests chunk by chunk — the first window's worth first, the rest while those calls are
   in flight: plan (pure: KVKK decision, cache key and payload hash, before the request's own I/O),
   look the allowed ones up in the cache, and append one audit row per request (blocked and cache hits
   complete, sends ``pending``). A request is never sent before its audit row is committed;
3. start the backend with the first call to make (none for an all-cached run);
4. send the rest concurrently (bounded, retried), writing each response to the cache and completing its
   audit row in one transaction as it arrives, so a crash loses nothing that arrived;
5. close the backend and the warehouse, and keep the totals in :attr:`ModelGateway.last_stats`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import math
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence

from anka_assets import warehouse as warehouse_kind
from anka_assets.gateway import store
from anka_assets.gateway.backends import HttpBackend, VllmBackend, check_vllm_available, make_backend
from anka_assets.gateway.endpoint import EndpointSettings, url_for_messages
from anka_assets.gateway.keys import cache_key, payload_sha256, request_body
from anka_assets.gateway.kvkk import KvkkDecision, decide_kvkk
from anka_assets.gateway.progress import ProgressReporter
from anka_assets.gateway.limiter import AdaptiveLimit, Replica, ReplicaPool
from anka_assets.gateway.retry import backoff_delay
from anka_assets.gateway.types import (
    CallError,
    Completion,
    CallLedger,
    GatewayRunStats,
    ModelRequest,
    ModelResult,
    ProbeFailed,
    percentile,
    scrub,
)
from anka_assets.text.pii import redact

__all__ = ["ModelGateway", "PlannedRequest", "check_requests", "plan_requests"]

_LOG = logging.getLogger("anka_assets.gateway")


@dataclass
class PlannedRequest:
    """A request after the pure planning step."""

    index: int
    request: ModelRequest
    key: str
    payload_sha256: str
    sensitivity: str
    kvkk: KvkkDecision
    audit_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def check_requests(requests: Sequence[Any], start: int = 0) -> None:
    """TypeError naming the first item (numbered from ``start``) that is not a :class:`ModelRequest`."""
    for i, request in enumerate(requests, start):
        if not isinstance(request, ModelRequest):
            raise TypeError(f"requests[{i}] is {type(request).__name__}, not ModelRequest")


def plan_requests(
    settings: EndpointSettings, requests: Sequence[ModelRequest], start: int = 0, *, checked: bool = False
) -> list[PlannedRequest]:
    """KVKK decision and hashes for each request (numbered from ``start``). Pure apart from the random audit ids.

    ``checked``: the caller has run :func:`check_requests` on them already."""
    if not checked:
        check_requests(requests, start)
    planned = []
    for i, request in enumerate(requests, start):
        planned.append(
            PlannedRequest(
                index=i,
                request=request,
                key=cache_key(settings.model, request),
                payload_sha256=payload_sha256(settings.model, request),
                sensitivity=request.normalised_sensitivity,
                kvkk=decide_kvkk(settings.locality, request.sensitivity, request.messages, request.params),
            )
        )
    return planned


#: a window learned from a server is trusted for a day; after that the server starts cold again
_WINDOW_MAX_AGE_S = 24 * 3600.0

#: requests planned, looked up and audited together after the first window's worth
_ADMIT_CHUNK = 1024
#: requests planned between two turns of the event loop (~5 ms of hashing and KVKK scanning)
_PLAN_SLICE = 64


def _no_call(status: str, error: str | None, completed: Any) -> dict[str, Any]:
    """The audit outcome of a request that cost no call of its own (a duplicate, or a backend that never started)."""
    return {"status": status, "attempts": 0, "prompt_tokens": 0, "completion_tokens": 0, "latency_s": 0.0,
            "cost": 0.0, "error": error, "completed_at": completed}


@dataclass
class _Batch:
    """Newly admitted calls; none is sent before ``rows_written`` (their audit rows' insert) is done."""

    leaders: list[PlannedRequest]
    rows_written: asyncio.Future

    async def written(self) -> None:
        await asyncio.shield(self.rows_written)  # shielded: one cancelled call must not cancel the insert


@dataclass
class _RunState:
    """What one run has decided so far: a result per request, the calls to make and their duplicates."""

    results: list[ModelResult | None]
    stats: GatewayRunStats
    label: str = ""
    leaders: dict[str, PlannedRequest] = field(default_factory=dict)
    followers: dict[str, list[PlannedRequest]] = field(default_factory=dict)
    writes: list[asyncio.Future] = field(default_factory=list)


class _Warehouse:
    """The DuckDB connection of one run, used from a single worker thread so the event loop never blocks."""

    def __init__(self, path: Path | str, log: logging.Logger) -> None:
        self.path = path
        self.log = log
        self.con: Any = None
        self.lake = warehouse_kind.parse_target(path).is_lake  #: DuckLake: MERGE and conflict retries
        self._queue: list[tuple[list, Any, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="anka-gateway-db")

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Future:
        """Queue ``fn(con, *args)`` on the warehouse's thread now (in order with every later write)."""
        return asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, self.con, *args, **kwargs))

    def open(self) -> asyncio.Future:
        """Open the file and make sure the tables exist, in the warehouse's thread (started now)."""

        def _open() -> None:
            self.con = store.open_warehouse(self.path, log=self.log)
            store.ensure_tables(self.con)

        return asyncio.get_running_loop().run_in_executor(self._executor, _open)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self.submit(fn, *args, **kwargs)

    async def record(self, updates: list[tuple[str, dict[str, Any]]], cache: store.CachedResponse | None = None) -> None:
        """Write one finished request; returns once it is committed.

        Group commit: while one transaction runs in the worker thread, newly finished requests queue up
        and go together in the next one. Under load that is a few rows per commit instead of one
        transaction per row (~4 ms each, which would serialise 64 concurrent calls behind the disk).
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((updates, cache, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        await future

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self.call(store.record_outcomes, [(updates, cache) for updates, cache, _ in batch], lake=self.lake)
            except BaseException as exc:
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for *_, future in batch:
                if not future.done():
                    future.set_result(None)

    def close(self) -> None:
        """Blocking on purpose: queued writes finish and the file is released before ``run`` returns."""
        con, self.con = self.con, None
        if con is not None:
            self._executor.submit(con.close).result()
        self._executor.shutdown(wait=True)


class ModelGateway:
    """Caches, counts, retries, audits and enforces KVKK for every model call of an asset.

    ``run`` is synchronous (it runs :meth:`arun` in an event loop of its own); ``arun`` is the coroutine.
    The warehouse file is opened for the duration of one call only.
    """

    def __init__(
        self, settings: EndpointSettings, db_path: str | os.PathLike, *, log: logging.Logger | None = None
    ) -> None:
        self.settings = settings
        # A DuckDB file, or a DuckLake target (`ducklake:postgres:...`, kept as written: not a path).
        self.db_path: Path | str = db_path if warehouse_kind.parse_target(db_path).is_lake else Path(db_path)
        self.log = log or _LOG
        self.last_stats = GatewayRunStats()
        #: the gateway's own figures per (asset, partition), over every run of this gateway
        self.ledgers: dict[tuple[str, str | None], CallLedger] = {}
        self._ok_latencies: list[float] = []
        self._rng = random.Random()
        self._vllm: VllmBackend | None = None
        #: adaptive concurrency windows per replica URL, kept between runs of this gateway
        self._limits: dict[str, AdaptiveLimit] = {}
        #: replica URLs whose start-of-run probe passed (probed once per gateway)
        self._probed: set[str] = set()
        #: what the gateway learned about the server (e.g. {"response_format": "ignored"}); said once
        self.capabilities: dict[str, str] = {}
        if settings.backend == "vllm":
            check_vllm_available(settings.role)  # BackendUnavailable at once, not after planning

    def __repr__(self) -> str:
        s = self.settings
        return f"ModelGateway(role={s.role!r}, backend={s.backend!r}, model={s.model!r}, endpoint={s.endpoint!r}, locality={s.locality!r})"

    # -- public ------------------------------------------------------------------------------------------

    def run(
        self,
        requests: Sequence[ModelRequest],
        *,
        asset: str,
        partition: str | None,
        run_id: str | None = None,
    ) -> list[ModelResult]:
        """Results in the order of ``requests``; one per request, never ``None``."""
        coro = self.arun(requests, asset=asset, partition=partition, run_id=run_id)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        # Called from inside a running loop (a notebook, an async op): use a loop in another thread.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, coro).result()

    async def arun(
        self,
        requests: Sequence[ModelRequest],
        *,
        asset: str,
        partition: str | None,
        run_id: str | None = None,
    ) -> list[ModelResult]:
        t0 = time.perf_counter()
        requests = list(requests)
        check_requests(requests)  # the whole list: a bad item stops the run before any call, not mid-way
        stats = GatewayRunStats(requests=len(requests))
        self._ok_latencies = []
        self._progress = None
        state = _RunState(results=[None] * len(requests), stats=stats,
                          label=f"{asset} {partition}" if partition else asset)
        if not requests:
            self.last_stats = stats
            return []

        warehouse = _Warehouse(self.db_path, self.log)
        try:
            opening = warehouse.open()  # in the warehouse's thread while the first chunk is planned
            batches = self._admit(requests, state, warehouse, opening, asset=asset, partition=partition, run_id=run_id)
            try:
                await self._send_all(batches, state, warehouse)
            finally:
                await batches.aclose()
            await asyncio.gather(*state.writes)  # every audit row is committed
        finally:
            for write in state.writes:
                if not write.done():
                    write.cancel()
            await asyncio.gather(*state.writes, return_exceptions=True)
            await asyncio.shield(asyncio.to_thread(warehouse.close))

        results = state.results
        stats.failed = sum(1 for r in results if r is not None and r.status == "failed")
        stats.wall_s = time.perf_counter() - t0
        self.last_stats = stats
        self.ledger(asset, partition).add(stats, self._ok_latencies)
        self._log_summary(stats, asset, partition, results)
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:  # pragma: no cover - a bug, never a silent null
            raise RuntimeError(f"gateway produced no result for requests {missing[:10]}")
        return results  # type: ignore[return-value]

    async def _admit(
        self,
        requests: list[ModelRequest],
        state: "_RunState",
        warehouse: "_Warehouse",
        opening: asyncio.Future,
        *,
        asset: str,
        partition: str | None,
        run_id: str | None,
    ) -> AsyncIterator["_Batch"]:
        """Plan, look up, classify and audit the requests chunk by chunk, yielding each chunk's new leaders.

        The first chunk is one window's worth, so the first calls go out after milliseconds whatever the
        run's size; later chunks are planned while earlier ones are in flight.
        """
        settings = self.settings
        first = settings.max_concurrency * max(1, len(settings.base_urls))
        start = 0
        while start < len(requests):
            if start == 0:
                planned = plan_requests(settings, requests[:first], checked=True)
                await opening
            else:  # in slices, yielding between them: the calls in flight must not stall while we hash
                end = min(len(requests), start + max(first, _ADMIT_CHUNK))
                planned = []
                for at in range(start, end, _PLAN_SLICE):
                    await asyncio.sleep(0)
                    planned += plan_requests(settings, requests[at : min(end, at + _PLAN_SLICE)], at, checked=True)
            start += len(planned)
            allowed = [p.key for p in planned if p.kvkk.allowed]
            cached = await warehouse.call(store.lookup_cache, allowed) if allowed else {}
            rows, leaders = self._classify(planned, cached, state, asset=asset, partition=partition, run_id=run_id)
            # Submitted at once, with no await since the classification: the warehouse's one thread
            # writes in order, so no outcome of these requests can be written before their rows.
            written = warehouse.submit(store.insert_audit_rows, rows)
            state.writes.append(written)
            yield _Batch(leaders, written)
            if len(state.writes) == 1:  # the first window goes out before the rest is planned
                await asyncio.shield(written)

    def _classify(
        self,
        planned: list[PlannedRequest],
        cached: dict[str, store.CachedResponse],
        state: "_RunState",
        *,
        asset: str,
        partition: str | None,
        run_id: str | None,
    ) -> tuple[list[store.AuditRow], list[PlannedRequest]]:
        """Each request is blocked, a cache hit, a duplicate of an earlier one, or a new call (a leader)."""
        settings, stats, results = self.settings, state.stats, state.results
        rows: list[store.AuditRow] = []
        leaders: list[PlannedRequest] = []
        now = store.utcnow()

        def audit(p: PlannedRequest, decision: str, reason: str, status: str, **outcome: Any) -> None:
            rows.append(
                store.AuditRow(
                    audit_id=p.audit_id,
                    ts=now,
                    run_id=run_id,
                    asset=asset,
                    partition=partition,
                    seed_id=p.request.seed_id,
                    role=settings.role,
                    endpoint=settings.endpoint,
                    model=settings.model,
                    backend=settings.backend,
                    locality=str(settings.locality),
                    sensitivity=p.sensitivity,
                    decision=decision,
                    reason=reason,
                    payload_sha256=p.payload_sha256,
                    cache_key=p.key,
                    status=status,
                    pii_kinds=",".join(p.kvkk.pii_kinds) or None,
                    **outcome,
                )
            )

        for p in planned:
            if not p.kvkk.allowed:
                stats.blocked += 1
                results[p.index] = ModelResult.blocked(p.key, p.kvkk.reason)
                audit(p, "blocked", p.kvkk.reason, "blocked_kvkk", completed_at=now)
            elif p.key in cached:
                stats.cache_hits += 1
                results[p.index] = ModelResult.from_cache(p.key, cached[p.key])
                hit = cached[p.key]
                audit(p, "cache_hit", f"{p.kvkk.reason}; response found in cache", "ok", completed_at=now,
                      finish_reason=hit.finish_reason, truncated=hit.finish_reason == "length")
            elif p.key in state.leaders:
                stats.cache_hits += 1
                reason = f"{p.kvkk.reason}; same call as an earlier request of this run"
                done = results[state.leaders[p.key].index]
                if done is None:  # completed with its leader
                    state.followers.setdefault(p.key, []).append(p)
                    audit(p, "cache_hit", reason, "pending")
                else:  # the leader was answered (or failed) while this chunk was planned
                    results[p.index] = done.for_duplicate(p.key)
                    audit(p, "cache_hit", reason, done.status, error=done.error, completed_at=now)
            else:
                state.leaders[p.key] = p
                leaders.append(p)
                audit(p, "sent", p.kvkk.reason, "pending")
        return rows, leaders


    def ledger(self, asset: str, partition: str | None) -> CallLedger:
        """What this gateway did so far for `asset` / `partition` (its own figures, for metadata)."""
        return self.ledgers.setdefault((asset, partition), CallLedger())

    def close(self) -> None:
        """Free an in-process model (vLLM) kept loaded between runs. HTTP backends hold nothing."""
        if self._vllm is not None:
            self._vllm.unload()
            self._vllm = None

    def __enter__(self) -> "ModelGateway":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- sending -----------------------------------------------------------------------------------------

    def _backends(self) -> list[HttpBackend] | VllmBackend:
        if self.settings.backend == "vllm":
            if self._vllm is None:
                self._vllm = VllmBackend(self.settings, self.log)
            return self._vllm
        urls = self.settings.base_urls or (None,)
        return [make_backend(self.settings, self.log, url) for url in urls]  # type: ignore[misc]

    def note_capability(self, name: str, value: str, message: str) -> None:
        """Record what the server turned out (not) to support and say it once per gateway."""
        if self.capabilities.get(name) != value:
            self.capabilities[name] = value
            self.log.warning("%s endpoint %s: %s", self.settings.role, self.settings.endpoint, message)

    def _limit(self, url: str, learned: int | None = None) -> AdaptiveLimit:
        """The replica's window: kept for the gateway's life; a new one starts from the window the server
        ended its last run with (``learned``, from the warehouse) or, for a server not seen within a day,
        at half the maximum, so that one answering a request at a time is not flooded at once."""
        limit = self._limits.get(url)
        if limit is None:
            c = self.settings.max_concurrency
            if self.settings.adaptive_concurrency:
                start = max(1, c // 2) if learned is None else min(c, max(1, learned))
                limit = AdaptiveLimit(max_limit=c, initial=start, latency_budget_s=self.settings.timeout_s / 2)
            else:  # a fixed window: never grows, never shrinks
                limit = AdaptiveLimit(max_limit=c, initial=c, tolerance=math.inf, timeout_factor=1.0, overload_factor=1.0)
            self._limits[url] = limit
        return limit

    def _replica_key(self, url: str) -> str:
        return store.replica_key(self.settings.model, url_for_messages(url))

    async def _learned_windows(self, backends: list[HttpBackend], warehouse: "_Warehouse") -> dict[str, int]:
        """Windows stored by earlier runs (any process) for the replicas this gateway has no window for yet."""
        keys = {str(b.base_url): self._replica_key(str(b.base_url)) for b in backends if str(b.base_url) not in self._limits}
        if not keys or not self.settings.adaptive_concurrency:
            return {}
        stored = await warehouse.call(store.load_windows, keys.values(), max_age_s=_WINDOW_MAX_AGE_S)
        learned = {url: stored[key] for url, key in keys.items() if key in stored}
        for url, window in learned.items():
            self.log.info("%s endpoint %s: starting at the %d requests in flight it ended its last run with",
                          self.settings.role, url_for_messages(url), min(window, self.settings.max_concurrency))
        return learned

    async def _save_windows(self, pool: ReplicaPool[HttpBackend], warehouse: "_Warehouse") -> None:
        if not self.settings.adaptive_concurrency:
            return
        rows = [
            (self._replica_key(str(r.client.base_url)), self.settings.model, url_for_messages(str(r.client.base_url)),
             r.limit.window, self.settings.max_concurrency, r.limit.smoothed_s)
            for r in pool.replicas
            if r.limit.samples > 0
        ]
        await warehouse.call(store.save_windows, rows)

    async def _start_pool(self, backends: list[HttpBackend], warehouse: "_Warehouse") -> ReplicaPool[HttpBackend]:
        """Start every replica's client and probe it once per gateway; a replica that fails its probe is
        left out while others work, and the run stops with the probe's one-line reason when none does."""
        learned = await self._learned_windows(backends, warehouse)
        started = await asyncio.gather(*(b.start() for b in backends), return_exceptions=True)
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        problems: dict[int, str] = {}
        to_probe = [(i, b) for i, b in enumerate(backends) if b.base_url not in self._probed]
        probes = await asyncio.gather(*(b.probe() for _, b in to_probe), return_exceptions=True)
        for (i, b), outcome in zip(to_probe, probes):
            if isinstance(outcome, ProbeFailed):
                problems[i] = str(outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                self._probed.add(str(b.base_url))
        if problems and len(problems) == len(backends):
            raise ProbeFailed(problems[min(problems)])
        replicas = [
            Replica(name=url_for_messages(str(b.base_url)), client=b,
                    limit=self._limit(str(b.base_url), learned.get(str(b.base_url))))
            for b in backends
        ]
        pool: ReplicaPool[HttpBackend] = ReplicaPool(replicas, rng=self._rng)
        for i, reason in problems.items():
            self.log.warning("replica left out for now (probed back in later): %s", reason)
            replicas[i].failures = pool.eject_after
            pool._eject(replicas[i])
        return pool

    async def _send_all(self, batches: AsyncIterator["_Batch"], state: "_RunState", warehouse: "_Warehouse") -> None:
        """Send every admitted leader: the backend starts with the first one (none for an all-cached run)."""
        settings = self.settings
        stats, results, followers = state.stats, state.results, state.followers
        latencies: list[float] = []
        self._ttfbs: list[float] = []
        secrets = settings.secrets()

        async def finish(p: PlannedRequest, completion: Completion | None, error: CallError | None, attempts: int, latency: float) -> None:
            completed = store.utcnow()
            stats.sent += 1
            self._progress.answered(failed=completion is None)
            if completion is not None:
                self._ok_latencies.append(latency)
            stats.retries += max(0, attempts - 1)
            latencies.append(latency)
            cache_row = None
            if completion is not None and completion.ttfb_s is not None:
                self._ttfbs.append(completion.ttfb_s)
            if completion is not None:
                cost = settings.cost(completion.prompt_tokens, completion.completion_tokens)
                stats.prompt_tokens += completion.prompt_tokens
                stats.completion_tokens += completion.completion_tokens
                stats.cost += cost
                result = ModelResult.answered(p.key, completion, latency, cost, attempts)
                cache_row = store.CachedResponse(
                    p.key, completion.text, completion.finish_reason, completion.model,
                    completion.prompt_tokens, completion.completion_tokens, latency, cost,
                )
            else:
                assert error is not None
                plural = "attempt" if attempts == 1 else "attempts"
                # Scrubbed of secrets, and of personal data a server might echo back from the prompt.
                message = redact(scrub(f"{error.describe()} after {attempts} {plural}: {error.message}", secrets) or "",
                                 mode="egress")[0]
                result = ModelResult.failed(p.key, message, latency, attempts)
            results[p.index] = result
            updates = [
                (p.audit_id, {
                    "status": result.status, "attempts": attempts, "prompt_tokens": result.prompt_tokens,
                    "completion_tokens": result.completion_tokens, "latency_s": latency, "cost": result.cost,
                    "error": result.error, "completed_at": completed,
                    "finish_reason": result.finish_reason,
                    "truncated": result.finish_reason == "length" if completion is not None else None,
                })
            ]
            for f in followers.pop(p.key, ()):
                results[f.index] = result.for_duplicate(f.key)
                updates.append((f.audit_id, _no_call(result.status, result.error, completed)))
            await warehouse.record(updates, cache_row)

        backend: list[HttpBackend] | VllmBackend | None = None
        pool: ReplicaPool[HttpBackend] | None = None
        tasks: list[asyncio.Future] = []
        send_one: Callable[[PlannedRequest, _Batch], Awaitable[None]] | None = None
        try:
            async for batch in batches:
                if not batch.leaders:
                    continue
                if self._progress is None:
                    self._progress = ProgressReporter(label=state.label, total=0, emit=self.log.info)
                self._progress.total += len(batch.leaders)
                self._progress.cached, self._progress.blocked = stats.cache_hits, stats.blocked
                if backend is None:
                    backend = self._backends()
                    try:
                        if isinstance(backend, VllmBackend):
                            await backend.start()
                        else:
                            pool = await self._start_pool(backend, warehouse)
                    except Exception as exc:
                        await self._fail_unstarted(exc, backend, batches, state, warehouse)
                        raise
                    send_one = None if pool is None else self._sender(pool, finish, stats)
                if isinstance(backend, VllmBackend):
                    await batch.written()
                    await self._send_batches(backend, batch.leaders, finish)
                else:
                    assert send_one is not None
                    tasks.extend(asyncio.ensure_future(send_one(p, batch)) for p in batch.leaders)
            await asyncio.gather(*tasks)
            if pool is not None:
                await self._save_windows(pool, warehouse)
        except BaseException:
            # Only infrastructure failures get here (the warehouse went away, the run was cancelled):
            # stop the other calls before the client and the connection are closed under them.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            if isinstance(backend, VllmBackend):
                await asyncio.shield(backend.aclose())
            elif backend is not None:
                await asyncio.shield(asyncio.gather(*(b.aclose() for b in backend), return_exceptions=True))
            stats.latency_p50_s = percentile(latencies, 50)
            stats.latency_p95_s = percentile(latencies, 95)
            stats.ttfb_p50_s = percentile(self._ttfbs, 50)
            stats.ttfb_p95_s = percentile(self._ttfbs, 95)
            if pool is not None:
                stats.window_final = sum(r.limit.window for r in pool.replicas)

    async def _fail_unstarted(
        self,
        exc: Exception,
        backend: list[HttpBackend] | VllmBackend,
        batches: AsyncIterator["_Batch"],
        state: "_RunState",
        warehouse: "_Warehouse",
    ) -> None:
        """The backend did not start (probe failed, no GPU, ...): every call of the run fails with one reason."""
        secrets = self.settings.secrets()
        if isinstance(exc, ProbeFailed):
            message = scrub(str(exc), secrets)
        else:
            message = scrub(f"backend {self.settings.backend!r} did not start: {type(exc).__name__}: {exc}", secrets)
        if not isinstance(backend, VllmBackend):
            await asyncio.gather(*(b.aclose() for b in backend), return_exceptions=True)
        async for _ in batches:  # admit (and audit) the rest of the run too
            pass
        await asyncio.gather(*state.writes)
        completed = store.utcnow()
        pending = [p for p in state.leaders.values() if state.results[p.index] is None]
        pending += [f for fs in state.followers.values() for f in fs]
        updates = [(p.audit_id, _no_call("failed", message, completed)) for p in pending]
        await warehouse.record(updates)
        self.log.error("%s", message)


    @staticmethod
    def _outcome(error: CallError | None) -> str:
        """How an attempt's result counts for the concurrency window and the replica's health."""
        if error is None:
            return "ok"
        if error.kind == "timeout":
            return "timeout"
        if error.status in (429, 503):
            return "busy"
        if error.kind == "connection" or (error.status is not None and error.status >= 500):
            return "down"
        return "other"

    def _sender(
        self, pool: ReplicaPool[HttpBackend], finish: Callable, stats: GatewayRunStats
    ) -> Callable[[PlannedRequest, "_Batch"], Awaitable[None]]:
        """The coroutine that makes one call, attempt by attempt, once its audit row is written.

        Each attempt takes a slot on the least loaded replica (waiting while every window is full) and
        gives it back before a retry waits, so a retry after a timeout queues behind the shrunken window."""
        settings = self.settings
        log = self.log
        seen_events = len(pool.events)

        async def one(p: PlannedRequest, batch: _Batch) -> None:
            nonlocal seen_events
            await batch.written()
            body = request_body(settings.model, p.request)
            attempts = 0
            completion: Completion | None = None
            error: CallError | None = None
            start = time.perf_counter()
            while True:
                replica = await pool.acquire()
                attempts += 1
                t = time.perf_counter()
                internal = False
                try:
                    completion = await replica.client.complete(body, settings.timeout_s)
                    error = None
                except CallError as exc:
                    error = exc
                except Exception as exc:  # noqa: BLE001 - a bug in one item must not sink the batch
                    error = CallError(scrub(f"{type(exc).__name__}: {exc}", settings.secrets()) or "", kind="internal")
                    internal = True
                outcome = self._outcome(error)
                stats.timeouts += outcome == "timeout"
                stats.overloaded += outcome == "busy"
                await pool.release(replica, outcome, time.perf_counter() - t,
                                   error.retry_after_s if error is not None else None)
                while seen_events < len(pool.events):
                    log.warning("%s endpoint: %s", settings.role, pool.events[seen_events])
                    seen_events += 1
                if error is None or internal or not error.retryable:
                    break
                # A server that says when to come back (429/503 + Retry-After) is rate limiting, not failing:
                # such answers get four times the retry budget.
                polite = outcome == "busy" and error.retry_after_s is not None
                budget = 4 * (settings.max_retries + 1) - 1 if polite else settings.max_retries
                if attempts > budget:
                    break
                delay = backoff_delay(
                    attempts,
                    base_s=settings.backoff_base_s,
                    max_s=settings.backoff_max_s,
                    retry_after_s=error.retry_after_s,
                    rng=self._rng,
                )
                log.debug("retry %d of request %d after %s; waiting %.2f s", attempts, p.index, error.describe(), delay)
                await asyncio.sleep(delay)
            latency = time.perf_counter() - start
            await finish(p, completion, error, attempts, latency)

        return one

    async def _send_batches(self, backend: VllmBackend, leaders: list[PlannedRequest], finish: Callable) -> None:
        """Offline batching: chunks of ``max_concurrency`` prompts, each chunk written as it completes."""
        size = max(1, self.settings.max_concurrency)
        for start in range(0, len(leaders), size):
            chunk = leaders[start : start + size]
            bodies = [request_body(self.settings.model, p.request) for p in chunk]
            t = time.perf_counter()
            outputs = await asyncio.to_thread(backend.generate, bodies)
            latency = time.perf_counter() - t
            for p, out in zip(chunk, outputs):
                if isinstance(out, Completion):
                    await finish(p, out, None, 1, latency)
                else:
                    await finish(p, None, out, 1, latency)

    # -- reporting ---------------------------------------------------------------------------------------

    def _log_summary(self, stats: GatewayRunStats, asset: str, partition: str | None, results: list[ModelResult | None]) -> None:
        s = self.settings
        simulated = " (SIMULATED answers)" if s.is_simulated else ""
        self.log.info(
            "model gateway %s@%s [%s, %s] asset=%s partition=%s: %d requests, %d sent, %d cache hits, "
            "%d blocked (KVKK), %d failed, %d retries, %d+%d tokens, cost %.4f, p50 %.2f s, p95 %.2f s, "
            "wall %.1f s%s",
            s.role, s.endpoint, s.model, s.locality, asset, partition, stats.requests, stats.sent,
            stats.cache_hits, stats.blocked, stats.failed, stats.retries, stats.prompt_tokens,
            stats.completion_tokens, stats.cost, stats.latency_p50_s, stats.latency_p95_s, stats.wall_s, simulated,
        )
        if stats.sent and s.backend != "vllm":
            self.log.info(
                "adaptive concurrency: window %d (max %d per replica), %d timeouts, %d 429/503 answers; "
                "time to first byte p50 %.2f s, p95 %.2f s",
                stats.window_final, s.max_concurrency, stats.timeouts, stats.overloaded, stats.ttfb_p50_s,
                stats.ttfb_p95_s,
            )
        blocked = Counter(r.error for r in results if r is not None and r.status == "blocked_kvkk")
        if blocked:
            self.log.info(
                "KVKK kept %d request(s) away from %s endpoint %s: %s",
                stats.blocked, s.locality, s.endpoint, "; ".join(f"{reason} ({n})" for reason, n in blocked.most_common()),
            )
        failures = [r for r in results if r is not None and r.status == "failed"]
        for r in failures[:5]:
            self.log.warning("model call failed (cache key %s…): %s", r.key[:12], r.error)
        if len(failures) > 5:
            self.log.warning("… and %d more failed model calls", len(failures) - 5)
