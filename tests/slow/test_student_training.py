"""`lora_adapter` for real: Dagster `materialize`, a DuckDB warehouse file, the offline toy model
and PEFT + TRL on CPU, over a small release written to the `sft_export` contract."""

import json
from pathlib import Path

import pytest
from dagster import materialize

from anka_assets.assets.lora_adapter import lora_adapter
from anka_assets.resources import warehouse_io_manager
from anka_assets.student.training import PROBE_FILE
from tests.conftest import read_table
from tests.student_release import stand_in_sft_export, write_release

pytestmark = pytest.mark.extra("train")

STEPS = 24


def train_run(refinery, tmp_path: Path, **overrides):
    table = write_release(tmp_path / "releases")
    config = {"max_steps": STEPS, "adapters_dir": str(tmp_path / "adapters"), **overrides}
    return materialize(
        [stand_in_sft_export(table), lora_adapter],
        resources={"io_manager": warehouse_io_manager(refinery.warehouse), "paths": refinery},
        run_config={"ops": {"lora_adapter": {"config": config}}},
    )


def adapter_metadata(result):
    (event,) = [e for e in result.get_asset_materialization_events()
                if e.asset_key.to_user_string() == "lora_adapter"]
    return event.materialization.metadata


@pytest.mark.slow
def test_trains_registers_reloads_and_reuses(refinery, tmp_path):
    first = train_run(refinery, tmp_path)
    assert first.success
    meta = adapter_metadata(first)
    assert meta["retrained"].value is True and meta["toy_model"].value is True and meta["steps"].value == STEPS
    assert "data:image/png;base64," in meta["loss_curve"].value and "| step | loss |" in meta["loss_by_step"].value

    current = read_table(refinery, "lora_adapter").row(0, named=True)
    registry = read_table(refinery, "adapter_registry")
    assert registry["version"].to_list() == [current["version"]]
    reg = registry.row(0, named=True)
    assert reg["toy"] and reg["backend"] == "peft" and reg["steps"] == STEPS and reg["release_version"] == "r-test-0001"
    assert reg["validation_loss"] > 0 and reg["tokens_per_s"] > 0 and reg["hardware"].startswith("cpu")
    assert '"r": 8' in reg["hyperparameters"]

    # Loss decreases: the last logged steps are below the first ones.
    adapter_dir = Path(current["adapter_dir"])
    curve = json.loads((adapter_dir / "anka_training.json").read_text())["loss_curve"]
    losses = [p["loss"] for p in curve]
    assert len(losses) == STEPS and sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 - 0.05

    # The saved adapter reloads with PEFT and gives the logits the trained model gave.
    import torch
    import transformers
    from peft import PeftModel
    from safetensors.torch import load_file
    base = transformers.AutoModelForCausalLM.from_pretrained(current["base_model_path"], dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    probe = load_file(str(adapter_dir / PROBE_FILE))
    with torch.no_grad():
        logits = model(input_ids=probe["input_ids"]).logits
        with model.disable_adapter():
            base_logits = model(input_ids=probe["input_ids"]).logits
    assert torch.allclose(logits, probe["logits"], atol=1e-5)
    assert not torch.allclose(base_logits, probe["logits"], atol=1e-3)  # the adapter changed something

    # Same inputs again: no retraining, the same files, one registry row counted twice.
    mtime = (adapter_dir / "adapter_model.safetensors").stat().st_mtime_ns
    second = train_run(refinery, tmp_path)
    assert second.success and adapter_metadata(second)["retrained"].value is False
    assert (adapter_dir / "adapter_model.safetensors").stat().st_mtime_ns == mtime
    registry = read_table(refinery, "adapter_registry")
    assert len(registry) == 1 and registry["materializations"].to_list() == [2]

    # A different hyperparameter is a new version, appended to the registry.
    third = train_run(refinery, tmp_path, r=4, max_steps=2)
    assert third.success and adapter_metadata(third)["retrained"].value is True
    assert len(read_table(refinery, "adapter_registry")) == 2
    assert len(read_table(refinery, "lora_adapter")) == 1


def test_messages_mode_and_bad_release(refinery, tmp_path):
    table = write_release(tmp_path / "releases")
    release_dir = Path(table["release_dir"][0])
    with (release_dir / "prompt_completion" / "train.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"prompt": [{"role": "user", "content": "Soru"}], "domain": "tarih"}\n')
    result = materialize(
        [stand_in_sft_export(table), lora_adapter],
        resources={"io_manager": warehouse_io_manager(refinery.warehouse), "paths": refinery},
        run_config={"ops": {"lora_adapter": {"config": {"max_steps": 1, "adapters_dir": str(tmp_path / "a")}}}},
        raise_on_error=False,
    )
    assert not result.success
    errors = [e.event_specific_data.error.to_string() for e in result.all_events if e.is_step_failure]
    assert any("prompt_completion/train.jsonl:19: missing field 'completion'" in m for m in errors), errors
    ok = materialize(
        [stand_in_sft_export(table), lora_adapter],
        resources={"io_manager": warehouse_io_manager(refinery.warehouse), "paths": refinery},
        run_config={"ops": {"lora_adapter": {"config": {"max_steps": 2, "loss_mode": "messages",
                                                        "adapters_dir": str(tmp_path / "a")}}}},
    )
    assert ok.success and read_table(refinery, "adapter_registry")["steps"].to_list() == [2]


def test_adapter_folder_has_its_own_card_and_loads_from_a_copied_registry(refinery, tmp_path, monkeypatch):
    """The adapter folder carries an ANKA model card (not PEFT's template) and a base reference relative to
    the registry, so the adapters folder copied elsewhere (the original moved away) loads with PEFT."""
    import shutil

    import torch
    import transformers
    from peft import AutoPeftModelForCausalLM, PeftModel
    from safetensors.torch import load_file

    from anka_assets.student.model_card import NOT_EVALUATED, resolve_base, write_evaluation

    assert train_run(refinery, tmp_path, max_steps=3).success
    current = read_table(refinery, "lora_adapter").row(0, named=True)
    reg = read_table(refinery, "adapter_registry").row(0, named=True)
    adapter_dir = Path(current["adapter_dir"])
    base_hash = Path(current["base_model_path"]).name
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["base_model_name_or_path"] == f"../base/{base_hash}"

    card = (adapter_dir / "README.md").read_text(encoding="utf-8")
    assert "More Information Needed" not in card  # PEFT's empty template is gone
    for needle in (f"# ANKA student LoRA adapter `{current['version']}`", "**TOY MODEL.**", "`r-test-0001`",
                   "| domains covered | cografya, hukuk, tarih |", "| r | `8` |", "| learning_rate | `0.01` |",
                   f"training loss: {reg['train_loss']:.4f} (mean over the run)",
                   f"validation loss after training: {reg['validation_loss']:.4f}", "logged steps: 3", NOT_EVALUATED,
                   "- toy-model", "PeftModel.from_pretrained"):
        assert needle in card, needle
    assert "\nbase_model:" not in card.split("\n---\n", 1)[0]  # the toy is no hub model

    # Re-materializing (reused, not retrained) keeps an evaluation student_eval wrote into the card.
    write_evaluation(adapter_dir, "Ölçüm: adaptör kazandı.")
    again = train_run(refinery, tmp_path, max_steps=3)
    assert adapter_metadata(again)["retrained"].value is False
    card = (adapter_dir / "README.md").read_text(encoding="utf-8")
    assert "Ölçüm: adaptör kazandı." in card and NOT_EVALUATED not in card

    # Copy the registry elsewhere and move the original away: nothing may point back at it.
    copy = tmp_path / "elsewhere" / "adapters"
    shutil.copytree(tmp_path / "adapters", copy)
    (tmp_path / "adapters").rename(tmp_path / "moved-away")
    moved = copy / adapter_dir.name
    base = resolve_base(moved)
    assert base == str((copy / "base" / base_hash).resolve())
    probe = load_file(str(moved / PROBE_FILE))
    model = PeftModel.from_pretrained(
        transformers.AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), str(moved)).eval()
    with torch.no_grad():
        assert torch.allclose(model(input_ids=probe["input_ids"]).logits, probe["logits"], atol=1e-5)
    monkeypatch.chdir(moved)  # AutoPeft resolves the relative base against the working directory
    auto = AutoPeftModelForCausalLM.from_pretrained(".", dtype=torch.float32).eval()
    with torch.no_grad():
        assert torch.allclose(auto(input_ids=probe["input_ids"]).logits, probe["logits"], atol=1e-5)
