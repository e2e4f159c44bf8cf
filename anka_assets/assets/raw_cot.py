"""`raw_cot`: the teacher's Turkish chain of thought for every seed task, n samples each.

Every (seed, sample) pair yields exactly one row, whatever happened to it: `ok`, `parse_error`
(malformed even after a re-ask), `blocked_kvkk` (the gateway refused to send it) or `failed`.
Incremental through the gateway's cache: a re-run with nothing changed makes no model call, k new
seeds make k·n calls, a new template version re-asks only the prompts it changes.
"""

from collections.abc import Sequence

import polars as pl
from dagster import (
    AssetExecutionContext,
    Config,
    MetadataValue,
    Output,
    PartitionsDefinition,
)
from pydantic import Field

from anka_assets.assets import domain_table
from anka_assets.gateway import ModelEndpoint, ModelRequest
from anka_assets.metadata import md_preview
from anka_assets.model_calls import (
    Answer,
    all_results,
    ask_parsed,
    call_health,
    call_metrics,
    domain_label,
    health_verdict,
    status_metadata,
)
from anka_assets.parsing import COT_RESPONSE_FORMAT, ParsedCot, parse_cot
from anka_assets.prompts import PromptTemplate, load_prompt
from anka_assets.resources import RefineryPaths
from anka_assets.schemas import RawCotType

RAW_COT_SCHEMA = {
    "row_id": pl.Utf8, "seed_id": pl.Utf8, "domain": pl.Utf8, "sample_index": pl.Int64,
    "instruction": pl.Utf8, "sensitivity": pl.Utf8, "origin": pl.Utf8, "teacher_model": pl.Utf8,
    "template_version": pl.Utf8, "reasoning_steps": pl.List(pl.Utf8), "reasoning": pl.Utf8,
    "answer": pl.Utf8, "raw_text": pl.Utf8, "finish_reason": pl.Utf8, "prompt_tokens": pl.Int64,
    "completion_tokens": pl.Int64, "latency_s": pl.Float64, "cost": pl.Float64, "cached": pl.Boolean,
    "repairs": pl.Int64, "attempts": pl.Int64, "status": pl.Utf8, "error": pl.Utf8, "request_key": pl.Utf8,
}


class RawCotConfig(Config):
    samples_per_task: int = Field(default=1, description="Chain-of-thought samples asked of the teacher per task (n).")
    temperature: float = Field(default=0.7, description="Teacher sampling temperature.")
    max_tokens: int = Field(default=2048, description="Completion token limit per answer.")
    structured_output: bool = Field(
        default=True,
        description="Ask for a JSON schema (vLLM, OpenAI, most servers); off: tagged <adimlar>/<cevap> sections "
        "for servers without structured output.",
    )
    max_repairs: int = Field(default=1, description="Re-asks after a malformed answer before it is a parse_error.")
    max_failed_share: float = Field(
        default=0.5,
        description="Fail the run (after writing its rows) when more than this share of a domain's model calls "
        "failed, or all of them did; below it the run succeeds with a warning.",
    )


def row_id(seed_id: str, sample_index: int) -> str:
    return f"{seed_id}-s{sample_index}"


def cot_requests(tasks: pl.DataFrame, template: PromptTemplate, cfg: RawCotConfig) -> list[ModelRequest]:
    """One request per (task, sample), in table order then sample order."""
    requests = []
    for task in tasks.iter_rows(named=True):
        messages = template.messages(
            domain_label=domain_label(task["domain"]), instruction=task["instruction"],
            structured=cfg.structured_output,
        )
        params = {"temperature": cfg.temperature, "max_tokens": cfg.max_tokens}
        if cfg.structured_output:
            params["response_format"] = COT_RESPONSE_FORMAT
        for sample in range(cfg.samples_per_task):
            requests.append(ModelRequest(
                messages=messages, params={**params, "seed": sample}, template_version=template.version,
                seed_id=task["seed_id"], sensitivity=task["sensitivity"], sample_index=sample,
            ))
    return requests


def cot_rows(tasks: pl.DataFrame, answers: Sequence[Answer[ParsedCot]], cfg: RawCotConfig, template_version: str) -> pl.DataFrame:
    """The `raw_cot` table from tasks and their answers (same order as `cot_requests`)."""
    rows = []
    answer_iter = iter(answers)
    for task in tasks.iter_rows(named=True):
        for sample in range(cfg.samples_per_task):
            a = next(answer_iter)
            r, parsed = a.result, a.parsed
            rows.append({
                "row_id": row_id(task["seed_id"], sample), "seed_id": task["seed_id"], "domain": task["domain"],
                "sample_index": sample, "instruction": task["instruction"], "sensitivity": task["sensitivity"],
                "origin": task["origin"], "teacher_model": r.model, "template_version": template_version,
                "reasoning_steps": list(parsed.steps) if parsed else [],
                "reasoning": "\n".join(f"{i}. {s}" for i, s in enumerate(parsed.steps, 1)) if parsed else None,
                "answer": parsed.answer if parsed else None, "raw_text": r.text, "finish_reason": r.finish_reason,
                "prompt_tokens": sum(h.prompt_tokens for h in a.history if not h.cached),
                "completion_tokens": sum(h.completion_tokens for h in a.history if not h.cached),
                "latency_s": float(r.latency_s), "cost": float(sum(h.cost for h in a.history if not h.cached)),
                "cached": all(h.cached for h in a.history), "repairs": a.repairs, "attempts": a.attempts,
                "status": a.status, "error": a.error, "request_key": r.key,
            })
    return pl.DataFrame(rows, schema=RAW_COT_SCHEMA)


def build_raw_cot(partitions_def: PartitionsDefinition):
    @domain_table(
        partitions_def,
        name="raw_cot",
        pool="teacher",
        dagster_type=RawCotType,
        group_name="distillation",
        description="The teacher's step-by-step Turkish reasoning and final answer for every seed task "
        "(n samples), with tokens, latency, cost, cache use and a status for every (seed, sample) pair.",
    )
    def raw_cot(context: AssetExecutionContext, config: RawCotConfig, paths: RefineryPaths,
                teacher: ModelEndpoint, seed_tasks: pl.DataFrame):
        template = load_prompt("cot")
        gateway = teacher.open_gateway(paths.warehouse, log=context.log)
        frames, results, healths = [], [], []
        tagged = config.model_copy(update={"structured_output": False}) if config.structured_output else None
        for domain in context.partition_keys:
            tasks = seed_tasks.filter(pl.col("domain") == domain)
            answers = ask_parsed(
                gateway, cot_requests(tasks, template, config), parse_cot, asset="raw_cot",
                partition=domain, run_id=context.run_id, max_repairs=config.max_repairs,
                fallback_requests=cot_requests(tasks, template, tagged) if tagged is not None else None,
            )
            results += all_results(answers)
            healths.append(call_health(domain, answers, config.max_failed_share))
            frames.append(cot_rows(tasks, answers, config, template.version))
        df = pl.concat(frames) if frames else pl.DataFrame(schema=RAW_COT_SCHEMA)
        ok = df.filter(pl.col("status") == "ok")
        not_ok = df.filter(pl.col("status") != "ok")
        health_meta, failure = health_verdict("raw_cot", healths, context.log)
        yield Output(df, metadata={
            **health_meta,
            "teacher_capabilities": MetadataValue.json(dict(gateway.capabilities)),
            "dagster/row_count": len(df),
            "teacher_endpoint": gateway.settings.endpoint,
            "teacher_model": gateway.settings.model,
            "teacher_locality": str(gateway.settings.locality),
            "template_version": template.version,
            **status_metadata(df["status"].to_list()),
            **call_metrics(results),
            "preview_ok": MetadataValue.md(md_preview(ok, ["row_id", "instruction", "reasoning", "answer"], n=5, width=160)),
            "preview_not_ok": MetadataValue.md(md_preview(not_ok, ["row_id", "status", "error"], n=10, width=160)),
        })
        if failure is not None:
            raise failure  # after the rows are stored: they stay, and the run is failed

    return raw_cot
