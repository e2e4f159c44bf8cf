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

import time

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from anka_assets.assets.curated_seeds import domain_labels
from anka_assets.gateway import CallLedger, ModelEndpoint
from anka_assets.metadata import md_table
from anka_assets.model_calls import FailedCallsGate, call_figures, call_healths, gate_calls, status_metadata
from anka_assets.model_tasks import PAIRWISE, run_task
from anka_assets.resources import RefineryPaths
from anka_assets.student import evaluation, model_card, turkmorf
from anka_assets.student.deps import cuda_available
from anka_assets.student.release import eval_tasks, release_from_export

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


@asset(
    name="student_eval",
    ins={"lora_adapter": AssetIn(key=AssetKey("lora_adapter")), "sft_export": AssetIn(key=AssetKey("sft_export"))},
    group_name="student",
    pool="student",
    kinds={"duckdb", "polars", "pytorch"},
    check_specs=[AssetCheckSpec("adapter_beats_base", asset="student_eval",
                                description="Warns when the adapter's reference loss is not below its base's or "
                                "its judge win rate is not above StudentEvalConfig.min_win_rate.")],
    description="Base vs base + adapter per domain: reference loss and perplexity, pairwise judge win rate on "
    "held-out tasks, and TurkMorfBench (and TurkishMMLU when configured) accuracy.",
)
def student_eval(context: AssetExecutionContext, config: StudentEvalConfig, paths: RefineryPaths,
                 judge: ModelEndpoint, lora_adapter: pl.DataFrame, sft_export: pl.DataFrame):
    adapter = lora_adapter.row(0, named=True)
    toy = bool(adapter["toy"])
    release = release_from_export(sft_export)
    if release.version != adapter["release_version"]:
        context.log.warning("adapter %s was trained on release %s; evaluating on release %s",
                            adapter["version"], adapter["release_version"], release.version)
    tasks = eval_tasks(release)
    notes = []
    if toy:
        notes.append("TOY base model (random weights, tokenizer trained on the project's text): the figures only "
                     "show that the pipeline runs.")
    started = time.perf_counter()
    tokenizer, model = evaluation.load_student(adapter["base_model_path"], adapter["adapter_dir"])
    base_nll = evaluation.reference_nll(model, tokenizer, tasks, adapter=False, max_length=config.max_length)
    adapter_nll = evaluation.reference_nll(model, tokenizer, tasks, adapter=True, max_length=config.max_length)

    use_vllm = config.generation_backend == "vllm" or (config.generation_backend == "auto" and cuda_available())
    gen_meta = {}
    if use_vllm:
        rank = int(__import__("json").loads(adapter["hyperparameters"])["r"])
        base_answers, adapter_answers, gen_meta = evaluation.generate_answers_vllm(
            adapter["base_model_path"], adapter["adapter_dir"], tasks, max_new_tokens=config.max_new_tokens,
            max_lora_rank=rank)
    else:
        base_answers = evaluation.generate_answers(model, tokenizer, tasks, adapter=False,
                                                   max_new_tokens=config.max_new_tokens)
        adapter_answers = evaluation.generate_answers(model, tokenizer, tasks, adapter=True,
                                                      max_new_tokens=config.max_new_tokens)

    plans = evaluation.plan_pairs(tasks, config.seed)
    rows = evaluation.pairwise_rows(tasks, plans, base_answers, adapter_answers,
                                    domain_labels(sft_export))  # the seed files' labels, stored
    gateway = judge.open_gateway(paths.warehouse, log=context.log)
    # empty answers lose without the judge; one payload is asked once whatever its cache key
    judging = evaluation.plan_judging(rows, PAIRWISE.variables)
    judged = run_task(PAIRWISE, gateway, judging.ask, asset="student_eval", partition=None, run_id=context.run_id,
                      params={"temperature": config.judge_temperature, "max_tokens": config.judge_max_tokens},
                      max_repairs=config.max_repairs) if judging.ask else None
    answers = judged.answers if judged else []
    domain_of = {t.seed_id: t.domain for t in tasks}
    health_meta = gate_calls("student_eval", call_healths([domain_of[r["seed_id"]] for r in judging.ask], answers,
                                                          config.max_failed_share), context.log)
    outcomes = evaluation.task_outcomes(plans, evaluation.plan_verdicts(judging, [a.parsed for a in answers]))
    rows = evaluation.domain_rows(tasks, base_nll, adapter_nll, outcomes)

    limit = config.turkmorf_limit if config.turkmorf_limit >= 0 else (TOY_TURKMORF_SAMPLE if toy else None)
    if limit != 0:
        items, total = turkmorf.load_items(limit, seed=config.seed)
        base_acc = turkmorf.accuracy(model, tokenizer, items, adapter=False)
        adapter_acc = turkmorf.accuracy(model, tokenizer, items, adapter=True)
        rows.append({**{k: None for k in EVAL_SCHEMA}, "domain": "turkmorfbench", "suite": "turkmorfbench",
                     "tasks": len(items), "base_accuracy": base_acc, "adapter_accuracy": adapter_acc})
        notes.append(f"TurkMorfBench core: {len(items)} of {total} items"
                     + (" (seeded sample)" if len(items) < total else " (full set)") + ", option log-likelihood.")
    else:
        notes.append("TurkMorfBench skipped (turkmorf_limit = 0).")
    if config.turkishmmlu_path:
        from anka_assets.student import turkishmmlu

        mmlu = turkishmmlu.evaluate(adapter["base_model_path"], adapter["adapter_dir"], config.turkishmmlu_path,
                                    config.turkishmmlu_limit or None)
        rows.append({**{k: None for k in EVAL_SCHEMA}, "domain": "turkishmmlu", "suite": "turkishmmlu",
                     "tasks": int(mmlu["items"]), "base_accuracy": mmlu["base_accuracy"],
                     "adapter_accuracy": mmlu["adapter_accuracy"]})
        missing = mmlu.get("missing_subjects") or []
        notes.append(f"TurkishMMLU: {mmlu['items']} items over {mmlu['subjects']} subjects (lm-eval, zero-shot)"
                     + (f"; not in the local copy: {', '.join(missing)}" if missing else "") + ".")
    else:
        notes.append("TurkishMMLU skipped: no local copy configured (turkishmmlu_path).")

    df = pl.DataFrame(rows, schema=EVAL_SCHEMA).with_columns(
        pl.lit(adapter["version"]).alias("adapter_version"), pl.lit(adapter["base_model"]).alias("base_model"),
        pl.lit(release.version).alias("release_version"), pl.lit(toy).alias("toy"),
        pl.lit(gateway.settings.model).alias("judge_model"))
    overall = next(r for r in rows if r["domain"] == "ALL")
    passed, failures = beats_base(overall, config.min_win_rate)
    card = model_card.write_evaluation(adapter["adapter_dir"], model_card.evaluation_markdown(
        report_markdown(rows, toy, adapter["version"], notes), release_version=release.version,
        trained_on=adapter["release_version"], judge_model=gateway.settings.model, tasks=len(tasks),
        passed=passed, failures=failures))
    preview = [(t.domain, t.instruction, b, a, o) for t, b, a, o in
               zip(tasks, base_answers, adapter_answers, outcomes)][:6]
    yield Output(df, metadata={
        **health_meta,
        "dagster/row_count": len(df),
        "adapter_version": adapter["version"],
        "toy_model": toy,
        "eval_tasks": len(tasks),
        "win_rate": MetadataValue.float(float(overall["win_rate"]) if overall["win_rate"] is not None else float("nan")),
        "generation_backend": "vllm" if use_vllm else "transformers",
        "wall_time_s": MetadataValue.float(round(time.perf_counter() - started, 2)),
        "report": MetadataValue.md(report_markdown(rows, toy, adapter["version"], notes)),
        "adapter_card": MetadataValue.path(str(card)),
        "answers_preview": MetadataValue.md(md_table(preview, ["domain", "task", "base", "adapter", "judged"], 60)),
        **status_metadata([a.status for a in answers], prefix="judge_status"),
        "judge_settled_empty_answer": judging.settled,
        "judge_shared_payload": judging.shared,
        **call_figures(judged.calls if judged else CallLedger(), prefix="judge_"),
        **gen_meta,
    })
    yield AssetCheckResult(
        check_name="adapter_beats_base", passed=passed, severity=AssetCheckSeverity.WARN,
        metadata={"failures": MetadataValue.md("\n".join(f"- {f}" for f in failures) or "none"),
                  "toy_model": toy},
    )
