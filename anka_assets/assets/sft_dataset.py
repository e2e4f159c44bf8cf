"""`sft_dataset`: the cleaned training rows of one domain.

From `judged_cot`: rows that passed (an expert's verdict already overrides the judge there), minus
the held-out `eval_tasks`; per seed the best sample (expert approval, then judge scores) or every
passing sample; personal data redacted with typed placeholders (`[TCKN]`, `[TELEFON]`, ...), or the
row dropped when little would be left; exact and near-duplicates removed on a Turkish-aware key
(MinHash over character shingles, rensa); a deterministic train/validation split by the seed's hash.
Every dropped row is counted by reason (`reasons.DROP_REASONS`) in the materialization metadata and in
`anka.sft_drops` (`drop_ledger`), which the release's funnel reads.
"""

from collections import Counter
from typing import Literal

import polars as pl
from dagster import AssetExecutionContext, Config, MetadataValue, Output, PartitionsDefinition
from pydantic import Field

from anka_assets import drop_ledger
from anka_assets.assets import domain_table
from anka_assets.cleaning import (
    DedupSettings,
    best_per_seed,
    dedup,
    rank_samples,
    redact_sample,
    sample_text,
    split_of,
)
from anka_assets.metadata import add_domain_metadata, md_counts, md_preview, md_table
from anka_assets.reasons import (
    EVAL_TASK,
    NOT_BEST_SAMPLE,
    NOT_PASSED,
    PII_MEANINGLESS,
    ReasonCounts,
    drop_counts,
    reason_metadata,
)
from anka_assets.resources import RefineryPaths
from anka_assets.schemas import SFT_DATASET_DTYPES, SftDatasetType
from anka_assets.text.normalize import content_hash



class SftDatasetConfig(Config):
    selection: Literal["best", "all"] = Field(
        default="best", description="'best': one sample per seed (expert approval, then judge scores); 'all': "
        "every passing sample (duplicates among them are still removed).")
    validation_share: float = Field(default=0.1, description="Share of seeds whose samples go to validation.")
    split_salt: str = Field(default="anka-split-v1", description="Hash salt of the train/validation split.")
    dedup_threshold: float = Field(default=0.7, description="Jaccard (character shingles) at which rows are near-duplicates.")
    num_perm: int = Field(default=128, description="MinHash permutations.")
    num_bands: int = Field(default=32, description="LSH bands (num_perm must be a multiple).")
    shingle_chars: int = Field(default=5, description="Character n-gram size of the shingles.")
    min_letters_after_redaction: int = Field(
        default=20, description="Fewest letters the answer must keep besides placeholders, else the row is dropped.")
    max_placeholder_share: float = Field(
        default=0.3, description="Largest share of an answer's characters that placeholders may take.")

    def dedup_settings(self) -> DedupSettings:
        return DedupSettings(threshold=self.dedup_threshold, num_perm=self.num_perm, num_bands=self.num_bands,
                             shingle=self.shingle_chars)


def clean_domain(judged: pl.DataFrame, raw: pl.DataFrame, eval_tasks: pl.DataFrame, cfg: SftDatasetConfig
                 ) -> tuple[pl.DataFrame, Counter, Counter, list[dict]]:
    """(kept rows, dropped rows by reason, redactions by kind, examples of drops without content). Pure."""
    dropped = ReasonCounts()
    examples: list[dict] = []

    def drop(frame: pl.DataFrame, reason: str) -> None:
        dropped[reason] += len(frame)
        examples.extend({"row_id": r, "reason": reason} for r in frame["row_id"].head(5).to_list())

    drop(judged.filter(~pl.col("passed")), NOT_PASSED)
    rows = judged.filter(pl.col("passed"))
    eval_ids = set(eval_tasks["seed_id"].to_list())
    drop(rows.filter(pl.col("seed_id").is_in(sorted(eval_ids))), EVAL_TASK)
    rows = rows.filter(~pl.col("seed_id").is_in(sorted(eval_ids)))
    if cfg.selection == "best":
        rows, others = best_per_seed(rows)
        drop(others, NOT_BEST_SAMPLE)
    rows = rank_samples(rows)
    extra = raw.select(["row_id", pl.col("template_version").alias("teacher_template_version"),
                        pl.col("answer_tokens").alias("completion_tokens")])
    rows = rows.join(extra, on="row_id", how="left")

    kept, kinds = [], Counter()
    for r in rows.iter_rows(named=True):
        red = redact_sample(r["instruction"], list(r["reasoning_steps"]), r["answer"] or "",
                            min_letters=cfg.min_letters_after_redaction, max_placeholder_share=cfg.max_placeholder_share)
        kinds.update(red.counts)
        if red.meaningless:
            dropped[PII_MEANINGLESS] += 1
            examples.append({"row_id": r["row_id"], "reason": PII_MEANINGLESS, "kinds": sorted(red.counts)})
            continue
        kept.append({**r, "instruction": red.instruction, "reasoning_steps": red.steps, "answer": red.answer,
                     "redacted_kinds": sorted(k for k, n in red.counts.items() for _ in range(n))})

    texts = [sample_text(r["instruction"], r["reasoning_steps"], r["answer"]) for r in kept]
    reasons, kept_as = dedup(texts, cfg.dedup_settings())
    out = []
    for r, text, reason, other in zip(kept, texts, reasons, kept_as):
        if reason is not None:
            dropped[reason] += 1
            examples.append({"row_id": r["row_id"], "reason": reason, "duplicate_of": kept[other]["row_id"]})
            continue
        out.append({
            **{k: r[k] for k in SFT_DATASET_DTYPES if k in r and k not in ("split", "content_hash", "eval_version")},
            "completion_tokens": r["completion_tokens"] or 0,
            "content_hash": content_hash(text),
            "split": split_of(cfg.split_salt, r["seed_id"], cfg.validation_share),
            "eval_version": eval_tasks["eval_version"][0] if len(eval_tasks) else "",
            "simulated": bool(r.get("simulated")),
        })
    return pl.DataFrame(out, schema=SFT_DATASET_DTYPES), dropped, kinds, examples


def domain_metadata(df: pl.DataFrame, judged: pl.DataFrame, dropped: Counter, kinds: Counter,
                    examples: list[dict]) -> dict:
    """What cleaning did to one domain: kept rows per split, every dropped row by reason, redactions."""
    counts = drop_counts(dropped)
    splits = Counter(df["split"].to_list())
    return {
        "dagster/row_count": len(df),
        "judged_rows": len(judged),
        "train": splits.get("train", 0), "validation": splits.get("validation", 0),
        "dropped": MetadataValue.md(md_table(sorted(counts.items()), ["reason", "rows"])),
        **reason_metadata(counts, "dropped_"),
        "redactions": MetadataValue.md(md_counts(kinds, "kind", "placeholders")),
        **{f"redacted_{k}": v for k, v in sorted(kinds.items())},
        "rows_redacted": int((df["redacted_kinds"].list.len() > 0).sum()),
        "drop_examples": MetadataValue.json(examples[:50]),
        "preview": MetadataValue.md(md_preview(df, ["row_id", "split", "instruction", "answer"], n=5, width=120)),
    }


def build_sft_dataset(partitions_def: PartitionsDefinition):
    @domain_table(
        partitions_def,
        name="sft_dataset",
        dagster_type=SftDatasetType,
        group_name="release",
        description="Cleaned training rows of one domain: passed (expert over judge), eval tasks excluded, best or "
        "every passing sample per seed, personal data redacted with typed placeholders, exact and near-duplicates "
        "removed (MinHash on a Turkish-aware key), split into train/validation by hash. Drops counted by reason.",
    )
    def sft_dataset(context: AssetExecutionContext, config: SftDatasetConfig, paths: RefineryPaths,
                    judged_cot: pl.DataFrame, raw_cot: pl.DataFrame, eval_tasks: pl.DataFrame):
        frames = []
        for domain in context.partition_keys:
            judged = judged_cot.filter(pl.col("domain") == domain)
            df, dropped, kinds, examples = clean_domain(judged, raw_cot.filter(pl.col("domain") == domain),
                                                        eval_tasks.filter(pl.col("domain") == domain), config)
            frames.append(df)
            # the release's funnel reads these counts (the table keeps only what was kept)
            drop_ledger.record(paths.warehouse, domain, drop_counts(dropped), df["row_id"].to_list())
            add_domain_metadata(context, domain, domain_metadata(df, judged, dropped, kinds, examples))
        df = pl.concat(frames) if frames else pl.DataFrame(schema=SFT_DATASET_DTYPES)
        yield Output(df, metadata={"selection": config.selection})

    return sft_dataset
