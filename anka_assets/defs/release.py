"""Release: held-out evaluation tasks and SFT rows per domain, and the one release over every domain."""

from __future__ import annotations

import dagster as dg

from anka_assets.assets.eval_tasks import build_eval_tasks
from anka_assets.assets.sft_dataset import build_sft_dataset
from anka_assets.assets.sft_export import build_sft_export
from anka_assets.defs import Wiring


def assets(wiring: Wiring) -> list:
    return [build_eval_tasks(wiring.domains), build_sft_dataset(wiring.domains), build_sft_export(wiring.domains)]


def build(wiring: Wiring) -> dg.Definitions:
    return dg.Definitions(assets=assets(wiring))


@dg.definitions
def defs() -> dg.Definitions:
    return build(Wiring.resolve())
