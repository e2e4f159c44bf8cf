"""Deterministic quality signals over Turkish model output.

Pure, fast functions used next to the judge model: language identification (Turkish vs its close
neighbour Azerbaijani, English, ...), refusal / "as an AI language model" disclaimers, repetition
loops, foreign-script leakage (Cyrillic or Chinese characters inside Turkish text, a common failure
of multilingual teachers) and the size of the reasoning.

Only ``detect_language`` has state: the lingua detector is built once, lazily and thread-safely,
on first use (a second or two); it is read-only afterwards.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from anka_assets.text.normalize import collapse_whitespace, count_letters, dedup_key, nfc, turkish_lower

if TYPE_CHECKING:  # pragma: no cover
    from lingua import LanguageDetector

__all__ = [
    "MIN_LETTERS",
    "MIN_CONFIDENCE",
    "DETECTED_LANGUAGES",
    "REFUSAL_PHRASES",
    "count_letters",
    "detect_language",
    "is_refusal",
    "repetition_ratio",
    "max_repeated_line_count",
    "foreign_script_ratio",
    "foreign_script_sample",
    "reasoning_step_count",
    "has_reasoning_steps",
]


# --------------------------------------------------------------------------------------------
# Language identification
# --------------------------------------------------------------------------------------------

MIN_LETTERS = 20
"""Below this many letters language identification is unreliable and detect_language returns None."""

MIN_CONFIDENCE = 0.5
"""Lingua's confidence for the best language must reach this, otherwise detect_language returns None."""

DETECTED_LANGUAGES: tuple[str, ...] = (
    "TURKISH",
    "AZERBAIJANI",
    "KAZAKH",
    "ENGLISH",
    "GERMAN",
    "FRENCH",
    "ARABIC",
    "PERSIAN",
    "RUSSIAN",
)
"""Lingua language names the detector chooses among: Turkish, its Turkic neighbours, and the
languages that leak into Turkish data (English, German and French loans, Arabic/Persian script,
Russian). A small set keeps the detector fast and accurate for this data."""

_detector: LanguageDetector | None = None
_detector_lock = threading.Lock()


def _get_detector() -> LanguageDetector:
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                from lingua import Language, LanguageDetectorBuilder

                languages = [getattr(Language, name) for name in DETECTED_LANGUAGES if hasattr(Language, name)]
                _detector = LanguageDetectorBuilder.from_languages(*languages).build()
    return _detector


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the language of text ("tr", "az", "en", ...), or None when unsure.

    None when text has fewer than MIN_LETTERS letters, when lingua cannot decide, or when its
    confidence in the best language is below MIN_CONFIDENCE. Uses lingua's high-accuracy mode.
    'İ' is folded to 'i' first (lingua's generic lower-casing would turn it into 'i' + combining
    dot and break Turkish words in upper case); 'I' is left alone so English is unaffected.
    """
    if count_letters(text) < MIN_LETTERS:
        return None
    prepared = nfc(text).replace("İ", "i")
    confidences = _get_detector().compute_language_confidence_values(prepared)
    if not confidences:
        return None
    best = confidences[0]
    if best.value < MIN_CONFIDENCE:
        return None
    if len(confidences) > 1 and confidences[1].value >= best.value:
        return None  # a tie: lingua is unsure
    return best.language.iso_code_639_1.name.lower()


# --------------------------------------------------------------------------------------------
# Refusals and disclaimers
# --------------------------------------------------------------------------------------------

REFUSAL_PHRASES: tuple[str, ...] = (
    # Turkish
    "yapay zeka dil modeli olarak",
    "bir yapay zeka olarak",
    "yapay zeka asistanı olarak",
    "bir dil modeli olarak",
    "bu konuda yardımcı olamam",
    "size yardımcı olamam",
    "maalesef yardımcı olamam",
    "bu isteği yerine getiremem",
    "bu isteğinizi yerine getiremem",
    "bu talebi yerine getiremem",
    "bu talebinizi yerine getiremem",
    "bu soruya cevap veremem",
    "bu soruyu yanıtlayamam",
    "bu konuda bilgi veremem",
    "üzgünüm, ancak",
    "kişisel görüşlerim yok",
    "kişisel görüş ve duygularım yok",
    "gerçek zamanlı bilgiye erişimim yok",
    "internete erişimim yok",
    "bilgi kesim tarihim",
    # English
    "as an ai language model",
    "as a language model",
    "as an ai assistant",
    "as an ai model",
    "i cannot help with",
    "i can't help with",
    "i'm sorry, but i can't",
    "i'm sorry, but i cannot",
    "i am sorry, but i cannot",
    "i'm sorry, but i am unable",
    "i'm unable to help",
    "i am unable to help",
    "i cannot fulfill",
    "i can't fulfill",
    "i cannot assist with",
    "i can't assist with",
    "i don't have personal opinions",
    "i do not have access to real-time",
    "my knowledge cutoff",
)
"""Phrases (lower case, as written) that mark a refusal or an AI disclaimer."""


def _fold(text: str) -> str:
    """Matching form: Turkish case fold, punctuation → space, diacritics and dotless ı folded.

    'YAPAY ZEKÂ DİL MODELİ', 'yapay zeka dil modeli', 'YAPAY ZEKA DIL MODELI' and
    'I’m sorry' / "I'm sorry" all meet.
    """
    # Drop combining marks first (NFD): 'di̇l' (i + U+0307, from str.lower() of 'İ') must stay one
    # word, and dedup_key would turn a stray mark into a word break.
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return f" {dedup_key(bare)} "


# Longest first, so the most specific phrase is the one reported.
_FOLDED_REFUSALS: tuple[tuple[str, str], ...] = tuple(
    sorted(((_fold(p), p) for p in REFUSAL_PHRASES), key=lambda item: -len(item[0]))
)


def is_refusal(text: str) -> str | None:
    """The refusal / disclaimer phrase (from REFUSAL_PHRASES) found in text, or None.

    Matching is on whole words after Turkish case folding with dotted/dotless i, circumflex and
    other diacritics folded, and punctuation ignored; so 'YAPAY ZEKÂ DİL MODELİ OLARAK' matches
    'yapay zeka dil modeli olarak' and "I’m sorry, but I can’t" matches "i'm sorry, but i can't".
    """
    if not text:
        return None
    folded = _fold(text)
    for needle, phrase in _FOLDED_REFUSALS:
        if needle in folded:
            return phrase
    return None


# --------------------------------------------------------------------------------------------
# Repetition
# --------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def repetition_ratio(text: str, n: int = 3) -> float:
    """Fraction of word n-grams (default 3) that repeat an earlier one: 0.0 = none, → 1.0 = a loop.

    Words are compared after Turkish case folding. Text with fewer than n words gives 0.0.
    """
    words = _WORD.findall(turkish_lower(text))
    if len(words) < n:
        return 0.0
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return (len(grams) - len(set(grams))) / len(grams)


def max_repeated_line_count(text: str) -> int:
    """How many times the most frequent line occurs (1 = no line repeats, 0 = no lines).

    Lines are compared after whitespace collapsing and Turkish case folding; lines without any
    letter or digit (blank lines, '---', '```', '}') are ignored.
    """
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if _WORD.search(line) is None:
            continue
        counts[turkish_lower(collapse_whitespace(line))] += 1
    return max(counts.values(), default=0)


# --------------------------------------------------------------------------------------------
# Foreign script leakage
# --------------------------------------------------------------------------------------------

_LATIN, _FOREIGN, _GREEK, _OTHER = 0, 1, 2, 3

# Letter-like blocks used as symbols in maths and units (ℝ, ℓ, Ω, 𝑥); never leakage.
_SYMBOL_BLOCKS = ((0x2100, 0x214F), (0x1D400, 0x1D7FF))


@lru_cache(maxsize=4096)
def _letter_class(ch: str) -> int:
    if not ch.isalpha():
        return _OTHER
    cp = ord(ch)
    if cp < 0x0370:  # Basic Latin .. Latin Extended-B, IPA (ə), spacing modifier letters (ʼ)
        return _LATIN
    if any(lo <= cp <= hi for lo, hi in _SYMBOL_BLOCKS):
        return _LATIN
    name = unicodedata.name(ch, "")
    if "LATIN" in name.split():
        return _LATIN
    if name.startswith("GREEK"):
        return _GREEK
    return _FOREIGN


def _scan(text: str) -> tuple[int, int, tuple[int, int] | None]:
    """(letters, foreign letters, span of the first foreign run) over NFC text.

    A lone Greek letter between non-Greek characters (π, α, Δ, θ in 'sinθ') is a maths symbol and
    counts as Latin; Greek words (two or more Greek letters in a row) are foreign.
    """
    letters = foreign = 0
    first: tuple[int, int] | None = None
    classes = [_letter_class(ch) for ch in text]
    size = len(classes)
    for i, cls in enumerate(classes):
        if cls == _OTHER:
            continue
        letters += 1
        if cls == _GREEK:
            lone = (i == 0 or classes[i - 1] != _GREEK) and (i + 1 == size or classes[i + 1] != _GREEK)
            if lone:
                continue
        elif cls == _LATIN:
            continue
        foreign += 1
        if first is None:
            first = (i, _run_end(text, classes, i))
    return letters, foreign, first


def _run_end(text: str, classes: list[int], start: int) -> int:
    """End of the foreign run starting at start: it goes on over spaces, digits and punctuation and
    stops before the next Latin letter; trailing non-letters are trimmed."""
    end = start
    for j in range(start, len(classes)):
        if classes[j] == _LATIN:
            break
        if classes[j] != _OTHER or unicodedata.category(text[j]).startswith("M"):
            end = j + 1
    return end


_SAMPLE_MAX = 40


def foreign_script_ratio(text: str) -> float:
    """Share of letters that are not Latin script (Cyrillic, Arabic, CJK, Greek words, Hebrew,
    Devanagari, ...) among all letters; 0.0 for text without letters.

    Latin covers Turkish, Azerbaijani (ə) and every accented Latin letter. Lone Greek letters used
    as maths symbols (π, α, Δ) and letter-like maths symbols (ℝ, Ω) are not counted as foreign.
    """
    letters, foreign, _ = _scan(nfc(text))
    return foreign / letters if letters else 0.0


def foreign_script_sample(text: str) -> str | None:
    """The first run of foreign-script text (at most 40 characters), or None when there is none.

    'Bu problem решается легко, sonuç 5.' → 'решается легко'.
    """
    text = nfc(text)
    _, _, span = _scan(text)
    if span is None:
        return None
    start, end = span
    return text[start : min(end, start + _SAMPLE_MAX)].strip()


# --------------------------------------------------------------------------------------------
# Reasoning size
# --------------------------------------------------------------------------------------------


def reasoning_step_count(steps: Sequence[str]) -> int:
    """Number of non-blank reasoning steps."""
    return sum(1 for step in steps if isinstance(step, str) and step.strip())


def has_reasoning_steps(steps: Sequence[str], minimum: int = 2) -> bool:
    """Whether there are at least minimum non-blank reasoning steps."""
    return reasoning_step_count(steps) >= minimum
