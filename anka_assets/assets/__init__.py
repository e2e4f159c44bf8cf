"""One module per pipeline stage, each named after the table it makes."""

from typing import Any

from dagster import BackfillPolicy, PartitionsDefinition, asset

from anka_assets.model_lock import holding_model_lock


def domain_table(partitions_def: PartitionsDefinition, *, pool: str | None = None, **kwargs: Any):
    """`@asset` for a table in the warehouse, partitioned by domain (the `domain` column).

    With a `pool` (a model role: `teacher`, `judge`), the asset is model-bound: its body runs under
    that role's OS file lock (one model load at a time, released by the kernel if the step is killed;
    see model_lock.py — not a Dagster pool, whose slot a killed run keeps) and a backfill over many
    domains is a single run that loops over `context.partition_keys`.

    Every table of the domain graph has the same backfill policy (single run): a UI backfill of every
    domain is one run per stage group, never one run per domain for some assets. Bodies loop over
    `context.partition_keys` and attach each domain's figures to its own partition
    (`metadata.add_domain_metadata`)."""
    decorate = asset(partitions_def=partitions_def, metadata={"partition_expr": "domain"},
                     kinds={"duckdb", "polars"}, backfill_policy=BackfillPolicy.single_run(), **kwargs)
    if pool is None:
        return decorate
    return lambda fn: decorate(holding_model_lock(pool)(fn))
