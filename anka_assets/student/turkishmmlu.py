"""TurkishMMLU through lm-eval-harness's `turkishmmlu` task files, from a local copy of the data.

lm-eval (extra `turkishmmlu`) ships one task file per subject (`turkishmmlu_biology`, ...): the
prompt (`Soru: ... A. ... E. ... Cevap:`), the five letter choices, the `acc` metric, and
`dataset_path: AYueksel/TurkishMMLU`, a hub download this project never makes. A local copy is a
folder laid out like that hub repository (what `huggingface-cli download --repo-type dataset
AYueksel/TurkishMMLU --local-dir <folder>` leaves):

    <folder>/test/TurkishMMLU_<Subject>.json    required per subject evaluated
    <folder>/dev/TurkishMMLU_<Subject>.json     optional (the few-shot pool)

`<Subject>` is the task file's `dataset_name` with `_` or spaces (`Religion and Ethics`). Each file
is a JSON array (or JSON lines) of `{"question": str, "choices": [5 str], "answer": "A".."E"}`.
Each subject's task file is loaded as lm-eval has it and only its data source is replaced (the
`json` builder over those files), so prompt, choices and metric stay lm-eval's. Subjects without a
test file are left out and named in the result; a copy with none is an error.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from anka_assets.student.deps import require

LETTERS = ("A", "B", "C", "D", "E")
FIELDS = ("question", "choices", "answer")


class TurkishMMLUDataError(ValueError):
    """A row of the local copy does not have the shape lm-eval's task files read."""


def subject_file(local_path: Path, split: str, dataset_name: str) -> Path | None:
    """The copy's file for one subject and split (`Religion_and_Ethics` or `Religion and Ethics`)."""
    for name in (dataset_name.replace("_", " "), dataset_name):
        path = Path(local_path) / split / f"TurkishMMLU_{name}.json"
        if path.is_file():
            return path
    return None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of one file (a JSON array or JSON lines), checked field by field; errors name file, row, field."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        rows = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise TurkishMMLUDataError(f"{path}: line {number} is not JSON ({exc.msg})") from exc
    if not rows:
        raise TurkishMMLUDataError(f"{path}: no rows")
    for index, row in enumerate(rows):
        where = f"{path}: row {index}"
        if not isinstance(row, dict):
            raise TurkishMMLUDataError(f"{where}: expected an object with {', '.join(FIELDS)}")
        missing = [f for f in FIELDS if f not in row]
        if missing:
            raise TurkishMMLUDataError(f"{where}: field {missing[0]!r} is missing")
        if not isinstance(row["question"], str) or not row["question"].strip():
            raise TurkishMMLUDataError(f"{where}: field 'question' must be a non-empty string")
        choices = row["choices"]
        if not isinstance(choices, list) or len(choices) != len(LETTERS) or not all(isinstance(c, str) for c in choices):
            raise TurkishMMLUDataError(f"{where}: field 'choices' must be a list of {len(LETTERS)} strings "
                                       f"(the task file prints options A-E)")
        if not isinstance(row["answer"], str) or row["answer"].strip() not in LETTERS:
            raise TurkishMMLUDataError(f"{where}: field 'answer' must be one of {', '.join(LETTERS)}, "
                                       f"got {row['answer']!r}")
    return rows


def local_tasks(manager: Any, local_path: Path) -> tuple[list[dict[str, Any]], dict[str, int], list[str]]:
    """lm-eval's turkishmmlu task configs re-pointed at the local copy.

    Returns (task configs, items per task, subjects without a test file)."""
    from lm_eval.tasks._yaml_loader import load_yaml  # the loader lm-eval's TaskManager uses (pinned 0.4.13)

    names = sorted(n for n in manager.all_subtasks
                   if n.startswith("turkishmmlu_") and not n.startswith("turkishmmlu_cot_"))
    if not names:
        raise RuntimeError("this lm-eval has no turkishmmlu task files (lm-eval 0.4.13 ships them)")
    configs: list[dict[str, Any]] = []
    items: dict[str, int] = {}
    missing: list[str] = []
    for name in names:
        cfg = dict(load_yaml(manager.task_index[name].yaml_path, resolve_func=True))
        cfg.pop("tag", None)  # the task stands alone; the tag would pull in the hub-backed siblings
        test = subject_file(local_path, cfg["test_split"], cfg["dataset_name"])
        if test is None:
            missing.append(cfg["dataset_name"])
            continue
        files = {cfg["test_split"]: str(test)}
        items[name] = len(read_rows(test))
        dev = subject_file(local_path, cfg.get("fewshot_split") or "dev", cfg["dataset_name"])
        if dev is not None:
            read_rows(dev)
            files[cfg["fewshot_split"]] = str(dev)
        else:
            cfg["fewshot_split"] = None  # zero-shot only: lm-eval would otherwise look the split up
        cfg.update(dataset_path="json", dataset_name=None, dataset_kwargs={"data_files": files})
        configs.append(cfg)
    if not configs:
        expected = ", ".join(f"test/TurkishMMLU_{s.replace('_', ' ')}.json" for s in missing[:3])
        raise FileNotFoundError(f"turkishmmlu_path {str(local_path)!r} has no TurkishMMLU test file "
                                f"(expected files such as {expected})")
    return configs, items, missing


def accuracy(results: dict[str, Any], items: dict[str, int]) -> tuple[float, dict[str, float], int]:
    """Item-weighted accuracy over the subjects lm-eval scored; (accuracy, per subject, items scored)."""
    scored = results.get("results", {})
    counts = results.get("n-samples", {})
    per_subject: dict[str, float] = {}
    total = correct = 0.0
    for name in items:
        if name not in scored or "acc,none" not in scored[name]:
            raise RuntimeError(f"lm-eval returned no accuracy for {name} (got: {sorted(scored)})")
        n = int(counts.get(name, {}).get("effective", items[name]))
        acc = float(scored[name]["acc,none"])
        per_subject[name] = acc
        total += n
        correct += acc * n
    return correct / total, per_subject, int(total)


def evaluate(base_path: str, adapter_dir: str, local_path: str, limit: int | None,
             num_fewshot: int = 0, batch_size: int = 8) -> dict[str, Any]:
    """Accuracy of the base and of base + adapter on TurkishMMLU read from `local_path`, through lm-eval.

    Returns base_accuracy, adapter_accuracy (item-weighted over the local test items), subjects,
    items, per-subject accuracies and the subjects the copy lacks."""
    root = Path(local_path)
    if not root.is_dir():
        raise FileNotFoundError(f"turkishmmlu_path {local_path!r} is not a folder (a local copy of the dataset)")
    lm_eval = require("lm_eval", extra="turkishmmlu")
    from lm_eval import tasks as lm_eval_tasks

    from anka_assets.student.deps import cuda_available

    # Index only lm-eval's own turkishmmlu task folder (all of lm-eval's tasks take ~20 s to index).
    task_dir = Path(lm_eval_tasks.__file__).parent / "turkishmmlu" / "config"
    if not task_dir.is_dir():
        raise RuntimeError(f"this lm-eval has no turkishmmlu task files at {task_dir} (lm-eval 0.4.13 ships them)")
    manager = lm_eval_tasks.TaskManager(include_path=str(task_dir), include_defaults=False)
    configs, items, missing = local_tasks(manager, root)
    if num_fewshot and any(c["fewshot_split"] is None for c in configs):
        raise FileNotFoundError(f"num_fewshot={num_fewshot} needs dev/TurkishMMLU_<Subject>.json for every "
                                f"subject in {local_path!r}")
    out: dict[str, Any] = {"subjects": len(configs), "missing_subjects": missing}
    for label, extra in (("base", {}), ("adapter", {"peft": str(adapter_dir)})):
        results = lm_eval.simple_evaluate(
            model="hf", model_args={"pretrained": str(base_path), **extra}, tasks=copy.deepcopy(configs),
            task_manager=manager, limit=limit, num_fewshot=num_fewshot, batch_size=batch_size,
            device="cuda" if cuda_available() else "cpu", log_samples=False)
        acc, per_subject, scored = accuracy(results, items)
        out[f"{label}_accuracy"] = acc
        out[f"{label}_per_subject"] = per_subject
        out["items"] = scored
    return out
