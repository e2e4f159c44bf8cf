"""The release on disk: its content-addressed version and its files, written atomically.

The version is content-addressed: "r-" + 12 hex of sha256 over the canonical rows and settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from anka_assets.release.layout import SPLITS

def canonical(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def release_version(files: Mapping[str, Sequence[Mapping[str, Any]]], settings: Mapping[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(canonical(settings).encode("utf-8"))
    for name in sorted(files):
        h.update(f"\x1e{name}\x1e".encode())
        for row in files[name]:
            h.update(canonical(row).encode("utf-8"))
            h.update(b"\n")
    return "r-" + h.hexdigest()[:12]


def jsonl(rows: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def features():
    """(chat features, eval features): the `datasets` schema of the release's tables."""
    import datasets

    msg = datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")})
    side = {"domain": datasets.Value("string"), "seed_id": datasets.Value("string"),
            "sample_index": datasets.Value("int64"), "teacher_model": datasets.Value("string"),
            "judge_model": datasets.Value("string"), "dogruluk": datasets.Value("int64"),
            "kulturel_uygunluk": datasets.Value("int64"), "completion_tokens": datasets.Value("int64"),
            "content_hash": datasets.Value("string")}
    chat = datasets.Features({"messages": msg, **side})
    evals = datasets.Features({"domain": datasets.Value("string"), "seed_id": datasets.Value("string"),
                               "instruction": datasets.Value("string"), "prompt": msg,
                               "reference": datasets.Value("string"), "sensitivity": datasets.Value("string")})
    return chat, evals


def write_release(root: Path, version: str, files: Mapping[str, Sequence[Mapping[str, Any]]],
                  card: str, manifest: dict[str, Any]) -> tuple[Path, bool]:
    """Write the release into `root/version/` (temp dir, then one atomic rename).

    Returns (release dir, written?). An existing complete release of that version is left untouched."""
    import datasets
    import polars as pl

    final = root / version
    if (final / "release.json").exists():
        return final, False
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{version}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "prompt_completion").mkdir(parents=True)
    (tmp / "parquet").mkdir()
    for split in SPLITS:
        (tmp / f"{split}.jsonl").write_text(jsonl(files[split]), encoding="utf-8")
        (tmp / "prompt_completion" / f"{split}.jsonl").write_text(
            jsonl(files[f"prompt_completion/{split}"]), encoding="utf-8")
    (tmp / "eval.jsonl").write_text(jsonl(files["eval"]), encoding="utf-8")
    chat, evals = features()

    def table(rows, features):  # column-wise, so an empty split keeps its columns
        return datasets.Dataset.from_dict({k: [r[k] for r in rows] for k in features}, features=features)

    dd = datasets.DatasetDict({"train": table(files["train"], chat), "validation": table(files["validation"], chat),
                               "eval": table(files["eval"], evals)})
    for split, ds in dd.items():
        pl.from_arrow(ds.data.table).write_parquet(tmp / "parquet" / f"{split}.parquet")
    dd.save_to_disk(str(tmp / "hf"))
    (tmp / "README.md").write_text(card, encoding="utf-8")
    manifest = {**manifest, "files": {
        str(p.relative_to(tmp)): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}}
    (tmp / "release.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    try:
        os.rename(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another writer won the race with the same content
        if not (final / "release.json").exists():
            raise
        return final, False
    return final, True

