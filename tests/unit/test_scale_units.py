"""Pure pieces of the scale-out path: warehouse targets, conflict detection and retries, the advisory
lock's keys and slots, and which runs a machine may judge by pid."""

from types import SimpleNamespace

import duckdb
import pytest

from anka_assets import warehouse
from anka_assets.dead_runs import HOST_TAG, host_id, runs_this_host_may_judge
from anka_assets.model_lock import lock_application_name, lock_class_id, lock_slots, libpq_url, Holder


def test_targets_choose_the_implementation(tmp_path):
    assert warehouse.parse_target(tmp_path / "w.duckdb") == warehouse.WarehouseSpec("duckdb", str(tmp_path / "w.duckdb"))
    spec = warehouse.parse_target("ducklake:postgres:dbname=l host=db password=s3cret",
                                  environ={"ANKA_WAREHOUSE_DATA_PATH": "s3://bucket/anka"})
    assert spec.is_lake and spec.data_path == "s3://bucket/anka/" and spec.exists()
    assert "s3cret" not in spec.describe() and "password=***" in spec.describe()
    with pytest.raises(warehouse.WarehouseConfigError, match="only a PostgreSQL catalog"):
        warehouse.parse_target("ducklake:sqlite:x.db", environ={"ANKA_WAREHOUSE_DATA_PATH": "/d"})
    assert warehouse.warehouse_target() != ""  # the DuckDB file when ANKA_WAREHOUSE is unset


def test_conflicts_are_retried_and_other_errors_are_not():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise duckdb.TransactionException("TransactionContext Error: Transaction conflict: cannot commit")
        return "ok"

    assert warehouse.retry_conflicts(flaky, sleep=lambda s: None) == "ok" and len(calls) == 3
    with pytest.raises(duckdb.CatalogException):
        warehouse.retry_conflicts(lambda: (_ for _ in ()).throw(duckdb.CatalogException("no table")),
                                  sleep=lambda s: None)
    always = lambda: (_ for _ in ()).throw(duckdb.TransactionException("Transaction conflict"))  # noqa: E731
    with pytest.raises(duckdb.TransactionException):
        warehouse.retry_conflicts(always, retries=2, sleep=lambda s: None)


def test_a_transaction_is_all_or_nothing(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create table t (d varchar, i int)")
    con.execute("insert into t values ('a', 1)")

    def half(c):
        c.execute("delete from t where d = 'a'")
        c.execute("insert into t values ('a', 2)")
        raise RuntimeError("died mid-partition")

    with pytest.raises(RuntimeError):
        warehouse.transaction(con, half)
    assert con.execute("select * from t").fetchall() == [("a", 1)]


def test_lock_keys_slots_and_names():
    assert lock_class_id("teacher") == lock_class_id("teacher") != lock_class_id("judge")
    assert -(2**31) <= lock_class_id("teacher") < 2**31
    assert lock_slots("teacher", {}) == 1 and lock_slots("teacher", {"ANKA_TEACHER_LOCK_SLOTS": "4"}) == 4
    with pytest.raises(ValueError, match="ANKA_JUDGE_LOCK_SLOTS='0'"):
        lock_slots("judge", {"ANKA_JUDGE_LOCK_SLOTS": "0"})
    assert libpq_url("postgresql+psycopg2://a@h:5/d") == "postgresql://a@h:5/d"
    assert libpq_url("postgresql://a@h:5/d") == "postgresql://a@h:5/d"
    name = lock_application_name("teacher", Holder("0123456789abcdef", 42, "host-1", "raw_cot", "now"))
    assert name.startswith("anka teacher lock: run 01234567 raw_cot pid 42@host-1") and len(name) <= 63


def test_a_shared_instance_sweeps_only_runs_of_this_machine():
    mine = SimpleNamespace(run_id="a", tags={HOST_TAG: host_id()})
    other = SimpleNamespace(run_id="b", tags={HOST_TAG: "elsewhere/12345678"})
    untagged = SimpleNamespace(run_id="c", tags={})
    shared = SimpleNamespace(run_storage=object())  # not SQLite, not in memory: a shared database
    assert runs_this_host_may_judge(shared, [mine, other, untagged]) == [mine]
