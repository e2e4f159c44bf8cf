"""KVKK (Law No. 6698) guard: may this prompt leave the machine for this endpoint? Pure.

Sending a prompt to a commercial, usually foreign, API is a transfer abroad (Art. 9). Only ``public``
prompts in which a fresh PII scan finds nothing may go to a ``commercial`` endpoint; a PII hit overrides
the label. A ``local`` endpoint may receive anything. An unknown locality is treated as commercial.

The scan is the recall-first ``egress`` mode of :func:`anka_assets.text.pii.find_pii` over EVERY string
the request carries: each message's content (plain or multi-part), name, tool calls and their
arguments, any other field, mapping keys and numbers (a T.C. Kimlik No may travel as a JSON integer),
and the string values of the request parameters (tool definitions, stop strings, ...). All of them
are scanned as one text joined by line breaks, so an identifier split across two parts is still one
digit run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from anka_assets.gateway.types import normalise_sensitivity
from anka_assets.text.pii import find_pii

__all__ = ["KvkkDecision", "decide_kvkk", "message_texts", "request_texts"]


@dataclass(frozen=True)
class KvkkDecision:
    allowed: bool
    reason: str
    pii_kinds: tuple[str, ...] = ()


_ENUM_VALUES = frozenset({"system", "user", "assistant", "tool", "developer", "function", "text", "image_url",
                          "input_audio", "file", "json_schema", "json_object", "object", "string", "array",
                          "integer", "number", "boolean", "null"})


def _strings(value: Any, numbers: bool, keys: list[str]) -> Iterator[str]:
    """String leaves in order (numbers too, if asked); mapping keys are collected into ``keys``
    so that they do not split a value's text from the next one's."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, (int, float)):
        if numbers:
            yield str(value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            keys.append(str(k))
            if k in ("role", "type") and isinstance(v, str) and v in _ENUM_VALUES:
                continue  # a fixed label between two parts would split a digit run
            yield from _strings(v, numbers, keys)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _strings(v, numbers, keys)
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")


_FIELD_NAMES = frozenset({"role", "content", "type", "text", "name", "tool_calls", "function", "arguments", "id",
                          "tool_call_id", "image_url", "url", "refusal"})


def message_texts(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every text a message list carries: contents (plain and multi-part), names, tool calls and their
    arguments, any other field, numbers, and unusual keys (after the values)."""
    out: list[str] = []
    keys: list[str] = []
    for message in messages:
        out.extend(_strings(message, True, keys))
    out.extend(k for k in keys if k not in _FIELD_NAMES)
    return out


def request_texts(messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any] | None = None) -> str:
    """One text of everything a request sends: message texts, then the strings of its parameters
    (numeric sampling parameters such as ``seed`` or ``max_tokens`` are no personal data)."""
    parts = message_texts(messages)
    if params:
        keys: list[str] = []
        parts.extend(_strings(params, False, keys))
        parts.extend(keys)
    return "\n".join(parts)


def decide_kvkk(
    locality: str | None,
    sensitivity: str | None,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any] | None = None,
) -> KvkkDecision:
    """Decide before any network I/O. Never raises for odd labels: unknown means most restricted."""
    loc = (locality or "").strip().lower()
    if loc == "local":
        return KvkkDecision(True, "local endpoint: data stays inside the organisation")

    label = normalise_sensitivity(sensitivity)
    pii_kinds = tuple(sorted({str(m.kind) for m in find_pii(request_texts(messages, params), mode="egress")}))

    reasons = []
    if loc != "commercial":
        reasons.append(f"locality {locality!r} is unknown and treated as commercial")
    if label != "public":
        reasons.append(
            f"sensitivity={label} is local-only (KVKK m. 9: no transfer to a commercial endpoint)"
        )
    if pii_kinds:
        reasons.append("personal data in prompt: " + ", ".join(pii_kinds))
    if label != "public" or pii_kinds:
        return KvkkDecision(False, "; ".join(reasons), pii_kinds)
    reasons.append("sensitivity=public and no personal data found: commercial endpoint allowed")
    return KvkkDecision(True, "; ".join(reasons), ())
