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


class SeedsFolderError(ValueError):
    """The seeds folder is missing or holds no seed file: nothing could be built, so say so at load."""


def build_domain_partitions(seeds_dir: Path | str) -> StaticPartitionsDefinition:
    folder = Path(seeds_dir)
    if not folder.is_dir():
        raise SeedsFolderError(
            f"seeds folder {folder} does not exist: create it with one <domain>.yaml per domain "
            f"(see README, 'Seed files'), or point ANKA_SEEDS_DIR at the folder that has them"
        )
    files = list_seed_files(folder)
    if not files:
        raise SeedsFolderError(
            f"seeds folder {folder} has no seed file: add one <domain>.yaml per domain "
            f"(e.g. hukuk.yaml; see README, 'Seed files'), or point ANKA_SEEDS_DIR elsewhere"
        )
    return StaticPartitionsDefinition([path.stem for path in files])
