"""Pure logic of the cleaning stage: held-out selection, sample choice, redaction, dedup, split.

Nothing here touches Dagster or the warehouse; `assets/eval_tasks.py` and `assets/sft_dataset.py`
wire it up, `bench/clean.py` times it.

Dedup works on a Turkish-aware key (`dedup_key`: NFC, Turkish lower-casing, punctuation and
diacritics folded — for the key only, the exported text keeps its letters). Exact duplicates share
a key; near-duplicates have a Jaccard similarity of their character n-gram shingles of at least the
threshold, estimated with MinHash (rensa, Rust) and LSH banding: band keys are grouped in polars,
candidate pairs confirmed on the signatures, clusters closed with union-find. Signatures are made
in chunks so memory stays flat (shingles of 20k rows at once cost about 0.6 GB).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from anka_assets.text.normalize import count_letters, dedup_key, task_key
from anka_assets.text.pii import PLACEHOLDERS, redact

DROP_REASONS = (
    "not_passed",  # judge or expert rejected it (judged_cot.passed is false)
    "eval_task",  # its seed task is held out for evaluation
    "not_best_sample",  # selection "best": another sample of the seed scored higher
    "pii_meaningless",  # redacting personal data would leave too little text
    "exact_duplicate",  # same dedup key as a row kept before it
    "near_duplicate",  # MinHash Jaccard >= threshold with a row kept before it
    "contaminated",  # (sft_export) shares a word 8-gram or a character window with an eval task
)


# ------------------------------------------------------------------------------------------------
# Deterministic choices by hash
# ------------------------------------------------------------------------------------------------


def hash_unit(salt: str, key: str) -> float:
    """A number in [0, 1) fixed by (salt, key): the same on every machine and every run."""
    digest = hashlib.sha256(f"{salt}\x1f{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def eval_version(share: float, minimum: int, salt: str) -> str:
    """Names the held-out rule; a different share, minimum or salt is a different eval set."""
    return "ev-" + hashlib.sha256(f"{share!r}\x1f{minimum}\x1f{salt}".encode()).hexdigest()[:10]


def select_eval(seed_ids: Sequence[str], share: float, minimum: int, salt: str) -> set[str]:
    """Seed ids held out: those whose hash falls under `share`, topped up to `minimum` by lowest hash.

    Stable: adding tasks never moves an existing task in or out (unless the minimum tops up).
    Never every task of the domain: at most n - 1 are held out, so a domain keeps training data.
    """
    if not 0 <= share < 1:
        raise ValueError(f"eval share must be in [0, 1), got {share}")
    ranked = sorted(set(seed_ids), key=lambda s: (hash_unit(salt, s), s))
    chosen = [s for s in ranked if hash_unit(salt, s) < share]
    want = min(max(len(chosen), minimum), max(len(ranked) - 1, 0))
    return set(ranked[:want])


def split_of(salt: str, seed_id: str, validation_share: float) -> str:
    """'train' or 'validation' by the seed's hash: every sample of one seed lands in the same split."""
    return "validation" if hash_unit(salt, seed_id) < validation_share else "train"


# ------------------------------------------------------------------------------------------------
# Sample choice
# ------------------------------------------------------------------------------------------------


def rank_samples(df: pl.DataFrame) -> pl.DataFrame:
    """Best first within each seed: expert approval, then doğruluk, kültürel uygunluk, sample index."""
    return df.with_columns(
        _approved=(pl.col("expert_verdict") == "approve").fill_null(False),
        _d=pl.col("dogruluk").fill_null(0),
        _k=pl.col("kulturel_uygunluk").fill_null(0),
    ).sort(["seed_id", "_approved", "_d", "_k", "sample_index"], descending=[False, True, True, True, False]
           ).drop(["_approved", "_d", "_k"])


def best_per_seed(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the best sample of each seed, the others)."""
    ranked = rank_samples(df).with_columns(_rank=pl.int_range(pl.len()).over("seed_id"))
    return ranked.filter(pl.col("_rank") == 0).drop("_rank"), ranked.filter(pl.col("_rank") > 0).drop("_rank")


# ------------------------------------------------------------------------------------------------
# Redaction
# ------------------------------------------------------------------------------------------------

_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))


@dataclass(frozen=True)
class Redacted:
    instruction: str
    steps: list[str]
    answer: str
    counts: dict[str, int]
    meaningless: bool


def meaningful(text: str, min_letters: int, max_placeholder_share: float) -> bool:
    """Enough letters are left besides placeholders, and placeholders are not most of the text."""
    rest = _PLACEHOLDER_RE.sub(" ", text)
    placeholder_chars = len(text) - len(_PLACEHOLDER_RE.sub("", text))
    return count_letters(rest) >= min_letters and placeholder_chars <= max_placeholder_share * max(len(text), 1)


def redact_sample(instruction: str, steps: Sequence[str], answer: str, *, min_letters: int = 20,
                  max_placeholder_share: float = 0.3) -> Redacted:
    """Typed placeholders ([TCKN], [TELEFON], ...) for personal data in every part of one sample."""
    counts: Counter[str] = Counter()
    changed: list[tuple[str, int, float]] = []  # (redacted part, letters it must keep, placeholder share)

    def one(text: str, min_left: int, share: float) -> str:
        out, found = redact(text, mode="egress")  # what the release check scans for, redacted
        if found:
            counts.update(found)
            changed.append((out, min_left, share))
        return out

    # Only parts that held personal data are judged: an untouched short part is the judge's business.
    r_instruction = one(instruction, min(min_letters, 10), max_placeholder_share)
    r_steps = [one(s, 1, 0.9) for s in steps]
    r_answer = one(answer, min_letters, max_placeholder_share)
    meaningless = not all(meaningful(text, n, share) for text, n, share in changed)
    return Redacted(r_instruction, r_steps, r_answer, dict(counts), meaningless)


# ------------------------------------------------------------------------------------------------
# Exact and near-duplicate removal
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DedupSettings:
    threshold: float = 0.7
    num_perm: int = 128
    num_bands: int = 32
    shingle: int = 5
    chunk_rows: int = 20_000
    seed: int = 42

    def __post_init__(self) -> None:
        if self.num_perm % self.num_bands:
            raise ValueError(f"num_perm ({self.num_perm}) must be a multiple of num_bands ({self.num_bands})")


def sample_text(instruction: str, steps: Iterable[str], answer: str) -> str:
    return "\n".join([instruction, *steps, answer])


def char_shingles(key: str, size: int) -> list[str]:
    padded = f" {key} "
    if len(padded) <= size:
        return [padded]
    return list({padded[i : i + size] for i in range(len(padded) - size + 1)})


_FOLD = (("ç", "c"), ("ğ", "g"), ("ı", "i"), ("ö", "o"), ("ş", "s"), ("ü", "u"), ("â", "a"), ("î", "i"), ("û", "u"))


def fast_dedup_key(text: str) -> str:
    """`dedup_key` of one text, Turkish letters folded by plain replaces (the general path only for others)."""
    key = task_key(text)
    for a, b in _FOLD:
        key = key.replace(a, b)
    return key if key.isascii() else dedup_key(key)


def dedup_keys(texts: Sequence[str]) -> list[str]:
    """`dedup_key` of many texts, vectorised in polars; rows with other diacritics take the exact path."""
    s = pl.Series(texts, dtype=pl.Utf8).str.normalize("NFC")
    s = s.str.replace_all("I", "ı", literal=True).str.replace_all("İ", "i", literal=True).str.to_lowercase()
    s = s.str.replace_all(r"\s+", " ").str.strip_chars().str.replace_all("['’‘`´]", "")
    s = s.str.replace_all(r"[^\w\s]", " ").str.replace_all(r"\s+", " ").str.strip_chars()
    for a, b in _FOLD:
        s = s.str.replace_all(a, b, literal=True)
    keys = s.to_list()
    ascii_ = pl.Series(keys).str.contains(r"^[\x00-\x7f]*$").to_list()
    return [k if ok else dedup_key(t) for k, ok, t in zip(keys, ascii_, texts)]


def shingle_hashes(keys: Sequence[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every character `size`-gram of each padded key, flat, with row offsets.

    Vectorised: one polynomial rolling hash over the concatenated code points, windows that cross a
    row boundary left out. A key shorter than `size` is one shingle (NUL-padded)."""
    padded = [f" {k} ".ljust(size, "\0") for k in keys]
    lens = np.fromiter((len(p) for p in padded), dtype=np.int64, count=len(padded))
    cps = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    m = len(cps) - size + 1
    h = np.zeros(max(m, 0), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(size):
            h = h * np.uint64(1_000_003) + cps[j : j + m]
        h ^= h >> np.uint64(31)
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
    windows = lens - size + 1
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    offsets = np.concatenate([[0], np.cumsum(windows)])
    idx = np.repeat(starts - offsets[:-1], windows) + np.arange(offsets[-1])
    return h[idx], offsets.astype(np.uint64)


def signatures(keys: Sequence[str], settings: DedupSettings) -> np.ndarray:
    """MinHash signatures (rows × num_perm, uint32) of the keys' character shingles, in chunks."""
    from rensa import RMinHash

    out = np.empty((len(keys), settings.num_perm), dtype=np.uint32)
    for start in range(0, len(keys), settings.chunk_rows):
        chunk = keys[start : start + settings.chunk_rows]
        hashes, offsets = shingle_hashes(chunk, settings.shingle)
        matrix = RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, settings.num_perm, settings.seed)
        out[start : start + len(chunk)] = np.asarray(matrix.to_rows(), dtype=np.uint32)
    return out


def _band_keys(sigs: np.ndarray, num_bands: int) -> np.ndarray:
    """One 64-bit key per (row, band): the band's hash values mixed (rows × bands, uint64)."""
    rows = sigs.shape[0]
    bands = sigs.reshape(rows, num_bands, -1).astype(np.uint64)
    key = np.full((rows, num_bands), np.uint64(0xCBF29CE484222325))
    with np.errstate(over="ignore"):
        for j in range(bands.shape[2]):
            key = (key ^ bands[:, :, j]) * np.uint64(0x100000001B3)
            key ^= key >> np.uint64(29)
    return key


def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


def near_duplicate_of(sigs: np.ndarray, settings: DedupSettings) -> np.ndarray:
    """For each row, the index of the earliest row of its near-duplicate cluster (itself if first).

    Rows that share any LSH band are candidates; a candidate pair counts when the signatures agree
    on at least `threshold` of their positions (the MinHash estimate of Jaccard)."""
    n = sigs.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    keys = _band_keys(sigs, settings.num_bands)
    rows = np.arange(n, dtype=np.int64)
    found = []
    for band in range(settings.num_bands):  # one band at a time keeps memory flat
        frame = pl.DataFrame({"row": rows, "key": keys[:, band]})
        found.append(frame.with_columns(first=pl.col("row").min().over("key"))
                     .filter(pl.col("row") != pl.col("first")).select(["row", "first"]))
    del keys
    pairs = pl.concat(found).unique()
    a = pairs["row"].to_numpy()
    b = pairs["first"].to_numpy()
    parent = np.arange(n, dtype=np.int64)
    if len(a):
        agree = np.empty(len(a), dtype=np.float64)
        step = 200_000
        for s in range(0, len(a), step):
            agree[s : s + step] = (sigs[a[s : s + step]] == sigs[b[s : s + step]]).mean(axis=1)
        for x, y in zip(a[agree >= settings.threshold].tolist(), b[agree >= settings.threshold].tolist()):
            rx, ry = _find(parent, x), _find(parent, y)
            if rx != ry:
                parent[max(rx, ry)] = min(rx, ry)  # the root is always the earliest row
    return np.array([_find(parent, i) for i in range(n)], dtype=np.int64)


def dedup(texts: Sequence[str], settings: DedupSettings) -> tuple[list[str | None], list[int | None]]:
    """Per text, in priority order (earlier wins): (None | "exact_duplicate" | "near_duplicate", index kept)."""
    keys = dedup_keys(texts)
    first_of: dict[str, int] = {}
    reasons: list[str | None] = [None] * len(texts)
    kept_as: list[int | None] = [None] * len(texts)
    unique_idx = []
    for i, key in enumerate(keys):
        j = first_of.setdefault(key, i)
        if j != i:
            reasons[i], kept_as[i] = "exact_duplicate", j
        else:
            unique_idx.append(i)
    roots = near_duplicate_of(signatures([keys[i] for i in unique_idx], settings), settings)
    for pos, root in enumerate(roots.tolist()):
        if root != pos:
            reasons[unique_idx[pos]], kept_as[unique_idx[pos]] = "near_duplicate", unique_idx[root]
    return reasons, kept_as


def drop_counts(reasons: Mapping[str, int]) -> dict[str, int]:
    """Every known reason, zero when nothing was dropped for it (so metadata always shows all)."""
    return {reason: int(reasons.get(reason, 0)) for reason in DROP_REASONS}
