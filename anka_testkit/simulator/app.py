"""The simulator's OpenAI-compatible Starlette app and the state it shares with its controller."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from anka_testkit.simulator.content import MODEL_PREFIX, NO_JSON_COT, generate_completion
from anka_testkit.simulator.faults import OUTCOMES, FaultConfig

SYSTEM_FINGERPRINT = "anka-simulator"
#: Model ids listed by ``GET /v1/models`` besides every model id requested so far. Any id is accepted.
DEFAULT_MODELS: tuple[str, ...] = ("anka-sim-teacher", "anka-sim-judge", "anka-sim-student")


class SimulatorState:
    """Fault config, fault RNG, counters and the request log; shared by the app and its controller."""

    def __init__(self, faults: FaultConfig | None = None, models: Sequence[str] = DEFAULT_MODELS) -> None:
        self._lock = threading.Lock()
        self._faults = faults or FaultConfig()
        self._rng = random.Random(self._faults.seed)
        self._models: list[str] = list(dict.fromkeys(models))
        self._stats = self._empty_stats()
        self._received: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancel: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._slots_k = 0
        self._tokens = 0.0
        self._tokens_at = 0.0

    def slots(self) -> asyncio.Semaphore | None:
        """The semaphore of ``max_concurrent`` (event loop side); None when unlimited."""
        k = self._faults.max_concurrent
        if k <= 0:
            return None
        if self._slots is None or self._slots_k != k:
            self._slots, self._slots_k = asyncio.Semaphore(k), k
        return self._slots

    def take_token(self) -> float:
        """Rate limit (token bucket, one second of burst): 0.0 if admitted, else seconds until a token."""
        rate = self._faults.rate_limit
        if rate <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            if self._tokens_at == 0.0:
                self._tokens, self._tokens_at = max(1.0, rate), now
            self._tokens = min(max(1.0, rate), self._tokens + (now - self._tokens_at) * rate)
            self._tokens_at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / rate

    @staticmethod
    def _empty_stats() -> dict[str, int]:
        return {"total": 0, **{k: 0 for k in OUTCOMES}}

    # -- controller side (any thread) --
    @property
    def faults(self) -> FaultConfig:
        return self._faults

    def set_faults(self, faults: FaultConfig) -> None:
        """Replace the fault config and re-seed the fault RNG from ``faults.seed``."""
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    def reset(self) -> None:
        """Clear counters and the request log and re-seed the fault RNG (the fault config stays)."""
        with self._lock:
            self._stats = self._empty_stats()
            self._received = []
            self._rng = random.Random(self._faults.seed)
            self._tokens_at = 0.0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._stats)

    def received(self) -> list[Any]:
        with self._lock:
            return list(self._received)

    def models(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def cancel_pending(self) -> None:
        """Wake every request sleeping in latency/hang so a shutdown does not wait for them."""
        loop, event = self._loop, self._cancel
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    # -- server side (event loop) --
    def attach(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._cancel = asyncio.Event()

    def detach(self) -> None:
        self._loop = None
        self._cancel = None

    def record(self, body: Any) -> tuple[float, str]:
        """Log a request and draw its fault; returns ``(latency, outcome)``."""
        with self._lock:
            self._stats["total"] += 1
            self._received.append(body)
            model = body.get("model") if isinstance(body, dict) else None
            if isinstance(model, str) and model and model not in self._models:
                self._models.append(model)
            return self._faults.draw(self._rng)

    def count(self, outcome: str) -> None:
        with self._lock:
            self._stats[outcome] += 1

    def record_limited(self, body: Any) -> None:
        with self._lock:
            self._stats["total"] += 1
            self._stats["429"] += 1
            self._received.append(body)

    def record_refused(self, body: Any) -> None:
        with self._lock:
            self._stats["total"] += 1
            self._stats["400"] += 1
            self._received.append(body)

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False when cut short by :meth:`cancel_pending`."""
        if seconds <= 0:
            return not (self._cancel is not None and self._cancel.is_set())
        event = self._cancel
        if event is None:
            await asyncio.sleep(seconds)
            return True
        try:
            await asyncio.wait_for(event.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return True
        return False


def _error(status: int, message: str, etype: str, code: str | None, headers: dict[str, str] | None = None):
    payload = {"error": {"message": message, "type": etype, "param": None, "code": code}}
    return JSONResponse(payload, status_code=status, headers=headers)


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def create_app(state: SimulatorState) -> Starlette:
    """The Starlette app of the simulator, bound to ``state``."""
    counter = iter(range(1, 1 << 62))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette):
        state.attach()
        try:
            yield
        finally:
            state.detach()

    async def list_models(_request: Request) -> JSONResponse:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "anka-simulator"} for m in state.models()]
        # The simulator answers for any model name: say so, so a client's probe does not reject it.
        return JSONResponse({"object": "list", "data": data, "accepts_any_model": True})

    async def chat_completions(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            state.record_refused({"_invalid_json": raw[:2000].decode("utf-8", "replace")})
            return _error(400, "Request body is not valid JSON.", "invalid_request_error", "invalid_json")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            state.record_refused(body)
            return _error(400, "'messages' must be a non-empty list.", "invalid_request_error", "invalid_messages")
        if body.get("stream"):
            state.record_refused(body)
            return _error(
                400,
                "stream=true is not supported by the ANKA simulator; send stream=false.",
                "invalid_request_error",
                "stream_unsupported",
            )
        wait = state.take_token()
        if wait > 0:
            state.record_limited(body)
            return _error(
                429,
                f"Rate limit of {state.faults.rate_limit:g} requests per second reached (simulated by ANKA "
                f"simulator). Please retry after {wait:.3f} seconds.",
                "rate_limit_error",
                "rate_limit_exceeded",
                headers={"Retry-After": str(max(1, math.ceil(wait))), "retry-after-ms": str(math.ceil(wait * 1000)),
                         "x-anka-sim-outcome": "429"},
            )
        latency, outcome = state.record(body)
        faults = state.faults
        state.count(outcome)
        if faults.ignore_response_format:
            body = {k: v for k, v in body.items() if k != "response_format"}
            body[NO_JSON_COT] = True
        slots = state.slots()
        if slots is None:
            slept = await state.sleep(latency)
        else:
            async with slots:  # queued here, like a server that serves k requests at a time
                slept = await state.sleep(latency)
        if not slept:
            return _error(503, "Simulator is shutting down.", "server_error", "shutting_down")
        if outcome == "429":
            ra = _format_seconds(faults.retry_after)
            return _error(
                429,
                "Rate limit reached (simulated by ANKA simulator). Please retry after "
                f"{ra} seconds.",
                "rate_limit_error",
                "rate_limit_exceeded",
                headers={"Retry-After": ra, "x-anka-sim-outcome": outcome},
            )
        if outcome == "500":
            return _error(
                500,
                "The server had an error while processing your request (simulated by ANKA simulator).",
                "server_error",
                "internal_error",
                headers={"x-anka-sim-outcome": outcome},
            )
        if outcome == "hang" and not await state.sleep(faults.hang_seconds):
            return _error(503, "Simulator is shutting down.", "server_error", "shutting_down")
        content, finish_reason, usage, digest = generate_completion(body, outcome)
        model = str(body.get("model") or "default")
        payload = {
            "id": f"chatcmpl-sim-{next(counter)}-{digest[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL_PREFIX + model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage,
        }
        return JSONResponse(payload, headers={"x-anka-sim-outcome": outcome})

    async def sim_stats(_request: Request) -> JSONResponse:
        return JSONResponse(state.stats())

    async def sim_requests(_request: Request) -> JSONResponse:
        data = state.received()
        return JSONResponse({"count": len(data), "data": data})

    async def sim_reset(_request: Request) -> JSONResponse:
        state.reset()
        return JSONResponse({"status": "ok"})

    async def sim_faults(request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                state.set_faults(FaultConfig.from_dict(await request.json()))
            except (ValueError, TypeError) as exc:
                return _error(400, f"Invalid fault config: {exc}", "invalid_request_error", "invalid_faults")
        return JSONResponse(state.faults.to_dict())

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "simulator": SYSTEM_FINGERPRINT})

    routes = [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/_sim/stats", sim_stats, methods=["GET"]),
        Route("/_sim/requests", sim_requests, methods=["GET"]),
        Route("/_sim/reset", sim_reset, methods=["POST"]),
        Route("/_sim/faults", sim_faults, methods=["GET", "POST"]),
        Route("/_sim/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
