"""Named jobs per stage group and the seed-file sensor, on a real instance."""

from dagster import DagsterInstance, build_sensor_context, materialize

from anka_assets.definitions import build_definitions
from anka_assets.jobs import CROSS_DOMAIN_JOB, DOMAIN_JOB, changed_seed_files
from tests.conftest import write_seed


def test_jobs_cover_every_asset_once_per_purpose(refinery):
    defs = build_definitions(paths=refinery)
    names = {j.name for j in defs.jobs}
    assert {DOMAIN_JOB, CROSS_DOMAIN_JOB, "seeds", "distillation", "review", "release_domain", "student"} <= names
    keys = lambda name: {k.path[-1] for k in defs.resolve_job_def(name).asset_layer.selected_asset_keys}  # noqa: E731
    assert keys(CROSS_DOMAIN_JOB) == {"sft_export", "lora_adapter", "student_eval"}
    assert keys(DOMAIN_JOB) == {"curated_seeds", "expanded_tasks", "seed_tasks", "raw_cot", "judged_cot",
                                "review_queue", "eval_tasks", "sft_dataset"}
    assert keys("seeds") == {"curated_seeds", "expanded_tasks", "seed_tasks"}
    assert keys("release_domain") == {"eval_tasks", "sft_dataset"}
    assert defs.resolve_job_def(DOMAIN_JOB).partitions_def is not None


def test_changed_seed_files_is_pure():
    assert changed_seed_files({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "x"}) == ["b", "c"]


def test_seed_file_sensor_asks_for_new_and_changed_files_only(refinery):
    defs = build_definitions(paths=refinery)
    sensor = next(s for s in defs.sensors if s.name == "seed_file_sensor")
    assert sensor.default_status.value == "STOPPED"  # off unless a user turns it on
    with DagsterInstance.ephemeral() as instance:
        first = sensor.evaluate_tick(build_sensor_context(instance=instance, definitions=defs))
        assert sorted(r.partition_key for r in first.run_requests) == ["hukuk", "tarih"]  # never built
        curated = next(a for a in defs.assets if getattr(a, "key", None) and a.key.path[-1] == "curated_seeds")
        materialize([curated], partition_key="hukuk", resources=defs.resources, instance=instance)
        second = sensor.evaluate_tick(build_sensor_context(instance=instance, definitions=defs))
        assert [r.partition_key for r in second.run_requests] == ["tarih"]  # hukuk is built as it is
        seeds = refinery.seeds_path / "hukuk.yaml"
        write_seed(refinery.seeds_path, "hukuk", seeds.read_text(encoding="utf-8") +
                   '  - instruction: "Kira sözleşmesinin feshi için bildirim sürelerini açıklayınız."\n'
                   '    sensitivity: public\n')
        third = sensor.evaluate_tick(build_sensor_context(instance=instance, definitions=defs))
        assert sorted(r.partition_key for r in third.run_requests) == ["hukuk", "tarih"]
        assert all(r.run_key.startswith(f"{r.partition_key}:") for r in third.run_requests)
        # A new file is named (it becomes a partition when the code location reloads), not built blindly.
        write_seed(refinery.seeds_path, "ekonomi", 'tasks:\n  - instruction: "Enflasyonun nedenlerini açıklayınız."\n')
        materialize([curated], partition_key="tarih", resources=defs.resources, instance=instance)
        seeds.write_text(seeds.read_text(encoding="utf-8"), encoding="utf-8")
        materialize([curated], partition_key="hukuk", resources=defs.resources, instance=instance)
        fourth = sensor.evaluate_tick(build_sensor_context(instance=instance, definitions=defs))
        assert not fourth.run_requests and "ekonomi" in fourth.skip_message
