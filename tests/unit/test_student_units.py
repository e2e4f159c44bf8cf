"""Pure parts of the student stage: versions, backend choice, lazy-import errors, release reading."""


import pytest

from anka_assets.assets.student_eval import beats_base
from anka_assets.student import deps
from anka_assets.student.release import ReleaseError, read_jsonl, release_from_export
from anka_assets.student.training import Hyperparameters, adapter_version, choose_backend


def test_version_depends_on_base_release_and_hyperparameters():
    hp = Hyperparameters()
    v = adapter_version("org/Model-7B", "hub:org/Model-7B", "r-1", hp)
    assert v == adapter_version("org/Model-7B", "hub:org/Model-7B", "r-1", Hyperparameters())
    assert v.startswith("org-Model-7B--r-1--")
    others = {adapter_version("org/Model-7B", "hub:org/Model-7B", "r-2", hp),
              adapter_version("org/Model-7B", "hub:org/Other", "r-1", hp),
              adapter_version("org/Model-7B", "hub:org/Model-7B", "r-1", Hyperparameters(r=16)),
              adapter_version("org/Model-7B", "hub:org/Model-7B", "r-1", Hyperparameters(loss_mode="messages"))}
    assert v not in others and len(others) == 4


def test_hyperparameters_are_validated():
    with pytest.raises(ValueError, match="loss_mode"):
        Hyperparameters(loss_mode="tum")
    with pytest.raises(ValueError, match="epochs > 0 or max_steps > 0"):
        Hyperparameters(epochs=0, max_steps=-1)


def test_backend_choice_without_cuda():
    if deps.cuda_available():
        pytest.skip("this machine has CUDA")
    assert choose_backend("auto") == "peft" and choose_backend("peft") == "peft"
    with pytest.raises(RuntimeError, match="Unsloth training needs a CUDA GPU"):
        choose_backend("unsloth")
    with pytest.raises(ValueError, match="auto, peft or unsloth"):
        choose_backend("jax")


def test_missing_extra_names_the_install_command():
    with pytest.raises(deps.MissingExtra, match=r"pip install -e '\.\[train\]'"):
        deps.require("anka_no_such_module_xyz")
    with pytest.raises(deps.MissingExtra, match=r"pip install -e '\.\[gpu\]'"):
        deps.require("anka_no_such_module_xyz", extra="gpu")


def test_release_errors_name_file_line_and_field(tmp_path):
    import polars as pl

    path = tmp_path / "eval.jsonl"
    path.write_text('{"domain": "tarih"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ReleaseError, match=r"eval.jsonl:1: missing field 'seed_id'"):
        read_jsonl(path, ("domain", "seed_id"))
    with pytest.raises(ReleaseError, match=r"eval.jsonl:2: not valid JSON"):
        read_jsonl(path, ("domain",))
    with pytest.raises(ReleaseError, match="empty"):
        release_from_export(pl.DataFrame(schema={"release_version": pl.Utf8, "release_dir": pl.Utf8}))
    two = pl.DataFrame({"release_version": ["a", "b"], "release_dir": [str(tmp_path)] * 2})
    with pytest.raises(ReleaseError, match="2 releases"):
        release_from_export(two)


def test_beats_base():
    row = {"base_loss": 2.0, "adapter_loss": 1.5, "win_rate": 0.7}
    assert beats_base(row, 0.5) == (True, [])
    ok, why = beats_base({**row, "win_rate": 0.5}, 0.5)
    assert not ok and "win rate 0.500 is not above 0.5" in why[0]
    ok, why = beats_base({"base_loss": None, "adapter_loss": None, "win_rate": None}, 0.5)
    assert not ok and "nothing measured" in why[0]


def test_pairwise_requests_carry_the_eval_tasks_kvkk_label():
    """A public held-out task may reach a commercial judge; one without a label stays local (fail closed)."""
    from anka_assets.model_tasks import PAIRWISE
    from anka_assets.student.release import EvalTask

    public = EvalTask("hukuk", "tsk_0000000000000001", "Soru?", [{"role": "user", "content": "Soru?"}], None, "public")
    unlabelled = EvalTask("hukuk", "tsk_0000000000000002", "Soru?", [{"role": "user", "content": "Soru?"}], None)
    from anka_assets.student.evaluation import pairwise_rows, plan_pairs

    assert unlabelled.sensitivity is None
    tasks = [public, unlabelled]
    rows = pairwise_rows(tasks, plan_pairs(tasks, seed=1), ["taban", "taban"], ["uyarlanmış", "uyarlanmış"])
    labels = {(r["seed_id"], r["order"]): PAIRWISE.labels(r).sensitivity for r in rows}
    assert labels == {(public.seed_id, 0): "public", (public.seed_id, 1): "public",
                      (unlabelled.seed_id, 0): None, (unlabelled.seed_id, 1): None}
