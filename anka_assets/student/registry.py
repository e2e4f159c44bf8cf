"""The adapter registry: one row per adapter version in `anka.adapter_registry`, never replaced.

Written straight to the warehouse file (like the gateway's cache and audit tables), because the
asset's own table holds only the current adapter while the registry keeps every one ever trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from anka_assets import settings

TABLE = f"{settings.SCHEMA}.adapter_registry"

COLUMNS = {
    "version": "VARCHAR PRIMARY KEY",
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
    con.execute(f"create schema if not exists {settings.SCHEMA}")
    cols = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    con.execute(f"create table if not exists {TABLE} ({cols})")


def register(warehouse: str | Path, row: dict[str, Any]) -> dict[str, Any]:
    """Insert the adapter's row, or, for a version already registered, count one more materialization.
    Returns the stored row."""
    missing = set(COLUMNS) - {"created_at", "last_materialized_at", "materializations"} - set(row)
    if missing:
        raise ValueError(f"adapter registry row lacks {sorted(missing)}")
    with duckdb.connect(str(warehouse)) as con:
        _ensure(con)
        names = [n for n in COLUMNS if n in row]
        placeholders = ", ".join("?" for _ in names)
        con.execute(
            f"insert into {TABLE} ({', '.join(names)}, created_at, last_materialized_at, materializations) "
            f"values ({placeholders}, now(), now(), 1) "
            f"on conflict (version) do update set last_materialized_at = now(), "
            f"materializations = {TABLE}.materializations + 1",
            [row[n] for n in names],
        )
        return con.execute(f"select * from {TABLE} where version = ?", [row["version"]]).pl().row(0, named=True)


def read_registry(warehouse: str | Path) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select * from {TABLE} order by created_at").pl()
