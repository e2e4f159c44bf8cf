"""Distillation: the teacher's chains of thought and the judge's verdicts on them, per domain."""

from __future__ import annotations

import dagster as dg

from anka_assets.assets.judged_cot import build_judged_cot
from anka_assets.assets.raw_cot import build_raw_cot
from anka_assets.defs import Wiring


def assets(wiring: Wiring) -> list:
    return [build_raw_cot(wiring.domains), build_judged_cot(wiring.domains)]


def build(wiring: Wiring) -> dg.Definitions:
    return dg.Definitions(assets=assets(wiring))


@dg.definitions
def defs() -> dg.Definitions:
    return build(Wiring.resolve())
