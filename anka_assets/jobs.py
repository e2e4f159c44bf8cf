"""Named jobs (what `anka-refinery build` submits, what the UI re-executes) and the seed-file sensor.

- `domain_build`: every table of one domain, curated seeds to SFT rows (partitioned by domain);
- `cross_domain_build`: the release, the adapter and its evaluation, over every domain;
- one job per stage group for the UI's launchpad: `seeds`, `distillation`, `review`, `release_domain`
  (the domain half of the `release` group) and `student`.

All run their steps in the run's own process (Dagster's `in_process` executor, which here also tags the run
with the machine executing it for the dead-run sweep, dead_runs.py): one model load per run, and the
model locks and the warehouse connection stay in one process. Runs go through the instance's run queue
(`dagster.yaml`'s `max_concurrent_runs`), whoever submits them.

`seed_file_sensor` (stopped by default; turn it on in the UI under Automation) builds a domain whose seed
file is new or changed: it compares each file's SHA-256 with the one `curated_seeds` recorded the last
time it was built, and asks for one `domain_build` run per new content (the run key is the hash, so the
same content is never built twice by the sensor).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import (
    AssetKey,
    AssetSelection,
    DefaultSensorStatus,
    PartitionsDefinition,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,

    define_asset_job,
    sensor,
)

from anka_assets.dead_runs import host_tagged_in_process_executor
from anka_assets.seed_loader import list_seed_files

DOMAIN_JOB = "domain_build"
CROSS_DOMAIN_JOB = "cross_domain_build"
#: The stage groups of the UI whose domain tables get a job of their own (`release_domain`: eval_tasks and
#: sft_dataset; the release itself, sft_export, is cross-domain).
GROUP_JOBS = {"seeds": "seeds", "distillation": "distillation", "review": "review", "release": "release_domain"}
#: Runs carrying this tag are limited to one at a time per value by the PostgreSQL instance's queue.
EXCLUSIVE_TAG = "anka/exclusive"
SEED_FILE_SHA = "seed_file_sha256"  #: `curated_seeds` metadata: the bytes it was built from


#: `ANKA_EXECUTOR` values: where a run's steps execute (deploy/README.md). Unset: in the run's process.
EXECUTORS = ("in_process", "k8s", "celery", "docker")


def executor_from_env(environ: Mapping[str, str] | None = None):
    """The executor of every job: `ANKA_EXECUTOR` = in_process (default) | k8s (each step a Kubernetes
    Job, dagster-k8s) | celery (each step a Celery task, dagster-celery) | docker (each step a container,
    dagster-docker). The last three come with `pip install 'anka-refinery[deploy]'`; their own settings
    are the run config's `execution.config` (deploy/executors/*.yaml)."""
    env = os.environ if environ is None else environ
    name = env.get("ANKA_EXECUTOR", "").strip() or "in_process"
    if name not in EXECUTORS:
        raise ValueError(f"ANKA_EXECUTOR={name!r}: choose one of {', '.join(EXECUTORS)}")
    try:
        if name == "k8s":
            from dagster_k8s import k8s_job_executor
            return k8s_job_executor
        if name == "celery":
            from dagster_celery import celery_executor
            return celery_executor
        if name == "docker":
            from dagster_docker import docker_executor
            return docker_executor
    except ImportError as exc:
        raise ValueError(f"ANKA_EXECUTOR={name} needs the deploy extra: pip install 'anka-refinery[deploy]' "
                         f"({exc})") from None
    return host_tagged_in_process_executor


def build_jobs(assets: Sequence, partitions_def: PartitionsDefinition) -> dict[str, Any]:
    domain_keys = [k for a in assets if getattr(a, "is_materializable", False) and a.partitions_def is not None
                   for k in a.keys]
    cross_keys = [k for a in assets if getattr(a, "is_materializable", False) and a.partitions_def is None
                  for k in a.keys]
    executor = executor_from_env()
    jobs = {
        DOMAIN_JOB: define_asset_job(
            DOMAIN_JOB, AssetSelection.assets(*domain_keys), partitions_def=partitions_def,
            executor_def=executor,
            description="Every table of one domain: curated seeds → expanded tasks → chains of thought → "
            "judged → review queue → held-out tasks → SFT rows. `anka-refinery build` runs it per domain."),
        CROSS_DOMAIN_JOB: define_asset_job(
            CROSS_DOMAIN_JOB, AssetSelection.assets(*cross_keys), executor_def=executor,
            # deploy/dagster-postgres.yaml: one run of it at a time across every worker of the instance
            tags={EXCLUSIVE_TAG: CROSS_DOMAIN_JOB},
            description="The release (sft_export), the LoRA adapter and its evaluation, over every domain "
            "built so far. `anka-refinery build` runs it after the domains when their tables changed."),
    }
    for group, name in GROUP_JOBS.items():
        jobs[name] = define_asset_job(
            name, AssetSelection.groups(group) & AssetSelection.assets(*domain_keys),
            partitions_def=partitions_def, executor_def=executor,
            description=f"The `{group}` stage group's domain tables.")
    jobs["student"] = define_asset_job(
        "student", AssetSelection.groups("student"), executor_def=executor,
        description="The `student` stage group: train the LoRA adapter on the release and evaluate it.")
    return jobs


def seed_file_version(path: Path) -> str:
    """What `curated_seeds` records of the file it read, and what the sensor compares."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def changed_seed_files(files: Mapping[str, str], built: Mapping[str, str | None]) -> list[str]:
    """Domains whose file content (`files`: domain → SHA-256) differs from what was last built. Pure."""
    return sorted(d for d, sha in files.items() if built.get(d) != sha)


def seed_file_sensor(job: Any, seeds_dir: str | Path):
    @sensor(job=job, name="seed_file_sensor", minimum_interval_seconds=30,
            default_status=DefaultSensorStatus.STOPPED,
            description="Builds a domain (job `domain_build`) whose seed file `data/seeds/<domain>.yaml` is "
            "new or changed since curated_seeds last read it. Off by default. A brand-new file becomes a "
            "partition when the code location reloads ('Reload definitions').")
    def _sensor(context: SensorEvaluationContext):
        known = set(job.partitions_def.get_partition_keys()) if job.partitions_def else set()
        files = {p.stem: seed_file_version(p) for p in list_seed_files(Path(seeds_dir))}
        built = {d: _built_version(context, d) for d in files if d in known}
        unloaded = sorted(set(files) - known)
        requests = [RunRequest(run_key=f"{d}:{files[d][:16]}", partition_key=d,
                               tags={"anka/entry": "seed_file_sensor", "anka/seed_file_sha256": files[d]})
                    for d in changed_seed_files({d: files[d] for d in built}, built)]
        if requests:
            return requests
        if unloaded:
            return SkipReason(f"new seed file(s) {', '.join(unloaded)}: reload the code location to make them "
                              "partitions ('Reload definitions')")
        return SkipReason("every seed file is built as it is")

    return _sensor


def _built_version(context: SensorEvaluationContext, domain: str) -> str | None:
    from dagster import AssetRecordsFilter

    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("curated_seeds"), asset_partitions=[domain]), limit=1).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get(SEED_FILE_SHA)
    return None if value is None else str(getattr(value, "value", value))
