"""One module per pipeline stage, each named after the table it makes."""

from typing import Any

from dagster import BackfillPolicy, PartitionsDefinition, asset


def domain_table(partitions_def: PartitionsDefinition, *, pool: str | None = None, **kwargs: Any):
    """`@asset` for a table in the warehouse, partitioned by domain (the `domain` column).

    With a `pool`, the asset is model-bound: it shares that Dagster pool (one model load at a time)
    and a backfill over many domains is a single run that loops over `context.partition_keys`."""
    if pool is not None:
        kwargs.update(pool=pool, backfill_policy=BackfillPolicy.single_run())
    return asset(partitions_def=partitions_def, metadata={"partition_expr": "domain"},
                 kinds={"duckdb", "polars"}, **kwargs)
