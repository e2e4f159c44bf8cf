"""`expanded_tasks`: new Turkey-specific tasks the teacher derives from each domain's curated seeds.

Evol-instruct style, anchored on one curated parent per request: a parent's prompt depends only on
that parent and its neighbours in the file, so adding seeds adds requests instead of reshuffling all
of them (and every earlier request stays a cache hit). Candidates pass the curated tasks' rules
(`validate_instruction`), must be Turkish and free of personal data, are deduplicated (exact and
near-duplicate, Turkish-aware keys) against the curated tasks and each other, and inherit their
parent's sensitivity. `seed_tasks` unions them with the curated tasks (see docs/ARCHITECTURE.md).
"""

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
from dagster import MetadataValue
from pydantic import Field

from anka_assets.assets.curated_seeds import domain_labels, tasks_frame, tasks_from_frame
from anka_assets.dedup import NearDuplicateIndex
from anka_assets.gateway import ModelGateway
from anka_assets.gateway.endpoint import EndpointSettings
from anka_assets.metadata import md_counts, md_preview
from anka_assets.model_calls import FailedCallsGate, call_figures
from anka_assets.model_stage import Asked, Finished, Generation, ModelStage, StageRun
from anka_assets.model_tasks import EXPANSION, TaskRun, run_task
from anka_assets.prompts import PromptTemplate
from anka_assets.schemas import SeedTasksType
from anka_assets.seed_loader import (
    SENSITIVITY_RANK,
    SeedTask,
    default_domain_label,
    seed_id_for,
    task_content_hash,
    validate_instruction,
)
from anka_assets.simulated import is_simulated_model
from anka_assets.text.pii import find_pii
from anka_assets.text.signals import detect_language


class ExpansionConfig(FailedCallsGate):
    target_per_domain: int = Field(
        default=120,
        description="Tasks wanted per domain, curated + expanded (10,000 over all domains at scale). "
        "0 or less than the curated count: no expansion.",
    )
    tasks_per_request: int = Field(default=5, description="New tasks asked of the teacher per curated parent.")
    oversample: float = Field(
        default=1.5, description="Ask for this many times the missing tasks, since some candidates are rejected."
    )
    examples_per_prompt: int = Field(default=3, description="Other curated tasks shown to the teacher as context.")
    near_duplicate_threshold: float = Field(
        default=0.7, description="Character 5-gram Jaccard similarity at or above which a task is a near-duplicate."
    )
    temperature: float = Field(default=0.8, description="Sampling temperature of the teacher for new tasks.")
    max_tokens: int = Field(default=1024, description="Completion token limit per expansion request.")
    max_repairs: int = Field(default=1, description="Re-asks after a malformed task list.")


@dataclass(frozen=True)
class ExpansionJob:
    parent: SeedTask
    count: int
    examples: tuple[str, ...]
    round: int  #: the n-th request for this parent (a distinct sample when parents run out)


def plan_expansion(curated: Sequence[SeedTask], cfg: ExpansionConfig) -> list[ExpansionJob]:
    """Which parents to expand and how many tasks to ask of each. Stable under appended seeds."""
    missing = cfg.target_per_domain - len(curated)
    if missing <= 0 or not curated or cfg.tasks_per_request <= 0:
        return []
    requests = math.ceil(missing * cfg.oversample / cfg.tasks_per_request)
    # Seeds with personal data are no parents: their offspring would echo it, and screening drops those.
    ordered = sorted((t for t in curated if not find_pii(t.instruction, mode="egress")), key=lambda t: t.source_line)
    if not ordered:
        return []
    jobs = []
    for i in range(requests):
        position = i % len(ordered)
        parent = ordered[position]
        round_ = i // len(ordered)  # more rounds than parents: the same parent again, another sample
        jobs.append(ExpansionJob(parent, cfg.tasks_per_request, _examples(ordered, position, cfg.examples_per_prompt), round_))
    return jobs


def _examples(ordered: Sequence[SeedTask], position: int, count: int) -> tuple[str, ...]:
    """The next `count` tasks after the parent (in file order) that are no stricter than the parent.

    KVKK: the request carries the parent's sensitivity, so context from a stricter seed (a confidential
    task shown beside a public one) must never ride along to an endpoint the parent may reach. Tasks
    with personal data are no examples either (the gateway would refuse the whole prompt)."""
    parent = ordered[position]
    limit = SENSITIVITY_RANK[parent.sensitivity]
    picked = []
    for step in range(1, len(ordered)):
        task = ordered[(position + step) % len(ordered)]
        if len(picked) == count:
            break
        if SENSITIVITY_RANK[task.sensitivity] <= limit and not find_pii(task.instruction, mode="egress"):
            picked.append(task.instruction)
    return tuple(picked)


def expansion_rows(jobs: Sequence[ExpansionJob], label: str) -> list[dict]:
    """The rows `EXPANSION` runs over, one per job; a job carries its parent's KVKK labels. Pure."""
    return [
        {"seed_id": j.parent.seed_id, "sensitivity": j.parent.sensitivity, "round": j.round, "domain_label": label,
         "instruction": j.parent.instruction, "count": j.count, "examples": list(j.examples)}
        for j in jobs
    ]


def run_expansion(
    gateway: ModelGateway, jobs: Sequence[ExpansionJob], label: str, *, partition: str | None,
    run_id: str | None = None, params: dict | None = None, max_repairs: int = 1,
    fallback: ModelGateway | None = None, template: PromptTemplate | None = None,
) -> tuple[list[list[str] | None], TaskRun[list[str]]]:
    """Ask the teacher for each job (re-asking malformed task lists; KVKK-refused jobs go to the
    fallback): the task list of each job (None when it has none) and the run."""
    run = run_task(EXPANSION, gateway, expansion_rows(jobs, label), asset="expanded_tasks", partition=partition,
                   run_id=run_id, params=params, max_repairs=max_repairs, fallback=fallback, template=template)
    return [a.parsed for a in run.answers], run


def screen_candidate(text: str) -> tuple[str | None, str | None]:
    """(clean text, None) or (None, reject reason) for one generated task."""
    try:
        clean, _ = validate_instruction(text)
    except ValueError:
        return None, "invalid"
    if detect_language(clean) not in ("tr", None):
        return None, "not_turkish"
    if find_pii(clean, mode="egress"):
        return None, "personal_data"
    return clean, None


def accept_candidates(
    domain: str,
    curated: Sequence[SeedTask],
    proposals: Sequence[tuple[SeedTask, Sequence[str]]],
    wanted: int,
    threshold: float,
    source: str,
) -> tuple[list[SeedTask], list[list[str]], Counter]:
    """Screen and deduplicate proposals (parent, candidate texts) in order, up to `wanted` tasks."""
    index = NearDuplicateIndex(threshold=threshold)
    for task in curated:
        index.add(task.seed_id, task.instruction)
    accepted: list[SeedTask] = []
    parents: list[list[str]] = []
    rejected: Counter = Counter()
    for parent, candidates in proposals:
        for text in candidates:
            if len(accepted) >= wanted:
                rejected["surplus"] += 1
                continue
            clean, reason = screen_candidate(text)
            if clean is None:
                rejected[reason] += 1
                continue
            seed_id = seed_id_for(domain, clean)
            duplicate = index.add_if_new(seed_id, clean)
            if duplicate is not None:
                rejected["duplicate" if duplicate[1] == "exact" else "near_duplicate"] += 1
                continue
            tags = ("genisletme",)
            accepted.append(SeedTask(
                seed_id=seed_id, domain=domain, instruction=clean, sensitivity=parent.sensitivity,
                sensitivity_defaulted=False, tags=tags, source=source, source_file=parent.source_file,
                source_line=parent.source_line, repaired=False,
                content_hash=task_content_hash(clean, parent.sensitivity, tags, source),
            ))
            parents.append([parent.seed_id])
    return accepted, parents, rejected


@dataclass(frozen=True)
class ExpansionWork:
    """One domain's curated tasks, the seed file's label and the expansion requests planned for them."""

    domain: str
    label: str
    curated: list[SeedTask]
    jobs: list[ExpansionJob]


def _prepare(run: StageRun, domain: str) -> ExpansionWork:
    rows = run.domain_rows("curated_seeds", domain)
    label = domain_labels(rows).get(domain) or default_domain_label(domain)  # the seed file's, as stored
    curated = tasks_from_frame(rows)
    return ExpansionWork(domain, label, curated, plan_expansion(curated, run.config))


def answering_model(task_run: TaskRun, settings: EndpointSettings) -> str:
    """The model name the teacher's own answers report (the fallback's do not count), else the configured one."""
    return next((a.result.model for a, by in zip(task_run.answers, task_run.handled_by)
                 if by is settings and a.result.model), None) or settings.model


def _finish(run: StageRun, work: ExpansionWork, asked: Asked[list[str]]) -> Finished:
    cfg = run.config
    accepted, parents, rejected, model = [], [], Counter(), None
    if work.jobs:
        model = answering_model(asked.run, run.gateway.settings)
        found = [a.parsed for a in asked.answers]
        accepted, parents, rejected = accept_candidates(
            work.domain, work.curated, [(job.parent, tasks or []) for job, tasks in zip(work.jobs, found)],
            cfg.target_per_domain - len(work.curated), cfg.near_duplicate_threshold,
            source=f"teacher:{model} ({run.template.version})",
        )
        rejected["request_without_tasks"] += sum(tasks is None for tasks in found)
    frame = tasks_frame(accepted, origin="expanded", parents=parents, label=work.label).with_columns(
        simulated=pl.lit(is_simulated_model(model)))
    run.log.info(f"{work.domain}: {len(accepted)} new tasks from {len(work.jobs)} requests; rejected {dict(rejected)}")
    return Finished(frame, {
        "dagster/row_count": len(frame),
        "curated": len(work.curated),
        "requests": len(work.jobs),
        **{f"rejected_{k}": v for k, v in sorted(rejected.items())},
        "rejected_by_reason": MetadataValue.md(md_counts(rejected, "reason", "candidates")),
        **call_figures(asked.run.calls),
        **({"model_call_failures": asked.health.describe()} if asked.health.failed else {}),
        "preview": MetadataValue.md(md_preview(frame, ["seed_id", "sensitivity", "instruction"], n=10)),
    })


def run_metadata(run: StageRun) -> dict:
    """Run-wide facts ("not asked" when no domain needed new tasks); each domain's are on its partition."""
    return {
        "teacher_endpoint": run.gateway.settings.endpoint if run.opened else "not asked",
        "teacher_model": run.gateway.settings.model if run.opened else "not asked",
        "template_version": run.template.version if run.opened else "not asked",
    }


EXPANDED_TASKS: ModelStage[ExpansionConfig, ExpansionWork, list[str]] = ModelStage(
    name="expanded_tasks", task=EXPANSION, endpoint="teacher", fallback=True, config=ExpansionConfig,
    inputs=("curated_seeds",),
    generation=lambda cfg: Generation({"temperature": cfg.temperature, "max_tokens": cfg.max_tokens}, cfg.max_repairs),
    prepare=_prepare, requests=lambda run, work: expansion_rows(work.jobs, work.label), finish=_finish,
    run_metadata=run_metadata, empty=lambda: tasks_frame([]),
    asset_args=dict(
        dagster_type=SeedTasksType, group_name="seeds",
        description="Teacher-generated Turkish tasks derived from each curated seed (evol-instruct), validated "
        "like curated ones, deduplicated with Turkish-aware keys, inheriting the parent's sensitivity.",
    ),
)

build_expanded_tasks = EXPANDED_TASKS.build
