"""Judge verdicts: the judge's scores (``judge_verdict``, one field per criterion of
`anka_assets.judge_criteria.CRITERIA`) and the pairwise verdict of the student evaluation
(``pairwise_verdict``: which of two answers is better)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from anka_assets.judge_criteria import (
    CRITERIA,
    SCORE_MAX,
    SCORE_MIN,
    Criterion,
    response_format,
    verdict_type,
)
from anka_assets.parsing.jsonish import ParseError, field, pick_object, preview, require_text
from anka_assets.text.normalize import turkish_lower

PAIRWISE_REASON_MAX_CHARS = 400

#: A verdict: one field per criterion, in the order the judge answers (a frozen dataclass built from
#: `judge_criteria.CRITERIA`; `judged_cot` stores each field as a column of its name).
JudgeVerdict = verdict_type(CRITERIA)
JUDGE_RESPONSE_FORMAT: dict[str, Any] = response_format(CRITERIA)

_INTEGRAL_STRING = re.compile(r"^[+]?\d+(?:\.0*)?$")
_TRUE_WORDS = frozenset({"true", "evet", "yes"})
_FALSE_WORDS = frozenset({"false", "hayır", "hayir", "no"})


def _score(value: Any, field: str, what: str) -> int:
    score: int | None = None
    if isinstance(value, bool):
        score = None  # true/false is not a score (bool is an int subclass in Python)
    elif isinstance(value, int):
        score = value
    elif isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            score = int(value)
    elif isinstance(value, str) and _INTEGRAL_STRING.match(value.strip()):
        score = int(float(value.strip()))
    if score is None:
        raise ParseError(
            f"{what}: field {field!r} must be an integer {SCORE_MIN}..{SCORE_MAX}, got {preview(value)}"
        )
    if not SCORE_MIN <= score <= SCORE_MAX:
        raise ParseError(f"{what}: field {field!r} out of range {SCORE_MIN}..{SCORE_MAX}: {preview(value)}")
    return score


def _boolean(value: Any, field: str, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = turkish_lower(value.strip())
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ParseError(
        f"{what}: field {field!r} must be a boolean (true/false, evet/hayır, yes/no), got {preview(value)}"
    )


def parse_verdict(text: str, criteria: Sequence[Criterion] = CRITERIA, verdict: type = JudgeVerdict) -> Any:
    """Parse a verdict on ``criteria`` into ``verdict`` (a class built by `judge_criteria.verdict_type`
    from the same list); `parse_judge` is this with today's criteria."""
    what = "judge verdict"
    text = require_text(text, what)
    obj = pick_object(text, tuple(c.name for c in criteria), what)
    return verdict(**{c.name: _verdict_value(field(obj, c.name, what), c.name, c.kind, what) for c in criteria})


def parse_judge(text: str) -> JudgeVerdict:
    """Parse a judge verdict (JSON; fences and prose around the object are tolerated).

    Scores accept integers, integral floats (``4.0``) and numeric strings (``"4"``) in 1..5;
    ``halusinasyon`` accepts JSON booleans and the strings true/false, evet/hayır, yes/no in any
    case (Turkish case folding, so ``"HAYIR"`` works). A blank ``halusinasyon_iddiasi`` becomes
    None. Every field is required; a missing one raises ParseError naming it.
    """
    return parse_verdict(text)


def _verdict_value(value: Any, name: str, kind: str, what: str) -> Any:
    if kind == "score":
        return _score(value, name, what)
    if kind == "flag":
        return _boolean(value, name, what)
    if kind == "optional_text":
        if value is not None and not isinstance(value, str):
            raise ParseError(
                f"{what}: field {name!r} must be a string or null, got {type(value).__name__} {preview(value)}"
            )
        return value.strip() if isinstance(value, str) and value.strip() else None
    if not isinstance(value, str):
        raise ParseError(f"{what}: field {name!r} must be a string, got {type(value).__name__} {preview(value)}")
    return value.strip()


PAIRWISE_CHOICES = ("A", "B", "berabere")

PAIRWISE_RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "pairwise_verdict",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "kazanan": {"type": "string", "enum": list(PAIRWISE_CHOICES)},
                "gerekce": {"type": "string", "maxLength": PAIRWISE_REASON_MAX_CHARS},
            },
            "required": ["kazanan", "gerekce"],
            "additionalProperties": False,
        },
    },
}

_PAIRWISE_WORDS = {
    "a": "A", "cevap a": "A", "a cevabı": "A",
    "b": "B", "cevap b": "B", "b cevabı": "B",
    "berabere": "berabere", "beraberlik": "berabere", "eşit": "berabere", "esit": "berabere", "tie": "berabere",
}


@dataclass(frozen=True)
class PairwiseVerdict:
    """Which answer the judge preferred: 'A', 'B' or 'berabere' (a tie)."""

    kazanan: str
    gerekce: str


def parse_pairwise(text: str) -> PairwiseVerdict:
    """Parse a pairwise verdict ``{"kazanan": "A" | "B" | "berabere", "gerekce": "..."}``.

    ``kazanan`` is read case-insensitively with Turkish folding ("a", "Cevap B", "BERABERE", "eşit");
    anything else is a ParseError naming the value.
    """
    what = "pairwise verdict"
    text = require_text(text, what)
    obj = pick_object(text, ("kazanan",), what)
    raw = field(obj, "kazanan", what)
    if not isinstance(raw, str) or turkish_lower(raw.strip()) not in _PAIRWISE_WORDS:
        raise ParseError(f"{what}: field 'kazanan' must be one of A, B, berabere, got {preview(raw)}")
    gerekce = obj.get("gerekce", "")
    if not isinstance(gerekce, str):
        raise ParseError(f"{what}: field 'gerekce' must be a string, got {type(gerekce).__name__}")
    return PairwiseVerdict(kazanan=_PAIRWISE_WORDS[turkish_lower(raw.strip())], gerekce=gerekce.strip())
