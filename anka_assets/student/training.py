"""LoRA training of the student: version naming, backend choice, and the two backends.

`choose_backend` picks Unsloth's `FastLanguageModel` where CUDA is present (extra `gpu`) and PEFT +
TRL's `SFTTrainer` elsewhere (extra `train`). Both write a PEFT adapter folder plus
`anka_training.json` (figures and the loss curve) and `anka_probe.safetensors` (a fixed input and
the logits the trained model gave for it, so a reload can be checked for identical output).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from anka_assets.student.deps import cuda_available, hardware, require, require_cuda

TRAINING_FILE = "anka_training.json"
PROBE_FILE = "anka_probe.safetensors"
PROBE_MESSAGES = [
    {"role": "user", "content": "Türkiye'nin başkenti neresidir? Kısaca açıklayınız."},
    {"role": "assistant", "content": "<think>\nBaşkent Ankara'dır.\n</think>\n\nAnkara."},
]


@dataclass(frozen=True)
class Hyperparameters:
    """Everything that changes the trained adapter (and so its version)."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    learning_rate: float = 2e-4
    epochs: float = 1.0
    max_steps: int = -1
    max_length: int = 512
    batch_size: int = 4
    seed: int = 0
    loss_mode: str = "completion_only"

    def __post_init__(self) -> None:
        if self.loss_mode not in ("completion_only", "messages"):
            raise ValueError(f"loss_mode must be 'completion_only' or 'messages', got {self.loss_mode!r}")
        if self.r < 1 or self.alpha < 1 or not 0 <= self.dropout < 1 or self.learning_rate <= 0:
            raise ValueError(f"invalid LoRA hyperparameters: {self}")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ValueError("set epochs > 0 or max_steps > 0")
        object.__setattr__(self, "target_modules", tuple(self.target_modules))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)


def _slug(text: str, limit: int = 32) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[-limit:] or "model"


def adapter_version(base_label: str, base_identity: str, release_version: str, hp: Hyperparameters) -> str:
    """`<base>-<release>-<hash>`: the same base model, release and hyperparameters give the same version."""
    digest = hashlib.sha256(f"{base_identity}\x00{release_version}\x00{hp.to_json()}".encode()).hexdigest()[:12]
    return f"{_slug(base_label)}--{_slug(release_version)}--{digest}"


def base_identity(base_model: str) -> str:
    """A hub id stands for itself; a local folder by a hash of its files (contents up to 64 MiB each,
    only the size of bigger weight shards, which keeps this fast for real models)."""
    path = Path(base_model)
    if not path.is_dir():
        return f"hub:{base_model}"
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode())
        if file.stat().st_size <= 64 * 1024 * 1024:
            digest.update(hashlib.sha256(file.read_bytes()).digest())
        else:
            digest.update(str(file.stat().st_size).encode())
    return f"local:{digest.hexdigest()[:16]}"


@dataclass
class TrainResult:
    backend: str
    steps: int
    train_loss: float | None
    validation_loss: float | None
    wall_time_s: float
    tokens: int
    tokens_per_s: float
    hardware: str
    loss_curve: list[dict[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def choose_backend(prefer: str = "auto") -> str:
    """`unsloth` where CUDA is present, `peft` elsewhere; `prefer` forces one ('auto' | 'peft' | 'unsloth')."""
    if prefer == "peft":
        return "peft"
    if prefer == "unsloth":
        require_cuda("Unsloth training")
        return "unsloth"
    if prefer != "auto":
        raise ValueError(f"backend must be auto, peft or unsloth, got {prefer!r}")
    return "unsloth" if cuda_available() else "peft"


def read_training(adapter_dir: Path) -> TrainResult | None:
    """The result of an earlier training of this version, or None if the folder is incomplete."""
    info = Path(adapter_dir) / TRAINING_FILE
    if not info.is_file() or not (Path(adapter_dir) / "adapter_config.json").is_file():
        return None
    return TrainResult(**json.loads(info.read_text(encoding="utf-8")))


def train_adapter(base_model: str, train_rows: list[dict], validation_rows: list[dict], hp: Hyperparameters,
                  out_dir: Path, backend: str, log=None) -> TrainResult:
    """Train with the chosen backend into a temporary folder, then move it to `out_dir` (atomic)."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if backend == "unsloth":
        result = _train_unsloth(base_model, train_rows, validation_rows, hp, tmp, log)
    elif backend == "peft":
        result = _train_peft(base_model, train_rows, validation_rows, hp, tmp, log)
    else:
        raise ValueError(f"unknown training backend {backend!r}")
    (tmp / TRAINING_FILE).write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return result


def _datasets(train_rows: list[dict], validation_rows: list[dict]):
    datasets = require("datasets")
    train = datasets.Dataset.from_list(train_rows)
    validation = datasets.Dataset.from_list(validation_rows) if validation_rows else None
    return train, validation


def _sft_config(hp: Hyperparameters, out_dir: Path, *, cpu: bool, **extra):
    trl = require("trl")
    return trl.SFTConfig(
        output_dir=str(out_dir / "_trainer"),
        max_length=hp.max_length,
        per_device_train_batch_size=hp.batch_size,
        per_device_eval_batch_size=hp.batch_size,
        learning_rate=hp.learning_rate,
        num_train_epochs=hp.epochs,
        max_steps=hp.max_steps,
        seed=hp.seed,
        data_seed=hp.seed,
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        use_cpu=cpu,
        # SFTConfig turns gradient checkpointing on by default: on CPU and small models it only costs time
        # (Unsloth brings its own through get_peft_model).
        activation_checkpointing=False,  # (transformers 5.2x name; `gradient_checkpointing` is deprecated)
        bf16=False if cpu else extra.pop("bf16", False),
        completion_only_loss=hp.loss_mode == "completion_only",
        include_num_input_tokens_seen=True,
        disable_tqdm=True,
        **extra,
    )


def _quiet(trainer) -> None:
    """No per-step dict prints or progress bars in the Dagster log: the loss curve goes to metadata."""
    transformers = require("transformers")
    for callback in (transformers.PrinterCallback, transformers.ProgressCallback):
        trainer.remove_callback(callback)


def _fit(trainer, validation, hp: Hyperparameters, backend: str, started: float) -> TrainResult:
    _quiet(trainer)
    output = trainer.train()
    wall = time.perf_counter() - started
    validation_loss = None
    if validation is not None and len(validation):
        validation_loss = float(trainer.evaluate()["eval_loss"])
    curve = [{"step": int(e["step"]), "loss": float(e["loss"])} for e in trainer.state.log_history
             if "loss" in e and "step" in e]
    tokens = int(getattr(trainer.state, "num_input_tokens_seen", 0) or 0)
    train_loss = float(output.training_loss) if output.training_loss is not None else None
    if train_loss is not None and not math.isfinite(train_loss):
        raise RuntimeError(f"training diverged: train loss {train_loss}")
    return TrainResult(backend=backend, steps=int(trainer.state.global_step), train_loss=train_loss,
                       validation_loss=validation_loss, wall_time_s=round(wall, 3), tokens=tokens,
                       tokens_per_s=round(tokens / wall, 1) if wall > 0 else 0.0, hardware=hardware(),
                       loss_curve=curve)


def _train_peft(base_model, train_rows, validation_rows, hp, out_dir: Path, log) -> TrainResult:
    torch = require("torch")
    transformers = require("transformers")
    peft = require("peft")
    trl = require("trl")
    transformers.set_seed(hp.seed)
    tokenizer = transformers.AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    cpu = not torch.cuda.is_available()
    model = transformers.AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32 if cpu else "auto")
    lora = peft.LoraConfig(r=hp.r, lora_alpha=hp.alpha, lora_dropout=hp.dropout,
                           target_modules=list(hp.target_modules), task_type="CAUSAL_LM")
    train, validation = _datasets(train_rows, validation_rows)
    started = time.perf_counter()
    trainer = trl.SFTTrainer(model=model, args=_sft_config(hp, out_dir, cpu=cpu),
                             train_dataset=train, eval_dataset=validation, processing_class=tokenizer,
                             peft_config=lora)
    result = _fit(trainer, validation, hp, "peft", started)
    if log is not None:
        log.info("peft: %d steps, train loss %s, %.0f tokens/s", result.steps, result.train_loss, result.tokens_per_s)
    trainer.model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    save_probe(trainer.model, tokenizer, out_dir)
    shutil.rmtree(out_dir / "_trainer", ignore_errors=True)
    return result


def _train_unsloth(base_model, train_rows, validation_rows, hp, out_dir: Path, log) -> TrainResult:
    """Unsloth's FastLanguageModel (CUDA only; the `gpu` extra, a separate environment)."""
    require_cuda("Unsloth training")
    unsloth = require("unsloth", extra="gpu")  # must be imported before transformers / trl
    torch = require("torch")
    trl = require("trl")
    model, tokenizer = unsloth.FastLanguageModel.from_pretrained(
        model_name=base_model, max_seq_length=hp.max_length, load_in_4bit=False, dtype=None)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = unsloth.FastLanguageModel.get_peft_model(
        model, r=hp.r, lora_alpha=hp.alpha, lora_dropout=hp.dropout, target_modules=list(hp.target_modules),
        random_state=hp.seed, use_gradient_checkpointing="unsloth")
    train, validation = _datasets(train_rows, validation_rows)
    started = time.perf_counter()
    bf16 = bool(torch.cuda.is_bf16_supported())
    trainer = trl.SFTTrainer(model=model, args=_sft_config(hp, out_dir, cpu=False, bf16=bf16),
                             train_dataset=train, eval_dataset=validation, processing_class=tokenizer)
    result = _fit(trainer, validation, hp, "unsloth", started)
    if log is not None:
        log.info("unsloth: %d steps, train loss %s, %.0f tokens/s", result.steps, result.train_loss, result.tokens_per_s)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    save_probe(model, tokenizer, out_dir)
    shutil.rmtree(out_dir / "_trainer", ignore_errors=True)
    return result


def probe_ids(tokenizer):
    torch = require("torch")
    text = tokenizer.apply_chat_template(PROBE_MESSAGES, tokenize=False)
    return torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])


def probe_logits(model, tokenizer):
    torch = require("torch")
    model.eval()
    ids = probe_ids(tokenizer).to(model.device)
    with torch.no_grad():
        return model(input_ids=ids).logits.float().cpu()


def save_probe(model, tokenizer, out_dir: Path) -> None:
    """The logits the freshly trained model gives on a fixed input, for reload checks."""
    from safetensors.torch import save_file

    logits = probe_logits(model, tokenizer)
    save_file({"input_ids": probe_ids(tokenizer).contiguous(), "logits": logits.contiguous()},
              str(out_dir / PROBE_FILE))
