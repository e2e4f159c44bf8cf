"""The judge's criteria, one entry each: everything else about a criterion is derived from this list.

A :class:`Criterion` is one field of the judge's verdict (``dogruluk``, ``halusinasyon``, ...). Its entry
in :data:`CRITERIA` declares, in one place:

* ``name``: the JSON key the judge writes, the attribute of ``parsing.JudgeVerdict`` and the
  `judged_cot` column (``schemas.JudgedCotSchema``);
* ``kind``: ``score`` (an integer ``SCORE_MIN..SCORE_MAX``), ``flag`` (true/false), ``optional_text``
  (a string or null) or ``text`` (a required string), with ``max_chars`` for texts: the JSON schema
  (``response_format``), the parser and the Pandera column follow from it;
* ``label``, ``rubric`` and ``answer_hint``: the Turkish rubric line and the value's description in the
  judge prompt's JSON line (``prompts/judge.jinja2`` has two slots filled from here, :func:`prompt_slots`);
* ``rule``: the pass rule, a `JudgeConfig` field (its name, default and description) and the reject
  reason when it fails (a score under the minimum; a flag that is set while the config says reject);
* ``simulate``: how the test kit's simulator (``anka_testkit.simulator``) draws the value, declared as
  data (:class:`SimScore`, :class:`SimNear`, :class:`SimFlag`, :class:`SimQuote`, :class:`SimReason`).

Derived here (pure builders that take the list, so a test can extend it): :func:`response_format`,
:func:`verdict_type`, :func:`prompt_slots`, :func:`rule_reasons` (the pass rule `judged_cot.decide`
applies), :func:`config_fields` (the thresholds of `JudgeConfig`) and :func:`reject_reasons` (the part
of the drop-reason vocabulary, ``anka_assets.reasons``). Derived elsewhere from the same list: the
parser (``parsing.judge``), the Pandera columns (``schemas``), the simulator's judge.

Adding a criterion is one entry in :data:`CRITERIA` (a diff of this file only). The prompt text changes
with it, hence the judge template's version and the gateway's cache key: old verdicts are not reused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, make_dataclass
from typing import Any, Literal, Union

Kind = Literal["score", "flag", "optional_text", "text"]

SCORE_MIN = 1
SCORE_MAX = 5
JUDGE_TEXT_MAX_CHARS = 240  #: the judge's reason (`gerekce`)
JUDGE_CLAIM_MAX_CHARS = 120  #: the hallucinated claim it quotes (`halusinasyon_iddiasi`)


# ------------------------------------------------------------------------------------------------
# How the simulator draws a value (interpreted by anka_testkit.simulator.content)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimScore:
    """A score drawn with ``weights`` over ``SCORE_MIN, SCORE_MIN + 1, ...``; while the flag named
    ``flagged_by`` is set, with ``flagged_weights`` instead."""

    weights: tuple[int, ...]
    flagged_by: str | None = None
    flagged_weights: tuple[int, ...] = ()


@dataclass(frozen=True)
class SimNear:
    """Another criterion's score plus an offset drawn from ``offsets``, kept within the scale."""

    of: str
    offsets: tuple[int, ...]


@dataclass(frozen=True)
class SimFlag:
    """True with ``probability``."""

    probability: float


@dataclass(frozen=True)
class SimQuote:
    """While the flag ``flag`` is set: a sentence of the answer under review (``fallback`` when it has
    none); null otherwise."""

    flag: str
    fallback: str


@dataclass(frozen=True)
class SimReason:
    """While ``flag`` is set: ``quote_template`` around the criterion ``quote``; otherwise a sentence of
    the simulator's reason bank for the value of the score ``score`` (``high`` from 4, ``mid`` at 3,
    ``low`` under 3)."""

    flag: str
    quote: str
    quote_template: str
    score: str


SimBehaviour = Union[SimScore, SimNear, SimFlag, SimQuote, SimReason]


# ------------------------------------------------------------------------------------------------
# The entry
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PassRule:
    """A threshold of `JudgeConfig` and the reject reason when a verdict fails it.

    A ``score`` fails when it is under ``getattr(config, config_field)``; a ``flag`` fails when it is set
    and ``getattr(config, config_field)`` is true."""

    config_field: str
    default: int | bool
    description: str
    reason: str


@dataclass(frozen=True)
class Criterion:
    name: str
    kind: Kind
    simulate: SimBehaviour
    label: str | None = None  #: the Turkish name in the rubric; None: no rubric line of its own
    rubric: str | None = None
    answer_hint: str = ""  #: the value as the prompt's JSON line describes it
    rule: PassRule | None = None
    max_chars: int | None = None  #: texts only

    def __post_init__(self) -> None:
        problems = []
        if not self.name.isidentifier() or self.name != self.name.lower():
            problems.append("name must be a lower-case Python identifier (it is a JSON key and a column)")
        if self.kind not in ("score", "flag", "optional_text", "text"):
            problems.append(f"unknown kind {self.kind!r} (score, flag, optional_text or text)")
        if (self.kind in ("optional_text", "text")) != (self.max_chars is not None):
            problems.append("max_chars is required for texts and only for texts")
        if self.rule is not None and self.kind not in ("score", "flag"):
            problems.append("only a score or a flag has a pass rule")
        if (self.label is None) != (self.rubric is None):
            problems.append("label and rubric go together")
        if not self.answer_hint:
            problems.append("answer_hint is required (the prompt's JSON line describes every field)")
        for text in (self.label, self.rubric, self.answer_hint):
            if text and any(mark in text for mark in ("{{", "{%", "{#")):
                problems.append(f"Jinja syntax in prompt text {text!r}")
        if problems:
            raise ValueError(f"judge criterion {self.name!r}: " + "; ".join(problems))


#: The judge's verdict, in the order the judge answers (the prompt, the schema and the columns keep it).
CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "dogruluk", "score", label="doğruluk",
        rubric="Bilgiler, hesaplamalar ve mevzuat atıfları doğru mu? 1 = büyük ölçüde yanlış, 5 = tamamen doğru.",
        answer_hint="1-5 arası tam sayı",
        rule=PassRule("min_dogruluk", 4, "Lowest accuracy score (1–5) that passes.", "low_accuracy"),
        # 83 % of the non-hallucinated answers score >= 4, i.e. about 75 % overall.
        simulate=SimScore(weights=(3, 5, 9, 38, 45), flagged_by="halusinasyon", flagged_weights=(2, 4, 4)),
    ),
    Criterion(
        "kulturel_uygunluk", "score", label="kültürel uygunluk",
        rubric="Cevap Türkiye bağlamına, Türkçe terminolojiye ve yerel kurumlara uygun mu? "
        "1 = uygun değil, 5 = tamamen uygun.",
        answer_hint="1-5 arası tam sayı",
        rule=PassRule("min_kulturel_uygunluk", 4, "Lowest cultural-fit score (1–5) that passes.", "low_cultural_fit"),
        simulate=SimNear(of="dogruluk", offsets=(-1, 0, 0, 1, 1)),
    ),
    Criterion(
        "halusinasyon", "flag", label="halüsinasyon",
        rubric="Cevapta uydurma bir kanun maddesi, tarih, kişi, kurum veya kaynak var mı? "
        "Varsa uydurma iddiayı aynen aktar.",
        answer_hint="true veya false",
        rule=PassRule("reject_hallucination", True, "Reject answers the judge flags as hallucinating.", "hallucination"),
        simulate=SimFlag(probability=0.10),
    ),
    Criterion(
        "halusinasyon_iddiasi", "optional_text", answer_hint='"uydurma iddia" veya null',
        max_chars=JUDGE_CLAIM_MAX_CHARS,
        simulate=SimQuote(flag="halusinasyon", fallback="1923 yılında yürürlüğe girdiği belirtilen düzenleme"),
    ),
    Criterion(
        "gerekce", "text", label="gerekçe", rubric="Puanlarının kısa Türkçe gerekçesi.", answer_hint='"..."',
        max_chars=JUDGE_TEXT_MAX_CHARS,
        simulate=SimReason(flag="halusinasyon", quote="halusinasyon_iddiasi",
                           quote_template="Yanıtta kaynaklarla desteklenmeyen bir iddia yer alıyor: «{quote}».",
                           score="dogruluk"),
    ),
)


# ------------------------------------------------------------------------------------------------
# Derived artefacts (pure; each takes the list so that a test can pass an extended one)
# ------------------------------------------------------------------------------------------------


def check(criteria: Sequence[Criterion]) -> tuple[Criterion, ...]:
    """The list, after checking what no single entry can: unique names, config fields and reasons, and
    simulator behaviours that name existing criteria of the right kind. Raises ValueError."""
    by_name = {c.name: c for c in criteria}
    problems = []
    for what, values in (("name", [c.name for c in criteria]),
                         ("config field", [c.rule.config_field for c in criteria if c.rule]),
                         ("reject reason", [c.rule.reason for c in criteria if c.rule])):
        doubles = sorted({v for v in values if values.count(v) > 1})
        if doubles:
            problems.append(f"{what} declared twice: {', '.join(doubles)}")
    for c in criteria:
        for ref, kind in _sim_refs(c.simulate):
            if by_name.get(ref) is None or by_name[ref].kind != kind:
                problems.append(f"{c.name}: its simulator behaviour needs a {kind} criterion {ref!r}")
    if problems:
        raise ValueError("judge criteria: " + "; ".join(problems))
    return tuple(criteria)


def _sim_refs(sim: SimBehaviour) -> list[tuple[str, str]]:
    if isinstance(sim, SimScore):
        return [(sim.flagged_by, "flag")] if sim.flagged_by else []
    if isinstance(sim, SimNear):
        return [(sim.of, "score")]
    if isinstance(sim, SimQuote):
        return [(sim.flag, "flag")]
    if isinstance(sim, SimReason):
        return [(sim.flag, "flag"), (sim.quote, "optional_text"), (sim.score, "score")]
    return []


def value_schema(c: Criterion) -> dict[str, Any]:
    """The JSON schema of one criterion's value."""
    if c.kind == "score":
        return {"type": "integer", "minimum": SCORE_MIN, "maximum": SCORE_MAX}
    if c.kind == "flag":
        return {"type": "boolean"}
    if c.kind == "optional_text":
        return {"type": ["string", "null"], "maxLength": c.max_chars}
    return {"type": "string", "maxLength": c.max_chars}


def response_format(criteria: Sequence[Criterion] = CRITERIA) -> dict[str, Any]:
    """The OpenAI ``response_format`` (strict ``json_schema`` named ``judge_verdict``) for a verdict."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "judge_verdict",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {c.name: value_schema(c) for c in criteria},
                "required": [c.name for c in criteria],
                "additionalProperties": False,
            },
        },
    }


_PY_TYPES = {"score": int, "flag": bool, "optional_text": Union[str, None], "text": str}


def verdict_type(criteria: Sequence[Criterion] = CRITERIA, name: str = "JudgeVerdict") -> type:
    """A frozen dataclass with one field per criterion, in order (``parsing.JudgeVerdict``)."""
    return make_dataclass(
        name, [(c.name, _PY_TYPES[c.kind]) for c in criteria], frozen=True,
        namespace={"__doc__": "A judge's verdict on one answer: one field per criterion of "
                              "`anka_assets.judge_criteria.CRITERIA`, in the order the judge answers.",
                   "__module__": "anka_assets.parsing"},
    )


def prompt_slots(criteria: Sequence[Criterion] = CRITERIA) -> dict[str, str]:
    """The judge template's slots: ``judge_rubric`` (one line per criterion with a rubric) and
    ``judge_json`` (the JSON object the judge must return, each value described)."""
    lines = []
    for c in criteria:
        if c.rubric is None:
            continue
        scale = f" ({SCORE_MIN}–{SCORE_MAX})" if c.kind == "score" else ""
        lines.append(f"- {c.label}{scale}: {c.rubric}")
    json_line = "{" + ", ".join(f'"{c.name}": {c.answer_hint}' for c in criteria) + "}"
    return {"judge_rubric": "\n".join(lines), "judge_json": json_line}


def rule_reasons(verdict: Mapping[str, Any], config: Any, criteria: Sequence[Criterion] = CRITERIA) -> list[str]:
    """The reject reasons of a judged verdict (a row with one value per criterion) under the
    thresholds on ``config``, in the criteria's order; empty when it passes every rule."""
    reasons = []
    for c in criteria:
        if c.rule is None:
            continue
        threshold, value = getattr(config, c.rule.config_field), verdict[c.name]
        failed = value < threshold if c.kind == "score" else bool(threshold) and bool(value)
        if failed:
            reasons.append(c.rule.reason)
    return reasons


def reject_reasons(criteria: Sequence[Criterion] = CRITERIA) -> tuple[str, ...]:
    """The reasons the criteria's pass rules give (part of ``anka_assets.reasons``' vocabulary)."""
    return tuple(c.rule.reason for c in criteria if c.rule)


def config_fields(criteria: Sequence[Criterion] = CRITERIA) -> dict[str, tuple[type, Any]]:
    """``{config field: (type, pydantic Field)}`` of the thresholds, for `JudgeConfig`."""
    from pydantic import Field

    return {c.rule.config_field: (int if c.kind == "score" else bool,
                                  Field(default=c.rule.default, description=c.rule.description))
            for c in criteria if c.rule}


def config_model(base: type, criteria: Sequence[Criterion] = CRITERIA, name: str = "JudgeThresholds") -> type:
    """A subclass of ``base`` (a Dagster ``Config``) with the thresholds as fields; `JudgeConfig` inherits it."""
    from pydantic import create_model

    return create_model(name, __base__=base, **config_fields(criteria))


def scores(criteria: Sequence[Criterion] = CRITERIA) -> tuple[Criterion, ...]:
    """The score criteria, for charts and previews."""
    return tuple(c for c in criteria if c.kind == "score")


check(CRITERIA)
VERDICT_FIELDS: tuple[str, ...] = tuple(c.name for c in CRITERIA)
