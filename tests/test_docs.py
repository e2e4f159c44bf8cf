"""The documentation stays readable: no Markdown file balloons, no paragraph is pasted over and over.

A bad merge once inserted one four-line paragraph between every character of ARCHITECTURE.md (2.6 MB);
these checks would have failed on it.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
