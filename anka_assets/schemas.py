"""Pandera contracts for every table the refinery writes. One place, so lineage edges share them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandera.polars as pa
import polars as pl

from dagster_pandera import pandera_schema_to_dagster_type

from anka_assets.judge_criteria import CRITERIA, SCORE_MAX, SCORE_MIN, Criterion
from anka_assets.seed_loader import SENSITIVITIES

SEED_ORIGINS = ("curated", "expanded")


class SeedTasksSchema(pa.DataFrameModel):
    """`seed_tasks`: curated and teacher-expanded Turkish tasks, one row per task and domain."""

    seed_id: str = pa.Field(str_matches=r"^tsk_[0-9a-f]{16}$", unique=True)
    domain: str = pa.Field(str_matches=r"^[a-z0-9_]+$")
    #: what prompts call the domain: the seed file's `label` (default: the key, capitalised); every later
    #: stage reads it from here, never from the file
    domain_label: str = pa.Field(str_length={"min_value": 1})
    instruction: str = pa.Field(str_length={"min_value": 10, "max_value": 2000})
    sensitivity: str = pa.Field(isin=list(SENSITIVITIES))
    sensitivity_defaulted: bool
    tags: pl.List(pl.Utf8) = pa.Field()
    source: str = pa.Field(nullable=True)
    origin: str = pa.Field(isin=list(SEED_ORIGINS))
    parent_seed_ids: pl.List(pl.Utf8) = pa.Field()
    source_file: str
    source_line: int = pa.Field(ge=0)
    repaired: bool
    content_hash: str = pa.Field(str_matches=r"^[0-9a-f]{64}$")
    simulated: bool  #: made by the built-in simulator (offline demo), not a real teacher

    class Config:
        strict = True
        coerce = False


RAW_COT_STATUSES = ("ok", "parse_error", "blocked_kvkk", "failed")


class CotRowSchema(pa.DataFrameModel):
    """Columns every chain-of-thought row carries: which task, which sample."""

    row_id: str = pa.Field(unique=True)
    seed_id: str = pa.Field(str_matches=r"^tsk_[0-9a-f]{16}$")
    domain: str = pa.Field(str_matches=r"^[a-z0-9_]+$")
    domain_label: str = pa.Field(str_length={"min_value": 1})  #: from `seed_tasks`, for the judge's prompt
    sample_index: int = pa.Field(ge=0)
    instruction: str
    sensitivity: str = pa.Field(isin=list(SENSITIVITIES))
    origin: str = pa.Field(isin=list(SEED_ORIGINS))

    class Config:
        strict = True


class RawCotSchema(CotRowSchema):
    """`raw_cot`: one row per (seed task, sample); every pair has exactly one row, whatever happened."""

    teacher_model: str = pa.Field(nullable=True)
    template_version: str
    reasoning_steps: pl.List(pl.Utf8) = pa.Field()
    reasoning: str = pa.Field(nullable=True)
    answer: str = pa.Field(nullable=True)
    raw_text: str = pa.Field(nullable=True)
    finish_reason: str = pa.Field(nullable=True)
    prompt_tokens: int = pa.Field(ge=0)
    completion_tokens: int = pa.Field(ge=0)
    latency_s: float = pa.Field(ge=0)
    cost: float = pa.Field(ge=0)
    cached: bool
    repairs: int = pa.Field(ge=0)
    attempts: int = pa.Field(ge=0)
    #: an answer of this row ran to max_tokens (finish_reason=length), the kept one or one re-asked once
    truncated: bool
    status: str = pa.Field(isin=list(RAW_COT_STATUSES))
    error: str = pa.Field(nullable=True)
    request_key: str
    teacher_endpoint: str = pa.Field(nullable=True)
    served_by: str = pa.Field(nullable=True)
    simulated: bool  #: answered by the built-in simulator (offline demo), not a real teacher
    answer_tokens: int = pa.Field(ge=0, nullable=True)

    class Config:
        strict = True

    @pa.dataframe_check
    @classmethod
    def ok_rows_have_an_answer(cls, data) -> pl.LazyFrame:
        lf = data.lazyframe
        return lf.select(
            (pl.col("status") != "ok") | (pl.col("answer").is_not_null() & (pl.col("reasoning_steps").list.len() > 0))
        )


JUDGE_STATUSES = ("ok", "judge_error", "blocked_kvkk", "failed", "skipped")
VERDICTS = ("approve", "reject")


def _verdict_column(c: Criterion) -> tuple[type, Any]:
    """A criterion's `judged_cot` column: null when there is no verdict (teacher failed, judge error)."""
    if c.kind == "score":
        return int, pa.Field(nullable=True, ge=SCORE_MIN, le=SCORE_MAX)
    return (bool if c.kind == "flag" else str), pa.Field(nullable=True)


def judged_cot_schema(criteria: Sequence[Criterion] = CRITERIA) -> type[pa.DataFrameModel]:
    """The `judged_cot` contract with one column per judge criterion (after `judge_error`, in the
    criteria's order). Built from the list, so a new criterion is a new column without an edit here."""

    class JudgedCotHead(CotRowSchema):
        reasoning_steps: pl.List(pl.Utf8) = pa.Field()
        answer: str = pa.Field(nullable=True)
        teacher_model: str = pa.Field(nullable=True)
        teacher_status: str = pa.Field(isin=list(RAW_COT_STATUSES))
        judge_model: str = pa.Field(nullable=True)
        judge_template_version: str
        judge_status: str = pa.Field(isin=list(JUDGE_STATUSES))
        judge_error: str = pa.Field(nullable=True)

        class Config:
            strict = True

    columns = {c.name: _verdict_column(c) for c in criteria}
    verdict = type("JudgedCotVerdict", (JudgedCotHead,), {
        "__annotations__": {name: kind for name, (kind, _) in columns.items()},
        **{name: field for name, (_, field) in columns.items()},
        "__module__": __name__,
    })

    class JudgedCotSchema(verdict):  # type: ignore[misc, valid-type]
        """`judged_cot`: judge scores, deterministic signals, expert verdicts and the pass/reject decision."""

        judge_cached: bool
        judge_truncated: bool  #: a verdict of this row ran to max_tokens (finish_reason=length)
        judge_prompt_tokens: int = pa.Field(ge=0)
        judge_completion_tokens: int = pa.Field(ge=0)
        judge_cost: float = pa.Field(ge=0)
        language_reasoning: str = pa.Field(nullable=True)
        language_answer: str = pa.Field(nullable=True)
        pii_kinds: pl.List(pl.Utf8) = pa.Field()
        refusal: str = pa.Field(nullable=True)
        repetition_ratio: float = pa.Field(ge=0, le=1)
        foreign_script_ratio: float = pa.Field(ge=0, le=1)
        step_count: int = pa.Field(ge=0)
        answer_chars: int = pa.Field(ge=0)
        expert_verdict: str = pa.Field(nullable=True, isin=list(VERDICTS))
        expert_note: str = pa.Field(nullable=True)
        reviewer: str = pa.Field(nullable=True)
        passed: bool
        reject_reasons: pl.List(pl.Utf8) = pa.Field()
        simulated: bool  #: the teacher's or the judge's answer came from the built-in simulator

        class Config:
            strict = True

        @pa.dataframe_check
        @classmethod
        def passed_rows_have_no_reject_reason(cls, data) -> pl.LazyFrame:
            lf = data.lazyframe
            return lf.select((~pl.col("passed")) | (pl.col("reject_reasons").list.len() == 0))

        @pa.dataframe_check
        @classmethod
        def rejected_rows_say_why(cls, data) -> pl.LazyFrame:
            lf = data.lazyframe
            return lf.select(pl.col("passed") | (pl.col("reject_reasons").list.len() > 0))

    return JudgedCotSchema


JudgedCotSchema = judged_cot_schema(CRITERIA)


class EvalTasksSchema(pa.DataFrameModel):
    """`eval_tasks`: seed tasks held out for evaluation (chosen by hash), never trained on."""

    seed_id: str = pa.Field(str_matches=r"^tsk_[0-9a-f]{16}$", unique=True)
    domain: str = pa.Field(str_matches=r"^[a-z0-9_]+$")
    instruction: str
    sensitivity: str = pa.Field(isin=list(SENSITIVITIES))
    origin: str = pa.Field(isin=list(SEED_ORIGINS))
    hash_unit: float = pa.Field(ge=0, lt=1)
    eval_version: str = pa.Field(str_matches=r"^ev-[0-9a-f]{10}$")

    class Config:
        strict = True


SPLITS = ("train", "validation")


class SftDatasetSchema(pa.DataFrameModel):
    """`sft_dataset`: cleaned, redacted, deduplicated training rows of one domain, with their split."""

    row_id: str = pa.Field(unique=True)
    seed_id: str = pa.Field(str_matches=r"^tsk_[0-9a-f]{16}$")
    domain: str = pa.Field(str_matches=r"^[a-z0-9_]+$")
    sample_index: int = pa.Field(ge=0)
    instruction: str = pa.Field(str_length={"min_value": 1})
    reasoning_steps: pl.List(pl.Utf8) = pa.Field()
    answer: str = pa.Field(str_length={"min_value": 1})
    teacher_model: str = pa.Field(nullable=True)
    teacher_template_version: str = pa.Field(nullable=True)
    judge_model: str = pa.Field(nullable=True)
    judge_template_version: str
    dogruluk: int = pa.Field(nullable=True, ge=1, le=5)
    kulturel_uygunluk: int = pa.Field(nullable=True, ge=1, le=5)
    expert_verdict: str = pa.Field(nullable=True, isin=list(VERDICTS))
    completion_tokens: int = pa.Field(ge=0)
    redacted_kinds: pl.List(pl.Utf8) = pa.Field()
    content_hash: str = pa.Field(str_matches=r"^[0-9a-f]{64}$", unique=True)
    split: str = pa.Field(isin=list(SPLITS))
    eval_version: str
    simulated: bool  #: teacher or judge was the built-in simulator (offline demo)

    class Config:
        strict = True


class SftExportSchema(pa.DataFrameModel):
    """`sft_export`: one row per example of the release on disk (train, validation and eval)."""

    release_version: str = pa.Field(str_matches=r"^r-[0-9a-f]{12}$")
    release_dir: str
    split: str = pa.Field(isin=["train", "validation", "eval"])
    domain: str
    domain_label: str  #: from `judged_cot` (hence the seed file), for `student_eval`'s judge prompt
    seed_id: str
    content_hash: str
    user: str
    assistant: str = pa.Field(nullable=True)

    class Config:
        strict = True


def polars_schema(model: type[pa.DataFrameModel]) -> dict[str, pl.DataType]:
    """The polars dtypes of a contract, in column order: frames are built from the contract, never from a
    second hand-written dtype list (adding a column touches the Pandera model only)."""
    return {name: column.dtype.type for name, column in model.to_schema().columns.items()}


SEED_TASKS_DTYPES = polars_schema(SeedTasksSchema)
RAW_COT_DTYPES = polars_schema(RawCotSchema)
JUDGED_COT_DTYPES = polars_schema(JudgedCotSchema)
EVAL_TASKS_DTYPES = polars_schema(EvalTasksSchema)
SFT_DATASET_DTYPES = polars_schema(SftDatasetSchema)
SFT_EXPORT_DTYPES = polars_schema(SftExportSchema)

# Dagster types, built once: two types of one name in a code location are an error.
SeedTasksType = pandera_schema_to_dagster_type(SeedTasksSchema)
RawCotType = pandera_schema_to_dagster_type(RawCotSchema)
JudgedCotType = pandera_schema_to_dagster_type(JudgedCotSchema)
EvalTasksType = pandera_schema_to_dagster_type(EvalTasksSchema)
SftDatasetType = pandera_schema_to_dagster_type(SftDatasetSchema)
SftExportType = pandera_schema_to_dagster_type(SftExportSchema)
