"""`expert_reviews`: the verdict files experts save, `data/reviews/<domain>.csv`, as an observable source.

Dagster does not make these files; it observes them. The data version of a partition is the SHA-256 of
its file's bytes (or `absent`), so when a reviewer saves a file and the source is observed (the UI's
"Observe sources", or the daemon's periodic observation), `judged_cot` — which reads the verdicts —
shows as stale for that domain. Parsing and validation stay in `review.load_reviews`, called by
`judged_cot`; observing never fails on a malformed file, it only fingerprints it.
"""

import hashlib
from pathlib import Path

from dagster import DataVersion, DataVersionsByPartition, PartitionsDefinition, observable_source_asset

from anka_assets.resources import RefineryPaths

ABSENT = "absent"


def file_version(path: Path) -> str:
    """Content hash of a verdict file; `absent` when there is none (no verdicts yet)."""
    if not path.is_file():
        return ABSENT
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def build_expert_reviews(partitions_def: PartitionsDefinition):
    @observable_source_asset(
        name="expert_reviews",
        partitions_def=partitions_def,
        group_name="review",
        auto_observe_interval_minutes=1,
        description="Expert verdict files `data/reviews/<domain>.csv` (row_id, verdict: approve/onay or "
        "reject/ret, note, reviewer). Their content hash is the data version: a saved file makes judged_cot "
        "stale for its domain.",
    )
    def expert_reviews(context, paths: RefineryPaths) -> DataVersionsByPartition:
        folder = Path(paths.reviews_dir)
        return DataVersionsByPartition(
            {key: DataVersion(file_version(folder / f"{key}.csv")) for key in partitions_def.get_partition_keys()}
        )

    return expert_reviews
