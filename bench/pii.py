"""Recall and false blocks of the PII scan, redact mode vs the KVKK egress mode.

    python bench/pii.py                 # 40 cases per (kind, obfuscation), 5000 ordinary sentences,
                                        # 1000 sentences per order/reference/amount shape
    python bench/pii.py --per 100 --ordinary 20000 --shapes 3000 --seed 7

Recall: a seeded generator (anka_testkit/pii_fuzz.py) writes valid identifiers of every kind
(T.C. Kimlik No / YKN, VKN, TR IBAN, Luhn cards of every brand, Turkish phones, e-mails, plates) in
every obfuscation (spacings, separators, Unicode digits, invisible characters, [at]/(nokta) forms ...)
inside Turkish sentences. A case counts as caught when a match of that mode overlaps the identifier
(the guard only needs to know that something personal is there; a 10-digit number valid both as a
phone and as a VKN is caught whichever name it gets).

False blocks: the share of ordinary texts the egress mode would keep away from a commercial endpoint:
the shipped public seeds (data/seeds/*.yaml, sensitivity public) and generated sentences full of years,
amounts, law and article numbers, dates, ISBNs, page and case numbers; and generated order/reference
numbers, grouped thousands and decimal amounts (Amazon-style 3-7-7 and other dashed layouts, prefixed
invoice and reference numbers, GİB e-invoice numbers, thousands grouped with dots, commas, spaces or
apostrophes, decimal amounts in TL/₺/USD/EUR), reported per shape. The redact mode is measured in the
same run. Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anka_assets.text.pii import MODES, find_pii  # noqa: E402
from anka_testkit.pii_fuzz import (  # noqa: E402
    NUMBER_SHAPES,
    number_shape_sentences,
    ordinary_sentences,
    pii_cases,
)


def public_seed_prompts() -> list[str]:
    prompts = []
    for path in sorted((ROOT / "data" / "seeds").glob("*.yaml")):
        for task in yaml.safe_load(path.read_text(encoding="utf-8"))["tasks"]:
            if task.get("sensitivity", "public") == "public":
                prompts.append(task["instruction"])
    return prompts


def caught(sentence: str, ident: str, mode: str) -> bool:
    i = sentence.index(ident)
    return any(m.start < i + len(ident) and m.end > i for m in find_pii(sentence, mode=mode))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per", type=int, default=40, help="cases per (kind, obfuscation)")
    ap.add_argument("--ordinary", type=int, default=5000, help="generated ordinary sentences")
    ap.add_argument("--shapes", type=int, default=1000, help="generated sentences per number shape")
    ap.add_argument("--seed", type=int, default=20261201)
    args = ap.parse_args()

    cases = list(pii_cases(args.seed, args.per))
    hits: dict[tuple[str, str, str], int] = defaultdict(int)
    totals: dict[tuple[str, str], int] = defaultdict(int)
    seconds = dict.fromkeys(MODES, 0.0)
    for c in cases:
        totals[(c.kind, c.obfuscation)] += 1
        for mode in MODES:
            t0 = time.perf_counter()
            hits[(mode, c.kind, c.obfuscation)] += caught(c.sentence, c.identifier, mode)
            seconds[mode] += time.perf_counter() - t0

    print(f"PII recall: {len(cases)} generated identifiers (seed {args.seed}, {args.per} per kind x obfuscation)\n")
    print(f"{'kind':<8} {'cases':>6} {'redact':>8} {'egress':>8}   egress misses / redact's weakest obfuscations")
    kinds = sorted({k for k, _ in totals}, key=lambda k: list(dict.fromkeys(k for k, _ in totals)).index(k))
    for kind in kinds:
        obfs = [o for k, o in totals if k == kind]
        n = sum(totals[(kind, o)] for o in obfs)
        rec = {m: sum(hits[(m, kind, o)] for o in obfs) / n for m in MODES}
        egress_miss = [o for o in obfs if hits[("egress", kind, o)] < totals[(kind, o)]]
        weak = sorted(obfs, key=lambda o: hits[("redact", kind, o)] / totals[(kind, o)])[:4]
        weak_s = ", ".join(f"{o} {hits[('redact', kind, o)] / totals[(kind, o)]:.2f}" for o in weak)
        print(f"{kind:<8} {n:>6} {rec['redact']:>8.3f} {rec['egress']:>8.3f}   "
              f"egress misses: {egress_miss or 'none'}; redact: {weak_s}")
    n_all = len(cases)
    overall = {m: sum(v for (mm, _, _), v in hits.items() if mm == m) / n_all for m in MODES}
    print(f"{'all':<8} {n_all:>6} {overall['redact']:>8.3f} {overall['egress']:>8.3f}")

    print("\nRecall per obfuscation (all kinds that use it):")
    obf_names = list(dict.fromkeys(o for _, o in totals))
    print(f"  {'obfuscation':<22} {'cases':>6} {'redact':>8} {'egress':>8}")
    for o in obf_names:
        n = sum(v for (k, oo), v in totals.items() if oo == o)
        r = {m: sum(v for (mm, _, oo), v in hits.items() if mm == m and oo == o) / n for m in MODES}
        print(f"  {o:<22} {n:>6} {r['redact']:>8.3f} {r['egress']:>8.3f}")

    print("\nFalse blocks (texts with no personal data that a mode flags):")
    shaped = list(number_shape_sentences(args.seed, args.shapes))
    corpora = {
        "public seeds (data/seeds)": public_seed_prompts(),
        f"generated ordinary (seed {args.seed}, n={args.ordinary})": ordinary_sentences(args.seed, args.ordinary),
        f"order/reference numbers, amounts (n={len(shaped)})": [t for _, t in shaped],
    }
    print(f"  {'corpus':<46} {'texts':>6} {'redact':>8} {'egress':>8}")
    flagged_by: dict[tuple[str, str], list[str]] = {}
    for name, texts in corpora.items():
        for mode in MODES:
            flagged_by[(name, mode)] = [t for t in texts if find_pii(t, mode=mode)]
        rates = {m: len(flagged_by[(name, m)]) / len(texts) for m in MODES}
        print(f"  {name:<46} {len(texts):>6} {rates['redact']:>8.2%} {rates['egress']:>8.2%}")
    n_neg = sum(len(texts) for texts in corpora.values())
    total = {m: sum(len(flagged_by[(name, m)]) for name in corpora) / n_neg for m in MODES}
    print(f"  {'all negatives':<46} {n_neg:>6} {total['redact']:>8.2%} {total['egress']:>8.2%}"
          "   (egress goal <= 0.50%)")
    print("  order/reference numbers and amounts, per shape:")
    shape_corpus = list(corpora)[-1]
    flagged_sets = {m: set(flagged_by[(shape_corpus, m)]) for m in MODES}
    for shape in NUMBER_SHAPES:
        texts = [t for s, t in shaped if s == shape]
        r = {m: sum(t in flagged_sets[m] for t in texts) / len(texts) for m in MODES}
        print(f"    {shape:<44} {len(texts):>6} {r['redact']:>8.2%} {r['egress']:>8.2%}")
    for mode in MODES:
        for name in corpora:
            for t in flagged_by[(name, mode)][:3]:
                print(f"    {mode} flagged: {t[:100]!r} -> {[(m.kind, m.text) for m in find_pii(t, mode=mode)]}")

    per_case = {m: seconds[m] / max(1, n_all) * 1e6 for m in MODES}
    print(f"\nScan time per generated sentence: redact {per_case['redact']:.0f} µs, egress {per_case['egress']:.0f} µs "
          f"(egress/redact {per_case['egress'] / max(per_case['redact'], 1e-9):.1f}x)")


if __name__ == "__main__":
    main()
