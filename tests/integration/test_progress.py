"""Progress of long batches of model calls: pure line format, pacing, and the gateway's run log."""

from __future__ import annotations

import logging

from anka_assets.gateway import EndpointSettings, ModelGateway, ModelRequest
from anka_assets.gateway.progress import PROGRESS_PATTERN, ProgressReporter, progress_line
from anka_testkit.simulator import FaultConfig, SimulatorServer


def test_progress_line_says_done_rate_eta_and_what_needed_no_call():
    line = progress_line("raw_cot hukuk", 120, 480, 37.5, cached=40, failed=2, blocked=5)
    assert line == ("raw_cot hukuk: 120/480 calls done (25%): 118 answered, 2 failed; 3.2/s, ETA 1m 52s; "
                    "40 cached, 5 KVKK-blocked")
    match = PROGRESS_PATTERN.match(line)
    assert match and (match["label"], match["done"], match["total"]) == ("raw_cot hukuk", "120", "480")
    assert "ETA done" in progress_line("x", 3, 3, 1.0, 0, 0, 0)


def test_reporter_emits_at_a_steady_pace_not_per_answer():
    now = [0.0]
    lines: list[str] = []
    reporter = ProgressReporter("judged_cot tarih", total=100, emit=lines.append, every_s=10, clock=lambda: now[0])
    for i in range(99):
        now[0] = i * 0.5  # an answer every half second: ~5 lines over 49.5 s, not 99
        reporter.answered(failed=(i % 10 == 0))
    assert 4 <= len(lines) <= 5
    assert lines[0].startswith("judged_cot tarih: 21/100 calls done (21%): 18 answered, 3 failed")
    assert "failed" in lines[-1] and reporter.failed == 10


def test_gateway_logs_progress_while_calls_are_answered(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("ANKA_PROGRESS_EVERY_S", "0.05")
    with SimulatorServer(port=0) as sim:
        sim.set_faults(FaultConfig(latency="uniform:0.02,0.04"))
        settings = EndpointSettings(role="teacher", backend="simulator", model="anka-sim-teacher",
                                    base_url=sim.base_url, max_concurrency=2, timeout_s=10)
        requests = [ModelRequest(messages=[{"role": "user", "content": f"Soru {i}: Lozan Antlaşması'nı açıklayınız."}],
                                 params={"max_tokens": 60}, template_version="cot-v1", seed_id=f"s{i}",
                                 sensitivity="public") for i in range(30)]
        log = logging.getLogger("progress-test")
        with caplog.at_level(logging.INFO, logger="progress-test"):
            ModelGateway(settings, tmp_path / "w.duckdb", log=log).run(requests, asset="raw_cot", partition="tarih")
    lines = [r.getMessage() for r in caplog.records if "calls done (" in r.getMessage()]
    assert lines and all(line.startswith("raw_cot tarih: ") and "/30 calls done" in line for line in lines)
