"""One model load per role at a time, safe against `kill -9`: an OS file lock instead of a Dagster pool.

A Dagster pool slot is a row in the instance's database: a run killed with SIGKILL keeps it, and the
next step waits for it forever. A `fcntl.flock` lock belongs to an open file of a process, so the
kernel releases it when that process dies, however it dies. The lock file (`<DAGSTER_HOME>/.locks/
<role>.lock`) also holds a JSON line naming its holder (run id, pid, host, step, since when). A clean
release empties it; a holder line found by the next owner was therefore left by a process that died
holding the lock, and if that run is still STARTED in the instance while its process is gone, it is
marked failed there, so the UI shows the truth.

With a PostgreSQL instance (deploy/dagster-postgres.yaml: workers on several machines) a file on one
machine cannot exclude a step on another, so the lock is a PostgreSQL advisory lock in the instance's
database instead (:func:`pg_model_lock`), held by a connection of the step's own process: PostgreSQL
frees it when that session ends, on `kill -9` too (the kernel closes the socket) and, through TCP
keepalives, within ~30 s when a machine is lost. ``ANKA_<ROLE>_LOCK_SLOTS`` (default 1) lets that many
steps of a role run at once (several replicas behind the gateway's replica list).
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

from anka_assets import settings
from anka_assets.dead_runs import SWEPT, end_dead_run, host_id, reap_dead_runs

LOCK_DIR = ".locks"
#: How often a waiting step repeats, in the run log, which run holds the lock.
REPORT_EVERY_S: float = settings.value("ANKA_LOCK_REPORT_EVERY_S")
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


def instance_postgres_url(instance: Any) -> str | None:
    """The PostgreSQL URL of the instance's run storage (deploy/dagster-postgres.yaml), else None."""
    try:
        from dagster_postgres.run_storage import PostgresRunStorage
    except ImportError:  # pragma: no cover - dagster-postgres is a default dependency
        return None
    storage = instance.run_storage
    return storage.postgres_url if isinstance(storage, PostgresRunStorage) else None


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg2://``) as libpq reads it (``postgresql://``)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def lock_class_id(role: str) -> int:
    """The advisory lock's first key for a role: a stable signed 32-bit number."""
    import zlib

    value = zlib.crc32(f"anka-model-lock:{role}".encode("utf-8"))
    return value - (1 << 32) if value >= 1 << 31 else value


def lock_slots(role: str, environ: Any = None) -> int:
    env = os.environ if environ is None else environ
    raw = env.get(f"ANKA_{role.upper()}_LOCK_SLOTS", "1")
    try:
        slots = int(raw)
    except ValueError:
        raise ValueError(f"ANKA_{role.upper()}_LOCK_SLOTS={raw!r}: give a whole number of slots (>= 1)") from None
    if slots < 1:
        raise ValueError(f"ANKA_{role.upper()}_LOCK_SLOTS={raw!r}: give a whole number of slots (>= 1)")
    return slots


def lock_application_name(role: str, holder: Holder) -> str:
    """What the lock's session calls itself in pg_stat_activity: how waiters name the holder."""
    return f"anka {role} lock: run {holder.run_id[:8]} {holder.step} pid {holder.pid}@{holder.host}"[:63]


@contextmanager
def pg_model_lock(
    url: str, role: str, holder: Holder, *, on_wait: Callable[[list[str], float], None],
    slots: int = 1, report_every_s: float | None = None, poll_s: float = 0.5,
) -> Iterator[int]:
    """Hold one of `slots` advisory locks ``(lock_class_id(role), slot)`` in the database at `url` for the
    block; yields the slot. While all are taken, `on_wait(holders, waited_s)` is called at once and then
    every `report_every_s`, with the application names of the sessions holding them."""
    import psycopg2

    report_every_s = REPORT_EVERY_S if report_every_s is None else report_every_s
    try:
        con = psycopg2.connect(libpq_url(url), application_name=lock_application_name(role, holder),
                               keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
                               connect_timeout=10)
    except psycopg2.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RuntimeError(f"the {role} lock needs the Dagster instance's PostgreSQL, which cannot be reached "
                           f"({first}); check ANKA_DAGSTER_PG_URL and that the server is up, then build again") from None
    con.autocommit = True
    key = lock_class_id(role)
    prefix = f"anka {role} lock:%"
    try:
        started = time.monotonic()
        next_report = started
        slot = None
        with con.cursor() as cur:
            while slot is None:
                for candidate in range(slots):
                    cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (key, candidate))
                    if cur.fetchone()[0]:
                        slot = candidate
                        break
                else:
                    now = time.monotonic()
                    if now >= next_report:
                        cur.execute("SELECT application_name FROM pg_stat_activity WHERE application_name LIKE %s "
                                    "AND pid <> pg_backend_pid() ORDER BY backend_start", (prefix,))
                        on_wait([r[0] for r in cur.fetchall()], now - started)
                        next_report = now + report_every_s
                    time.sleep(poll_s)
        yield slot
    finally:
        con.close()  # ends the session: PostgreSQL frees the lock (as it does when the process dies)


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

    url = instance_postgres_url(instance)
    if url is not None:
        holder = Holder(run_id=holder.run_id, pid=holder.pid, host=host_id(), step=holder.step, since=holder.since)

        def on_pg_wait(holders: list[str], waited: float) -> None:
            who = "; ".join(holders) or "a session that has just ended"
            context.log.info(f"Waiting for the {role} lock (PostgreSQL advisory lock, "
                             f"{lock_slots(role)} slot(s)), held by {who}; waited {waited:.0f} s so far.")

        lock = pg_model_lock(url, role, holder, on_wait=on_pg_wait, slots=lock_slots(role))
    else:
        lock = file_lock(lock_path(instance.root_directory, role), holder, on_wait=on_wait, on_stale=on_stale)
    with lock:
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
