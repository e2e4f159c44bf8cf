"""Canonical JSON, cache keys and payload hashes. Pure."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from anka_assets.gateway.types import ModelRequest

__all__ = ["canonical_json", "cache_key", "request_body", "payload_sha256"]


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept as is, NaN refused: equal values give equal strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_key(model: str, request: ModelRequest) -> str:
    """sha256 of (model, messages, params, template_version, sample_index, repair_attempt).

    Seed id and sensitivity are not part of the key: the same prompt from two seeds is the same call.
    """
    return _sha256(
        canonical_json(
            {
                "model": model,
                "messages": list(request.messages),
                "params": dict(request.params),
                "template_version": request.template_version,
                "sample_index": int(request.sample_index),
                "repair_attempt": int(request.repair_attempt),
            }
        )
    )


def request_body(model: str, request: ModelRequest) -> dict[str, Any]:
    """The chat-completions body that goes on the wire (OpenAI format)."""
    return {"model": model, "messages": [dict(m) for m in request.messages], **dict(request.params)}


def payload_sha256(model: str, request: ModelRequest) -> str:
    """sha256 of the canonical request payload: lets an auditor prove what was sent without storing it."""
    return _sha256(canonical_json(request_body(model, request)))
