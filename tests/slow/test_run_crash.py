"""Crashes and instances, as a user meets them through the dagster CLI: `kill -9` of a run while the
teacher is answering costs only the unanswered calls and never hangs the next run; two DAGSTER_HOMEs
are two instances whatever the working directory. Plus the model lock on its own, across processes."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus

from anka_assets.model_lock import Holder, file_lock, lock_path, read_holder
from tests.conftest import REPO, SMALL_SEEDS, write_seed
from tests.slow.test_gateway_crash import slow_simulator  # noqa: F401  (fixture: simulator CLI, 0.25 s per answer)

DAGSTER = str(Path(sys.executable).parent / "dagster")
SAMPLES = 8  # hukuk has 3 seed tasks: 24 teacher calls, 2 at a time, 0.25 s each: about 3 s of answering
N_CALLS = 3 * SAMPLES

HOLD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[2])
    from pathlib import Path
    from anka_assets.model_lock import Holder, file_lock
    me = Holder(run_id="run-dead", pid=0, host="h", step="raw_cot", since="2026-12-01T00:00:00+00:00")
    with file_lock(Path(sys.argv[1]), me, on_wait=lambda h, w: None, on_stale=lambda h: None):
        print("holding", flush=True)
        sys.stdin.readline()  # until told (or the test ends): then a clean release
    """
)


def test_lock_waiter_names_the_holder_and_takes_over_when_it_is_killed(tmp_path):
    path = lock_path(tmp_path, "teacher")
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(REPO)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "holding"
        assert read_holder(path).run_id == "run-dead"
        waits, stale = [], []

        def on_wait(holder, waited):
            waits.append((holder, waited))
            if len(waits) == 3:
                child.send_signal(signal.SIGKILL)  # dies holding the lock: no cleanup runs

        me = Holder(run_id="run-next", pid=os.getpid(), host="h", step="raw_cot", since="now")
        started = time.monotonic()
        with file_lock(path, me, on_wait=on_wait, on_stale=stale.append, report_every_s=0.1, poll_s=0.02):
            assert read_holder(path) == me
        assert time.monotonic() - started < 10
    finally:
        child.kill()
        child.wait(10)
    assert len(waits) == 3 and all(h.run_id == "run-dead" for h, _ in waits)  # repeated, naming the holder
    assert waits[0][1] < waits[1][1] < waits[2][1]
    assert [h.run_id for h in stale] == ["run-dead"]  # the takeover saw the dead holder
    assert path.read_text() == ""  # a clean release leaves no holder behind
    with file_lock(path, me, on_wait=lambda *a: pytest.fail("free lock waited"), on_stale=stale.append):
        pass
    assert len(stale) == 1


def test_a_model_step_that_must_wait_names_the_holder_in_its_run_log(tmp_path, monkeypatch, refinery):
    from dagster import materialize

    import anka_assets.model_lock as model_lock
    from anka_assets.definitions import build_definitions

    monkeypatch.setattr(model_lock, "REPORT_EVERY_S", 0.3)
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    defs = build_definitions(refinery)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_path(tmp_path, "teacher")), str(REPO)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def release_after_two_waits(instance):  # the holder lets go once the waiting step said so twice
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = instance.get_runs()
            if runs and sum("Waiting for the teacher lock" in (e.message or "")
                            for e in instance.all_logs(runs[0].run_id)) >= 2:
                break
            time.sleep(0.1)
        holder.stdin.write("go\n")
        holder.stdin.flush()

    try:
        assert holder.stdout.readline().strip() == "holding"
        with DagsterInstance.from_config(str(tmp_path)) as instance:
            releaser = threading.Thread(target=release_after_two_waits, args=(instance,))
            releaser.start()
            result = materialize(list(defs.assets), selection=["curated_seeds", "expanded_tasks"], partition_key="hukuk",
                                 resources=defs.resources, instance=instance,
                                 run_config={"ops": {"expanded_tasks": {"config": {"target_per_domain": 1}}}})
            releaser.join()
            assert result.success
            messages = [e.message for e in instance.all_logs(result.run_id) if e.message]
        holder.wait(10)
    finally:
        holder.kill()
        holder.wait(10)
    waits = [m for m in messages if m.startswith("Waiting for the teacher lock")]
    assert len(waits) >= 2  # at once, then again while it lasts
    assert all("held by run run-dead (step raw_cot, pid 0 on h) since 2026-12-01T00:00:00+00:00" in m for m in waits)
    body = next(i for i, m in enumerate(messages) if m.startswith("hukuk: 0 new tasks"))
    assert body > max(i for i, m in enumerate(messages) if m.startswith("Waiting for the teacher lock"))
    assert holder.returncode == 0  # it let go by itself: nothing stale to settle
    assert not [m for m in messages if "died holding" in m]


SLEEPER = textwrap.dedent(
    """
    import sys, time
    from dagster import DagsterInstance, asset, materialize

    @asset
    def slow_asset(context):
        print("step started", flush=True)
        time.sleep(600)

    with DagsterInstance.from_config(sys.argv[1]) as instance:
        materialize([slow_asset], instance=instance)
    """
)


def test_dead_run_reaper_marks_a_killed_run_failed_and_leaves_a_live_one_alone(tmp_path):
    from dagster import build_sensor_context

    from anka_assets.dead_runs import dead_run_reaper

    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    child = subprocess.Popen([sys.executable, "-c", SLEEPER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        assert child.stdout.readline().strip() == "step started"
        with DagsterInstance.from_config(str(tmp_path)) as instance:
            (run,) = instance.get_runs()
            assert run.status == DagsterRunStatus.STARTED
            assert dead_run_reaper(build_sensor_context(instance=instance)).skip_message == "no run with a dead process"
            assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED  # alive: left alone
            child.kill()
            child.wait(10)
            reason = dead_run_reaper(build_sensor_context(instance=instance)).skip_message
            assert reason == f"marked failed: {run.run_id}"
            assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
            assert dead_run_reaper(build_sensor_context(instance=instance)).skip_message == "no run with a dead process"
    finally:
        child.kill()
        child.wait(10)


def _project(tmp_path: Path, base_url: str) -> tuple[Path, dict[str, str]]:
    write_seed(tmp_path / "seeds", "hukuk", SMALL_SEEDS["hukuk"])
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANKA_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(tmp_path), ANKA_DATA_DIR=str(tmp_path), ANKA_SEEDS_DIR=str(tmp_path / "seeds"),
        ANKA_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"), ANKA_TEACHER_BASE_URL=base_url,
        ANKA_TEACHER_LOCALITY="local", ANKA_TEACHER_MODEL="teacher-model", ANKA_TEACHER_MAX_CONCURRENCY="2",
        PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore",
    )
    return tmp_path, env


def _materialize(select: str, config: dict, **run_config) -> list[str]:
    return [DAGSTER, "asset", "materialize", "-m", "anka_assets.definitions", "--select", select,
            "--partition", "hukuk", "--config-json", json.dumps({"ops": config, **run_config})]


def _seed_tasks_in_process(root: Path) -> None:
    """The crash test's upstream tables, made in this process (a CLI run costs ~10 s here)."""
    from dagster import materialize

    from anka_assets.definitions import build_definitions
    from anka_assets.resources import RefineryPaths

    paths = RefineryPaths(seeds_dir=str(root / "seeds"), reviews_dir=str(root / "reviews"),
                          review_queue_dir=str(root / "review_queue"), warehouse=str(root / "warehouse.duckdb"))
    defs = build_definitions(paths)
    assets = list(defs.assets)
    with DagsterInstance.from_config(str(root)) as instance:
        result = materialize(assets, selection=["curated_seeds", "expanded_tasks", "seed_tasks"], partition_key="hukuk",
                             resources=defs.resources, instance=instance,
                             run_config={"ops": {"expanded_tasks": {"config": {"target_per_domain": 1}}}})
    assert result.success


def _sim(url: str, method: str = "GET") -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as r:
        return json.loads(r.read())


def _count(db: Path, sql: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


@pytest.mark.slow
def test_kill_9_while_the_teacher_answers_then_rerun_finishes_without_paying_twice(tmp_path, slow_simulator):  # noqa: F811
    root, env = _project(tmp_path, slow_simulator)
    sim = slow_simulator.rsplit("/v1", 1)[0] + "/_sim"
    db = root / "warehouse.duckdb"
    _seed_tasks_in_process(root)
    cmd = _materialize("raw_cot", {"raw_cot": {"config": {"samples_per_task": SAMPLES}}})

    # The teacher step answers; kill -9 the whole process group (CLI and its step subprocess) mid-step.
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        # The simulator counts a request when it arrives: with 2 in flight, 8 arrived means at least 6
        # answered, and the slot of an answer is free (the next request sent) before its cache row is
        # committed, so the last answers may still be on their way to the warehouse when the kill lands.
        while _sim(sim + "/stats")["ok"] < 8:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the teacher step made no progress"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    time.sleep(0.3)  # the step subprocess is reaped by init
    cached = _count(db, "select count(*) from anka.model_cache")
    assert 4 <= cached < N_CALLS  # answers were stored as they arrived; some calls were still unanswered
    # (at least 4 of the 6 or more answered: two answers of slack for commits a busy machine delays)
    with DagsterInstance.from_config(str(root)) as instance:
        (dead,) = [r for r in instance.get_runs() if r.status == DagsterRunStatus.STARTED]
    holder = read_holder(lock_path(root, "teacher"))
    assert holder is not None and holder.run_id == dead.run_id  # died holding the teacher lock

    # Re-run the same command: no wait on the dead run, only the unanswered calls are sent.
    _sim(sim + "/reset", "POST")
    started = time.monotonic()
    rerun = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    log = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, log[-4000:]
    assert "Waiting for the teacher lock" not in log
    assert f"run {dead.run_id} was still STARTED and is now marked failed" in log
    assert _sim(sim + "/stats")["total"] == N_CALLS - cached  # no answered call is paid twice
    assert _count(db, "select count(*) from anka.model_cache") == N_CALLS
    assert _count(db, "select count(*) from anka.raw_cot where status = 'ok'") == N_CALLS
    assert read_holder(lock_path(root, "teacher")) is None
    with DagsterInstance.from_config(str(root)) as instance:
        assert instance.get_run_by_id(dead.run_id).status == DagsterRunStatus.FAILURE
        statuses = sorted(r.status.value for r in instance.get_runs())
    assert statuses == ["FAILURE", "SUCCESS", "SUCCESS"]
    print(f"killed after {cached}/{N_CALLS} answers cached; re-run took {time.monotonic() - started:.1f} s "
          f"and sent {N_CALLS - cached} calls")


@pytest.mark.slow
def test_two_dagster_homes_from_the_project_root_are_two_instances(tmp_path):
    homes, procs = [], []
    for name in ("a", "b"):
        home, env = _project(tmp_path / name, "http://127.0.0.1:9/v1")  # no model call is made
        homes.append(home)
        cmd = _materialize("curated_seeds,expanded_tasks", {"expanded_tasks": {"config": {"target_per_domain": 1}}},
                           execution={"config": {"in_process": {}}})  # one process per run: faster here
        procs.append(subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
    run_ids = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out[-3000:]
        (run_id,) = set(re.findall(r" - ([0-9a-f-]{36}) - .*RUN_SUCCESS", out))
        run_ids.append(run_id)
    assert run_ids[0] != run_ids[1]
    for home, run_id in zip(homes, run_ids):
        assert (home / "history" / "runs.db").exists()  # the instance lives in its DAGSTER_HOME
        with DagsterInstance.from_config(str(home)) as instance:
            assert [r.run_id for r in instance.get_runs()] == [run_id]  # only its own run
    for place in (".dagster_home", "storage", "history"):  # nothing of theirs landed in the working directory
        assert not [p for run_id in run_ids for p in (REPO / place).rglob(f"*{run_id}*")]
