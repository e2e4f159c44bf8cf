"""The adapter registry: one row per adapter version in `anka.adapter_registry`, never replaced.

Written straight to the warehouse (like the gateway's cache and audit tables; a DuckDB file or a DuckLake
catalog, through `store.open_warehouse`), because the asset's own table holds only the current adapter
while the registry keeps every one ever trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from anka_assets import settings, warehouse as wh
from anka_assets.gateway.store import open_warehouse

TABLE = f"{settings.SCHEMA}.adapter_registry"

COLUMNS = {
    "version": "VARCHAR",  # the key (PRIMARY KEY in a DuckDB file; DuckLake has none: writes MERGE on it)
    "adapter_dir": "VARCHAR",
    "base_model": "VARCHAR",
    "base_model_path": "VARCHAR",
    "release_version": "VARCHAR",
    "hyperparameters": "JSON",
    "backend": "VARCHAR",
    "steps": "BIGINT",
    "train_loss": "DOUBLE",
    "validation_loss": "DOUBLE",
    "wall_time_s": "DOUBLE",
    "tokens": "BIGINT",
    "tokens_per_s": "DOUBLE",
    "hardware": "VARCHAR",
    "toy": "BOOLEAN",
    "created_at": "TIMESTAMP",
    "last_materialized_at": "TIMESTAMP",
    "materializations": "BIGINT",
}


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    key = "" if wh.is_lake_connection(con) else " PRIMARY KEY"
    cols = ", ".join(f"{name} {kind}" + (key if name == "version" else "") for name, kind in COLUMNS.items())
    wh.retry_conflicts(lambda: con.execute(f"create schema if not exists {settings.SCHEMA}"), what="create schema")
    wh.retry_conflicts(lambda: con.execute(f"create table if not exists {TABLE} ({cols})"), what=f"create {TABLE}")


def register(warehouse: str | Path, row: dict[str, Any]) -> dict[str, Any]:
    """Insert the adapter's row, or, for a version already registered, count one more materialization.
    Returns the stored row."""
    missing = set(COLUMNS) - {"created_at", "last_materialized_at", "materializations"} - set(row)
    if missing:
        raise ValueError(f"adapter registry row lacks {sorted(missing)}")
    with open_warehouse(warehouse) as con:
        _ensure(con)
        names = [n for n in COLUMNS if n in row]
        source = ", ".join(f"?::{COLUMNS[n].split()[0]} AS {n}" for n in names)
        cols = ", ".join([*names, "created_at", "last_materialized_at", "materializations"])
        vals = ", ".join([*(f"s.{n}" for n in names), "now()", "now()", "1"])
        sql = (f"merge into {TABLE} as t using (select {source}) as s on t.version = s.version "
               f"when matched then update set last_materialized_at = now(), "
               f"materializations = t.materializations + 1 "
               f"when not matched then insert ({cols}) values ({vals})")
        params = [row[n] for n in names]
        wh.retry_conflicts(lambda: con.execute(sql, params), what="adapter registry")
        return con.execute(f"select * from {TABLE} where version = ?", [row["version"]]).pl().row(0, named=True)


def read_registry(warehouse: str | Path) -> pl.DataFrame:
    with open_warehouse(warehouse, read_only=True) as con:
        return con.execute(f"select * from {TABLE} order by created_at").pl()
