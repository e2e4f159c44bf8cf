"""Seed expansion (``task_list``): ``{"gorevler": [...]}``, a bare JSON array, or a numbered / bulleted
plain list."""

from __future__ import annotations

import re
from typing import Any

from anka_assets.parsing.jsonish import (
    ParseError,
    field,
    is_marked,
    loads,
    pick_object,
    preview,
    require_text,
    split_items,
    string_items,
)

TASK_LIST_MAX_ITEMS = 50
TASK_MAX_CHARS = 600  #: an expanded task's text (seed instructions are 10..2000 chars; new ones are short)

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



_FENCE_LINE = re.compile(r"^\s*```[\w-]*\s*$", re.MULTILINE)


def parse_task_list(text: str) -> list[str]:
    """Parse new tasks from ``{"gorevler": [...]}``, a bare JSON array, or a numbered/bulleted list.

    Numbering and bullets are stripped, blank items dropped. In a plain list that has numbered or
    bulleted lines, only those lines (and their continuation lines) are items, so a heading such
    as "Yeni görevler:" before the list is kept as a separate item only when nothing is marked.
    Raises ParseError when nothing is left, for truncated JSON, or for non-string JSON items.
    """
    what = "task list"
    text = require_text(text, what)
    unfenced = _FENCE_LINE.sub("", text).strip()

    if unfenced.startswith("["):
        value = loads(unfenced)
        if value is None:
            raise ParseError(f"{what}: malformed or truncated JSON array {preview(unfenced)}")
        items = string_items(value, "gorevler", what)
    elif "{" in unfenced and (unfenced.startswith("{") or re.search(r'"\s*g[öo]revler\s*"', unfenced, re.I)):
        obj = pick_object(unfenced, ("gorevler",), what)
        items = string_items(field(obj, "gorevler", what), "gorevler", what)
    else:
        lines = unfenced.splitlines()
        marked = [i for i, line in enumerate(lines) if is_marked(line, bullets=True)]
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
        items = split_items(block)

    if not items:
        raise ParseError(f"{what}: no tasks found in {preview(text.strip())}")
    return items
