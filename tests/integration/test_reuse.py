"""The cross-domain stages' input fingerprint: equal for a rebuild from the cache, different for new content."""

import duckdb
import polars as pl
from dagster import DagsterInstance, materialize

from anka_assets.definitions import build_definitions
from anka_assets.reuse import inputs_fingerprint, table_digest
from anka_assets.settings import PROJECT_ROOT
from tests.conftest import write_seed


def test_fingerprint_is_stable_across_a_cached_rebuild_and_moves_with_content(refinery, monkeypatch):
    paths = refinery
    for key, value in {"ANKA_SEEDS_DIR": paths.seeds_dir, "ANKA_DUCKDB_PATH": paths.warehouse,
                       "ANKA_REVIEWS_DIR": paths.reviews_dir, "ANKA_REVIEW_QUEUE_DIR": paths.review_queue_dir}.items():
        monkeypatch.setenv(key, value)
    defs = build_definitions(paths=paths)
    domain_assets = [a for a in defs.assets if getattr(a, "is_materializable", False) and a.partitions_def is not None]
    tables = ["curated_seeds", "seed_tasks", "raw_cot", "judged_cot", "eval_tasks", "sft_dataset"]
    run = lambda: materialize(domain_assets, partition_key="hukuk", resources=defs.resources,  # noqa: E731
                              instance=DagsterInstance.ephemeral())
    run()  # every call made
    first = inputs_fingerprint(paths.warehouse, tables, PROJECT_ROOT / "anka_assets", environ={})
    with duckdb.connect(paths.warehouse, read_only=True) as con:
        cached_before = con.execute("select count(*) filter (where cached) from anka.raw_cot").fetchone()[0]
    run()  # every call from the cache: rows differ only in how they were obtained
    with duckdb.connect(paths.warehouse, read_only=True) as con:
        assert con.execute("select bool_and(cached) from anka.raw_cot").fetchone()[0] and cached_before == 0
    assert inputs_fingerprint(paths.warehouse, tables, PROJECT_ROOT / "anka_assets", environ={}) == first
    # A setting or a changed seed file is a change.
    assert inputs_fingerprint(paths.warehouse, tables, PROJECT_ROOT / "anka_assets",
                              environ={"ANKA_STUDENT_BASE_MODEL": "x"}) != first
    seeds = paths.seeds_path / "hukuk.yaml"
    write_seed(paths.seeds_path, "hukuk", seeds.read_text(encoding="utf-8") +
               '  - instruction: "İdari yargıda iptal davasının açılma süresini açıklayınız."\n    sensitivity: public\n')
    run()
    assert inputs_fingerprint(paths.warehouse, tables, PROJECT_ROOT / "anka_assets", environ={}) != first


def test_table_digest_ignores_row_order_and_volatile_columns(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema anka")
    frame = pl.DataFrame({"row_id": ["a", "b"], "answer": ["x", "y"], "latency_s": [0.1, 0.2], "cached": [False, True]})
    con.execute("create table anka.t as select * from frame")
    one = table_digest(con, "t")
    con.execute("delete from anka.t")
    shuffled = frame.reverse().with_columns(pl.Series("latency_s", [9.0, 8.0]), pl.Series("cached", [True, True]))
    con.execute("insert into anka.t select * from shuffled")
    assert table_digest(con, "t") == one
    con.execute("update anka.t set answer = 'z' where row_id = 'a'")
    assert table_digest(con, "t") != one
