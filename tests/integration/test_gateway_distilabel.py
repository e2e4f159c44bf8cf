"""distilabel tasks running through the gateway (`GatewayLLM`): KVKK, cache and audit still apply.

`GatewayLLM` is the public adapter for users' own distilabel tasks; the assets run their model tasks
through `anka_assets.model_tasks.run_task` (the expansion's re-asks are tested here too)."""

import duckdb
import pytest
from distilabel.steps.tasks import Task, TextGeneration

from anka_assets.assets.expanded_tasks import ExpansionConfig, expansion_rows, plan_expansion, run_expansion
from anka_assets.gateway import EndpointSettings, ModelGateway
from anka_assets.gateway.distilabel_llm import GatewayLLM
from anka_assets.parsing import TASK_LIST_RESPONSE_FORMAT, ParseError, parse_task_list
from anka_assets.prompts import load_prompt
from anka_assets.seed_loader import SeedTask, seed_id_for
from anka_testkit.simulator import FaultConfig, SimulatorServer

CLEAN = "Türkiye'de il özel idarelerinin görevlerini açıklayınız."
WITH_PII = "T.C. kimlik numarası 10000000146 olan vatandaşın başvurusunu değerlendiriniz."


@pytest.fixture
def sim():
    with SimulatorServer() as server:
        yield server


def gateway(sim, tmp_path, locality="local"):
    settings = EndpointSettings(role="teacher", backend="openai", base_url=sim.base_url, model="ogretmen",
                                locality=locality, max_retries=4, timeout_s=5.0, backoff_base_s=0.01)
    return ModelGateway(settings, tmp_path / "w.duckdb")


def text_generation(gw):
    llm = GatewayLLM.for_gateway(gw, asset="deneme", partition="kamu", generation_kwargs={"max_tokens": 256})
    task = TextGeneration(llm=llm)
    task.load()
    return llm, task


def test_stock_distilabel_task_through_the_gateway_is_cached_and_audited(sim, tmp_path):
    gw = gateway(sim, tmp_path)
    llm, task = text_generation(gw)
    rows = [{"instruction": CLEAN}, {"instruction": "Osmanlı'da divan teşkilatını açıklayınız."}]
    with llm.bind([{"seed_id": "tsk_a", "sensitivity": "internal"}, {"seed_id": "tsk_b", "sensitivity": "public"}]):
        out = next(task.process(rows))
    assert [bool(r["generation"]) for r in out] == [True, True]
    assert out[0]["model_name"] == "ogretmen"
    assert sim.stats()["total"] == 2
    with llm.bind([{"seed_id": "tsk_a", "sensitivity": "internal"}, {"seed_id": "tsk_b", "sensitivity": "public"}]):
        again = next(task.process(rows))
    assert sim.stats()["total"] == 2  # served from the gateway's cache
    assert [r["generation"] for r in again] == [r["generation"] for r in out]
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        audit = con.execute("select asset, partition, seed_id, decision from anka.model_audit order by ts, seed_id").fetchall()
    assert audit == [("deneme", "kamu", "tsk_a", "sent"), ("deneme", "kamu", "tsk_b", "sent"),
                     ("deneme", "kamu", "tsk_a", "cache_hit"), ("deneme", "kamu", "tsk_b", "cache_hit")]


def test_unlabelled_rows_never_reach_a_commercial_endpoint(sim, tmp_path):
    gw = gateway(sim, tmp_path, locality="commercial")
    llm, task = text_generation(gw)
    out = next(task.process([{"instruction": CLEAN}]))  # no labels bound: confidential by default
    assert out[0]["generation"] is None
    assert sim.stats()["total"] == 0

    rows = [{"instruction": CLEAN}, {"instruction": WITH_PII}, {"instruction": CLEAN + " Kısaca."}]
    labels = [{"sensitivity": "public"}, {"sensitivity": "public"}, {"sensitivity": "confidential"}]
    with llm.bind(labels):
        out = next(task.process(rows))
    assert [r["generation"] is not None for r in out] == [True, False, False]
    received = [m["content"] for body in sim.received() for m in body["messages"]]
    assert any(CLEAN in text for text in received)
    assert not any("10000000146" in text or "Kısaca" in text for text in received)
    reasons = [r.error for r in llm.last_results]
    assert reasons[0] is None and "personal data" in reasons[1] and "confidential" in reasons[2]


def test_labels_must_match_the_inputs(sim, tmp_path):
    llm, task = text_generation(gateway(sim, tmp_path))
    with llm.bind([{"sensitivity": "public"}]), pytest.raises(ValueError, match="1 bound labels for 2 inputs"):
        next(task.process([{"instruction": CLEAN}, {"instruction": CLEAN}]))
    with pytest.raises(ValueError, match="unknown keys"):
        with llm.bind([{"sensitivty": "public"}]):
            pass
    with pytest.raises(RuntimeError, match="not bound to a gateway"):
        GatewayLLM().generate([[{"role": "user", "content": "x"}]])


def curated_kamu():
    return [SeedTask(seed_id_for("kamu", t), "kamu", t, "public", False, (), None, "kamu.yaml", i, False, "0" * 64)
            for i, t in enumerate([CLEAN, "Sayıştay denetiminin kapsamını açıklayınız.",
                                   "Kamu ihale süreçlerinde eşik değerleri açıklayınız."])]


def test_expansion_task_re_asks_malformed_lists(sim, tmp_path):
    sim.set_faults(FaultConfig(rate_malformed=0.5, seed=11))
    gw = gateway(sim, tmp_path)
    jobs = plan_expansion(curated_kamu(), ExpansionConfig(target_per_domain=9, tasks_per_request=3, oversample=1.0))
    found, run = run_expansion(gw, jobs, "Kamu", partition="kamu", max_repairs=3)
    results = run.results
    assert len(found) == len(jobs) == 2
    assert all(tasks and len(tasks) == 3 for tasks in found)
    assert len(results) > len(jobs)  # some lists were malformed and asked again
    assert {r.status for r in results} == {"ok"}
    assert [a.repairs > 0 for a in run.answers].count(True) >= 1


class TurkishTaskExpansion(Task):
    """A user's own distilabel task on our versioned prompt: evol-instruct in Turkish from one parent."""

    @property
    def inputs(self) -> list[str]:
        return ["instruction", "domain_label", "count", "examples"]

    @property
    def outputs(self) -> list[str]:
        return ["gorevler", "model_name"]

    def format_input(self, input: dict) -> list[dict[str, str]]:
        return load_prompt("expand").messages(domain_label=input["domain_label"], instruction=input["instruction"],
                                              count=input["count"], examples=list(input["examples"]))

    def format_output(self, output: str | None, input: dict | None = None) -> dict:
        try:
            return {"gorevler": parse_task_list(output or "")}
        except ParseError:
            return {"gorevler": None}


def test_a_users_own_distilabel_task_runs_through_the_gateway(sim, tmp_path):
    gw = gateway(sim, tmp_path)
    jobs = plan_expansion(curated_kamu(), ExpansionConfig(target_per_domain=9, tasks_per_request=3, oversample=1.0))
    llm = GatewayLLM.for_gateway(gw, asset="expanded_tasks", partition="kamu", template_version="expand-test",
                                 generation_kwargs={"response_format": TASK_LIST_RESPONSE_FORMAT})
    task = TurkishTaskExpansion(llm=llm)
    task.load()
    rows = expansion_rows(jobs, "Kamu")
    with llm.bind([{"seed_id": r["seed_id"], "sensitivity": r["sensitivity"], "sample_index": r["round"]} for r in rows]):
        out = next(task.process([{k: r[k] for k in task.inputs} for r in rows]))
    assert [len(o["gorevler"]) for o in out] == [3, 3]
    assert [r.status for r in llm.last_results] == ["ok", "ok"]
