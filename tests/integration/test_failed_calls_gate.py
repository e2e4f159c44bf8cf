"""A stage never shrinks what is stored because its calls failed (issue 17, item 3).

Every model stage (`expanded_tasks`, `raw_cot`, `judged_cot`, `student_eval`) applies `gate_calls`
before it yields its Output: over the threshold the step fails in one line and stores nothing, so the
partition keeps its previous rows; below it the ok and failed rows are stored. Real Dagster `materialize`
over a real DuckDB file, simulators on 127.0.0.1; a re-build asks for another teacher/judge model, so
its calls are not served from the gateway's cache of the first build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from dagster import materialize

from anka_assets.definitions import build_definitions
from anka_assets.gateway import ModelEndpoint, ModelResult
from anka_assets.model_calls import (
    MAX_FAILED_SHARE,
    Answer,
    call_health,
    call_healths,
    gate_calls,
    gate_message,
)
from anka_testkit.simulator import FaultConfig, SimulatorServer
from tests.conftest import REPO, SMALL_SEEDS, read_table, write_seed

SEEDS = ["curated_seeds", "expanded_tasks", "seed_tasks"]
COT = [*SEEDS, "raw_cot"]
JUDGED = [*COT, "judged_cot"]
BOTH = {"dagster/asset_partition_range_start": "hukuk", "dagster/asset_partition_range_end": "tarih"}
ALL_FAIL = FaultConfig(rate_500=1.0)


def endpoint(role: str, sim: SimulatorServer, model: str | None = None, **kw) -> ModelEndpoint:
    return ModelEndpoint(role=role, backend="openai", base_url=sim.base_url, model=model or f"{role}-model",
                         locality="local", **{"max_retries": 0, "timeout_s": 5.0, "max_concurrency": 8, **kw})


def build(paths, teacher, judge, selection, *, partition="hukuk", tags=None, expand_to=0, samples=1):
    defs = build_definitions(paths, teacher=teacher, judge=judge)
    ops = {"expanded_tasks": {"config": {"target_per_domain": expand_to}},
           "raw_cot": {"config": {"samples_per_task": samples}}}
    return materialize(list(defs.assets), selection=selection, resources=defs.resources,
                       partition_key=None if tags else partition, tags=tags,
                       run_config={"ops": {k: v for k, v in ops.items() if k in selection}}, raise_on_error=False)


def failure_message(result) -> str:
    failures = [e for e in result.all_events if e.is_step_failure]
    assert len(failures) == 1, [e.step_key for e in failures]
    data = failures[0].step_failure_data
    assert data.user_failure_data is not None, data.error.message  # our Failure, not a crash
    return data.user_failure_data.description


def stored(paths, table: str) -> pl.DataFrame:
    return read_table(paths, table).sort(pl.all())


def answer(status: str, error: str | None = None) -> Answer:
    result = ModelResult(key="k", status=status, text="x" if status == "ok" else None, finish_reason=None,
                         model="m", prompt_tokens=0, completion_tokens=0, latency_s=0.0, cost=0.0, cached=False,
                         attempts=1, error=error)
    return Answer(result, "x" if status == "ok" else None, None, 0, (result,))


# -- the rule, pure --------------------------------------------------------------------------------------


def test_the_rule_fails_over_the_threshold_or_when_every_call_failed_in_one_line():
    many = [answer("failed", "HTTP 500 from http://h/v1/chat/completions after 1 attempt:\n  boom"), answer("ok")]
    assert gate_message("raw_cot", [call_health("hukuk", many, 0.5)]) is None  # 50 % is not more than 50 %
    assert gate_message("raw_cot", [call_health("hukuk", many, 0.4)]) == (
        "raw_cot: too many failed model calls (more than 40% or all of them), nothing stored, the previous rows "
        "are kept: hukuk: 1 of 2 model calls failed (50%); first error: HTTP 500 from "
        "http://h/v1/chat/completions after 1 attempt: boom")
    # every call failed fails even under a threshold of 1; KVKK-blocked rows are no calls
    lone = [answer("failed", "connection refused"), answer("blocked_kvkk")]
    assert "hukuk: 1 of 1 model calls failed (100%)" in gate_message("judged_cot", [call_health("hukuk", lone, 1.0)])
    assert gate_message("x", [call_health("hukuk", [answer("blocked_kvkk")], 0.5)]) is None


def test_cross_domain_answers_are_judged_per_domain_and_the_failing_ones_are_named():
    answers = [answer("ok"), answer("failed", "e1"), answer("failed", "e2"), answer("ok"), answer("failed", "e3")]
    healths = call_healths(["hukuk", "tarih", "tarih", "hukuk", "saglik"], answers, MAX_FAILED_SHARE)
    assert [(h.domain, h.asked, h.failed) for h in healths] == [("hukuk", 2, 0), ("tarih", 2, 2), ("saglik", 1, 1)]
    from dagster import Failure

    with pytest.raises(Failure) as caught:
        gate_calls("student_eval", healths)
    message = caught.value.description
    assert "\n" not in message and "hukuk" not in message
    assert "tarih: 2 of 2 model calls failed (100%); first error: e1; saglik: 1 of 1" in message
    assert caught.value.metadata["domains"].value == "tarih, saglik"
    warned = gate_calls("student_eval", call_healths(["hukuk", "hukuk", "hukuk"], answers[:3], 0.7))
    assert warned == {"model_call_warning": "hukuk: 2 of 3 model calls failed (67%); first error: e1"}
    with pytest.raises(ValueError):
        call_healths(["hukuk"], answers, 0.5)


def test_every_model_stage_has_the_same_setting():
    from anka_assets.assets.expanded_tasks import ExpansionConfig
    from anka_assets.assets.judged_cot import JudgeConfig
    from anka_assets.assets.raw_cot import RawCotConfig
    from anka_assets.assets.student_eval import StudentEvalConfig

    fields = [c.model_fields["max_failed_share"] for c in (ExpansionConfig, RawCotConfig, JudgeConfig, StudentEvalConfig)]
    assert {f.default for f in fields} == {MAX_FAILED_SHARE} and len({f.description for f in fields}) == 1


# -- each stage, for real --------------------------------------------------------------------------------


def test_a_failed_expansion_keeps_the_tasks_the_domain_had(refinery, teacher_sim, judge_sim):
    judge = endpoint("judge", judge_sim)
    assert build(refinery, endpoint("teacher", teacher_sim), judge, SEEDS, expand_to=8).success
    before = stored(refinery, "expanded_tasks")
    assert 0 < len(before) <= 5  # 8 wanted, 3 curated

    teacher_sim.set_faults(ALL_FAIL)
    result = build(refinery, endpoint("teacher", teacher_sim, model="teacher-model-b"), judge, SEEDS, expand_to=8)
    assert not result.success
    message = failure_message(result)
    assert message.startswith("expanded_tasks: too many failed model calls") and "\n" not in message
    assert "hukuk: 2 of 2 model calls failed (100%); first error: HTTP 500 from " f"{teacher_sim.base_url}" in message
    assert stored(refinery, "expanded_tasks").equals(before)  # not 0 rows: exactly the earlier ones
    assert not result.asset_materializations_for_node("expanded_tasks")


def test_a_failed_expansion_below_the_threshold_stores_what_it_got(refinery, teacher_sim, judge_sim):
    teacher_sim.set_faults(FaultConfig(rate_500=0.25, seed=1))
    teacher = endpoint("teacher", teacher_sim, max_concurrency=1)
    result = build(refinery, teacher, endpoint("judge", judge_sim), SEEDS, expand_to=30)  # 9 requests
    assert result.success
    meta = {m.partition: m.metadata for m in result.asset_materializations_for_node("expanded_tasks")}["hukuk"]
    failed = meta["calls_failed"].value
    assert 0 < failed <= 4 and meta["rejected_request_without_tasks"].value == failed
    assert f"hukuk: {failed} of 9 model calls failed" in meta["model_call_failures"].value
    assert len(read_table(refinery, "expanded_tasks")) > 0


def test_a_failed_chain_of_thought_run_keeps_the_stored_chains(refinery, teacher_sim, judge_sim):
    judge = endpoint("judge", judge_sim)
    assert build(refinery, endpoint("teacher", teacher_sim), judge, COT).success
    before = stored(refinery, "raw_cot")
    assert set(before["status"]) == {"ok"} and len(before) == 3

    teacher_sim.set_faults(ALL_FAIL)
    result = build(refinery, endpoint("teacher", teacher_sim, model="teacher-model-b"), judge, COT)
    assert not result.success
    message = failure_message(result)
    assert message.startswith("raw_cot: too many failed model calls") and "\n" not in message
    assert f"hukuk: 3 of 3 model calls failed (100%); first error: HTTP 500 from {teacher_sim.base_url}" in message
    assert stored(refinery, "raw_cot").equals(before)


def test_a_failed_judge_run_keeps_the_stored_verdicts(refinery, teacher_sim, judge_sim):
    teacher = endpoint("teacher", teacher_sim)
    assert build(refinery, teacher, endpoint("judge", judge_sim), JUDGED).success
    before = stored(refinery, "judged_cot")
    assert len(before) == 3 and set(before["judge_status"]) == {"ok"}

    judge_sim.set_faults(ALL_FAIL)
    result = build(refinery, teacher, endpoint("judge", judge_sim, model="judge-model-b"), ["judged_cot"])
    assert not result.success
    message = failure_message(result)
    assert message.startswith("judged_cot: too many failed model calls") and "hukuk: 3 of 3" in message
    assert stored(refinery, "judged_cot").equals(before)


def test_in_a_multi_domain_run_one_failing_domain_stores_nothing_of_the_run(refinery, teacher_sim, judge_sim):
    """hukuk's calls are cached (fine), tarih's tasks are new and fail: the step fails, both keep their rows."""
    judge = endpoint("judge", judge_sim)
    assert build(refinery, endpoint("teacher", teacher_sim), judge, COT, tags=BOTH).success
    before = stored(refinery, "raw_cot")
    assert before.group_by("domain").len().sort("domain")["len"].to_list() == [3, 2]

    write_seed(Path(refinery.seeds_dir), "tarih", SMALL_SEEDS["tarih"].replace("yıkılış", "kuruluş").replace(
        "Tanzimat Fermanı ile", "Kanun-ı Esasi ile"))
    teacher_sim.set_faults(ALL_FAIL)
    result = build(refinery, endpoint("teacher", teacher_sim), judge, COT, tags=BOTH)
    assert not result.success
    message = failure_message(result)
    assert "raw_cot: too many failed model calls" in message and "tarih: 2 of 2 model calls failed" in message
    assert "hukuk" not in message
    assert stored(refinery, "raw_cot").equals(before)  # hukuk's (equal) and tarih's (older) rows both kept
    assert len(read_table(refinery, "seed_tasks").filter(pl.col("instruction").str.contains("Kanun-ı Esasi"))) == 1


# -- the command line ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_cli_with_a_failing_teacher_exits_non_zero_and_the_warehouse_keeps_the_earlier_rows(tmp_path):
    """`anka-refinery build --domain tarih` against a teacher whose every call fails, after a good build."""
    write_seed(tmp_path / "seeds", "tarih", SMALL_SEEDS["tarih"])
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    from anka_assets.resources import RefineryPaths

    paths = RefineryPaths(seeds_dir=str(tmp_path / "seeds"), reviews_dir=str(tmp_path / "reviews"),
                          review_queue_dir=str(tmp_path / "review_queue"), warehouse=str(tmp_path / "warehouse.duckdb"))
    with SimulatorServer() as good, SimulatorServer() as judge:
        assert build(paths, endpoint("teacher", good), endpoint("judge", judge), COT, partition="tarih",
                     expand_to=6).success
    expanded, raw = stored(paths, "expanded_tasks"), stored(paths, "raw_cot")
    assert 0 < len(expanded) <= 4 and len(raw) == 2 + len(expanded)

    with SimulatorServer(faults=ALL_FAIL) as failing:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANKA_", "DAGSTER_"))}
        env.update(
            DAGSTER_HOME=str(tmp_path), ANKA_DATA_DIR=str(tmp_path), ANKA_SEEDS_DIR=str(tmp_path / "seeds"),
            ANKA_DUCKDB_PATH=paths.warehouse, ANKA_TEACHER_BASE_URL=failing.base_url,
            ANKA_TEACHER_MODEL="another-teacher", ANKA_TEACHER_LOCALITY="local", ANKA_TEACHER_MAX_RETRIES="0",
        )
        proc = subprocess.run([str(Path(sys.executable).parent / "anka-refinery"), "build", "--domain", "tarih"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=400)
        asked = failing.stats()["total"]
    assert proc.returncode != 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert asked > 0  # the calls were made, and failed
    assert stored(paths, "expanded_tasks").equals(expanded)
    assert stored(paths, "raw_cot").equals(raw)


@pytest.mark.slow
def test_a_failed_student_evaluation_keeps_the_stored_evaluation(refinery, tmp_path, monkeypatch):
    from anka_assets.assets.lora_adapter import lora_adapter
    from anka_assets.student import evaluation

    # The toy student answers nothing in 4 tokens, and empty answers are settled without the judge; the
    # judge's calls are what this test is about, so both models "answer" (each its own text).
    monkeypatch.setattr(evaluation, "generate_answers", lambda model, tokenizer, tasks, *, adapter, max_new_tokens: [
        f"{'Uyarlanmış' if adapter else 'Temel'} model cevabı {i}." for i, _ in enumerate(tasks)])
    from anka_assets.assets.student_eval import student_eval
    from anka_assets.resources import warehouse_io_manager
    from tests.student_release import stand_in_sft_export, write_release

    assets = [stand_in_sft_export(write_release(tmp_path / "releases")), lora_adapter, student_eval]
    ops = {"lora_adapter": {"config": {"max_steps": 4, "adapters_dir": str(tmp_path / "adapters")}},
           "student_eval": {"config": {"max_new_tokens": 4, "turkmorf_limit": 0}}}

    def evaluate(judge: ModelEndpoint, selection=None):
        run_ops = {k: v for k, v in ops.items() if selection is None or k in selection}
        return materialize(assets, selection=selection, run_config={"ops": run_ops}, raise_on_error=False, resources={
            "io_manager": warehouse_io_manager(refinery.warehouse), "paths": refinery, "judge": judge})

    with SimulatorServer() as sim:
        assert evaluate(endpoint("judge", sim)).success
        before = stored(refinery, "student_eval")
        sim.set_faults(ALL_FAIL)
        result = evaluate(endpoint("judge", sim, model="judge-model-b"), selection=["student_eval"])
    assert not result.success
    message = failure_message(result)
    assert message.startswith("student_eval: too many failed model calls") and "\n" not in message
    assert "of 2 model calls failed (100%); first error: HTTP 500 from" in message  # 2 orders per task
    assert stored(refinery, "student_eval").equals(before)
