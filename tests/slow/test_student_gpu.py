"""The GPU path: Unsloth training and vLLM serving the adapter. `require_cuda`: skipped on CPU-only
machines. Base model: `ANKA_TEST_BASE_MODEL` (a local folder or hub id of a small real model), else
the offline toy Llama. Each prints its throughput for the issue's notes (`pytest -s`)."""

import os

import pytest
from dagster import materialize

from anka_assets.assets.lora_adapter import lora_adapter
from anka_assets.resources import warehouse_io_manager
from anka_assets.student import evaluation
from anka_assets.student.release import eval_tasks, release_from_export
from tests.conftest import read_table
from tests.student_release import stand_in_sft_export, write_release

pytestmark = pytest.mark.require_cuda
BASE = os.environ.get("ANKA_TEST_BASE_MODEL", "")


def _train(refinery, tmp_path, backend):
    table = write_release(tmp_path / "releases")
    result = materialize(
        [stand_in_sft_export(table), lora_adapter],
        resources={"io_manager": warehouse_io_manager(refinery.warehouse), "paths": refinery},
        run_config={"ops": {"lora_adapter": {"config": {
            "base_model": BASE, "backend": backend, "max_steps": 20, "adapters_dir": str(tmp_path / backend)}}}},
    )
    assert result.success
    return table, read_table(refinery, "lora_adapter").row(0, named=True)


def test_unsloth_trains_an_adapter_faster_than_peft(refinery, tmp_path):
    _, peft_row = _train(refinery, tmp_path, "peft")
    _, row = _train(refinery, tmp_path, "unsloth")
    assert row["backend"] == "unsloth" and row["steps"] == 20 and row["hardware"].startswith("cuda")
    assert row["train_loss"] > 0 and row["validation_loss"] > 0
    print(f"\ntokens/s unsloth {row['tokens_per_s']} vs peft {peft_row['tokens_per_s']} "
          f"(ratio {row['tokens_per_s'] / peft_row['tokens_per_s']:.2f})")


def test_vllm_serves_the_adapter(refinery, tmp_path):
    table, row = _train(refinery, tmp_path, "peft")
    tasks = eval_tasks(release_from_export(table))
    base, tuned, stats = evaluation.generate_answers_vllm(row["base_model_path"], row["adapter_dir"], tasks,
                                                          max_new_tokens=32, max_lora_rank=8)
    assert len(base) == len(tuned) == len(tasks)
    assert stats["vllm_generated_tokens"] > 0
    assert base != tuned  # the LoRA request changes the output
    print(f"\nvLLM generation: {stats['vllm_tokens_per_s']} tokens/s")
