"""`sft_export`: every domain's cleaned rows as one versioned release a trainer reads as is.

Cross-domain dedup, decontamination against `eval_tasks` (word 8-grams after Turkish folding plus a
character-window check), then `<exports_dir>/<release_version>/` with `train.jsonl` /
`validation.jsonl` (`messages`), `prompt_completion/`, `eval.jsonl`, `parquet/`, `hf/` (DatasetDict),
a dataset card (the funnel per domain from the stored tables, the domains covered and missing, the
models and settings that produced the rows as their raw_cot / judged_cot partitions recorded them, see
`provenance.py`) and a manifest (see `anka_assets/release/` and docs). Same inputs → same version → no files
written. Blocking checks: valid chats, no personal data in any exported text, no train/eval overlap;
when one fails the release is withheld (not written) and the run fails.
"""

from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    PartitionsDefinition,
    Config,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from anka_assets import drop_ledger
from anka_assets.assets.curated_seeds import domain_labels
from anka_assets.cleaning import DedupSettings, drop_counts, rank_samples, redact_sample
from anka_assets.metadata import md_table
from anka_assets.provenance import group_by_record, recorded
from anka_assets.release import (
    EvalIndex,
    Layout,
    Release,
    decontaminate,
    deduplicated,
    eval_overlaps,
    funnel_markdown,
    funnel_problems,
    funnel_row,
    funnel_total,
    invalid_chats,
    pii_findings,
    release_files,
    write_release,
)
from anka_assets.resources import RefineryPaths
from anka_assets.schemas import SFT_EXPORT_DTYPES, SftExportType
from anka_assets.seed_loader import default_domain_label
from anka_assets.text.normalize import content_hash
from anka_assets.text.pii import redact

CHECKS = ("valid_chats", "no_personal_data", "no_eval_overlap")


class SftExportConfig(Config):
    system_prompt: str | None = Field(default=None, description="Optional system message of every example.")
    assistant_template: str = Field(default="<think>\n{reasoning}\n</think>\n\n{answer}",
                                    description="Assistant turn; {reasoning} = the steps joined, {answer}.")
    step_separator: str = Field(default="\n", description="Joins the reasoning steps inside {reasoning}.")
    dedup_threshold: float = Field(default=0.7, description="Cross-domain near-duplicate Jaccard threshold.")
    decontaminate: bool = Field(default=True, description="Drop rows overlapping an eval task (off: only the check sees them).")
    decontam_ngram: int = Field(default=8, description="Word n-gram size of the decontamination (after Turkish folding).")
    decontam_window: int = Field(default=50, description="Character window (folded, without spaces) of the decontamination.")
    name: str = Field(default="Yüksek Kaliteli Türkçe Mantık Seti", description="Dataset name on the card.")
    license: str = Field(default="apache-2.0", description="License on the dataset card.")

    def layout(self) -> Layout:
        return Layout(self.system_prompt, self.assistant_template, self.step_separator)


def eval_rows(eval_tasks: pl.DataFrame, judged: pl.DataFrame, layout: Layout) -> tuple[list[dict], int]:
    """`eval.jsonl` rows: prompt and the best passing answer of the seed (redacted) as reference."""
    passed = rank_samples(judged.filter(pl.col("passed") & pl.col("seed_id").is_in(eval_tasks["seed_id"].implode())))
    best = {r["seed_id"]: r for r in passed.unique("seed_id", keep="first", maintain_order=True).iter_rows(named=True)}
    rows, redactions = [], 0
    for t in eval_tasks.sort(["domain", "seed_id"]).iter_rows(named=True):
        ref, instruction = None, redact(t["instruction"], mode="egress")[0]
        r = best.get(t["seed_id"])
        if r is not None:
            red = redact_sample(r["instruction"], list(r["reasoning_steps"]), r["answer"] or "")
            redactions += sum(red.counts.values())
            ref = None if red.meaningless else layout.assistant(red.steps, red.answer)
        rows.append({"domain": t["domain"], "seed_id": t["seed_id"], "instruction": instruction,
                     "prompt": layout.prompt(instruction), "reference": ref,
                     # the seed's KVKK label: an evaluation judge may see a task only where its teacher could
                     "sensitivity": t["sensitivity"]})
    return rows, redactions


def funnel(curated_seeds: pl.DataFrame, seed_tasks: pl.DataFrame, raw_cot: pl.DataFrame, judged_cot: pl.DataFrame,
           sft_dataset: pl.DataFrame, ledger: dict, export_drops: dict[str, Counter],
           exported: Counter) -> dict[str, dict[str, Any]]:
    """Every domain's funnel from the stored tables and this export's own drops."""
    domains = sorted(set(curated_seeds["domain"]) | set(seed_tasks["domain"]) | set(raw_cot["domain"])
                     | set(judged_cot["domain"]) | set(sft_dataset["domain"]))
    out = {}
    for d in domains:
        sft = sft_dataset.filter(pl.col("domain") == d)
        judged = judged_cot.filter(pl.col("domain") == d)
        out[d] = funnel_row(
            seeds=int((curated_seeds["domain"] == d).sum()),
            task_origins=seed_tasks.filter(pl.col("domain") == d)["origin"].to_list(),
            chain_statuses=raw_cot.filter(pl.col("domain") == d)["status"].to_list(),
            judged=zip(judged["teacher_status"].to_list(), judged["passed"].to_list(),
                       judged["reject_reasons"].to_list()),
            sft_drops=drop_ledger.matching(ledger, d, sft["row_id"].to_list()),
            sft_rows=len(sft), export_drops=export_drops.get(d, Counter()), exported=exported.get(d, 0))
    return out


def coverage(known: list[str], rows: dict[str, dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """(domains with exported rows, {known domain without any: why}). Pure."""
    covered = sorted(d for d, r in rows.items() if r["exported"])
    missing = {}
    for d in sorted(set(known) - set(covered)):
        r = rows.get(d)
        if r is None:
            missing[d] = "no stored rows"
            continue
        stage = next((name for name, col in (("curated_seeds", "seeds"), ("seed_tasks", "tasks"),
                                               ("raw_cot", "chains"), ("judged_cot passed", "passed"),
                                               ("sft_dataset", "sft_rows")) if not r[col]), None)
        missing[d] = f"no {stage} rows" if stage else "every row dropped at export"
    return covered, missing


def ordered_rows(sft_dataset: pl.DataFrame) -> list[dict]:
    """Rows in export order: expert-approved first, then by judge scores, then by domain, seed, sample."""
    rows = rank_samples(sft_dataset).sort(["domain", "seed_id", "sample_index"]).to_dicts()
    rows.sort(key=lambda r: (r["expert_verdict"] != "approve", -(r["dogruluk"] or 0),
                             -(r["kulturel_uygunluk"] or 0), r["domain"], r["seed_id"], r["sample_index"]))
    return rows


def eval_index(eval_tasks: pl.DataFrame, config: SftExportConfig) -> EvalIndex:
    index = EvalIndex(ngram=config.decontam_ngram, window=config.decontam_window)
    for t in eval_tasks.iter_rows(named=True):
        index.add(t["seed_id"], t["instruction"])
    return index


def export_settings(config: SftExportConfig, dedup_settings: DedupSettings, eval_tasks: pl.DataFrame) -> dict:
    """The cleaning, decontamination and layout settings the card and the version state."""
    return {
        "cleaning": {"dedup": {"key": "dedup_key: NFC, Turkish lower-case, punctuation and diacritics folded",
                               "shingle_chars": dedup_settings.shingle, "threshold": dedup_settings.threshold,
                               "num_perm": dedup_settings.num_perm, "num_bands": dedup_settings.num_bands},
                     "eval_version": sorted(set(eval_tasks["eval_version"].to_list()))},
        "decontamination": {"enabled": config.decontaminate, "word_ngram": config.decontam_ngram,
                            "char_window": config.decontam_window, "against": "eval_tasks.instruction"},
        "layout": config.layout().describe(),
    }


def generation_records(instance, raw_cot: pl.DataFrame, judged_cot: pl.DataFrame) -> dict[str, list[dict]]:
    """What produced the upstream rows, as each domain's raw_cot / judged_cot partition recorded it when it
    was written (`provenance`): teacher and judge models, endpoints, sampling, thresholds, templates."""
    return {asset: group_by_record(recorded(instance, asset, table["domain"].to_list()))
            for asset, table in (("raw_cot", raw_cot), ("judged_cot", judged_cot))}


def model_facts(sft_dataset: pl.DataFrame, generation: dict[str, list[dict]]) -> dict[str, Any]:
    def distinct(column: str) -> list[str]:
        return sorted({m for m in sft_dataset[column].to_list() if m})

    return {"teacher_models": distinct("teacher_model"), "judge_models": distinct("judge_model"),
            "teacher_template_versions": distinct("teacher_template_version"),
            "judge_template_versions": distinct("judge_template_version"), "generation": generation}


def kvkk_facts(judged_cot: pl.DataFrame, sft_dataset: pl.DataFrame, eval_redactions: int) -> dict[str, Any]:
    """Counts only: refused tasks, placeholders in the training rows and eval references."""
    judged_ok = judged_cot.filter(pl.col("teacher_status") != "skipped")
    return {
        "blocked_teacher": int((judged_ok["teacher_status"] == "blocked_kvkk").sum()),
        "blocked_judge": int((judged_ok["judge_status"] == "blocked_kvkk").sum()),
        "placeholders_in_training_rows": dict(sorted(Counter(
            k for ks in sft_dataset["redacted_kinds"].to_list() for k in ks).items())),
        "training_rows_redacted": int((sft_dataset["redacted_kinds"].list.len() > 0).sum()),
        "placeholders_in_eval_references": eval_redactions,
    }


def export_table(version: str, release_dir: Path, files: dict[str, list[dict]], labels: dict[str, str]) -> pl.DataFrame:
    """The `sft_export` table: one row per exported example and eval task."""
    where = {"release_version": version, "release_dir": str(release_dir.resolve())}

    def label(domain: str) -> str:
        return labels.get(domain) or default_domain_label(domain)

    table = [
        {**where, "split": split, "domain": e["domain"], "domain_label": label(e["domain"]), "seed_id": e["seed_id"],
         "content_hash": e["content_hash"], "user": e["messages"][-2]["content"],
         "assistant": e["messages"][-1]["content"]}
        for split in ("train", "validation") for e in files[split]
    ] + [
        {**where, "split": "eval", "domain": e["domain"], "domain_label": label(e["domain"]),
         "seed_id": e["seed_id"], "user": e["prompt"][-1]["content"],
         "content_hash": content_hash(e["prompt"][-1]["content"], e["reference"] or ""), "assistant": e["reference"]}
        for e in files["eval"]
    ]
    return pl.DataFrame(table, schema=SFT_EXPORT_DTYPES)


def export_metadata(df: pl.DataFrame, release: Release, version: str, release_dir: Path, written: bool,
                    withheld: bool) -> dict[str, Any]:
    return {
        "dagster/row_count": len(df),
        "release_version": version,
        "release_dir": MetadataValue.path(str(release_dir.resolve())),
        "written": written, "withheld": withheld,
        **{f"rows_{k.replace('/', '_')}": len(v) for k, v in release.files.items()},
        "counts": MetadataValue.md(md_table(
            [(d, c.get("train", 0), c.get("validation", 0), c.get("eval", 0)) for d, c in sorted(release.counts.items())],
            ["domain", "train", "validation", "eval"])),
        **{f"dropped_{k}": v for k, v in release.dropped.items()
           if k in ("exact_duplicate", "near_duplicate", "contaminated")},
        "domains_covered": MetadataValue.json(release.covered),
        "domains_missing": MetadataValue.json(release.missing),
        "funnel": MetadataValue.md(funnel_markdown(release.funnel)),
        "funnel_by_domain": MetadataValue.json({**release.funnel, "ALL": funnel_total(release.funnel)}),
    }


def check_results(bad_chats: list, pii: list, overlaps: list) -> list[AssetCheckResult]:
    return [
        AssetCheckResult(check_name="valid_chats", passed=not bad_chats,
                         metadata={"invalid": len(bad_chats), "examples": MetadataValue.json(bad_chats[:20])}),
        AssetCheckResult(check_name="no_personal_data", passed=not pii,
                         metadata={"rows_with_personal_data": len(pii), "examples": MetadataValue.json(pii[:20])}),
        AssetCheckResult(check_name="no_eval_overlap", passed=not overlaps,
                         metadata={"overlapping_rows": len(overlaps), "examples": MetadataValue.json(overlaps[:20])}),
    ]


def warn_about_funnel(log, funnel_rows: dict, covered: list[str], missing: dict[str, str]) -> None:
    for d, r in funnel_rows.items():
        for problem in funnel_problems(r):
            log.warning("funnel of %s does not add up: %s", d, problem)
    if missing:
        log.warning("release covers %s; known domains missing: %s", ", ".join(covered) or "no domain",
                    "; ".join(f"{d} ({why})" for d, why in missing.items()))


CHECK_SPECS = [
    AssetCheckSpec("valid_chats", asset="sft_export", blocking=True,
                   description="Every exported row is a valid chat: roles and order, non-empty content."),
    AssetCheckSpec("no_personal_data", asset="sft_export", blocking=True,
                   description="The guard's personal-data scan finds nothing in any exported text."),
    AssetCheckSpec("no_eval_overlap", asset="sft_export", blocking=True,
                   description="No training row shares a seed or text (word 8-gram, character window) "
                   "with an eval task."),
]


def build_sft_export(partitions_def: PartitionsDefinition | None = None):
    """`partitions_def`: the known domains (seed files), so the card can name those missing from a release."""
    @asset(
        name="sft_export",
        group_name="release",
        kinds={"duckdb", "polars", "json", "parquet"},
        dagster_type=SftExportType,
        check_specs=CHECK_SPECS,
        description="The release: every domain's sft_dataset, deduplicated across domains and decontaminated "
        "against eval_tasks, written to `<exports_dir>/<version>/` as messages and prompt/completion JSONL, "
        "Parquet, a datasets.DatasetDict and a dataset card; content-addressed version.",
    )
    def sft_export(context: AssetExecutionContext, config: SftExportConfig, paths: RefineryPaths,
                   sft_dataset: pl.DataFrame, eval_tasks: pl.DataFrame, judged_cot: pl.DataFrame,
                   curated_seeds: pl.DataFrame, seed_tasks: pl.DataFrame, raw_cot: pl.DataFrame):
        layout, dedup_settings = config.layout(), DedupSettings(threshold=config.dedup_threshold)
        selection = deduplicated(ordered_rows(sft_dataset), layout, dedup_settings)
        evals, eval_redactions = eval_rows(eval_tasks, judged_cot, layout)
        index = eval_index(eval_tasks, config)
        if config.decontaminate:
            decontaminate(selection, set(eval_tasks["seed_id"].to_list()), index)
        files = release_files(selection.keep, evals)
        exported = Counter(e["domain"] for split in ("train", "validation") for e in files[split])
        funnel_rows = funnel(curated_seeds, seed_tasks, raw_cot, judged_cot, sft_dataset,
                             drop_ledger.read(paths.warehouse), selection.by_domain, exported)
        known = list(partitions_def.get_partition_keys()) if partitions_def is not None else list(funnel_rows)
        covered, missing = coverage(known, funnel_rows)
        warn_about_funnel(context.log, funnel_rows, covered, missing)
        release = Release(
            name=config.name, license=config.license, layout=layout, files=files,
            settings=export_settings(config, dedup_settings, eval_tasks),
            models=model_facts(sft_dataset, generation_records(context.instance, raw_cot, judged_cot)),
            kvkk=kvkk_facts(judged_cot, sft_dataset, eval_redactions), dropped=drop_counts(selection.dropped),
            funnel=funnel_rows, covered=covered, missing=missing)
        bad_chats, pii = invalid_chats(files), pii_findings(files)
        overlaps = eval_overlaps(files["train"] + files["validation"], evals, index)
        version = release.version()
        release_dir, written, passed = paths.exports_path / version, False, not bad_chats and not pii and not overlaps
        if passed:
            release_dir, written = write_release(paths.exports_path, version, files, release.card(version),
                                                 release.manifest(version))
            context.log.info(f"release {version} {'written to' if written else 'already at'} {release_dir}")
        else:
            context.log.error(f"release {version} withheld: a blocking check failed")
        df = export_table(version, release_dir, files, domain_labels(judged_cot))  # the seed files' labels
        yield Output(df, metadata=export_metadata(df, release, version, release_dir, written, withheld=not passed))
        yield from check_results(bad_chats, pii, overlaps)

    return sft_export
