"""TurkishMMLU through lm-eval-harness's `turkishmmlu` task files, from a local copy of the data.

lm-eval ships the task files; the data is a hub download, so this runs only when a local copy of
the dataset folder is configured (`StudentEvalConfig.turkishmmlu_path`). Without lm-eval installed
it fails with the extra to install. Not exercised by CPU CI (no data, no lm-eval there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anka_assets.student.deps import require


def _accuracy(results: dict[str, Any]) -> tuple[float, int]:
    per_task = {k: v for k, v in results.get("results", {}).items() if k.startswith("turkishmmlu")}
    if "turkishmmlu" in per_task and "acc,none" in per_task["turkishmmlu"]:
        return float(per_task["turkishmmlu"]["acc,none"]), len(per_task) - 1
    accs = [float(v["acc,none"]) for v in per_task.values() if "acc,none" in v]
    if not accs:
        raise RuntimeError(f"lm-eval returned no turkishmmlu accuracy (tasks: {sorted(per_task)})")
    return sum(accs) / len(accs), len(accs)


def evaluate(base_path: str, adapter_dir: str, local_path: str, limit: int | None) -> dict[str, float]:
    """Accuracy of the base and of base + adapter on TurkishMMLU read from `local_path`."""
    if not Path(local_path).exists():
        raise FileNotFoundError(f"turkishmmlu_path {local_path!r} does not exist (a local copy of the dataset)")
    lm_eval = require("lm_eval", extra="turkishmmlu")
    from lm_eval.tasks import TaskManager

    manager = TaskManager()
    subtasks = sorted(t for t in manager.all_subtasks if t.startswith("turkishmmlu_"))
    if not subtasks:
        raise RuntimeError("this lm-eval has no turkishmmlu task files (lm-eval >= 0.4.13 ships them)")
    tasks = [{"task": name, "dataset_path": str(local_path)} for name in subtasks]
    out: dict[str, float] = {}
    for label, extra in (("base", ""), ("adapter", f",peft={adapter_dir}")):
        results = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={base_path}{extra}", tasks=tasks,
                                          task_manager=manager, limit=limit, batch_size=8)
        out[f"{label}_accuracy"], out["subjects"] = _accuracy(results)
    return out
