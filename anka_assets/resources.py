"""Dagster resources: the warehouse IO manager and where the refinery's files live.

Configuration, one model: every resource is a typed ``ConfigurableResource`` whose values come from the
``ANKA_*`` variables (``settings.SETTINGS``, ``gateway/endpoint.py`` for ``ANKA_<ROLE>_*``) or from a test;
:func:`check_configuration` reads and checks them all when the definitions load. A secret is never shown:
the warehouse target, which may carry a PostgreSQL password, is an ``EnvVar`` when it comes from
``ANKA_WAREHOUSE`` (the UI shows the variable's name, Dagster resolves it in the run), and ``repr``
redacts it otherwise."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from dagster import ConfigurableResource, EnvVar, Failure, InputContext, OutputContext
from dagster._core.storage.db_io_manager import DbIOManager
from dagster._core.definitions.metadata.metadata_set import TableMetadataSet
from dagster._core.errors import DagsterInvalidMetadata
from dagster_duckdb.io_manager import DuckDbClient, _get_cleanup_statement
from dagster_duckdb_polars import DuckDBPolarsIOManager, DuckDBPolarsTypeHandler
from pydantic import Field

from anka_assets import settings
from anka_assets.gateway.store import open_warehouse
from anka_assets.warehouse import WarehouseConfigError, parse_target, redact_conninfo, transaction


class RefineryPaths(ConfigurableResource):
    """Folders and files the assets read and write besides their own tables."""

    seeds_dir: str = Field(description="Folder of curated seed files, one `<domain>.yaml` per partition.")
    reviews_dir: str = Field(description="Folder of expert verdict files, `<domain>.csv`.")
    review_queue_dir: str = Field(description="Where review queues for experts are exported, `<domain>.csv`.")
    warehouse: str = Field(description="Where every table is (also the model cache and audit): the DuckDB file, "
                           "or a DuckLake catalog `ducklake:postgres:<conninfo>` (ANKA_WAREHOUSE).")
    exports_dir: str | None = Field(
        default=None,
        description="Where sft_export writes versioned releases, `<exports_dir>/<release_version>/`; "
        "unset: $ANKA_EXPORTS_DIR, else `exports/` beside the warehouse file.",
    )

    @classmethod
    def from_env(cls) -> "RefineryPaths":
        """From the ``ANKA_*`` variables (checked: :class:`settings.SettingsError` names a bad one)."""
        lake = settings.value("ANKA_WAREHOUSE")
        return cls(
            seeds_dir=str(settings.seeds_dir()),
            reviews_dir=str(settings.reviews_dir()),
            review_queue_dir=str(settings.review_queue_dir()),
            warehouse=EnvVar("ANKA_WAREHOUSE") if lake else str(settings.duckdb_path()),
            exports_dir=str(settings.exports_dir()),
        )

    @property
    def warehouse_target(self) -> str:
        """The warehouse itself, also before Dagster resolved an ``EnvVar`` (at load, in the CLI)."""
        return self.warehouse.get_value() if isinstance(self.warehouse, EnvVar) else self.warehouse

    def __repr_args__(self):
        for name, value in super().__repr_args__():
            yield name, redact_conninfo(value) if name == "warehouse" and isinstance(value, str) else value

    @property
    def seeds_path(self) -> Path:
        return Path(self.seeds_dir)

    @property
    def exports_path(self) -> Path:
        if self.exports_dir:
            return Path(self.exports_dir)
        if "ANKA_EXPORTS_DIR" in os.environ or parse_target(self.warehouse_target).is_lake:
            return settings.exports_dir()
        return Path(self.warehouse_target).parent / "exports"


class WarehouseTypeHandler(DuckDBPolarsTypeHandler):
    """The stock polars handler, with three fixes that matter for partitioned tables:

    - an empty partition is still written (the table is created with its columns), so downstream
      assets read zero rows instead of failing on a missing table;
    - rows are inserted BY NAME, not by position;
    - a column added by a newer version of an asset is added to the existing table (older rows
      read NULL there) instead of failing the insert.
    """

    def handle_output(self, context: OutputContext, table_slice, obj: pl.DataFrame, connection):
        obj_arrow = obj.to_arrow()  # noqa: F841  (referenced by name in the SQL below)
        table = f"{table_slice.schema}.{table_slice.table}"
        connection.execute(f"create schema if not exists {table_slice.schema}")
        connection.execute(f"create table if not exists {table} as select * from obj_arrow limit 0")
        existing = {row[0] for row in connection.execute(f"describe {table}").fetchall()}
        for name, dtype, *_ in connection.execute("describe select * from obj_arrow").fetchall():
            if name not in existing:
                connection.execute(f'alter table {table} add column "{name}" {dtype}')
        connection.execute(f"insert into {table} by name select * from obj_arrow")
        # No row count here: in a multi-domain run it would be the run's total shown on every partition.
        # Each asset reports `dagster/row_count` per domain (metadata.add_domain_metadata).


    def load_input(self, context: InputContext, table_slice, connection) -> pl.DataFrame:
        """Like the stock handler, but a table that was never written is one clear line, not a
        DuckDB catalog error: which asset, which partition(s), and how to build them."""
        if not table_exists(connection, table_slice.schema, table_slice.table):
            raise Failure(description=missing_upstream_message(
                table_slice.table, context.asset_partition_keys if context.has_asset_partitions else []
            ))
        return super().load_input(context, table_slice, connection)


def missing_upstream_message(asset: str, partitions: Sequence[str]) -> str:
    """One line a user can act on: what is missing and the command or UI action that builds it."""
    if partitions:
        which = ", ".join(sorted(partitions))
        domains = " ".join(f"--domain {p}" for p in sorted(partitions)[:3])
        return (
            f"`{asset}` has not been materialized for {which} yet: build it first with "
            f"`anka-refinery build {domains}`, or in the UI open {asset} → Materialize → pick {which}."
        )
    return (
        f"`{asset}` has not been materialized yet: build it first with `anka-refinery build`, "
        f"or in the UI open {asset} → Materialize."
    )


def table_exists(connection, schema: str, table: str) -> bool:
    return bool(connection.execute(
        "select count(*) from information_schema.tables where table_catalog = current_database() "
        "and table_schema = ? and table_name = ?", [schema, table]).fetchone()[0])


class WarehouseClient(DuckDbClient):
    """dagster-duckdb's client, connecting through `store.open_warehouse`: while another process holds
    the file, the step says so in its log (a warning naming the file and the holding process, then a
    countdown) instead of retrying silently, and gives up clearly after `ANKA_WAREHOUSE_LOCK_WAIT_S`."""

    @staticmethod
    def delete_table_slice(context: OutputContext, table_slice, connection) -> None:
        """The stock delete, without relying on a caught error for a missing table: inside a
        transaction any error aborts it."""
        if table_exists(connection, table_slice.schema, table_slice.table):
            connection.execute(_get_cleanup_statement(table_slice))

    @staticmethod
    @contextmanager
    def connect(context, _):
        config = context.resource_config
        log = getattr(context, "log", None)
        conn = open_warehouse(config["database"], log=log,
                              config={"custom_user_agent": "dagster", **config.get("connection_config", {})})
        try:
            yield conn
        finally:
            conn.close()


class WarehouseDbIOManager(DbIOManager):
    """Dagster's DB IO manager, with a partition's write as ONE transaction (delete the partition's rows,
    insert the new ones, commit): a reader in another process sees the old partition or the new one,
    never half of it. On a DuckLake warehouse a commit refused because another worker committed to the
    same table first ("Transaction conflict") runs the whole transaction again."""

    def handle_output(self, context: OutputContext, obj: object) -> None:
        if obj is None:
            return super().handle_output(context, obj)  # Dagster's own error for a None output
        self._check_supported_type(type(obj))
        table_slice = self._get_table_slice(context, context)
        handler = self._resolve_handler(type(obj))
        log = getattr(context, "log", None)
        with self._db_client.connect(context, table_slice) as conn:
            def write(con) -> None:
                self._db_client.ensure_schema_exists(context, table_slice, con)
                self._db_client.delete_table_slice(context, table_slice, con)
                handler.handle_output(context, table_slice, obj, con)

            transaction(conn, write, log=log, what=f"write {table_slice.schema}.{table_slice.table}")
        context.add_output_metadata({"Query": self._db_client.get_select_statement(table_slice)})
        try:
            context.add_output_metadata(dict(TableMetadataSet(table_name=self._db_client.get_table_name(table_slice))))
        except DagsterInvalidMetadata:
            pass


class WarehouseIOManager(DuckDBPolarsIOManager):
    """The refinery's warehouse: every asset table in schema `anka` of the DuckDB file, or of the
    DuckLake catalog (`anka_assets.warehouse`)."""

    @staticmethod
    def type_handlers() -> Sequence[DuckDBPolarsTypeHandler]:
        return [WarehouseTypeHandler()]

    def create_io_manager(self, context) -> DbIOManager:
        return WarehouseDbIOManager(db_client=WarehouseClient(), database=self.database, schema=self.schema_,
                           type_handlers=self.type_handlers(), default_load_type=self.default_load_type(),
                           io_manager_name="WarehouseIOManager")


def warehouse_io_manager(database: str | Path) -> WarehouseIOManager:
    """The IO manager over `database` (an ``EnvVar`` stays one: resolved in the run, never shown)."""
    if not isinstance(database, EnvVar) and not parse_target(database).is_lake:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    return WarehouseIOManager(database=database if isinstance(database, EnvVar) else str(database),
                              schema=settings.SCHEMA)


def check_configuration(paths: RefineryPaths, endpoints: Mapping[str, Any]) -> None:
    """Every setting the code location runs with, read and checked now, when the definitions load: the
    ``ANKA_*`` variables, the warehouse target and each endpoint resource's ``ANKA_<ROLE>_*`` fallbacks
    (an off fallback teacher is skipped). One :class:`settings.SettingsError` names each bad variable;
    no secret is echoed."""
    problems = []
    try:
        settings.validate_environment()
    except settings.SettingsError as exc:
        problems.append(str(exc))
    try:
        parse_target(paths.warehouse_target)
    except WarehouseConfigError as exc:
        problems.append(str(exc))
    for key, endpoint in endpoints.items():
        if getattr(endpoint, "configured", True):
            try:
                endpoint.settings()
            except ValueError as exc:
                problems.append(f"resource {key!r}: {exc}")
    if problems:
        raise settings.SettingsError("the code location cannot load: " + "; ".join(problems))
