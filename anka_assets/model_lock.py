"""One model load per role at a time, safe against `kill -9`: an OS file lock instead of a Dagster pool.

A Dagster pool slot is a row in the instance's database: a run killed with SIGKILL keeps it, and the
next step waits for it forever. A `fcntl.flock` lock belongs to an open file of a process, so the
kernel releases it when that process dies, however it dies. The lock file (`<DAGSTER_HOME>/.locks/
<role>.lock`) also holds a JSON line naming its holder (run id, pid, host, step, since when). A clean
release empties it; a holder line found by the next owner was therefore left by a process that died
holding the lock, and if that run is still STARTED in the instance while its process is gone, it is
marked failed there, so the UI shows the truth.
"""

from __future__ import annotations

import fcntl
import functools
import inspect
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from anka_assets.dead_runs import SWEPT, end_dead_run, reap_dead_runs

LOCK_DIR = ".locks"
#: How often a waiting step repeats, in the run log, which run holds the lock.
REPORT_EVERY_S = float(os.environ.get("ANKA_LOCK_REPORT_EVERY_S", "30"))
POLL_S = 0.2


@dataclass(frozen=True)
class Holder:
    run_id: str
    pid: int
    host: str
    step: str
    since: str  # ISO 8601, UTC

    def describe(self) -> str:
        return f"run {self.run_id} (step {self.step}, pid {self.pid} on {self.host}) since {self.since}"


def lock_path(instance_root: str | Path, role: str) -> Path:
    return Path(instance_root) / LOCK_DIR / f"{role}.lock"


def parse_holder(text: str) -> Holder | None:
    """The holder line of a lock file; None when it is empty or unreadable (being rewritten)."""
    try:
        return Holder(**json.loads(text))
    except (ValueError, TypeError):
        return None


def read_holder(path: Path) -> Holder | None:
    try:
        return parse_holder(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def _write(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    if text:
        os.pwrite(fd, text.encode("utf-8"), 0)
    os.fsync(fd)


@contextmanager
def file_lock(
    path: Path, holder: Holder, *, on_wait: Callable[[Holder | None, float], None],
    on_stale: Callable[[Holder], None], report_every_s: float | None = None, poll_s: float = POLL_S,
) -> Iterator[None]:
    """Hold an exclusive flock on `path` while the block runs, with `holder` written into it.

    While another process holds it, `on_wait(current_holder, waited_seconds)` is called at once and
    then every `report_every_s`. `on_stale(previous)` is called after acquiring when the file still
    names a holder: that process died while holding the lock."""
    report_every_s = REPORT_EVERY_S if report_every_s is None else report_every_s
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        started = time.monotonic()
        next_report = started
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if now >= next_report:
                    on_wait(read_holder(path), now - started)
                    next_report = now + report_every_s
                time.sleep(poll_s)
        previous = parse_holder(os.pread(fd, 1 << 16, 0).decode("utf-8", "replace"))
        if previous is not None:
            on_stale(previous)
        _write(fd, json.dumps(asdict(holder)) + "\n")
        try:
            yield
        finally:
            _write(fd, "")  # a clean release leaves no holder behind
    finally:
        os.close(fd)  # closing the descriptor releases the lock (the kernel does the same on death)


def settle_dead_holder(instance: Any, previous: Holder, *, role: str, run_id: str, log: Any) -> bool:
    """Mark the run of a holder that died holding the lock failed, if the instance still says
    STARTED and no process of that run is left on this host. Returns whether it was marked."""
    what = f"The {role} lock was left by {previous.describe()}, whose process died holding it"
    if previous.run_id == run_id:
        log.warning(f"{what}: an earlier attempt of this run.")
        return False
    run = instance.get_run_by_id(previous.run_id)
    if run is None:
        log.warning(f"{what}; that run is not in this instance.")
        return False
    if run.status not in SWEPT:
        log.info(f"{what}; that run is already {run.status.value}.")
        return False
    if previous.host != socket.gethostname() or not end_dead_run(
        instance, previous.run_id, f"by run {run_id}, which took the {role} lock over from it (held since {previous.since})"
    ):
        log.warning(f"{what}; its run process is still alive or on another host, so it is left {run.status.value}.")
        return False
    log.warning(f"{what}; run {previous.run_id} was still {run.status.value} and is now marked failed.")
    return True


@contextmanager
def step_model_lock(context: Any, role: str) -> Iterator[None]:
    """The `role` lock of this Dagster instance, held for one step, with waits and takeovers logged
    in the run log."""
    instance = context.instance
    holder = Holder(
        run_id=context.run_id, pid=os.getpid(), host=socket.gethostname(),
        step=context.asset_key.to_user_string(),
        since=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )

    def on_wait(current: Holder | None, waited: float) -> None:
        who = current.describe() if current else "another process (holder line not written yet)"
        context.log.info(f"Waiting for the {role} lock (one {role} model at a time), held by {who}; "
                         f"waited {waited:.0f} s so far.")

    def on_stale(previous: Holder) -> None:
        try:
            settle_dead_holder(instance, previous, role=role, run_id=context.run_id, log=context.log)
        except Exception as exc:  # noqa: BLE001  (the lock is ours either way)
            context.log.warning(f"Could not settle the run that died holding the {role} lock: {exc!r}")

    with file_lock(lock_path(instance.root_directory, role), holder, on_wait=on_wait, on_stale=on_stale):
        try:  # bookkeeping for the UI and the run queue: never a reason to fail this step
            for dead in reap_dead_runs(instance, f"by run {context.run_id} (step {holder.step})"):
                context.log.warning(f"Run {dead} was STARTED but its process is gone: marked failed.")
        except Exception as exc:  # noqa: BLE001
            context.log.warning(f"Could not sweep runs with dead processes: {exc!r}")
        yield


def holding_model_lock(role: str) -> Callable[[Callable[..., Iterator[Any]]], Callable[..., Iterator[Any]]]:
    """Decorate an asset's generator function so that its whole body runs under the `role` lock."""

    def wrap(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        if not inspect.isgeneratorfunction(fn):
            raise TypeError(f"{fn.__name__}: a model-bound asset must yield its outputs")

        @functools.wraps(fn)  # Dagster reads parameters and annotations through __wrapped__
        def locked(context: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            with step_model_lock(context, role):
                yield from fn(context, *args, **kwargs)

        return locked

    return wrap
