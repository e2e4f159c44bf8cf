"""Parsers for model outputs, and the OpenAI ``response_format`` dicts that ask for them.

Formats are fixed in ``docs/CONTRACTS.md``:

* teacher chain of thought (``cot_answer``): ``{"adimlar": [...], "cevap": "..."}`` or, for backends
  without structured output, the tagged form ``<adimlar>1. ... 2. ...</adimlar><cevap>...</cevap>``;
* judge verdict (``judge_verdict``): ``{"dogruluk": 1-5, "kulturel_uygunluk": 1-5,
  "halusinasyon": bool, "halusinasyon_iddiasi": str | null, "gerekce": str}``;
* seed expansion (``task_list``): ``{"gorevler": [...]}`` or a numbered / bulleted plain list.

Everything here is pure: text in, value out, ``ParseError`` (a ``ValueError``) when the text cannot
be read. The parsers tolerate the usual noise of real model output (```json fences, prose around
the JSON object, extra whitespace, raw newlines inside JSON strings, trailing commas, Turkish
spellings of keys such as ``"adımlar"`` or ``"kültürel_uygunluk"``) but never guess at content:
truncated JSON, wrong types and out-of-range scores are errors.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, fields
from collections.abc import Mapping
from typing import Any

from anka_assets.text.normalize import dedup_key, turkish_lower

__all__ = [
    "schema_max_chars",
    "response_format_max_tokens",
    "COT_RESPONSE_FORMAT",
    "JUDGE_RESPONSE_FORMAT",
    "TASK_LIST_RESPONSE_FORMAT",
    "SCORE_MIN",
    "SCORE_MAX",
    "ParseError",
    "ParsedCot",
    "JudgeVerdict",
    "parse_cot",
    "parse_judge",
    "parse_task_list",
    "PAIRWISE_RESPONSE_FORMAT",
    "PairwiseVerdict",
    "parse_pairwise",
]

SCORE_MIN = 1
SCORE_MAX = 5

# --------------------------------------------------------------------------------------------
# response_format dicts (OpenAI structured output, also understood by vLLM / llama.cpp servers)
# --------------------------------------------------------------------------------------------

# Free text in every schema is bounded (``maxLength`` / ``maxItems``): a server that enforces the schema
# (vLLM's structured outputs) then cannot let an answer run on inside a string, and `schema_max_chars`
# gives the longest compact answer, from which `model_tasks` sizes ``max_tokens``. The bounds are generous
# for what each field is for; a longer answer would be cut by the grammar, not by the token limit.
COT_MAX_STEPS = 12
COT_STEP_MAX_CHARS = 600
COT_ANSWER_MAX_CHARS = 1500
TASK_LIST_MAX_ITEMS = 50
TASK_MAX_CHARS = 600  #: an expanded task's text (seed instructions are 10..2000 chars; new ones are short)
JUDGE_TEXT_MAX_CHARS = 240  #: the judge's reason (`gerekce`)
JUDGE_CLAIM_MAX_CHARS = 120  #: the hallucinated claim it quotes (`halusinasyon_iddiasi`)
PAIRWISE_REASON_MAX_CHARS = 400

COT_RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "cot_answer",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "adimlar": {"type": "array", "items": {"type": "string", "maxLength": COT_STEP_MAX_CHARS},
                            "minItems": 1, "maxItems": COT_MAX_STEPS},
                "cevap": {"type": "string", "maxLength": COT_ANSWER_MAX_CHARS},
            },
            "required": ["adimlar", "cevap"],
            "additionalProperties": False,
        },
    },
}

# JUDGE_RESPONSE_FORMAT is derived from `JudgeVerdict`'s fields, below the dataclass.

TASK_LIST_RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "task_list",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"gorevler": {"type": "array", "items": {"type": "string", "maxLength": TASK_MAX_CHARS},
                                        "maxItems": TASK_LIST_MAX_ITEMS}},
            "required": ["gorevler"],
            "additionalProperties": False,
        },
    },
}


def schema_max_chars(schema: Mapping[str, Any]) -> int | None:
    """The longest compact JSON text (no whitespace outside strings) that ``schema`` allows, in
    characters, or None when the schema does not bound it (a string without ``maxLength``, an array
    without ``maxItems``, an object open to more properties). Pure.

    A string counts as its ``maxLength`` plus its quotes (characters as written, escapes not counted:
    the servers this bounds write UTF-8 text as is); an integer as the longer of its bounds; an object
    as its braces, keys, colons and commas with every property present.
    """
    if "enum" in schema:
        return max(len(json.dumps(v, ensure_ascii=False)) for v in schema["enum"])
    types = schema.get("type")
    if isinstance(types, list):
        sizes = [schema_max_chars({**schema, "type": t}) for t in types]
        return None if any(s is None for s in sizes) else max(sizes)  # type: ignore[type-var]
    if types == "string":
        limit = schema.get("maxLength")
        return None if limit is None else int(limit) + 2
    if types == "boolean":
        return 5
    if types == "null":
        return 4
    if types == "integer":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        return None if lo is None or hi is None else max(len(str(int(lo))), len(str(int(hi))))
    if types == "array":
        items, most = schema.get("items"), schema.get("maxItems")
        if most is None or not isinstance(items, Mapping):
            return None
        item = schema_max_chars(items)
        return None if item is None else 2 + int(most) * item + max(0, int(most) - 1)
    if types == "object":
        props = schema.get("properties") or {}
        if schema.get("additionalProperties", True) is not False:
            return None
        total = 2 + max(0, len(props) - 1)
        for name, sub in props.items():
            size = schema_max_chars(sub)
            if size is None:
                return None
            total += len(json.dumps(name, ensure_ascii=False)) + 1 + size
        return total
    return None


def response_format_max_tokens(response_format: Mapping[str, Any] | None) -> int | None:
    """``max_tokens`` that always fits a complete answer to a bounded ``json_schema`` response format
    (None when unbounded): every token of a vocabulary that holds Turkish letters writes at least one
    character, and whitespace outside strings is off where the server offers it (vLLM's
    ``disable_any_whitespace``). A few tokens more for the end of the sequence. Pure."""
    if not response_format or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    chars = schema_max_chars(schema) if isinstance(schema, Mapping) else None
    return None if chars is None else chars + 8


# --------------------------------------------------------------------------------------------
# Errors and results
# --------------------------------------------------------------------------------------------


class ParseError(ValueError):
    """A model output could not be parsed; the message says which field / value was wrong."""


@dataclass(frozen=True)
class ParsedCot:
    """A teacher answer: reasoning steps (numbering stripped) and the final answer."""

    steps: tuple[str, ...]
    answer: str
    format: str  # "json" | "tagged"


@dataclass(frozen=True)
class JudgeVerdict:
    """A judge's verdict on one answer: one field per criterion, in the order the judge answers.

    The fields ARE the contract: `JUDGE_RESPONSE_FORMAT` and `parse_judge` follow them by type
    (``int``: a score 1..5, ``bool``: a yes/no flag, ``str | None``: an optional text such as a
    quoted claim, ``str``: a required text), and `judged_cot` stores each as a column of its name.
    A new criterion is a field here, a line in ``prompts/judge.jinja2`` and a column in
    ``JudgedCotSchema``."""

    dogruluk: int
    kulturel_uygunluk: int
    halusinasyon: bool
    halusinasyon_iddiasi: str | None
    gerekce: str


def _verdict_kinds() -> dict[str, str]:
    """Field name -> kind ("score", "flag", "optional_text", "text") from `JudgeVerdict`'s annotations."""
    kinds = {}
    for f in fields(JudgeVerdict):
        annotation = str(f.type).replace(" ", "")
        kind = {"int": "score", "bool": "flag", "str|None": "optional_text", "Optional[str]": "optional_text",
                "str": "text"}.get(annotation)
        if kind is None:  # pragma: no cover - a developer error, caught by the tests at import
            raise TypeError(f"JudgeVerdict.{f.name}: unsupported type {f.type!r} (int, bool, str or str | None)")
        kinds[f.name] = kind
    return kinds


_VERDICT_KINDS = _verdict_kinds()
_KIND_SCHEMA: dict[str, dict[str, Any]] = {
    "score": {"type": "integer", "minimum": SCORE_MIN, "maximum": SCORE_MAX},
    "flag": {"type": "boolean"},
    "optional_text": {"type": ["string", "null"], "maxLength": JUDGE_CLAIM_MAX_CHARS},
    "text": {"type": "string", "maxLength": JUDGE_TEXT_MAX_CHARS},
}

JUDGE_RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "judge_verdict",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {name: dict(_KIND_SCHEMA[kind]) for name, kind in _VERDICT_KINDS.items()},
            "required": list(_VERDICT_KINDS),
            "additionalProperties": False,
        },
    },
}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

_PREVIEW = 80


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 3] + "..."


def _require_text(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise ParseError(f"{what}: expected model output as str, got {type(text).__name__}")
    if not text.strip():
        raise ParseError(f"{what}: empty model output")
    return text


def _key(name: str) -> str:
    """Canonical form of a JSON key: 'Adımlar' / 'kültürel uygunluk' → 'adimlar' / 'kulturel_uygunluk'."""
    return dedup_key(name).replace(" ", "_")


def _normalise_keys(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        out.setdefault(_key(str(key)), value)
    return out


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the JSON object that opens at text[start] ('{'), or None if it never closes."""
    depth = 0
    in_string = False
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def _loads(fragment: str) -> Any:
    """json.loads that allows raw control characters in strings and, as a fallback, trailing commas."""
    try:
        return json.loads(fragment, strict=False)
    except json.JSONDecodeError:
        pass
    repaired = _TRAILING_COMMA.sub(r"\1", fragment)
    if repaired != fragment:
        try:
            return json.loads(repaired, strict=False)
        except json.JSONDecodeError:
            pass
    return None


def _json_objects(text: str) -> tuple[list[dict[str, Any]], bool]:
    """All top-level JSON objects in text, outermost first, and whether one was left unclosed.

    Prose and ```json fences around the objects are skipped: every '{' is tried in turn; once an
    object decodes, scanning resumes after it, so nested objects are never returned on their own.
    """
    objects: list[dict[str, Any]] = []
    truncated = False
    pos = 0
    while True:
        start = text.find("{", pos)
        if start < 0:
            break
        end = _balanced_end(text, start)
        if end is None:
            truncated = True
            pos = start + 1
            continue
        value = _loads(text[start:end])
        if isinstance(value, dict):
            objects.append(value)
            pos = end
        else:
            pos = start + 1
    return objects, truncated


def _pick_object(text: str, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    """The first JSON object in text that has any of keys (after key normalisation)."""
    objects, truncated = _json_objects(text)
    normalised = [_normalise_keys(obj) for obj in objects]
    for obj in normalised:
        if any(key in obj for key in keys):
            return obj
    if truncated:
        raise ParseError(f"{what}: truncated JSON (an object opened with '{{' is never closed)")
    if normalised:
        return normalised[0]  # validation names the missing field
    raise ParseError(f"{what}: no JSON object found in {_preview(text.strip())}")


def _field(obj: dict[str, Any], name: str, what: str) -> Any:
    if name not in obj:
        present = ", ".join(sorted(obj)) or "none"
        raise ParseError(f"{what}: missing field {name!r} (fields present: {present})")
    return obj[name]


# Leading enumeration of a step / list item: "1.", "2)", "(3)", "4:", "Adım 1:", "Adım 2 -", "Step 3.".
# "1.5 kg un" and "3 - 2 = 1" are not numbering: after "1." there must be whitespace or the end of
# the line, and a bare number followed by a dash is arithmetic, not a marker.
_NUMBERING = re.compile(
    r"""^\s*(?:\*\*)?\s*
    (?:
        (?:ad[ıiIİ]m|step)\s*\d+\s*(?:[.):\-–—]|(?=\s)|$)      # Adım 1:  /  Step 2.
      | \(?\d+\s*[.):](?=\s|$|\*\*)                         # 1.  2)  (3)  4:
    )
    \s*(?:\*\*)?\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_BULLET = re.compile(r"^\s*[-*•·‣–—+]\s+")


def _strip_marker(line: str) -> str:
    stripped = _NUMBERING.sub("", line, count=1)
    if stripped == line:
        stripped = _BULLET.sub("", line, count=1)
    return stripped.strip()


def _is_marked(line: str, bullets: bool) -> bool:
    return bool(_NUMBERING.match(line) or (bullets and _BULLET.match(line)))


def _split_items(block: str) -> list[str]:
    """Split a numbered (or bulleted) block into items with their markers stripped.

    Unmarked lines continue the item above them (joined with a newline); text before the first
    marker is an item of its own. Blank lines and ``` fence lines are dropped. A block without any marker yields one item per non-empty line.
    """
    lines = [line for line in block.splitlines() if line.strip() and not line.strip().startswith("```")]
    if not lines:
        return []
    bullets = not any(_NUMBERING.match(line) for line in lines)
    if not any(_is_marked(line, bullets) for line in lines):
        return [line.strip() for line in lines]
    items: list[list[str]] = []
    for line in lines:
        if _is_marked(line, bullets) or not items:
            items.append([_strip_marker(line) if _is_marked(line, bullets) else line.strip()])
        else:
            items[-1].append(line.strip())
    out = ["\n".join(part for part in item if part).strip() for item in items]
    return [item for item in out if item]


def _string_items(value: Any, field: str, what: str) -> list[str]:
    if not isinstance(value, list):
        raise ParseError(
            f"{what}: field {field!r} must be an array of strings, got {type(value).__name__} {_preview(value)}"
        )
    items: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ParseError(
                f"{what}: {field}[{index}] must be a string, got {type(item).__name__} {_preview(item)}"
            )
        stripped = _strip_marker(item)
        if stripped:
            items.append(stripped)
    return items


# --------------------------------------------------------------------------------------------
# Chain of thought
# --------------------------------------------------------------------------------------------

_ADIMLAR_TAG = r"ad[ıiIİ]mlar"
_TAGGED_ANY = re.compile(rf"<\s*/?\s*(?:{_ADIMLAR_TAG}|cevap)\s*>", re.IGNORECASE)
_ADIMLAR_BLOCK = re.compile(rf"<\s*{_ADIMLAR_TAG}\s*>(.*?)<\s*/\s*{_ADIMLAR_TAG}\s*>", re.IGNORECASE | re.DOTALL)
_CEVAP_BLOCK = re.compile(r"<\s*cevap\s*>(.*?)<\s*/\s*cevap\s*>", re.IGNORECASE | re.DOTALL)
_ADIMLAR_OPEN = re.compile(rf"<\s*{_ADIMLAR_TAG}\s*>", re.IGNORECASE)
_CEVAP_OPEN = re.compile(r"<\s*cevap\s*>", re.IGNORECASE)


def _parse_cot_tagged(text: str) -> ParsedCot:
    what = "chain of thought (tagged)"
    steps_match = _ADIMLAR_BLOCK.search(text)
    if steps_match is None:
        if _ADIMLAR_OPEN.search(text):
            raise ParseError(f"{what}: <adimlar> is never closed with </adimlar> (truncated output?)")
        raise ParseError(f"{what}: missing field 'adimlar' (no <adimlar>...</adimlar> block)")
    answer_match = _CEVAP_BLOCK.search(text, steps_match.end()) or _CEVAP_BLOCK.search(text)
    if answer_match is None:
        if _CEVAP_OPEN.search(text):
            raise ParseError(f"{what}: <cevap> is never closed with </cevap> (truncated output?)")
        raise ParseError(f"{what}: missing field 'cevap' (no <cevap>...</cevap> block)")
    steps = _split_items(steps_match.group(1))
    if not steps:
        raise ParseError(f"{what}: field 'adimlar' is empty")
    answer = answer_match.group(1).strip()
    if not answer:
        raise ParseError(f"{what}: field 'cevap' is empty")
    return ParsedCot(steps=tuple(steps), answer=answer, format="tagged")


def _parse_cot_json(text: str) -> ParsedCot:
    what = "chain of thought (JSON)"
    obj = _pick_object(text, ("adimlar", "cevap"), what)
    steps = _string_items(_field(obj, "adimlar", what), "adimlar", what)
    if not steps:
        raise ParseError(f"{what}: field 'adimlar' is empty")
    answer = _field(obj, "cevap", what)
    if isinstance(answer, (int, float)) and not isinstance(answer, bool) and math.isfinite(answer):
        answer = str(answer)  # a bare number is an answer; the schema asks for a string
    if not isinstance(answer, str):
        raise ParseError(f"{what}: field 'cevap' must be a string, got {type(answer).__name__} {_preview(answer)}")
    answer = answer.strip()
    if not answer:
        raise ParseError(f"{what}: field 'cevap' is empty")
    return ParsedCot(steps=tuple(steps), answer=answer, format="json")


def parse_cot(text: str) -> ParsedCot:
    """Parse a teacher answer in the JSON form or the tagged ``<adimlar>/<cevap>`` form.

    The tagged form is used when the text contains an ``<adimlar>`` or ``<cevap>`` tag (tags are
    case-insensitive and may contain whitespace, ``<ADIMLAR>``, ``< cevap >``); otherwise the
    outermost JSON object is read (fences and prose around it are ignored). Step numbering
    ("1.", "2)", "Adım 3:") is stripped in both forms; blank steps are dropped. A bare JSON number
    as ``cevap`` is accepted and turned into a string.

    Raises ParseError for empty text, truncated JSON, a missing or empty answer, empty steps or
    non-string steps.
    """
    text = _require_text(text, "chain of thought")
    if _TAGGED_ANY.search(text):
        return _parse_cot_tagged(text)
    return _parse_cot_json(text)


# --------------------------------------------------------------------------------------------
# Judge verdict
# --------------------------------------------------------------------------------------------

_JUDGE_FIELDS = tuple(_VERDICT_KINDS)
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
            f"{what}: field {field!r} must be an integer {SCORE_MIN}..{SCORE_MAX}, got {_preview(value)}"
        )
    if not SCORE_MIN <= score <= SCORE_MAX:
        raise ParseError(f"{what}: field {field!r} out of range {SCORE_MIN}..{SCORE_MAX}: {_preview(value)}")
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
        f"{what}: field {field!r} must be a boolean (true/false, evet/hayır, yes/no), got {_preview(value)}"
    )


def parse_judge(text: str) -> JudgeVerdict:
    """Parse a judge verdict (JSON; fences and prose around the object are tolerated).

    Scores accept integers, integral floats (``4.0``) and numeric strings (``"4"``) in 1..5;
    ``halusinasyon`` accepts JSON booleans and the strings true/false, evet/hayır, yes/no in any
    case (Turkish case folding, so ``"HAYIR"`` works). A blank ``halusinasyon_iddiasi`` becomes
    None. Every field is required; a missing one raises ParseError naming it.
    """
    what = "judge verdict"
    text = _require_text(text, what)
    obj = _pick_object(text, _JUDGE_FIELDS, what)
    return JudgeVerdict(**{name: _verdict_value(_field(obj, name, what), name, kind, what)
                           for name, kind in _VERDICT_KINDS.items()})


def _verdict_value(value: Any, name: str, kind: str, what: str) -> Any:
    if kind == "score":
        return _score(value, name, what)
    if kind == "flag":
        return _boolean(value, name, what)
    if kind == "optional_text":
        if value is not None and not isinstance(value, str):
            raise ParseError(
                f"{what}: field {name!r} must be a string or null, got {type(value).__name__} {_preview(value)}"
            )
        return value.strip() if isinstance(value, str) and value.strip() else None
    if not isinstance(value, str):
        raise ParseError(f"{what}: field {name!r} must be a string, got {type(value).__name__} {_preview(value)}")
    return value.strip()


# --------------------------------------------------------------------------------------------
# Task list
# --------------------------------------------------------------------------------------------

_FENCE_LINE = re.compile(r"^\s*```[\w-]*\s*$", re.MULTILINE)


def parse_task_list(text: str) -> list[str]:
    """Parse new tasks from ``{"gorevler": [...]}``, a bare JSON array, or a numbered/bulleted list.

    Numbering and bullets are stripped, blank items dropped. In a plain list that has numbered or
    bulleted lines, only those lines (and their continuation lines) are items, so a heading such
    as "Yeni görevler:" before the list is kept as a separate item only when nothing is marked.
    Raises ParseError when nothing is left, for truncated JSON, or for non-string JSON items.
    """
    what = "task list"
    text = _require_text(text, what)
    unfenced = _FENCE_LINE.sub("", text).strip()

    if unfenced.startswith("["):
        value = _loads(unfenced)
        if value is None:
            raise ParseError(f"{what}: malformed or truncated JSON array {_preview(unfenced)}")
        items = _string_items(value, "gorevler", what)
    elif "{" in unfenced and (unfenced.startswith("{") or re.search(r'"\s*g[öo]revler\s*"', unfenced, re.I)):
        obj = _pick_object(unfenced, ("gorevler",), what)
        items = _string_items(_field(obj, "gorevler", what), "gorevler", what)
    else:
        lines = unfenced.splitlines()
        marked = [i for i, line in enumerate(lines) if _is_marked(line, bullets=True)]
        if marked:
            # Drop prose before the first marked line and after the last marked item's paragraph.
            tail_end = len(lines)
            for j in range(marked[-1] + 1, len(lines)):
                if not lines[j].strip():
                    tail_end = j
                    break
            block = "\n".join(lines[marked[0] : tail_end])
        else:
            block = unfenced
        items = _split_items(block)

    if not items:
        raise ParseError(f"{what}: no tasks found in {_preview(text.strip())}")
    return items


# --------------------------------------------------------------------------------------------
# Pairwise verdict (student_eval: which of two answers is better)
# --------------------------------------------------------------------------------------------

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
    text = _require_text(text, what)
    obj = _pick_object(text, ("kazanan",), what)
    raw = _field(obj, "kazanan", what)
    if not isinstance(raw, str) or turkish_lower(raw.strip()) not in _PAIRWISE_WORDS:
        raise ParseError(f"{what}: field 'kazanan' must be one of A, B, berabere, got {_preview(raw)}")
    gerekce = obj.get("gerekce", "")
    if not isinstance(gerekce, str):
        raise ParseError(f"{what}: field 'gerekce' must be a string, got {type(gerekce).__name__}")
    return PairwiseVerdict(kazanan=_PAIRWISE_WORDS[turkish_lower(raw.strip())], gerekce=gerekce.strip())
