"""The settings that produced a table travel with it: raw_cot / judged_cot record their models and run
config on each partition they write, and the release reports those records, whatever ran last."""

import json
from pathlib import Path

from dagster import DagsterInstance, materialize

from anka_assets.gateway.endpoint import EndpointSettings
from anka_assets.provenance import PRODUCED_WITH, group_by_record, recorded, stage_record
from anka_assets.assets.raw_cot import RawCotConfig
from tests.integration.test_release import DOMAIN_ASSETS, build, paths, sims  # noqa: F401 (fixtures)


def test_a_record_names_model_endpoint_and_config_but_no_secret():
    settings = EndpointSettings(role="teacher", backend="openai", model="gpt-x", api_key="sk-live-123",
                                base_url="https://user:hunter2@api.example.com/v1")
    record = stage_record(RawCotConfig(temperature=0.2), settings, "cot-v3")
    assert record["model"] == "gpt-x" and record["endpoint"] == "https://api.example.com:443"
    assert record["config"]["temperature"] == 0.2 and record["template_version"] == "cot-v3"
    assert record["locality"] == "commercial" and "fallback" not in record
    text = json.dumps(record)
    assert "sk-live-123" not in text and "hunter2" not in text and "user:" not in text


def test_domains_are_grouped_by_the_record_that_produced_them():
    a, b = {"config": {"temperature": 0.3}}, {"config": {"temperature": 0.9}}
    assert group_by_record({"tarih": b, "hukuk": a, "din": a, "yeni": None}) == [
        {"domains": ["din", "hukuk"], "config": {"temperature": 0.3}},
        {"domains": ["tarih"], "config": {"temperature": 0.9}},
        {"domains": ["yeni"], "recorded": False},
    ]


def test_the_release_reports_the_config_that_produced_its_rows_not_the_latest_run(paths, sims):  # noqa: F811
    instance = DagsterInstance.ephemeral()
    defs_args = dict(domain_selection=DOMAIN_ASSETS, instance=instance, samples=1, expand_to=4)

    def domain(name: str, temperature: float, min_dogruluk: int) -> None:
        ops = {"raw_cot": {"config": {"samples_per_task": 1, "temperature": temperature}},
               "judged_cot": {"config": {"min_dogruluk": min_dogruluk}},
               "expanded_tasks": {"config": {"target_per_domain": 4}},
               "sft_dataset": {"config": {"validation_share": 0.3}}}
        assert materialize(list(defs.assets), selection=DOMAIN_ASSETS, partition_key=name, resources=defs.resources,
                           run_config={"ops": ops}, instance=instance).success

    from anka_assets.definitions import build_definitions

    defs = build_definitions(paths, teacher=sims[0], judge=sims[1])
    domain("hukuk", 0.3, 3)
    domain("tarih", 0.9, 4)  # the latest raw_cot / judged_cot runs: 0.9 and 4
    # Then an unrelated run with yet another config: it materializes neither raw_cot nor judged_cot.
    assert materialize(list(defs.assets), selection=["sft_dataset"], partition_key="hukuk", resources=defs.resources,
                       run_config={"ops": {"sft_dataset": {"config": {"validation_share": 0.5}}}},
                       instance=instance).success

    assert {d: r["config"]["temperature"] for d, r in recorded(instance, "raw_cot", ["hukuk", "tarih"]).items()} \
        == {"hukuk": 0.3, "tarih": 0.9}
    result = build(paths, sims, domains=(), **defs_args)  # only sft_export, on the same instance
    assert result.success
    release = Path(paths.exports_dir) / result.asset_materializations_for_node("sft_export")[0].metadata[
        "release_version"].value
    generation = json.loads((release / "release.json").read_text(encoding="utf-8"))["models"]["generation"]
    by_domain = {d: g for g in generation["raw_cot"] for d in g["domains"]}
    assert by_domain["hukuk"]["config"]["temperature"] == 0.3 and by_domain["tarih"]["config"]["temperature"] == 0.9
    assert {d: g["config"]["samples_per_task"] for d, g in by_domain.items()} == {"hukuk": 1, "tarih": 1}
    assert all(g["model"] == "teacher-model" and g["endpoint"] == sims[0].settings().endpoint
               and g["locality"] == "local" and g["template_version"] for g in generation["raw_cot"])
    assert all(g["model"] == "judge-model" for g in generation["judged_cot"])
    judged = {d: g["config"]["min_dogruluk"] for g in generation["judged_cot"] for d in g["domains"]}
    assert judged == {"hukuk": 3, "tarih": 4}
    card = (release / "README.md").read_text(encoding="utf-8")
    assert '"temperature": 0.3' in card and '"temperature": 0.9' in card and '"min_dogruluk": 3' in card


def test_rows_written_under_another_instance_are_reported_as_not_recorded(paths, sims):  # noqa: F811
    """A warehouse built under another Dagster instance: the release says the settings are unknown
    rather than guessing them from defaults."""
    builder, exporter = DagsterInstance.ephemeral(), DagsterInstance.ephemeral()
    build(paths, sims, domains=("hukuk",), samples=1, expand_to=4, instance=builder)
    assert recorded(builder, "raw_cot", ["hukuk"])["hukuk"]["config"]["samples_per_task"] == 1
    result = build(paths, sims, domains=(), instance=exporter)
    meta = result.asset_materializations_for_node("sft_export")[0].metadata
    manifest = json.loads((Path(meta["release_dir"].value) / "release.json").read_text(encoding="utf-8"))
    assert manifest["models"]["generation"] == {"raw_cot": [{"domains": ["hukuk"], "recorded": False}],
                                                "judged_cot": [{"domains": ["hukuk"], "recorded": False}]}
    assert PRODUCED_WITH not in {k for e in result.asset_materializations_for_node("sft_export") for k in e.metadata}
