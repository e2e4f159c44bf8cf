"""Student: the LoRA adapter trained on the release and its evaluation against the base model."""

from __future__ import annotations

import dagster as dg

from anka_assets.assets.lora_adapter import lora_adapter
from anka_assets.assets.student_eval import student_eval
from anka_assets.defs import Wiring


def assets(wiring: Wiring) -> list:
    return [lora_adapter, student_eval]  # not partitioned: one adapter over the release of every domain


def build(wiring: Wiring) -> dg.Definitions:
    return dg.Definitions(assets=assets(wiring))


@dg.definitions
def defs() -> dg.Definitions:
    return build(Wiring.resolve())
