"""Reading an SFT release (written by `sft_export`): which release, and its JSONL files. Pure I/O.

The `sft_export` table has one row per exported example with `release_version` and `release_dir`;
the files in `release_dir` are the contract (docs/CONTRACTS.md): `train.jsonl` / `validation.jsonl`
(`messages`), `prompt_completion/{train,validation}.jsonl` (`prompt` / `completion`) and `eval.jsonl`
(held-out tasks with `prompt` and an optional `reference`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl


class ReleaseError(ValueError):
    """The release is missing or does not follow the contract; the message names file, line and field."""


@dataclass(frozen=True)
class Release:
    version: str
    directory: Path

    def path(self, name: str) -> Path:
        return self.directory / name


def release_from_export(sft_export: pl.DataFrame) -> Release:
    """The one release the `sft_export` table describes."""
    for column in ("release_version", "release_dir"):
        if column not in sft_export.columns:
            raise ReleaseError(f"sft_export table: missing column {column!r} (columns: {', '.join(sft_export.columns)})")
    pairs = sft_export.select("release_version", "release_dir").unique()
    if pairs.is_empty():
        raise ReleaseError("sft_export table is empty: there is no release to train on")
    if len(pairs) > 1:
        raise ReleaseError(f"sft_export table describes {len(pairs)} releases, expected one: {pairs.rows()}")
    version, directory = pairs.row(0)
    path = Path(directory)
    if not path.is_dir():
        raise ReleaseError(f"sft_export release {version!r}: release_dir {directory!r} does not exist")
    return Release(version=str(version), directory=path)


def _messages(value: Any, where: str, field: str, roles: tuple[str, ...]) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise ReleaseError(f"{where}: field {field!r} must be a non-empty list of messages")
    out = []
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise ReleaseError(f"{where}: field {field}[{i}] must be an object with a string 'content'")
        if message.get("role") not in roles:
            raise ReleaseError(f"{where}: field {field}[{i}].role is {message.get('role')!r}, expected one of {roles}")
        out.append({"role": message["role"], "content": message["content"]})
    return out


def read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a bad line or a missing field raises ReleaseError naming file and line."""
    if not path.is_file():
        raise ReleaseError(f"release file {path} does not exist")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ReleaseError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise ReleaseError(f"{path}:{number}: expected a JSON object")
            for field in required:
                if field not in row:
                    raise ReleaseError(f"{path}:{number}: missing field {field!r}")
            rows.append(row)
    return rows


def training_rows(release: Release, split: str, loss_mode: str) -> list[dict[str, Any]]:
    """Rows for SFTTrainer: `prompt`/`completion` (completion-only loss) or `messages` (full loss)."""
    if split not in ("train", "validation"):
        raise ValueError(f"split must be train or validation, got {split!r}")
    if loss_mode == "completion_only":
        path = release.path(f"prompt_completion/{split}.jsonl")
        rows = read_jsonl(path, ("prompt", "completion", "domain"))
        return [
            {
                "prompt": _messages(r["prompt"], f"{path}:{i}", "prompt", ("system", "user")),
                "completion": _messages(r["completion"], f"{path}:{i}", "completion", ("assistant",)),
            }
            for i, r in enumerate(rows, start=1)
        ]
    if loss_mode == "messages":
        path = release.path(f"{split}.jsonl")
        rows = read_jsonl(path, ("messages", "domain"))
        return [{"messages": _messages(r["messages"], f"{path}:{i}", "messages", ("system", "user", "assistant"))}
                for i, r in enumerate(rows, start=1)]
    raise ValueError(f"loss_mode must be 'completion_only' or 'messages', got {loss_mode!r}")


@dataclass(frozen=True)
class EvalTask:
    domain: str
    seed_id: str
    instruction: str
    prompt: list[dict[str, str]]
    reference: str | None
    sensitivity: str | None = None  #: the seed's KVKK label; missing (older releases) = confidential


def eval_tasks(release: Release) -> list[EvalTask]:
    """Held-out tasks of `eval.jsonl`."""
    path = release.path("eval.jsonl")
    rows = read_jsonl(path, ("domain", "seed_id", "instruction", "prompt", "reference"))
    tasks = []
    for i, r in enumerate(rows, start=1):
        reference = r["reference"]
        if reference is not None and not isinstance(reference, str):
            raise ReleaseError(f"{path}:{i}: field 'reference' must be a string or null")
        tasks.append(EvalTask(domain=str(r["domain"]), seed_id=str(r["seed_id"]), instruction=str(r["instruction"]),
                              prompt=_messages(r["prompt"], f"{path}:{i}", "prompt", ("system", "user")),
                              reference=reference, sensitivity=r.get("sensitivity")))
    return tasks


def release_texts(release: Release) -> list[str]:
    """Every user and assistant text of the train split (for the toy tokenizer)."""
    path = release.path("train.jsonl")
    if not path.is_file():
        return []
    return [m["content"] for r in read_jsonl(path, ("messages",)) for m in r["messages"] if isinstance(m, dict)
            and isinstance(m.get("content"), str)]
