"""Runs the instance calls STARTED whose process is gone (killed with `kill -9`, OOM, a lost machine
power) are marked failed, so that the UI shows the truth and the run queue (one run at a time,
dagster.yaml) does not wait forever behind them.

A run's process is the one that executes its steps; its pid is in the run's own engine event
("Executing steps in process (pid: N)" / "... multiprocess executor: parent process (pid: N)").
Pids are only meaningful on the host that ran them. With local storage (SQLite, in memory) every run
of the instance ran here. With a shared instance (PostgreSQL, deploy/dagster-postgres.yaml) runs of many
machines are in one database: each run records the machine that executes it in its `anka/run_host` tag
(hostname + kernel boot id, set by the jobs' executor, `host_tagged_in_process_executor`), and a machine
sweeps only its own runs; never a run of another machine by a pid that means nothing here. Called by every model-bound step once it holds its lock (model_lock.py) and, for runs launched
from the UI, by the `dead_run_reaper` sensor every 30 s while the daemon runs (`dagster dev`).
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from typing import Any

from dagster import (
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

SWEPT = (DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING)  # STARTING: no process recorded yet
#: The machine that executes a run (see :func:`host_id`): only that machine judges its pid.
HOST_TAG = "anka/run_host"


@lru_cache(maxsize=1)
def host_id() -> str:
    """This machine (or container) for pids: hostname and the kernel's boot id, so a rebooted host or
    another container of the same name is not taken for this one."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip()[:8]
    except OSError:
        boot = "noboot"
    return f"{socket.gethostname()}/{boot}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_process_pid(instance: Any, run_id: str) -> int | None:
    """The pid of the process that executes a run's steps, from the run's engine events."""
    pid = None
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        if not record.message.startswith("Executing steps"):
            continue
        data = record.dagster_event.engine_event_data if record.dagster_event else None
        value = data.metadata.get("pid") if data is not None else None
        if value is not None:
            pid = int(value.value)
    return pid


def storage_is_local(instance: Any) -> bool:
    from dagster._core.storage.runs.in_memory import InMemoryRunStorage
    from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage

    return isinstance(instance.run_storage, (SqliteRunStorage, InMemoryRunStorage))


def end_dead_run(instance: Any, run_id: str, why: str) -> bool:
    """Mark one run failed (canceled if it was being canceled) when the instance still has it in
    progress and its process is gone. The status is read again after the pid check: a dead process
    writes no more events, so a run that finished meanwhile is left alone."""
    pid = run_process_pid(instance, run_id)
    if pid is not None and pid_alive(pid):
        return False
    run = instance.get_run_by_id(run_id)
    if run is None or run.status not in SWEPT:
        return False
    gone = f"The process of this run (pid {pid}) is gone" if pid is not None else "This run's process is gone"
    if run.status == DagsterRunStatus.CANCELING:
        instance.report_run_canceled(run, message=f"{gone}; marked canceled {why}.")
    else:
        instance.report_run_failed(run, message=f"{gone}; marked failed {why}.")
    return True


def runs_this_host_may_judge(instance: Any, runs: list) -> list:
    """The runs whose pids mean something here: all of them with local storage; with a shared
    instance only those tagged as executed on this machine."""
    if storage_is_local(instance):
        return runs
    me = host_id()
    return [run for run in runs if run.tags.get(HOST_TAG) == me]


def reap_dead_runs(instance: Any, why: str) -> list[str]:
    """End every run in progress (of this machine) whose process is gone; the ids of the runs ended."""
    reaped = []
    records = instance.get_run_records(filters=RunsFilter(statuses=list(SWEPT)))
    for run in runs_this_host_may_judge(instance, [r.dagster_run for r in records]):
        run_id = run.run_id
        if run_process_pid(instance, run_id) is not None and end_dead_run(instance, run_id, why):
            reaped.append(run_id)
    return reaped


@sensor(
    name="dead_run_reaper", minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
    description="Marks runs failed whose process was killed, so the one-run-at-a-time queue moves on.",
)
def dead_run_reaper(context: SensorEvaluationContext) -> SkipReason:
    reaped = reap_dead_runs(context.instance, "by the dead_run_reaper sensor")
    return SkipReason(f"marked failed: {', '.join(reaped)}" if reaped else "no run with a dead process")


def _tag_host_then(execute):
    def run(self, plan_context, execution_plan):
        try:  # bookkeeping for the sweep above: never a reason to fail a run
            plan_context.instance.add_run_tags(plan_context.run_id, {HOST_TAG: host_id()})
        except Exception:  # noqa: BLE001
            pass
        yield from execute(self, plan_context, execution_plan)

    return run


def host_tagged_in_process_executor_def():
    """Dagster's `in_process` executor (same name, same config), which first tags the run with the
    machine executing it (`anka/run_host`)."""
    from dagster import executor
    from dagster._core.definitions.executor_definition import IN_PROC_CONFIG, _core_in_process_executor_creation
    from dagster._core.executor.in_process import InProcessExecutor

    class HostTaggedInProcessExecutor(InProcessExecutor):
        execute = _tag_host_then(InProcessExecutor.execute)

    @executor(name="in_process", config_schema=IN_PROC_CONFIG)
    def host_tagged_in_process_executor(init_context):
        inner = _core_in_process_executor_creation(init_context.executor_config)
        inner.__class__ = HostTaggedInProcessExecutor  # same state, one more step before executing
        return inner

    return host_tagged_in_process_executor


host_tagged_in_process_executor = host_tagged_in_process_executor_def()
