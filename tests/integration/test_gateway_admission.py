"""Streamed admission: the first window is sent while the rest of a run is planned, looked up and audited.

Chunks are made small here (the production sizes are one window, then 1,024) so that a few dozen
requests cross several chunks; the server is the in-process simulator over real HTTP.
"""

from __future__ import annotations

import threading
import time

import pytest

import anka_assets.gateway.core as core
from anka_assets.gateway import EndpointSettings, ModelGateway, ModelRequest, store
from anka_assets.gateway.backends import HttpBackend
from anka_testkit.simulator import FaultConfig, SimulatorServer
from tests.integration.test_gateway_http import audit_rows as audit, sim  # noqa: F401 - sim is a fixture


def req(i: int, *, text: str | None = None, sensitivity: str = "public") -> ModelRequest:
    return ModelRequest(
        messages=[{"role": "user", "content": text or f"Soru {i}: Lale Devri'nin kültürel etkilerini açıklayınız."}],
        params={"temperature": 0.7, "max_tokens": 64},
        template_version="cot-v1",
        seed_id=f"seed-{i}",
        sensitivity=sensitivity,
    )


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(core, "_ADMIT_CHUNK", 7)
    monkeypatch.setattr(core, "_PLAN_SLICE", 3)


def settings(sim: SimulatorServer, **kw) -> EndpointSettings:
    base = dict(role="teacher", backend="simulator", model="anka-sim-teacher", base_url=sim.base_url,
                max_concurrency=4, timeout_s=10, backoff_base_s=0.01, backoff_max_s=0.1)
    base.update(kw)
    return EndpointSettings(**base)


def test_no_call_is_sent_before_its_audit_row_is_committed(sim, small_chunks, monkeypatch, tmp_path):
    """Write-ahead audit across chunks: every send happens after the insert that holds its row returned."""
    sim.set_faults(FaultConfig())
    committed: set[str] = set()
    lock = threading.Lock()
    violations: list[str] = []
    insert = store.insert_audit_rows

    def recording_insert(con, rows):
        insert(con, rows)
        with lock:
            committed.update(r.seed_id for r in rows)

    complete = HttpBackend.complete

    async def checking_complete(self, body, timeout_s):
        seed = body["messages"][0]["content"].split(":")[0].removeprefix("Soru ")
        with lock:
            if f"seed-{seed}" not in committed:
                violations.append(seed)
        return await complete(self, body, timeout_s)

    monkeypatch.setattr(store, "insert_audit_rows", recording_insert)
    monkeypatch.setattr(HttpBackend, "complete", checking_complete)
    db = tmp_path / "w.duckdb"
    results = ModelGateway(settings(sim), db).run([req(i) for i in range(40)], asset="raw_cot", partition="tarih")
    assert [r.status for r in results] == ["ok"] * 40
    assert violations == []
    rows = audit(db)
    assert len(rows) == 40 and {r["status"] for r in rows} == {"ok"}


def test_duplicates_across_chunks_share_their_leaders_answer_even_when_it_came_first(sim, small_chunks, monkeypatch, tmp_path):
    """A duplicate planned after its leader was answered gets that answer at once, audited as complete."""
    sim.set_faults(FaultConfig())
    sim.reset()
    real_plan = core.plan_requests

    def slow_plan(settings, requests, start=0, **kw):  # later chunks arrive after the first answers
        if start:
            time.sleep(0.05)
        return real_plan(settings, requests, start, **kw)

    monkeypatch.setattr(core, "plan_requests", slow_plan)
    # The race this test is about: the leader's answer is in memory but its cache row is not yet
    # written when the duplicate's chunk is looked up (here: the lookup never sees in-run answers).
    monkeypatch.setattr(store, "lookup_cache", lambda con, keys: {})
    requests = [req(i) for i in range(12)] + [req(i % 3) for i in range(12, 30)] + [req(2)]
    db = tmp_path / "w.duckdb"
    gw = ModelGateway(settings(sim), db)
    results = gw.run(requests, asset="raw_cot", partition="tarih", run_id="r1")
    assert sim.stats()["total"] == 12  # one call per distinct prompt
    assert all(r.status == "ok" for r in results)
    for i, r in enumerate(results[12:], 12):
        leader = results[i % 3] if i < 30 else results[2]
        assert r.text == leader.text and r.key == leader.key
    assert gw.last_stats.sent == 12 and gw.last_stats.cache_hits == 19
    rows = audit(db)
    assert len(rows) == 31
    assert all(r["status"] == "ok" and r["completed_at"] is not None for r in rows)
    assert sorted(r["decision"] for r in rows) == ["cache_hit"] * 19 + ["sent"] * 12


def test_blocked_cached_and_new_requests_mixed_over_many_chunks(sim, small_chunks, tmp_path):
    sim.set_faults(FaultConfig())
    db = tmp_path / "w.duckdb"
    gw = ModelGateway(settings(sim, locality="commercial"), db)
    gw.run([req(i) for i in range(0, 50, 2)], asset="raw_cot", partition="tarih")  # every even one cached
    sim.reset()
    mixed = [req(i, sensitivity="confidential") if i % 5 == 0 else req(i) for i in range(50)]
    results = gw.run(mixed, asset="raw_cot", partition="tarih", run_id="r2")
    blocked = [i for i in range(50) if i % 5 == 0]
    assert [i for i, r in enumerate(results) if r.status == "blocked_kvkk"] == blocked
    cached = [i for i in range(0, 50, 2) if i % 5]
    assert [i for i, r in enumerate(results) if r.cached] == cached
    assert sim.stats()["total"] == 50 - len(blocked) - len(cached)
    assert gw.last_stats.requests == 50 and gw.last_stats.blocked == len(blocked)
    rows = [r for r in audit(db) if r["run_id"] == "r2"]
    assert len(rows) == 50 and all(r["status"] in ("ok", "blocked_kvkk") for r in rows)


def test_a_backend_that_does_not_start_fails_every_chunk_and_audits_it(small_chunks, tmp_path):
    """The probe fails on the first chunk; the rest is still admitted, audited and marked failed."""
    with SimulatorServer(port=0) as server:
        url = server.base_url
    db = tmp_path / "w.duckdb"  # the server is gone: nothing listens on that port any more
    gw = ModelGateway(settings_for_url(url), db)
    with pytest.raises(Exception, match="cannot be reached"):
        gw.run([req(i) for i in range(30)], asset="raw_cot", partition="tarih")
    rows = audit(db)
    assert len(rows) == 30
    assert {r["status"] for r in rows} == {"failed"} and all("cannot be reached" in r["error"] for r in rows)


def settings_for_url(url: str) -> EndpointSettings:
    return EndpointSettings(role="teacher", backend="openai", model="anka-sim-teacher", base_url=url,
                            locality="local", max_concurrency=4, timeout_s=5)


def test_a_bad_item_late_in_a_long_run_stops_it_before_any_call(sim, small_chunks, tmp_path):
    sim.set_faults(FaultConfig())
    sim.reset()
    requests = [req(i) for i in range(30)] + [{"messages": []}]
    with pytest.raises(TypeError, match=r"requests\[30\] is dict, not ModelRequest"):
        ModelGateway(settings(sim), tmp_path / "w.duckdb").run(requests, asset="raw_cot", partition="tarih")
    assert sim.stats()["total"] == 0
