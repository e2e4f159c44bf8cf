"""One shape for every model task: chain of thought, judge, expansion, pairwise judge.

A :class:`ModelTask` owns everything that makes one kind of model call: its prompt template, the JSON
schema it asks for (and whether its tagged fallback is a different prompt), the parser of its answers,
how a row becomes template variables and KVKK request labels, and its generation defaults. One
function, :func:`run_task`, runs any task over rows through the gateway with the single repair loop
of :func:`anka_assets.model_calls.ask_parsed` (re-asks that change the request, the tagged fallback when
the server ignores ``response_format``, the last error and the attempts kept), and hands the rows the
teacher refused under KVKK to a local fallback gateway when there is one.

A row is a plain mapping (a table row, or a dict built by the asset); every task reads
``domain_label`` from it: the seed file's label, which travels as a column of the tables (`curated_seeds`
→ `seed_tasks` → `raw_cot` → `judged_cot` → `sft_export`), never re-read from the file.
Adding a judge criterion is one entry in ``judge_criteria.CRITERIA`` (the template, schema and parser
of :data:`JUDGE` follow it); nothing here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from anka_assets.gateway import CallLedger, ModelGateway, ModelRequest, ModelResult
from anka_assets.gateway.endpoint import EndpointSettings
from anka_assets.model_calls import MAX_TOKENS_CAP, Answer, all_results, ask_parsed
from anka_assets.parsing import (
    COT_RESPONSE_FORMAT,
    JUDGE_RESPONSE_FORMAT,
    PAIRWISE_RESPONSE_FORMAT,
    TASK_LIST_RESPONSE_FORMAT,
    JudgeVerdict,
    PairwiseVerdict,
    ParsedCot,
    parse_cot,
    parse_judge,
    parse_pairwise,
    parse_task_list,
    response_format_max_tokens,
)
from anka_assets.prompts import PromptTemplate, load_prompt

T = TypeVar("T")
Row = Mapping[str, Any]


@dataclass(frozen=True)
class RequestLabels:
    """What the gateway needs to know about one request besides its text: KVKK labels and the
    per-row sampling parameters (a distinct ``seed`` per sample)."""

    seed_id: str | None
    sensitivity: str | None  #: None is treated as confidential by the gateway (fail closed)
    sample_index: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelTask(Generic[T]):
    """One kind of model call, from a row to a parsed answer."""

    name: str
    template: str  #: prompt template name under ``anka_assets/prompts`` (``<template>.jinja2``)
    response_format: Mapping[str, Any] | None  #: the JSON schema asked for; None: plain text
    parse: Callable[[str], T]  #: answer text -> value; raises ``ParseError`` (then the row is re-asked)
    variables: Callable[[Row], dict[str, Any]]  #: row -> template variables
    labels: Callable[[Row], RequestLabels]  #: row -> KVKK labels and per-row params
    defaults: Mapping[str, Any] = field(default_factory=dict)  #: generation defaults (temperature, max_tokens)
    #: The template takes ``structured``: its tagged fallback is another prompt (tagged sections), not
    #: just the same prompt without ``response_format``.
    structured_switch: bool = False

    def load_template(self) -> PromptTemplate:
        return load_prompt(self.template)

    def requests(
        self,
        rows: Sequence[Row],
        template: PromptTemplate,
        params: Mapping[str, Any] | None = None,
        *,
        structured: bool = True,
    ) -> list[ModelRequest]:
        """One request per row. ``params`` override the defaults; ``structured=False`` is the tagged form
        (no ``response_format``). Pure."""
        out = []
        for row in rows:
            variables = self.variables(row)
            if self.structured_switch:
                variables["structured"] = structured
            label = self.labels(row)
            merged = {**self.defaults, **(params or {}), **label.params}
            if structured and self.response_format is not None:
                merged["response_format"] = self.response_format
                merged = sized_max_tokens(merged, self.response_format)
            out.append(ModelRequest(
                messages=template.messages(**variables), params=merged, template_version=template.version,
                seed_id=label.seed_id, sensitivity=label.sensitivity, sample_index=label.sample_index,
            ))
        return out


def sized_max_tokens(params: Mapping[str, Any], response_format: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with ``max_tokens`` lowered to what a complete answer to a bounded schema can need
    (:func:`~anka_assets.parsing.response_format_max_tokens`); unchanged when the schema is unbounded or
    the configured limit is already lower. Pure."""
    out = dict(params)
    bound = response_format_max_tokens(response_format)
    if bound is not None and out.get("max_tokens") is not None and bound < int(out["max_tokens"]):
        out["max_tokens"] = bound
    return out


@dataclass(frozen=True)
class TaskRun(Generic[T]):
    """The answers of one :func:`run_task` call, row by row, and who answered each row."""

    answers: list[Answer[T]]
    handled_by: list[EndpointSettings]
    template_version: str
    #: the gateways' own figures for this asset and partition (teacher + fallback), for metadata
    calls: CallLedger = field(default_factory=CallLedger)

    @property
    def results(self) -> list[ModelResult]:
        """Every gateway result, re-asks included."""
        return all_results(self.answers)


def run_task(
    task: ModelTask[T],
    gateway: ModelGateway,
    rows: Sequence[Row],
    *,
    asset: str,
    partition: str | None,
    run_id: str | None = None,
    params: Mapping[str, Any] | None = None,
    structured: bool = True,
    max_repairs: int = 1,
    fallback: ModelGateway | None = None,
    template: PromptTemplate | None = None,
    max_tokens_cap: int = MAX_TOKENS_CAP,
) -> TaskRun[T]:
    """Run ``task`` over ``rows`` through ``gateway``: parse every answer, re-ask malformed ones, switch to
    the tagged form when the server ignores ``response_format``; the rows the gateway refused under KVKK
    go to ``fallback`` (a local teacher), if any, in the same call."""
    template = template or task.load_template()
    requests = task.requests(rows, template, params, structured=structured)
    tagged = (task.requests(rows, template, params, structured=False)
              if structured and task.response_format is not None else None)
    kwargs = dict(asset=asset, partition=partition, run_id=run_id, max_repairs=max_repairs,
                  max_tokens_cap=max_tokens_cap)
    answers = ask_parsed(gateway, requests, task.parse, fallback_requests=tagged, **kwargs)
    handled_by = [gateway.settings] * len(answers)
    redo = [i for i, a in enumerate(answers) if a.status == "blocked_kvkk"]
    if fallback is not None and redo:
        redo_tagged = [tagged[i] for i in redo] if tagged is not None else None
        again = ask_parsed(fallback, [requests[i] for i in redo], task.parse, fallback_requests=redo_tagged, **kwargs)
        for i, answer in zip(redo, again):
            answers[i] = answer
            handled_by[i] = fallback.settings
    calls = gateway.ledger(asset, partition)
    if fallback is not None:
        calls = calls + fallback.ledger(asset, partition)
    return TaskRun(answers, handled_by, template.version, calls)


# --- the tasks -------------------------------------------------------------------------------------


def _task_labels(row: Row) -> RequestLabels:
    sample = int(row.get("sample_index", 0) or 0)
    return RequestLabels(row["seed_id"], row["sensitivity"], sample, {"seed": sample})


#: Chain of thought: ``instruction`` -> numbered steps and a final answer. Rows: one per (task, sample),
#: with ``sample_index`` (also the sampling seed).
COT: ModelTask[ParsedCot] = ModelTask(
    name="cot", template="cot", response_format=COT_RESPONSE_FORMAT, parse=parse_cot,
    variables=lambda r: {"domain_label": r["domain_label"], "instruction": r["instruction"]},
    labels=_task_labels, defaults={"temperature": 0.7, "max_tokens": 2048}, structured_switch=True,
)

#: Judge: one ok ``raw_cot`` row -> scores for accuracy, cultural fit, hallucination, with a reason.
JUDGE: ModelTask[JudgeVerdict] = ModelTask(
    name="judge", template="judge", response_format=JUDGE_RESPONSE_FORMAT, parse=parse_judge,
    variables=lambda r: {"domain_label": r["domain_label"], "instruction": r["instruction"],
                         "steps": list(r["reasoning_steps"] or []), "answer": r["answer"]},
    labels=lambda r: RequestLabels(r["seed_id"], r["sensitivity"], int(r["sample_index"]), {"seed": 0}),
    defaults={"temperature": 0.0, "max_tokens": 512},
)

#: Expansion: one curated parent (``instruction``, ``count``, ``examples``) -> new task texts. ``round`` is
#: the n-th request for the same parent (its sample index and sampling seed).
EXPANSION: ModelTask[list[str]] = ModelTask(
    name="expansion", template="expand", response_format=TASK_LIST_RESPONSE_FORMAT, parse=parse_task_list,
    variables=lambda r: {"domain_label": r["domain_label"], "instruction": r["instruction"],
                         "count": r["count"], "examples": list(r["examples"])},
    labels=lambda r: RequestLabels(r["seed_id"], r["sensitivity"], int(r["round"]), {"seed": int(r["round"])}),
    defaults={"temperature": 0.8, "max_tokens": 1024},
)

#: Pairwise judge of the student evaluation: two answers to one task -> "A", "B" or "berabere". Each request
#: carries its seed's KVKK label from `eval.jsonl` (none, in an older release: confidential, local judges only).
PAIRWISE: ModelTask[PairwiseVerdict] = ModelTask(
    name="pairwise", template="pairwise", response_format=PAIRWISE_RESPONSE_FORMAT, parse=parse_pairwise,
    variables=lambda r: {"domain_label": r["domain_label"], "instruction": r["instruction"],
                         "answer_a": r["answer_a"] or "(boş cevap)", "answer_b": r["answer_b"] or "(boş cevap)",
                         "reference": r["reference"]},
    labels=lambda r: RequestLabels(r["seed_id"], r.get("sensitivity"), int(r["order"]), {"seed": 0}),
    defaults={"temperature": 0.0, "max_tokens": 256},
)
