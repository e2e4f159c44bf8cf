"""`review_queue`: the judged answers of one domain as a CSV an expert opens in a spreadsheet.

The human loop closes through `expert_reviews`: the expert saves verdicts as `data/reviews/<domain>.csv`,
that source asset's data version changes, and `judged_cot` shows as stale until it is re-materialized.
"""

from pathlib import Path

import polars as pl
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, PartitionsDefinition, asset

from anka_assets.resources import RefineryPaths
from anka_assets.review import write_review_queue


def build_review_queue(partitions_def: PartitionsDefinition):
    @asset(
        name="review_queue",
        partitions_def=partitions_def,
        group_name="review",
        kinds={"csv"},
        description="The judged answers of one domain as a CSV an expert opens in a spreadsheet "
        "(`data/review_queue/<domain>.csv`); verdicts saved to `data/reviews/<domain>.csv` are applied "
        "the next time judged_cot is materialized.",
    )
    def review_queue(context: AssetExecutionContext, paths: RefineryPaths, judged_cot: pl.DataFrame) -> MaterializeResult:
        path = Path(paths.review_queue_dir) / f"{context.partition_key}.csv"
        count = write_review_queue(judged_cot, path)
        return MaterializeResult(metadata={
            "path": MetadataValue.path(str(path)), "rows": count,
            "already_reviewed": int(judged_cot["expert_verdict"].is_not_null().sum()),
            "not_passed": int((~judged_cot["passed"]).sum()),
        })

    return review_queue
