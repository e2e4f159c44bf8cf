"""`review_queue`: the judged answers of one domain as a CSV an expert opens in a spreadsheet.

The human loop closes through `expert_reviews`: the expert saves verdicts as `data/reviews/<domain>.csv`,
that source asset's data version changes, and `judged_cot` shows as stale until it is re-materialized.
"""

from pathlib import Path

import polars as pl
from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, MetadataValue, PartitionsDefinition, asset

from anka_assets.metadata import add_domain_metadata
from anka_assets.resources import RefineryPaths
from anka_assets.review import write_review_queue


def build_review_queue(partitions_def: PartitionsDefinition):
    @asset(
        name="review_queue",
        partitions_def=partitions_def,
        group_name="review",
        kinds={"csv"},
        backfill_policy=BackfillPolicy.single_run(),  # one policy for the whole domain graph
        description="The judged answers of one domain as a CSV an expert opens in a spreadsheet "
        "(`data/review_queue/<domain>.csv`); verdicts saved to `data/reviews/<domain>.csv` are applied "
        "the next time judged_cot is materialized.",
    )
    def review_queue(context: AssetExecutionContext, paths: RefineryPaths, judged_cot: pl.DataFrame):
        for domain in context.partition_keys:
            rows = judged_cot.filter(pl.col("domain") == domain)
            path = Path(paths.review_queue_dir) / f"{domain}.csv"
            count = write_review_queue(rows, path)
            add_domain_metadata(context, domain, {
                "path": MetadataValue.path(str(path)), "rows": count,
                "already_reviewed": int(rows["expert_verdict"].is_not_null().sum()),
                "not_passed": int((~rows["passed"]).sum()),
            })
        return MaterializeResult()

    return review_queue
