"""`expanded_tasks`: new Turkey-specific tasks the teacher derives from each domain's curated seeds.

Evol-instruct style, anchored on one curated parent per request: a parent's prompt depends only on
that parent and its neighbours in the file, so adding seeds adds requests instead of reshuffling all
of them (and every earlier request stays a cache hit). Candidates pass the curated tasks' rules
(`validate_instruction`), must be Turkish and free of personal data, are deduplicated (exact and
near-duplicate, Turkish-aware keys) against the curated tasks and each other, and inherit their
parent's sensitivity. `seed_tasks` unions them with the curated tasks (see docs/ARCHITECTURE.md).
"""

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
from dagster import (
    AssetExecutionContext,
    Config,
    MetadataValue,
    Output,
    PartitionsDefinition,
)
from pydantic import Field, PrivateAttr

from anka_assets.assets.curated_seeds import tasks_frame, tasks_from_frame
from anka_assets.dedup import NearDuplicateIndex
from distilabel.steps.tasks import Task

from anka_assets.assets import domain_table
from anka_assets.fallback import TeacherFallback
from anka_assets.gateway import ModelEndpoint, ModelResult
from anka_assets.gateway.distilabel_llm import GatewayLLM
from anka_assets.metadata import md_counts, md_preview, md_table
from anka_assets.model_calls import call_metrics, domain_label
from anka_assets.parsing import TASK_LIST_RESPONSE_FORMAT, ParseError, parse_task_list
from anka_assets.prompts import PromptTemplate, load_prompt
from anka_assets.resources import RefineryPaths
from anka_assets.schemas import SeedTasksType
from anka_assets.seed_loader import (
    SENSITIVITY_RANK,
    SeedTask,
    seed_id_for,
    task_content_hash,
    validate_instruction,
)
from anka_assets.text.pii import find_pii
from anka_assets.text.signals import detect_language


class ExpansionConfig(Config):
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


EXPANSION_STEP = "turkish_task_expansion"
# We run the task on its own (task.load / task.process), never in a distilabel Pipeline, on purpose:
# silence distilabel's warning that it was created outside a Pipeline context.
logging.getLogger(f"distilabel.step.{EXPANSION_STEP}").setLevel(logging.ERROR)


class TurkishTaskExpansion(Task):
    """distilabel task: evol-instruct in Turkish from one parent task, with our versioned Jinja prompt.

    Inputs: `instruction` (the parent), `domain_label`, `count`, `examples`; output: `gorevler`
    (None when the answer cannot be parsed). Run it with a `GatewayLLM` so that every call is
    KVKK-guarded, cached and audited."""

    prompt_name: str = "expand"
    _template: PromptTemplate | None = PrivateAttr(default=None)

    def load(self) -> None:
        super().load()
        self._template = load_prompt(self.prompt_name)

    @property
    def template(self) -> PromptTemplate:
        return self._template or load_prompt(self.prompt_name)

    @property
    def inputs(self) -> list[str]:
        return ["instruction", "domain_label", "count", "examples"]

    @property
    def outputs(self) -> list[str]:
        return ["gorevler", "model_name"]

    def format_input(self, input: dict) -> list[dict[str, str]]:
        return self.template.messages(
            domain_label=input["domain_label"], instruction=input["instruction"],
            count=input["count"], examples=list(input["examples"]),
        )

    def format_output(self, output: str | None, input: dict | None = None) -> dict:
        try:
            return {"gorevler": parse_task_list(output or "")}
        except ParseError:
            return {"gorevler": None}


def expansion_labels(jobs: Sequence[ExpansionJob], attempt: int) -> list[dict]:
    """KVKK labels and per-row parameters of expansion requests (a re-ask is its own cache entry)."""
    return [
        {"seed_id": j.parent.seed_id, "sensitivity": j.parent.sensitivity, "sample_index": j.round,
         "repair_attempt": attempt, "params": {"seed": j.round + 1000 * attempt}}
        for j in jobs
    ]


def run_expansion(
    task: TurkishTaskExpansion, llm: GatewayLLM, jobs: Sequence[ExpansionJob], max_repairs: int
) -> tuple[list[list[str] | None], list[ModelResult]]:
    """Ask the teacher for each job through the distilabel task; re-ask malformed task lists."""
    found: list[list[str] | None] = [None] * len(jobs)
    results: list[ModelResult] = []
    pending = list(range(len(jobs)))
    for attempt in range(max_repairs + 1):
        if not pending:
            break
        rows = [{"instruction": jobs[i].parent.instruction, "domain_label": domain_label(jobs[i].parent.domain),
                 "count": jobs[i].count, "examples": list(jobs[i].examples)} for i in pending]
        with llm.bind(expansion_labels([jobs[i] for i in pending], attempt)):
            outputs = next(task.process(rows))
        made = llm.last_results
        results += made
        retry = []
        for i, out, result in zip(pending, outputs, made):
            if out["gorevler"] is not None:
                found[i] = out["gorevler"]
            elif result.ok:  # answered, but not a task list: ask again
                retry.append(i)
        pending = retry
    return found, results


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


def build_expanded_tasks(partitions_def: PartitionsDefinition):
    @domain_table(
        partitions_def,
        name="expanded_tasks",
        pool="teacher",
        dagster_type=SeedTasksType,
        group_name="seeds",
        description="Teacher-generated Turkish tasks derived from each curated seed (evol-instruct), validated "
        "like curated ones, deduplicated with Turkish-aware keys, inheriting the parent's sensitivity.",
    )
    def expanded_tasks(context: AssetExecutionContext, config: ExpansionConfig, paths: RefineryPaths,
                       teacher: ModelEndpoint, teacher_fallback: TeacherFallback, curated_seeds: pl.DataFrame):
        frames, meta_rows, results = [], [], []
        rejected_total: Counter = Counter()
        gateway = fallback = None
        if teacher_fallback.configured:
            teacher_fallback.check_local()
        for domain in context.partition_keys:
            curated = tasks_from_frame(curated_seeds.filter(pl.col("domain") == domain))
            jobs = plan_expansion(curated, config)
            accepted, parents, rejected = [], [], Counter()
            if jobs:
                gateway = gateway or teacher.open_gateway(paths.warehouse, log=context.log)
                generation = {"temperature": config.temperature, "max_tokens": config.max_tokens,
                              "response_format": TASK_LIST_RESPONSE_FORMAT}
                llm = GatewayLLM.for_gateway(
                    gateway, asset="expanded_tasks", partition=domain, run_id=context.run_id,
                    generation_kwargs=generation,
                )
                task = TurkishTaskExpansion(llm=llm, name=EXPANSION_STEP)
                task.load()
                template = task.template
                llm.template_version = template.version  # the cache key follows the prompt file
                found, made = run_expansion(task, llm, jobs, config.max_repairs)
                results += made
                # KVKK-refused jobs (non-public parents for a commercial teacher) go to the local fallback.
                blocked = [i for i, r in enumerate(made[: len(jobs)]) if r.status == "blocked_kvkk"]
                if blocked and teacher_fallback.configured:
                    fallback = fallback or teacher_fallback.open_gateway(paths.warehouse, log=context.log)
                    fb_llm = GatewayLLM.for_gateway(fallback, asset="expanded_tasks", partition=domain,
                                                    run_id=context.run_id, generation_kwargs=generation)
                    fb_task = TurkishTaskExpansion(llm=fb_llm, name=EXPANSION_STEP)
                    fb_task.load()
                    fb_llm.template_version = template.version
                    fb_found, fb_made = run_expansion(fb_task, fb_llm, [jobs[i] for i in blocked], config.max_repairs)
                    results += fb_made
                    for i, tasks in zip(blocked, fb_found):
                        found[i] = tasks
                model = next((r.model for r in made if r.model), None) or gateway.settings.model
                accepted, parents, rejected = accept_candidates(
                    domain, curated, [(job.parent, tasks or []) for job, tasks in zip(jobs, found)],
                    config.target_per_domain - len(curated), config.near_duplicate_threshold,
                    source=f"teacher:{model} ({template.version})",
                )
                rejected["request_without_tasks"] += sum(tasks is None for tasks in found)
            frames.append(tasks_frame(accepted, origin="expanded", parents=parents))
            rejected_total += rejected
            meta_rows.append((domain, len(curated), len(jobs), len(accepted), sum(rejected.values())))
            context.log.info(f"{domain}: {len(accepted)} new tasks from {len(jobs)} requests; rejected {dict(rejected)}")
        df = pl.concat(frames) if frames else tasks_frame([])
        yield Output(df, metadata={
            "dagster/row_count": len(df),
            "domains": MetadataValue.md(md_table(meta_rows, ["domain", "curated", "requests", "accepted", "rejected"])),
            **{f"rejected_{k}": v for k, v in sorted(rejected_total.items())},
            "rejected_by_reason": MetadataValue.md(md_counts(rejected_total, "reason", "candidates")),
            **call_metrics(results),
            "preview": MetadataValue.md(md_preview(df, ["seed_id", "sensitivity", "instruction"], n=10)),
        })

    return expanded_tasks
