"""A crash mid-batch loses nothing that arrived: responses are cached as they come, so a re-run after a
SIGKILL requests only what was not answered yet (counted at the server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from anka_assets.gateway import EndpointSettings, ModelGateway, ModelRequest

REPO = Path(__file__).resolve().parents[2]
N = 40

CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[3])
    from anka_assets.gateway import EndpointSettings, ModelGateway
    from tests.slow.test_gateway_crash import batch
    settings = EndpointSettings(role="teacher", backend="openai", model="anka-sim-teacher",
                                base_url=sys.argv[2], locality="local", max_concurrency=4)
    ModelGateway(settings, sys.argv[1]).run(batch(), asset="raw_cot", partition="tarih", run_id="killed")
    print("finished", flush=True)
    """
)


def batch() -> list[ModelRequest]:
    return [
        ModelRequest(
            messages=[{"role": "user", "content": f"Soru {i}: Lale Devri'nin özelliklerini açıklayınız."}],
            params={"temperature": 0.7, "max_tokens": 100},
            template_version="cot-v1",
            seed_id=f"seed-{i}",
            sensitivity="public",
        )
        for i in range(N)
    ]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture
def slow_simulator():
    """The simulator CLI in its own process, 0.25 s per answer."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "anka_testkit.simulator", "--port", "0", "--latency", "fixed:0.25"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        base_url = None
        while base_url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            if "listening on" in line:
                base_url = line.strip().rsplit(" ", 1)[-1]
        assert base_url, "simulator CLI did not start"
        yield base_url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_killed_batch_resumes_without_paying_twice(slow_simulator, tmp_path):
    base_url = slow_simulator
    root = base_url.rsplit("/v1", 1)[0]
    db = tmp_path / "w.duckdb"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), base_url, str(REPO)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        deadline = time.monotonic() + 40
        while _get(root + "/_sim/stats")["ok"] < 16:
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline, "child made no progress"
            time.sleep(0.05)
        child.kill()  # SIGKILL: no cleanup, no finally blocks
    finally:
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    received_before = _get(root + "/_sim/stats")["total"]
    assert received_before < N

    with duckdb.connect(str(db), read_only=True) as con:
        cached = con.execute("SELECT count(*) FROM anka.model_cache").fetchone()[0]
        statuses = dict(con.execute("SELECT status, count(*) FROM anka.model_audit GROUP BY status").fetchall())
    assert cached >= 8  # what arrived before the kill was written as it arrived
    assert statuses == {"ok": cached, "pending": N - cached}  # every decision was audited before sending

    urllib.request.urlopen(urllib.request.Request(root + "/_sim/reset", method="POST"), timeout=5).read()
    settings = EndpointSettings(role="teacher", backend="openai", model="anka-sim-teacher", base_url=base_url,
                                locality="local", max_concurrency=16)
    gw = ModelGateway(settings, db)
    out = gw.run(batch(), asset="raw_cot", partition="tarih", run_id="resumed")
    assert all(r.status == "ok" for r in out)
    assert _get(root + "/_sim/stats")["total"] == N - cached  # nothing already cached was requested again
    assert gw.last_stats.cache_hits == cached and gw.last_stats.sent == N - cached
