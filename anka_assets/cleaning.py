"""Pure logic of the cleaning stage: held-out selection, sample choice, redaction, dedup, split.

Nothing here touches Dagster or the warehouse; `assets/eval_tasks.py` and `assets/sft_dataset.py`
wire it up, `bench/clean.py` times it.

Dedup works on a Turkish-aware key (`dedup_key`: NFC, Turkish lower-casing, punctuation and
diacritics folded — for the key only, the exported text keeps its letters). Exact duplicates share
a key; near-duplicates have a Jaccard similarity of their character n-gram shingles of at least the
threshold, estimated with MinHash (rensa, Rust) and LSH banding. Keys, shingles and signatures
are made one chunk at a time (shingles of 20k rows at once cost about 0.6 GB), only the signatures
are kept (num_perm × 4 bytes a row). Then one band at a time: rows are sorted by band key, each row
is paired with a bounded set of rows of its bucket (the bucket's earliest row and its neighbours
in an order that puts rows agreeing on the next band side by side), the pairs are verified in
bounded batches with vectorised numpy comparisons (2-bit fingerprints first, then the full
signatures), and the clusters are closed with an exact, vectorised union-find. Memory grows with the
rows, not with the candidate pairs.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import polars as pl

from anka_assets.text.normalize import count_letters, dedup_key, task_key
from anka_assets.text.pii import PLACEHOLDERS, redact

# The drop reasons and their counting live in `anka_assets.reasons` (one vocabulary for every stage).
from anka_assets.reasons import DROP_REASONS, drop_counts  # noqa: F401  (re-exported)


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
    neighbours: int = 2  # per band, each row is also compared to this many rows after it in its bucket
    verify_batch: int = 131_072  # candidate pairs verified at once

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
    """`dedup_key` of many texts, vectorised in polars; rows with other diacritics take the exact path.

    NFC in Python (it returns at once for text already in NFC); then 'İ' → 'i' before lower-casing
    ('I' lower-cases to 'i', the same as 'ı' after folding); apostrophes dropped, other punctuation
    to spaces, whitespace collapsed once at the end; Turkish letters folded in one pass."""
    s = pl.Series([unicodedata.normalize("NFC", t) for t in texts], dtype=pl.Utf8)
    s = s.str.replace_all("İ", "i", literal=True).str.to_lowercase().str.replace_all("['’‘`´]", "")
    s = s.str.replace_all(r"[^\w\s]", " ").str.replace_all(r"\s+", " ").str.strip_chars()
    s = s.str.replace_many([a for a, _ in _FOLD], [b for _, b in _FOLD])
    ascii_ = (s.str.len_bytes() == s.str.len_chars()).to_list()
    return [k if ok else dedup_key(t) for k, ok, t in zip(s.to_list(), ascii_, texts)]


def shingle_hashes(keys: Sequence[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every character `size`-gram of each padded key, flat, with row offsets.

    Vectorised: one polynomial rolling hash over the concatenated code points, windows that cross a
    row boundary left out. A key shorter than `size` is one shingle (NUL-padded)."""
    padded = [f" {k} ".ljust(size, "\0") for k in keys]
    lens = np.fromiter((len(p) for p in padded), dtype=np.int64, count=len(padded))
    cps = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    del padded
    m = max(len(cps) - size + 1, 0)
    h = cps[:m].copy()
    with np.errstate(over="ignore"):  # in place: no temporaries of the whole chunk per step
        for j in range(1, size):
            h *= np.uint64(1_000_003)
            h += cps[j : j + m]
        del cps
        h ^= h >> np.uint64(31)
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
    windows = lens - size + 1
    ends = np.cumsum(lens)
    crossing = (ends[:, None] - np.arange(1, size, dtype=np.int64)).ravel()  # windows that start in a row's last size-1 chars
    inside = np.ones(m, dtype=bool)
    inside[crossing[crossing < m]] = False
    offsets = np.concatenate([[0], np.cumsum(windows)])
    return h[inside], offsets.astype(np.uint64)


def signatures(keys: Sequence[str], settings: DedupSettings) -> np.ndarray:
    """MinHash signatures (rows × num_perm, uint32) of the keys' character shingles, in chunks."""
    out = np.empty((len(keys), settings.num_perm), dtype=np.uint32)
    for start in range(0, len(keys), settings.chunk_rows):
        chunk = keys[start : start + settings.chunk_rows]
        out[start : start + len(chunk)] = _signature_chunk(chunk, settings)
    return out


def _signature_chunk(keys: Sequence[str], settings: DedupSettings) -> np.ndarray:
    """Signatures of one chunk; its shingle hashes are freed on return."""
    from rensa import RMinHash

    if not keys:
        return np.empty((0, settings.num_perm), dtype=np.uint32)
    hashes, offsets = shingle_hashes(keys, settings.shingle)
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, settings.num_perm, settings.seed)
    del hashes, offsets
    return np.fromiter(chain.from_iterable(matrix.to_rows()), dtype=np.uint32,
                       count=len(keys) * settings.num_perm).reshape(len(keys), settings.num_perm)


def _band_key(sigs: np.ndarray, band: int, num_bands: int) -> np.ndarray:
    """One 64-bit key per row for one LSH band: the band's hash values mixed (FNV-1a style)."""
    width = sigs.shape[1] // num_bands
    key = np.full(sigs.shape[0], np.uint64(0xCBF29CE484222325))
    with np.errstate(over="ignore"):
        for j in range(band * width, (band + 1) * width):
            key = (key ^ sigs[:, j].astype(np.uint64)) * np.uint64(0x100000001B3)
            key ^= key >> np.uint64(29)
    return key


def _band_candidates(sigs: np.ndarray, band: int, settings: DedupSettings) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs of one band, a bounded number per row.

    Rows are sorted by (band key, next band's key, row); each row is paired with the earliest row of
    its bucket and with the `neighbours` rows after it in that order, so rows that also agree on the
    next band sit side by side even in a bucket of thousands (common shingles make such buckets).
    At most (1 + neighbours) pairs per row and band, whatever the bucket sizes. One stable sort of
    one 64-bit word: the bucket is the band key's top 44 bits (two buckets merge with odds of about
    n²/2⁴⁵ per band, which only adds candidates), the next band's top 20 bits order rows inside it."""
    n = sigs.shape[0]
    bucket = _band_key(sigs, band, settings.num_bands) >> np.uint64(20)
    nxt = _band_key(sigs, (band + 1) % settings.num_bands, settings.num_bands) >> np.uint64(44)
    order = np.argsort((bucket << np.uint64(20)) | nxt, kind="stable")  # stable: ties keep row order
    del nxt
    sorted_bucket = bucket[order]
    del bucket
    starts = np.flatnonzero(np.concatenate(([True], sorted_bucket[1:] != sorted_bucket[:-1])))
    sizes = np.diff(np.append(starts, n))
    first = np.repeat(np.minimum.reduceat(order, starts), sizes)  # earliest row of each row's bucket
    keep = first != order
    a_parts, b_parts = [order[keep]], [first[keep]]
    for lag in range(1, settings.neighbours + 1):
        same = sorted_bucket[lag:] == sorted_bucket[:-lag]
        a_parts.append(order[lag:][same])
        b_parts.append(order[:-lag][same])
    return np.concatenate(a_parts), np.concatenate(b_parts)


_LOW_BITS = np.uint64(0x5555555555555555)


def _fingerprints(sigs: np.ndarray) -> np.ndarray:
    """The low 2 bits of every hash packed into 64-bit words (rows × num_perm/32): 32 bytes a row at 128.

    Two equal hashes have equal low bits, so the count of agreeing 2-bit fields bounds the count of
    agreeing hashes from above: a pair below the threshold there is below it on the full signatures."""
    n, perm = sigs.shape
    words = -(-perm // 32)
    out = np.zeros((n, words), dtype=np.uint64)
    for k in range(32):
        cols = sigs[:, k::32]
        out[:, : cols.shape[1]] |= (cols & np.uint32(3)).astype(np.uint64) << np.uint64(2 * k)
    return out


def _agreeing_fields(fa: np.ndarray, fb: np.ndarray, perm: int) -> np.ndarray:
    x = fa ^ fb
    differ = np.bitwise_count((x | (x >> np.uint64(1))) & _LOW_BITS).sum(axis=1, dtype=np.int64)
    return perm - differ


def _compress(parent: np.ndarray) -> np.ndarray:
    """Pointer jumping until every row points at its root."""
    while True:
        up = parent[parent]
        if np.array_equal(up, parent):
            return parent
        parent = up


def _union(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union-find over edges (a, b), vectorised; `parent` must be compressed. The root of every
    cluster is its earliest row (a root only ever points at a smaller one), the same clusters as
    joining the edges one by one."""
    while len(a):
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            break
        a, b, ra, rb = a[differ], b[differ], ra[differ], rb[differ]
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
        parent = _compress(parent)
    return parent


def near_duplicate_of(sigs: np.ndarray, settings: DedupSettings) -> np.ndarray:
    """For each row, the index of the earliest row of its near-duplicate cluster (itself if first).

    Rows that share an LSH band are candidates (a bounded set per row, see `_band_candidates`); a
    candidate pair counts when the signatures agree on at least `threshold` of their positions (the
    MinHash estimate of Jaccard); clusters are closed with union-find. One band at a time, pairs
    verified in bounded batches: first on 2-bit fingerprints (`_fingerprints`, 32 bytes a row; they
    can only over-count agreement, so no true pair is lost), then the few survivors on the full hashes."""
    n = sigs.shape[0]
    parent = np.arange(n, dtype=np.int64)
    if n < 2:
        return parent
    need = settings.threshold * settings.num_perm
    finger = _fingerprints(sigs)
    batch = settings.verify_batch
    for band in range(settings.num_bands):
        a, b = _band_candidates(sigs, band, settings)
        joined = parent[a] == parent[b]  # already in one cluster: nothing to learn
        a, b = a[~joined], b[~joined]
        good_a, good_b = [], []
        for s in range(0, len(a), batch):
            xa, xb = a[s : s + batch], b[s : s + batch]
            maybe = _agreeing_fields(finger[xa], finger[xb], settings.num_perm) >= need
            xa, xb = xa[maybe], xb[maybe]
            if len(xa):
                sure = np.count_nonzero(sigs[xa] == sigs[xb], axis=1) >= need
                good_a.append(xa[sure])
                good_b.append(xb[sure])
        if good_a:
            parent = _union(parent, np.concatenate(good_a), np.concatenate(good_b))
    return parent


def dedup(texts: Sequence[str], settings: DedupSettings) -> tuple[list[str | None], list[int | None]]:
    """Per text, in priority order (earlier wins): (None | "exact_duplicate" | "near_duplicate", index kept).

    Keys and shingles are made one chunk at a time and dropped after it: exact duplicates are found
    on a 128-bit BLAKE2 digest of the key, signatures of the unique keys are kept (num_perm × 4
    bytes a row), so memory grows with the rows, not with their shingles or candidate pairs."""
    n = len(texts)
    first_of: dict[bytes, int] = {}
    reasons: list[str | None] = [None] * n
    kept_as: list[int | None] = [None] * n
    unique_idx: list[int] = []
    sigs = np.empty((n, settings.num_perm), dtype=np.uint32)
    filled = 0
    for start in range(0, n, settings.chunk_rows):
        keys = dedup_keys(texts[start : start + settings.chunk_rows])
        fresh = []
        for i, key in enumerate(keys, start):
            j = first_of.setdefault(hashlib.blake2b(key.encode("utf-8"), digest_size=16).digest(), i)
            if j != i:
                reasons[i], kept_as[i] = "exact_duplicate", j
            else:
                unique_idx.append(i)
                fresh.append(key)
        del keys
        sigs[filled : filled + len(fresh)] = _signature_chunk(fresh, settings)
        filled += len(fresh)
    del first_of
    roots = near_duplicate_of(sigs[:filled], settings)
    del sigs
    for pos, root in enumerate(roots.tolist()):
        if root != pos:
            reasons[unique_idx[pos]], kept_as[unique_idx[pos]] = "near_duplicate", unique_idx[root]
    return reasons, kept_as
