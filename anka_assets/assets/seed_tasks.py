"""`seed_tasks`: every task of one domain, curated (`curated_seeds`) and teacher-expanded, as one table."""


from collections import Counter

import polars as pl
from dagster import (
    AssetExecutionContext,
    MetadataValue,
    Output,
    PartitionsDefinition,
)

from anka_assets.assets import domain_table
from anka_assets.metadata import add_domain_metadata, md_counts, md_preview
from anka_assets.schemas import SeedTasksType
from anka_assets.assets.curated_seeds import seed_check_specs, seed_checks
from anka_assets.seed_loader import SENSITIVITIES

def union_tasks(curated: pl.DataFrame, expanded: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Curated tasks first, then expanded ones not (any longer) among them. Returns (table, dropped)."""
    fresh = expanded.filter(~pl.col("seed_id").is_in(curated["seed_id"].implode()))
    return pl.concat([curated, fresh.select(curated.columns)]), len(expanded) - len(fresh)


def seed_metadata(df: pl.DataFrame, stale: int) -> dict:
    by_sensitivity = Counter(df["sensitivity"].to_list())
    by_origin = Counter(df["origin"].to_list())
    return {
        "dagster/row_count": len(df),
        "curated": by_origin.get("curated", 0),
        "expanded": by_origin.get("expanded", 0),
        "expanded_now_curated": stale,
        **{f"sensitivity_{label}": by_sensitivity.get(label, 0) for label in SENSITIVITIES},
        "sensitivity_breakdown": MetadataValue.md(md_counts(by_sensitivity, "sensitivity", "tasks")),
        "preview": MetadataValue.md(md_preview(df, ["seed_id", "origin", "sensitivity", "instruction", "tags"], n=10)),
    }


def build_seed_tasks(partitions_def: PartitionsDefinition):
    @domain_table(
        partitions_def,
        name="seed_tasks",
        dagster_type=SeedTasksType,
        check_specs=seed_check_specs("seed_tasks"),
        group_name="seeds",
        description="Turkish tasks of one domain: the curated seed file `data/seeds/<domain>.yaml`, normalised "
        "(UTF-8 NFC, mojibake repaired) and deduplicated with Turkish-aware keys, plus the teacher-expanded "
        "tasks; each with a stable seed_id and a KVKK sensitivity (missing → confidential).",
    )
    def seed_tasks(context: AssetExecutionContext, curated_seeds: pl.DataFrame, expanded_tasks: pl.DataFrame):
        frames = []
        for domain in context.partition_keys:
            curated = curated_seeds.filter(pl.col("domain") == domain)
            df, stale = union_tasks(curated, expanded_tasks.filter(pl.col("domain") == domain))
            frames.append(df)
            add_domain_metadata(context, domain, seed_metadata(df, stale))
            context.log.info(f"{domain}: {len(curated)} curated + {len(df) - len(curated)} expanded tasks")
        df = pl.concat(frames) if frames else curated_seeds.clear()
        yield Output(df)
        yield from seed_checks(df, "seed_tasks")

    return seed_tasks
