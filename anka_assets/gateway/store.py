"""DuckDB side of the gateway: the response cache, the audit log and the learned windows (I/O).

One warehouse file is shared with Dagster's DuckDB IO manager and with other processes, so the gateway
holds a connection only for the duration of one ``run`` call, retries opening while another process holds
the file lock, and writes in autocommit-sized transactions: one per response, as it arrives.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Callable
from typing import Any, Iterable, Sequence

import duckdb

from anka_assets import settings, warehouse
from anka_assets.settings import SCHEMA

__all__ = [
    "CACHE_TABLE",
    "AUDIT_TABLE",
    "AUDIT_COLUMNS",
    "CACHE_COLUMNS",
    "CachedResponse",
    "AuditRow",
    "utcnow",
    "open_warehouse",
    "ensure_tables",
    "lookup_cache",
    "insert_audit_rows",
    "record_outcomes",
    "WINDOW_TABLE",
    "WINDOW_COLUMNS",
    "replica_key",
    "load_windows",
    "save_windows",
]

CACHE_TABLE = f"{SCHEMA}.model_cache"
AUDIT_TABLE = f"{SCHEMA}.model_audit"

#: Audit columns in table order, with the DuckDB type used to bulk-insert them.
AUDIT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("audit_id", "VARCHAR"),
    ("ts", "TIMESTAMP"),
    ("run_id", "VARCHAR"),
    ("asset", "VARCHAR"),
    ("partition", "VARCHAR"),
    ("seed_id", "VARCHAR"),
    ("role", "VARCHAR"),
    ("endpoint", "VARCHAR"),
    ("model", "VARCHAR"),
    ("backend", "VARCHAR"),
    ("locality", "VARCHAR"),
    ("sensitivity", "VARCHAR"),
    ("decision", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("payload_sha256", "VARCHAR"),
    ("cache_key", "VARCHAR"),
    ("status", "VARCHAR"),
    ("attempts", "INTEGER"),
    ("prompt_tokens", "BIGINT"),
    ("completion_tokens", "BIGINT"),
    ("latency_s", "DOUBLE"),
    ("cost", "DOUBLE"),
    ("error", "VARCHAR"),
    ("finish_reason", "VARCHAR"),
    ("truncated", "BOOLEAN"),
    ("completed_at", "TIMESTAMP"),
    ("pii_kinds", "VARCHAR"),
)

#: Cache columns in table order. These two lists are the only declaration of the gateway's tables:
#: the DDL, the bulk inserts and the outcome updates are generated from them.
CACHE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "VARCHAR"),
    ("text", "VARCHAR"),
    ("finish_reason", "VARCHAR"),
    ("model", "VARCHAR"),
    ("prompt_tokens", "BIGINT"),
    ("completion_tokens", "BIGINT"),
    ("latency_s", "DOUBLE"),
    ("cost", "DOUBLE"),
    ("created_at", "TIMESTAMP"),
)


WINDOW_TABLE = f"{SCHEMA}.gateway_windows"

#: The adaptive concurrency window each server ended its last run with, per (model, replica URL
#: without credentials): the next run, in this process or another, starts from it instead of from half
#: the maximum.
WINDOW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("replica", "VARCHAR"),
    ("model", "VARCHAR"),
    ("url", "VARCHAR"),
    ("window", "INTEGER"),
    ("max_concurrency", "INTEGER"),
    ("smoothed_latency_s", "DOUBLE"),
    ("updated_at", "TIMESTAMP"),
)

_PRIMARY_KEYS = {CACHE_TABLE: "key", AUDIT_TABLE: "audit_id", WINDOW_TABLE: "replica"}
_TABLES = {CACHE_TABLE: CACHE_COLUMNS, AUDIT_TABLE: AUDIT_COLUMNS, WINDOW_TABLE: WINDOW_COLUMNS}


def table_ddl(table: str, columns: Sequence[tuple[str, str]], *, keys: bool = True) -> str:
    """CREATE TABLE from a column list. ``keys``: declare the primary key (a DuckDB file; DuckLake has
    none, and every write here is a MERGE on the key, so the key holds either way)."""
    key = _PRIMARY_KEYS[table] if keys else None
    body = ", ".join(f'"{n}" {t}' + (" PRIMARY KEY" if n == key else "") for n, t in columns)
    return f"CREATE TABLE IF NOT EXISTS {table} ({body})"


def utcnow() -> datetime:
    """Naive UTC timestamp (DuckDB TIMESTAMP columns hold UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class CachedResponse:
    key: str
    text: str
    finish_reason: str | None
    model: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cost: float


@dataclass
class AuditRow:
    audit_id: str
    ts: datetime
    run_id: str | None
    asset: str
    partition: str | None
    seed_id: str | None
    role: str
    endpoint: str
    model: str
    backend: str
    locality: str
    sensitivity: str
    decision: str  # sent | cache_hit | blocked
    reason: str
    payload_sha256: str
    cache_key: str
    status: str  # pending | ok | blocked_kvkk | failed
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost: float = 0.0
    error: str | None = None
    completed_at: datetime | None = None
    #: kinds the KVKK egress scan found in the request, comma-separated (None: none found)
    pii_kinds: str | None = None
    #: why the answer ended (``stop``, ``length``...); None without an answer
    finish_reason: str | None = None
    #: the answer ran to ``max_tokens`` (``finish_reason=length``); None without an answer
    truncated: bool | None = None

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name, _ in AUDIT_COLUMNS)


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflict" in text or "could not set lock" in text or "held" in text)


_HOLDER = re.compile(r"lock is held in (?P<exe>.+?) \(PID (?P<pid>\d+)\)", re.IGNORECASE)


def lock_holder(message: str) -> str | None:
    """The process DuckDB names as holding a file's lock ("PID 1234 (/usr/bin/python3)"), if it says."""
    match = _HOLDER.search(message)
    return f"PID {match['pid']} ({match['exe']})" if match else None


class WarehouseLockedError(RuntimeError):
    """The warehouse file stayed locked by another process for longer than the configured wait."""


class WarehouseUnavailableError(RuntimeError):
    """A DuckLake warehouse whose catalog (PostgreSQL) cannot be reached or attached."""


def lock_wait_s() -> float:
    """How long a step waits for another process to release the warehouse file (`ANKA_WAREHOUSE_LOCK_WAIT_S`)."""
    return settings.value("ANKA_WAREHOUSE_LOCK_WAIT_S")


#: How often a waiting process says again that it waits, with the time left.
LOCK_REPORT_EVERY_S = 10.0


def open_warehouse(
    db_path: str | os.PathLike, *, timeout_s: float | None = None, log: Any = None, read_only: bool = False,
    clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
    config: dict | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect, waiting while another process holds the file's lock: at once a WARNING naming the file
    and, where DuckDB says, the process holding it; then a countdown every 10 s; after `timeout_s`
    (default `ANKA_WAREHOUSE_LOCK_WAIT_S`, 300 s) a :class:`WarehouseLockedError` saying what to do.
    Nothing is written before the connection is had, so waiting or giving up loses nothing.

    `db_path` may also be a DuckLake target (``ducklake:postgres:...``, see `anka_assets.warehouse`):
    then there is no file lock to wait for; an unreachable catalog is a :class:`WarehouseUnavailableError`."""
    spec = warehouse.parse_target(db_path)
    if spec.is_lake:
        try:
            return warehouse.connect(spec.location, read_only=read_only, config=config)
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WarehouseUnavailableError(
                f"warehouse {spec.describe()} cannot be opened: {first[:300]}. Check that its PostgreSQL "
                f"catalog is up and ANKA_WAREHOUSE is right, then build again.") from None
    path = Path(db_path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    timeout_s = lock_wait_s() if timeout_s is None else timeout_s
    start = clock()
    delay, next_report = 0.05, 0.0
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config or {})
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not _is_lock_conflict(exc):
                raise
            waited = clock() - start
            holder = lock_holder(str(exc)) or "another process"
            if waited + delay > timeout_s:
                raise WarehouseLockedError(
                    f"warehouse {path} is locked by {holder}: gave up after {waited:.0f} s "
                    f"(ANKA_WAREHOUSE_LOCK_WAIT_S={timeout_s:g}); nothing was written. Let that process finish "
                    f"or stop it, then build again.") from None
            if log is not None and waited >= next_report:
                log.warning(f"warehouse {path} is locked by {holder}: waiting, {timeout_s - waited:.0f} s left "
                            f"(ANKA_WAREHOUSE_LOCK_WAIT_S)")
                next_report = waited + LOCK_REPORT_EVERY_S
            sleep(delay)
            delay = min(delay * 2, 1.0)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the gateway's tables, and add the columns a newer version declares to older warehouses."""
    keys = not warehouse.is_lake_connection(con)
    warehouse.retry_conflicts(lambda: con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"), what="create schema")
    for table, columns in _TABLES.items():
        warehouse.retry_conflicts(lambda: con.execute(table_ddl(table, columns, keys=keys)), what=f"create {table}")
        have = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
        for name, typ in columns:
            if name not in have:
                warehouse.retry_conflicts(
                    lambda: con.execute(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{name}" {typ}'),
                    what=f"alter {table}")


def replica_key(model: str, url: str) -> str:
    return f"{model} @ {url}"


def load_windows(con: duckdb.DuckDBPyConnection, replicas: Iterable[str], *, max_age_s: float) -> dict[str, int]:
    """The windows stored for these replicas, if written within ``max_age_s`` (older ones are not trusted)."""
    wanted = sorted(set(replicas))
    if not wanted:
        return {}
    rows = con.execute(
        f"""SELECT replica, "window", updated_at FROM {WINDOW_TABLE}
            WHERE replica IN (SELECT unnest($1::VARCHAR[]))""",
        [wanted],
    ).fetchall()
    now = utcnow()
    return {r[0]: int(r[1]) for r in rows if r[1] and (now - r[2]).total_seconds() <= max_age_s}


def upsert_sql(table: str, columns: Sequence[tuple[str, str]], key: str, source: str,
               *, update: bool = True) -> str:
    """``MERGE INTO`` ``table`` from ``source`` (a SELECT naming every column) on ``key``: the upsert both
    warehouses run (DuckLake has no keys for INSERT OR REPLACE / ON CONFLICT). ``update=False``:
    insert missing keys only."""
    names = [n for n, _ in columns]
    sql = f"MERGE INTO {table} AS t USING ({source}) AS s ON t.\"{key}\" = s.\"{key}\" "
    if update:
        sets = ", ".join(f'"{n}" = s."{n}"' for n in names if n != key)
        sql += f"WHEN MATCHED THEN UPDATE SET {sets} "
    cols = ", ".join(f'"{n}"' for n in names)
    vals = ", ".join(f's."{n}"' for n in names)
    return sql + f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({vals})"


def _values_select(columns: Sequence[tuple[str, str]]) -> str:
    """``SELECT ?::T AS "c", ...``: one row of parameters, typed and named."""
    return "SELECT " + ", ".join(f'?::{t} AS "{n}"' for n, t in columns)


def _unnest_select(columns: Sequence[tuple[str, str]], first: int = 1) -> str:
    """``SELECT unnest($1::T[]) AS "c", ...``: many rows, one list parameter per column."""
    return "SELECT " + ", ".join(f'unnest(${i + first}::{t}[]) AS "{n}"' for i, (n, t) in enumerate(columns))


def save_windows(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[str, str, str, int, int, float | None]]) -> None:
    """Upsert ``(replica, model, url, window, max_concurrency, smoothed_latency_s)`` rows."""
    if not rows:
        return
    now = utcnow()
    sql = upsert_sql(WINDOW_TABLE, WINDOW_COLUMNS, "replica", _unnest_select(WINDOW_COLUMNS))
    params = [list(c) for c in zip(*[[*r, now] for r in rows])]
    warehouse.retry_conflicts(lambda: con.execute(sql, params), what="save windows")


def lookup_cache(con: duckdb.DuckDBPyConnection, keys: Iterable[str]) -> dict[str, CachedResponse]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = con.execute(
        f"""SELECT "key", "text", finish_reason, model, prompt_tokens, completion_tokens, latency_s, cost
            FROM {CACHE_TABLE} WHERE "key" IN (SELECT unnest($1::VARCHAR[]))""",
        [wanted],
    ).fetchall()
    return {
        r[0]: CachedResponse(r[0], r[1], r[2], r[3], int(r[4] or 0), int(r[5] or 0), float(r[6] or 0.0), float(r[7] or 0.0))
        for r in rows
    }


def insert_audit_rows(con: duckdb.DuckDBPyConnection, rows: Sequence[AuditRow]) -> None:
    """Append many audit rows in one statement (column-wise, via unnest: fast for thousands)."""
    if not rows:
        return
    columns = list(zip(*(row.values() for row in rows)))
    select = ", ".join(f"unnest(${i + 1}::{typ}[])" for i, (_, typ) in enumerate(AUDIT_COLUMNS))
    names = ", ".join(f'"{name}"' for name, _ in AUDIT_COLUMNS)
    params = [list(c) for c in columns]
    warehouse.retry_conflicts(lambda: con.execute(f"INSERT INTO {AUDIT_TABLE} ({names}) SELECT {select}", params),
                              what="audit")


#: The audit columns filled in when a request completes: `status` to `completed_at`.
_OUTCOME_COLUMNS: tuple[tuple[str, str], ...] = AUDIT_COLUMNS[
    [n for n, _ in AUDIT_COLUMNS].index("status") : [n for n, _ in AUDIT_COLUMNS].index("completed_at") + 1
]

#: One finished request: its audit updates ``(audit_id, outcome columns)`` and, if ok, its cache row.
Outcome = tuple[Sequence[tuple[str, dict[str, Any]]], "CachedResponse | None"]


_SMALL_BATCH = 3  # below this, plain parametrised statements beat the unnest() forms (planning cost)


def record_outcomes(con: duckdb.DuckDBPyConnection, outcomes: Sequence[Outcome], *, lake: bool | None = None) -> None:
    """Write finished requests in ONE transaction: cache rows (ok responses only) and audit outcomes.

    The gateway calls this as responses arrive, with whatever arrived while the previous write ran
    (group commit): one row per response, nothing held back until the end of the batch.
    """
    cache_rows = [c for _, c in outcomes if c is not None]
    updates = [u for ups, _ in outcomes for u in ups]
    if not cache_rows and not updates:
        return
    if lake is None:
        lake = warehouse.is_lake_connection(con)
    if not lake:
        # A DuckDB file: one writer process, the key declared. A plain INSERT is ~3x faster than MERGE.
        try:
            _write(con, cache_rows, updates, mode="insert")
        except duckdb.ConstraintException:
            # A key cached in the meantime (cannot happen while this run holds the file, but never lose the
            # audit outcome over it). ON CONFLICT costs ~2 ms a statement, hence only on this path.
            _write(con, cache_rows, updates, mode="on_conflict")
        return
    # DuckLake: no keys, so MERGE (a key cached meanwhile by another worker keeps its first answer); one
    # transaction, run again when another worker committed to these tables first.
    warehouse.retry_conflicts(lambda: _write(con, cache_rows, updates, mode="merge"), what="record outcomes")


def _write(
    con: duckdb.DuckDBPyConnection,
    cache_rows: Sequence[CachedResponse],
    updates: Sequence[tuple[str, dict[str, Any]]],
    *,
    mode: str,
) -> None:
    now = utcnow()
    names = ", ".join(f'"{n}"' for n, _ in CACHE_COLUMNS)
    conflict = " ON CONFLICT DO NOTHING" if mode == "on_conflict" else ""
    con.execute("BEGIN TRANSACTION")
    try:
        values = [
            (c.key, c.text, c.finish_reason, c.model, c.prompt_tokens, c.completion_tokens, c.latency_s, c.cost, now)
            for c in cache_rows
        ]
        if 0 < len(values) < _SMALL_BATCH:
            if mode == "merge":
                sql = upsert_sql(CACHE_TABLE, CACHE_COLUMNS, "key", _values_select(CACHE_COLUMNS), update=False)
            else:
                sql = f"INSERT INTO {CACHE_TABLE} ({names}) VALUES ({', '.join('?' for _ in CACHE_COLUMNS)}){conflict}"
            for row in values:
                con.execute(sql, list(row))
        elif values:
            if mode == "merge":
                sql = upsert_sql(CACHE_TABLE, CACHE_COLUMNS, "key", _unnest_select(CACHE_COLUMNS), update=False)
            else:
                sql = f"INSERT INTO {CACHE_TABLE} ({names}) {_unnest_select(CACHE_COLUMNS)}{conflict}"
            con.execute(sql, [list(c) for c in zip(*values)])

        if 0 < len(updates) < _SMALL_BATCH:
            sets = ", ".join(f'"{n}" = ?' for n, _ in _OUTCOME_COLUMNS)
            for audit_id, outcome in updates:
                con.execute(
                    f"UPDATE {AUDIT_TABLE} SET {sets} WHERE audit_id = ?",
                    [*(outcome.get(n) for n, _ in _OUTCOME_COLUMNS), audit_id],
                )
        elif updates:
            cols = [[audit_id for audit_id, _ in updates]]
            cols += [[outcome.get(name) for _, outcome in updates] for name, _ in _OUTCOME_COLUMNS]
            select = ", ".join(
                ["unnest($1::VARCHAR[]) AS audit_id"]
                + [f'unnest(${i + 2}::{t}[]) AS "{n}"' for i, (n, t) in enumerate(_OUTCOME_COLUMNS)]
            )
            sets = ", ".join(f'"{n}" = u."{n}"' for n, _ in _OUTCOME_COLUMNS)
            con.execute(
                f"UPDATE {AUDIT_TABLE} AS a SET {sets} FROM (SELECT {select}) AS u WHERE a.audit_id = u.audit_id",
                cols,
            )
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # a failed COMMIT has already ended the transaction
        raise
