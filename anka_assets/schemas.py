"""Pandera contracts for every table the refinery writes. One place, so lineage edges share them."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from anka_assets.seed_loader import SENSITIVITIES

SEED_ORIGINS = ("curated", "expanded")


class SeedTasksSchema(pa.DataFrameModel):
    """`seed_tasks`: curated and teacher-expanded Turkish tasks, one row per task and domain."""

    seed_id: str = pa.Field(str_matches=r"^tsk_[0-9a-f]{16}$", unique=True)
    domain: str = pa.Field(str_matches=r"^[a-z0-9_]+$")
    instruction: str = pa.Field(str_length={"min_value": 10, "max_value": 2000})
    sensitivity: str = pa.Field(isin=list(SENSITIVITIES))
    sensitivity_defaulted: bool
    tags: pl.List(pl.Utf8) = pa.Field()
    source: str = pa.Field(nullable=True)
    origin: str = pa.Field(isin=list(SEED_ORIGINS))
    parent_seed_ids: pl.List(pl.Utf8) = pa.Field()
    source_file: str
    source_line: int = pa.Field(ge=0)
    repaired: bool
    content_hash: str = pa.Field(str_matches=r"^[0-9a-f]{64}$")

    class Config:
        strict = True
        coerce = False
