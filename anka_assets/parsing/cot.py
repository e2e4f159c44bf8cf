"""Teacher chain of thought (``cot_answer``): ``{"adimlar": [...], "cevap": "..."}`` or, for backends
without structured output, the tagged form ``<adimlar>1. ... 2. ...</adimlar><cevap>...</cevap>``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from anka_assets.parsing.jsonish import (
    ParseError,
    field,
    pick_object,
    preview,
    require_text,
    split_items,
    string_items,
)

COT_MAX_STEPS = 12
COT_STEP_MAX_CHARS = 600
COT_ANSWER_MAX_CHARS = 1500

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


@dataclass(frozen=True)
class ParsedCot:
    """A teacher answer: reasoning steps (numbering stripped) and the final answer."""

    steps: tuple[str, ...]
    answer: str
    format: str  # "json" | "tagged"


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
    steps = split_items(steps_match.group(1))
    if not steps:
        raise ParseError(f"{what}: field 'adimlar' is empty")
    answer = answer_match.group(1).strip()
    if not answer:
        raise ParseError(f"{what}: field 'cevap' is empty")
    return ParsedCot(steps=tuple(steps), answer=answer, format="tagged")


def _parse_cot_json(text: str) -> ParsedCot:
    what = "chain of thought (JSON)"
    obj = pick_object(text, ("adimlar", "cevap"), what)
    steps = string_items(field(obj, "adimlar", what), "adimlar", what)
    if not steps:
        raise ParseError(f"{what}: field 'adimlar' is empty")
    answer = field(obj, "cevap", what)
    if isinstance(answer, (int, float)) and not isinstance(answer, bool) and math.isfinite(answer):
        answer = str(answer)  # a bare number is an answer; the schema asks for a string
    if not isinstance(answer, str):
        raise ParseError(f"{what}: field 'cevap' must be a string, got {type(answer).__name__} {preview(answer)}")
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
    text = require_text(text, "chain of thought")
    if _TAGGED_ANY.search(text):
        return _parse_cot_tagged(text)
    return _parse_cot_json(text)
