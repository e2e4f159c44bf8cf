"""The Dagster code location: assembles assets, checks, resources and jobs. Nothing else lives here."""

from dagster import Definitions

from anka_assets.assets.expanded_tasks import build_expanded_tasks
from anka_assets.assets.judged_cot import build_judged_cot, build_review_queue
from anka_assets.assets.raw_cot import build_raw_cot
from anka_assets.assets.seed_tasks import build_seed_tasks
from anka_assets.fallback import TeacherFallback
from anka_assets.gateway import ModelEndpoint
from anka_assets.partitions import build_domain_partitions
from anka_assets.resources import RefineryPaths, warehouse_io_manager


def build_definitions(
    paths: RefineryPaths | None = None,
    teacher: ModelEndpoint | None = None,
    judge: ModelEndpoint | None = None,
    teacher_fallback: TeacherFallback | None = None,
) -> Definitions:
    """Build the code location. Partitions come from the seed files present when this runs;
    endpoints from `ANKA_TEACHER_*` / `ANKA_JUDGE_*` (nothing set: the local simulator); the optional
    local fallback teacher from `ANKA_TEACHER_FALLBACK_*` (refuses to load unless it is local)."""
    teacher_fallback = teacher_fallback or TeacherFallback.from_environment()
    if teacher_fallback.configured:
        teacher_fallback.check_local()
    paths = paths or RefineryPaths.from_env()
    domains = build_domain_partitions(paths.seeds_dir)
    assets = [
        build_expanded_tasks(domains),
        build_seed_tasks(domains),
        build_raw_cot(domains),
        build_judged_cot(domains),
        build_review_queue(domains),
    ]
    return Definitions(
        assets=assets,
        resources={
            "io_manager": warehouse_io_manager(paths.warehouse),
            "paths": paths,
            "teacher": teacher or ModelEndpoint(role="teacher"),
            "judge": judge or ModelEndpoint(role="judge"),
            "teacher_fallback": teacher_fallback,
        },
    )


defs = build_definitions()
