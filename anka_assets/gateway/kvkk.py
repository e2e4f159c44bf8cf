"""KVKK (Law No. 6698) guard: may this prompt leave the machine for this endpoint? Pure.

Sending a prompt to a commercial, usually foreign, API is a transfer abroad (Art. 9). Only ``public``
prompts in which a fresh PII scan finds nothing may go to a ``commercial`` endpoint; a PII hit overrides
the label. A ``local`` endpoint may receive anything. An unknown locality is treated as commercial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from anka_assets.gateway.types import normalise_sensitivity
from anka_assets.text.pii import find_pii

__all__ = ["KvkkDecision", "decide_kvkk", "message_texts"]


@dataclass(frozen=True)
class KvkkDecision:
    allowed: bool
    reason: str
    pii_kinds: tuple[str, ...] = ()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if k in ("role", "type"):
                continue
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def message_texts(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every text a message list carries: string contents, text parts of multi-part contents, names."""
    out: list[str] = []
    for message in messages:
        out.extend(_strings(message))
    return out


def decide_kvkk(
    locality: str | None, sensitivity: str | None, messages: Sequence[Mapping[str, Any]]
) -> KvkkDecision:
    """Decide before any network I/O. Never raises for odd labels: unknown means most restricted."""
    loc = (locality or "").strip().lower()
    if loc == "local":
        return KvkkDecision(True, "local endpoint: data stays inside the organisation")

    label = normalise_sensitivity(sensitivity)
    kinds: set[str] = set()
    for text in message_texts(messages):
        for match in find_pii(text):
            kinds.add(str(match.kind))
    pii_kinds = tuple(sorted(kinds))

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
