"""Near-duplicate detection with Turkish-aware keys.

Two texts are duplicates when their `dedup_key` (Turkish case fold, punctuation and diacritics folded)
is equal, and near-duplicates when the Jaccard similarity of their character 5-gram shingles is at
least `threshold` (estimated with MinHash LSH, so adding n texts costs O(n), not O(n²)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datasketch import MinHash, MinHashLSH

from anka_assets.text.normalize import dedup_key

SHINGLE = 5


def shingles(key: str, size: int = SHINGLE) -> set[bytes]:
    padded = f" {key} "
    if len(padded) <= size:
        return {padded.encode("utf-8")}
    return {padded[i : i + size].encode("utf-8") for i in range(len(padded) - size + 1)}


def jaccard(a: str, b: str) -> float:
    """Similarity of two texts as the index measures it (on their dedup keys)."""
    return _jaccard_keys(dedup_key(a), dedup_key(b))


@dataclass
class NearDuplicateIndex:
    """Index of accepted texts. `find(text)` names the accepted text it duplicates, if any."""

    threshold: float = 0.7
    num_perm: int = 128
    _exact: dict[str, str] = field(default_factory=dict)
    _lsh: MinHashLSH = field(init=False)
    _keys: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)

    def _minhash(self, key: str) -> MinHash:
        mh = MinHash(num_perm=self.num_perm, seed=1)
        mh.update_batch(list(shingles(key)))
        return mh

    def find(self, text: str) -> tuple[str, str] | None:
        """(id of the accepted text it duplicates, "exact" | "near") or None."""
        key = dedup_key(text)
        if key in self._exact:
            return self._exact[key], "exact"
        for candidate in self._lsh.query(self._minhash(key)):
            # LSH gives candidates; confirm with the true Jaccard so the threshold means what it says.
            if _jaccard_keys(key, self._keys[candidate]) >= self.threshold:
                return candidate, "near"
        return None

    def add(self, item_id: str, text: str) -> None:
        key = dedup_key(text)
        if item_id in self._keys:
            return
        self._exact.setdefault(key, item_id)
        self._keys[item_id] = key
        self._lsh.insert(item_id, self._minhash(key))

    def add_if_new(self, item_id: str, text: str) -> tuple[str, str] | None:
        """Add text unless it duplicates an accepted one; returns the duplicate match, if any."""
        match = self.find(text)
        if match is None:
            self.add(item_id, text)
        return match

    def __len__(self) -> int:
        return len(self._keys)


def _jaccard_keys(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0
