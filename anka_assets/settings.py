"""Where things live on disk. Every path can be overridden from the environment."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: DuckDB schema that holds every asset and support table.
SCHEMA = "anka"


def data_dir() -> Path:
    return Path(os.environ.get("ANKA_DATA_DIR", PROJECT_ROOT / "data"))


def duckdb_path() -> Path:
    """The one warehouse file. Not named after its schema (DuckDB would find the name ambiguous)."""
    return Path(os.environ.get("ANKA_DUCKDB_PATH", data_dir() / "warehouse.duckdb"))


def seeds_dir() -> Path:
    return Path(os.environ.get("ANKA_SEEDS_DIR", data_dir() / "seeds"))


def reviews_dir() -> Path:
    return Path(os.environ.get("ANKA_REVIEWS_DIR", data_dir() / "reviews"))


def review_queue_dir() -> Path:
    return Path(os.environ.get("ANKA_REVIEW_QUEUE_DIR", data_dir() / "review_queue"))


def exports_dir() -> Path:
    """Where `sft_export` writes its versioned releases, `<exports_dir>/<release_version>/`."""
    return Path(os.environ.get("ANKA_EXPORTS_DIR", data_dir() / "exports"))


def adapters_dir() -> Path:
    """LoRA adapters, one folder per version, and the offline toy base models under `base/`."""
    return Path(os.environ.get("ANKA_ADAPTERS_DIR", data_dir() / "adapters"))
