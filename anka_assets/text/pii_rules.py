"""The rules both PII detector modes share: card issuers, context keywords, licence-plate codes.

One table each, read by :mod:`anka_assets.text.pii` (``mode="redact"``, precision-first) and by
:mod:`anka_assets.text.pii_egress` (``mode="egress"``, recall-first). This module imports neither, so
the two modes depend on it and ``pii`` on ``pii_egress``, never the other way round. Where a mode reads
a rule differently the table says so (:attr:`CardBrand.modes`), rather than each mode keeping its own copy.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = [
    "CARD_BRANDS",
    "MODES",
    "PHONE_CONTEXT_CHARS",
    "PHONE_CONTEXT_RE",
    "PLATE_DIGITS",
    "PLATE_LETTER",
    "PLATE_STOP",
    "VKN_CONTEXT_CHARS",
    "VKN_CONTEXT_RE",
    "CardBrand",
    "card_plausible",
    "province_code",
]

# --------------------------------------------------------------------------------------------
# Context keywords: a VKN needs one before it; a phone keyword between it and the number vetoes it
# --------------------------------------------------------------------------------------------

#: How far before a 10-digit number a VKN keyword may stand.
VKN_CONTEXT_CHARS = 40
#: How far before a weak (bare, landline) phone number or a grouped number a phone keyword may stand.
PHONE_CONTEXT_CHARS = 30

# Turkish-insensitive "i": i, ı, I, İ (and a stray combining dot after a badly lower-cased İ).
_I = "[iıIİ]\u0307?"


def _kw(word: str) -> str:
    return "".join(_I if ch == "i" else re.escape(ch) for ch in word)


VKN_CONTEXT_RE = re.compile(
    r"(?:\bV\.?\s?K\.?\s?N\b"
    rf"|\b{_kw('vergi')}\s+(?:no\b|nr\b|{_kw('numara')}|{_kw('kimlik')}))",
    re.IGNORECASE,
)
PHONE_CONTEXT_RE = re.compile(
    rf"(?:\btel\b|\btel\.|{_kw('telefon')}|\bgsm\b|\bcep\b|\bfaks\b|\bfax\b|whatsapp"
    rf"|{_kw('iletişim')})",
    re.IGNORECASE,
)

# --------------------------------------------------------------------------------------------
# Payment cards: issuer (IIN) ranges and lengths. Luhn alone accepts one random number in ten.
# --------------------------------------------------------------------------------------------

MODES = ("redact", "egress")


@dataclass(frozen=True)
class CardBrand:
    """An issuer: IIN ranges (inclusive, compared on as many leading digits as the bounds have) and lengths."""

    name: str
    iins: tuple[tuple[str, str], ...]
    lengths: tuple[int, ...]
    modes: tuple[str, ...] = MODES  # the modes that accept this row


def _n(low: int, high: int) -> tuple[int, ...]:
    return tuple(range(low, high + 1))


CARD_BRANDS: tuple[CardBrand, ...] = (
    CardBrand("Visa", (("4", "4"),), (13, 16, 19)),
    CardBrand("Mastercard", (("51", "55"), ("2221", "2720")), (16,)),
    CardBrand("American Express", (("34", "34"), ("37", "37")), (15,)),
    CardBrand("Troy", (("9792", "9792"),), (16,)),
    CardBrand("Mir", (("2200", "2204"),), _n(16, 19)),
    CardBrand("Discover", (("6011", "6011"), ("65", "65"), ("644", "649"), ("622126", "622925")), _n(16, 19)),
    CardBrand("JCB", (("3528", "3589"),), _n(16, 19)),
    CardBrand("Diners Club", (("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39")), _n(14, 19)),
    CardBrand("UnionPay", (("62", "62"),), _n(16, 19)),
    CardBrand("Maestro", (("5018", "5018"), ("5020", "5020"), ("5038", "5038"), ("5893", "5893"),
                          ("6304", "6304"), ("6759", "6759"), ("6761", "6763")), _n(12, 19)),
    # Recall first: the whole 50 / 56-69 block (Maestro, UnionPay, Discover and Troy co-brands issued in
    # Turkey under IINs the rows above do not list) at every length of 15 to 19 digits.
    CardBrand("Maestro / UnionPay / Discover / Troy co-brands", (("50", "50"), ("56", "69")), _n(15, 19),
              modes=("egress",)),
)  # fmt: skip

# mode -> ((leading digits, low, high, lengths), ...), read in table order
_CARD_RULES: dict[str, tuple[tuple[int, int, int, frozenset[int]], ...]] = {
    mode: tuple(
        (len(low), int(low), int(high), frozenset(brand.lengths))
        for brand in CARD_BRANDS if mode in brand.modes
        for low, high in brand.iins
    )
    for mode in MODES
}


@functools.lru_cache(maxsize=16384)
def _plausible(head: str, n: int, mode: str) -> bool:
    return any(n in lengths and low <= int(head[:k]) <= high for k, low, high, lengths in _CARD_RULES[mode])


def card_plausible(digits: str, mode: str) -> bool:
    """Whether a card number of these digits has an issuer of :data:`CARD_BRANDS` and its length (no Luhn)."""
    return _plausible(digits[:6], len(digits), mode)


# --------------------------------------------------------------------------------------------
# Licence plates: "34 ABC 123", "06 A 1234"
# --------------------------------------------------------------------------------------------

#: A plate letter: Latin capitals without Q, W and X.
PLATE_LETTER = "[A-PR-VYZ]"
#: Letters in the middle -> the digit counts the last group may have.
PLATE_DIGITS = {1: (4,), 2: (3, 4), 3: (2, 3)}
#: Upper-case abbreviations that commonly follow a number in prose (currency, units, law codes).
PLATE_STOP = frozenset(
    {
        "TL", "YTL", "TRY", "USD", "EUR", "GBP",
        "KG", "GR", "MG", "KM", "CM", "MM", "GB", "MB", "KB", "TB", "HZ", "MHZ", "GHZ", "KV",
        "TCK", "TBK", "TMK", "TTK", "CMK", "HMK", "VUK", "GVK", "KVK", "KDV", "SGK", "AYM",
        "MS", "MO",
    }
)  # fmt: skip


def province_code(sep: str = "") -> str:
    """Regex alternatives for a province code 01-81 written with two digits, ``sep`` allowed between them."""
    return rf"0{sep}[1-9]|[1-7]{sep}[0-9]|8{sep}[01]"
