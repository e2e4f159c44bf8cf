"""seed_tasks → raw_cot → judged_cot for real: Dagster `materialize`, a temporary DuckDB file, and
teacher and judge simulators on 127.0.0.1 that count what they receive."""

import csv
import shutil
from pathlib import Path

import polars as pl
import pytest
from dagster import materialize

from anka_assets.definitions import build_definitions
from anka_assets.gateway import ModelEndpoint
from anka_testkit.simulator import FaultConfig, SimulatorServer
from tests.conftest import FIXTURES, read_table

PROMPTS = Path(__file__).resolve().parents[2] / "anka_assets" / "prompts"
ALL = ["curated_seeds", "expanded_tasks", "seed_tasks", "raw_cot", "judged_cot", "review_queue"]


def endpoint(role: str, sim: SimulatorServer, locality: str = "local") -> ModelEndpoint:
    return ModelEndpoint(role=role, backend="openai", base_url=sim.base_url, model=f"{role}-model",
                         locality=locality, max_retries=6, timeout_s=5.0, max_concurrency=8)


def distill(paths, teacher, judge, partition, *, samples=1, expand_to=0, selection=ALL, raise_on_error=True):
    defs = build_definitions(paths, teacher=teacher, judge=judge)
    config = {
        "expanded_tasks": {"config": {"target_per_domain": expand_to}},
        "raw_cot": {"config": {"samples_per_task": samples}},
    }
    return materialize(
        list(defs.assets), selection=selection, partition_key=partition, resources=defs.resources,
        run_config={"ops": {k: v for k, v in config.items() if k in selection}}, raise_on_error=raise_on_error,
    )


def total(sim: SimulatorServer) -> int:
    return sim.stats()["total"]


def test_two_domains_end_to_end_with_faults(refinery, teacher_sim, judge_sim):
    faults = FaultConfig(rate_429=0.1, retry_after=0.05, rate_500=0.1, rate_malformed=0.1, rate_truncated=0.05, seed=7)
    teacher_sim.set_faults(faults)
    judge_sim.set_faults(faults)
    teacher, judge = endpoint("teacher", teacher_sim), endpoint("judge", judge_sim)
    for domain in ("hukuk", "tarih"):
        result = distill(refinery, teacher, judge, domain, samples=2, expand_to=6)
        assert result.success

    tasks = read_table(refinery, "seed_tasks")
    raw = read_table(refinery, "raw_cot")
    judged = read_table(refinery, "judged_cot")
    assert set(tasks["origin"]) == {"curated", "expanded"}
    # Everything the simulator made says so; curated tasks were written by people.
    assert tasks.filter(pl.col("origin") == "expanded")["simulated"].all()
    assert not tasks.filter(pl.col("origin") == "curated")["simulated"].any()
    assert raw.filter(pl.col("status") == "ok")["simulated"].all() and judged["simulated"].all()
    assert tasks.group_by("domain").len().sort("domain")["len"].to_list() == [6, 6]
    # Every (seed, sample) pair has exactly one row, whatever happened to it.
    expected = {(s, i) for s in tasks["seed_id"].to_list() for i in (0, 1)}
    assert set(zip(raw["seed_id"], raw["sample_index"])) == expected and len(raw) == len(expected)
    assert set(raw["status"]) <= {"ok", "parse_error", "failed"}
    assert (raw["status"] == "ok").sum() >= len(raw) * 0.8
    assert raw.filter(pl.col("status") == "ok")["answer"].str.contains("simülatörü").all()  # marked simulated
    assert raw.filter(pl.col("status") != "ok")["error"].is_not_null().all()  # failures say why
    assert (raw["repairs"] > 0).any()  # malformed answers were re-asked

    assert sorted(judged["row_id"]) == sorted(raw["row_id"])
    assert judged.filter(pl.col("passed"))["reject_reasons"].list.len().max() == 0
    assert judged.filter(~pl.col("passed"))["reject_reasons"].list.len().min() >= 1
    assert judged.filter(pl.col("judge_status") == "judge_error")["passed"].not_().all()
    assert judged.filter(pl.col("teacher_status") != "ok")["passed"].not_().all()
    assert set(judged["language_answer"].drop_nulls()) == {"tr"}

    queue = Path(refinery.review_queue_dir) / "tarih.csv"
    with queue.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == judged.filter((pl.col("domain") == "tarih") & pl.col("answer").is_not_null()).height
    assert {"row_id", "instruction", "reasoning", "answer", "verdict"} <= set(rows[0])


def test_materialization_metadata_is_visible(refinery, teacher_sim, judge_sim):
    result = distill(refinery, endpoint("teacher", teacher_sim), endpoint("judge", judge_sim), "hukuk")
    raw_meta = result.asset_materializations_for_node("raw_cot")[0].metadata
    assert raw_meta["calls_made"].value == 3 and raw_meta["calls_cached"].value == 0
    assert raw_meta["prompt_tokens"].value > 0 and raw_meta["latency_p95_s"].value >= raw_meta["latency_p50_s"].value
    assert raw_meta["status_ok"].value == 3
    judged_meta = result.asset_materializations_for_node("judged_cot")[0].metadata
    for key in ("pass_rate", "score_distribution", "preview_passed", "preview_rejected", "calls_made", "cost"):
        assert key in judged_meta
    assert "doğruluk" in judged_meta["score_distribution"].value
    checks = {e.check_name for e in result.get_asset_check_evaluations()}
    assert "pass_rate" in checks


def test_incremental_rematerialization(refinery, teacher_sim, judge_sim):
    teacher, judge = endpoint("teacher", teacher_sim), endpoint("judge", judge_sim)
    n = 2
    assert distill(refinery, teacher, judge, "hukuk", samples=n).success
    assert total(teacher_sim) == 3 * n and total(judge_sim) == 3 * n

    # Nothing changed: zero model calls.
    assert distill(refinery, teacher, judge, "hukuk", samples=n).success
    assert total(teacher_sim) == 3 * n and total(judge_sim) == 3 * n

    # k new tasks: exactly k·n teacher calls and the matching judge calls.
    seeds = Path(refinery.seeds_dir) / "hukuk.yaml"
    seeds.write_text(seeds.read_text(encoding="utf-8") + """\
  - instruction: "İcra ve İflas Kanunu'na göre ilamsız takibin aşamalarını açıklayınız."
    sensitivity: public
  - instruction: "Kira sözleşmesinde kiracının tahliye taahhüdünün geçerlilik şartlarını açıklayınız."
    sensitivity: public
""", encoding="utf-8")
    assert distill(refinery, teacher, judge, "hukuk", samples=n).success
    assert total(teacher_sim) == 3 * n + 2 * n
    assert total(judge_sim) == 3 * n + 2 * n
    assert len(read_table(refinery, "raw_cot")) == 5 * n


def test_a_new_judge_template_re_asks_only_the_judge(refinery, teacher_sim, judge_sim, tmp_path, monkeypatch):
    teacher, judge = endpoint("teacher", teacher_sim), endpoint("judge", judge_sim)
    assert distill(refinery, teacher, judge, "hukuk").success
    before_teacher, before_judge = total(teacher_sim), total(judge_sim)

    prompts = tmp_path / "prompts"
    prompts.mkdir()
    source = (PROMPTS / "judge.jinja2").read_text(encoding="utf-8")
    (prompts / "judge.jinja2").write_text(
        source.replace("version: judge-v1", "version: judge-v2").replace("tarafsız ve titiz", "tarafsız, titiz ve sabırlı"),
        encoding="utf-8",
    )
    monkeypatch.setenv("ANKA_PROMPTS_DIR", str(prompts))
    result = distill(refinery, teacher, judge, "hukuk")
    assert result.success
    assert total(teacher_sim) == before_teacher  # the teacher's prompts did not change
    assert total(judge_sim) == before_judge + 3
    versions = set(read_table(refinery, "judged_cot")["judge_template_version"])
    assert len(versions) == 1 and versions.pop().startswith("judge-v2+")


def test_commercial_teacher_never_sees_confidential_or_personal_data(tmp_path, teacher_sim, judge_sim):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(FIXTURES / "pii_seeds" / "kisisel.yaml", seeds / "kisisel.yaml")
    from anka_assets.resources import RefineryPaths
    from anka_assets.seed_loader import load_seed_file
    from anka_assets.text.pii import find_pii

    paths = RefineryPaths(seeds_dir=str(seeds), reviews_dir=str(tmp_path / "r"),
                          review_queue_dir=str(tmp_path / "q"), warehouse=str(tmp_path / "w.duckdb"))
    teacher = endpoint("teacher", teacher_sim, locality="commercial")
    judge = endpoint("judge", judge_sim, locality="commercial")
    assert distill(paths, teacher, judge, "kisisel", expand_to=30).success

    tasks = load_seed_file(seeds / "kisisel.yaml").tasks
    allowed = {t.instruction for t in tasks if t.sensitivity == "public" and not find_pii(t.instruction)}
    refused = {t.instruction for t in tasks} - allowed
    assert allowed and refused
    sent_text = "\n".join(m["content"] for body in teacher_sim.received() for m in body["messages"])
    assert all(text in sent_text for text in allowed)
    assert not any(text in sent_text for text in refused)
    assert not find_pii(sent_text)

    expanded = read_table(paths, "expanded_tasks")
    assert len(expanded) > 0 and set(expanded["sensitivity"]) == {"public"}  # only public parents could reach it
    raw = read_table(paths, "raw_cot")
    blocked = raw.filter(pl.col("status") == "blocked_kvkk")
    assert set(blocked["instruction"]) == refused
    assert blocked["error"].str.contains("KVKK|personal data|local-only").all()
    judged = read_table(paths, "judged_cot")
    assert judged.filter(pl.col("teacher_status") == "blocked_kvkk")["reject_reasons"].to_list() == [
        ["teacher_blocked_kvkk"]] * len(refused)


def test_expert_verdicts_override_the_judge(refinery, teacher_sim, judge_sim):
    teacher, judge = endpoint("teacher", teacher_sim), endpoint("judge", judge_sim)
    assert distill(refinery, teacher, judge, "hukuk").success
    judged = read_table(refinery, "judged_cot").sort("row_id")
    first, second = judged["row_id"][0], judged["row_id"][1]
    reviews = Path(refinery.reviews_dir)
    reviews.mkdir(parents=True)
    # Excel in a Turkish locale: semicolons, BOM, Turkish verdict words.
    (reviews / "hukuk.csv").write_text(
        f"row_id;verdict;note;reviewer\n{first};onay;Doğru ve eksiksiz.;Av. Uzman\n{second};ret;Kaynak hatalı;Av. Uzman\n",
        encoding="utf-8-sig",
    )
    calls = total(judge_sim)
    assert distill(refinery, teacher, judge, "hukuk", selection=["judged_cot"]).success
    assert total(judge_sim) == calls  # applying verdicts costs no model call
    after = read_table(refinery, "judged_cot").sort("row_id")
    row1, row2 = after.row(0, named=True), after.row(1, named=True)
    assert row1["expert_verdict"] == "approve" and row1["passed"] and row1["reject_reasons"] == []
    assert row1["reviewer"] == "Av. Uzman" and row1["expert_note"] == "Doğru ve eksiksiz."
    assert row2["expert_verdict"] == "reject" and not row2["passed"] and row2["reject_reasons"] == ["expert_reject"]


def test_a_bad_review_file_fails_clearly_and_loses_nothing(refinery, teacher_sim, judge_sim):
    teacher, judge = endpoint("teacher", teacher_sim), endpoint("judge", judge_sim)
    assert distill(refinery, teacher, judge, "hukuk").success
    before = read_table(refinery, "judged_cot").sort("row_id")
    reviews = Path(refinery.reviews_dir)
    reviews.mkdir(parents=True)
    (reviews / "hukuk.csv").write_text(f"row_id,verdict\n{before['row_id'][0]},belki\n", encoding="utf-8")
    result = distill(refinery, teacher, judge, "hukuk", selection=["judged_cot"], raise_on_error=False)
    assert not result.success
    errors = [e.step_failure_data.error for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    text = " ".join(err.message + (err.cause.message if err.cause else "") for err in errors)
    assert "hukuk.csv" in text and "line 2, column 'verdict'" in text and "'belki'" in text
    assert read_table(refinery, "judged_cot").sort("row_id").equals(before)


def test_malformed_teacher_output_is_a_recorded_parse_error(refinery, teacher_sim, judge_sim):
    teacher_sim.set_faults(FaultConfig(rate_malformed=1.0))
    result = distill(refinery, endpoint("teacher", teacher_sim), endpoint("judge", judge_sim), "tarih")
    assert result.success
    raw = read_table(refinery, "raw_cot")
    assert raw["status"].to_list() == ["parse_error", "parse_error"]
    assert raw["repairs"].to_list() == [1, 1] and raw["raw_text"].is_not_null().all()
    assert total(teacher_sim) == 4  # one re-ask each
    assert total(judge_sim) == 0  # nothing to judge
    judged = read_table(refinery, "judged_cot")
    assert judged["reject_reasons"].to_list() == [["teacher_parse_error"]] * 2


def test_malformed_judge_output_is_a_judge_error_never_passed(refinery, teacher_sim, judge_sim):
    judge_sim.set_faults(FaultConfig(rate_malformed=1.0))
    assert distill(refinery, endpoint("teacher", teacher_sim), endpoint("judge", judge_sim), "tarih").success
    judged = read_table(refinery, "judged_cot")
    assert judged["judge_status"].to_list() == ["judge_error", "judge_error"]
    assert not judged["passed"].any()
    assert total(judge_sim) == 2 * 3  # asked, then re-asked twice
