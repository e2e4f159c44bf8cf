"""Turkish-aware normalisation: NFC, mojibake repair, case folding and dedup keys.

All functions are pure. Keys are built from text that is NFC-normalised, has its whitespace
collapsed and is case-folded with Turkish rules (İ→i, I→ı); dedup keys also fold diacritics.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import ftfy

__all__ = [
    "MojibakeError",
    "nfc",
    "collapse_whitespace",
    "turkish_lower",
    "turkish_upper",
    "label_key",
    "repair_mojibake",
    "normalize_text",
    "task_key",
    "dedup_key",
    "stable_id",
    "content_hash",
    "count_letters",
]


class MojibakeError(ValueError):
    """Text is garbled in a way that cannot be repaired unambiguously."""


_WS = re.compile(r"\s+")
_APOSTROPHES = re.compile("['’‘`´]")

# Letters that only appear when legacy cp1254 (Turkish Windows) bytes are decoded as cp1252/Latin-1:
# ı→ý, ş→þ, ğ→ð, İ→Ý, Ş→Þ, Ğ→Ð. None of them is used in Turkish.
_CP1254_AS_CP1252 = re.compile("[ýþðÝÞÐ]")

# Fragments typical of UTF-8 decoded as cp1252/Latin-1 (Ã§, Ä±, Å\u009f, â€™ ...).
# The second character is a UTF-8 continuation byte (0x80-0xBF) as Latin-1 or cp1252 shows it; the
# cp1252 set is listed one by one so that real Turkish ("âşık": â + ş) never looks garbled.
_CONTINUATION = "\u0080-\u00bf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_UTF8_AS_LATIN = re.compile(f"[ÃÄÅâ][{_CONTINUATION}]")

# What is left after a failed repair: replacement characters or stray C1 controls.
_GARBAGE = re.compile("[\ufffd\u0080-\u009f]")


def count_letters(text: str) -> int:
    """Number of alphabetic characters (any script)."""
    return sum(1 for ch in text if ch.isalpha())


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def collapse_whitespace(text: str) -> str:
    return _WS.sub(" ", text).strip()


def turkish_lower(text: str) -> str:
    """Lower-case with Turkish rules: 'I'→'ı', 'İ'→'i' (str.lower gives 'i̇' for 'İ')."""
    return nfc(text).replace("I", "ı").replace("İ", "i").lower()


def label_key(text: str) -> str:
    """Key for matching a label against a fixed vocabulary in English or Turkish ("PUBLIC", "Onay",
    "REDDET", "İç"): Turkish case folding, then ı→i, so both spellings of an ASCII word meet."""
    return turkish_lower(text.strip()).replace("ı", "i")


def turkish_upper(text: str) -> str:
    return nfc(text).replace("i", "İ").replace("ı", "I").upper()


def _repair_cp1254(text: str) -> str:
    try:
        return text.encode("cp1252").decode("cp1254")
    except UnicodeError:
        # Mixed text: repair word by word, keeping what does not round-trip.
        out = []
        for token in re.split(r"(\s+)", text):
            if _CP1254_AS_CP1252.search(token):
                try:
                    token = token.encode("cp1252").decode("cp1254")
                except UnicodeError:
                    pass
            out.append(token)
        return "".join(out)


def repair_mojibake(text: str) -> tuple[str, bool]:
    """Repair common mojibake. Returns (text, repaired?). Raises MojibakeError when it cannot.

    Handles UTF-8 read as cp1252 or Latin-1 (also twice) via ftfy, and legacy cp1254 text read as
    cp1252, which ftfy does not know ('baþkenti' → 'başkenti').
    """
    original = text
    if _UTF8_AS_LATIN.search(text):
        text = ftfy.fix_encoding(text)
    if _CP1254_AS_CP1252.search(text):
        text = _repair_cp1254(text)
    text = nfc(text)
    if _GARBAGE.search(text) or _UTF8_AS_LATIN.search(text) or _CP1254_AS_CP1252.search(text):
        bad = _GARBAGE.search(text) or _UTF8_AS_LATIN.search(text) or _CP1254_AS_CP1252.search(text)
        assert bad is not None
        start = max(bad.start() - 15, 0)
        raise MojibakeError(
            f"garbled text that cannot be repaired unambiguously near {text[start:bad.end() + 15]!r}"
        )
    return text, text != nfc(original)


def normalize_text(text: str) -> tuple[str, bool]:
    """NFC + mojibake repair + whitespace collapse. Returns (text, repaired?)."""
    repaired_text, repaired = repair_mojibake(text)
    return collapse_whitespace(repaired_text), repaired


def task_key(text: str) -> str:
    """Key under which two tasks are the same task: Turkish case fold, no punctuation differences."""
    folded = turkish_lower(collapse_whitespace(text))
    folded = _APOSTROPHES.sub("", folded)  # "Surları'nın" and "surlarının" are the same word
    folded = re.sub(r"[^\w\s]", " ", folded)
    return collapse_whitespace(folded)


def _strip_diacritics(text: str) -> str:
    # ı has no decomposition; fold it explicitly so 'ışık' and 'isik' meet.
    text = text.replace("ı", "i")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def dedup_key(text: str) -> str:
    """Looser key for near-duplicate detection: task_key with diacritics folded."""
    return _strip_diacritics(task_key(text))


def stable_id(*parts: str, prefix: str = "", length: int = 16) -> str:
    """Deterministic id from parts (same input on any machine gives the same id)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]
    return f"{prefix}{digest}"


def content_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
