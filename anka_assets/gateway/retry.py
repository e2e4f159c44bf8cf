"""Retry policy: what to retry, how long to wait. Pure (the random source is passed in)."""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

__all__ = ["is_retryable_status", "parse_retry_after", "backoff_delay"]


def is_retryable_status(status: int) -> bool:
    """429 (rate limit), 408 (request timeout), 409 (conflict/lock) and every 5xx are worth another try."""
    return status in (408, 409, 429) or 500 <= status <= 599


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date. ``None`` if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def backoff_delay(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Wait before retry number ``attempt`` (1 = first retry).

    Without Retry-After: full jitter, uniform in [0, min(max_s, base_s * 2**(attempt-1))].
    With Retry-After: at least what the server asked (plus up to ``base_s`` of jitter so a burst of 429s
    does not come back in lockstep), capped by ``max_s``.
    """
    r = rng.random() if rng is not None else random.random()
    if retry_after_s is not None:
        return min(max_s, max(0.0, retry_after_s) + r * base_s)
    ceiling = min(max_s, base_s * (2 ** max(0, attempt - 1)))
    return r * ceiling
