"""Shared helpers of the parsers: the error type, and reading JSON objects and numbered lists out of
noisy model output (```json fences, prose around the object, raw newlines inside strings, trailing
commas, Turkish spellings of keys). Pure."""

from __future__ import annotations

import json
import re
from typing import Any

from anka_assets.text.normalize import dedup_key


class ParseError(ValueError):
    """A model output could not be parsed; the message says which field / value was wrong."""


_PREVIEW = 80


def preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 3] + "..."


def require_text(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise ParseError(f"{what}: expected model output as str, got {type(text).__name__}")
    if not text.strip():
        raise ParseError(f"{what}: empty model output")
    return text


def _key(name: str) -> str:
    """Canonical form of a JSON key: 'Adımlar' / 'kültürel uygunluk' → 'adimlar' / 'kulturel_uygunluk'."""
    return dedup_key(name).replace(" ", "_")


def normalise_keys(obj: dict[str, Any]) -> dict[str, Any]:
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


def loads(fragment: str) -> Any:
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
        value = loads(text[start:end])
        if isinstance(value, dict):
            objects.append(value)
            pos = end
        else:
            pos = start + 1
    return objects, truncated


def pick_object(text: str, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    """The first JSON object in text that has any of keys (after key normalisation)."""
    objects, truncated = _json_objects(text)
    normalised = [normalise_keys(obj) for obj in objects]
    for obj in normalised:
        if any(key in obj for key in keys):
            return obj
    if truncated:
        raise ParseError(f"{what}: truncated JSON (an object opened with '{{' is never closed)")
    if normalised:
        return normalised[0]  # validation names the missing field
    raise ParseError(f"{what}: no JSON object found in {preview(text.strip())}")


def field(obj: dict[str, Any], name: str, what: str) -> Any:
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


def strip_marker(line: str) -> str:
    stripped = _NUMBERING.sub("", line, count=1)
    if stripped == line:
        stripped = _BULLET.sub("", line, count=1)
    return stripped.strip()


def is_marked(line: str, bullets: bool) -> bool:
    return bool(_NUMBERING.match(line) or (bullets and _BULLET.match(line)))


def split_items(block: str) -> list[str]:
    """Split a numbered (or bulleted) block into items with their markers stripped.

    Unmarked lines continue the item above them (joined with a newline); text before the first
    marker is an item of its own. Blank lines and ``` fence lines are dropped. A block without any marker yields one item per non-empty line.
    """
    lines = [line for line in block.splitlines() if line.strip() and not line.strip().startswith("```")]
    if not lines:
        return []
    bullets = not any(_NUMBERING.match(line) for line in lines)
    if not any(is_marked(line, bullets) for line in lines):
        return [line.strip() for line in lines]
    items: list[list[str]] = []
    for line in lines:
        if is_marked(line, bullets) or not items:
            items.append([strip_marker(line) if is_marked(line, bullets) else line.strip()])
        else:
            items[-1].append(line.strip())
    out = ["\n".join(part for part in item if part).strip() for item in items]
    return [item for item in out if item]


def string_items(value: Any, field: str, what: str) -> list[str]:
    if not isinstance(value, list):
        raise ParseError(
            f"{what}: field {field!r} must be an array of strings, got {type(value).__name__} {preview(value)}"
        )
    items: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ParseError(
                f"{what}: {field}[{index}] must be a string, got {type(item).__name__} {preview(item)}"
            )
        stripped = strip_marker(item)
        if stripped:
            items.append(stripped)
    return items
