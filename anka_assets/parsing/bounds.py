"""How long a bounded structured answer can be: `schema_max_chars` and `response_format_max_tokens`.

Free text in every schema is bounded (``maxLength`` / ``maxItems``): a server that enforces the schema
(vLLM's structured outputs) then cannot let an answer run on inside a string, and `schema_max_chars`
gives the longest compact answer, from which `model_tasks` sizes ``max_tokens``. The bounds are generous
for what each field is for; a longer answer would be cut by the grammar, not by the token limit. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


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

