"""The Dagster code location: assembles assets, checks, resources and jobs. Nothing else lives here."""

from __future__ import annotations

from dagster import Definitions

from anka_assets.assets.seed_tasks import build_seed_tasks
from anka_assets.partitions import build_domain_partitions
from anka_assets.resources import RefineryPaths, warehouse_io_manager


def build_definitions(paths: RefineryPaths | None = None) -> Definitions:
    """Build the code location. Partitions come from the seed files present when this runs."""
    paths = paths or RefineryPaths.from_env()
    domains = build_domain_partitions(paths.seeds_dir)
    return Definitions(
        assets=[build_seed_tasks(domains)],
        resources={
            "io_manager": warehouse_io_manager(paths.warehouse),
            "paths": paths,
        },
    )


defs = build_definitions()
