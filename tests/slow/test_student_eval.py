"""`student_eval` for real: the toy model, a trained adapter, the judge simulator on 127.0.0.1,
Dagster `materialize` into a DuckDB file; and the pure parts (verdicts, win rates, parser)."""

import json
from pathlib import Path

import pytest
from dagster import materialize

from anka_assets.assets.lora_adapter import lora_adapter
from anka_assets.assets.student_eval import beats_base, student_eval
from anka_assets.gateway import ModelEndpoint
from anka_assets.parsing import ParseError, PairwiseVerdict, parse_pairwise
from anka_assets.resources import warehouse_io_manager
from anka_testkit.simulator import SimulatorServer
from anka_assets.student import evaluation, turkmorf
from tests.conftest import read_table
from tests.student_release import stand_in_sft_export, write_release

pytestmark = pytest.mark.extra("train")


@pytest.mark.slow
def test_student_eval_end_to_end(refinery, tmp_path):
    table = write_release(tmp_path / "releases")
    with SimulatorServer() as sim:
        judge = ModelEndpoint(role="judge", backend="openai", base_url=sim.base_url, model="judge-model",
                              locality="local", max_retries=4, timeout_s=5.0, max_concurrency=8)
        result = materialize(
            [stand_in_sft_export(table), lora_adapter, student_eval],
            resources={"io_manager": warehouse_io_manager(refinery.warehouse), "paths": refinery, "judge": judge},
            run_config={"ops": {
                "lora_adapter": {"config": {"max_steps": 12,
                                            "adapters_dir": str(tmp_path / "adapters")}},
                "student_eval": {"config": {"max_new_tokens": 8, "turkmorf_limit": 30}},
            }},
        )
        received = sim.received()
    assert result.success
    df = read_table(refinery, "student_eval")
    assert set(df["domain"]) == {"hukuk", "tarih", "cografya", "ALL", "turkmorfbench"}
    tasks = df.filter(df["suite"] == "eval_tasks")
    (mat,) = [e for e in result.get_asset_materialization_events()
              if e.asset_key.to_user_string() == "student_eval"]
    meta = mat.materialization.metadata
    # Both orders of every task: 3 held-out tasks → 6 verdicts, minus those settled by an empty answer and
    # those sharing another order's identical payload (plus any re-asks); no payload is ever sent twice.
    settled, shared = meta["judge_settled_empty_answer"].value, meta["judge_shared_payload"].value
    assert len(received) >= 6 - settled - shared
    bodies = [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in received]
    assert len(set(bodies)) == len(bodies)
    schemas = {r["response_format"]["json_schema"]["name"] for r in received}
    assert schemas == ({"pairwise_verdict"} if received else set())
    assert received or settled + shared == 6  # the toy student may answer nothing: no judge call then
    all_row = tasks.filter(tasks["domain"] == "ALL").row(0, named=True)
    assert all_row["tasks"] == 3 and all_row["adapter_wins"] + all_row["base_wins"] + all_row["ties"] \
        + all_row["judge_errors"] == 3
    assert 0.0 <= all_row["win_rate"] <= 1.0
    # hukuk's only eval task has no reference: no loss there, but the other domains have one.
    hukuk = tasks.filter(tasks["domain"] == "hukuk").row(0, named=True)
    assert hukuk["base_loss"] is None and hukuk["reference_tokens"] == 0
    tarih = tasks.filter(tasks["domain"] == "tarih").row(0, named=True)
    assert tarih["base_perplexity"] > 1 and tarih["adapter_loss"] != tarih["base_loss"]
    morf = df.filter(df["suite"] == "turkmorfbench").row(0, named=True)
    assert morf["tasks"] == 30 and 0 <= morf["base_accuracy"] <= 1 and morf["toy"]

    assert "TOY" in meta["report"].value and "30 of 1836 items" in meta["report"].value
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "adapter_beats_base" and check.severity.value == "WARN"
    expected, _ = beats_base(all_row, 0.5)
    assert check.passed == expected
    # The adapter's model card now carries this evaluation (student_eval runs after lora_adapter).
    from anka_assets.student.model_card import NOT_EVALUATED
    card = (Path(read_table(refinery, "lora_adapter")["adapter_dir"][0]) / "README.md").read_text(encoding="utf-8")
    assert NOT_EVALUATED not in card and "held-out tasks of release `r-test-0001`" in card
    assert ("Verdict: the adapter beats its base" if expected else "Verdict: the adapter does not beat") in card
    assert f"{all_row['adapter_wins']}/{all_row['base_wins']}/{all_row['ties']}" in card


def test_verdicts_combine_into_win_rates():
    a, b, tie = (PairwiseVerdict(k, "") for k in ("A", "B", "berabere"))
    assert evaluation.winner(a, "base") == "base" and evaluation.winner(b, "base") == "adapter"
    assert evaluation.winner(tie, "adapter") == "tie" and evaluation.winner(None, "base") is None
    assert evaluation.combine("adapter", "adapter") == "adapter"
    assert evaluation.combine("adapter", "base") == "tie"  # position bias: a split is a tie
    assert evaluation.combine(None, "base") == "base" and evaluation.combine(None, None) == "error"
    plans = [evaluation.PairPlan(0, "base"), evaluation.PairPlan(1, "adapter")]
    # task 0: A=base says B (adapter), swapped A=adapter says A (adapter) → adapter wins.
    # task 1: A=adapter says A (adapter), swapped A=base says A (base) → tie.
    assert evaluation.task_outcomes(plans, [b, a, a, a]) == ["adapter", "tie"]
    assert evaluation.win_rate(["adapter", "tie", "base", "error"]) == pytest.approx(0.5)
    assert evaluation.win_rate(["error"]) is None


def test_order_is_random_per_task_but_reproducible():
    from anka_assets.student.release import EvalTask

    tasks = [EvalTask("tarih", f"t-{i}", "Soru?", [{"role": "user", "content": "Soru?"}], None) for i in range(40)]
    first = [p.first for p in evaluation.plan_pairs(tasks, seed=0)]
    assert first == [p.first for p in evaluation.plan_pairs(tasks, seed=0)]
    assert 5 < first.count("base") < 35


@pytest.mark.parametrize("text,expected", [
    ('{"kazanan": "A", "gerekce": "A daha doğru."}', "A"),
    ('```json\n{"kazanan": "b", "gerekce": "B eksiksiz"}\n```', "B"),
    ('Karar: {"Kazanan": "BERABERE", "gerekçe": "ikisi de aynı"}', "berabere"),
    ('{"kazanan": "Eşit", "gerekce": ""}', "berabere"),
])
def test_parse_pairwise(text, expected):
    assert parse_pairwise(text).kazanan == expected


@pytest.mark.parametrize("text,message", [
    ('{"kazanan": "C", "gerekce": "?"}', "must be one of A, B, berabere"),
    ('{"gerekce": "yok"}', "missing field 'kazanan'"),
    ('{"kazanan": "A", ', "truncated JSON"),
    ("", "empty model output"),
])
def test_parse_pairwise_errors(text, message):
    with pytest.raises(ParseError, match=message):
        parse_pairwise(text)


def test_turkmorf_items_and_labels():
    items, total = turkmorf.load_items(None)
    assert total == len(items) == 1836
    sample, _ = turkmorf.load_items(50, seed=1)
    assert len(sample) == 50 and sample == turkmorf.load_items(50, seed=1)[0]
    assert all(0 <= i.gold < len(i.options) for i in items)
    assert turkmorf.task_label("yonelme") == "yönelme (-e) hâli"
    assert turkmorf.task_label("tek-1t-bulunma") == "birinci tekil kişi iyeliği ve bulunma (-de) hâli"


def test_empty_answers_lose_without_the_judge_and_identical_payloads_are_asked_once(tmp_path):
    """Real gateway and judge simulator: an empty answer (either model's) loses and two empty ones tie with
    no request; the two orders of a pair whose answers are identical are one payload, sent once, whose
    verdict serves both rows."""
    from anka_assets.model_tasks import PAIRWISE, run_task
    from anka_assets.student.release import EvalTask

    def task(i):
        return EvalTask("tarih", f"tsk_{i:016x}", f"Soru {i}: Malazgirt Savaşı neden önemlidir?",
                        [{"role": "user", "content": f"Soru {i}"}], "Anadolu'nun kapıları açıldı.", "public")

    tasks = [task(i) for i in range(5)]
    base = ["", "Anadolu'ya geçiş.", "", "Aynı cevap.", "Bizans yenildi."]
    adapter = ["Türklerin Anadolu'ya yerleşmesini başlattı.", "", "", "Aynı cevap.", "Selçuklular kazandı."]
    plans = evaluation.plan_pairs(tasks, seed=0)
    rows = evaluation.pairwise_rows(tasks, plans, base, adapter, {"tarih": "Tarih"})
    plan = evaluation.plan_judging(rows, PAIRWISE.variables)
    # tasks 0-2: settled (6 rows); task 3: one payload for both orders; task 4: two orders, two payloads
    assert plan.settled == 6 and len(plan.ask) == 3 and plan.shared == 1
    with SimulatorServer() as sim:
        judge = ModelEndpoint(role="judge", backend="openai", base_url=sim.base_url, model="judge-model",
                              locality="local", max_retries=2, timeout_s=5.0, max_concurrency=4)
        gateway = judge.open_gateway(str(tmp_path / "w.duckdb"))
        judged = run_task(PAIRWISE, gateway, plan.ask, asset="student_eval", partition=None, max_repairs=0)
        received = sim.received()
    texts = [json.dumps(r["messages"], ensure_ascii=False) for r in received]
    assert len(received) == 3 and len(set(texts)) == 3  # nothing sent for the empty answers, nothing twice
    assert not any("(boş cevap)" in t for t in texts)
    verdicts = evaluation.plan_verdicts(plan, [a.parsed for a in judged.answers])
    outcomes = evaluation.task_outcomes(plans, verdicts)
    assert outcomes[:3] == ["adapter", "base", "tie"]
    assert outcomes[3] == "tie"  # one verdict on identical text, read in both orders: a split, so a tie
    with pytest.raises(ValueError, match="2 judge verdicts for 3 requests"):
        evaluation.plan_verdicts(plan, verdicts[:2])
