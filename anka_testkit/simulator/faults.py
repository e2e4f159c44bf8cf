"""Fault injection settings of the simulator: latency, 429/500, hangs, malformed/truncated output, PII
echoes, a k-slot queue (``max_concurrent``), a request rate limit and ignoring ``response_format``."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Any

#: Outcome keys of :meth:`SimulatorServer.stats` (plus ``"total"``). ``"400"`` counts refused requests
#: (invalid JSON, no messages, ``stream: true``); they draw no fault.
OUTCOMES: tuple[str, ...] = ("ok", "429", "500", "hang", "malformed", "truncated", "pii_echo", "400")


@dataclass(frozen=True)
class Latency:
    """Per-request latency: ``none``, ``fixed`` (``low`` seconds) or ``uniform`` in ``[low, high]``."""

    kind: str = "none"
    low: float = 0.0
    high: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("none", "fixed", "uniform"):
            raise ValueError(f"latency kind must be none, fixed or uniform, not {self.kind!r}")
        if self.low < 0 or self.high < 0:
            raise ValueError("latency must not be negative")
        if self.kind == "uniform" and self.high < self.low:
            raise ValueError("uniform latency needs low <= high")

    @classmethod
    def fixed(cls, seconds: float) -> Latency:
        return cls("fixed", float(seconds), float(seconds))

    @classmethod
    def uniform(cls, low: float, high: float) -> Latency:
        return cls("uniform", float(low), float(high))

    @classmethod
    def parse(cls, spec: str | float | int | tuple | list | Latency | None) -> Latency:
        """Accept ``"fixed:0.2"``, ``"uniform:0.5,3.5"``, ``"none"``, ``0.2``, ``("fixed", 0.2)``,
        ``("uniform", 0.5, 3.5)`` or a :class:`Latency`."""
        if spec is None:
            return cls()
        if isinstance(spec, Latency):
            return spec
        if isinstance(spec, (int, float)):
            return cls.fixed(spec) if spec > 0 else cls()
        if isinstance(spec, (tuple, list)):
            if not spec:
                return cls()
            kind, *params = spec
            if kind == "none":
                return cls()
            if kind == "fixed" and len(params) == 1:
                return cls.fixed(float(params[0]))
            if kind == "uniform" and len(params) == 2:
                return cls.uniform(float(params[0]), float(params[1]))
            raise ValueError(f"bad latency tuple {spec!r}")
        text = str(spec).strip().lower()
        if text in ("", "none", "0", "off"):
            return cls()
        kind, sep, rest = text.partition(":")
        try:
            if not sep:
                return cls.fixed(float(kind))
            if kind == "fixed":
                return cls.fixed(float(rest))
            if kind == "uniform":
                low, high = (float(x) for x in rest.split(","))
                return cls.uniform(low, high)
        except ValueError as exc:
            raise ValueError(f"bad latency spec {spec!r}: {exc}") from None
        raise ValueError(f"bad latency spec {spec!r} (use fixed:S or uniform:LO,HI)")

    def draw(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.low
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high)
        return 0.0

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"fixed:{self.low:g}"
        if self.kind == "uniform":
            return f"uniform:{self.low:g},{self.high:g}"
        return "none"


_RATE_FIELDS = ("rate_429", "rate_500", "rate_hang", "rate_malformed", "rate_truncated", "rate_pii_echo")
_RATE_OUTCOME = {
    "rate_429": "429",
    "rate_500": "500",
    "rate_hang": "hang",
    "rate_malformed": "malformed",
    "rate_truncated": "truncated",
    "rate_pii_echo": "pii_echo",
}


@dataclass(frozen=True)
class FaultConfig:
    """Fault injection settings. Default: no latency, no faults.

    Each request draws its latency, then exactly one outcome from a single uniform number against the
    cumulative rates in the order 429, 500, hang, malformed, truncated, pii_echo (so the rates are
    exclusive fractions and must sum to at most 1); the rest is ``ok``.
    ``latency`` accepts anything :meth:`Latency.parse` does and is normalised to a :class:`Latency`.
    """

    latency: Latency = field(default_factory=Latency)
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_500: float = 0.0
    rate_hang: float = 0.0
    hang_seconds: float = 30.0
    rate_malformed: float = 0.0
    rate_truncated: float = 0.0
    rate_pii_echo: float = 0.0
    seed: int = 0
    #: serve at most this many requests at a time and queue the rest, as ``transformers serve``,
    #: llama.cpp or a saturated vLLM do (0 = no limit); a client that gives up does not free its place
    max_concurrent: int = 0
    #: answer 429 (with Retry-After) to requests above this many per second (0 = no limit)
    rate_limit: float = 0.0
    #: ignore ``response_format`` silently, as ``transformers serve`` does
    ignore_response_format: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "latency", Latency.parse(self.latency))  # type: ignore[arg-type]
        if int(self.max_concurrent) < 0 or float(self.rate_limit) < 0:
            raise ValueError("max_concurrent and rate_limit must not be negative")
        object.__setattr__(self, "max_concurrent", int(self.max_concurrent))
        object.__setattr__(self, "rate_limit", float(self.rate_limit))
        object.__setattr__(self, "ignore_response_format", bool(self.ignore_response_format))
        total = 0.0
        for name in _RATE_FIELDS:
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
            object.__setattr__(self, name, value)
            total += value
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates sum to {total:.3f} > 1")
        if self.retry_after < 0 or self.hang_seconds < 0:
            raise ValueError("retry_after and hang_seconds must not be negative")

    def draw(self, rng: random.Random) -> tuple[float, str]:
        """Draw ``(latency_seconds, outcome)`` for one request."""
        delay = self.latency.draw(rng)
        u = rng.random()
        acc = 0.0
        for name in _RATE_FIELDS:
            rate = getattr(self, name)
            acc += rate
            if rate > 0 and u < acc:
                return delay, _RATE_OUTCOME[name]
        return delay, "ok"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["latency"] = str(self.latency)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)
