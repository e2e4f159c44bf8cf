"""The Dagster code location: assembles assets, checks, resources and jobs. Nothing else lives here."""

import warnings

from dagster import BetaWarning, Definitions, PreviewWarning
from pydantic.warnings import UnsupportedFieldAttributeWarning

# Where the code location loads (the UI, every run's subprocess, the CLI): Dagster's notices about the
# beta/preview APIs we chose on purpose (Pandera types, backfill policies, observable sources) and
# distilabel's pydantic field declarations are noise to a user. Filtered by category, nothing else.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)
warnings.filterwarnings("ignore", category=UnsupportedFieldAttributeWarning)

from anka_assets.assets.curated_seeds import build_curated_seeds
from anka_assets.assets.eval_tasks import build_eval_tasks
from anka_assets.assets.expanded_tasks import build_expanded_tasks
from anka_assets.assets.expert_reviews import build_expert_reviews
from anka_assets.assets.judged_cot import build_judged_cot
from anka_assets.assets.lora_adapter import lora_adapter
from anka_assets.assets.raw_cot import build_raw_cot
from anka_assets.assets.review_queue import build_review_queue
from anka_assets.assets.seed_tasks import build_seed_tasks
from anka_assets.assets.sft_dataset import build_sft_dataset
from anka_assets.assets.sft_export import build_sft_export
from anka_assets.assets.student_eval import student_eval
from anka_assets.dead_runs import dead_run_reaper
from anka_assets.jobs import DOMAIN_JOB, build_jobs, seed_file_sensor
from anka_assets.fallback import TeacherFallback
from anka_assets.gateway import ModelEndpoint
from anka_assets.partitions import build_domain_partitions
from anka_assets.resources import RefineryPaths, check_configuration, warehouse_io_manager


def build_definitions(
    paths: RefineryPaths | None = None,
    teacher: ModelEndpoint | None = None,
    judge: ModelEndpoint | None = None,
    teacher_fallback: TeacherFallback | None = None,
) -> Definitions:
    """Build the code location. Partitions come from the seed files present when this runs;
    endpoints from `ANKA_TEACHER_*` / `ANKA_JUDGE_*` (nothing set: the local simulator); the optional
    local fallback teacher from `ANKA_TEACHER_FALLBACK_*` (refuses to load unless it is local). Every
    setting is checked here (`check_configuration`): a bad one fails the load, naming its variable."""
    teacher_fallback = teacher_fallback or TeacherFallback.from_environment()
    if teacher_fallback.configured:
        teacher_fallback.check_local()
    paths = paths or RefineryPaths.from_env()
    endpoints = {"teacher": teacher or ModelEndpoint(role="teacher"), "judge": judge or ModelEndpoint(role="judge"),
                 "teacher_fallback": teacher_fallback}
    check_configuration(paths, endpoints)
    domains = build_domain_partitions(paths.seeds_dir)
    assets = [
        build_curated_seeds(domains),
        build_expanded_tasks(domains),
        build_seed_tasks(domains),
        build_raw_cot(domains),
        build_judged_cot(domains),
        build_review_queue(domains),
        build_expert_reviews(domains),
        build_eval_tasks(domains),
        build_sft_dataset(domains),
        build_sft_export(domains),
        lora_adapter,
        student_eval,
    ]
    jobs = build_jobs(assets, domains)
    return Definitions(
        assets=assets,
        jobs=list(jobs.values()),
        # dead_run_reaper: killed runs must not hold the one-run queue (dead_runs.py);
        # seed_file_sensor (off by default): builds a domain whose seed file is new or changed.
        sensors=[dead_run_reaper, seed_file_sensor(jobs[DOMAIN_JOB], paths.seeds_dir)],
        resources={
            "io_manager": warehouse_io_manager(paths.warehouse),
            "paths": paths,
            **endpoints,
        },
    )


defs = build_definitions()
