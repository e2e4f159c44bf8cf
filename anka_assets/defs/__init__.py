"""The code location's definitions, one module per concern, loaded the way `dg` projects load theirs.

`anka_assets/definitions.py` hands this folder to `dagster.load_from_defs_folder`, which imports every
module here and merges what each module's `@dg.definitions` function returns:

- `seeds`: curated_seeds, expanded_tasks, seed_tasks (the `seeds` group);
- `distillation`: raw_cot, judged_cot;
- `review`: review_queue, expert_reviews;
- `release`: eval_tasks, sft_dataset, sft_export;
- `student`: lora_adapter, student_eval;
- `automation`: the jobs (jobs.py) over every asset above, the seed-file sensor and the dead-run reaper;
- `resources`: the warehouse IO manager, the paths, the teacher, the judge and the fallback teacher.

Every module also has `build(wiring) -> Definitions`, the same wiring with explicit inputs:
`build_definitions(paths=..., teacher=...)` (tests, the CLI) merges `build` of every module listed by
`concern_modules()`, so the folder and `build_definitions` cannot drift apart. A module that makes assets
has `assets(wiring)` too: the jobs select over what those return.

Adding a stage: write its asset builder in `anka_assets/assets/`, then one file here with `assets`,
`build` and `defs` (copy `review.py`); the jobs pick it up by its group. A module with a `defs` function
contributes only what that returns; this `__init__` has none, so it must hold no Dagster object at module
level (the loader would register it).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType

from dagster import PartitionsDefinition

from anka_assets.fallback import TeacherFallback
from anka_assets.gateway import ModelEndpoint
from anka_assets.partitions import build_domain_partitions
from anka_assets.resources import RefineryPaths, check_configuration


@dataclass(frozen=True)
class Wiring:
    """What the definitions are built from: the folders, the domain partitions (one per seed file present
    when this is resolved) and the model endpoints."""

    paths: RefineryPaths
    domains: PartitionsDefinition
    teacher: ModelEndpoint
    judge: ModelEndpoint
    teacher_fallback: TeacherFallback

    @classmethod
    def resolve(
        cls,
        paths: RefineryPaths | None = None,
        teacher: ModelEndpoint | None = None,
        judge: ModelEndpoint | None = None,
        teacher_fallback: TeacherFallback | None = None,
    ) -> Wiring:
        """What is not given comes from the environment: paths from `ANKA_*` (RefineryPaths.from_env),
        endpoints from `ANKA_TEACHER_*` / `ANKA_JUDGE_*` (nothing set: the local simulator), the optional
        local fallback teacher from `ANKA_TEACHER_FALLBACK_*` (refuses to load unless it is local). Every
        setting is checked (`resources.check_configuration`)."""
        teacher_fallback = teacher_fallback or TeacherFallback.from_environment()
        if teacher_fallback.configured:
            teacher_fallback.check_local()
        paths = paths or RefineryPaths.from_env()
        teacher, judge = teacher or ModelEndpoint(role="teacher"), judge or ModelEndpoint(role="judge")
        # Every setting is checked here: a bad one fails the load with one error naming its variable.
        check_configuration(paths, {"teacher": teacher, "judge": judge, "teacher_fallback": teacher_fallback})
        return cls(paths=paths, domains=build_domain_partitions(paths.seeds_dir), teacher=teacher, judge=judge,
                   teacher_fallback=teacher_fallback)


def concern_modules() -> list[ModuleType]:
    """Every module of this folder, by name (the ones `load_from_defs_folder` loads)."""
    return [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]
