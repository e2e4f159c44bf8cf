"""Issue 12: errors that explain, failure thresholds, re-asks that change something, capability detection,
adaptive concurrency and replicas — against the simulator over real HTTP on 127.0.0.1, real DuckDB files
and real Dagster runs (the real `transformers serve` is in test_transformers_serve.py)."""

from __future__ import annotations

import logging

import duckdb
import pytest
from dagster import materialize

from anka_assets.definitions import build_definitions
from anka_assets.gateway import EndpointSettings, ModelEndpoint, ModelGateway, ModelRequest
from anka_assets.gateway.backends import server_message
from anka_assets.gateway.limiter import AdaptiveLimit, Replica, ReplicaPool
from anka_assets.gateway.types import ProbeFailed
from anka_assets.model_calls import (
    MAX_TOKENS_CAP,
    REPAIR_TEMPERATURE_FLOOR,
    ignores_response_format,
    repair_request,
)
from anka_testkit.simulator import FaultConfig, SimulatorServer
from tests.conftest import read_table

SEL = ["curated_seeds", "expanded_tasks", "seed_tasks", "raw_cot", "judged_cot", "review_queue"]


def endpoint(role: str, sim: SimulatorServer, **kw) -> ModelEndpoint:
    return ModelEndpoint(role=role, backend="openai", base_url=sim.base_url, model=f"{role}-model", locality="local",
                         **{"max_retries": 0, "timeout_s": 5.0, "max_concurrency": 8, **kw})


def distill(paths, teacher, judge, partition, *, samples=1, judge_cfg=None):
    defs = build_definitions(paths, teacher=teacher, judge=judge)
    ops = {"expanded_tasks": {"config": {"target_per_domain": 0}}, "raw_cot": {"config": {"samples_per_task": samples}}}
    if judge_cfg:
        ops["judged_cot"] = {"config": judge_cfg}
    return materialize(list(defs.assets), selection=SEL, partition_key=partition, resources=defs.resources,
                       run_config={"ops": ops}, raise_on_error=False)


def warehouse_tables(path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'anka'").fetchall()}


def req(i: int, **params) -> ModelRequest:
    return ModelRequest(messages=[{"role": "user", "content": f"Soru {i}: Tanzimat nedir?"}],
                        params={"temperature": 0.0, "max_tokens": 64, **params}, template_version="t1",
                        seed_id=f"s{i}", sensitivity="public")


def settings(base_url: str, **kw) -> EndpointSettings:
    return EndpointSettings(role="teacher", backend="openai", base_url=base_url,
                            locality="local", **{"model": "anka-sim-teacher", "max_retries": 0, "timeout_s": 5.0, **kw})


# -- 1. errors that explain -------------------------------------------------------------------------------


def test_server_message_reads_the_usual_error_bodies():
    assert server_message(b'{"error": {"message": "model not loaded", "type": "x"}}') == "model not loaded"
    assert server_message(b'{"detail": "Server is pinned to \'/m\'; requested \'x\'."}') == "Server is pinned to '/m'; requested 'x'."
    assert server_message(b'{"detail": [{"loc": ["body", "top_k"], "msg": "Extra inputs are not permitted"}]}') == \
        "top_k: Extra inputs are not permitted"
    assert server_message(b"<html>Bad Gateway</html>") == "<html>Bad Gateway</html>"
    assert server_message(b"", "Not Found") == "Not Found"
    assert len(server_message("x" * 5000)) <= 200


def test_probe_names_a_base_url_without_v1(teacher_sim, tmp_path):
    root = teacher_sim.base_url.removesuffix("/v1")
    gw = ModelGateway(settings(root), tmp_path / "w.duckdb")
    with pytest.raises(ProbeFailed, match=rf"answered HTTP 404 .*set ANKA_TEACHER_BASE_URL={root}/v1$"):
        gw.run([req(1)], asset="raw_cot", partition="tarih")
    assert teacher_sim.stats()["total"] == 0  # no chat call was made


class _Models(__import__("http.server").server.BaseHTTPRequestHandler):
    """GET /key/v1/models: 401 unless the key is right; GET /v1/models: two models."""

    def do_GET(self):  # noqa: N802
        import json

        if self.path.startswith("/key/") and self.headers.get("Authorization") != "Bearer right-key":
            status, body = 401, {"error": {"message": "Invalid API key", "type": "auth"}}
        else:
            status, body = 200, {"object": "list", "data": [{"id": "llama-a"}, {"id": "qwen-b"}]}
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


def test_probe_names_a_rejected_key_and_an_unknown_model(tmp_path):
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(ProbeFailed, match=r"rejected the API key \(HTTP 401: Invalid API key\); set ANKA_TEACHER_API_KEY"):
            ModelGateway(settings(root + "/key/v1", model="llama-a", api_key="wrong-key"), tmp_path / "w.duckdb").run(
                [req(1)], asset="a", partition=None)
        with pytest.raises(ProbeFailed, match=r"does not serve model 'gpt-x'; it lists: llama-a, qwen-b\. Set ANKA_TEACHER_MODEL"):
            ModelGateway(settings(root + "/v1", model="gpt-x"), tmp_path / "w.duckdb").run(
                [req(1)], asset="a", partition=None)
    finally:
        server.shutdown()
        server.server_close()


# -- 2. failure has consequences ---------------------------------------------------------------------------


def test_a_domain_whose_calls_all_fail_fails_its_run_and_stores_nothing(refinery, teacher_sim, judge_sim):
    teacher_sim.set_faults(FaultConfig(rate_500=1.0))
    result = distill(refinery, endpoint("teacher", teacher_sim), endpoint("judge", judge_sim), "tarih")
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    message = failures[0].step_failure_data.error.message
    assert "raw_cot: too many failed model calls" in message and "tarih: 2 of 2 model calls failed (100%)" in message
    assert f"HTTP 500 from {teacher_sim.base_url}/chat/completions after 1 attempt: The server had an error" in message
    assert "raw_cot" not in warehouse_tables(refinery.warehouse)  # nothing stored (tests/integration/test_failed_calls_gate.py)
    assert judge_sim.stats()["total"] == 0  # downstream did not run


def test_below_the_threshold_the_run_succeeds_with_a_warning(refinery, teacher_sim, judge_sim):
    teacher_sim.set_faults(FaultConfig(rate_500=0.25, seed=1))  # 1 of the first 8 draws is a 500
    result = distill(refinery, endpoint("teacher", teacher_sim, max_concurrency=1), endpoint("judge", judge_sim),
                     "tarih", samples=4)
    assert result.success
    raw = read_table(refinery, "raw_cot")
    assert (raw["status"] == "failed").sum() == 1
    meta = result.asset_materializations_for_node("raw_cot")[0].metadata
    assert "tarih: 1 of 8 model calls failed (12%)" in meta["model_call_warning"].value


# -- 3. re-asks that change something -------------------------------------------------------------------


def test_repair_request_changes_seed_temperature_and_grows_max_tokens_after_length():
    base = req(1, seed=0)
    first = repair_request(base, 1, previous=base, finish_reason="stop")
    assert first.params["seed"] == 1000 and first.params["temperature"] == REPAIR_TEMPERATURE_FLOOR
    assert first.params["max_tokens"] == 64 and first.repair_attempt == 1
    grown = repair_request(base, 1, previous=base, finish_reason="length")
    assert grown.params["max_tokens"] == 128
    again = repair_request(base, 2, previous=grown, finish_reason="length")
    assert again.params["max_tokens"] == 256 and again.params["seed"] == 2000
    capped = repair_request(req(1, max_tokens=6000), 1, finish_reason="length")
    assert capped.params["max_tokens"] == MAX_TOKENS_CAP
    hot = repair_request(req(1, temperature=0.9), 1)
    assert hot.params["temperature"] == 0.9  # a floor, not a fixed value


def test_a_judge_at_temperature_zero_is_never_re_asked_byte_identically(refinery, teacher_sim, judge_sim):
    judge_sim.set_faults(FaultConfig(rate_malformed=1.0))
    result = distill(refinery, endpoint("teacher", teacher_sim), endpoint("judge", judge_sim), "tarih")
    assert result.success
    bodies = judge_sim.received()
    assert len(bodies) == 6  # two verdicts, each asked and re-asked twice
    import json

    assert len({json.dumps(b, sort_keys=True) for b in bodies}) == 6
    assert sorted(b["temperature"] for b in bodies) == [0.0, 0.0] + [REPAIR_TEMPERATURE_FLOOR] * 4
    judged = read_table(refinery, "judged_cot")
    assert judged["judge_status"].to_list() == ["judge_error"] * 2 and judged["judge_error"].is_not_null().all()


def test_truncated_answers_are_re_asked_with_more_tokens_and_rows_count_attempts(refinery, teacher_sim, judge_sim):
    teacher_sim.set_faults(FaultConfig(rate_truncated=1.0))
    result = distill(refinery, endpoint("teacher", teacher_sim), endpoint("judge", judge_sim), "tarih")
    assert result.success
    sent = [b["max_tokens"] for b in teacher_sim.received()]
    assert sorted(sent) == [2048, 2048, 4096, 4096]
    raw = read_table(refinery, "raw_cot")
    assert raw["attempts"].to_list() == [2, 2] and raw["repairs"].to_list() == [1, 1]
    assert raw["error"].str.contains("finish_reason=length").all()


# -- 4. capabilities detected ---------------------------------------------------------------------------


def test_the_capability_is_said_once_and_later_calls_ask_for_tagged_sections(teacher_sim, tmp_path, caplog):
    from anka_assets.model_calls import ask_parsed
    from anka_assets.parsing import parse_cot

    teacher_sim.set_faults(FaultConfig(ignore_response_format=True))
    caplog.set_level(logging.WARNING)
    rf = {"response_format": {"type": "json_object"}}
    ask = [ModelRequest(messages=[{"role": "user", "content": f"Soru {i}: adimlar ve cevap, JSON olarak."}],
                        params={"max_tokens": 1024, **rf}, template_version="t", sensitivity="public") for i in range(2)]
    tagged = [ModelRequest(messages=[{"role": "user", "content": f"Soru {i}: <adimlar> ... </adimlar> <cevap>"}],
                           params={"max_tokens": 1024}, template_version="t", sensitivity="public") for i in range(2)]
    gw = ModelGateway(settings(teacher_sim.base_url), tmp_path / "w.duckdb")
    first = ask_parsed(gw, ask, parse_cot, asset="a", partition="p", fallback_requests=tagged)
    assert [a.status for a in first] == ["ok", "ok"] and gw.capabilities == {"response_format": "ignored"}
    teacher_sim.reset()
    ask_parsed(gw, ask, parse_cot, asset="a", partition="q", fallback_requests=tagged)
    assert all("response_format" not in b for b in teacher_sim.received())  # asked tagged from the start
    assert caplog.text.count("ignores response_format") == 1


def test_ignores_response_format_is_judged_from_the_answers():
    from anka_assets.gateway.types import ModelResult

    def res(text):
        return ModelResult("k", "ok", text, "stop", "m", 1, 1, 0.1, 0.0, False, 1, None)

    rf = {"response_format": {"type": "json_object"}}
    assert ignores_response_format([req(1, **rf), req(2, **rf)], [res("Merhaba, cevap şu."), res("Düz metin")])
    assert not ignores_response_format([req(1, **rf), req(2, **rf)], [res('{"a": 1}'), res("```json\n{}```")])
    assert not ignores_response_format([req(1)], [res("düz metin")])  # nothing asked for JSON


def test_a_server_that_ignores_response_format_gets_tagged_sections(refinery, teacher_sim, judge_sim):
    teacher_sim.set_faults(FaultConfig(ignore_response_format=True))
    result = distill(refinery, endpoint("teacher", teacher_sim), endpoint("judge", judge_sim), "tarih")
    assert result.success
    meta = result.asset_materializations_for_node("raw_cot")[0].metadata
    assert meta["teacher_capabilities"].value == {"response_format": "ignored"}
    bodies = teacher_sim.received()
    assert len(bodies) == 4 and sum("response_format" in b for b in bodies) == 2
    re_asks = [b for b in bodies if "response_format" not in b]
    assert all(any("<adimlar>" in m["content"] for m in b["messages"]) for b in re_asks)  # tagged sections
    raw = read_table(refinery, "raw_cot")
    assert raw["status"].to_list() == ["ok", "ok"] and raw["repairs"].to_list() == [1, 1]


# -- 5. adaptive concurrency ----------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_aimd_grows_while_answers_are_quick_and_shrinks_on_timeouts_and_429():
    clock = Clock()
    lim = AdaptiveLimit(max_limit=64, initial=8, clock=clock, warmup=5)
    for _ in range(8):
        lim.on_success(0.5, inflight=lim.window)
    assert lim.window == 16 and lim.slow_start  # slow start: +1 per answer
    lim.on_overload("timeout")
    assert lim.window == 8 and not lim.slow_start
    lim.on_overload("timeout")  # same round trip: counted once
    assert lim.window == 8
    clock.t += 10
    lim.on_overload("busy")
    assert lim.window == 7  # 8 * 0.9
    for _ in range(7):
        lim.on_success(0.5, inflight=lim.window)
    assert lim.window == 8  # additive: +1 per window of answers
    lim.on_success(0.5, inflight=2)
    assert lim.window == 8  # an unused window does not grow
    floor = AdaptiveLimit(max_limit=4, initial=1, clock=clock)
    floor.on_overload("timeout")
    assert floor.window == 1


def test_aimd_shrinks_when_latency_builds_up_in_a_server_queue():
    clock = Clock()
    lim = AdaptiveLimit(max_limit=64, initial=32, clock=clock, warmup=5)
    for _ in range(70):  # two windows before latency is judged
        lim.on_success(0.3, inflight=lim.window - 1)
    before = lim.window
    for _ in range(30):
        clock.t += 1
        lim.on_success(2.0, inflight=lim.window)  # 6x the usual latency: queueing
    assert lim.window < before and lim.decreases > 0
    budget = AdaptiveLimit(max_limit=64, initial=32, clock=clock, latency_budget_s=1.0)
    budget.on_success(1.5, inflight=32)
    assert budget.window == 28


async def _pool_run():
    clock = Clock()
    replicas = [Replica(name=n, client=n, limit=AdaptiveLimit(max_limit=2, initial=2, clock=clock)) for n in "ab"]
    pool = ReplicaPool(replicas, clock=clock, eject_after=2, cooldown_s=5)
    got = [await pool.acquire() for _ in range(4)]
    assert sorted(r.name for r in got) == ["a", "a", "b", "b"]  # least outstanding work: spread evenly
    for r in got:
        await pool.release(r, "ok", 0.1)
    a = replicas[0]
    for _ in range(2):
        r = await pool.acquire()
        while r is not a:
            await pool.release(r, "ok", 0.1)
            r = await pool.acquire()
        await pool.release(a, "down")
    assert not a.healthy and "taken out" in pool.events[-1]
    assert {(await pool.acquire()).name for _ in range(2)} == {"b"}  # only b while a cools down
    for r in list(replicas[1:]) * 2:
        await pool.release(r, "ok", 0.1)
    clock.t += 6
    probe = await pool.acquire()
    assert probe is a and a.probing  # after the cool-down one request probes it
    await pool.release(a, "ok", 0.1)
    assert a.healthy and "is back" in pool.events[-1]
    # a Retry-After pauses a replica
    r = await pool.acquire()
    await pool.release(r, "busy", 0.01, retry_after_s=3.0)
    assert all(pool.pick() is not r for _ in range(5))


def test_replica_pool_spreads_ejects_and_probes_back():
    import asyncio

    asyncio.run(_pool_run())


# A server that answers 2 requests at a time in 0.2 s each (10 req/s): with 16 in flight the last waits
# 1.6 s, past the 1.2 s timeout; the adaptive window keeps queueing under half the timeout (0.6 s, about
# 6 in flight) and starts at 8 (0.8 s). The slack (0.4 s and more) holds on a loaded 2-core machine, where
# 0.1 s / 0.6 s (0.2 s of slack) once failed.
QUEUEING = FaultConfig(latency="fixed:0.2", max_concurrent=2)
TIMEOUT_S = 1.2


def test_adaptive_window_keeps_every_row_where_a_fixed_window_loses_rows(tmp_path):
    with SimulatorServer(faults=QUEUEING) as sim:
        fixed = ModelGateway(settings(sim.base_url, max_concurrency=16, timeout_s=TIMEOUT_S, max_retries=1,
                                      adaptive_concurrency=False), tmp_path / "f.duckdb")
        out = fixed.run([req(i) for i in range(40)], asset="a", partition=None)
        assert sum(r.status == "failed" for r in out) > 0
        assert "no first byte within 1.2 s" in next(r.error for r in out if r.status == "failed")
        sim.reset()
        adaptive = ModelGateway(settings(sim.base_url, max_concurrency=16, timeout_s=TIMEOUT_S, max_retries=1),
                                tmp_path / "a.duckdb")
        out = adaptive.run([req(i) for i in range(100, 140)], asset="a", partition=None)
        assert all(r.ok for r in out)
        assert adaptive.last_stats.window_final < 16


def test_the_next_run_starts_from_the_window_the_server_ended_with(tmp_path):
    """Each Dagster step is a new process with a new gateway: the window learned by the last run against
    the same server and model is read from the warehouse instead of starting cold at half the maximum."""
    db = tmp_path / "w.duckdb"
    with SimulatorServer(faults=QUEUEING) as sim:
        first = ModelGateway(settings(sim.base_url, max_concurrency=16, timeout_s=TIMEOUT_S, max_retries=1), db)
        first.run([req(i) for i in range(40)], asset="a", partition=None)
        learned = first.last_stats.window_final
        assert learned < 16 and learned != 8  # not where a cold start would be
        with duckdb.connect(str(db), read_only=True) as con:
            rows = con.execute('SELECT model, url, "window", max_concurrency FROM anka.gateway_windows').fetchall()
        assert rows == [("anka-sim-teacher", sim.base_url, learned, 16)]

        second = ModelGateway(settings(sim.base_url, max_concurrency=16, timeout_s=TIMEOUT_S, max_retries=1), db)
        second.run([req(100)], asset="a", partition=None)  # one quick answer changes no window
        assert second.last_stats.window_final == learned

        with duckdb.connect(str(db)) as con:  # a day later the server may be another one: start cold
            con.execute("UPDATE anka.gateway_windows SET updated_at = updated_at - INTERVAL 2 DAY")
        third = ModelGateway(settings(sim.base_url, max_concurrency=16, timeout_s=TIMEOUT_S, max_retries=1), db)
        third.run([req(101)], asset="a", partition=None)
        assert third.last_stats.window_final == 8

        other_model = ModelGateway(settings(sim.base_url, model="anka-sim-judge", max_concurrency=16), db)
        other_model.run([req(102)], asset="a", partition=None)
        assert other_model.last_stats.window_final == 8


def test_rate_limited_server_gets_every_row_through_retry_after(tmp_path):
    with SimulatorServer(faults=FaultConfig(rate_limit=20)) as sim:
        gw = ModelGateway(settings(sim.base_url, max_concurrency=16, max_retries=2), tmp_path / "w.duckdb")
        out = gw.run([req(i) for i in range(60)], asset="a", partition=None)
        assert all(r.ok for r in out)
        assert sim.stats()["ok"] == 60


# -- 6. replicas ----------------------------------------------------------------------------------------


def test_requests_spread_over_replicas_and_a_dead_one_is_left_out(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    dead = SimulatorServer().start()
    dead_url = dead.base_url
    dead.stop()
    with SimulatorServer(faults=FaultConfig(latency="fixed:0.05")) as a, \
            SimulatorServer(faults=FaultConfig(latency="fixed:0.05")) as b:
        urls = ",".join([a.base_url, b.base_url, dead_url])
        s = settings(urls, max_concurrency=4, max_retries=3)
        assert len(s.base_urls) == 3 and s.endpoint.count(",") == 2
        gw = ModelGateway(s, tmp_path / "w.duckdb")
        out = gw.run([req(i) for i in range(40)], asset="a", partition=None)
        assert all(r.ok for r in out)
        assert a.stats()["ok"] > 5 and b.stats()["ok"] > 5 and a.stats()["ok"] + b.stats()["ok"] == 40
        assert "replica left out for now" in caplog.text and "cannot be reached" in caplog.text
        # the cache does not care which replica answered: the same requests through one replica are hits
        again = ModelGateway(settings(b.base_url), tmp_path / "w.duckdb").run(
            [req(i) for i in range(40)], asset="a", partition=None)
        assert all(r.cached for r in again)


def test_every_replica_unreachable_is_one_clear_error(tmp_path):
    dead = SimulatorServer().start()
    url = dead.base_url
    dead.stop()
    with pytest.raises(ProbeFailed, match="cannot be reached"):
        ModelGateway(settings(url), tmp_path / "w.duckdb").run([req(1)], asset="a", partition=None)


# -- the command line -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_build_exits_non_zero_naming_the_domain_and_the_reason(tmp_path):
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import REPO, SMALL_SEEDS, write_seed

    write_seed(tmp_path / "seeds", "tarih", SMALL_SEEDS["tarih"])
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    with SimulatorServer(faults=FaultConfig(rate_500=1.0)) as judge:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANKA_", "DAGSTER_"))}
        env.update(
            DAGSTER_HOME=str(tmp_path), ANKA_DATA_DIR=str(tmp_path), ANKA_SEEDS_DIR=str(tmp_path / "seeds"),
            ANKA_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"), ANKA_JUDGE_BASE_URL=judge.base_url,
            ANKA_JUDGE_MODEL="judge-model", ANKA_JUDGE_LOCALITY="local", ANKA_JUDGE_MAX_RETRIES="0",
        )
        proc = subprocess.run([str(Path(sys.executable).parent / "anka-refinery"), "build"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=400)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[FAILED] tarih" in proc.stdout
    assert "judged_cot: too many failed model calls" in proc.stdout and "tarih: " in proc.stdout
    assert f"HTTP 500 from {judge.base_url}/chat/completions" in proc.stdout
    import duckdb

    tables = warehouse_tables(tmp_path / "warehouse.duckdb")  # the step failed before storing anything
    assert "raw_cot" in tables and "judged_cot" not in tables


def test_several_base_urls_are_replicas_of_one_endpoint():
    env = {"ANKA_TEACHER_BASE_URL": "http://gpu1:8000/v1, http://u:hunter22@gpu2:8000/v1",
           "ANKA_TEACHER_MODEL": "m", "ANKA_TEACHER_ADAPTIVE_CONCURRENCY": "0"}
    s = EndpointSettings.from_env("teacher", env)
    assert s.base_urls == ("http://gpu1:8000/v1", "http://u:hunter22@gpu2:8000/v1")
    assert s.endpoint == "http://gpu1:8000,http://gpu2:8000" and "hunter22" in s.secrets()
    assert s.adaptive_concurrency is False
    with pytest.raises(ValueError, match="several replicas of the same model, comma separated"):
        EndpointSettings.from_env("teacher", {**env, "ANKA_TEACHER_BASE_URL": "http://gpu1:8000/v1,gpu2:8000"})
