"""`raw_cot`: the teacher's Turkish chain of thought for every seed task, n samples each.

Every (seed, sample) pair yields exactly one row, whatever happened to it: `ok`, `parse_error`
(malformed even after a re-ask), `blocked_kvkk` (the gateway refused to send it) or `failed`.
With a local fallback teacher configured (`teacher_fallback`), the rows KVKK refuses for the teacher
are asked of the fallback in the same run; `teacher_endpoint` / `served_by` say who answered each row.
Incremental through the gateway's cache: a re-run with nothing changed makes no model call, k new
seeds make k·n calls, a new template version re-asks only the prompts it changes.
"""

from collections.abc import Sequence

import polars as pl
from dagster import MetadataValue
from pydantic import Field

from anka_assets.assets.curated_seeds import with_domain_label
from anka_assets.gateway import CallLedger
from anka_assets.gateway.endpoint import EndpointSettings
from anka_assets.metadata import md_preview
from anka_assets.model_calls import (
    Answer,
    CallHealth,
    FailedCallsGate,
    call_figures,
    rate,
    status_metadata,
    truncation_metadata,
)
from anka_assets.model_stage import Asked, Finished, Generation, ModelStage, StageRun
from anka_assets.model_tasks import COT
from anka_assets.parsing import ParsedCot
from anka_assets.schemas import RAW_COT_DTYPES, RawCotType
from anka_assets.simulated import is_simulated_model



class RawCotConfig(FailedCallsGate):
    samples_per_task: int = Field(default=1, description="Chain-of-thought samples asked of the teacher per task (n).")
    temperature: float = Field(default=0.7, description="Teacher sampling temperature.")
    max_tokens: int = Field(default=2048, description="Completion token limit per answer.")
    structured_output: bool = Field(
        default=True,
        description="Ask for a JSON schema (vLLM, OpenAI, most servers); off: tagged <adimlar>/<cevap> sections "
        "for servers without structured output.",
    )
    max_repairs: int = Field(default=1, description="Re-asks after a malformed answer before it is a parse_error.")


def row_id(seed_id: str, sample_index: int) -> str:
    return f"{seed_id}-s{sample_index}"


def cot_task_rows(tasks: pl.DataFrame, samples: int) -> list[dict]:
    """The rows `COT` runs over: one per (task, sample), in table order then sample order; each carries
    its task's `domain_label` (the seed file's, as `seed_tasks` stores it). Pure."""
    return [{**task, "sample_index": sample}
            for task in with_domain_label(tasks).iter_rows(named=True) for sample in range(samples)]


def cot_rows(
    tasks: pl.DataFrame,
    answers: Sequence[Answer[ParsedCot]],
    cfg: RawCotConfig,
    template_version: str,
    handled_by: Sequence[EndpointSettings] | None = None,
) -> pl.DataFrame:
    """The `raw_cot` table from tasks and their answers (same order as `cot_task_rows`)."""
    rows = []
    answer_iter = iter(answers)
    handled_iter = iter(handled_by) if handled_by is not None else None
    for task in with_domain_label(tasks).iter_rows(named=True):
        for sample in range(cfg.samples_per_task):
            a = next(answer_iter)
            handler = next(handled_iter) if handled_iter is not None else None
            r, parsed = a.result, a.parsed
            rows.append({
                "row_id": row_id(task["seed_id"], sample), "seed_id": task["seed_id"], "domain": task["domain"],
                "domain_label": task["domain_label"], "sample_index": sample, "instruction": task["instruction"], "sensitivity": task["sensitivity"],
                "origin": task["origin"], "teacher_model": r.model, "template_version": template_version,
                "reasoning_steps": list(parsed.steps) if parsed else [],
                "reasoning": "\n".join(f"{i}. {s}" for i, s in enumerate(parsed.steps, 1)) if parsed else None,
                "answer": parsed.answer if parsed else None, "raw_text": r.text, "finish_reason": r.finish_reason,
                "prompt_tokens": sum(h.prompt_tokens for h in a.history if not h.cached),
                "completion_tokens": sum(h.completion_tokens for h in a.history if not h.cached),
                "latency_s": float(r.latency_s), "cost": float(sum(h.cost for h in a.history if not h.cached)),
                "cached": all(h.cached for h in a.history), "repairs": a.repairs, "attempts": a.attempts,
                "truncated": a.truncated,
                "status": a.status, "error": a.error, "request_key": r.key,
                "answer_tokens": r.completion_tokens,  # of the answer kept, whether or not it came from the cache
                "teacher_endpoint": handler.endpoint if handler else None,
                "served_by": handler.role if handler and a.status != "blocked_kvkk" else None,
                "simulated": is_simulated_model(r.model),
            })
    return pl.DataFrame(rows, schema=RAW_COT_DTYPES)


def domain_metadata(df: pl.DataFrame, calls: CallLedger, health: CallHealth) -> dict:
    """One domain's figures, for its own partition."""
    ok = df.filter(pl.col("status") == "ok")
    not_ok = df.filter(pl.col("status") != "ok")
    meta = {
        "dagster/row_count": len(df),
        "ok_rate": MetadataValue.float(rate(len(ok), len(df))),
        **status_metadata(df["status"].to_list()),
        **truncation_metadata(df["truncated"].to_list(), df["status"].is_in(["ok", "parse_error"]).to_list()),
        "rows_served_by_fallback": int((df["served_by"] == "teacher_fallback").sum()),
        **call_figures(calls),
        "preview_ok": MetadataValue.md(md_preview(ok, ["row_id", "instruction", "reasoning", "answer"], n=5, width=160)),
        "preview_not_ok": MetadataValue.md(md_preview(not_ok, ["row_id", "status", "error"], n=10, width=160)),
    }
    if health.failed:
        meta["model_call_failures"] = health.describe()
    return meta


def _finish(run: StageRun, tasks: pl.DataFrame, asked: Asked[ParsedCot]) -> Finished:
    frame = cot_rows(tasks, asked.answers, run.config, run.template.version, asked.run.handled_by)
    return Finished(frame, domain_metadata(frame, asked.run.calls, asked.health))


def run_metadata(run: StageRun) -> dict:
    """Run-wide facts; each domain's figures are on its own partition."""
    return {
        "teacher_capabilities": MetadataValue.json(dict(run.gateway.capabilities)),
        "teacher_endpoint": run.gateway.settings.endpoint,
        "teacher_model": run.gateway.settings.model,
        "teacher_locality": str(run.gateway.settings.locality),
        "fallback_endpoint": run.fallback.settings.endpoint if run.fallback else "none",
        "template_version": run.template.version,
    }


RAW_COT: ModelStage[RawCotConfig, pl.DataFrame, ParsedCot] = ModelStage(
    name="raw_cot", task=COT, endpoint="teacher", fallback=True, config=RawCotConfig, inputs=("seed_tasks",),
    generation=lambda cfg: Generation({"temperature": cfg.temperature, "max_tokens": cfg.max_tokens},
                                      cfg.max_repairs, cfg.structured_output),
    prepare=lambda run, domain: run.domain_rows("seed_tasks", domain),
    requests=lambda run, tasks: cot_task_rows(tasks, run.config.samples_per_task),
    finish=_finish, run_metadata=run_metadata, empty=lambda: pl.DataFrame(schema=RAW_COT_DTYPES),
    asset_args=dict(
        dagster_type=RawCotType, group_name="distillation",
        description="The teacher's step-by-step Turkish reasoning and final answer for every seed task "
        "(n samples), with tokens, latency, cost, cache use and a status for every (seed, sample) pair.",
    ),
)

build_raw_cot = RAW_COT.build
