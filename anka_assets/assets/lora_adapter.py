"""`lora_adapter`: a LoRA adapter for the student, trained on the latest SFT release.

Reads the release through `sft_export`; trains on its train split (completion-only loss through the
`prompt`/`completion` rows by default, or the full `messages`) and reports the validation loss.
The backend is Unsloth where CUDA is present, PEFT + TRL elsewhere (`student.training.choose_backend`).
The adapter's version is derived from the base model, the release version and the hyperparameters:
a version already on disk is reused, not retrained. The folder gets its own model card (README.md,
`student.model_card`) and a portable `base_model_name_or_path` (a hub id, or the base's path relative
to the adapter folder). With no base model configured, a toy Llama is
built offline (`student.toy_model`) and every output says so.
"""


import json
from pathlib import Path

import polars as pl
from dagster import AssetExecutionContext, AssetKey, AssetIn, Config, MetadataValue, Output, asset
from pydantic import Field

from anka_assets import settings
from anka_assets.resources import RefineryPaths
from anka_assets.student import model_card, registry
from anka_assets.student.release import ReleaseError, release_from_export, release_texts, training_rows
from anka_assets.student.report import loss_curve_markdown, loss_table_markdown
from anka_assets.student.toy_model import build_toy_model, is_toy
from anka_assets.student.training import (
    Hyperparameters,
    adapter_version,
    base_identity,
    choose_backend,
    read_training,
    train_adapter,
)

TOY_LABEL = "anka-toy-llama"
REAL_LR = 2e-4
TOY_LR = 1e-2


class LoraConfig(Config):
    base_model: str = Field(default="", description="Base model: a hub id or a local folder. Blank: build the "
                            "offline toy Llama (its results mean nothing about real models).")
    r: int = Field(default=8, description="LoRA rank.")
    alpha: int = Field(default=16, description="LoRA alpha (scaling = alpha / r).")
    dropout: float = Field(default=0.0, description="LoRA dropout.")
    target_modules: list[str] = Field(
        default=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="Linear layers that get LoRA weights.")
    learning_rate: float = Field(default=0.0, description="Peak learning rate (linear decay); 0 = auto: "
                                 f"{REAL_LR} on a real base model, {TOY_LR} on the toy (random weights learn slowly).")
    epochs: float = Field(default=1.0, description="Passes over the train split (ignored when max_steps > 0).")
    max_steps: int = Field(default=-1, description="Optimizer steps; -1: use epochs.")
    max_length: int = Field(default=512, description="Longest tokenized example; longer ones are truncated.")
    batch_size: int = Field(default=4, description="Examples per device per step.")
    seed: int = Field(default=0, description="Seed for LoRA init, data order and the toy model.")
    loss_mode: str = Field(default="completion_only", description="'completion_only': loss on the assistant "
                           "turn only (prompt/completion rows); 'messages': loss on the whole conversation.")
    backend: str = Field(default="auto", description="'auto' (Unsloth on CUDA, else PEFT + TRL), 'peft' or 'unsloth'.")
    adapters_dir: str = Field(default="", description="Where adapters live; blank: ANKA_ADAPTERS_DIR or data/adapters.")

    def hyperparameters(self, toy: bool) -> Hyperparameters:
        learning_rate = self.learning_rate or (TOY_LR if toy else REAL_LR)
        return Hyperparameters(r=self.r, alpha=self.alpha, dropout=self.dropout,
                               target_modules=tuple(self.target_modules), learning_rate=learning_rate,
                               epochs=self.epochs, max_steps=self.max_steps, max_length=self.max_length,
                               batch_size=self.batch_size, seed=self.seed, loss_mode=self.loss_mode)

    def adapters_path(self) -> Path:
        return Path(self.adapters_dir) if self.adapters_dir else settings.adapters_dir()


def card_facts(sft_export: pl.DataFrame, release, version: str, label: str, base_reference: str,
               hp: Hyperparameters, result, toy: bool) -> model_card.AdapterFacts:
    """What the adapter's card states, from the release table, its manifest and the training result."""
    splits = sft_export.filter(pl.col("split").is_in(["train", "validation"]))
    manifest = release.path("release.json")
    missing = json.loads(manifest.read_text(encoding="utf-8")).get("domains_missing", {}) if manifest.is_file() else {}
    return model_card.AdapterFacts(
        version=version, base_model=label, base_reference=base_reference, release_version=release.version,
        domains=sorted(set(splits["domain"].to_list())), missing_domains=missing,
        hyperparameters=json.loads(hp.to_json()), backend=result.backend, steps=result.steps,
        train_rows=int((splits["split"] == "train").sum()), validation_rows=int((splits["split"] == "validation").sum()),
        train_loss=result.train_loss, validation_loss=result.validation_loss, tokens=result.tokens,
        wall_time_s=result.wall_time_s, hardware=result.hardware, toy=toy, loss_curve=result.loss_curve)


@asset(
    name="lora_adapter",
    ins={"sft_export": AssetIn(key=AssetKey("sft_export"))},
    group_name="student",
    pool="student",
    kinds={"duckdb", "polars", "pytorch"},
    description="A LoRA adapter trained on the SFT release (files under data/adapters/<version>/), its row in "
    "anka.adapter_registry and its loss curve. Same base model, release and hyperparameters: reused, not retrained.",
)
def lora_adapter(context: AssetExecutionContext, config: LoraConfig, paths: RefineryPaths,
                 sft_export: pl.DataFrame):
    release = release_from_export(sft_export)
    base_path, label = base_model(context, config, release)
    toy = is_toy(base_path)
    hp = config.hyperparameters(toy)
    version = adapter_version(label, base_identity(base_path), release.version, hp)
    adapter_dir = config.adapters_path() / version
    result = read_training(adapter_dir)
    retrained = result is None
    if retrained:
        result = train(context, config, release, base_path, hp, adapter_dir)
    else:
        context.log.info("adapter %s already trained: reusing %s", version, adapter_dir)
    base_reference = model_card.make_portable(adapter_dir, base_path)
    card = model_card.write_card(adapter_dir, card_facts(sft_export, release, version, label, base_reference, hp,
                                                         result, toy))
    row = registry.register(paths.warehouse, {
        "version": version, "adapter_dir": str(adapter_dir.resolve()), "base_model": label,
        "base_model_path": str(Path(base_path).resolve()) if Path(base_path).is_dir() else base_path,
        "release_version": release.version, "hyperparameters": hp.to_json(), "backend": result.backend,
        "steps": result.steps, "train_loss": result.train_loss, "validation_loss": result.validation_loss,
        "wall_time_s": result.wall_time_s, "tokens": result.tokens, "tokens_per_s": result.tokens_per_s,
        "hardware": result.hardware, "toy": toy,
    })
    table = pl.DataFrame([{**{k: v for k, v in row.items() if k not in ("materializations",)},
                           "hyperparameters": hp.to_json(), "retrained": retrained}])
    yield Output(table, metadata={
        "version": version,
        "adapter_dir": MetadataValue.path(str(adapter_dir)),
        "model_card": MetadataValue.path(str(card)),
        "base_model_name_or_path": base_reference,
        "base_model": label,
        "toy_model": toy,
        "release_version": release.version,
        **training_metadata(result, hp, retrained, f"{version}{' (TOY model)' if toy else ''}"),
    })


def base_model(context: AssetExecutionContext, config: LoraConfig, release) -> tuple[str, str]:
    """(path or hub id to load, label) of the base model: the configured one, else the offline toy Llama
    built from the release's own text (no seed file is read here)."""
    if config.base_model:
        return config.base_model, config.base_model
    path = str(build_toy_model(release_texts(release), config.adapters_path() / "base", seed=config.seed))
    context.log.warning("no base_model configured: training on the offline TOY model at %s", path)
    return path, TOY_LABEL


def train(context: AssetExecutionContext, config: LoraConfig, release, base_path: str, hp: Hyperparameters,
          adapter_dir: Path):
    """Train the adapter on the release's train split, reporting the validation split's loss."""
    backend = choose_backend(config.backend)
    rows = training_rows(release, "train", hp.loss_mode)
    validation = training_rows(release, "validation", hp.loss_mode)
    if not rows:
        raise ReleaseError(f"release {release.version} ({release.directory}) has no training rows")
    context.log.info("training %s on %d rows (%d validation) with %s", adapter_dir.name, len(rows), len(validation),
                     backend)
    return train_adapter(base_path, rows, validation, hp, adapter_dir, backend, log=context.log)


def training_metadata(result, hp: Hyperparameters, retrained: bool, title: str) -> dict:
    """The training run's figures for the Output: backend, steps, losses, speed and the loss curve."""
    return {
        "backend": result.backend,
        "retrained": retrained,
        "steps": result.steps,
        "train_loss": MetadataValue.float(float(result.train_loss or float("nan"))),
        "validation_loss": MetadataValue.float(float(result.validation_loss if result.validation_loss is not None
                                                     else float("nan"))),
        "wall_time_s": MetadataValue.float(float(result.wall_time_s)),
        "tokens_per_s": MetadataValue.float(float(result.tokens_per_s)),
        "hardware": result.hardware,
        "hyperparameters": MetadataValue.json(json.loads(hp.to_json())),
        "loss_curve": MetadataValue.md(loss_curve_markdown(result.loss_curve, title, result.validation_loss)),
        "loss_by_step": MetadataValue.md(loss_table_markdown(result.loss_curve)),
    }
