"""Decontamination against the held-out eval tasks and the release's blocking checks (pure: lists of
problems, empty when fine)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from anka_assets.release.layout import example_text
from anka_assets.text.normalize import dedup_key
from anka_assets.text.pii import find_pii

# The KVKK guard's own scan (recall-first egress mode) checks every exported text.
PII_SCAN: Callable[[str], list] = functools.partial(find_pii, mode="egress")


def _words(text: str) -> list[str]:
    return dedup_key(text).split()


def _squeezed(text: str) -> str:
    return dedup_key(text).replace(" ", "")


@dataclass
class EvalIndex:
    """Word n-grams (after Turkish folding) and character windows of the eval tasks' text.

    Word 8-grams are what open-r1 and s1 use; Turkish suffixes change the words of a paraphrase, so a
    character window (on the folded text without spaces) also catches a long shared stretch."""

    ngram: int = 8
    window: int = 50

    def __post_init__(self) -> None:
        self._ngrams: dict[tuple[str, ...], str] = {}
        self._windows: dict[str, str] = {}

    def add(self, ref: str, text: str) -> None:
        words = _words(text)
        for i in range(max(len(words) - self.ngram + 1, 0)):
            self._ngrams.setdefault(tuple(words[i : i + self.ngram]), ref)
        if len(words) < self.ngram and words:
            self._ngrams.setdefault(tuple(words), ref)  # a short task must appear whole
        s = _squeezed(text)
        for i in range(max(len(s) - self.window + 1, 0)):
            self._windows.setdefault(s[i : i + self.window], ref)
        if 0 < len(s) < self.window:
            self._windows.setdefault(s, ref)

    def hit(self, text: str) -> tuple[str, str] | None:
        """(eval seed id, "word_ngram" | "char_window") of the first overlap, or None."""
        words = _words(text)
        short = {len(k) for k in self._ngrams}
        for n in short:
            for i in range(max(len(words) - n + 1, 0)):
                ref = self._ngrams.get(tuple(words[i : i + n]))
                if ref is not None:
                    return ref, "word_ngram"
        s = _squeezed(text)
        for n in {len(k) for k in self._windows}:
            for i in range(max(len(s) - n + 1, 0)):
                ref = self._windows.get(s[i : i + n])
                if ref is not None:
                    return ref, "char_window"
        return None



def chat_problems(messages: Any, *, completion: bool = True) -> list[str]:
    """Roles and order ([system], user[, assistant]) and non-empty string content."""
    if not isinstance(messages, list) or not messages:
        return ["not a non-empty list of messages"]
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    expected = ["user", "assistant"] if completion else ["user"]
    if roles not in (expected, ["system", *expected]):
        return [f"roles {roles} (expected {'[system,] ' + ', '.join(expected)})"]
    problems = []
    for i, m in enumerate(messages):
        if set(m) != {"role", "content"}:
            problems.append(f"message {i} has keys {sorted(m)}")
        content = m.get("content")
        if not isinstance(content, str) or not content.strip():
            problems.append(f"message {i} ({m.get('role')}) has empty content")
    return problems


def invalid_chats(files: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Every row of every release file whose chat is malformed: [{file, row, problems}]."""
    bad = []
    for name, rows in files.items():
        for i, row in enumerate(rows):
            if "messages" in row:
                problems = chat_problems(row["messages"])
            elif "completion" in row:
                problems = chat_problems(list(row["prompt"]) + list(row["completion"]))
            else:
                problems = chat_problems(row["prompt"], completion=False)
                if row.get("reference") is not None:
                    problems += chat_problems(list(row["prompt"]) + [{"role": "assistant", "content": row["reference"]}])
            if problems:
                bad.append({"file": name, "row": i, "problems": problems})
    return bad


def _texts(row: Mapping[str, Any]) -> Iterable[str]:
    for key in ("messages", "prompt", "completion"):
        for m in row.get(key) or []:
            yield m["content"]
    for key in ("instruction", "reference"):
        if isinstance(row.get(key), str):
            yield row[key]


def pii_findings(files: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Personal data the guard's scan finds in any exported text: [{file, row, kinds}] (never the text)."""
    found = []
    for name, rows in files.items():
        for i, row in enumerate(rows):
            kinds = sorted({m.kind for text in _texts(row) for m in PII_SCAN(text or "")})
            if kinds:
                found.append({"file": name, "row": i, "kinds": kinds})
    return found


def eval_overlaps(train_rows: Sequence[Mapping[str, Any]], eval_rows: Sequence[Mapping[str, Any]],
                  index: EvalIndex) -> list[dict[str, Any]]:
    """Training rows that share a seed with, or contain text of, an eval task."""
    eval_ids = {r["seed_id"] for r in eval_rows}
    out = []
    for i, row in enumerate(train_rows):
        if row["seed_id"] in eval_ids:
            out.append({"row": i, "seed_id": row["seed_id"], "how": "same_seed"})
            continue
        hit = index.hit(example_text(row))
        if hit is not None:
            out.append({"row": i, "seed_id": row["seed_id"], "eval_seed_id": hit[0], "how": hit[1]})
    return out

