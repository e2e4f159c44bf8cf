"""The dataset card (README.md of a release): YAML front matter `datasets` reads, then one section per
concern: files, counts, funnel, scores, models and generation settings, cleaning, KVKK, use, loading."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from anka_assets.release.files import features as release_features, jsonl
from anka_assets.release.funnel import funnel_markdown
from anka_assets.release.layout import SIDE_COLUMNS, SPLITS, Layout

Files = Mapping[str, Sequence[Mapping[str, Any]]]


def _counts_table(counts: Mapping[str, Mapping[str, int]]) -> str:
    splits = ["train", "validation", "eval"]
    lines = ["| domain | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    for domain in sorted(counts):
        lines.append(f"| {domain} | " + " | ".join(str(counts[domain].get(s, 0)) for s in splits) + " |")
    return "\n".join(lines)


def _dist(values: Sequence[int | None]) -> str:
    c = Counter(v for v in values if v is not None)
    return ", ".join(f"{k}: {c.get(k, 0)}" for k in range(1, 6)) + (
        f" (no judge score: {sum(v is None for v in values)})" if any(v is None for v in values) else "")


def token_stats(values: Sequence[int]) -> dict[str, float]:
    if not values:
        return {"rows": 0}
    return {"rows": len(values), "min": min(values), "median": statistics.median(values),
            "mean": round(statistics.fmean(values), 1), "max": max(values), "total": sum(values)}


def simulated_warning(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Card lines saying how many rows the built-in simulator made (none: no lines)."""
    made = sum(1 for r in rows if any(str(r.get(k) or "").startswith("anka-simulator")
                                      for k in ("teacher_model", "judge_model")))
    if not made:
        return []
    return [f"**{made} of {len(rows)} rows were made by the built-in simulator (the offline demo): placeholder "
            "text that exercises the pipeline, not data to train a real student on.**", ""]


def _yaml_features(features) -> list[dict[str, Any]]:
    """`datasets.Features` as the dataset card's YAML list (the form `datasets` reads back)."""
    return features._to_yaml_list()


#: (config name, split name, file) of every configuration the card declares: split names are the files' names.
CARD_CONFIGS = (
    ("default", "train", "train.jsonl"), ("default", "validation", "validation.jsonl"),
    ("prompt_completion", "train", "prompt_completion/train.jsonl"),
    ("prompt_completion", "validation", "prompt_completion/validation.jsonl"),
    ("eval", "eval", "eval.jsonl"),
)


def card_front_matter(*, name: str, license: str, files: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """The card's YAML: one config per file layout, splits named as the files are, and per config its
    features and split sizes (`num_bytes`: the size of the split's JSONL file), which `datasets` reads
    without a warning."""
    import datasets

    chat, evals = release_features()
    pc = datasets.Features({"prompt": chat["messages"], "completion": chat["messages"],
                            **{c: chat[c] for c in SIDE_COLUMNS}})
    features = {"default": chat, "prompt_completion": pc, "eval": evals}
    configs: dict[str, list[tuple[str, str]]] = {}
    for config, split, path in CARD_CONFIGS:
        configs.setdefault(config, []).append((split, path))
    return {
        "license": license,
        "language": ["tr"],
        "pretty_name": name,
        "task_categories": ["text-generation", "question-answering"],
        "tags": ["chain-of-thought", "reasoning", "turkish", "sft", "distillation"],
        "configs": [{"config_name": config, **({"default": True} if config == "default" else {}),
                     "data_files": [{"split": split, "path": path} for split, path in entries]}
                    for config, entries in configs.items()],
        "dataset_info": [
            {"config_name": config, "features": _yaml_features(features[config]),
             "splits": [{"name": split, "num_bytes": len(jsonl(files[path.removesuffix(".jsonl")]).encode("utf-8")),
                         "num_examples": len(files[path.removesuffix(".jsonl")])} for split, path in entries]}
            for config, entries in configs.items()
        ],
    }


def domains_line(covered: Sequence[str], missing: Mapping[str, str]) -> str:
    """Which domains the release covers, and which known domains (seed files) it lacks and why."""
    text = f"Domains covered: {', '.join(covered) or 'none'}."
    if missing:
        text += " Known domains missing from this release: " + "; ".join(
            f"{d} ({why})" for d, why in sorted(missing.items())) + "."
    return text


def _json_block(obj: Any) -> list[str]:
    return ["```json", json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True), "```", ""]


def _front_matter_lines(name: str, license: str, files: Files) -> list[str]:
    import yaml

    front = card_front_matter(name=name, license=license, files=files)
    return ["---", yaml.safe_dump(front, allow_unicode=True, sort_keys=False).rstrip(), "---", ""]


def _intro_and_files(name: str, version: str, layout: Layout, covered: Sequence[str],
                     missing: Mapping[str, str]) -> list[str]:
    return [
        f"# {name} ({version})", "",
        "Turkish chain-of-thought SFT data distilled from a teacher model by ANKA Refinery, judged for accuracy "
        "and cultural fit (doğruluk, kültürel uygunluk), cleaned and KVKK-redacted.", "",
        "## Files", "",
        "- `train.jsonl`, `validation.jsonl`: `messages` ([system,] user, assistant) plus side columns "
        f"({', '.join(SIDE_COLUMNS)}).",
        "- `prompt_completion/{train,validation}.jsonl`: the same rows as conversational `prompt` / `completion` "
        "(TRL's completion-only loss with any chat template).",
        "- `eval.jsonl`: held-out evaluation tasks (`prompt`, `reference` or null, the seed's KVKK `sensitivity`); never trained on.",
        "- `parquet/`, `hf/` (`datasets.DatasetDict` with train / validation / eval), `release.json` (manifest).", "",
        "Assistant layout: " + json.dumps(layout.describe(), ensure_ascii=False), "",
        domains_line(covered, missing), "",
    ]


def _counts_and_funnel(counts: Mapping[str, Mapping[str, int]], funnel: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [
        "## Counts per domain and split", "", _counts_table(counts), "",
        "## Funnel per domain", "",
        "From the stored tables: seeds (`curated_seeds`) → tasks (`seed_tasks`, curated + expanded) → chains "
        "(`raw_cot`; failed = no usable teacher answer) → judged and passed (`judged_cot`; each rejected chain "
        "counted once: judge before personal data before signals) → SFT rows (`sft_dataset`) → exported (this "
        "release's train + validation). Each stage is the one before it minus the drops between them; `?`: "
        "not recorded for the stored rows.", "",
        funnel_markdown(funnel), "",
    ]


def _scores_and_tokens(files: Files) -> list[str]:
    rows = [*files["train"], *files["validation"]]
    tokens = {s: token_stats([r["completion_tokens"] for r in files[s]]) for s in SPLITS}
    return [
        "## Judge scores (train + validation)", "",
        f"- doğruluk: {_dist([r['dogruluk'] for r in rows])}",
        f"- kültürel uygunluk: {_dist([r['kulturel_uygunluk'] for r in rows])}", "",
        "## Completion tokens (teacher)", "",
        *[f"- {s}: {json.dumps(tokens[s])}" for s in SPLITS], "",
    ]


def _settings_and_kvkk(models: Mapping[str, Any], settings: Mapping[str, Any], dropped: Mapping[str, int],
                       kvkk: Mapping[str, Any]) -> list[str]:
    return [
        "## Models, generation parameters and prompt templates", "", *_json_block(models),
        "## Cleaning, dedup and decontamination", "", *_json_block(settings),
        "Rows dropped at export: " + json.dumps(dict(dropped), sort_keys=True), "",
        "## KVKK", "",
        "Counts only, never content. Tasks the gateway refused to send to a model, and personal data "
        "replaced by typed placeholders (`[TCKN]`, `[TELEFON]`, `[EPOSTA]`, `[IBAN]`, ...):", "",
        *_json_block(kvkk),
        "Every exported text passed the guard's personal-data scan.", "",
    ]


def _use_and_loading(version: str, files: Files) -> list[str]:
    return [
        "## Intended use and limitations", "",
        *simulated_warning([*files["train"], *files["validation"]]),
        "Supervised fine-tuning of small Turkish models to reason step by step in Turkish. The reasoning and "
        "answers are a teacher model's, filtered by a judge model and optional expert review: they can still be "
        "wrong, dated or incomplete, and are not legal, medical or financial advice. Placeholders mark removed "
        "personal data. Evaluate on `eval.jsonl`, which shares no task with the training rows.", "",
        "## Loading", "",
        "```python",
        "from datasets import load_dataset, load_from_disk",
        f'dd = load_from_disk("{version}/hf")  # train / validation / eval',
        f'evals = load_dataset("{version}", "eval", split="eval")  # configs: default, prompt_completion, eval',
        f'train = load_dataset("json", data_files="{version}/train.jsonl", split="train")',
        "# TRL: SFTTrainer(model=..., train_dataset=load_dataset(\"json\", data_files="
        f"\"{version}/prompt_completion/train.jsonl\", split=\"train\"), ...)",
        "```", "",
    ]


def dataset_card(*, version: str, name: str, license: str, files: Files,
                 counts: Mapping[str, Mapping[str, int]], layout: Layout, settings: Mapping[str, Any],
                 kvkk: Mapping[str, Any], models: Mapping[str, Any], dropped: Mapping[str, int],
                 funnel: Mapping[str, Mapping[str, Any]], covered: Sequence[str],
                 missing: Mapping[str, str]) -> str:
    """The card's Markdown, section by section."""
    return "\n".join([
        *_front_matter_lines(name, license, files),
        *_intro_and_files(name, version, layout, covered, missing),
        *_counts_and_funnel(counts, funnel),
        *_scores_and_tokens(files),
        *_settings_and_kvkk(models, settings, dropped, kvkk),
        *_use_and_loading(version, files),
    ])
