"""Why a row was rejected or dropped: one vocabulary for every stage, counted per reason.

`judged_cot` rejects rows (``reject_reasons``, one or more per row, from `judged_cot.decide`): the
teacher's or the judge's status, the judge criteria's pass rules (derived from
`anka_assets.judge_criteria`, so a new criterion brings its reason), an expert's rejection, and the
deterministic signals. `sft_dataset` and `sft_export` drop rows (one reason each): not passed, held out
for evaluation, not the best sample, personal data, duplicates, contamination.

Counts are kept as datatrove's filters keep their stats: a :class:`ReasonCounts` (a ``Counter`` that
refuses a reason outside the vocabulary, naming it), written as metadata with :func:`reason_metadata`
(``rejected_<reason>`` on `judged_cot`, ``dropped_<reason>`` on `sft_dataset` / `sft_export`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from anka_assets.judge_criteria import CRITERIA, Criterion, reject_reasons

# -- judged_cot: the answer could not be judged ---------------------------------------------------
#: ``teacher_<raw_cot.status>`` for every status but ok
TEACHER_REASONS = ("teacher_parse_error", "teacher_blocked_kvkk", "teacher_failed")
#: ``judge_<judged_cot.judge_status>`` for every status but ok (a malformed verdict is `judge_error`)
JUDGE_STATUS_REASONS = ("judge_error", "judge_blocked_kvkk", "judge_failed", "judge_skipped")
EXPERT_REJECT = "expert_reject"

# -- judged_cot: deterministic signals (`judged_cot.text_signals` and the thresholds of JudgeConfig) ----
WRONG_LANGUAGE_REASONING = "wrong_language_reasoning"
WRONG_LANGUAGE_ANSWER = "wrong_language_answer"
REFUSAL = "refusal"
TOO_FEW_STEPS = "too_few_steps"
ANSWER_TOO_SHORT = "answer_too_short"
ANSWER_TOO_LONG = "answer_too_long"
REPETITION = "repetition"
FOREIGN_SCRIPT = "foreign_script"
PERSONAL_DATA = "personal_data"
SIGNAL_REASONS = (WRONG_LANGUAGE_REASONING, WRONG_LANGUAGE_ANSWER, REFUSAL, TOO_FEW_STEPS, ANSWER_TOO_SHORT,
                  ANSWER_TOO_LONG, REPETITION, FOREIGN_SCRIPT, PERSONAL_DATA)

# -- sft_dataset and sft_export: one reason per dropped row ----------------------------------------
NOT_PASSED = "not_passed"  #: judge or expert rejected it (judged_cot.passed is false)
EVAL_TASK = "eval_task"  #: its seed task is held out for evaluation
NOT_BEST_SAMPLE = "not_best_sample"  #: selection "best": another sample of the seed scored higher
PII_MEANINGLESS = "pii_meaningless"  #: redacting personal data would leave too little text
EXACT_DUPLICATE = "exact_duplicate"  #: same dedup key as a row kept before it
NEAR_DUPLICATE = "near_duplicate"  #: MinHash Jaccard >= threshold with a row kept before it
CONTAMINATED = "contaminated"  #: (sft_export) shares a word 8-gram or a character window with an eval task
DROP_REASONS = (NOT_PASSED, EVAL_TASK, NOT_BEST_SAMPLE, PII_MEANINGLESS, EXACT_DUPLICATE, NEAR_DUPLICATE, CONTAMINATED)


def judge_reasons(criteria: Sequence[Criterion] = CRITERIA) -> tuple[str, ...]:
    """The reasons that count as the judge's (the release funnel's 'judge' category): a judge status,
    a criterion's pass rule, an expert's rejection."""
    return (*JUDGE_STATUS_REASONS, *reject_reasons(criteria), EXPERT_REJECT)


def vocabulary(criteria: Sequence[Criterion] = CRITERIA) -> tuple[str, ...]:
    """Every reason, in one tuple: `judged_cot`'s reject reasons, then the later stages' drop reasons."""
    words = (*TEACHER_REASONS, *judge_reasons(criteria), *SIGNAL_REASONS, *DROP_REASONS)
    doubles = sorted({w for w in words if words.count(w) > 1})
    if doubles:
        raise ValueError(f"drop reasons declared twice: {', '.join(doubles)} (a criterion's reason must be new)")
    return words


REJECT_REASONS = (*TEACHER_REASONS, *judge_reasons(), *SIGNAL_REASONS)  #: `judged_cot.reject_reasons`
JUDGE_REASONS = frozenset(judge_reasons())
VOCABULARY = vocabulary()
_KNOWN = frozenset(VOCABULARY)


def check_reason(reason: str, known: Iterable[str] = _KNOWN) -> str:
    """``reason`` when it is in the vocabulary; raises ValueError naming it otherwise."""
    if reason not in known:
        raise ValueError(f"unknown drop reason {reason!r}: add it to anka_assets/reasons.py "
                         "(or, for a judge criterion, its entry in anka_assets/judge_criteria.py)")
    return reason


class ReasonCounts(Counter):
    """Rows per reason; a reason outside the vocabulary raises ValueError (a typo never makes a new key)."""

    def __setitem__(self, reason: str, count: int) -> None:
        super().__setitem__(check_reason(reason), count)


def count_reasons(reasons: Iterable[Iterable[str]]) -> ReasonCounts:
    """Rows per reason over rows that each carry a list of reasons (`judged_cot.reject_reasons`)."""
    counts = ReasonCounts()
    for row in reasons:
        for reason in row:
            counts[reason] += 1
    return counts


def drop_counts(counts: Mapping[str, int], reasons: Sequence[str] = DROP_REASONS) -> dict[str, int]:
    """Every reason of ``reasons``, zero when nothing was dropped for it (so metadata always shows all)."""
    for reason in counts:
        check_reason(reason)
    return {reason: int(counts.get(reason, 0)) for reason in reasons}


def reason_metadata(counts: Mapping[str, int], prefix: str) -> dict[str, Any]:
    """``{prefix + reason: rows}`` in the order of ``counts`` (give `drop_counts` for zeros too)."""
    return {f"{prefix}{check_reason(reason)}": int(n) for reason, n in counts.items()}
