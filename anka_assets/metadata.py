"""Small helpers that turn tables and counters into Dagster UI metadata (markdown previews).

Materialization metadata is shown in the UI and kept in the Dagster instance, outside the warehouse: every
text cell is redacted (typed placeholders such as ``[TCKN]``, egress scan) unless a caller asks for
``redacted=False``. Raw texts stay in the warehouse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import polars as pl

from anka_assets.text.pii import redact


def redact_text(text: str | None) -> str | None:
    """``text`` with personal data replaced by typed placeholders (recall-first egress scan)."""
    return redact(text, mode="egress")[0] if text else text


def _cell(value: object, width: int, redacted: bool = True) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = ", ".join(map(str, value))
    text = str(value)
    if redacted and isinstance(value, str):
        text = redact_text(text) or ""
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def md_table(
    rows: Iterable[Sequence[object]], header: Sequence[str], width: int = 80, redacted: bool = True
) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v, width, redacted) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def md_preview(
    df: pl.DataFrame, columns: Sequence[str], n: int = 10, width: int = 80, redacted: bool = True
) -> str:
    """The first ``n`` rows as a markdown table, personal data redacted unless ``redacted=False``."""
    if df.is_empty():
        return "_(no rows)_"
    head = df.select([c for c in columns if c in df.columns]).head(n)
    return md_table(head.rows(), head.columns, width, redacted)


def md_counts(counts: Mapping[str, int | float], key: str = "value", value: str = "count") -> str:
    return md_table(sorted(counts.items(), key=lambda kv: str(kv[0])), [key, value])


def add_domain_metadata(context, domain: str, metadata: Mapping[str, object]) -> None:
    """Attach one domain's own figures to its partition only.

    A backfill over many domains is one run (one backfill policy for the whole domain graph), and
    metadata given to `Output` lands on every partition of that run; figures that belong to one domain
    go through here instead, so each domain's page shows its own row counts, pass rate and calls."""
    context.add_asset_metadata(dict(metadata), partition_key=domain)


def md_bar_chart(groups: Mapping[str, Mapping[str, int | float]], title: str, alt: str = "chart") -> str:
    """A grouped bar chart (PNG, inlined as a data URI in markdown, which the Dagster UI renders) followed by
    the same numbers as a table, for readers and tests. `groups` maps a series name to {category: value}."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    categories = sorted({c for series in groups.values() for c in series}, key=str)
    fig, ax = plt.subplots(figsize=(5.0, 2.6), dpi=96)
    width = 0.8 / max(1, len(groups))
    for i, (name, series) in enumerate(groups.items()):
        xs = [j + i * width for j in range(len(categories))]
        ax.bar(xs, [series.get(c, 0) for c in categories], width=width, label=name)
    ax.set_xticks([j + width * (len(groups) - 1) / 2 for j in range(len(categories))], [str(c) for c in categories])
    ax.set_title(title, fontsize=10)
    if len(groups) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    rows = [(c, *(groups[name].get(c, 0) for name in groups)) for c in categories]
    return f"![{alt}](data:image/png;base64,{data})\n\n" + md_table(rows, ["", *groups])
