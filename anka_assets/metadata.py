"""Small helpers that turn tables and counters into Dagster UI metadata (markdown previews)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import polars as pl


def _cell(value: object, width: int) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = ", ".join(map(str, value))
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def md_table(rows: Iterable[Sequence[object]], header: Sequence[str], width: int = 80) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v, width) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def md_preview(df: pl.DataFrame, columns: Sequence[str], n: int = 10, width: int = 80) -> str:
    if df.is_empty():
        return "_(no rows)_"
    head = df.select([c for c in columns if c in df.columns]).head(n)
    return md_table(head.rows(), head.columns, width)


def md_counts(counts: Mapping[str, int | float], key: str = "value", value: str = "count") -> str:
    return md_table(sorted(counts.items(), key=lambda kv: str(kv[0])), [key, value])
