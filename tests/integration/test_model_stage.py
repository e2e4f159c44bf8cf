"""`ModelStage`, on its own: a stage declared here in a few lines (as a new stage module would be) runs
through a real Dagster `materialize`, a real DuckDB warehouse and the simulator as its teacher."""

from __future__ import annotations

import polars as pl
import pytest
from dagster import StaticPartitionsDefinition, materialize

from anka_assets.assets import domain_table
from anka_assets.gateway import ModelEndpoint, ModelResult
from anka_assets.model_calls import Answer, FailedCallsGate, after_reask, call_figures
from anka_assets.model_stage import Finished, Generation, ModelStage
from anka_assets.model_tasks import COT
from anka_assets.resources import warehouse_io_manager
from anka_testkit.simulator import FaultConfig
from tests.conftest import read_table

DOMAINS = StaticPartitionsDefinition(["hukuk", "tarih", "bos"])
BOTH = {"dagster/asset_partition_range_start": "hukuk", "dagster/asset_partition_range_end": "tarih"}
QUESTIONS = {
    "hukuk": ["Kira sözleşmesi nasıl feshedilir?", "Miras payı nasıl hesaplanır?"],
    "tarih": ["Lale Devri ne zaman başladı?"],
    "bos": [],
}


@domain_table(DOMAINS, name="questions")
def questions(context) -> pl.DataFrame:
    rows = [{"seed_id": f"{d}-{i}", "domain": d, "domain_label": d.title(), "instruction": q, "sensitivity": "public"}
            for d in context.partition_keys for i, q in enumerate(QUESTIONS[d])]
    schema = {"seed_id": pl.Utf8, "domain": pl.Utf8, "domain_label": pl.Utf8, "instruction": pl.Utf8,
              "sensitivity": pl.Utf8}
    return pl.DataFrame(rows, schema=schema)


class ShortAnswerConfig(FailedCallsGate):
    temperature: float = 0.7
    max_repairs: int = 1


def short_answer_rows(questions: pl.DataFrame, asked) -> pl.DataFrame:
    """One row per question: its answer (None when none came back) and the row's status. Pure."""
    return pl.DataFrame(
        [{"seed_id": q["seed_id"], "domain": q["domain"], "answer": a.parsed.answer if a.parsed else None,
          "status": a.status} for q, a in zip(questions.iter_rows(named=True), asked.answers)],
        schema={"seed_id": pl.Utf8, "domain": pl.Utf8, "answer": pl.Utf8, "status": pl.Utf8})


def _finish(run, df: pl.DataFrame, asked) -> Finished:
    frame = short_answer_rows(df, asked)
    return Finished(frame, {"dagster/row_count": len(frame), **call_figures(asked.run.calls),
                            **({"model_call_failures": asked.health.describe()} if asked.health.failed else {})})


#: The whole declaration of a per-domain stage.
SHORT_ANSWERS = ModelStage(
    name="short_answers", task=COT, endpoint="teacher", config=ShortAnswerConfig, inputs=("questions",),
    generation=lambda cfg: Generation({"temperature": cfg.temperature, "max_tokens": 512}, cfg.max_repairs),
    prepare=lambda run, domain: run.domain_rows("questions", domain),
    requests=lambda run, df: list(df.iter_rows(named=True)),
    finish=_finish,
    run_metadata=lambda run: {"teacher_model": run.gateway.settings.model if run.opened else "not asked",
                              "template_version": run.template.version},
)

#: The same stage over every domain at once (no partitions): its rows carry `domain`, and the failed-calls
#: gate is per domain of those rows.
ALL_ANSWERS = ModelStage(
    name="all_answers", task=COT, endpoint="teacher", config=ShortAnswerConfig, inputs=("questions",),
    generation=SHORT_ANSWERS.generation, prepare=lambda run, domain: run.inputs["questions"],
    requests=SHORT_ANSWERS.requests,
    finish=lambda run, df, asked: Finished(short_answer_rows(df, asked), {"judged_domains": len(asked.healths)}),
    pool="teacher",
)


def resources(refinery, sim, model: str = "teacher-model") -> dict:
    """A model of another name is asked anew (the gateway's cache is per model)."""
    teacher = ModelEndpoint(role="teacher", backend="openai", base_url=sim.base_url, model=model,
                            locality="local", max_retries=0, timeout_s=5.0, max_concurrency=4)
    return {"io_manager": warehouse_io_manager(refinery.warehouse), "paths": refinery, "teacher": teacher}


def run_stage(refinery, sim, stage_asset, model: str = "teacher-model", **kw):
    return materialize([questions, stage_asset], resources=resources(refinery, sim, model), raise_on_error=False, **kw)


def test_a_stage_asks_per_domain_and_puts_each_domains_figures_on_its_partition(refinery, teacher_sim):
    result = run_stage(refinery, teacher_sim, SHORT_ANSWERS.build(DOMAINS), tags=BOTH)
    assert result.success
    stored = read_table(refinery, "short_answers").sort("seed_id")
    assert stored["seed_id"].to_list() == ["hukuk-0", "hukuk-1", "tarih-0"]
    assert set(stored["status"]) == {"ok"} and stored["answer"].null_count() == 0
    meta = {m.partition: m.metadata for m in result.asset_materializations_for_node("short_answers")}
    assert {d: (m["dagster/row_count"].value, m["calls_made"].value) for d, m in meta.items()} == {
        "hukuk": (2, 2), "tarih": (1, 1)}
    assert all(m["teacher_model"].value == "teacher-model" for m in meta.values())  # run-wide: on each
    # every stage records what produced its rows on each partition it wrote (provenance.produced_with)
    records = {d: m["produced_with"].value for d, m in meta.items()}
    assert {r["model"] for r in records.values()} == {"teacher-model"}
    assert all(r["config"]["max_failed_share"] == ShortAnswerConfig().max_failed_share for r in records.values())
    assert all(r["template_version"].startswith("cot") and r["locality"] == "local" for r in records.values())
    assert not any("model_call_warning" in m or "model_call_failures" in m for m in meta.values())


def test_a_domain_without_rows_opens_no_gateway_and_makes_no_call(refinery, teacher_sim):
    result = run_stage(refinery, teacher_sim, SHORT_ANSWERS.build(DOMAINS), partition_key="bos")
    assert result.success
    [m] = result.asset_materializations_for_node("short_answers")
    assert m.metadata["calls"].value == "none needed" and m.metadata["teacher_model"].value == "not asked"
    assert m.metadata["template_version"].value.startswith("cot")
    assert teacher_sim.received() == []
    assert read_table(refinery, "short_answers").is_empty()


def test_over_the_threshold_the_stage_stores_nothing_and_names_the_domain(refinery, teacher_sim):
    stage = SHORT_ANSWERS.build(DOMAINS)
    assert run_stage(refinery, teacher_sim, stage, tags=BOTH).success
    before = read_table(refinery, "short_answers").sort("seed_id")
    teacher_sim.set_faults(FaultConfig(rate_500=1.0))
    result = run_stage(refinery, teacher_sim, stage, model="teacher-model-b", tags=BOTH)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith("short_answers: too many failed model calls")
    assert "hukuk: 2 of 2 model calls failed (100%)" in message and "tarih: 1 of 1" in message
    assert read_table(refinery, "short_answers").sort("seed_id").equals(before)


def test_an_unpartitioned_stage_gates_per_domain_of_its_rows(refinery, teacher_sim):
    stage = ALL_ANSWERS.build()
    assert stage.partitions_def is None and stage.required_resource_keys >= {"paths", "teacher"}
    ok = materialize([questions], resources=resources(refinery, teacher_sim), tags=BOTH)
    assert ok.success
    only_stage = {"selection": ["all_answers"], "raise_on_error": False}
    result = materialize([questions, stage], resources=resources(refinery, teacher_sim), **only_stage)
    assert result.success
    [m] = result.asset_materializations_for_node("all_answers")
    assert m.metadata["judged_domains"].value == 2  # one call health per domain of the rows
    assert len(read_table(refinery, "all_answers")) == 3

    teacher_sim.set_faults(FaultConfig(rate_500=1.0))
    failed = materialize([questions, stage], resources=resources(refinery, teacher_sim, "teacher-model-b"),
                         **only_stage)
    assert not failed.success
    [failure] = [e for e in failed.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert "hukuk: 2 of 2 model calls failed" in message and "tarih: 1 of 1 model calls failed" in message


def test_the_declaration_makes_the_dagster_asset():
    stage = SHORT_ANSWERS.build(DOMAINS)
    assert stage.key.to_user_string() == "short_answers" and stage.partitions_def == DOMAINS
    assert stage.required_resource_keys == {"paths", "teacher", "io_manager"}
    assert [k.to_user_string() for k in stage.keys_by_input_name.values()] == ["questions"]
    assert set(stage.op.config_schema.as_field().config_type.fields) == {"max_failed_share", "temperature",
                                                                         "max_repairs"}
    with_fallback = ModelStage(**{**SHORT_ANSWERS.__dict__, "fallback": True}).build(DOMAINS)
    assert "teacher_fallback" in with_fallback.required_resource_keys


def _result(text: str | None, finish: str | None = "stop", status: str = "ok") -> ModelResult:
    return ModelResult(key="k", status=status, text=text, finish_reason=finish, model="m", prompt_tokens=1,
                       completion_tokens=1, latency_s=0.0, cost=0.0, cached=False, attempts=1,
                       error=None if status == "ok" else "HTTP 500")


def _parse(text: str) -> str:
    from anka_assets.parsing import ParseError

    if not text.startswith("{"):
        raise ParseError("not JSON")
    return text


@pytest.mark.parametrize(("previous", "result", "kept", "status"), [
    # a malformed answer re-asked: the re-ask's answer is kept
    (_result("plain"), _result("{}"), "{}", "ok"),
    # a cut answer that parsed, re-asked for a whole one that does not parse: the cut answer stays
    (_result("{cut", "length"), _result("plain"), "{cut", "ok"),
    # a failed re-ask: the row is failed, with that call's error
    (_result("plain"), _result(None, None, "failed"), None, "failed"),
])
def test_after_reask_keeps_the_last_attempt_but_never_loses_a_parsed_answer(previous, result, kept, status):
    parsed = previous.text if previous.text.startswith("{") else None
    before = Answer(previous, parsed, None if parsed else "not JSON", 0, (previous,))
    after = after_reask(before, result, _parse, 1)
    assert (after.parsed, after.status, after.repairs, len(after.history)) == (kept, status, 1, 2)
    assert after.truncated == (previous.finish_reason == "length")
