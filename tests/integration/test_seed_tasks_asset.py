"""`seed_tasks` materialized for real: Dagster `materialize` into a temporary DuckDB file."""

from pathlib import Path

import polars as pl
from dagster import AssetKey, DagsterInstance, materialize

from anka_assets.definitions import build_definitions
from tests.conftest import read_table, write_seed


NO_EXPANSION = {"ops": {"expanded_tasks": {"config": {"target_per_domain": 0}}}}


def run(paths, partition, instance=None, raise_on_error=True):
    """Materialize the seed stage of one partition (teacher expansion off: curated tasks only)."""
    defs = build_definitions(paths)
    return materialize(
        list(defs.assets), selection=["curated_seeds", "expanded_tasks", "seed_tasks"], partition_key=partition,
        resources=defs.resources, instance=instance, raise_on_error=raise_on_error, run_config=NO_EXPANSION,
    )


def failure_text(result) -> str:
    """All error messages (with causes) of a failed in-process run."""
    parts = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            while error is not None:
                parts.append(error.message)
                error = error.cause
    return "\n".join(parts)


def test_materialize_partition_and_read_back(refinery):
    result = run(refinery, "hukuk")
    assert result.success
    df = read_table(refinery, "seed_tasks")
    assert df["domain"].unique().to_list() == ["hukuk"]
    assert len(df) == 3
    assert sorted(df["sensitivity"].to_list()) == ["internal", "public", "public"]
    assert df.filter(pl.col("source").is_not_null())["source"].to_list() == ["6098 sayılı TBK m. 117"]
    assert df["tags"].to_list()[0] == ["borclar_hukuku", "aciklama"]
    assert df["seed_id"].str.starts_with("tsk_").all()
    assert df["origin"].unique().to_list() == ["curated"]
    assert df["domain_label"].unique().to_list() == ["Hukuk"]  # the file names no label: the key's default

    mat = result.asset_materializations_for_node("seed_tasks")[0]
    assert mat.metadata["curated"].value == 3 and mat.metadata["expanded"].value == 0
    meta = mat.metadata
    assert meta["dagster/row_count"].value == 3
    assert meta["sensitivity_public"].value == 2 and meta["sensitivity_internal"].value == 1
    curated = result.asset_materializations_for_node("curated_seeds")[0].metadata
    assert curated["duplicates_collapsed"].value == 0 and curated["dagster/row_count"].value == 3
    assert curated["seed_file"].value.endswith("hukuk.yaml")
    assert "Borçlar" in meta["preview"].value
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"seed_id_unique": True, "sensitivity_present": True, "not_empty": True}


def test_rematerializing_one_partition_replaces_only_its_rows(refinery):
    assert run(refinery, "hukuk").success
    assert run(refinery, "tarih").success
    tarih_before = read_table(refinery, "seed_tasks").filter(pl.col("domain") == "tarih").sort("seed_id")

    write_seed(Path(refinery.seeds_dir), "hukuk", """
        tasks:
          - instruction: "İcra ve İflas Kanunu'na göre ilamsız takibin aşamalarını açıklayınız."
            sensitivity: public
        """)
    assert run(refinery, "hukuk").success

    df = read_table(refinery, "seed_tasks")
    hukuk = df.filter(pl.col("domain") == "hukuk")
    assert hukuk["instruction"].to_list() == ["İcra ve İflas Kanunu'na göre ilamsız takibin aşamalarını açıklayınız."]
    assert df.filter(pl.col("domain") == "tarih").sort("seed_id").equals(tarih_before)


def test_bad_file_fails_its_partition_only_and_loses_nothing(refinery):
    assert run(refinery, "hukuk").success
    assert run(refinery, "tarih").success
    before = read_table(refinery, "seed_tasks").sort("seed_id")

    write_seed(Path(refinery.seeds_dir), "hukuk", """
        tasks:
          - instruction: "Türk Medeni Kanunu'na göre edinilmiş mallara katılma rejimini açıklayınız."
            sensitivity: cok_gizli
        """)
    result = run(refinery, "hukuk", raise_on_error=False)
    assert not result.success
    message = failure_text(result)
    # The failure starts with the place to fix, as an editor shows it (line 3, column 18; task 1).
    assert f"Failure: {Path(refinery.seeds_dir) / 'hukuk.yaml'}:3:18: task 1, field 'sensitivity'" in message

    assert read_table(refinery, "seed_tasks").sort("seed_id").equals(before)  # nothing lost
    assert run(refinery, "tarih").success  # the other partition still materializes


def test_new_seed_file_is_a_new_partition_without_code_change(refinery):
    write_seed(Path(refinery.seeds_dir), "cografya", """
        tasks:
          - instruction: "Karadeniz Bölgesi'nde yağış rejiminin yıl içindeki dağılımını açıklayınız."
            sensitivity: public
        """)
    defs = build_definitions(refinery)
    keys = defs.get_assets_def(AssetKey("seed_tasks")).partitions_def.get_partition_keys()
    assert sorted(keys) == ["cografya", "hukuk", "tarih"]
    assert run(refinery, "cografya").success


def test_type_check_blocks_a_broken_contract(refinery, monkeypatch):
    """The Pandera schema is the asset's Dagster type: a broken table is never stored."""
    import anka_assets.assets.curated_seeds as module

    real = module.tasks_frame

    def broken(tasks, *args, **kwargs):
        return real(tasks, *args, **kwargs).with_columns(pl.lit("gizli").alias("sensitivity"))

    monkeypatch.setattr(module, "tasks_frame", broken)
    result = run(refinery, "hukuk", raise_on_error=False)
    assert not result.success
    import duckdb

    with duckdb.connect(refinery.warehouse) as con:
        tables = con.execute("select table_name from information_schema.tables").fetchall()
    assert ("curated_seeds",) not in tables and ("seed_tasks",) not in tables


def test_runs_are_recorded_in_a_persistent_instance(refinery, tmp_path):
    with DagsterInstance.ephemeral() as instance:
        assert run(refinery, "tarih", instance=instance).success
        status = instance.get_status_by_partition(
            AssetKey("seed_tasks"), ["hukuk", "tarih"],
            build_definitions(refinery).get_assets_def(AssetKey("seed_tasks")).partitions_def,
        )
        assert str(status["tarih"]).endswith("MATERIALIZED")


def test_missing_upstream_is_one_actionable_line(refinery):
    """seed_tasks on a fresh warehouse: no DuckDB catalog error, but what to build and how."""
    defs = build_definitions(refinery)
    result = materialize(list(defs.assets), selection=["seed_tasks"], partition_key="hukuk",
                         resources=defs.resources, raise_on_error=False)
    assert not result.success
    message = failure_text(result)
    assert "`curated_seeds` has not been materialized for hukuk" in message
    assert "anka-refinery build --domain hukuk" in message and "Materialize" in message
    assert "CatalogException" not in message and "Traceback" not in message
