"""Dagster resources: the warehouse IO manager and where the refinery's files live."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from dagster_duckdb_polars import DuckDBPolarsIOManager
from pydantic import Field

from anka_assets import settings


class RefineryPaths(ConfigurableResource):
    """Folders and files the assets read and write besides their own tables."""

    seeds_dir: str = Field(description="Folder of curated seed files, one `<domain>.yaml` per partition.")
    reviews_dir: str = Field(description="Folder of expert verdict files, `<domain>.csv`.")
    review_queue_dir: str = Field(description="Where review queues for experts are exported, `<domain>.csv`.")
    warehouse: str = Field(description="The DuckDB file that holds every table (also the model cache and audit).")

    @classmethod
    def from_env(cls) -> "RefineryPaths":
        return cls(
            seeds_dir=str(settings.seeds_dir()),
            reviews_dir=str(settings.reviews_dir()),
            review_queue_dir=str(settings.review_queue_dir()),
            warehouse=str(settings.duckdb_path()),
        )

    @property
    def seeds_path(self) -> Path:
        return Path(self.seeds_dir)


def warehouse_io_manager(database: str | Path) -> DuckDBPolarsIOManager:
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    return DuckDBPolarsIOManager(database=str(database), schema=settings.SCHEMA)
