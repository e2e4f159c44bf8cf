"""What every model-calling asset shares: ask through the gateway, parse, re-ask on malformed output,
and summarise the calls for the Dagster UI. Pure apart from the gateway it is handed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from dagster import MetadataValue

from anka_assets.gateway import ModelGateway, ModelRequest, ModelResult
from anka_assets.gateway.types import percentile
from anka_assets.metadata import md_counts
from anka_assets.parsing import ParseError

T = TypeVar("T")

#: Labels shown to models for each domain key; unknown domains fall back to the key itself.
DOMAIN_LABELS = {
    "hukuk": "Hukuk",
    "tarih": "Tarih",
    "ekonomi": "Ekonomi",
    "cografya": "Coğrafya",
    "edebiyat": "Edebiyat",
    "saglik": "Sağlık",
    "finans": "Finans",
    "kamu_yonetimi": "Kamu Yönetimi",
}


def domain_label(domain: str) -> str:
    return DOMAIN_LABELS.get(domain, domain.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Answer(Generic[T]):
    """The final result of one logical request after re-asks, with its parsed value or parse error."""

    result: ModelResult
    parsed: T | None
    parse_error: str | None
    repairs: int
    history: tuple[ModelResult, ...]

    @property
    def status(self) -> str:
        if self.result.status != "ok":
            return self.result.status
        return "ok" if self.parsed is not None else "parse_error"


def _parse(result: ModelResult, parse: Callable[[str], T]) -> tuple[T | None, str | None]:
    if not result.ok:
        return None, None
    try:
        parsed = parse(result.text or "")
    except ParseError as exc:
        reason = str(exc)
        if result.finish_reason == "length":
            reason = f"truncated output (finish_reason=length): {reason}"
        return None, reason
    return parsed, None


def ask_parsed(
    gateway: ModelGateway,
    requests: Sequence[ModelRequest],
    parse: Callable[[str], T],
    *,
    asset: str,
    partition: str | None,
    run_id: str | None = None,
    max_repairs: int = 1,
) -> list[Answer[T]]:
    """Send requests through the gateway, parse each answer, and re-ask malformed ones.

    A re-ask is a distinct request (`repair_attempt` and a shifted `seed` param), so it has its own
    cache entry: a crash between attempts never pays twice, and a re-run replays the same history.
    """
    results = gateway.run(requests, asset=asset, partition=partition, run_id=run_id)
    answers: list[Answer[T]] = []
    for result in results:
        parsed, error = _parse(result, parse)
        answers.append(Answer(result, parsed, error, 0, (result,)))

    for attempt in range(1, max_repairs + 1):
        redo = [i for i, a in enumerate(answers) if a.status == "parse_error"]
        if not redo:
            break
        retry_requests = [_repair_request(requests[i], attempt) for i in redo]
        retried = gateway.run(retry_requests, asset=asset, partition=partition, run_id=run_id)
        for i, result in zip(redo, retried):
            previous = answers[i]
            if result.ok:
                parsed, error = _parse(result, parse)
                answers[i] = Answer(result, parsed, error, attempt, previous.history + (result,))
            else:  # the re-ask itself failed: keep the parse error of the last real answer
                answers[i] = replace(previous, repairs=attempt, history=previous.history + (result,))
    return answers


def _repair_request(request: ModelRequest, attempt: int) -> ModelRequest:
    params = dict(request.params)
    params["seed"] = int(params.get("seed", 0)) + 1000 * attempt
    return replace(request, params=params, repair_attempt=attempt)


def call_metrics(results: Sequence[ModelResult], prefix: str = "") -> dict[str, Any]:
    """Calls made vs served from cache, tokens, cost, latency percentiles, for the UI."""
    made = [r for r in results if not r.cached and r.status in ("ok", "failed")]
    latencies = [r.latency_s for r in made if r.status == "ok"]
    p = prefix
    return {
        f"{p}calls_made": len(made),
        f"{p}calls_cached": sum(r.cached for r in results),
        f"{p}calls_blocked_kvkk": sum(r.status == "blocked_kvkk" for r in results),
        f"{p}calls_failed": sum(r.status == "failed" for r in results),
        f"{p}prompt_tokens": sum(r.prompt_tokens for r in made),
        f"{p}completion_tokens": sum(r.completion_tokens for r in made),
        f"{p}cost": MetadataValue.float(float(round(sum(r.cost for r in made), 6))),
        f"{p}latency_p50_s": MetadataValue.float(float(round(percentile(latencies, 50), 4))),
        f"{p}latency_p95_s": MetadataValue.float(float(round(percentile(latencies, 95), 4))),
    }


def all_results(answers: Sequence[Answer[Any]]) -> list[ModelResult]:
    return [r for a in answers for r in a.history]


def status_metadata(statuses: Sequence[str], prefix: str = "status") -> dict[str, Any]:
    counts = Counter(statuses)
    return {
        **{f"{prefix}_{k}": v for k, v in sorted(counts.items())},
        f"{prefix}_counts": MetadataValue.md(md_counts(counts, prefix, "rows")),
    }
