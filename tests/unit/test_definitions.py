"""The code location loads and the asset graph is the designed one."""

from pathlib import Path

from dagster import AssetKey

from anka_assets.definitions import build_definitions, defs

REPO_SEEDS = Path(__file__).resolve().parents[2] / "data" / "seeds"


def test_module_level_definitions_load_with_every_shipped_domain():
    seed_tasks = defs.get_assets_def(AssetKey("seed_tasks"))
    keys = set(seed_tasks.partitions_def.get_partition_keys())
    assert keys == {p.stem for p in REPO_SEEDS.glob("*.yaml")}
    assert {"hukuk", "tarih", "ekonomi", "cografya", "edebiyat", "saglik", "finans", "kamu_yonetimi"} <= keys


def test_seed_tasks_is_partitioned_by_domain_and_stored_in_duckdb(refinery):
    d = build_definitions(refinery)
    seed_tasks = d.get_assets_def(AssetKey("seed_tasks"))
    assert seed_tasks.partitions_def.get_partition_keys() == ["hukuk", "tarih"]
    assert seed_tasks.metadata_by_key[AssetKey("seed_tasks")]["partition_expr"] == "domain"
    assert {c.name for c in seed_tasks.check_specs} >= {"seed_id_unique", "sensitivity_present"}
    assert type(d.resources["io_manager"]).__name__ == "WarehouseIOManager"
    assert d.resources["io_manager"].database == refinery.warehouse


def test_asset_graph_edges(refinery):
    d = build_definitions(refinery)
    graph = d.resolve_asset_graph()
    parents = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
               for key in graph.get_all_asset_keys()}
    assert parents == {
        "curated_seeds": set(),
        "expanded_tasks": {"curated_seeds"},
        "seed_tasks": {"curated_seeds", "expanded_tasks"},
        "raw_cot": {"seed_tasks"},
        "judged_cot": {"raw_cot", "expert_reviews"},
        "review_queue": {"judged_cot"},
        "expert_reviews": set(),
        "eval_tasks": {"seed_tasks"},
        "sft_dataset": {"judged_cot", "raw_cot", "eval_tasks"},
        "sft_export": {"sft_dataset", "eval_tasks", "judged_cot", "curated_seeds", "seed_tasks", "raw_cot"},
        "lora_adapter": {"sft_export"},
        "student_eval": {"sft_export", "lora_adapter"},
    }
    assert not d.get_assets_def(AssetKey("expert_reviews")).is_materializable  # observed, never made here
    for name in ("curated_seeds", "expanded_tasks", "seed_tasks", "raw_cot", "judged_cot", "review_queue",
                 "expert_reviews", "eval_tasks", "sft_dataset"):
        assert d.get_assets_def(AssetKey(name)).partitions_def.get_partition_keys() == ["hukuk", "tarih"]
    assert d.get_assets_def(AssetKey("sft_export")).partitions_def is None  # one release over every domain


def _summary(d):
    """What a code location holds, by name: assets, checks, jobs, sensors, resources."""
    graph = d.resolve_asset_graph()
    return {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "checks": sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys),
        "jobs": sorted(j.name for j in d.resolve_all_job_defs() if not j.name.startswith("__")),
        "sensors": sorted(s.name for s in d.sensors),
        "resources": sorted(d.resources),
    }


def test_the_defs_folder_and_build_definitions_hold_the_same_code_location():
    # `defs` is anka_assets/defs/ loaded by dagster.load_from_defs_folder, each module wired from the
    # environment; build_definitions merges the same modules' `build` with explicit inputs.
    assert _summary(defs) == _summary(build_definitions())
    assert _summary(defs) == EXPECTED_LOCATION


#: The code location by name (also what `dg list defs` must print: tests/integration/test_dg_cli.py).
EXPECTED_LOCATION = {
    "assets": ["curated_seeds", "eval_tasks", "expanded_tasks", "expert_reviews", "judged_cot", "lora_adapter",
               "raw_cot", "review_queue", "seed_tasks", "sft_dataset", "sft_export", "student_eval"],
    "checks": ["curated_seeds:not_empty", "curated_seeds:seed_id_unique", "curated_seeds:sensitivity_present",
               "judged_cot:pass_rate", "seed_tasks:not_empty", "seed_tasks:seed_id_unique",
               "seed_tasks:sensitivity_present", "sft_export:no_eval_overlap", "sft_export:no_personal_data",
               "sft_export:valid_chats", "student_eval:adapter_beats_base"],
    "jobs": ["cross_domain_build", "distillation", "domain_build", "release_domain", "review", "seeds", "student"],
    "sensors": ["dead_run_reaper", "seed_file_sensor"],
    "resources": ["io_manager", "judge", "paths", "teacher", "teacher_fallback"],
}


def test_each_defs_module_makes_the_assets_of_its_own_group(refinery):
    from anka_assets.defs import Wiring, concern_modules

    wiring = Wiring.resolve(paths=refinery)
    modules = {m.__name__.rsplit(".", 1)[-1]: m for m in concern_modules()}
    assert set(modules) == {"automation", "distillation", "release", "resources", "review", "seeds", "student"}
    for name, module in modules.items():
        built = module.build(wiring)
        if hasattr(module, "assets"):
            groups = {g for a in module.assets(wiring)
                      for g in (a.group_names_by_key.values() if hasattr(a, "group_names_by_key") else [a.group_name])}
            assert groups == {name}, f"anka_assets/defs/{name}.py makes assets of the groups {groups}"
            assert not built.jobs and not built.sensors and not built.resources
    assert set(modules["resources"].build(wiring).resources) == set(EXPECTED_LOCATION["resources"])
    automation = modules["automation"].build(wiring)
    assert {j.name for j in automation.jobs} == set(EXPECTED_LOCATION["jobs"])
    assert {s.name for s in automation.sensors} == set(EXPECTED_LOCATION["sensors"])
