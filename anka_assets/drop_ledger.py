"""The rows `sft_dataset` dropped per domain and reason, stored in `anka.sft_drops` (counts, never content).

`sft_dataset`'s own table holds only the rows it kept; the release's funnel also needs what it dropped
(held out for eval, not the best sample, personal data, duplicates). Each materialization replaces its
domain's ledger rows, with a digest of the kept rows' ids: `sft_export` uses a domain's counts only when
that digest matches the `sft_dataset` rows it reads, so the funnel never mixes two builds.
Written straight to the warehouse (through `store.open_warehouse`), like the adapter registry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

from anka_assets import settings, warehouse as wh
from anka_assets.gateway.store import open_warehouse

TABLE = f"{settings.SCHEMA}.sft_drops"


def kept_digest(row_ids: Iterable[str]) -> str:
    """A digest of a domain's kept row ids (order does not matter)."""
    return hashlib.sha256("\n".join(sorted(row_ids)).encode("utf-8")).hexdigest()[:16]


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    wh.retry_conflicts(lambda: con.execute(f"create schema if not exists {settings.SCHEMA}"), what="create schema")
    wh.retry_conflicts(lambda: con.execute(
        f"create table if not exists {TABLE} (domain VARCHAR, reason VARCHAR, rows BIGINT, "
        "kept_rows BIGINT, kept_digest VARCHAR, recorded_at TIMESTAMP)"), what=f"create {TABLE}")


def record(warehouse: str | Path, domain: str, dropped: Mapping[str, int], kept_row_ids: Iterable[str]) -> None:
    """Replace `domain`'s ledger with these counts (every reason given, zeros included)."""
    ids = list(kept_row_ids)
    digest = kept_digest(ids)
    rows = [[domain, reason, int(n), len(ids), digest] for reason, n in sorted(dropped.items())]

    def replace(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"delete from {TABLE} where domain = ?", [domain])
        if rows:
            con.executemany(f"insert into {TABLE} values (?, ?, ?, ?, ?, now())", rows)

    with open_warehouse(warehouse) as con:
        _ensure(con)
        wh.transaction(con, replace, what=TABLE)


def read(warehouse: str | Path) -> dict[str, tuple[str, dict[str, int]]]:
    """{domain: (kept digest, {reason: rows})}; empty when nothing was recorded yet."""
    with open_warehouse(warehouse) as con:
        _ensure(con)
        rows = con.execute(f"select domain, reason, rows, kept_digest from {TABLE}").fetchall()
    out: dict[str, tuple[str, dict[str, int]]] = {}
    for domain, reason, n, digest in rows:
        out.setdefault(domain, (digest, {}))[1][reason] = int(n)
    return out


def matching(ledger: Mapping[str, tuple[str, dict[str, int]]], domain: str,
             kept_row_ids: Iterable[str]) -> dict[str, int] | None:
    """The domain's drop counts when its ledger describes exactly these kept rows, else None."""
    entry = ledger.get(domain)
    if entry is None or entry[0] != kept_digest(kept_row_ids):
        return None
    return entry[1]
