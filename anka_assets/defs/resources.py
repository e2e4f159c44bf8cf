"""Resources: the warehouse IO manager, the refinery's folders, the teacher, the judge, the fallback teacher."""

from __future__ import annotations

import dagster as dg

from anka_assets.defs import Wiring
from anka_assets.resources import warehouse_io_manager


def build(wiring: Wiring) -> dg.Definitions:
    return dg.Definitions(resources={
        "io_manager": warehouse_io_manager(wiring.paths.warehouse),
        "paths": wiring.paths,
        "teacher": wiring.teacher,
        "judge": wiring.judge,
        "teacher_fallback": wiring.teacher_fallback,
    })


@dg.definitions
def defs() -> dg.Definitions:
    return build(Wiring.resolve())
