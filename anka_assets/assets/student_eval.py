"""`student_eval`: base vs base + adapter, per domain, on the release's held-out tasks and on a
public Turkish benchmark.

- loss and perplexity of each model on `eval.jsonl`'s reference answers;
- answers from both models (transformers `generate` on CPU, vLLM + LoRARequest on CUDA) and a pairwise
  verdict per task from the judge endpoint through the gateway, asked in both orders (the first drawn
  at random), giving the adapter's win rate;
- TurkMorfBench's core set by option log-likelihood (a sample on the toy model), and TurkishMMLU
  through lm-eval when a local copy is configured.
The `adapter_beats_base` check warns when the adapter is not better than its base. The figures and
the verdict are written into the evaluation section of the adapter's model card (README.md).
"""

import json
import time
from dataclasses import dataclass
from typing import Any

import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, MetadataValue
from pydantic import Field

from anka_assets.assets.curated_seeds import domain_labels
from anka_assets.metadata import md_table
from anka_assets.model_calls import FailedCallsGate, call_figures, status_metadata
from anka_assets.model_stage import Asked, Finished, Generation, ModelStage, StageRun
from anka_assets.model_tasks import PAIRWISE
from anka_assets.parsing import PairwiseVerdict
from anka_assets.student import evaluation, model_card, turkmorf
from anka_assets.student.deps import cuda_available
from anka_assets.student.release import EvalTask, Release, eval_tasks, release_from_export

TOY_TURKMORF_SAMPLE = 200

EVAL_SCHEMA = {
    "domain": pl.Utf8, "suite": pl.Utf8, "tasks": pl.Int64, "reference_tokens": pl.Int64,
    "base_loss": pl.Float64, "adapter_loss": pl.Float64, "base_perplexity": pl.Float64,
    "adapter_perplexity": pl.Float64, "adapter_wins": pl.Int64, "base_wins": pl.Int64, "ties": pl.Int64,
    "judge_errors": pl.Int64, "win_rate": pl.Float64, "base_accuracy": pl.Float64, "adapter_accuracy": pl.Float64,
}


class StudentEvalConfig(FailedCallsGate):
    max_new_tokens: int = Field(default=48, description="Tokens generated per answer (greedy).")
    max_length: int = Field(default=1024, description="Longest prompt + reference scored for loss.")
    generation_backend: str = Field(default="auto", description="'auto' (vLLM on CUDA, else transformers), "
                                    "'transformers' or 'vllm'.")
    judge_temperature: float = Field(default=0.0, description="Judge sampling temperature.")
    judge_max_tokens: int = Field(default=256, description="Completion token limit per pairwise verdict.")
    max_repairs: int = Field(default=1, description="Re-asks after a malformed verdict.")
    seed: int = Field(default=0, description="Seed for the order of answers shown to the judge and for samples.")
    turkmorf_limit: int = Field(default=-1, description="TurkMorfBench items: -1 = all 1,836 on a real model and a "
                                f"{TOY_TURKMORF_SAMPLE}-item sample on the toy; 0 = skip; n = a seeded sample of n.")
    turkishmmlu_path: str = Field(default="", description="Local copy of the TurkishMMLU dataset; blank = skip. "
                                  "Needs lm-eval (extra `turkishmmlu`).")
    turkishmmlu_limit: int = Field(default=0, description="Questions per TurkishMMLU subject; 0 = all.")
    min_win_rate: float = Field(default=0.5, description="The adapter beats its base above this judge win rate.")


def _fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def report_markdown(rows: list[dict], toy: bool, version: str, notes: list[str]) -> str:
    header = ["domain", "suite", "tasks", "loss base", "loss adapter", "ppl base", "ppl adapter",
              "wins adapter/base/tie", "win rate", "acc base", "acc adapter"]
    body = [(r["domain"], r["suite"], r["tasks"], _fmt(r["base_loss"]), _fmt(r["adapter_loss"]),
             _fmt(r["base_perplexity"], 1), _fmt(r["adapter_perplexity"], 1),
             f"{r['adapter_wins']}/{r['base_wins']}/{r['ties']}" if r["suite"] == "eval_tasks" else "–",
             _fmt(r["win_rate"]), _fmt(r["base_accuracy"]), _fmt(r["adapter_accuracy"])) for r in rows]
    title = f"### Student evaluation: `{version}`" + (" (TOY model: figures mean nothing)" if toy else "")
    return "\n\n".join([title, md_table(body, header), *[f"- {n}" for n in notes]])


def beats_base(overall: dict, min_win_rate: float) -> tuple[bool, list[str]]:
    """The adapter beats its base when its reference loss is lower and its judge win rate is above
    the floor (each criterion only when measured). Pure."""
    failures = []
    if overall["base_loss"] is not None and overall["adapter_loss"] is not None \
            and not overall["adapter_loss"] < overall["base_loss"]:
        failures.append(f"reference loss {overall['adapter_loss']:.4f} is not below the base's {overall['base_loss']:.4f}")
    if overall["win_rate"] is not None and not overall["win_rate"] > min_win_rate:
        failures.append(f"judge win rate {overall['win_rate']:.3f} is not above {min_win_rate}")
    if overall["base_loss"] is None and overall["win_rate"] is None:
        failures.append("nothing measured: no references and no judged pairs")
    return not failures, failures


TOY_NOTE = ("TOY base model (random weights, tokenizer trained on the project's text): the figures only "
            "show that the pipeline runs.")


@dataclass(frozen=True)
class Generated:
    """Both models' answers to the held-out tasks, and how they were generated."""

    base: list[str]
    adapter: list[str]
    backend: str  #: "vllm" or "transformers"
    metadata: dict[str, Any]


@dataclass(frozen=True)
class EvalWork:
    """Everything measured before the judge is asked: the adapter, the release's held-out tasks, the
    reference losses, both models' answers and the pairwise plan."""

    adapter: dict[str, Any]
    release: Release
    tasks: list[EvalTask]
    notes: list[str]
    started: float
    student: tuple[Any, Any]  #: (tokenizer, model), the adapter switchable off for the base
    base_nll: list[tuple[float, int]]
    adapter_nll: list[tuple[float, int]]
    answers: Generated
    plans: list[evaluation.PairPlan]
    judging: evaluation.JudgePlan

    @property
    def toy(self) -> bool:
        return bool(self.adapter["toy"])


def generate(cfg: StudentEvalConfig, adapter: dict[str, Any], student: tuple[Any, Any], tasks: list[EvalTask]) -> Generated:
    """Greedy answers of the base and of base + adapter: vLLM with a LoRARequest on CUDA, else transformers."""
    use_vllm = cfg.generation_backend == "vllm" or (cfg.generation_backend == "auto" and cuda_available())
    if use_vllm:
        rank = int(json.loads(adapter["hyperparameters"])["r"])
        base, tuned, meta = evaluation.generate_answers_vllm(
            adapter["base_model_path"], adapter["adapter_dir"], tasks, max_new_tokens=cfg.max_new_tokens,
            max_lora_rank=rank)
        return Generated(base, tuned, "vllm", meta)
    tokenizer, model = student
    base, tuned = (evaluation.generate_answers(model, tokenizer, tasks, adapter=on, max_new_tokens=cfg.max_new_tokens)
                   for on in (False, True))
    return Generated(base, tuned, "transformers", {})


def _prepare(run: StageRun, domain: None) -> EvalWork:
    cfg, sft_export = run.config, run.inputs["sft_export"]
    adapter = run.inputs["lora_adapter"].row(0, named=True)
    release = release_from_export(sft_export)
    if release.version != adapter["release_version"]:
        run.log.warning("adapter %s was trained on release %s; evaluating on release %s",
                        adapter["version"], adapter["release_version"], release.version)
    tasks = eval_tasks(release)
    started = time.perf_counter()
    tokenizer, model = evaluation.load_student(adapter["base_model_path"], adapter["adapter_dir"])
    base_nll, adapter_nll = (evaluation.reference_nll(model, tokenizer, tasks, adapter=on, max_length=cfg.max_length)
                             for on in (False, True))
    answers = generate(cfg, adapter, (tokenizer, model), tasks)
    plans = evaluation.plan_pairs(tasks, cfg.seed)
    rows = evaluation.pairwise_rows(tasks, plans, answers.base, answers.adapter,
                                    domain_labels(sft_export))  # the seed files' labels, stored
    # empty answers lose without the judge; one payload is asked once whatever its cache key
    judging = evaluation.plan_judging(rows, PAIRWISE.variables)
    return EvalWork(adapter, release, tasks, [TOY_NOTE] if adapter["toy"] else [], started, (tokenizer, model),
                    base_nll, adapter_nll, answers, plans, judging)


def judge_requests(run: StageRun, work: EvalWork) -> list[dict[str, Any]]:
    """The pairwise rows the judge is asked, each with its task's domain (the failed-calls gate is per domain)."""
    domain_of = {t.seed_id: t.domain for t in work.tasks}
    return [{**row, "domain": domain_of[row["seed_id"]]} for row in work.judging.ask]


def turkmorf_rows(cfg: StudentEvalConfig, work: EvalWork) -> tuple[list[dict[str, Any]], str]:
    """TurkMorfBench's core set by option log-likelihood (a sample on the toy model): its row and note."""
    limit = cfg.turkmorf_limit if cfg.turkmorf_limit >= 0 else (TOY_TURKMORF_SAMPLE if work.toy else None)
    if limit == 0:
        return [], "TurkMorfBench skipped (turkmorf_limit = 0)."
    tokenizer, model = work.student
    items, total = turkmorf.load_items(limit, seed=cfg.seed)
    base_acc, adapter_acc = (turkmorf.accuracy(model, tokenizer, items, adapter=on) for on in (False, True))
    row = {**{k: None for k in EVAL_SCHEMA}, "domain": "turkmorfbench", "suite": "turkmorfbench",
           "tasks": len(items), "base_accuracy": base_acc, "adapter_accuracy": adapter_acc}
    return [row], (f"TurkMorfBench core: {len(items)} of {total} items"
                   + (" (seeded sample)" if len(items) < total else " (full set)") + ", option log-likelihood.")


def turkishmmlu_rows(cfg: StudentEvalConfig, adapter: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """TurkishMMLU through lm-eval when a local copy is configured: its row and note."""
    if not cfg.turkishmmlu_path:
        return [], "TurkishMMLU skipped: no local copy configured (turkishmmlu_path)."
    from anka_assets.student import turkishmmlu

    mmlu = turkishmmlu.evaluate(adapter["base_model_path"], adapter["adapter_dir"], cfg.turkishmmlu_path,
                                cfg.turkishmmlu_limit or None)
    row = {**{k: None for k in EVAL_SCHEMA}, "domain": "turkishmmlu", "suite": "turkishmmlu",
           "tasks": int(mmlu["items"]), "base_accuracy": mmlu["base_accuracy"], "adapter_accuracy": mmlu["adapter_accuracy"]}
    missing = mmlu.get("missing_subjects") or []
    return [row], (f"TurkishMMLU: {mmlu['items']} items over {mmlu['subjects']} subjects (lm-eval, zero-shot)"
                   + (f"; not in the local copy: {', '.join(missing)}" if missing else "") + ".")


def eval_frame(rows: list[dict[str, Any]], work: EvalWork, judge_model: str) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=EVAL_SCHEMA).with_columns(
        pl.lit(work.adapter["version"]).alias("adapter_version"), pl.lit(work.adapter["base_model"]).alias("base_model"),
        pl.lit(work.release.version).alias("release_version"), pl.lit(work.toy).alias("toy"),
        pl.lit(judge_model).alias("judge_model"))


def _finish(run: StageRun, work: EvalWork, asked: Asked[PairwiseVerdict]) -> Finished:
    cfg, adapter = run.config, work.adapter
    outcomes = evaluation.task_outcomes(work.plans, evaluation.plan_verdicts(work.judging, [a.parsed for a in asked.answers]))
    rows = evaluation.domain_rows(work.tasks, work.base_nll, work.adapter_nll, outcomes)
    notes = list(work.notes)
    for extra, note in (turkmorf_rows(cfg, work), turkishmmlu_rows(cfg, adapter)):
        rows += extra
        notes.append(note)
    judge_model = run.gateway.settings.model
    df = eval_frame(rows, work, judge_model)
    overall = next(r for r in rows if r["domain"] == "ALL")
    passed, failures = beats_base(overall, cfg.min_win_rate)
    report = report_markdown(rows, work.toy, adapter["version"], notes)
    card = model_card.write_evaluation(adapter["adapter_dir"], model_card.evaluation_markdown(
        report, release_version=work.release.version, trained_on=adapter["release_version"], judge_model=judge_model,
        tasks=len(work.tasks), passed=passed, failures=failures))
    preview = [(t.domain, t.instruction, b, a, o) for t, b, a, o in
               zip(work.tasks, work.answers.base, work.answers.adapter, outcomes)][:6]
    return Finished(df, {
        "dagster/row_count": len(df),
        "adapter_version": adapter["version"],
        "toy_model": work.toy,
        "eval_tasks": len(work.tasks),
        "win_rate": MetadataValue.float(float(overall["win_rate"]) if overall["win_rate"] is not None else float("nan")),
        "generation_backend": work.answers.backend,
        "wall_time_s": MetadataValue.float(round(time.perf_counter() - work.started, 2)),
        "report": MetadataValue.md(report),
        "adapter_card": MetadataValue.path(str(card)),
        "answers_preview": MetadataValue.md(md_table(preview, ["domain", "task", "base", "adapter", "judged"], 60)),
        **status_metadata([a.status for a in asked.answers], prefix="judge_status"),
        "judge_settled_empty_answer": work.judging.settled,
        "judge_shared_payload": work.judging.shared,
        **call_figures(asked.run.calls, prefix="judge_"),
        **work.answers.metadata,
    })


def adapter_check(run: StageRun, df: pl.DataFrame) -> list[AssetCheckResult]:
    """`adapter_beats_base`, from the stored table's ALL row (the same rule the card's verdict follows)."""
    passed, failures = beats_base(df.filter(pl.col("domain") == "ALL").row(0, named=True), run.config.min_win_rate)
    return [AssetCheckResult(
        check_name="adapter_beats_base", passed=passed, severity=AssetCheckSeverity.WARN,
        metadata={"failures": MetadataValue.md("\n".join(f"- {f}" for f in failures) or "none"),
                  "toy_model": bool(df["toy"][0])},
    )]


STUDENT_EVAL: ModelStage[StudentEvalConfig, EvalWork, PairwiseVerdict] = ModelStage(
    name="student_eval", task=PAIRWISE, endpoint="judge", pool="student", config=StudentEvalConfig,
    inputs=("lora_adapter", "sft_export"),
    generation=lambda cfg: Generation({"temperature": cfg.judge_temperature, "max_tokens": cfg.judge_max_tokens},
                                      cfg.max_repairs),
    prepare=_prepare, requests=judge_requests, finish=_finish, checks=adapter_check,
    asset_args=dict(
        group_name="student",
        kinds={"duckdb", "polars", "pytorch"},
        check_specs=[AssetCheckSpec("adapter_beats_base", asset="student_eval",
                                    description="Warns when the adapter's reference loss is not below its base's or "
                                    "its judge win rate is not above StudentEvalConfig.min_win_rate.")],
        description="Base vs base + adapter per domain: reference loss and perplexity, pairwise judge win rate on "
        "held-out tasks, and TurkMorfBench (and TurkishMMLU when configured) accuracy.",
    ),
)

student_eval = STUDENT_EVAL.build()
