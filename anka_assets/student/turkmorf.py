"""TurkMorfBench's core set (package `turkmorfbench`, data CC BY 4.0), scored by option log-likelihood.

Each item asks for one inflected or derived form of a stem (`govde`) for a task (`gorev`); the
model's choice is the option (`secenek`) with the highest summed log-probability after a short
Turkish context, and it is right when that is `altin_sira`. Offline: the data ships in the wheel.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from importlib import resources
from typing import Any

from anka_assets.student.deps import require

_CASES = {
    "belirtme": "belirtme (-ı) hâli", "yonelme": "yönelme (-e) hâli", "bulunma": "bulunma (-de) hâli",
    "ayrilma": "ayrılma (-den) hâli", "tamlayan": "tamlayan (-in) hâli", "vasita": "vasıta (-le) hâli",
}
_DERIVATIONS = {
    "olumsuz_genis": "olumsuz geniş zaman", "genis": "geniş zaman", "edilgen": "edilgen çatı",
    "ettirgen": "ettirgen çatı", "siz": "-sız eki", "sal": "-sal eki", "les": "-leş eki", "le": "-le eki",
    "li": "-lı eki", "ci": "-cı eki", "lik": "-lık eki",
}
_PERSONS = {"tek-1t": "birinci tekil kişi iyeliği", "tek-3t": "üçüncü tekil kişi iyeliği",
            "cog-1c": "birinci çoğul kişi iyeliği", "cog-3t": "üçüncü çoğul kişi iyeliği"}


@dataclass(frozen=True)
class MorphItem:
    kimlik: str
    gorev: str
    govde: str
    options: tuple[str, ...]
    gold: int


def task_label(gorev: str) -> str:
    """A Turkish description of a task code ('yonelme' → 'yönelme (-e) hâli', 'tek-1t-bulunma' → …)."""
    if gorev in _CASES:
        return _CASES[gorev]
    if gorev in _DERIVATIONS:
        return _DERIVATIONS[gorev]
    for prefix, person in _PERSONS.items():
        if gorev.startswith(prefix + "-") and gorev[len(prefix) + 1:] in _CASES:
            return f"{person} ve {_CASES[gorev[len(prefix) + 1:]]}"
    if gorev.startswith("derinlik_"):
        return f"{gorev.removeprefix('derinlik_')} ekli çekim"
    return gorev.replace("_", " ")


def load_items(limit: int | None = None, seed: int = 0) -> tuple[list[MorphItem], int]:
    """(items, size of the full core set). A limit draws a seeded random sample, kept in file order."""
    require("turkmorfbench")
    source = resources.files("turkmorfbench").joinpath("veri", "cekirdek.json")
    data: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    raw = data["maddeler"]
    items = []
    for i, r in enumerate(raw):
        try:
            items.append(MorphItem(str(r["kimlik"]), str(r["gorev"]), str(r["govde"]), tuple(r["secenek"]),
                                   int(r["altin_sira"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"turkmorfbench cekirdek.json item {i}: bad or missing field ({exc})") from exc
    total = len(items)
    if limit is not None and 0 < limit < total:
        keep = sorted(random.Random(seed).sample(range(total), limit))
        items = [items[i] for i in keep]
    return items, total


def context(item: MorphItem) -> str:
    return f"Kök: {item.govde}\nİstenen biçim: {task_label(item.gorev)}\nCevap:"


def option_loglik(model, tokenizer, pairs: list[tuple[str, str]], *, adapter: bool, batch_size: int = 32) -> list[float]:
    """Summed log-probability of each continuation given its context (right-padded batches)."""
    torch = require("torch")
    from contextlib import nullcontext

    scores: list[float] = []
    variant = nullcontext() if adapter else model.disable_adapter()
    with variant, torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            seqs, spans = [], []
            for ctx, cont in chunk:
                c_ids = tokenizer(ctx, add_special_tokens=False)["input_ids"]
                o_ids = tokenizer(" " + cont, add_special_tokens=False)["input_ids"]
                seqs.append(c_ids + o_ids)
                spans.append((len(c_ids), len(c_ids) + len(o_ids)))
            width = max(map(len, seqs))
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
            ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=model.device)
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=model.device)
            logprobs = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
            for row, (lo, hi) in enumerate(spans):
                targets = ids[row, lo:hi]
                scores.append(float(logprobs[row, lo - 1:hi - 1].gather(1, targets[:, None]).sum()))
    return scores


def accuracy(model, tokenizer, items: list[MorphItem], *, adapter: bool) -> float:
    pairs = [(context(item), option) for item in items for option in item.options]
    scores = option_loglik(model, tokenizer, pairs, adapter=adapter)
    right, k = 0, 0
    for item in items:
        item_scores = scores[k:k + len(item.options)]
        k += len(item.options)
        right += int(max(range(len(item_scores)), key=item_scores.__getitem__) == item.gold)
    return right / len(items) if items else 0.0
