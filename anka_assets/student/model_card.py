"""The adapter folder as a finished product: its own model card and a portable base model reference.

PEFT's `save_pretrained` writes an empty model-card template and the build machine's absolute base
path into `adapter_config.json`. After training, `finish_adapter_dir` replaces both: the card says
what the adapter is (base model, release, domains, hyperparameters, training loss, the toy warning
where it applies) and `base_model_name_or_path` becomes the hub id, or a local base's path relative
to the adapter's own folder (`../base/<hash>` for the toy model, which lives in the same registry).
`student_eval` later fills the card's evaluation section (`write_evaluation`); re-rendering the card
keeps that section.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CARD_FILE = "README.md"
CONFIG_FILE = "adapter_config.json"
EVAL_START = "<!-- anka:evaluation:start -->"
EVAL_END = "<!-- anka:evaluation:end -->"
NOT_EVALUATED = ("Not evaluated yet: `student_eval` writes this section when it compares the adapter with its "
                 "base (`anka-refinery build` runs it after `lora_adapter`).")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------
# Portable base model reference
# ------------------------------------------------------------------------------------------------


def portable_base(base_model: str, adapter_dir: Path) -> str:
    """A hub id as is; a local folder as its path relative to `adapter_dir` (POSIX separators)."""
    path = Path(base_model)
    if not path.is_dir():
        return base_model
    return Path(os.path.relpath(path.resolve(), Path(adapter_dir).resolve())).as_posix()


def make_portable(adapter_dir: Path, base_model: str) -> str:
    """Rewrite `adapter_config.json`'s `base_model_name_or_path` (see `portable_base`); returns it."""
    config_path = Path(adapter_dir) / CONFIG_FILE
    config = json.loads(config_path.read_text(encoding="utf-8"))
    value = portable_base(base_model, adapter_dir)
    if config.get("base_model_name_or_path") != value:
        config["base_model_name_or_path"] = value
        _write_atomic(config_path, json.dumps(config, indent=2, sort_keys=True) + "\n")
    return value


def resolve_base(adapter_dir: str | Path) -> str:
    """The base model to load under an adapter folder: its relative `base_model_name_or_path` resolved
    against that folder when such a folder exists there, else the value as written (a hub id)."""
    adapter_dir = Path(adapter_dir)
    value = json.loads((adapter_dir / CONFIG_FILE).read_text(encoding="utf-8"))["base_model_name_or_path"]
    candidate = adapter_dir / value
    if not Path(value).is_absolute() and candidate.is_dir():
        return str(candidate.resolve())
    return value


# ------------------------------------------------------------------------------------------------
# The card
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdapterFacts:
    """What the card states; everything comes from the `lora_adapter` step's own inputs and result."""

    version: str
    base_model: str  #: the label: a hub id, a local folder, or the toy's label
    base_reference: str  #: `base_model_name_or_path` as written in adapter_config.json
    release_version: str
    domains: Sequence[str]
    missing_domains: Mapping[str, str]
    hyperparameters: Mapping[str, Any]
    backend: str
    steps: int
    train_rows: int
    validation_rows: int
    train_loss: float | None
    validation_loss: float | None
    tokens: int
    wall_time_s: float
    hardware: str
    toy: bool
    loss_curve: Sequence[Mapping[str, float]] = field(default_factory=list)


def _f(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def curve_summary(curve: Sequence[Mapping[str, float]]) -> list[str]:
    """First, lowest and last logged loss, plus the loss at each quarter of the run. Pure."""
    if not curve:
        return ["No training loss was logged."]
    first, last = curve[0], curve[-1]
    low = min(curve, key=lambda p: p["loss"])
    marks = sorted({curve[min(len(curve) - 1, round(q * (len(curve) - 1)))]["step"] for q in (0, .25, .5, .75, 1)})
    by_step = {p["step"]: p["loss"] for p in curve}
    return [
        f"- logged steps: {len(curve)}; first loss {first['loss']:.4f} (step {int(first['step'])}), lowest "
        f"{low['loss']:.4f} (step {int(low['step'])}), last {last['loss']:.4f} (step {int(last['step'])})",
        "- loss at each quarter of the run: " + ", ".join(f"step {int(s)}: {by_step[s]:.4f}" for s in marks),
    ]


TOY_WARNING = ("**TOY MODEL.** No base model was configured, so this adapter was trained on the offline toy "
               "Llama (random weights, a tokenizer trained on the project's own text). It only shows that the "
               "pipeline runs end to end; its outputs and figures mean nothing about a real model. Set "
               "`LoraConfig.base_model` (a hub id or a local folder) for a real adapter.")


def front_matter(facts: AdapterFacts) -> str:
    """The card's YAML header for the hub. Pure."""
    front = {
        # the hub's `base_model` is a hub id: only when the base is one (a local folder stays in the table below)
        "base_model": facts.base_reference if facts.base_reference == facts.base_model and not facts.toy else None,
        "library_name": "peft",
        "language": ["tr"],
        "pipeline_tag": "text-generation",
        "tags": ["lora", "peft", "sft", "turkish", "chain-of-thought", "anka-refinery",
                 *(["toy-model"] if facts.toy else [])],
    }
    front = {k: v for k, v in front.items() if v is not None}
    return "\n".join(["---", yaml.safe_dump(front, allow_unicode=True, sort_keys=False).rstrip(), "---"])


def facts_table(facts: AdapterFacts) -> list[str]:
    """What the adapter is: base model, release, domains, rows, backend. Pure."""
    missing = "; ".join(f"{d} ({why})" for d, why in sorted(facts.missing_domains.items()))
    return [
        "| | |", "|---|---|",
        f"| base model | `{facts.base_model}` |",
        f"| `base_model_name_or_path` | `{facts.base_reference}` |",
        f"| release version | `{facts.release_version}` |",
        f"| domains covered | {', '.join(facts.domains) or 'none'} |",
        *([f"| known domains missing from the release | {missing} |"] if missing else []),
        f"| training rows (train / validation) | {facts.train_rows} / {facts.validation_rows} |",
        f"| backend | {facts.backend} on {facts.hardware} |",
    ]


def training_section(facts: AdapterFacts) -> list[str]:
    """The hyperparameters and the training run's figures. Pure."""
    return [
        "## Hyperparameters", "",
        "| name | value |", "|---|---|",
        *[f"| {k} | `{json.dumps(v, ensure_ascii=False)}` |" for k, v in sorted(dict(facts.hyperparameters).items())],
        "",
        "## Training", "",
        f"- optimizer steps: {facts.steps}; tokens seen: {facts.tokens}; wall time: {facts.wall_time_s:.1f} s",
        f"- training loss: {_f(facts.train_loss)} (mean over the run), "
        f"{_f(facts.loss_curve[-1]['loss'] if facts.loss_curve else None)} at the last logged step; "
        f"validation loss after training: {_f(facts.validation_loss)}",
        *curve_summary(facts.loss_curve), "",
        "The whole curve is in `anka_training.json` (`loss_curve`).",
    ]


def loading_section(version: str) -> list[str]:
    """How to load the adapter over its portable base reference. Pure."""
    return [
        "## Loading", "",
        "`adapter_config.json` names the base model portably: a hub id, or a local folder relative to this "
        "adapter's folder (the toy base lives beside the adapters, `../base/<hash>`). Copy the whole adapters "
        "folder (with `base/`) to move it.", "",
        "```python",
        "import json, pathlib",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        f'adapter = pathlib.Path("adapters/{version}")',
        'base = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]',
        "if (adapter / base).is_dir():  # a local base, relative to the adapter folder",
        "    base = str((adapter / base).resolve())",
        "model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)",
        "tokenizer = AutoTokenizer.from_pretrained(adapter)",
        "```", "",
        "`anka_assets.student.model_card.resolve_base(adapter)` does the same resolution. "
        "`peft.AutoPeftModelForCausalLM.from_pretrained(adapter)` works directly for a hub base, and for a local "
        "base when run from inside the adapter folder (the relative path is resolved against the working "
        "directory).",
    ]


INTENDED_USE = ("Research and experimentation with Turkish step-by-step reasoning. The training data are a teacher "
                "model's answers filtered by a judge: they can be wrong or dated, and nothing here is legal, medical "
                "or financial advice.")


def render_card(facts: AdapterFacts, evaluation: str | None = None) -> str:
    """The adapter's README.md. `evaluation`: the evaluation section's body (None: not evaluated yet)."""
    lines = [
        front_matter(facts), "",
        f"# ANKA student LoRA adapter `{facts.version}`", "",
        *([TOY_WARNING, ""] if facts.toy else []),
        "A LoRA adapter that teaches a small model to reason step by step in Turkish (`<think>` … `</think>` "
        "then the answer), trained by ANKA Refinery on a versioned SFT release distilled from a teacher model.", "",
        *facts_table(facts), "",
        *training_section(facts), "",
        "## Evaluation against the base", "",
        EVAL_START, (evaluation or NOT_EVALUATED).strip(), EVAL_END, "",
        *loading_section(facts.version), "",
        "## Intended use and limitations", "",
        INTENDED_USE, "",
    ]
    return "\n".join(lines)


def evaluation_section(card: str) -> str | None:
    """The evaluation section's body in an existing card (None when absent or not evaluated yet)."""
    if EVAL_START not in card or EVAL_END not in card:
        return None
    body = card.split(EVAL_START, 1)[1].split(EVAL_END, 1)[0].strip()
    return None if not body or body == NOT_EVALUATED else body


def write_card(adapter_dir: Path, facts: AdapterFacts) -> Path:
    """(Re)write the adapter's card, keeping an evaluation section already written there."""
    path = Path(adapter_dir) / CARD_FILE
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    _write_atomic(path, render_card(facts, evaluation_section(existing)))
    return path


def write_evaluation(adapter_dir: str | Path, body: str) -> Path:
    """Replace the evaluation section of the adapter's card with `body` (the latest evaluation); a card
    without one (an adapter folder from before these cards) gets the section appended."""
    path = Path(adapter_dir) / CARD_FILE
    card = path.read_text(encoding="utf-8") if path.is_file() else ""
    section = EVAL_START + "\n" + body.strip() + "\n" + EVAL_END
    if EVAL_START in card and EVAL_END in card:
        head, rest = card.split(EVAL_START, 1)
        card = head + section + rest.split(EVAL_END, 1)[1]
    else:
        card = card.rstrip() + "\n\n## Evaluation against the base\n\n" + section + "\n"
    _write_atomic(path, card)
    return path


def evaluation_markdown(report: str, *, release_version: str, trained_on: str, judge_model: str, tasks: int,
                        passed: bool, failures: Sequence[str]) -> str:
    """The evaluation section's body: where and how it was measured, the figures, and the verdict."""
    lines = [f"Measured by `student_eval` on the {tasks} held-out tasks of release `{release_version}`"
             + (f" (the adapter was trained on `{trained_on}`)" if trained_on != release_version else "")
             + f"; pairwise judge `{judge_model}`, both answer orders, an empty answer loses without the judge.",
             "", report.strip(), "",
             ("**Verdict: the adapter beats its base** (lower reference loss and a judge win rate above the floor, "
              "where measured)." if passed else
              "**Verdict: the adapter does not beat its base:** " + "; ".join(failures) + ".")]
    return "\n".join(lines)
