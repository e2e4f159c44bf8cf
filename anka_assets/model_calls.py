"""What every model-calling asset shares: ask through the gateway, parse, re-ask on malformed output,
and summarise the calls for the Dagster UI. Pure apart from the gateway it is handed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from dagster import Config, MetadataValue
from pydantic import Field

from anka_assets.gateway import CallLedger, ModelGateway, ModelRequest, ModelResult
from anka_assets.gateway.types import percentile
from anka_assets.metadata import md_counts
from anka_assets.parsing import ParseError

T = TypeVar("T")

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

    @property
    def attempts(self) -> int:
        """HTTP requests this answer cost in this run: retries and re-asks included, 0 when all cached."""
        return sum(h.attempts for h in self.history)

    @property
    def error(self) -> str | None:
        """The error of the last attempt: the failed call's, else the last answer's parse error."""
        return self.result.error if self.result.status != "ok" else self.parse_error

    @property
    def truncated(self) -> bool:
        """An answer of this row ran to ``max_tokens`` (``finish_reason=length``), the kept one or an earlier."""
        return any(h.ok and h.finish_reason == "length" for h in self.history)

    @property
    def cut(self) -> bool:
        """The answer kept for the row is the one cut by ``max_tokens``."""
        return self.result.ok and self.result.finish_reason == "length"

    @property
    def reasked_after_length(self) -> bool:
        """A re-ask with a larger budget was already made after a cut answer (never a second one)."""
        return any(h.ok and h.finish_reason == "length" for h in self.history[:-1])


def needs_reask(answer: Answer[Any]) -> bool:
    """Whether ``answer`` is asked again: a malformed answer, or one cut by ``max_tokens`` even if it
    parsed; but after one re-ask for a cut answer, a second cut is final (at most once per row). Pure."""
    if answer.result.status != "ok":
        return False
    if answer.cut:
        return not answer.reasked_after_length
    return answer.parsed is None


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


#: A re-ask samples at least this hot, so a deterministic server (temperature 0) does not repeat itself.
REPAIR_TEMPERATURE_FLOOR = 0.3
#: After finish_reason=length a re-ask doubles max_tokens, up to this.
MAX_TOKENS_CAP = 8192


def ask_parsed(
    gateway: ModelGateway,
    requests: Sequence[ModelRequest],
    parse: Callable[[str], T],
    *,
    asset: str,
    partition: str | None,
    run_id: str | None = None,
    max_repairs: int = 1,
    fallback_requests: Sequence[ModelRequest] | None = None,
    max_tokens_cap: int = MAX_TOKENS_CAP,
) -> list[Answer[T]]:
    """Send requests through the gateway, parse each answer, and re-ask malformed ones.

    A re-ask changes the request (see :func:`repair_request`), so it is never byte-identical and has its
    own cache entry: a crash between attempts never pays twice, and a re-run replays the same history.
    ``fallback_requests`` (same order) ask for the same thing without ``response_format`` (tagged
    sections): when the answers show that the server ignores ``response_format``, the re-asks, and every
    later call through this gateway, use them; the gateway says so once (log and ``capabilities``).
    """
    if fallback_requests is not None and len(fallback_requests) != len(requests):
        raise ValueError("fallback_requests must match requests one to one")
    where = dict(asset=asset, partition=partition, run_id=run_id)
    use_fallback = fallback_requests is not None and gateway.capabilities.get("response_format") == "ignored"
    first = list(fallback_requests) if use_fallback else list(requests)
    results = gateway.run(first, **where)
    answers = [Answer(result, *_parse(result, parse), 0, (result,)) for result in results]
    if fallback_requests is not None and not use_fallback and ignores_response_format(first, results):
        gateway.note_capability(
            "response_format", "ignored",
            "the server ignores response_format (answers asked for as JSON came back as plain text); "
            "re-asking with tagged sections, and asking that way from now on",
        )
        use_fallback = True
    base = list(fallback_requests) if use_fallback and fallback_requests is not None else list(requests)
    sent = list(first)
    for attempt in range(1, max_repairs + 1):
        redo = [i for i, a in enumerate(answers) if needs_reask(a)]
        if not redo:
            break
        for i in redo:
            sent[i] = repair_request(base[i], attempt, previous=sent[i], finish_reason=answers[i].result.finish_reason,
                                     max_tokens_cap=max_tokens_cap)
        retried = gateway.run([sent[i] for i in redo], **where)
        for i, result in zip(redo, retried):
            answers[i] = after_reask(answers[i], result, parse, attempt)
    return answers


def after_reask(previous: Answer[T], result: ModelResult, parse: Callable[[str], T], attempt: int) -> Answer[T]:
    """A row's answer after its re-ask number ``attempt`` answered ``result``. Pure.

    The row keeps its LAST attempt (a failed re-ask makes it a failed row with that call's error), except
    that a cut answer that parsed, asked again for a whole one, keeps the answer it had (still marked
    truncated) when the re-ask does not parse."""
    parsed, error = _parse(result, parse)
    history = previous.history + (result,)
    if previous.parsed is not None and parsed is None:
        return Answer(previous.result, previous.parsed, None, attempt, history)
    return Answer(result, parsed, error if result.ok else previous.parse_error, attempt, history)


def _looks_structured(text: str) -> bool:
    head = text.lstrip()[:16]
    return head.startswith(("{", "[", "```")) or head.lower().startswith("json")


def ignores_response_format(requests: Sequence[ModelRequest], results: Sequence[ModelResult]) -> bool:
    """True when most answers to requests that set ``response_format`` are not JSON at all. Pure."""
    asked = [r.text or "" for q, r in zip(requests, results) if "response_format" in q.params and r.ok and r.text]
    if not asked:
        return False
    plain = sum(not _looks_structured(t) for t in asked)
    return plain * 2 > len(asked)


def repair_request(
    request: ModelRequest,
    attempt: int,
    *,
    previous: ModelRequest | None = None,
    finish_reason: str | None = None,
    max_tokens_cap: int = MAX_TOKENS_CAP,
) -> ModelRequest:
    """The re-ask number ``attempt`` of ``request``. Pure.

    Always a different request: a shifted sampling ``seed``, a temperature of at least
    :data:`REPAIR_TEMPERATURE_FLOOR` (a deterministic server would otherwise repeat itself), and after
    ``finish_reason=length`` twice the ``max_tokens`` of the ``previous`` attempt, up to ``max_tokens_cap``.
    """
    params = dict(request.params)
    params["seed"] = int(params.get("seed", 0)) + 1000 * attempt
    params["temperature"] = max(float(params.get("temperature", 0.0) or 0.0), REPAIR_TEMPERATURE_FLOOR)
    last = (previous or request).params.get("max_tokens", request.params.get("max_tokens"))
    if last is not None:
        grown = int(last) * 2 if finish_reason == "length" else int(last)
        params["max_tokens"] = max(int(request.params.get("max_tokens", last)), min(max_tokens_cap, grown))
    return replace(request, params=params, repair_attempt=attempt)


#: The failed share of a domain's calls above which a model stage stores nothing (see :func:`gate_calls`).
MAX_FAILED_SHARE = 0.5


class FailedCallsGate(Config):
    """The one setting every model stage shares (`expanded_tasks`, `raw_cot`, `judged_cot`, `student_eval`)."""

    max_failed_share: float = Field(
        default=MAX_FAILED_SHARE,
        description="Fail the step, storing nothing (the stored rows stay as they were), when more than this "
        "share of a domain's model calls failed, or all of them did; below it the step stores its ok and "
        "failed rows and succeeds with a warning.",
    )


@dataclass(frozen=True)
class CallHealth:
    """How the model calls of one domain went, and whether that fails the step."""

    domain: str
    asked: int  #: rows that needed a model (not blocked by KVKK)
    failed: int  #: rows whose last call failed
    first_error: str | None
    threshold: float

    @property
    def share(self) -> float:
        return self.failed / self.asked if self.asked else 0.0

    @property
    def fails_run(self) -> bool:
        """More than ``threshold`` of the calls failed, or every one of them did."""
        return self.failed > 0 and (self.share > self.threshold or self.failed == self.asked)

    def describe(self) -> str:
        """One line: the domain, the failed calls and share, the first error (its whitespace folded)."""
        error = " ".join((self.first_error or "no message").split())
        return (f"{self.domain}: {self.failed} of {self.asked} model calls failed ({self.share:.0%}); "
                f"first error: {error}")


def call_health(domain: str, answers: Sequence[Answer[Any]], threshold: float) -> CallHealth:
    asked = [a for a in answers if a.status != "blocked_kvkk"]
    failed = [a for a in asked if a.status == "failed"]
    return CallHealth(domain, len(asked), len(failed), failed[0].error if failed else None, threshold)


def call_healths(domains: Sequence[str], answers: Sequence[Answer[Any]], threshold: float) -> list[CallHealth]:
    """One :class:`CallHealth` per domain, ``domains[i]`` being the domain of ``answers[i]``, in order of
    first appearance (for a cross-domain stage such as `student_eval`). Pure."""
    if len(domains) != len(answers):
        raise ValueError("domains must match answers one to one")
    by_domain: dict[str, list[Answer[Any]]] = {}
    for domain, answer in zip(domains, answers):
        by_domain.setdefault(domain, []).append(answer)
    return [call_health(domain, group, threshold) for domain, group in by_domain.items()]


def gate_message(asset: str, healths: Sequence[CallHealth]) -> str | None:
    """The one-line reason a step must fail, or None when every domain is within its threshold. Pure."""
    bad = [h for h in healths if h.fails_run]
    if not bad:
        return None
    return (f"{asset}: too many failed model calls (more than {bad[0].threshold:.0%} or all of them), nothing "
            f"stored, the previous rows are kept: " + "; ".join(h.describe() for h in bad))


def gate_calls(asset: str, healths: Sequence[CallHealth], log: Any = None) -> dict[str, Any]:
    """The rule every model stage applies to its calls, BEFORE it yields its Output.

    When any domain of the step has more than its threshold of failed calls (or all of them), raise a
    :class:`dagster.Failure` naming the asset, the domain(s), the share and the first error: the step
    stores nothing, so every partition (the domains that went well included, in a multi-domain run)
    keeps the rows it had, and a re-run pays for no call twice (answers are cached by the gateway).
    Otherwise return the metadata for the Output: a ``model_call_warning`` when some calls failed.
    """
    from dagster import Failure

    message = gate_message(asset, healths)
    if message is not None:
        bad = [h for h in healths if h.fails_run]
        raise Failure(description=message, metadata={
            "domains": ", ".join(h.domain for h in bad), "failed_calls": sum(h.failed for h in bad),
            "asked_calls": sum(h.asked for h in bad)})
    warn = [h for h in healths if h.failed]
    if not warn:
        return {}
    text = "; ".join(h.describe() for h in warn)
    if log is not None:
        log.warning(f"{asset}: some model calls failed (below the threshold, the step goes on): {text}")
    return {"model_call_warning": text}


def call_metrics(calls: CallLedger, prefix: str = "") -> dict[str, Any]:
    """The gateway's own figures for the UI: calls made vs served from cache, tokens, cost, latency."""
    p = prefix
    return {
        f"{p}calls_made": calls.sent,
        f"{p}calls_cached": calls.cache_hits,
        f"{p}calls_blocked_kvkk": calls.blocked,
        f"{p}calls_failed": calls.failed,
        f"{p}prompt_tokens": calls.prompt_tokens,
        f"{p}completion_tokens": calls.completion_tokens,
        f"{p}cost": MetadataValue.float(float(round(calls.cost, 6))),
        f"{p}latency_p50_s": MetadataValue.float(float(round(percentile(calls.latencies, 50), 4))),
        f"{p}latency_p95_s": MetadataValue.float(float(round(percentile(calls.latencies, 95), 4))),
    }


def all_results(answers: Sequence[Answer[Any]]) -> list[ModelResult]:
    return [r for a in answers for r in a.history]


def status_metadata(statuses: Sequence[str], prefix: str = "status") -> dict[str, Any]:
    counts = Counter(statuses)
    return {
        **{f"{prefix}_{k}": v for k, v in sorted(counts.items())},
        f"{prefix}_counts": MetadataValue.md(md_counts(counts, prefix, "rows")),
    }


def call_figures(calls: CallLedger, prefix: str = "") -> dict[str, Any]:
    """One domain's call figures for its partition, from the gateway's own ledger: :func:`call_metrics`
    when calls were made; otherwise one word (``calls``: "all cached", "none made", "none needed") and
    the non-zero counts, so that a cached re-run does not draw flat zero lines in the UI's plots."""
    if calls.sent:
        return call_metrics(calls, prefix)
    word = ("none needed" if not calls.requests
            else "all cached" if calls.cache_hits == calls.requests else "none made")
    out: dict[str, Any] = {f"{prefix}calls": word}
    if calls.cache_hits:
        out[f"{prefix}calls_cached"] = calls.cache_hits
    if calls.blocked:
        out[f"{prefix}calls_blocked_kvkk"] = calls.blocked
    return out


def truncation_metadata(truncated: Sequence[bool], answered: Sequence[bool], prefix: str = "") -> dict[str, Any]:
    """How many answers ran to ``max_tokens``, for a domain's metadata, from its rows: rows whose answer
    was cut at least once (``truncated``) and their share of the rows a model answered (``answered``)."""
    n_answered = sum(bool(a) or bool(t) for a, t in zip(answered, truncated))
    n_truncated = sum(bool(t) for t in truncated)
    return {
        f"{prefix}truncated_rows": n_truncated,
        f"{prefix}truncated_share": MetadataValue.float(rate(n_truncated, n_answered)),
    }


def rate(part: int, whole: int) -> float:
    """``part / whole`` rounded to 4 places for the UI (0.0 for nothing)."""
    return round(part / whole, 4) if whole else 0.0
