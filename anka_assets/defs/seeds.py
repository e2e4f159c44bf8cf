"""Seeds: the curated seed file, the teacher's expanded tasks and their union, per domain."""

from __future__ import annotations

import dagster as dg

from anka_assets.assets.curated_seeds import build_curated_seeds
from anka_assets.assets.expanded_tasks import build_expanded_tasks
from anka_assets.assets.seed_tasks import build_seed_tasks
from anka_assets.defs import Wiring


def assets(wiring: Wiring) -> list:
    return [build_curated_seeds(wiring.domains), build_expanded_tasks(wiring.domains),
            build_seed_tasks(wiring.domains)]


def build(wiring: Wiring) -> dg.Definitions:
    return dg.Definitions(assets=assets(wiring))


@dg.definitions
def defs() -> dg.Definitions:
    return build(Wiring.resolve())
