"""KVKK through real Dagster runs: a commercial judge never receives a teacher's answer that carries
personal data, review-queue CSVs and UI previews are redacted, refused rows go to a local fallback
teacher in the same run, and a fallback that is not local refuses to load."""

from __future__ import annotations

import csv

import duckdb
import polars as pl
import pytest
from dagster import materialize

from anka_assets.definitions import build_definitions
from anka_assets.fallback import FallbackConfigError, TeacherFallback
from anka_assets.gateway import ModelEndpoint
from anka_assets.metadata import md_preview
from anka_assets.resources import RefineryPaths
from anka_testkit.simulator import FAKE_PII_TCKN, FaultConfig, SimulatorServer
from anka_assets.text.pii import find_pii
from tests.conftest import read_table, write_seed

CHAIN = ["curated_seeds", "expanded_tasks", "seed_tasks", "raw_cot", "judged_cot", "review_queue"]


def endpoint(role: str, sim: SimulatorServer, locality: str, cls=ModelEndpoint, **extra) -> ModelEndpoint:
    return cls(role=role, backend="openai", base_url=sim.base_url, model=f"{role}-model", locality=locality,
               max_retries=2, timeout_s=5.0, max_concurrency=8, **extra)


def run(paths, partition, **resources):
    defs = build_definitions(paths, **resources)
    return materialize(list(defs.assets), selection=CHAIN, partition_key=partition, resources=defs.resources,
                       run_config={"ops": {"expanded_tasks": {"config": {"target_per_domain": 0}}}})


def sent_texts(sim: SimulatorServer) -> str:
    out = []
    for body in sim.received():
        for m in body["messages"]:
            c = m["content"]
            out.append(c if isinstance(c, str) else " ".join(p.get("text", "") for p in c))
    return "\n".join(out)


@pytest.fixture
def sims():
    with SimulatorServer() as teacher, SimulatorServer() as judge, SimulatorServer() as fallback:
        yield teacher, judge, fallback


def test_teacher_output_with_personal_data_stays_inside(refinery, sims):
    teacher_sim, judge_sim, _ = sims
    teacher_sim.set_faults(FaultConfig(rate_pii_echo=1.0))  # every answer carries a T.C. Kimlik No and a phone
    result = run(refinery, "tarih", teacher=endpoint("teacher", teacher_sim, "local"),
                 judge=endpoint("judge", judge_sim, "commercial"))
    assert result.success

    raw = read_table(refinery, "raw_cot")
    assert (raw["status"] == "ok").all() and raw["answer"].str.contains(FAKE_PII_TCKN).all()  # raw in warehouse
    judged = read_table(refinery, "judged_cot")
    assert (judged["judge_status"] == "blocked_kvkk").all()
    assert judge_sim.stats()["total"] == 0 and FAKE_PII_TCKN not in sent_texts(judge_sim)

    with duckdb.connect(refinery.warehouse, read_only=True) as con:
        audit = con.execute(
            "select decision, pii_kinds from anka.model_audit where role = 'judge'").pl()
    assert len(audit) == len(judged) and set(audit["decision"]) == {"blocked"}
    assert all({"TCKN", "TELEFON"} <= set(k.split(",")) for k in audit["pii_kinds"])

    queue_file = f"{refinery.review_queue_dir}/tarih.csv"
    text = open(queue_file, encoding="utf-8-sig").read()
    rows = list(csv.DictReader(open(queue_file, encoding="utf-8-sig")))
    assert rows and all("[TCKN]" in r["answer"] and "[TELEFON]" in r["answer"] for r in rows)
    assert FAKE_PII_TCKN not in text and find_pii(text, mode="egress") == []

    for event in result.asset_materializations_for_node("raw_cot"):
        assert FAKE_PII_TCKN not in event.metadata["preview_ok"].value
    wide = md_preview(raw, ["row_id", "answer"], width=5000)
    assert FAKE_PII_TCKN not in wide and "[TCKN]" in wide and "[TELEFON]" in wide
    assert FAKE_PII_TCKN in md_preview(raw, ["answer"], width=5000, redacted=False)


PERSONAL_SEEDS = """
    domain: kisisel
    tasks:
      - instruction: "Osmanlı'da tımar sisteminin işleyişini açıklayınız."
        sensitivity: public
        tags: [temiz]
      - instruction: "Başvuru sahibi 100 000 001 46 numaralı kimlikle kayıtlı; mirasçılık belgesini açıklayınız."
        sensitivity: public
        tags: [tckn]
      - instruction: "Ödemeyi tr33 0006 1005 1978 6457 8413 26 hesabına yapan kişinin haklarını açıklayınız."
        sensitivity: public
        tags: [iban]
      - instruction: "Kurum içi disiplin yönetmeliğini değerlendiriniz."
        sensitivity: internal
        tags: [ic]
"""


def test_refused_rows_are_answered_by_the_local_fallback_in_the_same_run(refinery, tmp_path, sims):
    teacher_sim, judge_sim, fallback_sim = sims
    write_seed(tmp_path / "seeds", "kisisel", PERSONAL_SEEDS)
    teacher = endpoint("teacher", teacher_sim, "commercial")
    judge = endpoint("judge", judge_sim, "local")
    fallback = endpoint("teacher_fallback", fallback_sim, "local", TeacherFallback, configured=True)

    assert run(refinery, "kisisel", teacher=teacher, judge=judge, teacher_fallback=fallback).success
    raw = read_table(refinery, "raw_cot").sort("seed_id")
    assert (raw["status"] == "ok").all()  # nothing left blocked
    served = dict(zip(raw["instruction"], raw["served_by"]))
    assert sorted(served.values()) == ["teacher", "teacher_fallback", "teacher_fallback", "teacher_fallback"]
    assert served["Osmanlı'da tımar sisteminin işleyişini açıklayınız."] == "teacher"
    assert set(raw["teacher_endpoint"]) == {teacher_sim.base_url.rsplit("/v1", 1)[0], fallback_sim.base_url.rsplit("/v1", 1)[0]}
    assert teacher_sim.stats()["total"] == 1 and fallback_sim.stats()["total"] == 3
    assert "100 000 001 46" not in sent_texts(teacher_sim) and "100 000 001 46" in sent_texts(fallback_sim)

    with duckdb.connect(refinery.warehouse, read_only=True) as con:
        audit = con.execute("select role, decision, status, pii_kinds from anka.model_audit "
                            "where asset = 'raw_cot' order by role, decision").pl()
    assert audit.filter(pl.col("role") == "teacher")["decision"].sort().to_list() == ["blocked"] * 3 + ["sent"]
    assert audit.filter(pl.col("role") == "teacher_fallback")["status"].to_list() == ["ok"] * 3
    assert sorted(k for k in audit.filter(pl.col("role") == "teacher")["pii_kinds"].to_list() if k) == ["IBAN", "TCKN"]

    # Without a fallback, the refused rows stay blocked_kvkk (a new warehouse: nothing cached).
    refinery2 = RefineryPaths(seeds_dir=refinery.seeds_dir, reviews_dir=refinery.reviews_dir,
                              review_queue_dir=str(tmp_path / "q2"), warehouse=str(tmp_path / "other.duckdb"))
    assert run(refinery2, "kisisel", teacher=teacher, judge=judge,
               teacher_fallback=TeacherFallback(configured=False)).success
    raw2 = read_table(refinery2, "raw_cot")
    assert (raw2["status"] == "blocked_kvkk").sum() == 3 and raw2["served_by"].null_count() == 3
    assert fallback_sim.stats()["total"] == 3  # not asked again


def test_expansion_of_a_non_public_parent_goes_to_the_local_fallback(refinery, tmp_path, sims):
    teacher_sim, _, fallback_sim = sims
    write_seed(tmp_path / "seeds", "kisisel", PERSONAL_SEEDS)
    defs = build_definitions(
        refinery, teacher=endpoint("teacher", teacher_sim, "commercial"),
        teacher_fallback=endpoint("teacher_fallback", fallback_sim, "local", TeacherFallback, configured=True))
    # 4 curated, target 14: ceil(10 * 1.5 / 5) = 3 requests over the two parents without personal data
    # (public, internal, public again)
    result = materialize(list(defs.assets), selection=["curated_seeds", "expanded_tasks"], partition_key="kisisel",
                         resources=defs.resources,
                         run_config={"ops": {"expanded_tasks": {"config": {"target_per_domain": 14}}}})
    assert result.success
    assert teacher_sim.stats()["total"] == 2 and fallback_sim.stats()["total"] == 1
    assert "disiplin" in sent_texts(fallback_sim) and "disiplin" not in sent_texts(teacher_sim)
    with duckdb.connect(refinery.warehouse, read_only=True) as con:
        rows = con.execute("select role, decision, sensitivity from anka.model_audit "
                           "where asset = 'expanded_tasks' order by role, decision").fetchall()
    assert rows == [("teacher", "blocked", "internal"), ("teacher", "sent", "public"), ("teacher", "sent", "public"),
                    ("teacher_fallback", "sent", "internal")]
    expanded = read_table(refinery, "expanded_tasks")
    assert "internal" in set(expanded["sensitivity"])  # offspring of the internal parent, answered locally


def test_a_fallback_that_is_not_local_refuses_to_load(monkeypatch, refinery):
    for name in ("BASE_URL", "BACKEND", "LOCALITY", "MODEL"):
        monkeypatch.delenv(f"ANKA_TEACHER_FALLBACK_{name}", raising=False)
    assert TeacherFallback.from_environment().configured is False
    assert build_definitions(refinery).resources["teacher_fallback"].configured is False

    monkeypatch.setenv("ANKA_TEACHER_FALLBACK_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ANKA_TEACHER_FALLBACK_MODEL", "yerel-model")
    with pytest.raises(FallbackConfigError, match="must be 'local'.*ANKA_TEACHER_FALLBACK_LOCALITY=local"):
        build_definitions(refinery)
    monkeypatch.setenv("ANKA_TEACHER_FALLBACK_LOCALITY", "local")
    fb = build_definitions(refinery).resources["teacher_fallback"]
    assert fb.configured and fb.settings().role == "teacher_fallback"
