"""What `anka-refinery build` tells a person at the end: per domain, what was made and what it cost.

Pure reads of the warehouse (the asset tables and the gateway's audit), formatted to fit a 100-column
terminal. Nothing here changes a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from anka_assets.warehouse import parse_target
from anka_assets.gateway.store import open_warehouse


@dataclass(frozen=True)
class DomainSummary:
    domain: str
    tasks: int
    ok_rows: int
    blocked: int
    failed: int
    passed: int
    judged: int
    calls_made: int
    calls_cached: int
    tokens: int
    cost: float
    stale: bool = False  #: this domain's run failed: its tables are what an earlier run left
    #: answers that ran to max_tokens (finish_reason=length), in `raw_cot` and `judged_cot` ...
    truncated: int = 0
    #: ... of the rows a model answered there
    answered: int = 0

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.judged if self.judged else None

    @property
    def truncated_share(self) -> float | None:
        return self.truncated / self.answered if self.answered else None


CROSS_DOMAIN = "cross-domain"


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'anka'").fetchall()}


def _calls(con, where: str, params: Sequence) -> tuple[int, int, int, float]:
    made, cached, tokens, cost = con.execute(
        f"""select count(*) filter (where decision = 'sent'),
                   count(*) filter (where decision = 'cache_hit'),
                   coalesce(sum(prompt_tokens + completion_tokens) filter (where decision = 'sent'), 0),
                   coalesce(sum(cost) filter (where decision = 'sent'), 0)
            from anka.model_audit where {where}""", list(params)).fetchone()
    return int(made), int(cached), int(tokens), float(cost)


def summarize(warehouse: str | Path, domains: Sequence[str], run_ids: Sequence[str],
              stale: Sequence[str] = (), log=None) -> list[DomainSummary]:
    """Figures per domain from the warehouse, model calls counted for the given runs only, and a
    `cross-domain` row for the calls of the stages over every domain (the evaluation's judge) when
    there were any. `stale`: domains whose run failed (their figures were not refreshed)."""
    if not parse_target(warehouse).exists():
        return []
    with open_warehouse(warehouse, read_only=True, log=log) as con:
        have = _tables(con)

        def columns(table: str) -> set[str]:
            return {r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_schema = 'anka' and table_name = ?",
                [table]).fetchall()} if table in have else set()

        def count(table: str, where: str, domain: str) -> int:
            if table not in have:
                return 0
            return int(con.execute(f"select count(*) from anka.{table} where domain = ? and {where}",
                                   [domain]).fetchone()[0])

        # Truncation is counted where the tables have its column (warehouses older than it do not).
        trunc_sql = [(t, flag, answered) for t, flag, answered in (
            ("raw_cot", "truncated", "status in ('ok', 'parse_error') or truncated"),
            ("judged_cot", "judge_truncated", "judge_status in ('ok', 'judge_error') or judge_truncated"),
        ) if flag in columns(t)]

        marks = ",".join("?" for _ in run_ids)
        out = []
        for d in domains:
            made = cached = tokens = 0
            cost = 0.0
            if "model_audit" in have and run_ids:
                made, cached, tokens, cost = _calls(con, f"partition = ? and run_id in ({marks})", [d, *run_ids])
            out.append(DomainSummary(
                domain=d, tasks=count("seed_tasks", "true", d), ok_rows=count("raw_cot", "status = 'ok'", d),
                blocked=count("raw_cot", "status = 'blocked_kvkk'", d),
                failed=count("raw_cot", "status = 'failed'", d),
                passed=count("judged_cot", "passed", d), judged=count("judged_cot", "true", d),
                calls_made=made, calls_cached=cached, tokens=tokens, cost=cost, stale=d in stale,
                truncated=sum(count(t, flag, d) for t, flag, _ in trunc_sql),
                answered=sum(count(t, answered, d) for t, _, answered in trunc_sql),
            ))
        if "model_audit" in have and run_ids:
            made, cached, tokens, cost = _calls(con, f"partition is null and run_id in ({marks})", run_ids)
            if made or cached:
                out.append(DomainSummary(CROSS_DOMAIN, 0, 0, 0, 0, 0, 0, made, cached, tokens, cost))
        return out


HEADER = ("domain", "tasks", "ok rows", "pass rate", "blocked", "failed", "trunc", "calls", "cached", "tokens", "cost")


def format_table(rows: Sequence[DomainSummary]) -> str:
    """A plain-text table, at most 100 columns wide."""
    cells = [HEADER] + [
        _cells(r) for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if any(r.stale for r in rows):
        lines.append("* run failed: figures are from the last successful build, not refreshed")
    return "\n".join(line[:100] for line in lines)


def _cells(r: DomainSummary) -> tuple[str, ...]:
    calls = (str(r.calls_made), str(r.calls_cached), f"{r.tokens:,}", f"{r.cost:.4f}")
    if r.domain == CROSS_DOMAIN:
        return (r.domain, "", "", "", "", "", "", *calls)
    name = (r.domain[:13] + "*") if r.stale else r.domain[:14]
    return (name, str(r.tasks), str(r.ok_rows), "—" if r.pass_rate is None else f"{r.pass_rate:.0%}",
            str(r.blocked), str(r.failed), "—" if r.truncated_share is None else f"{r.truncated_share:.0%}", *calls)
