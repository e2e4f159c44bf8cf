"""`seed_tasks`: every task of one domain, curated (the seed file) and teacher-expanded, as one table."""


from collections import Counter

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MetadataValue,
    Output,
    PartitionsDefinition,
)

from anka_assets.assets import domain_table
from anka_assets.metadata import md_counts, md_preview
from anka_assets.resources import RefineryPaths
from anka_assets.schemas import SeedTasksType
from anka_assets.seed_loader import SENSITIVITIES, SeedFileResult, SeedTask, load_seed_file

def tasks_frame(tasks: list[SeedTask], origin: str = "curated", parents: list[list[str]] | None = None) -> pl.DataFrame:
    """Seed tasks as a table with the `seed_tasks` columns, in schema order."""
    parents = parents or [[] for _ in tasks]
    return pl.DataFrame(
        {
            "seed_id": [t.seed_id for t in tasks],
            "domain": [t.domain for t in tasks],
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
        },
        schema={
            "seed_id": pl.Utf8, "domain": pl.Utf8, "instruction": pl.Utf8, "sensitivity": pl.Utf8,
            "sensitivity_defaulted": pl.Boolean, "tags": pl.List(pl.Utf8), "source": pl.Utf8,
            "origin": pl.Utf8, "parent_seed_ids": pl.List(pl.Utf8), "source_file": pl.Utf8,
            "source_line": pl.Int64, "repaired": pl.Boolean, "content_hash": pl.Utf8,
        },
    )


def seed_checks(df: pl.DataFrame) -> list[AssetCheckResult]:
    """Contract checks computed on the table that is about to be stored."""
    dup_ids = df.filter(pl.col("seed_id").is_duplicated())["seed_id"].unique().to_list()
    bad_labels = df.filter(~pl.col("sensitivity").is_in(list(SENSITIVITIES)) | pl.col("sensitivity").is_null())
    return [
        AssetCheckResult(
            check_name="seed_id_unique",
            passed=not dup_ids,
            metadata={"duplicate_ids": MetadataValue.json(dup_ids[:20]), "rows": len(df)},
        ),
        AssetCheckResult(
            check_name="sensitivity_present",
            passed=bad_labels.is_empty(),
            metadata={"rows_without_valid_sensitivity": len(bad_labels)},
        ),
        AssetCheckResult(
            check_name="not_empty",
            passed=len(df) > 0,
            severity=AssetCheckSeverity.WARN,
            metadata={"rows": len(df)},
        ),
    ]


def union_tasks(curated: pl.DataFrame, expanded: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Curated tasks first, then expanded ones not (any longer) among them. Returns (table, dropped)."""
    fresh = expanded.filter(~pl.col("seed_id").is_in(curated["seed_id"].implode()))
    return pl.concat([curated, fresh.select(curated.columns)]), len(expanded) - len(fresh)


def seed_metadata(result: SeedFileResult, df: pl.DataFrame) -> dict:
    by_sensitivity = Counter(df["sensitivity"].to_list())
    by_origin = Counter(df["origin"].to_list())
    return {
        "dagster/row_count": len(df),
        "curated": by_origin.get("curated", 0),
        "expanded": by_origin.get("expanded", 0),
        "seed_file": result.path,
        "duplicates_collapsed": result.duplicates_collapsed,
        "rows_repaired": result.repaired,
        "sensitivity_defaulted": result.sensitivity_defaulted,
        **{f"sensitivity_{label}": by_sensitivity.get(label, 0) for label in SENSITIVITIES},
        "sensitivity_breakdown": MetadataValue.md(md_counts(by_sensitivity, "sensitivity", "tasks")),
        "duplicate_examples": MetadataValue.json(result.duplicate_examples),
        "preview": MetadataValue.md(md_preview(df, ["seed_id", "origin", "sensitivity", "instruction", "tags"], n=10)),
    }


def build_seed_tasks(partitions_def: PartitionsDefinition):
    @domain_table(
        partitions_def,
        name="seed_tasks",
        dagster_type=SeedTasksType,
        check_specs=[
            AssetCheckSpec("seed_id_unique", asset="seed_tasks", blocking=True,
                           description="Every seed_id appears once."),
            AssetCheckSpec("sensitivity_present", asset="seed_tasks", blocking=True,
                           description="Every task carries a valid KVKK sensitivity label."),
            AssetCheckSpec("not_empty", asset="seed_tasks", description="The domain has at least one task."),
        ],
        group_name="seeds",
        description="Turkish tasks of one domain: the curated seed file `data/seeds/<domain>.yaml`, normalised "
        "(UTF-8 NFC, mojibake repaired) and deduplicated with Turkish-aware keys, plus the teacher-expanded "
        "tasks; each with a stable seed_id and a KVKK sensitivity (missing → confidential).",
    )
    def seed_tasks(context: AssetExecutionContext, paths: RefineryPaths, expanded_tasks: pl.DataFrame):
        domain = context.partition_key
        result = load_seed_file(paths.seeds_path / f"{domain}.yaml")
        df, stale = union_tasks(tasks_frame(result.tasks), expanded_tasks)
        context.log.info(
            f"{domain}: {len(result.tasks)} curated + {len(df) - len(result.tasks)} expanded tasks, "
            f"{result.duplicates_collapsed} duplicates collapsed, {result.repaired} repaired"
        )
        yield Output(df, metadata={**seed_metadata(result, df), "expanded_now_curated": stale})
        yield from seed_checks(df)

    return seed_tasks
