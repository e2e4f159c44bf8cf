"""`curated_seeds`: the hand-written tasks of one domain, straight from `data/seeds/<domain>.yaml`.

A pure load: no model, no other table. Everything downstream (`expanded_tasks`, `seed_tasks`, and through
them every stage, the toy tokenizer included) reads this table instead of parsing the file again: the task
texts and the domain's label (`domain_label`, the file's `label`) travel as columns. So the seed file is one
visible input in the lineage graph, and a bad file fails here, in its own partition, before any teacher is
asked anything; the other domains and the cross-domain stages are built from what is stored.
"""

from collections import Counter
from pathlib import Path

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MetadataValue,
    Failure,
    Output,
    PartitionsDefinition,
)

from anka_assets.assets import domain_table
from anka_assets.errors import InputFileError
from anka_assets.jobs import SEED_FILE_SHA, seed_file_version
from anka_assets.metadata import add_domain_metadata, md_counts, md_preview
from anka_assets.resources import RefineryPaths
from anka_assets.schemas import SEED_TASKS_DTYPES, SeedTasksType
from anka_assets.seed_loader import SENSITIVITIES, SeedFileResult, SeedTask, default_domain_label, load_seed_file



def tasks_frame(tasks: list[SeedTask], origin: str = "curated", parents: list[list[str]] | None = None,
                label: str | None = None) -> pl.DataFrame:
    """Seed tasks as a table with the `seed_tasks` columns, in schema order. ``label``: the domain's
    label (the seed file's); None: the domain's default."""
    parents = parents or [[] for _ in tasks]
    return pl.DataFrame(
        {
            "seed_id": [t.seed_id for t in tasks],
            "domain": [t.domain for t in tasks],
            "domain_label": [label or default_domain_label(t.domain) for t in tasks],
            "instruction": [t.instruction for t in tasks],
            "sensitivity": [t.sensitivity for t in tasks],
            "sensitivity_defaulted": [t.sensitivity_defaulted for t in tasks],
            "tags": [list(t.tags) for t in tasks],
            "source": [t.source for t in tasks],
            "origin": [origin] * len(tasks),
            "parent_seed_ids": parents,
            "source_file": [t.source_file for t in tasks],
            "source_line": [t.source_line for t in tasks],
            "repaired": [t.repaired for t in tasks],
            "content_hash": [t.content_hash for t in tasks],
            "simulated": [False] * len(tasks),  # expansion marks the simulator's tasks
        },
        schema=SEED_TASKS_DTYPES,
    )


def tasks_from_frame(df: pl.DataFrame) -> list[SeedTask]:
    """The inverse of `tasks_frame`, in file order (the order expansion plans in)."""
    return [
        SeedTask(
            seed_id=r["seed_id"], domain=r["domain"], instruction=r["instruction"], sensitivity=r["sensitivity"],
            sensitivity_defaulted=r["sensitivity_defaulted"], tags=tuple(r["tags"] or ()), source=r["source"],
            source_file=r["source_file"], source_line=r["source_line"], repaired=r["repaired"],
            content_hash=r["content_hash"],
        )
        for r in df.sort("source_line").iter_rows(named=True)
    ]


def with_domain_label(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with a `domain_label` on every row: the stored one, or the domain's default where a table
    written before the column existed has none (its rows read NULL there)."""
    if "domain_label" not in df.columns:
        df = df.with_columns(domain_label=pl.lit(None, dtype=pl.Utf8))
    defaults = {d: default_domain_label(d) for d in df["domain"].unique().to_list()}
    return df.with_columns(domain_label=pl.coalesce(
        pl.col("domain_label"), pl.col("domain").replace_strict(defaults, default=None, return_dtype=pl.Utf8)))


def domain_labels(df: pl.DataFrame) -> dict[str, str]:
    """Domain -> label, as a stored table (any with `domain` and `domain_label` columns) carries them."""
    rows = with_domain_label(df).select("domain", "domain_label").unique(subset="domain", keep="first")
    return dict(rows.iter_rows())


def seed_checks(df: pl.DataFrame, asset: str) -> list[AssetCheckResult]:
    """Contract checks computed on the table that is about to be stored, saying which domains they
    covered and, per domain, what failed."""
    domains = sorted(set(df["domain"].to_list()))
    dups = df.filter(pl.col("seed_id").is_duplicated())
    bad_labels = df.filter(~pl.col("sensitivity").is_in(list(SENSITIVITIES)) | pl.col("sensitivity").is_null())
    rows = Counter(df["domain"].to_list())
    empty = [d for d in domains if rows[d] == 0]
    covered = ", ".join(domains) or "no domain"

    def per_domain(frame: pl.DataFrame, column: str) -> dict[str, list]:
        return {d: sorted(set(g[column].to_list()))[:20] for (d,), g in frame.group_by(["domain"])}

    return [
        AssetCheckResult(
            asset_key=asset, check_name="seed_id_unique", passed=dups.is_empty(),
            description=f"domains: {covered}",
            metadata={"domains": MetadataValue.json(domains), "rows": len(df),
                      "duplicate_ids_by_domain": MetadataValue.json(per_domain(dups, "seed_id"))},
        ),
        AssetCheckResult(
            asset_key=asset, check_name="sensitivity_present", passed=bad_labels.is_empty(),
            description=f"domains: {covered}",
            metadata={"domains": MetadataValue.json(domains),
                      "rows_without_valid_sensitivity_by_domain": MetadataValue.json(
                          {d: int(n) for d, n in Counter(bad_labels["domain"].to_list()).items()})},
        ),
        AssetCheckResult(
            asset_key=asset, check_name="not_empty", passed=len(df) > 0 and not empty,
            severity=AssetCheckSeverity.WARN, description=f"domains: {covered}",
            metadata={"domains": MetadataValue.json(domains), "rows_by_domain": MetadataValue.json(dict(rows))},
        ),
    ]


def seed_check_specs(asset: str) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec("seed_id_unique", asset=asset, blocking=True, description="Every seed_id appears once."),
        AssetCheckSpec("sensitivity_present", asset=asset, blocking=True,
                       description="Every task carries a valid KVKK sensitivity label."),
        AssetCheckSpec("not_empty", asset=asset, description="The domain has at least one task."),
    ]


def seed_file_metadata(result: SeedFileResult, df: pl.DataFrame) -> dict:
    by_sensitivity = Counter(df["sensitivity"].to_list())
    return {
        "dagster/row_count": len(df),
        "seed_file": MetadataValue.path(result.path),
        SEED_FILE_SHA: seed_file_version(Path(result.path)),
        "domain_label": result.label or default_domain_label(result.domain),
        "duplicates_collapsed": result.duplicates_collapsed,
        "rows_repaired": result.repaired,
        "sensitivity_defaulted": result.sensitivity_defaulted,
        **{f"sensitivity_{label}": by_sensitivity.get(label, 0) for label in SENSITIVITIES},
        "sensitivity_breakdown": MetadataValue.md(md_counts(by_sensitivity, "sensitivity", "tasks")),
        "duplicate_examples": MetadataValue.json(result.duplicate_examples),
        "preview": MetadataValue.md(md_preview(df, ["seed_id", "sensitivity", "instruction", "tags"], n=10)),
    }


def build_curated_seeds(partitions_def: PartitionsDefinition):
    @domain_table(
        partitions_def,
        name="curated_seeds",
        dagster_type=SeedTasksType,
        check_specs=seed_check_specs("curated_seeds"),
        group_name="seeds",
        description="The curated seed file `data/seeds/<domain>.yaml`, loaded strictly: UTF-8 NFC, mojibake "
        "repaired or refused, duplicates collapsed with Turkish-aware keys, each task with a stable seed_id and "
        "a KVKK sensitivity (missing → confidential). No model is involved.",
    )
    def curated_seeds(context: AssetExecutionContext, paths: RefineryPaths):
        frames, problems = [], []
        for domain in context.partition_keys:
            try:
                result = load_seed_file(paths.seeds_path / f"{domain}.yaml")
            except InputFileError as exc:  # report every bad file of the run, then fail before storing
                problems.append(str(exc))
                continue
            df = tasks_frame(result.tasks, label=result.label)
            frames.append(df)
            add_domain_metadata(context, domain, seed_file_metadata(result, df))
            context.log.info(
                f"{domain}: {len(df)} curated tasks, {result.duplicates_collapsed} duplicates collapsed, "
                f"{result.repaired} repaired"
            )
        if problems:  # the places to fix first (`path:line:column: ...`), then what it means
            raise Failure(
                description="\n".join(problems) + f"\n{len(problems)} seed file(s) need fixing; nothing was stored "
                "for this run's domains and their earlier tables are untouched (other domains build on their own)."
            )
        df = pl.concat(frames) if frames else tasks_frame([])
        yield Output(df)
        yield from seed_checks(df, "curated_seeds")

    return curated_seeds
