"""Past one machine, for real: a PostgreSQL Dagster instance (deploy/dagster-postgres.yaml) and a DuckLake
warehouse shared by workers that each have their own DAGSTER_HOME, through the real `anka-refinery
build` in subprocesses, with the teacher and judge as simulators on 127.0.0.1.

- two workers building overlapping domains at once: every run completes, no partition is built by two
  runs at once, no model request is sent twice, every domain is in the tables exactly once;
- a run killed with `kill -9` mid-step: its advisory lock and its queue slot are freed, the other worker
  finishes, nothing answered is paid twice;
- PostgreSQL restarted mid-run: the build fails with one clear line, a re-run completes.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest
from dagster import DagsterEventType, DagsterRunStatus, RunsFilter

from anka_assets.dead_runs import HOST_TAG, host_id, run_process_pid
from anka_testkit.simulator import FaultConfig, SimulatorServer
from tests.conftest import SMALL_SEEDS
from tests.scaleout import SharedCluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SEEDS = {
    **SMALL_SEEDS,
    "ekonomi": """
        domain: ekonomi
        tasks:
          - instruction: "Enflasyonun sabit gelirli hanehalkının alım gücüne etkisini bir örnekle açıklayınız."
            sensitivity: public
            tags: [enflasyon, analiz]
          - instruction: "Merkez bankasının politika faizini artırmasının kredi hacmine etkisini tartışınız."
            sensitivity: public
            tags: [para_politikasi, tartisma]
        """,
}
TASKS = {"hukuk": 3, "tarih": 2, "ekonomi": 2}


@pytest.fixture
def sims():
    latency = FaultConfig(latency="fixed:0.02")
    with SimulatorServer(latency) as teacher, SimulatorServer(latency) as judge:
        yield teacher, judge


@pytest.fixture
def cluster(postgres, tmp_path, sims):
    teacher, judge = sims
    shared = SharedCluster.create(postgres, tmp_path, seeds=SEEDS, extra_env={
        "ANKA_TEACHER_BASE_URL": teacher.base_url, "ANKA_TEACHER_MODEL": "teacher-model",
        "ANKA_TEACHER_LOCALITY": "local",
        "ANKA_JUDGE_BASE_URL": judge.base_url, "ANKA_JUDGE_MODEL": "judge-model", "ANKA_JUDGE_LOCALITY": "local",
    })
    shared.start_daemon()
    try:
        yield shared
    finally:
        shared.stop_daemon()


def finish(procs, timeout=900) -> list[str]:
    outs = [p.communicate(timeout=timeout)[0] for p in procs]
    return outs


def sent_per_payload(cluster: SharedCluster) -> list[tuple[str, str, str]]:
    return cluster.query("select payload_sha256, status, run_id from anka.model_audit where decision = 'sent'")


def assert_each_domain_once(cluster: SharedCluster, domains: list[str]) -> None:
    seeds = dict(cluster.query("select domain, count(*) from anka.curated_seeds group by 1"))
    assert seeds == {d: TASKS[d] for d in domains}
    dup = cluster.query("select domain, seed_id, sample_index, count(*) from anka.raw_cot group by 1, 2, 3 "
                        "having count(*) > 1")
    assert dup == []
    assert {r[0] for r in cluster.query("select distinct domain from anka.raw_cot")} == set(domains)
    assert cluster.query("select key from anka.model_cache group by 1 having count(*) > 1") == []


def overlapping_runs(instance) -> list[tuple[str, str, str]]:
    """Pairs of runs of one partition whose [start, end] intervals overlap."""
    by_partition: dict[str, list] = {}
    for record in instance.get_run_records(filters=RunsFilter(job_name="domain_build")):
        run = record.dagster_run
        by_partition.setdefault(run.tags["dagster/partition"], []).append((record.start_time, record.end_time, run.run_id))
    out = []
    for part, spans in by_partition.items():
        spans.sort()
        for (s1, e1, r1), (s2, _e2, r2) in zip(spans, spans[1:]):
            if s2 is not None and e1 is not None and s2 < e1:
                out.append((part, r1, r2))
    return out


def test_two_workers_build_overlapping_domains_at_once(cluster, sims):
    a = cluster.build("worker-a", ["hukuk", "tarih"])
    b = cluster.build("worker-b", ["tarih", "ekonomi"])
    outs = finish([a, b])
    assert [a.returncode, b.returncode] == [0, 0], "\n=====\n".join(o[-4000:] for o in outs)
    assert "Traceback" not in "".join(outs)

    with cluster.instance() as instance:
        runs = [r for r in instance.get_runs(RunsFilter(job_name="domain_build"))]
        assert runs and all(r.status == DagsterRunStatus.SUCCESS for r in runs), [(r.run_id, r.status) for r in runs]
        assert Counter(r.tags["dagster/partition"] for r in runs)["tarih"] == 2  # both asked for it ...
        assert overlapping_runs(instance) == []  # ... and the queue never ran them at once
        assert all(r.tags.get(HOST_TAG) == host_id() for r in runs)  # each run says which machine ran it

    assert_each_domain_once(cluster, ["ekonomi", "hukuk", "tarih"])
    sent = Counter(p for p, _, _ in sent_per_payload(cluster))
    assert sent and max(sent.values()) == 1  # the shared cache: no request was sent twice
    teacher, judge = sims
    assert teacher.stats()["total"] + judge.stats()["total"] >= len(sent)


def wait_for(predicate, timeout_s: float, what: str, poll_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def step_started(instance, run_id: str, step: str) -> bool:
    return any(r.step_key == step for r in instance.all_logs(run_id, of_type=DagsterEventType.STEP_START))


def lock_sessions(cluster: SharedCluster) -> list[str]:
    import psycopg2

    with psycopg2.connect(cluster.env["ANKA_DAGSTER_PG_URL"]) as con, con.cursor() as cur:
        cur.execute("select application_name from pg_stat_activity where application_name like 'anka % lock:%'")
        return [r[0] for r in cur.fetchall()]


def test_a_run_killed_mid_step_frees_its_lock_and_slot_and_nothing_is_paid_twice(cluster, sims):
    teacher, _ = sims
    teacher.set_faults(FaultConfig(latency="fixed:0.4", max_concurrent=2))  # raw_cot lasts a while
    a = cluster.build("worker-a", ["hukuk"])
    with cluster.instance() as instance:
        run_a = wait_for(lambda: next(iter(instance.get_runs(RunsFilter(job_name="domain_build"))), None), 120,
                         "worker A's run").run_id
        wait_for(lambda: step_started(instance, run_a, "raw_cot"), 300, "raw_cot to start in worker A's run")
        wait_for(lambda: any(s == "ok" for _, s, r in sent_per_payload(cluster) if r == run_a)
                 and lock_sessions(cluster), 120, "answers stored while the teacher lock is held")
        b = cluster.build("worker-b", ["hukuk"])  # queued behind A's run of the same partition
        pid = run_process_pid(instance, run_a)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

        out_b = finish([b])[0]
        out_a = finish([a])[0]
        assert b.returncode == 0, out_b[-4000:]
        assert a.returncode == 1 and "FAILED hukuk" in out_a, out_a[-3000:]
        status = instance.get_run_by_id(run_a).status
        assert status == DagsterRunStatus.FAILURE  # the sweep marked the dead run failed: its slot is free
        assert overlapping_runs(instance) == []
    assert lock_sessions(cluster) == []  # the killed session's advisory lock is gone with it
    assert_each_domain_once(cluster, ["hukuk"])
    rows = sent_per_payload(cluster)
    ok = Counter(p for p, s, _ in rows if s == "ok")
    assert ok and max(ok.values()) == 1  # every answer was paid once
    again = Counter(p for p, _, _ in rows)
    for payload, n in again.items():
        if n > 1:  # sent again only when the killed run never got its answer
            assert [s for p, s, r in rows if p == payload and r == run_a] == ["pending"], payload


def test_postgres_restarted_mid_run_fails_clearly_then_a_rerun_completes(cluster, sims, postgres):
    teacher, _ = sims
    teacher.set_faults(FaultConfig(latency="fixed:0.4", max_concurrent=2))
    a = cluster.build("worker-a", ["hukuk"])
    with cluster.instance() as instance:
        run_a = wait_for(lambda: next(iter(instance.get_runs(RunsFilter(job_name="domain_build"))), None), 120,
                         "the run").run_id
        wait_for(lambda: step_started(instance, run_a, "raw_cot"), 300, "raw_cot to start")
    time.sleep(2)
    postgres.restart(down_s=3)
    out = finish([a])[0]
    assert a.returncode == 1, out[-4000:]
    failed = [line for line in out.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1 and failed[0].startswith("FAILED hukuk: "), out[-4000:]
    print(failed[0])  # what the user reads (pytest -s)
    assert "Traceback" not in out
    teacher.set_faults(FaultConfig())
    # The daemon survives the restart (or the CLI starts one): the re-run completes.
    again = finish([cluster.build("worker-a", ["hukuk"])])[0]
    assert "built 1 domain(s)" in again, again[-4000:]
    assert_each_domain_once(cluster, ["hukuk"])
