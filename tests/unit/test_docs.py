"""The documentation stays readable: no Markdown file balloons, no paragraph is pasted over and over.

A bad merge once inserted one four-line paragraph between every character of ARCHITECTURE.md (2.6 MB);
these checks would have failed on it.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARKDOWN = sorted([*ROOT.glob("docs/**/*.md"), ROOT / "README.md"])
MAX_BYTES = 200_000


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_is_a_sane_size(path: Path) -> None:
    size = path.stat().st_size
    assert size < MAX_BYTES, f"{path.relative_to(ROOT)} is {size} bytes; a document this big was probably corrupted"


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_paragraph_repeats(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    # Paragraphs outside code fences; a long line that appears again is a pasted duplicate.
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    lines = [line.strip() for line in prose.splitlines() if len(line.strip()) >= 60]
    repeated = {line: n for line, n in Counter(lines).items() if n > 1}
    assert not repeated, f"{path.relative_to(ROOT)} repeats lines: {list(repeated)[:3]}"


DOCS = [ROOT / "README.md", ROOT / "docs" / "ARCHITECTURE.md"]
_FILE_TOKEN = re.compile(r"`([\w./-]+\.(?:py|md|yaml|yml|jinja2|toml|json|sh))`")
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
_SEARCHED = ("anka_assets", "tests", "bench", "docs", "deploy", ".ci")


def _exists(token: str) -> bool:
    """Inside the repository: a path from its root or from the package, or a file name found in it."""
    if token.startswith(("../", "/")):
        return False  # outside the repository: a reader of a clone does not have it
    if (ROOT / token).exists() or (ROOT / "anka_assets" / token).exists():
        return True
    name = Path(token).name
    return any(any((ROOT / top).rglob(name)) for top in _SEARCHED if (ROOT / top).exists())


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_and_link_named_exists(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    generated = ("release.json", "dataset_dict.json", "adapter_config.json", "anka_training.json",
                 "anka_toy.json", "dagster.yaml", "workspace.yaml", "README.md", "pyproject.toml")
    missing = sorted({t for t in _FILE_TOKEN.findall(text)
                      if not t.startswith(("data/", "$", "~")) and Path(t).name not in generated and not _exists(t)})
    assert not missing, f"{path.relative_to(ROOT)} names files that do not exist: {missing}"
    links = [t for t in _LINK.findall(text) if "://" not in t]
    broken = [t for t in links if not (path.parent / t).resolve().is_relative_to(ROOT)
              or not (path.parent / t).exists()]
    assert not broken, f"{path.relative_to(ROOT)} links outside the repository or to nothing: {broken}"


def test_the_asset_graph_in_architecture_names_every_asset_and_only_those() -> None:
    from anka_assets.definitions import defs

    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    graph = text[text.index("## The asset graph"):]
    graph = graph[graph.index("```"):]
    graph = graph[: graph.index("```", 3)]
    named = set(re.findall(r"\b[a-z]+_[a-z_]+\b", graph))
    assets = {k.path[-1] for a in defs.assets for k in getattr(a, "keys", [getattr(a, "key", None)]) if k}
    assert assets <= named, f"assets missing from the graph: {sorted(assets - named)}"
    assert named <= assets, f"the graph names what is no asset: {sorted(named - assets)}"
