"""`judged_cot`: judge scores, deterministic signals and expert verdicts decide what is fit to teach.

For every `raw_cot` row: the judge (`ANKA_JUDGE_*`) scores ok answers with a Turkish rubric as JSON
(malformed verdicts are re-asked, then recorded as `judge_error`, never passed); pure checks add
language, personal data, refusal, repetition, length, reasoning steps and foreign-script signals; an
expert verdict from `data/reviews/<domain>.csv` overrides the judge. `passed` and `reject_reasons`
follow from `decide`, a pure function of the row and the thresholds in `JudgeConfig`.
Expert verdict files are the `expert_reviews` source asset, so a saved file marks this asset stale.
"""

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
)
from dagster import Config
from pydantic import Field

from anka_assets import judge_criteria
from anka_assets import reasons as rs
from anka_assets.assets.curated_seeds import with_domain_label
from anka_assets.gateway import CallLedger
from anka_assets.metadata import md_bar_chart, md_preview, md_table
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
from anka_assets.model_tasks import JUDGE
from anka_assets.parsing import JudgeVerdict
from anka_assets.judge_criteria import Criterion
from anka_assets.reasons import check_reason, count_reasons, reason_metadata
from anka_assets.review import ExpertVerdict, load_reviews
from anka_assets.schemas import JUDGED_COT_DTYPES, JudgedCotType
from anka_assets.simulated import is_simulated_model
from anka_assets.text.pii import find_pii
from anka_assets.text.signals import (
    detect_language,
    foreign_script_ratio,
    is_refusal,
    reasoning_step_count,
    repetition_ratio,
)


#: The judge criteria's thresholds (`min_dogruluk`, `min_kulturel_uygunluk`, `reject_hallucination`, ...),
#: declared with each criterion in `judge_criteria.CRITERIA`.
JudgeThresholds = judge_criteria.config_model(Config)


class JudgeConfig(FailedCallsGate, JudgeThresholds):
    language: str = Field(default="tr", description="Required language (ISO 639-1) of reasoning and answer.")
    min_reasoning_steps: int = Field(default=2, description="Fewest numbered reasoning steps.")
    min_answer_chars: int = Field(default=20, description="Shortest acceptable final answer.")
    max_answer_chars: int = Field(default=8000, description="Longest acceptable final answer.")
    max_repetition_ratio: float = Field(default=0.3, description="Highest share of repeated word 3-grams.")
    max_foreign_script_ratio: float = Field(default=0.02, description="Highest share of non-Latin letters.")
    reject_personal_data: bool = Field(
        default=False,
        description="Reject answers containing personal data; off: keep them, sft_dataset redacts with placeholders.",
    )
    pass_rate_floor: float = Field(default=0.5, description="Pass rate under which the `pass_rate` check warns.")
    temperature: float = Field(default=0.0, description="Judge sampling temperature.")
    max_tokens: int = Field(default=512, description="Completion token limit per verdict.")
    max_repairs: int = Field(default=2, description="Re-asks after a malformed verdict before it is a judge_error.")


def text_signals(steps: Sequence[str], answer: str | None) -> dict[str, Any]:
    """Deterministic signals over one answer. Pure."""
    reasoning = "\n".join(steps)
    answer = answer or ""
    both = f"{reasoning}\n{answer}"
    return {
        "language_reasoning": detect_language(reasoning) if reasoning else None,
        "language_answer": detect_language(answer) if answer else None,
        "pii_kinds": sorted({m.kind for m in find_pii(both, mode="egress")}),
        "refusal": is_refusal(both),
        "repetition_ratio": float(repetition_ratio(both)),
        "foreign_script_ratio": float(foreign_script_ratio(both)),
        "step_count": reasoning_step_count(steps),
        "answer_chars": len(answer),
    }


def decide(row: Mapping[str, Any], cfg: JudgeConfig, expert: ExpertVerdict | None,
           criteria: Sequence[Criterion] = judge_criteria.CRITERIA) -> tuple[bool, list[str]]:
    """(passed, reject_reasons) for one judged row, every reason from `anka_assets.reasons`. Pure.

    The judge's part is the criteria's pass rules (`judge_criteria.rule_reasons`). An expert's verdict
    overrides the judge and the soft signals; nothing overrides a missing answer.
    """
    if row["teacher_status"] != "ok":
        return False, [check_reason(f"teacher_{row['teacher_status']}")]
    if expert is not None:
        return (True, []) if expert.verdict == "approve" else (False, [rs.EXPERT_REJECT])
    reasons = []
    if row["judge_status"] != "ok":
        status = row["judge_status"]
        reasons.append(check_reason(status if status.startswith("judge_") else f"judge_{status}"))
    else:
        reasons.extend(judge_criteria.rule_reasons(row, cfg, criteria))
    reasons.extend(signal_reasons(row, cfg))
    return not reasons, reasons


def signal_reasons(row: Mapping[str, Any], cfg: JudgeConfig) -> list[str]:
    """The deterministic signals' reject reasons for one row (see `text_signals`). Pure."""
    # None means "too short to tell": length checks below catch empty answers.
    checks = (
        (rs.WRONG_LANGUAGE_REASONING, row["language_reasoning"] not in (None, cfg.language)),
        (rs.WRONG_LANGUAGE_ANSWER, row["language_answer"] not in (None, cfg.language)),
        (rs.REFUSAL, bool(row["refusal"])),
        (rs.TOO_FEW_STEPS, row["step_count"] < cfg.min_reasoning_steps),
        (rs.ANSWER_TOO_SHORT, row["answer_chars"] < cfg.min_answer_chars),
        (rs.ANSWER_TOO_LONG, row["answer_chars"] > cfg.max_answer_chars),
        (rs.REPETITION, row["repetition_ratio"] > cfg.max_repetition_ratio),
        (rs.FOREIGN_SCRIPT, row["foreign_script_ratio"] > cfg.max_foreign_script_ratio),
        (rs.PERSONAL_DATA, cfg.reject_personal_data and bool(row["pii_kinds"])),
    )
    return [reason for reason, failed in checks if failed]


#: The verdict's fields, one column each in `judged_cot`, from `judge_criteria.CRITERIA`.
VERDICT_FIELDS = judge_criteria.VERDICT_FIELDS


def judge_fields(answer: Answer[JudgeVerdict] | None) -> dict[str, Any]:
    if answer is None:
        return {"judge_model": None, "judge_status": "skipped", "judge_error": None,
                **dict.fromkeys(VERDICT_FIELDS),
                "judge_cached": False, "judge_truncated": False, "judge_prompt_tokens": 0, "judge_completion_tokens": 0, "judge_cost": 0.0}
    v, r = answer.parsed, answer.result
    status = {"ok": "ok", "parse_error": "judge_error"}.get(answer.status, answer.status)
    made = [h for h in answer.history if not h.cached]
    return {
        "judge_model": r.model, "judge_status": status,
        "judge_error": answer.error,
        **{name: getattr(v, name) if v else None for name in VERDICT_FIELDS},
        "judge_cached": all(h.cached for h in answer.history),
        "judge_truncated": answer.truncated,
        "judge_prompt_tokens": sum(h.prompt_tokens for h in made),
        "judge_completion_tokens": sum(h.completion_tokens for h in made),
        "judge_cost": float(sum(h.cost for h in made)),
    }


def judged_rows(raw: pl.DataFrame, answers: Mapping[str, Answer[JudgeVerdict]], experts: Mapping[str, ExpertVerdict],
                cfg: JudgeConfig, judge_template_version: str) -> pl.DataFrame:
    rows = []
    for r in with_domain_label(raw).iter_rows(named=True):
        steps = list(r["reasoning_steps"] or [])
        expert = experts.get(r["row_id"])
        row = {
            "row_id": r["row_id"], "seed_id": r["seed_id"], "domain": r["domain"], "domain_label": r["domain_label"],
            "sample_index": r["sample_index"], "instruction": r["instruction"], "sensitivity": r["sensitivity"],
            "origin": r["origin"],
            "reasoning_steps": steps, "answer": r["answer"], "teacher_model": r["teacher_model"],
            "teacher_status": r["status"], "judge_template_version": judge_template_version,
            **judge_fields(answers.get(r["row_id"])),
            **text_signals(steps, r["answer"]),
            "expert_verdict": expert.verdict if expert else None,
            "expert_note": expert.note if expert else None,
            "reviewer": expert.reviewer if expert else None,
        }
        row["passed"], row["reject_reasons"] = decide(row, cfg, expert)
        row["simulated"] = bool(r.get("simulated")) or is_simulated_model(row["judge_model"])
        rows.append(row)
    return pl.DataFrame(rows, schema=JUDGED_COT_DTYPES)


def score_distribution(df: pl.DataFrame) -> str:
    """Judge scores 1–5 of the judged rows, as a bar chart (rendered by the UI) with the numbers below."""
    judged = df.filter(pl.col("judge_status") == "ok")
    counts = {
        c.label: {score: int((judged[c.name] == score).sum())
                  for score in range(judge_criteria.SCORE_MIN, judge_criteria.SCORE_MAX + 1)}
        for c in judge_criteria.scores()
    }
    return md_bar_chart(counts, f"Hakem puanları ({len(judged)} yanıt)", alt="score distribution")


def reject_reason_chart(reasons: Counter) -> str:
    """Rows rejected per reason, as a bar chart with the numbers below (a table when nothing was rejected)."""
    if not reasons:
        return md_table([], ["reason", "rows"])
    return md_bar_chart({"rows": dict(reasons)}, "Ret nedenleri", alt="reject reasons")


def domain_metadata(df: pl.DataFrame, calls: CallLedger, unmatched: Sequence[str],
                    health: CallHealth) -> dict[str, Any]:
    """One domain's figures, for its own partition."""
    passed = int(df["passed"].sum())
    reasons = count_reasons(df["reject_reasons"].to_list())
    meta: dict[str, Any] = {
        "dagster/row_count": len(df),
        "passed": passed,
        "pass_rate": MetadataValue.float(rate(passed, len(df))),
        **status_metadata(df["judge_status"].to_list(), prefix="judge_status"),
        **truncation_metadata(df["judge_truncated"].to_list(), df["judge_status"].is_in(["ok", "judge_error"]).to_list(),
                              prefix="judge_"),
        "reject_reasons": MetadataValue.md(reject_reason_chart(reasons)),
        **reason_metadata(dict(sorted(reasons.items())), "rejected_"),
        "expert_verdicts": int(df["expert_verdict"].is_not_null().sum()),
        "score_distribution": MetadataValue.md(score_distribution(df)),
        **call_figures(calls),
        "preview_passed": MetadataValue.md(md_preview(
            df.filter(pl.col("passed")), ["row_id", "instruction", "answer", "dogruluk", "kulturel_uygunluk"], n=5, width=120)),
        "preview_rejected": MetadataValue.md(md_preview(
            df.filter(~pl.col("passed")), ["row_id", "reject_reasons", "judge_error", "answer"], n=10, width=120)),
    }
    if unmatched:
        meta["reviews_unmatched"] = MetadataValue.json(list(unmatched[:20]))
    if health.failed:
        meta["model_call_failures"] = health.describe()
    return meta


def pass_rate_check(df: pl.DataFrame, domains: Sequence[str], floor: float) -> AssetCheckResult:
    """The `pass_rate` check over the domains of one run: which it covers, each one's rate, which failed."""
    rates = {}
    for domain in domains:
        rows = df.filter(pl.col("domain") == domain)
        rates[domain] = rate(int(rows["passed"].sum()), len(rows))
    below = [d for d in domains if rates[d] < floor]
    return AssetCheckResult(
        check_name="pass_rate", passed=not below, severity=AssetCheckSeverity.WARN,
        description=f"domains: {', '.join(domains) or 'no domain'}"
        + (f"; under the floor {floor}: {', '.join(below)}" if below else ""),
        metadata={"domains": MetadataValue.json(list(domains)), "pass_rate_by_domain": MetadataValue.json(rates),
                  "failed_domains": MetadataValue.json(below), "floor": MetadataValue.float(floor),
                  "pass_rate": MetadataValue.float(rate(int(df["passed"].sum()), len(df)))},
    )


@dataclasses.dataclass(frozen=True)
class JudgeWork:
    """One domain's `raw_cot` rows, its expert verdicts and the review rows that match no row."""

    raw: pl.DataFrame
    experts: Mapping[str, ExpertVerdict]
    unmatched: list[str]

    @property
    def ok_rows(self) -> pl.DataFrame:
        """The rows the judge is asked about: the teacher's ok answers."""
        return self.raw.filter(pl.col("status") == "ok")


def _prepare(run: StageRun, domain: str) -> JudgeWork:
    raw = with_domain_label(run.domain_rows("raw_cot", domain))  # the seed file's label, stored
    experts = load_reviews(Path(run.paths.reviews_dir) / f"{domain}.csv")
    return JudgeWork(raw, experts, sorted(set(experts) - set(raw["row_id"].to_list())))


def _finish(run: StageRun, work: JudgeWork, asked: Asked[JudgeVerdict]) -> Finished:
    answers = dict(zip(work.ok_rows["row_id"].to_list(), asked.answers))
    frame = judged_rows(work.raw, answers, work.experts, run.config, run.template.version)
    return Finished(frame, domain_metadata(frame, asked.run.calls, work.unmatched, asked.health))


def run_metadata(run: StageRun) -> dict[str, Any]:
    """Run-wide facts; each domain's figures are on its own partition."""
    return {
        "judge_capabilities": MetadataValue.json(dict(run.gateway.capabilities)),
        "judge_endpoint": run.gateway.settings.endpoint,
        "judge_model": run.gateway.settings.model,
        "template_version": run.template.version,
    }


JUDGED_COT: ModelStage[JudgeConfig, JudgeWork, JudgeVerdict] = ModelStage(
    name="judged_cot", task=JUDGE, endpoint="judge", config=JudgeConfig, inputs=("raw_cot",),
    generation=lambda cfg: Generation({"temperature": cfg.temperature, "max_tokens": cfg.max_tokens}, cfg.max_repairs),
    prepare=_prepare, requests=lambda run, work: list(work.ok_rows.iter_rows(named=True)), finish=_finish,
    run_metadata=run_metadata, empty=lambda: pl.DataFrame(schema=JUDGED_COT_DTYPES),
    checks=lambda run, df: [pass_rate_check(df, list(run.context.partition_keys), run.config.pass_rate_floor)],
    asset_args=dict(
        dagster_type=JudgedCotType,
        check_specs=[AssetCheckSpec("pass_rate", asset="judged_cot",
                                    description="Share of passed rows is at least JudgeConfig.pass_rate_floor.")],
        group_name="distillation",
        deps=["expert_reviews"],
        description="Judge scores (doğruluk, kültürel uygunluk, halüsinasyon), deterministic signals (language, "
        "personal data, refusal, repetition, length, steps, foreign script) and expert verdicts, with a pass "
        "flag and reject reasons for every raw_cot row.",
    ),
)

build_judged_cot = JUDGED_COT.build
