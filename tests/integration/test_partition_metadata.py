"""After one run over several domains, each partition carries its own figures (not the run's totals)."""

from dagster import materialize

from anka_assets.definitions import build_definitions

BOTH = {"dagster/asset_partition_range_start": "hukuk", "dagster/asset_partition_range_end": "tarih"}
NO_EXPANSION = {"ops": {"expanded_tasks": {"config": {"target_per_domain": 0}}}}


def test_two_domains_in_one_run_each_get_their_own_figures(refinery):
    defs = build_definitions(refinery)
    result = materialize(list(defs.assets), selection=["curated_seeds", "expanded_tasks", "seed_tasks", "eval_tasks"],
                         resources=defs.resources, tags=BOTH, run_config=NO_EXPANSION)
    assert result.success
    for asset in ("curated_seeds", "seed_tasks"):
        by_partition = {m.partition: m.metadata for m in result.asset_materializations_for_node(asset)}
        assert set(by_partition) == {"hukuk", "tarih"}  # one run, both partitions materialized
        assert by_partition["hukuk"]["dagster/row_count"].value == 3  # the conftest seeds: 3 and 2 tasks
        assert by_partition["tarih"]["dagster/row_count"].value == 2
        assert "row_count" not in by_partition["hukuk"]  # said once, under Dagster's own key
    seeds = {m.partition: m.metadata for m in result.asset_materializations_for_node("seed_tasks")}
    assert seeds["hukuk"]["sensitivity_public"].value == 2 and seeds["tarih"]["sensitivity_public"].value == 2
    assert seeds["hukuk"]["sensitivity_internal"].value == 1 and seeds["tarih"]["sensitivity_internal"].value == 0
    assert "Borçlar" in seeds["hukuk"]["preview"].value and "Borçlar" not in seeds["tarih"]["preview"].value
    expanded = {m.partition: m.metadata for m in result.asset_materializations_for_node("expanded_tasks")}
    assert expanded["hukuk"]["curated"].value == 3 and expanded["tarih"]["curated"].value == 2
    assert all(m["calls"].value == "none needed" and m["requests"].value == 0 for m in expanded.values())
    evals = {m.partition: m.metadata for m in result.asset_materializations_for_node("eval_tasks")}
    assert evals["hukuk"]["seed_tasks"].value == 3 and evals["tarih"]["seed_tasks"].value == 2

    checks = [c for c in result.get_asset_check_evaluations() if c.asset_key.to_user_string() == "seed_tasks"]
    assert checks and all(c.description == "domains: hukuk, tarih" for c in checks)
    not_empty = next(c for c in checks if c.check_name == "not_empty")
    assert not_empty.metadata["rows_by_domain"].value == {"hukuk": 3, "tarih": 2}


def test_model_bound_assets_attach_each_domains_figures_to_its_own_partition(refinery):
    import polars as pl

    from anka_assets.gateway import ModelEndpoint
    from anka_testkit.simulator import SimulatorServer
    from tests.conftest import read_table

    with SimulatorServer() as teacher_sim, SimulatorServer() as judge_sim:
        teacher, judge = (ModelEndpoint(role=role, backend="openai", base_url=sim.base_url, model=f"{role}-model",
                                        locality="local", max_retries=6, timeout_s=5.0, max_concurrency=8)
                          for role, sim in (("teacher", teacher_sim), ("judge", judge_sim)))
        defs = build_definitions(refinery, teacher=teacher, judge=judge)
        selection = ["curated_seeds", "expanded_tasks", "seed_tasks", "raw_cot", "judged_cot"]

        def run():
            result = materialize(list(defs.assets), selection=selection, resources=defs.resources, tags=BOTH,
                                 run_config=NO_EXPANSION)
            assert result.success
            return result

        result = run()
        judged = read_table(refinery, "judged_cot")
        raw = {m.partition: m.metadata for m in result.asset_materializations_for_node("raw_cot")}
        meta = {m.partition: m.metadata for m in result.asset_materializations_for_node("judged_cot")}
        assert set(raw) == set(meta) == {"hukuk", "tarih"}
        for domain, rows in (("hukuk", 3), ("tarih", 2)):
            own = judged.filter(pl.col("domain") == domain)
            assert raw[domain]["dagster/row_count"].value == rows and meta[domain]["dagster/row_count"].value == rows
            assert raw[domain]["status_ok"].value == rows and raw[domain]["calls_made"].value == rows
            assert meta[domain]["passed"].value == int(own["passed"].sum())
            assert meta[domain]["pass_rate"].value == round(own["passed"].sum() / rows, 4)
            assert meta[domain]["calls_made"].value == rows  # the judge's calls for this domain only
            previews = meta[domain]["preview_passed"].value + meta[domain]["preview_rejected"].value
            others = judged.filter(pl.col("domain") != domain)["row_id"].to_list()
            assert all(r in previews for r in own["row_id"]) and not any(r in previews for r in others)
            assert not any(r in raw[domain]["preview_ok"].value for r in others)
            assert raw[domain]["teacher_model"].value == "teacher-model"  # run-wide facts on every partition
        check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "pass_rate")
        assert check.description.startswith("domains: hukuk, tarih")
        by_domain = check.metadata["pass_rate_by_domain"].value
        assert by_domain == {d: meta[d]["pass_rate"].value for d in ("hukuk", "tarih")}
        assert check.passed == all(rate >= 0.5 for rate in by_domain.values())

        cached = run()  # nothing changed: every call from the cache, said in a word, no zero-valued plots
        for node in ("raw_cot", "judged_cot"):
            for m in cached.asset_materializations_for_node(node):
                assert m.metadata["calls"].value == "all cached" and "calls_made" not in m.metadata
                assert m.metadata["calls_cached"].value == {"hukuk": 3, "tarih": 2}[m.partition]


def test_call_figures_say_in_a_word_when_no_call_was_made():
    from anka_assets.gateway import CallLedger, GatewayRunStats
    from anka_assets.model_calls import call_figures

    def ledger(**stats) -> CallLedger:
        out = CallLedger()
        out.add(GatewayRunStats(**stats), [0.1] * stats.get("sent", 0))
        return out

    made = call_figures(ledger(requests=2, sent=1, cache_hits=1, prompt_tokens=10, completion_tokens=5, cost=0.002))
    assert made["calls_made"] == 1 and made["calls_cached"] == 1 and made["prompt_tokens"] == 10
    assert made["latency_p50_s"].value == 0.1
    assert call_figures(ledger(requests=3, cache_hits=3)) == {"calls": "all cached", "calls_cached": 3}
    assert call_figures(CallLedger()) == {"calls": "none needed"}
    assert call_figures(ledger(requests=2, cache_hits=1, blocked=1), prefix="judge_") == {
        "judge_calls": "none made", "judge_calls_cached": 1, "judge_calls_blocked_kvkk": 1}


def test_the_gateways_ledger_is_what_the_metadata_shows(tmp_path):
    """One domain's figures are the gateway's own count over every run (first asks and re-asks)."""
    from anka_assets.gateway import EndpointSettings, ModelGateway, ModelRequest
    from anka_testkit.simulator import SimulatorServer

    with SimulatorServer(port=0) as sim:
        gateway = ModelGateway(EndpointSettings(role="teacher", backend="simulator", model="m", base_url=sim.base_url),
                               tmp_path / "w.duckdb")
        requests = [ModelRequest(messages=[{"role": "user", "content": f"Soru {i}: Lozan'ı açıklayınız."}],
                                 params={"max_tokens": 40}, template_version="v1", seed_id=f"s{i}",
                                 sensitivity="public") for i in range(3)]
        gateway.run(requests, asset="raw_cot", partition="tarih")
        gateway.run(requests[:2], asset="raw_cot", partition="tarih")  # served from the cache
        gateway.run(requests[:1], asset="raw_cot", partition="hukuk")
    tarih = gateway.ledger("raw_cot", "tarih")
    assert (tarih.requests, tarih.sent, tarih.cache_hits, len(tarih.latencies)) == (5, 3, 2, 3)
    assert gateway.ledger("raw_cot", "hukuk").requests == 1
    assert (tarih + gateway.ledger("raw_cot", "hukuk")).requests == 6
