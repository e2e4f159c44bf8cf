"""Every process-wide ``ANKA_*`` setting in one typed table: its variable, type, default, rule and meaning.

The code location checks them all when it loads (:func:`validate_environment`, called by
``build_definitions``): a bad value is one error naming the variable and its allowed values, at import
of ``anka_assets.definitions``, not in the middle of a run. A blank variable is unset (its default).
A secret setting's value is never echoed in an error.

Per-endpoint settings (``ANKA_<ROLE>_*`` for teacher, judge, teacher_fallback) are typed in
``gateway/endpoint.py`` (``EndpointSettings``) and checked at load the same way; the run settings of
each asset (temperature, thresholds, ...) are its Dagster ``Config`` and are recorded with the rows
they produce (``provenance.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: DuckDB schema that holds every asset and support table.
SCHEMA = "anka"

Env = Mapping[str, str]


class SettingsError(ValueError):
    """An ``ANKA_*`` variable holds a value the refinery cannot use; the message names it."""


@dataclass(frozen=True)
class Setting:
    """One environment variable: how its text becomes a value, and its default when unset."""

    variable: str
    kind: Callable[[str], Any]
    default: Callable[[Env], Any]
    meaning: str
    rule: str = "any text"
    ok: Callable[[Any], bool] = lambda value: True
    secret: bool = False

    def read(self, env: Env) -> Any:
        raw = env.get(self.variable)
        if raw is None or raw.strip() == "":
            return self.default(env)
        try:
            value = self.kind(raw.strip())
        except ValueError:
            value = None
        if value is None or value != value or not self.ok(value):  # value != value: NaN
            shown = "<hidden>" if self.secret else repr(raw)
            raise SettingsError(f"{self.variable}={shown} is not valid; allowed values: {self.rule}") from None
        return value


def _under_data(name: str) -> Callable[[Env], Path]:
    return lambda env: value("ANKA_DATA_DIR", env) / name


def _non_negative(value: float) -> bool:
    return 0 <= value < float("inf")


_SETTINGS = (
    Setting("ANKA_DATA_DIR", Path, lambda env: PROJECT_ROOT / "data", "root of the default folders below"),
    Setting("ANKA_DUCKDB_PATH", Path, _under_data("warehouse.duckdb"),
            "the embedded DuckDB warehouse file (when ANKA_WAREHOUSE is unset)"),
    Setting("ANKA_SEEDS_DIR", Path, _under_data("seeds"), "seed files, one `<domain>.yaml` per partition"),
    Setting("ANKA_REVIEWS_DIR", Path, _under_data("reviews"), "expert verdict files `<domain>.csv`"),
    Setting("ANKA_REVIEW_QUEUE_DIR", Path, _under_data("review_queue"), "review queues exported for experts"),
    Setting("ANKA_EXPORTS_DIR", Path, _under_data("exports"), "sft_export's releases `<release_version>/`"),
    Setting("ANKA_ADAPTERS_DIR", Path, _under_data("adapters"), "LoRA adapters, one folder per version"),
    Setting("ANKA_PROMPTS_DIR", Path, lambda env: None, "folder of prompt template overrides (unset: built-in)"),
    Setting("ANKA_WAREHOUSE", str, lambda env: "", "a DuckLake catalog `ducklake:postgres:<conninfo>` "
            "or another DuckDB file (unset: ANKA_DUCKDB_PATH)", "a DuckDB file path, or ducklake:postgres:<libpq conninfo>",
            lambda v: not v.startswith("ducklake:") or v.startswith("ducklake:postgres:"), secret=True),
    Setting("ANKA_WAREHOUSE_DATA_PATH", str, lambda env: "", "the DuckLake's Parquet folder or s3:// URL"),
    Setting("ANKA_WAREHOUSE_LOCK_WAIT_S", float, lambda env: 300.0,
            "seconds a step waits for another process holding the DuckDB file", "a number of seconds >= 0",
            _non_negative),
    Setting("ANKA_WAREHOUSE_CONFLICT_RETRIES", int, lambda env: 30,
            "times a DuckLake transaction is run again after a commit conflict", "an integer >= 0", _non_negative),
    Setting("ANKA_PROGRESS_EVERY_S", float, lambda env: 10.0, "seconds between progress lines in a run's log",
            "a number of seconds >= 0", _non_negative),
    Setting("ANKA_LOCK_REPORT_EVERY_S", float, lambda env: 30.0,
            "seconds between 'waiting for the model lock' lines", "a number of seconds >= 0", _non_negative),
)

#: Every process-wide setting by variable name.
SETTINGS: dict[str, Setting] = {s.variable: s for s in _SETTINGS}


def value(variable: str, environ: Env | None = None) -> Any:
    """The typed value of one setting (its default when unset); :class:`SettingsError` when invalid."""
    return SETTINGS[variable].read(os.environ if environ is None else environ)


def validate_environment(environ: Env | None = None) -> None:
    """Read every setting; one :class:`SettingsError` listing each invalid variable."""
    env = os.environ if environ is None else environ
    problems = []
    for setting in _SETTINGS:
        try:
            setting.read(env)
        except SettingsError as exc:
            problems.append(str(exc))
    if problems:
        raise SettingsError("; ".join(problems))


def data_dir() -> Path:
    return value("ANKA_DATA_DIR")


def duckdb_path() -> Path:
    """The one warehouse file. Not named after its schema (DuckDB would find the name ambiguous)."""
    return value("ANKA_DUCKDB_PATH")


def seeds_dir() -> Path:
    return value("ANKA_SEEDS_DIR")


def reviews_dir() -> Path:
    return value("ANKA_REVIEWS_DIR")


def review_queue_dir() -> Path:
    return value("ANKA_REVIEW_QUEUE_DIR")


def exports_dir() -> Path:
    """Where `sft_export` writes its versioned releases, `<exports_dir>/<release_version>/`."""
    return value("ANKA_EXPORTS_DIR")


def adapters_dir() -> Path:
    """LoRA adapters, one folder per version, and the offline toy base models under `base/`."""
    return value("ANKA_ADAPTERS_DIR")
