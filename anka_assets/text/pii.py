"""Turkish PII detection and redaction (KVKK gate before any prompt reaches a commercial API).

One detector, two modes: ``find_pii(text, mode="redact")`` (default, described below) is precision-first
and rewrites texts; ``mode="egress"`` is the recall-first scan of the KVKK guard, which normalises
Unicode digits, invisible characters and separators first (see :mod:`anka_assets.text.pii_egress`).
Both modes read one set of rule tables (card issuers, context keywords, plate codes):
:mod:`anka_assets.text.pii_rules`. Imports go one way: ``pii`` -> ``pii_egress`` -> ``pii_rules``.

Detected kinds (see ``docs/CONTRACTS.md``):

========  ==============================================  ==============================
kind      what                                            validation
========  ==============================================  ==============================
TCKN      T.C. Kimlik No and YKN (99-prefixed, same       ``stdnum.tr.tckimlik``
          checksum), 11 contiguous digits
VKN       Vergi Kimlik No, 10 contiguous digits            ``stdnum.tr.vkn`` + context
IBAN      TR + 24 digits, contiguous or in groups of 4     ``stdnum.iban`` (mod 97)
KART      payment card, 13-19 digits, contiguous or        ``stdnum.luhn`` + IIN/length
          4-4-4-4(-n) / 4-6-5 / 4-6-4 with spaces/dashes
TELEFON   Turkish mobile / landline / 850 / 800 numbers   ``phonenumbers`` (valid for TR)
EPOSTA    e-mail address                                  shape only
PLAKA     licence plate, "34 ABC 123", "06 A 1234"        province 01-81, letter/digit
                                                          combination, Q/W/X excluded
========  ==============================================  ==============================

Design rules
------------
* Only ASCII digits are part of a number (``[0-9]``); Arabic-Indic and other Unicode digits never
  match.  Every numeric candidate is *bounded*: it may not be glued to another digit (of any
  script) nor continue a decimal / thousands number (``12.5321234567``, ``0,10000000146``).
* Each kind has one precompiled regex and one pass; candidates that fail validation do not
  consume text (the scan resumes one character later).  Overlaps are resolved so that the longest
  match wins, ties broken by specificity (EPOSTA > IBAN > KART > TCKN > VKN > TELEFON > PLAKA),
  e.g. an IBAN whose digit groups happen to look like a card or a phone number is one ``IBAN``.
* A quick pre-filter skips texts with no ASCII digit and no ``@``.

Precision / recall trade-offs
-----------------------------
* **VKN**: the VKN checksum accepts roughly one 10-digit number in ten, so a bare 10-digit
  number is far more likely to be an order number, an ISBN-10 or an amount than a tax number.
  A 10-digit number is therefore only reported as ``VKN`` when a context keyword ("VKN",
  "V.K.N.", "vergi no", "vergi numarası", "vergi kimlik ...") occurs within the
  ``VKN_CONTEXT_CHARS`` (40) characters before it, and no phone keyword ("tel", "GSM", "cep",
  ...) sits between that keyword and the number.  A VKN written without such a keyword is
  missed (recall loss accepted: a sole trader's VKN is often their TCKN, which is caught anyway).
* **TCKN**: flagged on checksum alone (about 1 in 100 random 11-digit numbers passes); no context
  is required because an 11-digit number in ordinary prose is rare and a TCKN leak is the
  costliest error.
* **TELEFON**: a candidate must have a phone shape *and* be valid for region TR according to
  ``phonenumbers`` (so ``+90 599 …`` is rejected).  Strong shapes (``+90``/``0090``/``0``
  prefix, parentheses, or separators as in ``532 123 45 67``) are accepted on validity alone.
  Weak shapes (a bare contiguous ``5321234567`` or ``905321234567``) are accepted only if they
  are mobile numbers, or landline numbers with a phone keyword shortly before; they are rejected
  when followed by a currency (``5000000000 TL``) or when the subscriber part is one repeated
  digit.  Seven-digit ``444 x xxx`` call-centre numbers are not personal data and are ignored,
  and so are a decimal amount (``53383701.63``: one decimal mark before the last 1-2 digits) and
  the head of a dashed order number (``436-7197216-1880401``: glued by a dash, slash or
  underscore to more digits).
* **KART**: Luhn passes one random number in ten, so an IIN/length plausibility check (Visa,
  Mastercard, Amex, Troy, Discover, JCB, Diners, UnionPay, Maestro, Mir: ``pii_rules.CARD_BRANDS``) is
  also required.
* **PLAKA**: uppercase only (lowercase "34 abc 123" is not reported), province code written
  with two digits, and a small stop list of upper-case abbreviations that often follow a
  number ("15 TL 250", "12 TCK 141", "64 GB 128") is excluded.
* **EPOSTA**: shape only; Turkish letters are accepted in the local part and domain.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as _iban
from stdnum import luhn as _luhn
from stdnum.tr import tckimlik as _tckimlik
from stdnum.tr import vkn as _vkn

from anka_assets.text import pii_rules as rules
from anka_assets.text.pii_egress import find_egress
from anka_assets.text.pii_rules import MODES, VKN_CONTEXT_CHARS  # re-exported

__all__ = [
    "PII_KINDS",
    "PLACEHOLDERS",
    "VKN_CONTEXT_CHARS",
    "MODES",
    "PiiMatch",
    "find_pii",
    "redact",
    "contains_pii",
]

PII_KINDS: tuple[str, ...] = ("TCKN", "VKN", "IBAN", "KART", "TELEFON", "EPOSTA", "PLAKA")
PLACEHOLDERS: dict[str, str] = {kind: f"[{kind}]" for kind in PII_KINDS}

# Tie-break between equally long overlapping matches: lower wins.
_PRIORITY = {"EPOSTA": 0, "IBAN": 1, "KART": 2, "TCKN": 3, "VKN": 4, "TELEFON": 5, "PLAKA": 6}


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    start: int
    end: int
    text: str


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------

# Left boundary: not glued to a digit (any script) and not the tail of "12.5" / "0,5".
_LB = r"(?<!\d)(?<!\d[.,])"
# Right boundary: not followed by a digit (any script) nor by a decimal/thousands continuation.
_RB = r"(?!\d)(?![.,][0-9])"
# Cheap first-character lookahead: lets the regex engine skip positions before it evaluates
# the (comparatively slow) lookbehinds.
_FD = "(?=[0-9])"
_SP = r"[\x20\u00a0\u202f]"  # space, no-break space, narrow no-break space
_SEP = r"[\x20\u00a0\u202f.\-]"

_TR_LETTERS = "A-Za-zÇĞİÖŞÜçğıöşüÂÎÛâîû"

_PREFILTER = re.compile(r"[0-9@]")
_NON_DIGIT = re.compile(r"[^0-9]")


def _digits(s: str) -> str:
    return _NON_DIGIT.sub("", s)


# --------------------------------------------------------------------------------------------
# Patterns (one per kind)
# --------------------------------------------------------------------------------------------

_EMAIL_LOCAL = "A-Za-z0-9çğıöşüÇĞİÖŞÜ\u0300-\u036f._%+\\-"
_EMAIL_LABEL = "A-Za-z0-9çğıöşüÇĞİÖŞÜ\u0300-\u036f\\-"
_EMAIL_RE = re.compile(
    rf"(?<![{_EMAIL_LOCAL}])"
    rf"[{_EMAIL_LOCAL}]*[A-Za-z0-9çğıöşüÇĞİÖŞÜ_%+\-\u0300-\u036f]"  # does not end with a dot
    rf"@(?:[{_EMAIL_LABEL}]+\.)+[A-Za-z]{{2,24}}(?![A-Za-z0-9_\-])"
)

_IBAN_RE = re.compile(
    rf"(?=[Tt])(?<![0-9A-Za-z])[Tt][Rr][0-9]{{2}}(?:{_SP}?[0-9]{{4}}){{5}}{_SP}?[0-9]{{2}}{_RB}"
)

_CARD_RE = re.compile(
    _FD + _LB
    + r"(?:"
    + r"(?P<plain>[0-9]{13,19})"
    + r"|(?P<g16>[0-9]{4}(?P<s>[\x20\u00a0\-])[0-9]{4}(?P=s)[0-9]{4}(?P=s)[0-9]{4})"
    + r"(?P<tail>(?P=s)[0-9]{1,3})?"
    + r"|(?P<amex>[0-9]{4}(?P<s2>[\x20\u00a0\-])[0-9]{6}(?P=s2)[0-9]{4,5})"
    + r")"
    + _RB
)

_TCKN_RE = re.compile("(?=[1-9])" + _LB + r"[1-9][0-9]{10}" + _RB)

_VKN_RE = re.compile(_FD + _LB + r"[0-9]{10}" + _RB)

_PHONE_RE = re.compile(
    rf"(?=[+(02-589])(?<![0-9A-Za-z+])(?<!\d)(?<!\d[.,])(?<!\d[-/_])"
    rf"(?P<prefix>(?:\+|00)90{_SEP}?(?:\(0\){_SEP}?)?|90{_SEP}?|0{_SEP}?)?"
    rf"(?:\({_SP}?0?(?P<area_p>[2-589][0-9]{{2}}){_SP}?\)|(?P<area>[2-589][0-9]{{2}}))"
    rf"{_SEP}?"
    rf"(?P<sub>[0-9]{{3}}{_SEP}?(?:[0-9]{{2}}{_SEP}?[0-9]{{2}}|[0-9]{{4}}))"
    + _RB
    + r"(?![-/_][0-9])"  # not the head of a dashed order number: 436-7197216-1880401
)
# "53383701.63": one decimal mark before the last two digits is an amount, never a phone layout
_DECIMAL_SHAPE_RE = re.compile(r"[0-9]+[.,][0-9]{1,2}")
_CURRENCY_AFTER_RE = re.compile(
    r"\s*(?:TL\b|TRY\b|₺|\$|€|USD\b|EUR\b|lira|dolar|avro|euro|kuruş)", re.IGNORECASE
)

_PLATE_RE = re.compile(
    rf"(?=[0-8])(?<![0-9{_TR_LETTERS}])(?<!\d)(?<!\d[.,])"
    rf"(?P<il>{rules.province_code()})"
    rf"{_SP}?(?P<harf>{rules.PLATE_LETTER}{{1,3}}){_SP}?(?P<no>[0-9]{{2,4}})"
    rf"(?![0-9{_TR_LETTERS}])(?!\d)(?![.,][0-9])"
)


# --------------------------------------------------------------------------------------------
# Validators: match -> (start, end) or None
# --------------------------------------------------------------------------------------------

Span = tuple[int, int]


def _check_email(m: re.Match[str], text: str) -> Span | None:
    return m.span()


def _check_iban(m: re.Match[str], text: str) -> Span | None:
    return m.span() if _iban.is_valid(m.group()) else None


def _card_ok(d: str) -> bool:
    return rules.card_plausible(d, "redact") and _luhn.is_valid(d)


def _check_card(m: re.Match[str], text: str) -> Span | None:
    if _card_ok(_digits(m.group())):
        return m.span()
    if m.group("tail"):  # "4111 1111 1111 1111 3 taksit": retry without the short tail
        if _card_ok(_digits(m.group("g16"))):
            return m.span("g16")
    return None


def _check_tckn(m: re.Match[str], text: str) -> Span | None:
    return m.span() if _tckimlik.is_valid(m.group()) else None


def _check_vkn(m: re.Match[str], text: str) -> Span | None:
    start = m.start()
    window_start = max(0, start - VKN_CONTEXT_CHARS)
    last = None
    for last in rules.VKN_CONTEXT_RE.finditer(text, window_start, start):  # noqa: B007
        pass
    if last is None:
        return None
    if rules.PHONE_CONTEXT_RE.search(text, last.end(), start):
        return None
    return m.span() if _vkn.is_valid(m.group()) else None


def _check_phone(m: re.Match[str], text: str) -> Span | None:
    area = m.group("area_p") or m.group("area")
    sub = _digits(m.group("sub"))
    national = area + sub
    try:
        num = phonenumbers.parse("+90" + national, None)
    except phonenumbers.NumberParseException:  # pragma: no cover - shape guarantees parseable
        return None
    if not phonenumbers.is_valid_number_for_region(num, "TR"):
        return None
    prefix = m.group("prefix") or ""
    matched = m.group()
    if _DECIMAL_SHAPE_RE.fullmatch(matched):
        return None
    strong = (
        "+" in prefix
        or prefix.startswith("00")
        or prefix.startswith("0")
        or m.group("area_p") is not None
        or not matched.isdigit()  # separators give it a phone shape
    )
    if strong:
        return m.span()
    # Weak: a bare run of digits (5321234567, 905321234567).
    if len(set(sub)) == 1:
        return None
    if _CURRENCY_AFTER_RE.match(text, m.end()):
        return None
    if phonenumbers.number_type(num) == phonenumbers.PhoneNumberType.MOBILE:
        return m.span()
    if rules.PHONE_CONTEXT_RE.search(text, max(0, m.start() - rules.PHONE_CONTEXT_CHARS), m.start()):
        return m.span()
    return None


def _check_plate(m: re.Match[str], text: str) -> Span | None:
    letters = m.group("harf")
    if letters in rules.PLATE_STOP:
        return None
    if len(m.group("no")) not in rules.PLATE_DIGITS[len(letters)]:
        return None
    return m.span()


_DETECTORS: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str], str], Span | None]], ...] = (
    ("EPOSTA", _EMAIL_RE, _check_email),
    ("IBAN", _IBAN_RE, _check_iban),
    ("KART", _CARD_RE, _check_card),
    ("TCKN", _TCKN_RE, _check_tckn),
    ("VKN", _VKN_RE, _check_vkn),
    ("TELEFON", _PHONE_RE, _check_phone),
    ("PLAKA", _PLATE_RE, _check_plate),
)
_NEEDS_DIGIT = {"IBAN", "KART", "TCKN", "VKN", "TELEFON", "PLAKA"}


def _scan(
    pattern: re.Pattern[str], check: Callable[[re.Match[str], str], Span | None], text: str
) -> Iterator[Span]:
    """Yield validated spans; a rejected candidate does not consume text."""
    pos = 0
    n = len(text)
    search = pattern.search
    while pos < n:
        m = search(text, pos)
        if m is None:
            return
        span = check(m, text)
        if span is None:
            pos = m.start() + 1
        else:
            yield span
            pos = max(span[1], m.start() + 1)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _resolve(candidates: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Longest match wins, ties by specificity; result sorted by start and non-overlapping."""
    candidates.sort(key=lambda c: (c[0] - c[1], _PRIORITY[c[2]], c[0]))
    chosen: list[tuple[int, int, str]] = []
    for start, end, kind in candidates:
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, kind))
    chosen.sort()
    return chosen


def find_pii(text: str, mode: str = "redact") -> list[PiiMatch]:
    """All PII in ``text``: sorted by start, non-overlapping (longest, then most specific wins).

    ``mode="redact"`` (default) is precision-first, for rewriting texts; ``mode="egress"`` is the
    recall-first scan of the KVKK guard (see :mod:`anka_assets.text.pii_egress`). Spans always index
    the text as given.
    """
    if mode == "egress":
        chosen = _resolve(find_egress(text))
        return [PiiMatch(kind, s, e, text[s:e]) for s, e, kind in chosen]
    if mode != "redact":
        raise ValueError(f"find_pii: mode={mode!r} is not one of {', '.join(MODES)}")
    if not text or _PREFILTER.search(text) is None:
        return []
    has_digit = any("0" <= ch <= "9" for ch in text) if "@" in text else True
    candidates: list[tuple[int, int, str]] = []
    for kind, pattern, check in _DETECTORS:
        if kind == "EPOSTA" and "@" not in text:
            continue
        if kind in _NEEDS_DIGIT and not has_digit:
            continue
        for start, end in _scan(pattern, check, text):
            candidates.append((start, end, kind))
    if not candidates:
        return []
    return [PiiMatch(kind, s, e, text[s:e]) for s, e, kind in _resolve(candidates)]


def redact(text: str, mode: str = "redact") -> tuple[str, dict[str, int]]:
    """Replace every match by its placeholder; return the new text and counts per kind found."""
    matches = find_pii(text, mode)
    if not matches:
        return text, {}
    parts: list[str] = []
    counts: dict[str, int] = {}
    pos = 0
    for m in matches:
        parts.append(text[pos : m.start])
        parts.append(PLACEHOLDERS[m.kind])
        counts[m.kind] = counts.get(m.kind, 0) + 1
        pos = m.end
    parts.append(text[pos:])
    return "".join(parts), counts


def contains_pii(text: str, mode: str = "redact") -> bool:
    return bool(find_pii(text, mode))
