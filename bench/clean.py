"""Benchmark of the cleaning stage on synthetic Turkish chain-of-thought rows.

    python bench/clean.py            # 100k and 1M rows (minutes)
    python bench/clean.py --quick    # 20k rows, 5k-row baseline
    python bench/clean.py --rows 100000

Generates rows of about 300 characters (10 % planted near-duplicates of other rows with 1-5 character
edits, ~3 % with personal data), then times each step the way `sft_dataset` runs it: PII scan and
redaction (`cleaning.redact_sample`), language signal (lingua, as judged_cot computes it; timed on a
sample and projected), exact and near-duplicate removal (`cleaning.dedup`: Turkish-aware key, rensa
MinHash in chunks, band-by-band candidate pairs verified in batches, union-find) and formatting
(`release.Layout`, JSON line). It prints rows/s per step, peak RSS, recall on the planted
duplicates, and the dedup speed against a baseline measured in the same run: datasketch
`MinHashLSH`, 128 permutations, character 5-grams, one Python loop per row (query, then insert), on
a 20k-row sample. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anka_assets.cleaning import DedupSettings, dedup, redact_sample  # noqa: E402
from anka_assets.release import Layout  # noqa: E402
from anka_assets.text.normalize import dedup_key  # noqa: E402

WORDS = (
    "devlet hukuk kanun mahkeme karar sözleşme borç alacak tarih osmanlı selçuklu ekonomi toplum kültür "
    "şehir nüfus göç ticaret vergi tarım sanayi eğitim okul öğrenci öğretmen sağlık hastane hekim ilaç "
    "çevre iklim su enerji yönetim belediye meclis seçim anayasa özgürlük hak sorumluluk değerlendirme "
    "sonuç neden etki süreç dönem yüzyıl reform ferman antlaşma savaş barış ilişki kavram örnek açıklama "
    "öncelikle ardından ayrıca ancak bu nedenle dolayısıyla sonuç olarak özellikle genellikle çoğunlukla"
).split()
PII = ["0532 123 45 67", "ali.veli@ornek.com.tr", "10000000146", "TR33 0006 1005 1978 6457 8413 26"]


def make_rows(n: int, seed: int = 7) -> tuple[list[str], list[tuple[int, int]]]:
    """n texts; returns (texts, [(planted index, original index)])."""
    rng = random.Random(seed)
    n_dup = n // 10
    texts = []
    for _ in range(n - n_dup):
        words, length = [], 0
        while length < 300:
            w = rng.choice(WORDS)
            words.append(w)
            length += len(w) + 1
        if rng.random() < 0.03:
            words.insert(rng.randrange(len(words)), rng.choice(PII))
        text = " ".join(words)
        texts.append(text[:1].upper() + text[1:] + ".")
    planted = []
    alphabet = "abcçdefgğhıijklmnoöprsştuüvyz "
    for _ in range(n_dup):
        j = rng.randrange(n - n_dup)
        chars = list(texts[j])
        for _ in range(rng.randint(1, 5)):
            chars[rng.randrange(len(chars))] = rng.choice(alphabet)
        planted.append((len(texts), j))
        texts.append("".join(chars))
    order = list(range(n))  # shuffle so duplicates are not all at the end
    rng.shuffle(order)
    where = {old: new for new, old in enumerate(order)}
    return [texts[i] for i in order], [(where[p], where[o]) for p, o in planted]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline(texts: list[str], planted: list[tuple[int, int]]) -> tuple[float, float]:
    """datasketch MinHashLSH, 128 perms, char 5-grams, one loop per row. (rows/s, recall)."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    flagged = set()
    start = time.perf_counter()
    for i, text in enumerate(texts):
        key = dedup_key(text)
        mh = MinHash(num_perm=128, seed=1)
        mh.update_batch([s.encode("utf-8") for s in {key[k : k + 5] for k in range(len(key) - 4)}])
        if lsh.query(mh):
            flagged.add(i)
        else:
            lsh.insert(i, mh)
    elapsed = time.perf_counter() - start
    later = [p for p, o in planted if p > o]  # a planted copy seen after its original
    return len(texts) / elapsed, sum(p in flagged for p in later) / max(len(later), 1)


def run(n: int, baseline_rows: int) -> dict:
    print(f"\n== {n:,} rows ==", flush=True)
    t = time.perf_counter()
    texts, planted = make_rows(n)
    print(f"generated in {time.perf_counter() - t:.1f} s (avg {sum(map(len, texts)) / n:.0f} chars)", flush=True)
    figures: dict = {"rows": n}
    stage = 0.0

    def step(name: str, seconds: float, rows: int) -> None:
        nonlocal stage
        stage += seconds
        figures[name] = {"seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}
        print(f"{name:<22} {seconds:8.1f} s {rows / seconds:12,.0f} rows/s   peak RSS {peak_rss_mb():,.0f} MB", flush=True)

    t = time.perf_counter()
    redacted, kinds = [], 0
    for text in texts:
        r = redact_sample("Görev", [], text)
        kinds += sum(r.counts.values())
        redacted.append(r.answer)
    step("pii_scan_redact", time.perf_counter() - t, n)
    figures["placeholders"] = kinds

    from anka_assets.text.signals import detect_language

    sample = texts[: min(2000, n)]
    detect_language(sample[0])  # build the detector outside the timing
    t = time.perf_counter()
    langs = [detect_language(s) for s in sample]
    lang_s = time.perf_counter() - t
    figures["language_signal_sample"] = {"rows": len(sample), "rows_per_s": round(len(sample) / lang_s),
                                         "turkish_share": round(langs.count("tr") / len(sample), 3),
                                         "projected_s_for_all": round(n * lang_s / len(sample), 1)}
    print(f"{'language_signal':<22} {lang_s:8.1f} s {len(sample) / lang_s:12,.0f} rows/s   (lingua on a {len(sample):,}-row "
          f"sample; computed upstream in judged_cot, projected {n * lang_s / len(sample):,.0f} s for all)", flush=True)

    t = time.perf_counter()
    reasons, _ = dedup(redacted, DedupSettings())
    dedup_s = time.perf_counter() - t
    step("dedup_exact_near", dedup_s, n)
    later = [(p, o) for p, o in planted if p > o]
    recall = sum(reasons[p] is not None for p, _ in later) / max(len(later), 1)
    figures["dedup_recall"] = round(recall, 4)
    figures["dropped"] = {r: reasons.count(r) for r in ("exact_duplicate", "near_duplicate")}
    print(f"recall on planted duplicates {recall:.4f} ({len(later):,} planted after their original); dropped "
          f"{figures['dropped']}", flush=True)

    layout = Layout()
    t = time.perf_counter()
    out = 0
    for text, reason in zip(redacted, reasons):
        if reason is None:
            sentences = text.split(" ", 20)
            line = json.dumps({"messages": [*layout.prompt("Görev"), {
                "role": "assistant", "content": layout.assistant(sentences[:-1], sentences[-1])}]}, ensure_ascii=False)
            out += len(line)
    step("format_jsonl", time.perf_counter() - t, n)

    figures["stage_seconds"] = round(stage, 1)
    figures["peak_rss_mb"] = round(peak_rss_mb())
    b_rows = min(baseline_rows, n)
    sample_texts, sample_planted = make_rows(b_rows, seed=11)
    b_speed, b_recall = baseline(sample_texts, sample_planted)
    ratio = (n / dedup_s) / b_speed
    figures["baseline"] = {"rows": b_rows, "rows_per_s": round(b_speed), "recall": round(b_recall, 4)}
    figures["dedup_speed_ratio"] = round(ratio, 1)
    print(f"baseline datasketch loop on {b_rows:,} rows: {b_speed:,.0f} rows/s, recall {b_recall:.4f}")
    print(f"dedup speed vs baseline: {ratio:.1f}x (target >= 20x at recall >= 0.95)")
    print(f"whole cleaning stage: {stage:.1f} s (target <= 900 s at 1M), peak RSS {peak_rss_mb():,.0f} MB "
          f"(target <= 4096 MB)", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k rows, 5k-row baseline")
    parser.add_argument("--rows", type=int, action="append", help="row count (repeatable); default 100k and 1M")
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = [20_000] if args.quick else (args.rows or [100_000, 1_000_000])
    base = 5_000 if args.quick else args.baseline_rows
    results = [run(n, base) for n in sizes]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
