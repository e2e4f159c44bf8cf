"""Recall-first PII scan for the KVKK egress guard (``find_pii(text, mode="egress")``).

The redact mode of :mod:`anka_assets.text.pii` reads numbers the way they are usually printed and
is tuned for precision. Before a prompt leaves for a commercial endpoint we want the opposite: any
way a person (or an adversary) can write an identifier must be caught. So this scan

1. **normalises** the text, keeping a map from every normalised character back to its original
   offset: every Unicode decimal digit (category Nd: full-width, Arabic-Indic, Devanagari, ...)
   becomes ASCII; invisible and format characters (category Cf: ZWSP, ZWJ, ZWNJ, word joiner, soft
   hyphen, BOM, LRM/RLM and the other bidi controls; plus variation selectors and combining marks
   glued to a digit) are removed; other non-ASCII characters are NFKC-folded one by one
   (full-width ``Ｔ``/``＠``, superscript and circled digits); every space (NBSP, thin, ideographic,
   line breaks) becomes ``" "`` and every dash (category Pd, minus sign) ``"-"``;
2. joins **digit groups** separated by up to four separator characters (spaces, line breaks, dots,
   dashes, slashes, underscores, brackets, middle dots, ``* ~ + # ' "``) or by one comma or bar without
   a space into one *run*; a group next to ``:`` and a digit (a clock time) is never joined;
3. validates every **window** of each run aligned on group boundaries (plus every window inside
   a single long group for T.C. Kimlik No and cards) against every checksum: T.C. Kimlik No / YKN
   (``stdnum.tr.tckimlik``), VKN (``stdnum.tr.vkn``, no keyword needed), TR IBAN (mod 97, also
   24 bare digits), Luhn cards of 15-19 digits of every brand issued in Turkey (``pii_rules.CARD_BRANDS``,
   egress rows included), Turkish phone
   numbers with or without ``+90``/``0090``/``90``/``0`` (``phonenumbers``);
4. finds e-mail addresses written with ``@``/``[at]``/``(at)``/``{at}``/`` at `` and
   ``.``/``[dot]``/``(dot)``/``(nokta)``/`` nokta ``/``[.]`` and spaces around them, and licence
   plates in any spacing (spaces, dashes, none).

False blocks are kept low by structure, not by ignoring digits: a valid date (``29.10.1923``,
``2016-07-15``) is one unbreakable unit (a window takes it whole or not at all); a run that is a
valid ISBN-13 (978/979) or, after the word ISBN, a valid ISBN-10 is skipped. For numbers written
plainly (ASCII digits, no invisible character inside; an obfuscated number is always checked in
full) also:

* a closed thousands-grouped number (1-3 digits, then groups of three joined by one ``.``, ``,``,
  space or ``'``) is one unbreakable unit; with a currency or unit around it (``1.250.000 TL``,
  ``85.372.377 kişi``, ``$1,234,567``) or a decimal part in the other mark (``1.234.567,89``) it
  is an amount and no identifier; otherwise it is a VKN or phone number only after a VKN / phone
  keyword (``1.234.567.890`` alone is not, ``VKN 1.234.567.890`` is) and is still checked as a
  T.C. Kimlik No, card or IBAN without one;
* a decimal part (``53383701.63``) is never part of an identifier, and with a currency the number
  is an amount;
* an order / reference code, three or more groups joined by one dash, slash, underscore or dot with
  two groups of 5-9 digits (``436-7197216-1880401``; the Amex/Diners layouts 4-6-5/4-6-4 excepted),
  a year reference (``2024/123456``, ``PO2017-463021``) and a GİB e-invoice number
  (``GIB2024000012345``) break the run.

Spans are returned in ORIGINAL text offsets.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator

import phonenumbers
from stdnum import iban as _iban
from stdnum import isbn as _isbn
from stdnum import luhn as _luhn
from stdnum.tr import tckimlik as _tckimlik
from stdnum.tr import vkn as _vkn

from anka_assets.text import pii_rules as rules

__all__ = ["normalise", "digit_runs", "find_egress"]

_MAX_GAP = 4  # separator characters allowed between two digit groups of one run
_SEP_CHARS = " .-/_()[]{}\\·•∙*~+#'\"<>"
_EXTRA_INVISIBLE = {"\u034f", "\u115f", "\u1160", "\u3164", "\uffa0", "\u180b", "\u180c", "\u180d", "\u180f"}


def _fold_char(ch: str) -> str:
    """One original character -> its normalised form ('' to drop it)."""
    o = ord(ch)
    if o < 128:
        if ch in "\t\n\r\v\f":
            return " "
        return ch
    d = unicodedata.decimal(ch, None)
    if d is not None:
        return str(d)
    cat = unicodedata.category(ch)
    if cat == "Cf" or ch in _EXTRA_INVISIBLE or 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF:
        return ""
    if cat in ("Zs", "Zl", "Zp") or ch == "\x85":
        return " "
    if cat == "Pd" or ch in "\u2212\u2043\ufe63\uff0d":
        return "-"
    if cat.startswith("M"):
        return ch  # combining marks: handled in normalise (dropped after a digit)
    folded = unicodedata.normalize("NFKC", ch)
    if folded != ch and folded.isascii():
        return folded
    return ch


@functools.lru_cache(maxsize=4096)
def _fold_cached(ch: str) -> str:
    return _fold_char(ch)


_FOLD_RE = re.compile(r"[^\x00-\x08\x0e-\x7f]")


@functools.lru_cache(maxsize=4096)
def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def normalise(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, the offset of the original character."""
    if text.isascii() and not any(c in "\t\n\r\v\f" for c in text):
        return text, list(range(len(text)))
    # Fast path: every character folds to exactly one character (the usual case: Turkish letters,
    # typographic quotes, NBSP, dashes, Unicode digits); then offsets are unchanged.
    simple = True

    def fold(m: re.Match[str]) -> str:
        nonlocal simple
        folded = _fold_cached(m.group())
        if len(folded) != 1 or _is_mark(folded):
            simple = False
        return folded

    norm = _FOLD_RE.sub(fold, text)
    if simple:
        return norm, list(range(len(text)))
    out: list[str] = []
    index: list[int] = []
    prev = ""
    for i, ch in enumerate(text):
        folded = ch if ch.isascii() and ch not in "\t\n\r\v\f" else _fold_cached(ch)
        if not folded:
            continue
        if unicodedata.category(folded[0]).startswith("M") and (prev.isdigit() or prev in _SEP_CHARS):
            continue  # a combining mark glued to a digit hides nothing but breaks the run
        for c in folded:
            out.append(c)
            index.append(i)
        prev = folded[-1]
    return "".join(out), index


# --------------------------------------------------------------------------------------------
# Digit runs
# --------------------------------------------------------------------------------------------

_GROUP_RE = re.compile(r"[0-9]+")
# A comma or a bar only when tight: ", " separates list items and " | " table cells.
_GAP_RE = re.compile("[" + re.escape(_SEP_CHARS) + "]{1,%d}|,|\\|" % _MAX_GAP)
_UNIT_AFTER_RE = re.compile(
    r"(?:,[0-9]+)?\s*(?:TL\b|TRY\b|YTL\b|₺|\$|€|£|USD\b|EUR\b|GBP\b|lira|dolar|avro|euro|kuruş"
    r"|kişi|adet|ton\b|km|kg|m2|m²|metre|hektar|dönüm|ha\b|nüfus|milyon|milyar|bin\b|sterlin|yen\b)",
    re.IGNORECASE,
)
_CURRENCY_AFTER_RE = re.compile(
    r"(?:,[0-9]+)?\s*(?:TL\b|TRY\b|YTL\b|₺|\$|€|£|USD\b|EUR\b|GBP\b|lira\b|liralık|dolar|avro\b|euro\b|kuruş)",
    re.IGNORECASE,
)
_CURRENCY_BEFORE_RE = re.compile(r"(?:₺|\$|€|£|TL|TRY|USD|EUR|GBP|CHF)\s*$", re.IGNORECASE)
_ISBN_BEFORE_RE = re.compile(r"ISBN(?:-1[03])?\s*(?:no\.?|numarası)?\s*:?\s*$", re.IGNORECASE)


@functools.lru_cache(maxsize=8192)
def _is_phone(national: str) -> bool:
    if len(national) != 10 or national[0] not in "2345689":
        return False
    try:
        num = phonenumbers.parse("+90" + national, None)
    except phonenumbers.NumberParseException:  # pragma: no cover - ten digits always parse
        return False
    return phonenumbers.is_valid_number_for_region(num, "TR")


def _kinds_of_window(d: str) -> Iterator[str]:
    """Every kind whose checksum the digit window ``d`` passes."""
    n = len(d)
    if n == 11 and d[0] != "0" and _tckimlik.is_valid(d):
        yield "TCKN"
    if n == 10 and _vkn.is_valid(d):
        yield "VKN"
    if (
        (n == 10 and _is_phone(d))
        or (n == 11 and d[0] == "0" and _is_phone(d[1:]))
        or (n == 12 and d[:2] == "90" and _is_phone(d[2:]))
        or (n == 14 and d[:4] == "0090" and _is_phone(d[4:]))
    ):
        yield "TELEFON"
    if 15 <= n <= 19 and rules.card_plausible(d, "egress") and _luhn.is_valid(d):
        yield "KART"
    if n == 24 and _iban.is_valid("TR" + d):
        yield "IBAN"


def _valid_date(parts: list[str]) -> bool:
    try:
        if len(parts[0]) == 4:
            y, m, d = int(parts[0]), int(parts[1]), int(parts[2])
        else:
            d, m, y = int(parts[0]), int(parts[1]), int(parts[2])
    except ValueError:  # pragma: no cover - digits only
        return False
    return 1 <= d <= 31 and 1 <= m <= 12 and 1000 <= y <= 2199


def digit_runs(norm: str) -> list[list[tuple[int, int]]]:
    """Digit groups of the normalised text, joined into runs (lists of (start, end) spans)."""
    groups = [m.span() for m in _GROUP_RE.finditer(norm)]
    runs: list[list[tuple[int, int]]] = []
    for k, (s, e) in enumerate(groups):
        is_time = (e + 1 < len(norm) and norm[e] == ":" and norm[e + 1].isdigit()) or (
            s >= 2 and norm[s - 1] == ":" and norm[s - 2].isdigit()
        )
        if runs and not is_time and k > 0:
            ps, pe = groups[k - 1]
            prev_time = pe + 1 < len(norm) and norm[pe] == ":" and norm[pe + 1].isdigit()
            if not prev_time and runs[-1][-1] == (ps, pe) and _GAP_RE.fullmatch(norm, pe, s):
                runs[-1].append((s, e))
                continue
        runs.append([(s, e)])
    return runs


# A unit is (start, end, tag): "group" (one digit group), "date" (a valid date, whole) or "grouped"
# (a thousands-grouped number, whole). A window of a run takes a unit whole or not at all.
Unit = tuple[int, int, str]

_THOUSANDS_SEPS = (".", ",", " ", "'")
# thousands separator -> the decimal marks a grouped amount written with it can take ("1.234,56",
# "1,234.56", "1 234,56", "1'234.56")
_DECIMAL_MARKS = {".": ",", ",": ".", " ": ",", "'": ".,"}
_CODE_SEPS = "-/_."


def _gap(norm: str, run: list[tuple[int, int]], k: int) -> str:
    """The separator between group ``k`` and group ``k + 1`` of ``run`` ('' past either end)."""
    if k < 0 or k + 1 >= len(run):
        return ""
    return norm[run[k][1] : run[k + 1][0]]


def _code_block_end(norm: str, run: list[tuple[int, int]], i: int) -> int | None:
    """Last group of an order/reference code starting at group ``i``, or None.

    A code is a maximal sequence of three or more groups joined by one and the same separator
    character (``436-7197216-1880401``, ``306_12676_02093``, ``9212-009401-907020-806``) with two
    groups of 5-9 digits, no group of ten or more and at most two groups of four or fewer digits.
    No identifier is printed that way: phones, IBANs and cards are printed in groups of 2-4 digits
    with at most one long (subscriber) group, an ID or VKN whole or in groups of 2-4; the Amex and
    Diners layouts 4-6-5 and 4-6-4 are kept as cards.
    """
    sep = _gap(norm, run, i)
    if len(sep) != 1 or sep not in _CODE_SEPS or _gap(norm, run, i - 1) == sep:
        return None
    j = i + 1
    while _gap(norm, run, j) == sep:
        j += 1
    sizes = [e - s for s, e in run[i : j + 1]]
    if (
        len(sizes) < 3
        or sum(5 <= k <= 9 for k in sizes) < 2
        or max(sizes) >= 10
        or sum(k <= 4 for k in sizes) > 2
        or sizes[:3] in ([4, 6, 5], [4, 6, 4])
    ):
        return None
    return j


def _is_year_reference(norm: str, run: list[tuple[int, int]], i: int) -> bool:
    """``2024/123456``, ``PO2017-463021``: a year, one dash or slash, a running number of 5-9 digits."""
    if i + 1 >= len(run):
        return False
    sep = _gap(norm, run, i)
    (s0, e0), (s1, e1) = run[i], run[i + 1]
    return (
        sep in ("-", "/")
        and e0 - s0 == 4
        and norm[s0 : s0 + 2] in ("19", "20")
        and 5 <= e1 - s1 <= 9
        and _gap(norm, run, i - 1) != sep
        and _gap(norm, run, i + 1) != sep
    )


def _grouped_end(norm: str, run: list[tuple[int, int]], i: int) -> int | None:
    """Last group of a closed thousands-grouped number starting at group ``i`` (``1.234.567.890``,
    ``4 123 551 765``, ``3'992'688'972``), or None: 1-3 digits, then groups of exactly three joined
    by one and the same separator, not preceded or continued by that separator."""
    if not 1 <= run[i][1] - run[i][0] <= 3 or _gap(norm, run, i - 1) in _THOUSANDS_SEPS:
        return None
    sep = _gap(norm, run, i)
    if sep not in _THOUSANDS_SEPS:
        return None
    j = i
    while j + 1 < len(run) and _gap(norm, run, j) == sep and run[j + 1][1] - run[j + 1][0] == 3:
        j += 1
    if j == i or _gap(norm, run, j) == sep:
        return None
    return j


def _decimal_end(norm: str, run: list[tuple[int, int]], j: int, marks: str) -> int | None:
    """Group holding the decimal part right after group ``j`` (``,63`` / ``.5``), or None."""
    k = j + 1
    if k >= len(run) or _gap(norm, run, j) not in marks or not 1 <= run[k][1] - run[k][0] <= 2:
        return None
    if k + 1 < len(run) and _gap(norm, run, k) == _gap(norm, run, j):
        return None
    return k


class _Plain:
    """Whether a span of the normalised text was written plainly in the original: ASCII digits and
    no removed (invisible) character inside. Only plainly written numbers can be read as an order
    number, a reference, a grouped or a decimal amount; a number written with invisible characters
    or other scripts' digits is always checked as before (it is how identifiers are hidden)."""

    def __init__(self, text: str, norm: str, index: list[int]) -> None:
        self.text, self.norm, self.index = text, norm, index
        self.digits: list[int] = []  # prefix counts: other scripts' digits at a position ...
        self.removed: list[int] = []  # ... and removed characters just before it (built on first use)

    def __call__(self, start: int, end: int) -> bool:
        if self.text == self.norm:
            return True
        if not self.digits:
            text, index = self.text, self.index
            d_acc, r_acc, digits, removed = 0, 0, [0], [0]
            for k, c in enumerate(self.norm):
                d_acc += c.isdigit() and not text[index[k]].isascii()
                r_acc += k > 0 and index[k] > index[k - 1] + 1
                digits.append(d_acc)
                removed.append(r_acc)
            self.digits, self.removed = digits, removed
        return self.digits[end] == self.digits[start] and self.removed[end] == self.removed[start + 1]


def _money_around(norm: str, start: int, end: int) -> bool:
    return bool(_UNIT_AFTER_RE.match(norm, end) or _CURRENCY_BEFORE_RE.search(norm, max(0, start - 6), start))


def _units(norm: str, run: list[tuple[int, int]], plain: _Plain) -> list[list[Unit]]:
    """Split a run into sub-runs of units; amounts, order/reference codes and decimals break the run."""
    if _CURRENCY_AFTER_RE.match(norm, run[-1][1]):  # "5000000000 TL", "5000000000,50 TL": an amount
        last = run[-1]
        run = run[:-1]
        if run and (
            norm[run[-1][1] : last[0]] == ","
            or (norm[run[-1][1] : last[0]] == "." and last[1] - last[0] <= 2 and plain(run[-1][0], last[1]))
        ):
            run = run[:-1]  # the integer part of "5000000000,50 TL" / "5000000000.50 TL" too
    n = len(run)
    if n == 2 and _decimal_end(norm, run, 0, ".,") == 1 and plain(run[0][0], run[1][1]):
        # "53383701.63": a decimal part is never part of an identifier, and with a currency the
        # whole number is an amount
        if _money_around(norm, run[0][0], run[1][1]):
            return []
        run = run[:1]
        n = 1
    out: list[list[Unit]] = [[]]
    i = 0
    while i < n:
        # a date: d.m.yyyy / d/m/yyyy / yyyy-mm-dd with one separator character used twice
        if i + 2 < n:
            g = [norm[s:e] for s, e in run[i : i + 3]]
            gaps = [_gap(norm, run, i), _gap(norm, run, i + 1)]
            shape = [len(x) for x in g]
            if (
                gaps[0] == gaps[1]
                and gaps[0] in (".", "/", "-")
                and (shape in ([2, 2, 4], [1, 2, 4], [2, 1, 4], [1, 1, 4]) or shape == [4, 2, 2])
                and _valid_date(g)
            ):
                out[-1].append((run[i][0], run[i + 2][1], "date"))
                i += 3
                continue
        code_end = _code_block_end(norm, run, i)
        if code_end is not None and plain(run[i][0], run[code_end][1]):
            # an order / reference number: no identifier, it breaks the run
            out.append([])
            i = code_end + 1
            continue
        if _is_year_reference(norm, run, i) and plain(run[i][0], run[i + 1][1]):
            out.append([])
            i += 2
            continue
        j = _grouped_end(norm, run, i)
        if j is not None:
            start, end = run[i][0], run[j][1]
            sep = _gap(norm, run, i)
            amount = _money_around(norm, start, end)  # "1.250.000 TL", "85.372.377 kişi", "$1,234,567"
            if plain(start, end):
                k = _decimal_end(norm, run, j, _DECIMAL_MARKS[sep])
                if k is not None and not plain(start, run[k][1]):
                    k = None
                if k is not None or amount:
                    out.append([])  # an amount ("1.250.000", "1.234.567,89", "85.372.377 kişi"): no identifier
                    i = (k if k is not None else j) + 1
                    continue
                out[-1].append((start, end, "grouped"))  # taken whole: "1.234.567.890" is one number
                i = j + 1
                continue
            if amount and sep in (".", " "):
                out.append([])
                i = j + 1
                continue
        out[-1].append((run[i][0], run[i][1], "group"))
        i += 1
    return [units for units in out if units]


# Invoice numbers of the GİB e-Fatura / e-Arşiv scheme: three characters, the year, a 9-digit
# running number ("GIB2024000012345", "A012022702554254").
_EINVOICE_RE = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z0-9]{2}(?:20[0-9]{2})[0-9]{9}(?![A-Za-z0-9])")


def _without_einvoices(
    norm: str, runs: list[list[tuple[int, int]]], plain: _Plain
) -> list[list[tuple[int, int]]]:
    """The runs, split where a group lies inside a plainly written e-invoice number (that group dropped)."""
    spans = [m.span() for m in _EINVOICE_RE.finditer(norm) if plain(*m.span())] if "20" in norm else []
    if not spans:
        return runs
    out: list[list[tuple[int, int]]] = []
    for run in runs:
        part: list[tuple[int, int]] = []
        for g in run:
            if any(s <= g[0] and g[1] <= e for s, e in spans):
                if part:
                    out.append(part)
                part = []
            else:
                part.append(g)
        if part:
            out.append(part)
    return out


def _grouped_kind_allowed(norm: str, start: int, kind: str) -> bool:
    """A thousands-grouped number (``1.234.567.890``, ``908 504 902 229``) is no VKN or phone number
    unless a VKN or phone keyword precedes it: neither is printed in thousands groups (they would
    split a phone's area code 1|2 or its country code), an amount or a count is. A T.C. Kimlik No,
    card or IBAN in thousands groups is still checked without a keyword."""
    if kind == "VKN":
        return bool(rules.VKN_CONTEXT_RE.search(norm, max(0, start - rules.VKN_CONTEXT_CHARS), start))
    if kind == "TELEFON":
        return bool(rules.PHONE_CONTEXT_RE.search(norm, max(0, start - rules.PHONE_CONTEXT_CHARS), start))
    return True


def _digit_candidates(norm: str, plain: _Plain) -> Iterator[tuple[int, int, str]]:
    for run in _without_einvoices(norm, digit_runs(norm), plain):
        whole = "".join(norm[s:e] for s, e in run)
        if len(run) == 1 and len(whole) < 10:
            continue
        if len(whole) == 13 and whole[:3] in ("978", "979") and _isbn.is_valid(whole):
            continue
        if len(whole) == 10 and _ISBN_BEFORE_RE.search(norm, max(0, run[0][0] - 24), run[0][0]):
            if _isbn.is_valid(whole):
                continue
        for units in _units(norm, run, plain):
            digits = ["".join(ch for ch in norm[s:e] if ch.isdigit()) for s, e, _ in units]
            dates = [tag == "date" for _, _, tag in units]
            for i in range(len(units)):
                window = ""
                for j in range(i, len(units)):
                    window += digits[j]
                    if len(window) > 24:
                        break
                    if len(window) >= 10 and not all(dates[i : j + 1]):  # a date range is no identifier
                        for kind in _kinds_of_window(window):
                            if i == j and units[i][2] == "grouped":
                                if not _grouped_kind_allowed(norm, units[i][0], kind):
                                    continue
                            yield units[i][0], units[j][1], kind
                # inside one long contiguous group: every window, for the two costliest kinds
                d = digits[i]
                if len(d) > 11 and units[i][1] - units[i][0] == len(d):
                    s0 = units[i][0]
                    for size in (11, 15, 16, 17, 18, 19):
                        for off in range(0, len(d) - size + 1):
                            w = d[off : off + size]
                            if (size == 11 and w[0] != "0" and _tckimlik.is_valid(w)) or (
                                size >= 15 and rules.card_plausible(w, "egress") and _luhn.is_valid(w)
                            ):
                                yield s0 + off, s0 + off + size, "TCKN" if size == 11 else "KART"


# --------------------------------------------------------------------------------------------
# IBAN with letters, e-mail, plates
# --------------------------------------------------------------------------------------------

_S = "[" + re.escape(_SEP_CHARS) + "]{0,%d}" % _MAX_GAP
_IBAN_RE = re.compile(rf"(?<![A-Za-z])[Tt]{_S}[Rr]{_S}((?:[0-9]{_S}){{23}}[0-9])(?![0-9])")

_W = "[A-Za-z0-9çğıöşüÇĞİÖŞÜâîûÂÎÛ_%+\\-]+"
_OPEN, _CLOSE = r"[\[\(\{<]", r"[\]\)\}>]"
_AT_OBF = rf"\s*{_OPEN}\s*(?:at|@|et)\s*{_CLOSE}\s*|\s+(?:at|AT|At)\s+"
_AT_PLAIN = r"\s*@\s*"
_DOT_OBF = rf"\s*{_OPEN}\s*(?:dot|nokta|\.)\s*{_CLOSE}\s*|\s+(?:dot|nokta|DOT|NOKTA|Dot|Nokta)\s+"
_DOT_PLAIN = r"\s?\.\s?"
_EMAIL_RE = re.compile(
    rf"(?<![A-Za-z0-9çğıöşüÇĞİÖŞÜ_%+\-.])(?P<local>{_W}(?:(?:{_DOT_OBF}|\.){_W})*)"
    rf"(?P<at>{_AT_OBF}|{_AT_PLAIN})"
    rf"(?P<domain>{_W}(?:(?:{_DOT_OBF}|{_DOT_PLAIN}){_W})+)",
    re.IGNORECASE,
)
_KNOWN_TLDS = frozenset(
    "com net org edu gov mil int info biz io co tr de uk fr nl it es ru us eu az me tv cc ai app dev "
    "online site xyz k12 bel pol av dr web name gen tc".split()
)
_SPLIT_DOT_RE = re.compile(rf"(?:{_DOT_OBF}|{_DOT_PLAIN})", re.IGNORECASE)

_PS = "[ \\-._]{0,3}"
_PLATE_RE = re.compile(
    rf"(?<![0-9A-Za-zÇĞİÖŞÜçğıöşü])(?<![0-9][ .\-/])"
    rf"(?P<il>{rules.province_code(_PS)}){_PS}"
    rf"(?P<harf>{rules.PLATE_LETTER}(?:{_PS}{rules.PLATE_LETTER}){{0,2}}){_PS}"
    rf"(?P<no>[0-9](?:{_PS}[0-9]){{1,3}})(?![0-9A-Za-zÇĞİÖŞÜçğıöşü])(?![ .\-/][0-9])"
)


def _email_candidates(norm: str) -> Iterator[tuple[int, int, str]]:
    if "@" not in norm and not re.search(r"\b(?:at|et|dot|nokta)\b", norm, re.IGNORECASE):
        return
    for m in _EMAIL_RE.finditer(norm):
        labels = _SPLIT_DOT_RE.split(m.group("domain"))
        tld = labels[-1]
        obfuscated = m.group("at").strip() != "@" or _SPLIT_DOT_RE.search(m.group("domain")).group().strip() != "."
        if obfuscated or any(c.isspace() for c in m.group()):
            if tld.lower() not in _KNOWN_TLDS:
                continue
        elif not (re.fullmatch("[A-Za-z]{2,24}", tld)):
            continue
        yield m.start(), m.end(), "EPOSTA"


def _plate_candidates(norm: str) -> Iterator[tuple[int, int, str]]:
    for m in _PLATE_RE.finditer(norm):
        letters = re.sub("[^A-Z]", "", m.group("harf"))
        digits = re.sub("[^0-9]", "", m.group("no"))
        if letters in rules.PLATE_STOP or len(digits) not in rules.PLATE_DIGITS[len(letters)]:
            continue
        yield m.start(), m.end(), "PLAKA"


def find_egress(text: str) -> list[tuple[int, int, str]]:
    """Candidates (start, end, kind) in ORIGINAL offsets, overlaps not yet resolved."""
    if not text:
        return []
    norm, index = normalise(text)
    found: list[tuple[int, int, str]] = []
    has_digit = any("0" <= c <= "9" for c in norm)
    if has_digit:
        found += _digit_candidates(norm, _Plain(text, norm, index))
        for m in _IBAN_RE.finditer(norm):
            if _iban.is_valid("TR" + re.sub("[^0-9]", "", m.group(1))):
                found.append((m.start(), m.end(), "IBAN"))
        found += _plate_candidates(norm)
    found += _email_candidates(norm)
    return [(index[s], index[e - 1] + 1, kind) for s, e, kind in found]
