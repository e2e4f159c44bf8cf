"""The DuckLake warehouse (ANKA_WAREHOUSE=ducklake:postgres:...) against a real throwaway PostgreSQL:
a domain built with Dagster's `materialize` lands every table in the lake, as Parquet under the data
path, and a third process reads them all back; the registry and ledger upserts and the gateway's
cache hold their keys without PRIMARY KEYs; an unreachable catalog is one clear line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import materialize

from anka_assets import warehouse
from anka_assets.definitions import build_definitions
from anka_assets.gateway import ModelEndpoint
from anka_assets.gateway import store
from anka_assets.resources import RefineryPaths
from tests.conftest import REPO, SMALL_SEEDS, write_seed

pytestmark = pytest.mark.postgres

READ_ALL = """
import json, sys
from anka_assets.gateway.store import open_warehouse
with open_warehouse(sys.argv[1], read_only=True) as con:
    tables = [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_catalog = current_database() "
        "and table_schema = 'anka' order by 1").fetchall()]
    out = {}
    for t in tables:
        cols = [r[0] for r in con.execute(f"describe anka.{t}").fetchall()]
        by = "domain" if "domain" in cols else None
        rows = con.execute(f"select {by or chr(39) + '-' + chr(39)}, count(*) from anka.{t} group by 1").fetchall()
        out[t] = {str(k): n for k, n in rows}
print(json.dumps(out))
"""


@pytest.fixture
def lake(postgres, tmp_path, monkeypatch):
    """A fresh DuckLake catalog database and data path, set in the environment as a user would."""
    db = postgres.createdb(f"lake_{os.getpid()}_{abs(hash(str(tmp_path))) % 10**8}")
    target = f"ducklake:postgres:{postgres.conninfo(db)}"
    data = tmp_path / "lake-data"
    data.mkdir()
    monkeypatch.setenv("ANKA_WAREHOUSE", target)
    monkeypatch.setenv("ANKA_WAREHOUSE_DATA_PATH", str(data))
    return target, data


def read_all(target: str, data: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ANKA_WAREHOUSE": target, "ANKA_WAREHOUSE_DATA_PATH": str(data)}
    proc = subprocess.run([sys.executable, "-c", READ_ALL, target], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_domain_materialized_into_ducklake_is_read_back_by_another_process(lake, tmp_path, teacher_sim, judge_sim):
    target, data = lake
    for domain, body in SMALL_SEEDS.items():
        write_seed(tmp_path / "seeds", domain, body)
    paths = RefineryPaths(seeds_dir=str(tmp_path / "seeds"), reviews_dir=str(tmp_path / "reviews"),
                          review_queue_dir=str(tmp_path / "review_queue"), warehouse=warehouse.warehouse_target(),
                          exports_dir=str(tmp_path / "exports"))
    assert paths.warehouse == target
    teacher = ModelEndpoint(role="teacher", backend="openai", base_url=teacher_sim.base_url, model="teacher-model",
                            locality="local", max_concurrency=8)
    judge = ModelEndpoint(role="judge", backend="openai", base_url=judge_sim.base_url, model="judge-model",
                          locality="local", max_concurrency=8)
    defs = build_definitions(paths, teacher=teacher, judge=judge)
    domain_assets = [a for a in defs.assets if a.partitions_def is not None]
    for domain in ("hukuk", "tarih"):
        assert materialize(domain_assets, partition_key=domain, resources=defs.resources).success
    sent = teacher_sim.stats()["total"] + judge_sim.stats()["total"]
    # Re-materializing a partition replaces it (one transaction) and pays nothing: the cache is in the lake.
    assert materialize(domain_assets, partition_key="hukuk", resources=defs.resources).success
    assert teacher_sim.stats()["total"] + judge_sim.stats()["total"] == sent

    tables = read_all(target, data)
    for asset in ("curated_seeds", "expanded_tasks", "seed_tasks", "raw_cot", "judged_cot",
                  "eval_tasks", "sft_dataset"):
        assert set(tables[asset]) <= {"hukuk", "tarih"} and tables[asset], (asset, tables[asset])
    for asset in ("curated_seeds", "seed_tasks", "raw_cot", "judged_cot"):
        assert set(tables[asset]) == {"hukuk", "tarih"}, (asset, tables[asset])
    assert tables["curated_seeds"] == {"hukuk": 3, "tarih": 2}  # hukuk once, not twice, after the rebuild
    assert {"model_cache", "model_audit", "gateway_windows", "sft_drops"} <= set(tables)
    with store.open_warehouse(target, read_only=True) as con:
        sent_twice = con.execute("select payload_sha256 from anka.model_audit where decision = 'sent' "
                                 "group by 1 having count(*) > 1").fetchall()
        keys_twice = con.execute("select key from anka.model_cache group by 1 having count(*) > 1").fetchall()
        files = con.execute("select count(*) from ducklake_list_files('lake', 'raw_cot', schema => 'anka')").fetchone()[0]
    assert sent_twice == [] and keys_twice == []
    assert files >= 1 and list(data.rglob("*.parquet")), "the lake's data is Parquet under the data path"
    assert not list(tmp_path.glob("*.duckdb")), "no DuckDB file is written when the warehouse is a lake"


def test_registry_ledger_and_windows_upsert_without_keys(lake):
    from anka_assets import drop_ledger
    from anka_assets.student import registry

    target, _ = lake
    row = {"version": "v1", "adapter_dir": "/a", "base_model": "b", "base_model_path": "/b", "release_version": "r",
           "hyperparameters": "{}", "backend": "peft", "steps": 1, "train_loss": 1.0, "validation_loss": 1.0,
           "wall_time_s": 1.0, "tokens": 1, "tokens_per_s": 1.0, "hardware": "cpu", "toy": True}
    assert registry.register(target, row)["materializations"] == 1
    assert registry.register(target, row)["materializations"] == 2
    assert registry.read_registry(target).height == 1
    drop_ledger.record(target, "hukuk", {"pii": 1, "dup": 2}, ["a", "b"])
    drop_ledger.record(target, "hukuk", {"pii": 3}, ["a"])
    assert drop_ledger.read(target) == {"hukuk": (drop_ledger.kept_digest(["a"]), {"pii": 3})}
    with store.open_warehouse(target) as con:
        store.ensure_tables(con)
        store.save_windows(con, [("r", "m", "u", 3, 8, 0.5)])
        store.save_windows(con, [("r", "m", "u", 5, 8, 0.5)])
        assert store.load_windows(con, ["r"], max_age_s=60) == {"r": 5}
        hit = store.CachedResponse("k", "first", "stop", "m", 1, 1, 0.1, 0.0)
        store.record_outcomes(con, [([], hit)])
        store.record_outcomes(con, [([], store.CachedResponse("k", "second", "stop", "m", 1, 1, 0.1, 0.0))])
        assert con.execute("select text from anka.model_cache").fetchall() == [("first",)]


def test_concurrent_commits_to_one_table_are_retried(lake):
    """Four processes appending to one lake table at once: DuckLake rejects colliding commits
    ("Transaction conflict"); warehouse.transaction runs them again, and every row lands once."""
    target, data = lake
    script = """
import sys
from anka_assets.gateway.store import open_warehouse
from anka_assets import warehouse
me = sys.argv[1]
with open_warehouse(sys.argv[2]) as con:
    warehouse.retry_conflicts(lambda: con.execute("create schema if not exists anka"))
    warehouse.retry_conflicts(lambda: con.execute("create table if not exists anka.t (domain varchar, i int)"))
    for i in range(10):
        warehouse.transaction(con, lambda c: (c.execute("delete from anka.t where domain = ? and i = ?", [me, i]),
                                              c.execute("insert into anka.t values (?, ?)", [me, i])))
"""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", script, f"w{n}", target], env=env, stderr=subprocess.PIPE,
                              text=True) for n in range(4)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(e[-2000:] for e in errs)
    assert read_all(target, data)["t"] == {f"w{n}": 10 for n in range(4)}


def test_an_unreachable_catalog_is_one_clear_line(tmp_path, monkeypatch):
    target = "ducklake:postgres:dbname=nothing host=127.0.0.1 port=9 user=anka connect_timeout=2"
    monkeypatch.setenv("ANKA_WAREHOUSE_DATA_PATH", str(tmp_path))
    with pytest.raises(store.WarehouseUnavailableError) as info:
        store.open_warehouse(target)
    text = str(info.value)
    assert "\n" not in text and "cannot be opened" in text and "port=9" in text
    with pytest.raises(warehouse.WarehouseConfigError, match="ANKA_WAREHOUSE_DATA_PATH"):
        warehouse.parse_target(target, environ={})
