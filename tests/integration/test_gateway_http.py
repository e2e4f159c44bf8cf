"""The gateway over real HTTP against the in-process simulator, with temp DuckDB files."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from anka_assets.gateway.types import ProbeFailed

from anka_assets.gateway import EndpointSettings, ModelEndpoint, ModelGateway, ModelRequest, ModelResult
from anka_testkit.simulator import FaultConfig, SimulatorServer
from anka_assets.text.pii import find_pii

TCKN = "10000000146"
IBAN = "TR33 0006 1005 1978 6457 8413 26"
SECRET = "sk-test-SECRET-1234"


def req(i: int, *, sensitivity: str | None = "public", text: str | None = None, **kw) -> ModelRequest:
    content = text if text is not None else f"Soru {i}: Tanzimat Fermanı'nın önemini açıklayınız."
    return ModelRequest(
        messages=[{"role": "user", "content": content}],
        params={"temperature": 0.7, "max_tokens": 120},
        template_version="cot-v1",
        seed_id=f"seed-{i}",
        sensitivity=sensitivity,
        **kw,
    )


def settings_for(sim: SimulatorServer, **kw) -> EndpointSettings:
    base = dict(role="teacher", backend="simulator", model="anka-sim-teacher", base_url=sim.base_url,
                max_concurrency=8, timeout_s=10, backoff_base_s=0.02, backoff_max_s=0.5)
    base.update(kw)
    return EndpointSettings(**base)


def audit_rows(db: Path) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute("SELECT * FROM anka.model_audit ORDER BY ts, audit_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


@pytest.fixture(scope="module")
def sim():
    with SimulatorServer(port=0) as server:
        yield server


@pytest.fixture
def clean_sim(sim):
    sim.set_faults(FaultConfig())
    sim.reset()
    return sim


# -- cache ----------------------------------------------------------------------------------------------


def test_second_run_is_all_cache_hits_and_makes_no_request(clean_sim, tmp_path):
    db = tmp_path / "w.duckdb"
    gw = ModelGateway(settings_for(clean_sim), db)
    requests = [req(i) for i in range(12)]
    first = gw.run(requests, asset="raw_cot", partition="tarih", run_id="r1")
    assert [r.status for r in first] == ["ok"] * 12
    assert clean_sim.stats()["total"] == 12
    assert all(r.model == "anka-simulator:anka-sim-teacher" and not r.cached and r.attempts == 1 for r in first)
    assert all(r.prompt_tokens > 0 and r.completion_tokens > 0 for r in first)
    assert gw.last_stats.sent == 12 and gw.last_stats.cache_hits == 0

    second = gw.run(requests, asset="raw_cot", partition="tarih", run_id="r2")
    assert clean_sim.stats()["total"] == 12  # no new request reached the server
    assert all(r.cached and r.attempts == 0 for r in second)
    assert [r.text for r in second] == [r.text for r in first]
    assert [r.key for r in second] == [r.key for r in first]
    assert (gw.last_stats.sent, gw.last_stats.cache_hits, gw.last_stats.prompt_tokens) == (0, 12, 0)


def test_samples_repairs_and_duplicates(clean_sim, tmp_path):
    gw = ModelGateway(settings_for(clean_sim), tmp_path / "w.duckdb")
    rs = [req(1), req(1, sample_index=1), req(1, sample_index=2), req(1, repair_attempt=1), req(1)]
    out = gw.run(rs, asset="raw_cot", partition="p")
    assert len({r.key for r in out}) == 4 and out[0].key == out[4].key
    assert clean_sim.stats()["total"] == 4  # the exact duplicate is sent once
    assert out[4].status == "ok" and out[4].cached and out[4].text == out[0].text
    assert gw.last_stats.cache_hits == 1 and gw.last_stats.sent == 4


def test_cost_and_token_accounting(clean_sim, tmp_path):
    gw = ModelGateway(settings_for(clean_sim, price_input_per_mtok=2.0, price_output_per_mtok=10.0), tmp_path / "w.duckdb")
    out = gw.run([req(i) for i in range(3)], asset="a", partition=None)
    for r in out:
        assert r.cost == pytest.approx((r.prompt_tokens * 2.0 + r.completion_tokens * 10.0) / 1e6)
    st = gw.last_stats
    assert st.prompt_tokens == sum(r.prompt_tokens for r in out)
    assert st.cost == pytest.approx(sum(r.cost for r in out))
    assert 0 < st.latency_p50_s <= st.latency_p95_s


# -- faults ---------------------------------------------------------------------------------------------


def test_twenty_percent_faults_every_item_ends_as_result_or_recorded_failure(clean_sim, tmp_path):
    faults = FaultConfig(rate_429=0.08, retry_after=0.3, rate_500=0.08, rate_hang=0.04, hang_seconds=5, seed=7)
    clean_sim.set_faults(faults)
    clean_sim.reset()
    db = tmp_path / "w.duckdb"
    gw = ModelGateway(settings_for(clean_sim, timeout_s=1.0, max_concurrency=16, max_retries=4), db)
    n = 60
    out = gw.run([req(i) for i in range(n)], asset="raw_cot", partition="tarih")
    assert len(out) == n and all(isinstance(r, ModelResult) for r in out)
    assert all((r.status == "ok" and r.text) or (r.status == "failed" and r.error) for r in out)
    stats = clean_sim.stats()
    assert stats["429"] + stats["500"] + stats["hang"] > 0
    assert gw.last_stats.retries == stats["total"] - n
    assert gw.last_stats.sent == n
    assert sum(r.attempts for r in out) == stats["total"]
    rows = audit_rows(db)
    assert len(rows) == n and {r["status"] for r in rows} <= {"ok", "failed"}
    assert sum(r["attempts"] for r in rows) == stats["total"]


def test_persistent_500_is_a_failed_row_with_attempt_count(clean_sim, tmp_path):
    clean_sim.set_faults(FaultConfig(rate_500=1.0))
    clean_sim.reset()
    db = tmp_path / "w.duckdb"
    gw = ModelGateway(settings_for(clean_sim, max_retries=2), db)
    out = gw.run([req(i) for i in range(3)], asset="a", partition="p")
    assert all(r.status == "failed" and r.attempts == 3 and r.text is None for r in out)
    assert out[0].error.startswith(f"HTTP 500 from {clean_sim.base_url}/chat/completions after 3 attempts: ")
    assert "The server had an error" in out[0].error  # the server's own message
    assert clean_sim.stats()["total"] == 9
    assert gw.last_stats.failed == 3 and gw.last_stats.retries == 6
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM anka.model_cache").fetchone()[0] == 0  # failures not cached
    clean_sim.set_faults(FaultConfig())
    again = gw.run([req(i) for i in range(3)], asset="a", partition="p")
    assert all(r.status == "ok" and not r.cached for r in again)


def test_429_retry_after_is_honoured_and_hangs_time_out(clean_sim, tmp_path):
    clean_sim.set_faults(FaultConfig(rate_429=1.0, retry_after=0.1))
    clean_sim.reset()
    gw = ModelGateway(settings_for(clean_sim, max_retries=2, backoff_base_s=0.01), tmp_path / "w.duckdb")
    t = time.perf_counter()
    out = gw.run([req(1)], asset="a", partition=None)
    assert time.perf_counter() - t >= 1.1  # eleven waits of >= 0.1 s
    # A 429 with Retry-After is rate limiting, not failure: four times the retry budget (3 attempts -> 12).
    assert out[0].status == "failed" and out[0].error.startswith(
        f"HTTP 429 from {clean_sim.base_url}/chat/completions after 12 attempts: Rate limit")

    clean_sim.set_faults(FaultConfig(rate_hang=1.0, hang_seconds=5))
    gw2 = ModelGateway(settings_for(clean_sim, max_retries=1, timeout_s=0.4), tmp_path / "w.duckdb")
    t = time.perf_counter()
    out = gw2.run([req(3)], asset="a", partition=None)
    # about 0.9 s; without the timeout the first attempt alone would hang 5 s (slack for a loaded machine)
    assert time.perf_counter() - t < 4.5
    assert out[0].status == "failed" and out[0].error.startswith(f"timeout from {clean_sim.base_url}/chat/completions after 2 attempts: no first byte within 0.4 s")


# -- KVKK -----------------------------------------------------------------------------------------------


def test_commercial_endpoint_receives_only_public_clean_prompts(clean_sim, tmp_path):
    db = tmp_path / "w.duckdb"
    gw = ModelGateway(settings_for(clean_sim, locality="commercial"), db)
    requests = [
        req(0, text="KAMU-1 Osmanlı'da tımar sistemini açıklayınız."),
        req(1, text="KAMU-2 Lozan Antlaşması'nın maddelerini özetleyiniz."),
        req(2, sensitivity="internal", text="DAHILI-1 Kurum içi yönetmeliği değerlendiriniz."),
        req(3, sensitivity="confidential", text="GIZLI-1 Soruşturma dosyasını özetleyiniz."),
        req(4, sensitivity=None, text="ETIKETSIZ-1 Bu metni özetleyiniz."),
        req(5, text=f"KISISEL-1 {TCKN} numaralı vatandaşın başvurusunu değerlendiriniz."),
        ModelRequest(
            messages=[{"role": "system", "content": f"Hesap: {IBAN}"}, {"role": "user", "content": "KISISEL-2 Özetle."}],
            params={}, template_version="v1", seed_id="seed-6", sensitivity="public",
        ),
    ]
    out = gw.run(requests, asset="raw_cot", partition="hukuk", run_id="kvkk")
    assert [r.status for r in out] == ["ok", "ok"] + ["blocked_kvkk"] * 5

    received = clean_sim.received()
    sent_text = json.dumps(received, ensure_ascii=False)
    assert len(received) == 2 and "KAMU-1" in sent_text and "KAMU-2" in sent_text
    for marker in ("DAHILI", "GIZLI", "ETIKETSIZ", "KISISEL", TCKN, "TR33"):
        assert marker not in sent_text
    assert not any(find_pii(m["content"]) for body in received for m in body["messages"])

    assert "sensitivity=internal is local-only (KVKK m. 9" in out[2].error
    assert "sensitivity=confidential" in out[3].error and "sensitivity=confidential" in out[4].error
    assert out[5].error == "personal data in prompt: TCKN"
    assert out[6].error == "personal data in prompt: IBAN"
    rows = {r["seed_id"]: r for r in audit_rows(db)}
    assert len(rows) == 7
    assert [rows[f"seed-{i}"]["decision"] for i in range(7)] == ["sent", "sent"] + ["blocked"] * 5
    assert rows["seed-4"]["sensitivity"] == "confidential"
    assert rows["seed-5"]["reason"] == "personal data in prompt: TCKN" and rows["seed-5"]["status"] == "blocked_kvkk"
    assert all(r["locality"] == "commercial" and r["endpoint"] == "simulator" for r in rows.values())

    # The same prompts on a local endpoint all go through.
    clean_sim.reset()
    local = ModelGateway(settings_for(clean_sim, locality="local"), db)
    assert all(r.status == "ok" for r in local.run(requests, asset="raw_cot", partition="hukuk"))
    assert len(clean_sim.received()) == 5  # the two public ones are cache hits


# -- audit ----------------------------------------------------------------------------------------------


def test_audit_has_exactly_one_row_per_request(clean_sim, tmp_path):
    db = tmp_path / "w.duckdb"
    gw = ModelGateway(settings_for(clean_sim, locality="commercial"), db)
    first = [req(i) for i in range(6)] + [req(10, sensitivity="confidential"), req(11, text=f"TCKN {TCKN}")]
    gw.run(first, asset="raw_cot", partition="tarih", run_id="run-1")
    second = first + [req(20), req(21), req(21)]
    gw.run(second, asset="raw_cot", partition="tarih", run_id="run-2")
    rows = audit_rows(db)
    assert len(rows) == len(first) + len(second)
    by_run = {run: [r for r in rows if r["run_id"] == run] for run in ("run-1", "run-2")}
    assert len(by_run["run-1"]) == 8 and len(by_run["run-2"]) == 11
    decisions = sorted(r["decision"] for r in by_run["run-2"])
    assert decisions == ["blocked"] * 2 + ["cache_hit"] * 7 + ["sent"] * 2
    assert gw.last_stats.requests == 11 and gw.last_stats.sent == 2 and gw.last_stats.cache_hits == 7
    for r in rows:
        assert r["status"] in ("ok", "blocked_kvkk") and r["completed_at"] is not None
        assert len(r["payload_sha256"]) == 64 and len(r["cache_key"]) == 64 and r["audit_id"]
        assert (r["asset"], r["partition"], r["role"], r["backend"]) == ("raw_cot", "tarih", "teacher", "simulator")
        assert r["model"] == "anka-sim-teacher"
    sent = [r for r in by_run["run-1"] if r["decision"] == "sent"]
    assert all(r["attempts"] == 1 and r["prompt_tokens"] > 0 for r in sent)
    everything = json.dumps([{k: str(v) for k, v in r.items()} for r in rows], ensure_ascii=False)
    assert "Tanzimat" not in everything and TCKN not in everything  # never the prompt text


def test_waits_for_a_locked_warehouse(clean_sim, tmp_path):
    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(1.5)", str(db)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        t = time.perf_counter()
        out = ModelGateway(settings_for(clean_sim), db).run([req(1)], asset="a", partition=None)
        assert out[0].status == "ok" and time.perf_counter() - t >= 0.5
    finally:
        holder.wait(10)
    # The connection was closed before run returned: another process can open the file at once.
    check = subprocess.run([sys.executable, "-c", "import duckdb,sys; duckdb.connect(sys.argv[1]).close()", str(db)])
    assert check.returncode == 0


# -- secrets --------------------------------------------------------------------------------------------


class _EchoKey401(BaseHTTPRequestHandler):
    """A hostile server: answers 401 and echoes the Authorization header back in the error message."""

    seen: list[str] = []

    def do_POST(self):  # noqa: N802
        sent = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        auth = self.headers.get("Authorization", "")
        type(self).seen.append(auth)
        prompt = sent["messages"][-1]["content"][:80]
        message = f"Incorrect API key provided: {auth} (prompt was: {prompt})"
        body = json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                     "code": "invalid_api_key"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # silence
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_api_key_appears_nowhere(monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoKey401)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    db = tmp_path / "w.duckdb"
    try:
        monkeypatch.setenv("ANKA_TEACHER_API_KEY", SECRET)
        monkeypatch.setenv("ANKA_TEACHER_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
        monkeypatch.setenv("ANKA_TEACHER_MODEL", "gpt-test")
        monkeypatch.setenv("ANKA_TEACHER_LOCALITY", "local")
        monkeypatch.setenv("ANKA_TEACHER_MAX_RETRIES", "3")
        settings = EndpointSettings.from_env("teacher")
        assert settings.api_key == SECRET and SECRET not in repr(settings) and SECRET not in str(settings)
        gw = ModelEndpoint.from_env("teacher").open_gateway(db)
        out = gw.run([req(1, text=f"Başvuran {TCKN}"), req(2)], asset="raw_cot", partition="tarih")
        assert any(SECRET in s for s in _EchoKey401.seen)  # the key was really sent, and echoed back
        assert all(r.status == "failed" and r.attempts == 1 for r in out)  # 401 is not retried
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions"
        assert out[0].error.startswith(f"HTTP 401 from {url} after 1 attempt: Incorrect API key") and "***" in out[0].error
        assert TCKN not in out[0].error and "[TCKN]" in out[0].error  # personal data echoed back is redacted

        # A refused connection (nothing listens on the port).
        monkeypatch.setenv("ANKA_TEACHER_BASE_URL", f"http://127.0.0.1:{_free_port()}/v1")
        monkeypatch.setenv("ANKA_TEACHER_MAX_RETRIES", "1")
        quick = dataclasses.replace(EndpointSettings.from_env("teacher"), backoff_base_s=0.01)
        # The start-of-run probe turns it into one clear line before any call.
        with pytest.raises(ProbeFailed, match=r"teacher endpoint http://127.0.0.1:\d+/v1 cannot be reached .*ANKA_TEACHER_BASE_URL"):
            ModelGateway(quick, db).run([req(3)], asset="raw_cot", partition="tarih")
        refused = []
    finally:
        server.shutdown()
        server.server_close()

    texts = [r.error or "" for r in out + refused] + [repr(r) for r in out + refused]
    assert not any(SECRET in t for t in texts)
    assert SECRET not in caplog.text
    assert "HTTP 401" in caplog.text  # the failures were logged, scrubbed
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = current_database()"
        ).fetchall()
        assert {t for _, t in tables} >= {"model_cache", "model_audit"}
        dump = "".join(str(con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()) for s, t in tables)
    assert "***" in dump and SECRET not in dump and TCKN not in dump


def test_starts_its_own_simulator_when_no_base_url(tmp_path):
    settings = EndpointSettings.from_env("evaluator", {})
    gw = ModelGateway(settings, tmp_path / "w.duckdb")
    out = gw.run([req(i, sensitivity="confidential") for i in range(3)], asset="student_eval", partition=None)
    assert all(r.status == "ok" and r.model.startswith("anka-simulator:") for r in out)
    rows = audit_rows(tmp_path / "w.duckdb")
    assert {r["endpoint"] for r in rows} == {"simulator"} and {r["locality"] for r in rows} == {"local"}


def test_run_works_inside_a_running_event_loop_and_arun_directly(clean_sim, tmp_path):
    import asyncio

    gw = ModelGateway(settings_for(clean_sim), tmp_path / "w.duckdb")

    async def caller():
        inside = gw.run([req(1)], asset="a", partition=None)  # a loop is running here
        awaited = await gw.arun([req(1), req(2)], asset="a", partition=None)
        return inside, awaited

    inside, awaited = asyncio.run(caller())
    assert inside[0].status == "ok" and awaited[0].cached and awaited[1].status == "ok"
    assert gw.run([], asset="a", partition=None) == [] and gw.last_stats.requests == 0


def test_model_endpoint_resource_in_a_dagster_asset(clean_sim, tmp_path, monkeypatch):
    for k in ("BASE_URL", "MODEL", "API_KEY", "LOCALITY", "BACKEND"):
        monkeypatch.delenv(f"ANKA_TEACHER_{k}", raising=False)
    db = tmp_path / "w.duckdb"

    @dg.asset
    def probe(context, teacher: ModelEndpoint):
        gw = teacher.open_gateway(db, log=context.log)
        out = gw.run([req(i) for i in range(3)], asset="probe", partition=None, run_id=context.run_id)
        assert all(r.status == "ok" for r in out)
        return dg.MaterializeResult(metadata=gw.last_stats.as_dict())

    resource = ModelEndpoint(role="teacher", base_url=clean_sim.base_url, backend="simulator", model="anka-sim-teacher")
    result = dg.materialize([probe], resources={"teacher": resource})
    assert result.success
    assert clean_sim.stats()["total"] == 3
    rows = audit_rows(db)
    assert len(rows) == 3 and {r["run_id"] for r in rows} == {result.run_id}
