"""Prompt templates: Turkish Jinja files in `anka_assets/prompts/`, each with a version.

A template declares `{#- version: NAME ... #}` and defines two macros, `system()` and `user(...)`.
Its version is the declared name plus a hash of the file, so an edited template is a new version
even if nobody bumped the name: the gateway's cache key includes it, and only the calls that use
the changed template are made again. `ANKA_PROMPTS_DIR` points at a folder of overriding templates.

A template may hold slots, ``{# slot: NAME ... #}``, filled before anything else with text made from the
code: the judge's rubric and JSON line come from `anka_assets.judge_criteria` (:func:`prompt_slots`).
The version is the hash of the filled source, so it changes exactly when the text a model sees does
(a new criterion is a new judge version; today's criteria fill in the same text as before the slots).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jinja2

from anka_assets.judge_criteria import prompt_slots

_VERSION = re.compile(r"\{#-?\s*version:\s*([A-Za-z0-9_.\-]+)")
_SLOT = re.compile(r"\{#\s*slot:\s*([a-z_]+)[^#]*#\}")


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    source: str

    @property
    def _module(self):
        return _compile(self.source)

    def messages(self, **variables) -> list[dict[str, str]]:
        module = self._module
        return [
            {"role": "system", "content": str(module.system()).strip()},
            {"role": "user", "content": str(module.user(**variables)).strip()},
        ]


@lru_cache(maxsize=32)
def _compile(source: str):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
    return env.from_string(source).module


def _read(name: str) -> str:
    override = os.environ.get("ANKA_PROMPTS_DIR")
    if override and (Path(override) / name).is_file():
        return (Path(override) / name).read_text(encoding="utf-8")
    return resources.files("anka_assets").joinpath("prompts", name).read_text(encoding="utf-8")


def fill_slots(source: str, slots: Mapping[str, str], filename: str) -> str:
    """``source`` with every ``{# slot: NAME #}`` replaced by ``slots[NAME]``. Raises ValueError on an
    unknown slot, naming the file."""

    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in slots:
            raise ValueError(f"prompt template {filename}: unknown slot {match.group(1)!r} "
                             f"(known: {', '.join(sorted(slots))})")
        return slots[match.group(1)]

    return _SLOT.sub(fill, source)


def load_prompt(name: str, slots: Mapping[str, str] | None = None) -> PromptTemplate:
    """Load `prompts/<name>.jinja2` (or its override), its slots filled (by default from the judge
    criteria), with its version."""
    filename = name if name.endswith(".jinja2") else f"{name}.jinja2"
    source = fill_slots(_read(filename), prompt_slots() if slots is None else slots, filename)
    match = _VERSION.search(source)
    if not match:
        raise ValueError(f"prompt template {filename} declares no version ('{{#- version: NAME #}}' on top)")
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:8]
    return PromptTemplate(name=filename, version=f"{match.group(1)}+{digest}", source=source)
