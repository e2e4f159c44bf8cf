"""Review: the queue of chains for experts and the experts' verdicts (observed, never made here), per domain."""

from __future__ import annotations

import dagster as dg

from anka_assets.assets.expert_reviews import build_expert_reviews
from anka_assets.assets.review_queue import build_review_queue
from anka_assets.defs import Wiring


def assets(wiring: Wiring) -> list:
    return [build_review_queue(wiring.domains), build_expert_reviews(wiring.domains)]


def build(wiring: Wiring) -> dg.Definitions:
    return dg.Definitions(assets=assets(wiring))


@dg.definitions
def defs() -> dg.Definitions:
    return build(Wiring.resolve())
