"""Value types of the model gateway: requests, results, run statistics, errors. Pure."""

from __future__ import annotations

import dataclasses

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

__all__ = [
    "SENSITIVITIES",
    "CallLedger",
    "normalise_sensitivity",
    "ModelRequest",
    "ModelResult",
    "GatewayRunStats",
    "BackendUnavailable",
    "ProbeFailed",
    "Completion",
    "CallError",
    "scrub",
    "percentile",
]

#: Seed sensitivity labels, least to most restricted.
SENSITIVITIES = ("public", "internal", "confidential")


def normalise_sensitivity(value: str | None) -> str:
    """``public`` / ``internal`` / ``confidential``; a missing or unknown label is ``confidential``."""
    if value is None:
        return "confidential"
    label = str(value).strip().lower()
    return label if label in SENSITIVITIES else "confidential"


def _normalise_messages(messages: Any) -> tuple[dict[str, Any], ...]:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise TypeError("ModelRequest.messages must be a list or tuple of {'role', 'content'} mappings")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TypeError(f"ModelRequest.messages[{i}] is {type(message).__name__}, not a mapping")
        if "role" not in message or "content" not in message:
            raise ValueError(f"ModelRequest.messages[{i}] needs 'role' and 'content'")
        out.append(dict(message))
    if not out:
        raise ValueError("ModelRequest.messages is empty")
    return tuple(out)


@dataclass(frozen=True)
class ModelRequest:
    """One chat completion to obtain. ``messages`` may be given as a list; it is stored as a tuple of dicts."""

    messages: tuple[Mapping[str, Any], ...]
    params: Mapping[str, Any]
    template_version: str
    seed_id: str | None = None
    #: ``public`` | ``internal`` | ``confidential``; ``None`` or unknown is treated as ``confidential``.
    sensitivity: str | None = None
    #: n samples of one prompt are distinct cache entries.
    sample_index: int = 0
    #: a re-ask after malformed output is a distinct cache entry.
    repair_attempt: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", _normalise_messages(self.messages))
        params = dict(self.params or {})
        for reserved in ("model", "messages", "stream", "n"):
            if reserved in params:
                raise ValueError(
                    f"ModelRequest.params may not set {reserved!r}: the gateway sets it "
                    "(one completion per request; use sample_index for n samples)"
                )
        object.__setattr__(self, "params", params)
        if not isinstance(self.template_version, str) or not self.template_version:
            raise ValueError("ModelRequest.template_version must be a non-empty string")
        if int(self.sample_index) < 0 or int(self.repair_attempt) < 0:
            raise ValueError("ModelRequest.sample_index and repair_attempt must be >= 0")
        # Fail at construction, not half-way through a batch, if something cannot be hashed.
        try:
            json.dumps([self.messages, params], allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"ModelRequest messages/params must be JSON-serialisable: {exc}") from None

    @property
    def normalised_sensitivity(self) -> str:
        return normalise_sensitivity(self.sensitivity)


@dataclass(frozen=True)
class ModelResult:
    """What became of one request. Never ``None``: a refusal or a failure is a result too."""

    key: str  #: cache key (sha256 hex)
    status: str  #: "ok" | "blocked_kvkk" | "failed"
    text: str | None
    finish_reason: str | None
    model: str | None  #: model name the server reported
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cost: float
    cached: bool
    attempts: int
    error: str | None  #: why blocked / why failed (no secrets)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    # Named constructors: every way a request ends, in one place.
    @classmethod
    def blocked(cls, key: str, reason: str) -> "ModelResult":
        """Refused by the KVKK guard before any I/O."""
        return cls(key=key, status="blocked_kvkk", text=None, finish_reason=None, model=None, prompt_tokens=0,
                   completion_tokens=0, latency_s=0.0, cost=0.0, cached=False, attempts=0, error=reason)

    @classmethod
    def from_cache(cls, key: str, hit: Any) -> "ModelResult":
        """Served from the response cache (`store.CachedResponse`): no request made."""
        return cls(key=key, status="ok", text=hit.text, finish_reason=hit.finish_reason, model=hit.model,
                   prompt_tokens=hit.prompt_tokens, completion_tokens=hit.completion_tokens,
                   latency_s=hit.latency_s, cost=hit.cost, cached=True, attempts=0, error=None)

    @classmethod
    def answered(cls, key: str, completion: Any, latency_s: float, cost: float, attempts: int) -> "ModelResult":
        """A server's answer (`backends.Completion`) to a request sent now."""
        return cls(key=key, status="ok", text=completion.text, finish_reason=completion.finish_reason,
                   model=completion.model, prompt_tokens=completion.prompt_tokens,
                   completion_tokens=completion.completion_tokens, latency_s=latency_s, cost=cost,
                   cached=False, attempts=attempts, error=None)

    @classmethod
    def failed(cls, key: str, error: str, latency_s: float, attempts: int) -> "ModelResult":
        """Sent, retried, and still no usable answer; `error` is already scrubbed."""
        return cls(key=key, status="failed", text=None, finish_reason=None, model=None, prompt_tokens=0,
                   completion_tokens=0, latency_s=latency_s, cost=0.0, cached=False, attempts=attempts, error=error)

    def for_duplicate(self, key: str) -> "ModelResult":
        """The same answer for an identical request of the same run (one call made, counted once)."""
        return dataclasses.replace(self, key=key, cached=self.status == "ok", attempts=0)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100]); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


@dataclass
class GatewayRunStats:
    """Totals of one ``ModelGateway.run`` call. Tokens, cost and latency count calls actually made."""

    requests: int = 0
    sent: int = 0
    cache_hits: int = 0
    blocked: int = 0
    failed: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_p50_s: float = 0.0
    latency_p95_s: float = 0.0
    #: time to first byte (response headers) of answered calls
    ttfb_p50_s: float = 0.0
    ttfb_p95_s: float = 0.0
    timeouts: int = 0
    overloaded: int = 0  #: 429 / 503 answers
    window_final: int = 0  #: adaptive concurrency window at the end (summed over replicas)
    wall_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The totals of a run that add up across runs (percentiles do not: they come from the samples).
ADDITIVE_STATS = ("requests", "sent", "cache_hits", "blocked", "failed", "retries", "prompt_tokens",
                  "completion_tokens", "cost", "timeouts", "overloaded", "wall_s")


@dataclass
class CallLedger(GatewayRunStats):
    """What one gateway did for one (asset, partition) over all its ``run`` calls (first asks, re-asks):
    the gateway's own totals, which the assets show as they are instead of counting results again."""

    #: latency of every answered call sent (for percentiles)
    latencies: list[float] = field(default_factory=list)

    def add(self, stats: GatewayRunStats, latencies: Sequence[float]) -> None:
        for name in ADDITIVE_STATS:
            setattr(self, name, getattr(self, name) + getattr(stats, name))
        self.latencies.extend(latencies)

    def __add__(self, other: "CallLedger") -> "CallLedger":
        out = CallLedger()
        for part in (self, other):
            out.add(part, part.latencies)
        return out


class BackendUnavailable(RuntimeError):
    """The configured backend cannot run here (missing extra, no GPU, ...). Raised before any request."""


@dataclass(frozen=True)
class Completion:
    """A successful answer from a backend."""

    text: str
    finish_reason: str | None
    model: str | None
    prompt_tokens: int
    completion_tokens: int
    #: seconds until the response headers arrived (the server started answering); None if not measured
    ttfb_s: float | None = None


class ProbeFailed(RuntimeError):
    """The start-of-run probe found a mistake that would fail every call (wrong URL, model, key, host)."""


@dataclass
class CallError(Exception):
    """A failed attempt. ``retryable`` decides whether the gateway tries again."""

    message: str
    status: int | None = None
    kind: str = "http"  #: http | timeout | connection | protocol | internal
    retryable: bool = False
    retry_after_s: float | None = field(default=None)
    #: the URL tried (no credentials, no query)
    url: str | None = field(default=None)

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        if self.status is not None:
            what = f"HTTP {self.status}"
        else:
            what = {"timeout": "timeout", "connection": "connection error"}.get(self.kind, self.kind + " error")
        return f"{what} from {self.url}" if self.url else what


def scrub(text: str | None, secrets: Sequence[str | None]) -> str | None:
    """Replace every occurrence of every (non-trivial) secret with ``***``."""
    if text is None:
        return None
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
