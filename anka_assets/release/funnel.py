"""The funnel: seeds → tasks → chains → judged and passed → SFT rows → exported, per domain. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from anka_assets.reasons import JUDGE_REASONS

#: Stages in order, each with the drop reasons counted on the way into the next stage.
FUNNEL_COLUMNS = (
    "seeds", "tasks", "tasks_curated", "tasks_expanded",
    "chains", "chains_ok", "chains_failed",
    "rejected_judge", "rejected_signals", "rejected_personal_data", "passed",
    "held_out_eval", "not_best_sample", "dropped_personal_data", "dropped_duplicates", "sft_rows",
    "export_duplicates", "contaminated", "exported",
)


def reject_category(reasons: Sequence[str]) -> str:
    """The one funnel reason of a rejected chain whose teacher answered: 'judge' (the judge's scores, a
    judge error, an expert's rejection) before 'personal_data' before 'signals' (language, refusal,
    length, steps, repetition, foreign script), so each rejected chain is counted exactly once."""
    if any(r in JUDGE_REASONS or r.startswith("judge_") for r in reasons):  # criteria's reasons: reasons.py
        return "judge"
    if "personal_data" in reasons:
        return "personal_data"
    return "signals"


def funnel_row(*, seeds: int, task_origins: Iterable[str], chain_statuses: Iterable[str],
               judged: Iterable[tuple[str, bool, Sequence[str]]], sft_drops: Mapping[str, int] | None,
               sft_rows: int, export_drops: Mapping[str, int], exported: int) -> dict[str, Any]:
    """One domain's funnel from its stored rows. Pure.

    `judged`: (teacher_status, passed, reject_reasons) per judged_cot row; `sft_drops`: the rows
    `sft_dataset` dropped by reason (`reasons.DROP_REASONS`), None when its ledger does not describe
    the stored rows (then the SFT-stage reasons are None: unknown, never guessed)."""
    origins = Counter(task_origins)
    statuses = Counter(chain_statuses)
    rejected: Counter[str] = Counter()
    passed = 0
    for teacher_status, ok, reasons in judged:
        if teacher_status != "ok":
            continue  # counted as a failed chain
        if ok:
            passed += 1
        else:
            rejected[reject_category(reasons)] += 1
    known = sft_drops is not None
    drops = sft_drops or {}
    return {
        "seeds": seeds, "tasks": sum(origins.values()),
        "tasks_curated": origins.get("curated", 0), "tasks_expanded": origins.get("expanded", 0),
        "chains": sum(statuses.values()), "chains_ok": statuses.get("ok", 0),
        "chains_failed": sum(n for s, n in statuses.items() if s != "ok"),
        "rejected_judge": rejected["judge"], "rejected_signals": rejected["signals"],
        "rejected_personal_data": rejected["personal_data"], "passed": passed,
        "held_out_eval": drops.get("eval_task", 0) if known else None,
        "not_best_sample": drops.get("not_best_sample", 0) if known else None,
        "dropped_personal_data": drops.get("pii_meaningless", 0) if known else None,
        "dropped_duplicates": drops.get("exact_duplicate", 0) + drops.get("near_duplicate", 0) if known else None,
        "sft_rows": sft_rows,
        "export_duplicates": export_drops.get("exact_duplicate", 0) + export_drops.get("near_duplicate", 0),
        "contaminated": export_drops.get("contaminated", 0), "exported": exported,
    }


def funnel_total(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The sum over domains (a column with an unknown value in any domain stays unknown)."""
    return {c: None if any(r[c] is None for r in rows.values()) else sum(r[c] for r in rows.values())
            for c in FUNNEL_COLUMNS}


def funnel_problems(row: Mapping[str, Any]) -> list[str]:
    """Where one funnel row does not add up (empty when every stage is its predecessor minus its drops)."""
    def known(*cols):
        return all(row[c] is not None for c in cols)

    sums = [("tasks", ("tasks_curated", "tasks_expanded")), ("chains", ("chains_ok", "chains_failed")),
            ("chains_ok", ("passed", "rejected_judge", "rejected_signals", "rejected_personal_data")),
            ("passed", ("held_out_eval", "not_best_sample", "dropped_personal_data", "dropped_duplicates", "sft_rows")),
            ("sft_rows", ("export_duplicates", "contaminated", "exported"))]
    return [f"{whole} {row[whole]} != {' + '.join(parts)} ({sum(row[p] for p in parts)})"
            for whole, parts in sums if known(whole, *parts) and row[whole] != sum(row[p] for p in parts)]


def _n(value: Any) -> str:
    return "?" if value is None else str(value)


def funnel_markdown(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """The funnel as a table: one row per domain plus the total, each stage followed by its drops."""
    header = ["domain", "seeds", "tasks (curated+expanded)", "chains (raw_cot ok / failed)",
              "rejected: judge / signals / personal data", "judged and passed",
              "held out for eval / not best sample / personal data / duplicates", "SFT rows",
              "export: duplicates / contaminated", "exported"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for domain, r in [*sorted(rows.items()), ("**all**", funnel_total(rows))]:
        cells = [domain, _n(r["seeds"]), f"{_n(r['tasks'])} ({_n(r['tasks_curated'])}+{_n(r['tasks_expanded'])})",
                 f"{_n(r['chains'])} ({_n(r['chains_ok'])} / {_n(r['chains_failed'])})",
                 f"{_n(r['rejected_judge'])} / {_n(r['rejected_signals'])} / {_n(r['rejected_personal_data'])}",
                 _n(r["passed"]),
                 f"{_n(r['held_out_eval'])} / {_n(r['not_best_sample'])} / {_n(r['dropped_personal_data'])} / "
                 f"{_n(r['dropped_duplicates'])}",
                 _n(r["sft_rows"]), f"{_n(r['export_duplicates'])} / {_n(r['contaminated'])}", _n(r["exported"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
