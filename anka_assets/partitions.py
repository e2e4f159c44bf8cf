"""Domain partitions: one per seed file `data/seeds/<domain>.yaml`, computed when the code loads.

Static partitions (not dynamic ones registered by a sensor): a new seed file becomes a partition
as soon as the code location (re)loads — every `dagster asset materialize` call, every run launched
by `dagster dev` after "Reload definitions" — with no sensor tick, no instance state to drift and no
stale partitions when a file is removed. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from pathlib import Path

from dagster import StaticPartitionsDefinition

from anka_assets.seed_loader import list_seed_files


def build_domain_partitions(seeds_dir: Path | str) -> StaticPartitionsDefinition:
    return StaticPartitionsDefinition([path.stem for path in list_seed_files(Path(seeds_dir))])
