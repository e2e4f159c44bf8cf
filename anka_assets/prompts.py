"""Prompt templates: Turkish Jinja files in `anka_assets/prompts/`, each with a version.

A template declares `{#- version: NAME ... #}` and defines two macros, `system()` and `user(...)`.
Its version is the declared name plus a hash of the file, so an edited template is a new version
even if nobody bumped the name: the gateway's cache key includes it, and only the calls that use
the changed template are made again. `ANKA_PROMPTS_DIR` points at a folder of overriding templates.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jinja2

_VERSION = re.compile(r"\{#-?\s*version:\s*([A-Za-z0-9_.\-]+)")


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


def load_prompt(name: str) -> PromptTemplate:
    """Load `prompts/<name>.jinja2` (or its override) with its version."""
    filename = name if name.endswith(".jinja2") else f"{name}.jinja2"
    source = _read(filename)
    match = _VERSION.search(source)
    if not match:
        raise ValueError(f"prompt template {filename} declares no version ('{{#- version: NAME #}}' on top)")
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:8]
    return PromptTemplate(name=filename, version=f"{match.group(1)}+{digest}", source=source)
