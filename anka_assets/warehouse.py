"""The warehouse behind one name, with two implementations chosen by configuration.

- ``ANKA_WAREHOUSE`` unset: one embedded DuckDB file (``ANKA_DUCKDB_PATH``, default
  ``data/warehouse.duckdb``). One writer process at a time; `store.open_warehouse` waits for the file.
- ``ANKA_WAREHOUSE=ducklake:postgres:<libpq conninfo>`` with ``ANKA_WAREHOUSE_DATA_PATH=<dir or s3://>``:
  a DuckLake catalog held in PostgreSQL, the data as Parquet files under the data path. Any number of
  processes on any number of machines read and write it at once; every table keeps its name in schema
  ``anka`` (the lake is attached as ``lake`` and made the default catalog with ``USE``).

Both are reached through a plain DuckDB connection, so the SQL is shared. What differs is handled here:
DuckLake has no PRIMARY KEY / UNIQUE (upserts are ``MERGE INTO`` in both), reserves ``row_id`` while data
inlining is on (attached with ``DATA_INLINING_ROW_LIMIT 0``), and rejects one of two concurrent commits
touching the same table with "Transaction conflict" (:func:`retry_conflicts` runs the whole transaction
again with backoff). The extensions come from the pinned ``duckdb-extension-*`` wheels
(``duckdb_extensions.import_extension``): nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from anka_assets import settings

LAKE_PREFIX = "ducklake:"
#: The name the DuckLake catalog is attached under (then made the default with USE).
LAKE_ALIAS = "lake"
#: How many times a transaction is run again after a DuckLake "Transaction conflict".
CONFLICT_RETRIES: int = settings.value("ANKA_WAREHOUSE_CONFLICT_RETRIES")

T = TypeVar("T")


class WarehouseConfigError(ValueError):
    """ANKA_WAREHOUSE / ANKA_WAREHOUSE_DATA_PATH do not describe a warehouse this build can open."""


@dataclass(frozen=True)
class WarehouseSpec:
    """Where the tables are: ``kind`` is ``duckdb`` (a file) or ``ducklake`` (catalog + data path)."""

    kind: str
    location: str  #: the DuckDB file, or the DuckLake catalog (``ducklake:postgres:...``)
    data_path: str | None = None

    @property
    def is_lake(self) -> bool:
        return self.kind == "ducklake"

    def exists(self) -> bool:
        """Whether there may be tables to read (a lake always may: its catalog is a server)."""
        return self.is_lake or Path(self.location).exists()

    def describe(self) -> str:
        """For humans: the file, or the catalog without any password and the data path."""
        if not self.is_lake:
            return self.location
        return f"{redact_conninfo(self.location)} (data {self.data_path})"


def redact_conninfo(text: str) -> str:
    """`text` with every password of a libpq conninfo hidden: ``password=...`` (quoted or not) and the
    ``user:password@`` of a ``postgresql://`` URI."""
    import re

    text = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text, flags=re.IGNORECASE)
    return re.sub(r"(://[^/@:\s]*:)[^@/\s]*@", r"\1***@", text)


def warehouse_target() -> str:
    """What the resources are configured with: ``ANKA_WAREHOUSE`` when set, else the DuckDB file."""
    return settings.value("ANKA_WAREHOUSE") or str(settings.duckdb_path())


def parse_target(target: str | os.PathLike, environ: dict[str, str] | None = None) -> WarehouseSpec:
    """A warehouse target (a DuckDB file path, or ``ducklake:postgres:<conninfo>``) and its data path."""
    env = os.environ if environ is None else environ
    text = str(target)
    if not text.startswith(LAKE_PREFIX):
        return WarehouseSpec("duckdb", text)
    rest = text[len(LAKE_PREFIX):]
    if not rest.startswith("postgres:"):
        raise WarehouseConfigError(
            f"ANKA_WAREHOUSE={redact_conninfo(text)!r}: only a PostgreSQL catalog is supported, "
            "ANKA_WAREHOUSE=ducklake:postgres:<libpq conninfo> (e.g. 'dbname=anka host=db port=5432')")
    data_path = env.get("ANKA_WAREHOUSE_DATA_PATH", "").strip()
    if not data_path:
        raise WarehouseConfigError(
            "ANKA_WAREHOUSE is a DuckLake catalog but ANKA_WAREHOUSE_DATA_PATH is not set: give the directory "
            "(or s3:// URL) every worker reaches, where the tables' Parquet files are written")
    if "://" not in data_path:
        data_path = str(Path(data_path).resolve())
    return WarehouseSpec("ducklake", text, data_path.rstrip("/") + "/")


def load_lake_extensions(con: duckdb.DuckDBPyConnection) -> None:
    """Load DuckLake and the PostgreSQL scanner from the pinned wheels (no download)."""
    try:
        from duckdb_extensions import import_extension
    except ImportError as exc:  # pragma: no cover - a broken install
        raise WarehouseConfigError(
            "a DuckLake warehouse needs the pinned wheels duckdb-extensions, duckdb-extension-ducklake and "
            "duckdb-extension-postgres-scanner (reinstall the project)") from exc
    for name in ("ducklake", "postgres_scanner"):
        import_extension(name, con=con)


def is_conflict(exc: BaseException) -> bool:
    """A commit DuckLake refused because another process committed to the same table first, or the
    race of two first ATTACHes creating the catalog's tables in PostgreSQL."""
    text = str(exc).lower()
    return ("transaction conflict" in text or "conflict" in text and "ducklake" in text
            or "duplicate key value violates unique constraint" in text
            or "could not serialize access" in text)


def retry_conflicts(fn: Callable[[], T], *, retries: int | None = None, log: Any = None, what: str = "commit",
                    sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``fn`` (one whole transaction) again after a conflict, with jittered exponential backoff."""
    retries = CONFLICT_RETRIES if retries is None else retries
    delay = 0.05
    for attempt in range(retries + 1):
        try:
            return fn()
        except duckdb.Error as exc:
            if not is_conflict(exc) or attempt == retries:
                raise
            if log is not None and attempt in (0, 5, 15):
                log.info(f"warehouse {what}: another writer committed first ({str(exc).splitlines()[0][:120]}); "
                         f"retrying (attempt {attempt + 2})")
            sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def attach_lake(con: duckdb.DuckDBPyConnection, spec: WarehouseSpec, *, read_only: bool = False) -> None:
    """ATTACH the DuckLake catalog as ``lake`` and make it the default catalog (``USE lake``)."""
    load_lake_extensions(con)
    options = [f"DATA_PATH {sql_literal(spec.data_path or '')}", "DATA_INLINING_ROW_LIMIT 0"]
    if read_only:
        options.append("READ_ONLY")
    sql = f"ATTACH {sql_literal(spec.location)} AS {LAKE_ALIAS} ({', '.join(options)})"  # ATTACH takes no parameters

    def attach() -> None:
        try:
            con.execute(sql)
        except duckdb.Error:
            try:  # a half-done ATTACH must not stay behind for the retry
                con.execute(f"DETACH DATABASE IF EXISTS {LAKE_ALIAS}")
            except duckdb.Error:
                pass
            raise

    retry_conflicts(attach, what="attach")
    con.execute(f"USE {LAKE_ALIAS}")


def connect(target: str | os.PathLike, *, read_only: bool = False, config: dict | None = None
            ) -> duckdb.DuckDBPyConnection:
    """One connection to the warehouse ``target`` (see :func:`parse_target`). For a DuckDB file this is
    ``duckdb.connect`` (its lock conflicts propagate: `store.open_warehouse` waits on them)."""
    spec = parse_target(target)
    if not spec.is_lake:
        return duckdb.connect(spec.location, read_only=read_only, config=config or {})
    con = duckdb.connect(":memory:", config=config or {})
    try:
        attach_lake(con, spec, read_only=read_only)
    except BaseException:
        con.close()
        raise
    return con


def is_lake_connection(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's default catalog is a DuckLake (no keys, conflicts to retry)."""
    row = con.execute("SELECT type FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return bool(row) and row[0] == "ducklake"


def transaction(con: duckdb.DuckDBPyConnection, body: Callable[[duckdb.DuckDBPyConnection], T], *,
                log: Any = None, what: str = "write") -> T:
    """Run ``body(con)`` inside BEGIN/COMMIT, rolled back on error and run again on a conflict: readers
    see all of it or none of it (a partition's delete and insert, say)."""

    def once() -> T:
        con.execute("BEGIN TRANSACTION")
        try:
            out = body(con)
            con.execute("COMMIT")
            return out
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # a failed COMMIT has already ended the transaction
            raise

    return retry_conflicts(once, log=log, what=what)
