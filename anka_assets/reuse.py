"""When the cross-domain stages (release, adapter, evaluation) need not run again.

Their inputs are the domain tables they read (every domain), the code that makes them and the
`ANKA_*` settings. The fingerprint is a SHA-256 over each input table's row count and an
order-independent hash of its rows (volatile columns — timestamps, latencies — left out), the package's
source and those settings. `anka-refinery build` tags each `cross_domain_build` run with it and skips
the next one when the last run of that job succeeded with the same fingerprint and its release and
adapter folders are still on disk.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from anka_assets.warehouse import parse_target
from anka_assets.gateway.store import open_warehouse
from anka_assets.settings import SCHEMA

FINGERPRINT_TAG = "anka/inputs_fingerprint"
#: Columns (by name ending) that differ between a run that called the model and one served from the cache,
#: or between two identical rebuilds: how a row was obtained, not what it holds.
VOLATILE = ("latency_s", "ttfb_s", "cached", "attempts", "cost", "prompt_tokens", "completion_tokens", "served_by",
            "_at", "run_id")
#: Settings that do not change what the stages make.
IGNORED_SETTINGS = ("ANKA_PROGRESS_EVERY_S", "ANKA_LOCK_REPORT_EVERY_S", "ANKA_WAREHOUSE_LOCK_WAIT_S")


def table_digest(con, table: str) -> str:
    """Row count and an order-independent hash of the rows' stable columns ('absent' for no table)."""
    columns = con.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [SCHEMA, table]).fetchall()
    stable = [name for name, typ in columns if not name.endswith(VOLATILE) and "TIMESTAMP" not in typ.upper()]
    if not stable:
        return "absent"
    row = "struct_pack(" + ", ".join(f'"{c}" := "{c}"' for c in stable) + ")"
    count, total, mixed = con.execute(
        f"select count(*), coalesce(sum(hash({row})::hugeint), 0), coalesce(bit_xor(hash({row})), 0) "
        f"from {SCHEMA}.{table}").fetchone()
    return f"{','.join(stable)}|{count}|{total}|{mixed}"


def code_digest(package_dir: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(package_dir.rglob("*")):
        if path.suffix in {".py", ".jinja2"} and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(package_dir)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def settings_digest(environ: Mapping[str, str]) -> str:
    items = sorted((k, v) for k, v in environ.items()
                   if k.startswith("ANKA_") and not k.endswith("API_KEY") and k not in IGNORED_SETTINGS)
    return hashlib.sha256(repr(items).encode()).hexdigest()


def inputs_fingerprint(warehouse: str | Path, tables: Iterable[str], package_dir: Path,
                       environ: Mapping[str, str] | None = None, log=None) -> str | None:
    """The fingerprint of what the cross-domain stages would read now; None without a warehouse."""
    if not parse_target(warehouse).exists():
        return None
    with open_warehouse(warehouse, read_only=True, log=log) as con:
        have = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [SCHEMA]).fetchall()}
        parts = [f"{t}={table_digest(con, t) if t in have else 'absent'}" for t in sorted(set(tables))]
    parts.append(f"code={code_digest(package_dir)}")
    parts.append(f"settings={settings_digest(os.environ if environ is None else environ)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
