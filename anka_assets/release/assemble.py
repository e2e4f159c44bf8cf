"""One release assembled from its rows: the rows kept (dedup, decontamination), its files, and the facts
its card, manifest and version are made of. Pure."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from anka_assets.cleaning import DedupSettings, dedup
from anka_assets.release.card import dataset_card
from anka_assets.release.checks import EvalIndex
from anka_assets.release.files import release_version
from anka_assets.release.layout import Layout, example, example_text, prompt_completion


@dataclass
class Selection:
    """The (row, example) pairs kept for the release and this export's drops, overall and per domain."""

    keep: list[tuple[dict, dict]]
    dropped: Counter = field(default_factory=Counter)
    by_domain: dict[str, Counter] = field(default_factory=dict)

    def drop(self, row: dict, why: str) -> None:
        self.dropped[why] += 1
        self.by_domain.setdefault(row["domain"], Counter())[why] += 1


def deduplicated(rows: list[dict], layout: Layout, settings: DedupSettings) -> Selection:
    """Cross-domain exact and near duplicates dropped (the first in export order is kept)."""
    examples = [example(r, layout) for r in rows]
    reasons, _ = dedup([example_text(e) for e in examples], settings)
    selection = Selection(keep=[])
    for r, e, why in zip(rows, examples, reasons):
        if why:
            selection.drop(r, why)
        else:
            selection.keep.append((r, e))
    return selection


def decontaminate(selection: Selection, eval_ids: set[str], index: EvalIndex) -> None:
    """Drop kept rows of an eval seed or overlapping an eval task's text (`contaminated`)."""
    clean = []
    for r, e in selection.keep:
        if r["seed_id"] in eval_ids or index.hit(example_text(e)) is not None:
            selection.drop(r, "contaminated")
        else:
            clean.append((r, e))
    selection.keep = clean


def release_files(keep: list[tuple[dict, dict]], evals: list[dict]) -> dict[str, list[dict]]:
    """{file name: rows}: train / validation as messages and as prompt_completion, and eval."""
    keep = sorted(keep, key=lambda re: (re[0]["domain"], re[0]["seed_id"], re[0]["sample_index"]))
    files: dict[str, list[dict]] = {"eval": evals}
    for split in ("train", "validation"):
        files[split] = [e for r, e in keep if r["split"] == split]
        files[f"prompt_completion/{split}"] = [prompt_completion(e) for e in files[split]]
    return files


def split_counts(files: dict[str, list[dict]]) -> dict[str, Counter]:
    counts: dict[str, Counter] = {}
    for name in ("train", "validation", "eval"):
        for r in files[name]:
            counts.setdefault(r["domain"], Counter())[name] += 1
    return counts


@dataclass
class Release:
    """Everything one release states: its files and the facts its card, manifest and version are made of."""

    name: str
    license: str
    layout: Layout
    files: dict[str, list[dict]]
    settings: dict[str, Any]
    models: dict[str, Any]
    kvkk: dict[str, Any]
    dropped: dict[str, int]
    funnel: dict[str, dict[str, Any]]
    covered: list[str]
    missing: dict[str, str]

    @property
    def counts(self) -> dict[str, Counter]:
        return split_counts(self.files)

    def version(self) -> str:
        # the card's funnel and coverage are part of the version: a changed card is a new release
        return release_version(self.files, {**self.settings, "models": self.models, "name": self.name,
                                            "license": self.license, "funnel": self.funnel,
                                            "domains_covered": self.covered, "domains_missing": self.missing})

    def card(self, version: str) -> str:
        return dataset_card(version=version, name=self.name, license=self.license, files=self.files,
                            counts=self.counts, layout=self.layout, settings=self.settings, kvkk=self.kvkk,
                            models=self.models, dropped=self.dropped, funnel=self.funnel, covered=self.covered,
                            missing=self.missing)

    def manifest(self, version: str) -> dict[str, Any]:
        return {"version": version, "name": self.name,
                "counts": {d: dict(c) for d, c in sorted(self.counts.items())},
                "splits": {k: len(v) for k, v in self.files.items()}, "layout": self.layout.describe(),
                "settings": self.settings, "models": self.models, "kvkk": self.kvkk,
                "dropped_at_export": self.dropped, "domains_covered": self.covered,
                "domains_missing": self.missing, "funnel": self.funnel}
