"""Pure logic of the release: chat formatting, decontamination, checks, versioning, files, dataset card.

Layout of one training example (TRL, Unsloth, LLaMA-Factory read it as is)::

    messages = [{"role": "system", ...} (optional), {"role": "user", "content": instruction},
                {"role": "assistant", "content": "<think>\\n{steps joined by \\n}\\n</think>\\n\\n{answer}"}]

and the same rows as conversational `prompt` (system + user) / `completion` (the assistant turn).
The version is content-addressed: "r-" + 12 hex of sha256 over the canonical rows and settings.
"""

from __future__ import annotations

import functools

import hashlib
import json
import os
import shutil
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anka_assets.reasons import JUDGE_REASONS
from anka_assets.text.normalize import dedup_key
from anka_assets.text.pii import find_pii

# The KVKK guard's own scan (recall-first egress mode) checks every exported text.
PII_SCAN: Callable[[str], list] = functools.partial(find_pii, mode="egress")

SIDE_COLUMNS = ("domain", "seed_id", "sample_index", "teacher_model", "judge_model", "dogruluk",
                "kulturel_uygunluk", "completion_tokens", "content_hash")
SPLITS = ("train", "validation")


@dataclass(frozen=True)
class Layout:
    system_prompt: str | None = None
    assistant_template: str = "<think>\n{reasoning}\n</think>\n\n{answer}"
    step_separator: str = "\n"

    def assistant(self, steps: Sequence[str], answer: str) -> str:
        return self.assistant_template.format(reasoning=self.step_separator.join(steps), answer=answer)

    def prompt(self, instruction: str) -> list[dict[str, str]]:
        system = [] if self.system_prompt is None else [{"role": "system", "content": self.system_prompt}]
        return [*system, {"role": "user", "content": instruction}]

    def describe(self) -> dict[str, Any]:
        return {"system_prompt": self.system_prompt, "assistant_template": self.assistant_template,
                "step_separator": self.step_separator}


def example(row: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
    """One `messages` row with its side columns, from an `sft_dataset` row."""
    assistant = {"role": "assistant", "content": layout.assistant(list(row["reasoning_steps"]), row["answer"])}
    return {"messages": [*layout.prompt(row["instruction"]), assistant], **{c: row[c] for c in SIDE_COLUMNS}}


def prompt_completion(ex: Mapping[str, Any]) -> dict[str, Any]:
    """The same example as conversational prompt / completion."""
    return {"prompt": ex["messages"][:-1], "completion": ex["messages"][-1:],
            **{c: ex[c] for c in SIDE_COLUMNS}}


# ------------------------------------------------------------------------------------------------
# Decontamination against the held-out eval tasks
# ------------------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return dedup_key(text).split()


def _squeezed(text: str) -> str:
    return dedup_key(text).replace(" ", "")


@dataclass
class EvalIndex:
    """Word n-grams (after Turkish folding) and character windows of the eval tasks' text.

    Word 8-grams are what open-r1 and s1 use; Turkish suffixes change the words of a paraphrase, so a
    character window (on the folded text without spaces) also catches a long shared stretch."""

    ngram: int = 8
    window: int = 50

    def __post_init__(self) -> None:
        self._ngrams: dict[tuple[str, ...], str] = {}
        self._windows: dict[str, str] = {}

    def add(self, ref: str, text: str) -> None:
        words = _words(text)
        for i in range(max(len(words) - self.ngram + 1, 0)):
            self._ngrams.setdefault(tuple(words[i : i + self.ngram]), ref)
        if len(words) < self.ngram and words:
            self._ngrams.setdefault(tuple(words), ref)  # a short task must appear whole
        s = _squeezed(text)
        for i in range(max(len(s) - self.window + 1, 0)):
            self._windows.setdefault(s[i : i + self.window], ref)
        if 0 < len(s) < self.window:
            self._windows.setdefault(s, ref)

    def hit(self, text: str) -> tuple[str, str] | None:
        """(eval seed id, "word_ngram" | "char_window") of the first overlap, or None."""
        words = _words(text)
        short = {len(k) for k in self._ngrams}
        for n in short:
            for i in range(max(len(words) - n + 1, 0)):
                ref = self._ngrams.get(tuple(words[i : i + n]))
                if ref is not None:
                    return ref, "word_ngram"
        s = _squeezed(text)
        for n in {len(k) for k in self._windows}:
            for i in range(max(len(s) - n + 1, 0)):
                ref = self._windows.get(s[i : i + n])
                if ref is not None:
                    return ref, "char_window"
        return None


def example_text(ex: Mapping[str, Any]) -> str:
    return "\n".join(m["content"] for m in ex["messages"] if m["role"] != "system")


# ------------------------------------------------------------------------------------------------
# Checks (pure: list of problems, empty when fine)
# ------------------------------------------------------------------------------------------------


def chat_problems(messages: Any, *, completion: bool = True) -> list[str]:
    """Roles and order ([system], user[, assistant]) and non-empty string content."""
    if not isinstance(messages, list) or not messages:
        return ["not a non-empty list of messages"]
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    expected = ["user", "assistant"] if completion else ["user"]
    if roles not in (expected, ["system", *expected]):
        return [f"roles {roles} (expected {'[system,] ' + ', '.join(expected)})"]
    problems = []
    for i, m in enumerate(messages):
        if set(m) != {"role", "content"}:
            problems.append(f"message {i} has keys {sorted(m)}")
        content = m.get("content")
        if not isinstance(content, str) or not content.strip():
            problems.append(f"message {i} ({m.get('role')}) has empty content")
    return problems


def invalid_chats(files: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Every row of every release file whose chat is malformed: [{file, row, problems}]."""
    bad = []
    for name, rows in files.items():
        for i, row in enumerate(rows):
            if "messages" in row:
                problems = chat_problems(row["messages"])
            elif "completion" in row:
                problems = chat_problems(list(row["prompt"]) + list(row["completion"]))
            else:
                problems = chat_problems(row["prompt"], completion=False)
                if row.get("reference") is not None:
                    problems += chat_problems(list(row["prompt"]) + [{"role": "assistant", "content": row["reference"]}])
            if problems:
                bad.append({"file": name, "row": i, "problems": problems})
    return bad


def _texts(row: Mapping[str, Any]) -> Iterable[str]:
    for key in ("messages", "prompt", "completion"):
        for m in row.get(key) or []:
            yield m["content"]
    for key in ("instruction", "reference"):
        if isinstance(row.get(key), str):
            yield row[key]


def pii_findings(files: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Personal data the guard's scan finds in any exported text: [{file, row, kinds}] (never the text)."""
    found = []
    for name, rows in files.items():
        for i, row in enumerate(rows):
            kinds = sorted({m.kind for text in _texts(row) for m in PII_SCAN(text or "")})
            if kinds:
                found.append({"file": name, "row": i, "kinds": kinds})
    return found


def eval_overlaps(train_rows: Sequence[Mapping[str, Any]], eval_rows: Sequence[Mapping[str, Any]],
                  index: EvalIndex) -> list[dict[str, Any]]:
    """Training rows that share a seed with, or contain text of, an eval task."""
    eval_ids = {r["seed_id"] for r in eval_rows}
    out = []
    for i, row in enumerate(train_rows):
        if row["seed_id"] in eval_ids:
            out.append({"row": i, "seed_id": row["seed_id"], "how": "same_seed"})
            continue
        hit = index.hit(example_text(row))
        if hit is not None:
            out.append({"row": i, "seed_id": row["seed_id"], "eval_seed_id": hit[0], "how": hit[1]})
    return out


# ------------------------------------------------------------------------------------------------
# Version and files
# ------------------------------------------------------------------------------------------------


def canonical(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def release_version(files: Mapping[str, Sequence[Mapping[str, Any]]], settings: Mapping[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(canonical(settings).encode("utf-8"))
    for name in sorted(files):
        h.update(f"\x1e{name}\x1e".encode())
        for row in files[name]:
            h.update(canonical(row).encode("utf-8"))
            h.update(b"\n")
    return "r-" + h.hexdigest()[:12]


def jsonl(rows: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _features():
    import datasets

    msg = datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")})
    side = {"domain": datasets.Value("string"), "seed_id": datasets.Value("string"),
            "sample_index": datasets.Value("int64"), "teacher_model": datasets.Value("string"),
            "judge_model": datasets.Value("string"), "dogruluk": datasets.Value("int64"),
            "kulturel_uygunluk": datasets.Value("int64"), "completion_tokens": datasets.Value("int64"),
            "content_hash": datasets.Value("string")}
    chat = datasets.Features({"messages": msg, **side})
    evals = datasets.Features({"domain": datasets.Value("string"), "seed_id": datasets.Value("string"),
                               "instruction": datasets.Value("string"), "prompt": msg,
                               "reference": datasets.Value("string"), "sensitivity": datasets.Value("string")})
    return chat, evals


def write_release(root: Path, version: str, files: Mapping[str, Sequence[Mapping[str, Any]]],
                  card: str, manifest: dict[str, Any]) -> tuple[Path, bool]:
    """Write the release into `root/version/` (temp dir, then one atomic rename).

    Returns (release dir, written?). An existing complete release of that version is left untouched."""
    import datasets
    import polars as pl

    final = root / version
    if (final / "release.json").exists():
        return final, False
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{version}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "prompt_completion").mkdir(parents=True)
    (tmp / "parquet").mkdir()
    for split in SPLITS:
        (tmp / f"{split}.jsonl").write_text(jsonl(files[split]), encoding="utf-8")
        (tmp / "prompt_completion" / f"{split}.jsonl").write_text(
            jsonl(files[f"prompt_completion/{split}"]), encoding="utf-8")
    (tmp / "eval.jsonl").write_text(jsonl(files["eval"]), encoding="utf-8")
    chat, evals = _features()

    def table(rows, features):  # column-wise, so an empty split keeps its columns
        return datasets.Dataset.from_dict({k: [r[k] for r in rows] for k in features}, features=features)

    dd = datasets.DatasetDict({"train": table(files["train"], chat), "validation": table(files["validation"], chat),
                               "eval": table(files["eval"], evals)})
    for split, ds in dd.items():
        pl.from_arrow(ds.data.table).write_parquet(tmp / "parquet" / f"{split}.parquet")
    dd.save_to_disk(str(tmp / "hf"))
    (tmp / "README.md").write_text(card, encoding="utf-8")
    manifest = {**manifest, "files": {
        str(p.relative_to(tmp)): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}}
    (tmp / "release.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    try:
        os.rename(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another writer won the race with the same content
        if not (final / "release.json").exists():
            raise
        return final, False
    return final, True


# ------------------------------------------------------------------------------------------------
# Dataset card
# ------------------------------------------------------------------------------------------------


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

    chat, evals = _features()
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


def dataset_card(*, version: str, name: str, license: str, files: Mapping[str, Sequence[Mapping[str, Any]]],
                 counts: Mapping[str, Mapping[str, int]], layout: Layout, settings: Mapping[str, Any],
                 kvkk: Mapping[str, Any], models: Mapping[str, Any], dropped: Mapping[str, int],
                 funnel: Mapping[str, Mapping[str, Any]], covered: Sequence[str],
                 missing: Mapping[str, str]) -> str:
    rows = [*files["train"], *files["validation"]]
    front = card_front_matter(name=name, license=license, files=files)
    import yaml

    tokens = {s: token_stats([r["completion_tokens"] for r in files[s]]) for s in SPLITS}
    lines = [
        "---", yaml.safe_dump(front, allow_unicode=True, sort_keys=False).rstrip(), "---", "",
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
        "## Counts per domain and split", "", _counts_table(counts), "",
        "## Funnel per domain", "",
        "From the stored tables: seeds (`curated_seeds`) → tasks (`seed_tasks`, curated + expanded) → chains "
        "(`raw_cot`; failed = no usable teacher answer) → judged and passed (`judged_cot`; each rejected chain "
        "counted once: judge before personal data before signals) → SFT rows (`sft_dataset`) → exported (this "
        "release's train + validation). Each stage is the one before it minus the drops between them; `?`: "
        "not recorded for the stored rows.", "",
        funnel_markdown(funnel), "",
        "## Judge scores (train + validation)", "",
        f"- doğruluk: {_dist([r['dogruluk'] for r in rows])}",
        f"- kültürel uygunluk: {_dist([r['kulturel_uygunluk'] for r in rows])}", "",
        "## Completion tokens (teacher)", "",
        *[f"- {s}: {json.dumps(tokens[s])}" for s in SPLITS], "",
        "## Models, generation parameters and prompt templates", "",
        "```json", json.dumps(models, ensure_ascii=False, indent=2, sort_keys=True), "```", "",
        "## Cleaning, dedup and decontamination", "",
        "```json", json.dumps(settings, ensure_ascii=False, indent=2, sort_keys=True), "```", "",
        "Rows dropped at export: " + json.dumps(dict(dropped), sort_keys=True), "",
        "## KVKK", "",
        "Counts only, never content. Tasks the gateway refused to send to a model, and personal data "
        "replaced by typed placeholders (`[TCKN]`, `[TELEFON]`, `[EPOSTA]`, `[IBAN]`, ...):", "",
        "```json", json.dumps(kvkk, ensure_ascii=False, indent=2, sort_keys=True), "```", "",
        "Every exported text passed the guard's personal-data scan.", "",
        "## Intended use and limitations", "",
        *simulated_warning(rows),
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
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# The funnel: seeds → tasks → chains → judged and passed → SFT rows → exported, per domain
# ------------------------------------------------------------------------------------------------

#: Stages in order, each with the drop reasons counted on the way into the next stage.
FUNNEL_COLUMNS = (
    "seeds", "tasks", "tasks_curated", "tasks_expanded",
    "chains", "chains_ok", "chains_failed",
    "rejected_judge", "rejected_signals", "rejected_personal_data", "passed",
    "held_out_eval", "not_best_sample", "dropped_personal_data", "dropped_duplicates", "sft_rows",
    "export_duplicates", "contaminated", "exported",
)


def reject_category(reasons: Sequence[str]) -> str:
    """The one funnel reason of a rejected chain whose teacher answered: 'judge' (the judge's scores, a
    judge error, an expert's rejection) before 'personal_data' before 'signals' (language, refusal,
    length, steps, repetition, foreign script), so each rejected chain is counted exactly once."""
    if any(r in JUDGE_REASONS or r.startswith("judge_") for r in reasons):  # criteria's reasons: reasons.py
        return "judge"
    if "personal_data" in reasons:
        return "personal_data"
    return "signals"


def funnel_row(*, seeds: int, task_origins: Iterable[str], chain_statuses: Iterable[str],
               judged: Iterable[tuple[str, bool, Sequence[str]]], sft_drops: Mapping[str, int] | None,
               sft_rows: int, export_drops: Mapping[str, int], exported: int) -> dict[str, Any]:
    """One domain's funnel from its stored rows. Pure.

    `judged`: (teacher_status, passed, reject_reasons) per judged_cot row; `sft_drops`: the rows
    `sft_dataset` dropped by reason (`reasons.DROP_REASONS`), None when its ledger does not describe
    the stored rows (then the SFT-stage reasons are None: unknown, never guessed)."""
    origins = Counter(task_origins)
    statuses = Counter(chain_statuses)
    rejected: Counter[str] = Counter()
    passed = 0
    for teacher_status, ok, reasons in judged:
        if teacher_status != "ok":
            continue  # counted as a failed chain
        if ok:
            passed += 1
        else:
            rejected[reject_category(reasons)] += 1
    known = sft_drops is not None
    drops = sft_drops or {}
    return {
        "seeds": seeds, "tasks": sum(origins.values()),
        "tasks_curated": origins.get("curated", 0), "tasks_expanded": origins.get("expanded", 0),
        "chains": sum(statuses.values()), "chains_ok": statuses.get("ok", 0),
        "chains_failed": sum(n for s, n in statuses.items() if s != "ok"),
        "rejected_judge": rejected["judge"], "rejected_signals": rejected["signals"],
        "rejected_personal_data": rejected["personal_data"], "passed": passed,
        "held_out_eval": drops.get("eval_task", 0) if known else None,
        "not_best_sample": drops.get("not_best_sample", 0) if known else None,
        "dropped_personal_data": drops.get("pii_meaningless", 0) if known else None,
        "dropped_duplicates": drops.get("exact_duplicate", 0) + drops.get("near_duplicate", 0) if known else None,
        "sft_rows": sft_rows,
        "export_duplicates": export_drops.get("exact_duplicate", 0) + export_drops.get("near_duplicate", 0),
        "contaminated": export_drops.get("contaminated", 0), "exported": exported,
    }


def funnel_total(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The sum over domains (a column with an unknown value in any domain stays unknown)."""
    return {c: None if any(r[c] is None for r in rows.values()) else sum(r[c] for r in rows.values())
            for c in FUNNEL_COLUMNS}


def funnel_problems(row: Mapping[str, Any]) -> list[str]:
    """Where one funnel row does not add up (empty when every stage is its predecessor minus its drops)."""
    def known(*cols):
        return all(row[c] is not None for c in cols)

    sums = [("tasks", ("tasks_curated", "tasks_expanded")), ("chains", ("chains_ok", "chains_failed")),
            ("chains_ok", ("passed", "rejected_judge", "rejected_signals", "rejected_personal_data")),
            ("passed", ("held_out_eval", "not_best_sample", "dropped_personal_data", "dropped_duplicates", "sft_rows")),
            ("sft_rows", ("export_duplicates", "contaminated", "exported"))]
    return [f"{whole} {row[whole]} != {' + '.join(parts)} ({sum(row[p] for p in parts)})"
            for whole, parts in sums if known(whole, *parts) and row[whole] != sum(row[p] for p in parts)]


def _n(value: Any) -> str:
    return "?" if value is None else str(value)


def funnel_markdown(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """The funnel as a table: one row per domain plus the total, each stage followed by its drops."""
    header = ["domain", "seeds", "tasks (curated+expanded)", "chains (raw_cot ok / failed)",
              "rejected: judge / signals / personal data", "judged and passed",
              "held out for eval / not best sample / personal data / duplicates", "SFT rows",
              "export: duplicates / contaminated", "exported"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for domain, r in [*sorted(rows.items()), ("**all**", funnel_total(rows))]:
        cells = [domain, _n(r["seeds"]), f"{_n(r['tasks'])} ({_n(r['tasks_curated'])}+{_n(r['tasks_expanded'])})",
                 f"{_n(r['chains'])} ({_n(r['chains_ok'])} / {_n(r['chains_failed'])})",
                 f"{_n(r['rejected_judge'])} / {_n(r['rejected_signals'])} / {_n(r['rejected_personal_data'])}",
                 _n(r["passed"]),
                 f"{_n(r['held_out_eval'])} / {_n(r['not_best_sample'])} / {_n(r['dropped_personal_data'])} / "
                 f"{_n(r['dropped_duplicates'])}",
                 _n(r["sft_rows"]), f"{_n(r['export_duplicates'])} / {_n(r['contaminated'])}", _n(r["exported"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
