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
    evals = {m.partition: m.metadata for m in result.asset_materializations_for_node("eval_tasks")}
    assert evals["hukuk"]["seed_tasks"].value == 3 and evals["tarih"]["seed_tasks"].value == 2

    checks = [c for c in result.get_asset_check_evaluations() if c.asset_key.to_user_string() == "seed_tasks"]
    assert checks and all(c.description == "domains: hukuk, tarih" for c in checks)
    not_empty = next(c for c in checks if c.check_name == "not_empty")
    assert not_empty.metadata["rows_by_domain"].value == {"hukuk": 3, "tarih": 2}
