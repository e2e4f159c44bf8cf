"""Submitting named jobs to the instance's run queue and following them, for `anka-refinery build`.

Runs are created from the code location (the same origin the UI uses, so the UI can re-execute them)
and submitted to the instance's run coordinator: `dagster.yaml`'s queue and its `max_concurrent_runs`
see every CLI run, and the daemon launches them. When no daemon of this instance is alive (no
heartbeat in the last `DAEMON_FRESH_S` seconds: `dagster dev` is not running), the CLI starts
`dagster-daemon run` for the duration of the build and stops it afterwards; its own output goes to
`$DAGSTER_HOME/logs/anka-daemon.log`, never to the terminal. The run queue, the launcher and the daemon
are Dagster's; nothing here schedules or locks anything itself.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, DagsterRunStatus

#: A daemon whose queue heartbeat is older than this is taken for gone (Dagster's own health check
#: tolerates 30 minutes, far too long for a build that waits on it).
DAEMON_FRESH_S = 45.0
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def open_instance() -> DagsterInstance:
    """`DagsterInstance.get()`, with the instance's first creation serialised between processes on this
    machine: two builds started together on a fresh `DAGSTER_HOME` would otherwise both create the
    SQLite run storage's tables, and one fails with "table runs already exists". The storages are
    created eagerly by the constructor, so holding an OS file lock around it is enough."""
    home = Path(os.environ["DAGSTER_HOME"])
    (home / ".anka").mkdir(parents=True, exist_ok=True)
    with open(home / ".anka" / "instance.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return DagsterInstance.get()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def daemon_alive(instance: DagsterInstance, now: float | None = None) -> bool:
    beat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
    return beat is not None and (now or time.time()) - beat.timestamp <= DAEMON_FRESH_S


def _end_with_parent() -> None:
    """In the daemon's process before exec (Linux): SIGTERM it when the build that started it dies, even
    by SIGKILL, so no daemon outlives its build."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class RunQueue(AbstractContextManager):
    """The code location loaded once (as the daemon and the UI load it) and a daemon to launch runs."""

    instance: DagsterInstance
    workspace_file: Path
    daemon_log: Path

    location_name: str = "anka_assets"  #: as workspace.yaml names it: the daemon launches runs from there
    module_name: str = "anka_assets.definitions"

    def __enter__(self) -> "RunQueue":
        from dagster import __version__
        from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
        from dagster._core.remote_origin import InProcessCodeLocationOrigin
        from dagster._core.workspace.context import WorkspaceProcessContext
        from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

        self._stack = ExitStack()
        self._daemon: subprocess.Popen | None = None
        self._lock_fd: int | None = None
        self.ensure_daemon()  # first: it loads the code location in its own processes meanwhile
        # The code location in this process (it is already imported): runs created from it carry the
        # origin the daemon's workspace knows by `location_name`.
        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(executable_path=sys.executable, module_name=self.module_name,
                                 working_directory=str(self.workspace_file.parent)),
            location_name=self.location_name)
        context = self._stack.enter_context(WorkspaceProcessContext(
            instance=self.instance, version=__version__, read_only=False,
            workspace_load_target=InProcessWorkspaceLoadTarget(origin)))
        self.workspace = context.create_request_context()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_daemon()
        self._stack.close()

    @property
    def started_daemon(self) -> bool:
        return self._daemon is not None

    def ensure_daemon(self) -> None:
        """Start `dagster-daemon run` unless a live one serves this instance, ours still runs, or another
        build on this machine started one (it holds `daemon.lock` beside the log for as long as its
        daemon runs: two builds started at once must not start two daemons, which would both launch
        the same queued run; the kernel frees the lock when that build dies, and the next look here
        starts a new daemon)."""
        if self._daemon is not None and self._daemon.poll() is None:
            return
        if daemon_alive(self.instance):
            return
        if not self._own_daemon_lock():
            return
        self.daemon_log.parent.mkdir(parents=True, exist_ok=True)
        exe = Path(sys.executable).parent / "dagster-daemon"
        log = open(self.daemon_log, "ab")
        self._daemon = subprocess.Popen(
            [str(exe), "run", "-w", str(self.workspace_file)], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.workspace_file.parent,
            preexec_fn=_end_with_parent)
        log.close()

    def stop_daemon(self, grace_s: float = 10.0, poll_s: float = 1.0) -> None:
        """Stop the daemon this build started, once the queue is empty: another build (or the UI) may
        have queued runs on it meanwhile, and they finish first."""
        proc, self._daemon = self._daemon, None
        if proc is None:
            return
        said = False
        while proc.poll() is None and (pending := pending_runs(self.instance)):
            if not said:
                print(f"the Dagster daemon this build started serves {len(pending)} more run(s) of other builds; "
                      "it stops when they are done", flush=True)
                said = True
            time.sleep(poll_s)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace_s)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        # Ours is gone: its last heartbeat must not make the next build wait for a daemon that is not there.
        self.instance.wipe_daemon_heartbeats()
        self._release_daemon_lock()

    def _own_daemon_lock(self) -> bool:
        import fcntl

        if getattr(self, "_lock_fd", None) is not None:
            return True
        self.daemon_log.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.daemon_log.parent / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _release_daemon_lock(self) -> None:
        fd, self._lock_fd = getattr(self, "_lock_fd", None), None
        if fd is not None:
            os.close(fd)  # closing the file releases the flock

    def submit(self, job_name: str, *, partition: str | None = None, tags: Mapping[str, str] | None = None,
               run_config: Mapping[str, Any] | None = None) -> str:
        """Create a run of `job_name` (one domain partition, or none) and hand it to the run queue."""
        from dagster._core.definitions.selector import JobSubsetSelector

        location = self.workspace.get_code_location(self.workspace.code_location_names[0])
        repo = next(iter(location.get_repositories().values()))
        selector = JobSubsetSelector(location_name=location.name, repository_name=repo.name, job_name=job_name,
                                     op_selection=None)
        remote_job = location.get_job(selector)
        all_tags = {**remote_job.tags, **(tags or {})}
        if partition is not None:
            all_tags["dagster/partition"] = partition
        config = dict(run_config or {})
        plan = location.get_execution_plan(remote_job, config, step_keys_to_execute=None, known_state=None,
                                           instance=self.instance)
        run = self.instance.create_run(
            job_name=job_name, run_id=None, run_config=config,
            resolved_op_selection=remote_job.resolved_op_selection,
            step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute, op_selection=None,
            status=None, root_run_id=None, parent_run_id=None, tags=all_tags,
            job_snapshot=remote_job.job_snapshot, execution_plan_snapshot=plan.execution_plan_snapshot,
            parent_job_snapshot=remote_job.parent_job_snapshot, remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(), asset_selection=None, asset_check_selection=None,
            asset_graph=repo.asset_graph,
        )
        self.instance.submit_run(run.run_id, self.workspace)
        return run.run_id


ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
          DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def pending_runs(instance: DagsterInstance, job_name: str | None = None) -> list:
    """Runs queued or in progress in this instance (of one job, or any)."""
    from dagster import RunsFilter

    return list(instance.get_runs(RunsFilter(statuses=ACTIVE, job_name=job_name)))


@dataclass
class RunEvent:
    """One thing a person following a run may want to see."""

    kind: str  #: "status", "progress", "warning", "step_failure", "run_failure", "log"
    run_id: str
    text: str
    step: str | None = None
    done: int | None = None
    total: int | None = None


def follow(instance: DagsterInstance, run_id: str, queue: RunQueue | None = None,
           poll_s: float = 0.5) -> Iterator[RunEvent]:
    """Every event of a run as it happens, until the run has finished (then its final status)."""
    from anka_assets.run_events import describe_record

    cursor = None
    last_status = None
    while True:
        run = instance.get_run_by_id(run_id)
        status = run.status if run else None
        if status != last_status:
            last_status = status
            yield RunEvent("status", run_id, status.value if status else "missing")
        conn = instance.get_records_for_run(run_id, cursor=cursor)
        cursor = conn.cursor
        for record in conn.records:
            event = describe_record(run_id, record.event_log_entry)
            if event is not None:
                yield event
        if status in FINISHED or status is None:
            if not conn.has_more:
                return
            continue
        if status == DagsterRunStatus.QUEUED and queue is not None:
            queue.ensure_daemon()  # the daemon we counted on went away: start ours
        if not conn.has_more:
            time.sleep(poll_s)
