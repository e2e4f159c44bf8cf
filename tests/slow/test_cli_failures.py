"""What a user meets when things go wrong, through the real `anka-refinery build` in a subprocess: an
unreachable teacher, a re-build with nothing changed, two builds at once, a locked warehouse."""

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter


pytestmark = [pytest.mark.slow, pytest.mark.extra("train")]
CLI = str(Path(sys.executable).parent / "anka-refinery")


def build(env, root, *args, timeout=600):
    return subprocess.run([CLI, "build", *args], env=env, cwd=root, capture_output=True, text=True, timeout=timeout)


def rows(db: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"select * from anka.{table} order by all").fetchall()


def runs_of(root: Path, job: str) -> list:
    with DagsterInstance.from_config(str(root)) as instance:
        return list(instance.get_runs(RunsFilter(job_name=job)))


def test_unreachable_teacher_fails_in_one_line_and_keeps_what_was_built(project):
    root, env = project
    first = build(env, root, "--domain", "hukuk")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    db = root / "warehouse.duckdb"
    # CLI runs are named jobs of the code location (re-executable from the UI), queued through the instance.
    (dom,) = runs_of(root, "domain_build")
    assert dom.tags["dagster/partition"] == "hukuk" and dom.remote_job_origin.location_name == "anka_assets"
    assert len(runs_of(root, "cross_domain_build")) == 1

    # Nothing changed: the domain is rebuilt from the cache, the cross-domain stages are reused, not re-run.
    again = build(env, root, "--domain", "hukuk")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "release, adapter and evaluation: reused from run" in again.stdout
    assert "TOY" not in again.stdout and len(runs_of(root, "cross_domain_build")) == 1
    before = {t: rows(db, t) for t in ("expanded_tasks", "raw_cot", "judged_cot")}

    broken = {**env, "ANKA_TEACHER_BASE_URL": "http://127.0.0.1:9/v1", "ANKA_TEACHER_MODEL": "llama",
              "ANKA_TEACHER_LOCALITY": "local"}
    proc = build(broken, root, "--domain", "hukuk")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    failed = [line for line in proc.stderr.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1, out[-3000:]
    assert failed[0].startswith("FAILED hukuk: expanded_tasks: ")
    assert "http://127.0.0.1:9/v1" in failed[0] and "connection refused" in failed[0]
    assert "Traceback" not in out and "Error occurred while executing" not in out
    assert "hukuk*" in proc.stdout and "not refreshed" in proc.stdout  # the summary still comes, marked stale
    assert {t: rows(db, t) for t in before} == before  # nothing stored was touched

    # --verbose: the event log as well, the failure's trace at most once.
    proc = build(broken, root, "--domain", "hukuk", "--verbose")
    assert proc.returncode == 1 and (proc.stdout + proc.stderr).count("Traceback") <= 1
    assert "STEP_START" in proc.stdout


def test_two_builds_at_once_wait_for_each_other_and_pay_once(project):
    root, env = project
    procs = [subprocess.Popen([CLI, "build", "--domain", "hukuk"], env=env, cwd=root, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n=====\n".join(o[-3000:] for o in outs)
    both = "\n".join(outs)
    assert "queued behind" in both or "waiting for run" in both  # the second one said it waits
    assert "Traceback" not in both
    db = root / "warehouse.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        twice = con.execute("""select payload_sha256, count(*) from anka.model_audit where decision = 'sent'
                               group by 1 having count(*) > 1""").fetchall()
        adapters = con.execute("select count(*) from anka.adapter_registry").fetchone()[0]
    assert twice == []  # no payload was paid for twice
    assert adapters == 1
    done = runs_of(root, "cross_domain_build")
    assert [r.status for r in done] == [DagsterRunStatus.SUCCESS]  # the adapter was trained by one run
    assert "reused from run" in both
    domain_runs = runs_of(root, "domain_build")
    assert len(domain_runs) == 2 and all(r.status == DagsterRunStatus.SUCCESS for r in domain_runs)


HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])
con.execute("create schema if not exists anka")
print("holding", flush=True)
sys.stdin.readline()
"""


def test_a_locked_warehouse_is_said_out_loud_then_fails_clearly(project):
    root, env = project
    db = root / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        proc = build({**env, "ANKA_WAREHOUSE_LOCK_WAIT_S": "15"}, root, "--domain", "tarih")
        took = time.monotonic() - started
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    warnings = [line for line in proc.stdout.splitlines() if "is locked by" in line and "left" in line]
    assert warnings and str(db) in warnings[0] and f"PID {holder.pid}" in warnings[0], out[-3000:]
    failed = [line for line in proc.stderr.splitlines() if line.startswith("FAILED tarih: ")]
    assert len(failed) == 1 and "gave up after" in failed[0] and "ANKA_WAREHOUSE_LOCK_WAIT_S" in failed[0]
    assert "Traceback" not in out and took < 240
    # Released: the next build goes through, and nothing was lost meanwhile.
    ok = build(env, root, "--domain", "tarih")
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-3000:]
    assert rows(db, "curated_seeds")


def daemons_of(root: Path) -> list[int]:
    """Pids of `dagster-daemon` processes serving the instance at `root`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            env = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if any(part.endswith(b"dagster-daemon") for part in cmd[:2]) and f"DAGSTER_HOME={root}".encode() in env:
            found.append(int(proc.name))
    return found


def test_a_build_killed_with_sigkill_leaves_no_daemon_and_the_next_build_completes(project):
    root, env = project
    proc = subprocess.Popen([CLI, "build", "--domain", "tarih"], env=env, cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    for line in proc.stdout:  # wait until its run has started
        lines.append(line)
        if "building tarih …" in line:
            break
    assert daemons_of(root), "".join(lines)
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while daemons_of(root) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not daemons_of(root)  # the daemon it started ended with it
    again = build(env, root, "--domain", "tarih")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    db = root / "warehouse.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        dupes = con.execute("select count(*) - count(distinct row_id) from anka.raw_cot").fetchone()[0]
    assert dupes == 0
