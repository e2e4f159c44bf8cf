"""Seeded generators of valid Turkish identifiers, their obfuscations, and ordinary Turkish text.

Used by ``bench/pii.py`` (recall per kind and mode, false-block rate) and by the tests (no
generated identifier may pass the KVKK guard to a commercial endpoint; no generated order /
reference number, grouped thousands or decimal amount of ``NUMBER_SHAPES`` may be blocked). Everything is driven by a
``random.Random`` so a seed reproduces a case exactly. Every identifier is valid by its own rule
(checksum, Luhn, ``phonenumbers``, plate format), so a miss is a real miss.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as _iban
from stdnum import ean as _ean
from stdnum import luhn as _luhn
from stdnum.tr import tckimlik as _tckimlik
from stdnum.tr import vkn as _vkn

from anka_assets.text.pii_rules import PLATE_DIGITS, PLATE_STOP

__all__ = [
    "CARD_BRANDS",
    "NUMBER_SHAPES",
    "OBFUSCATIONS",
    "PiiCase",
    "number_shape_sentence",
    "number_shape_sentences",
    "obfuscations_for",
    "ordinary_sentences",
    "pii_case",
    "pii_cases",
]

# --------------------------------------------------------------------------------------------
# Valid identifiers
# --------------------------------------------------------------------------------------------


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def gen_tckn(rng: random.Random) -> str:
    if rng.random() < 0.2:  # YKN: foreigners' number, same checksum, 99 prefix
        base = "99" + _digits(rng, 7)
    else:
        base = rng.choice("123456789") + _digits(rng, 8)
    return base + _tckimlik.calc_check_digits(base)


def gen_vkn(rng: random.Random) -> str:
    base = _digits(rng, 9)
    return base + _vkn.calc_check_digit(base)


def gen_iban(rng: random.Random) -> str:
    bban = _digits(rng, 5) + "0" + _digits(rng, 16)
    return "TR" + _iban.calc_check_digits("TR00" + bban) + bban


#: brand -> (prefixes, lengths) for cards issued or accepted in Turkey
CARD_BRANDS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "visa": (("4",), (16,)),
    "mastercard": (("51", "52", "53", "54", "55", "2221", "2500", "2720"), (16,)),
    "maestro": (("50", "56", "57", "58", "59", "63", "67", "6759"), (16, 18, 19)),
    "amex": (("34", "37"), (15,)),
    "troy": (("9792",), (16,)),
    "unionpay": (("62",), (16, 19)),
    "jcb": (("3528", "3589", "3550"), (16,)),
    "discover": (("6011", "65", "644"), (16,)),
}


def gen_card(rng: random.Random, brand: str | None = None) -> str:
    brand = brand or rng.choice(sorted(CARD_BRANDS))
    prefixes, lengths = CARD_BRANDS[brand]
    prefix = rng.choice(prefixes)
    n = rng.choice(lengths)
    body = prefix + _digits(rng, n - len(prefix) - 1)
    return body + _luhn.calc_check_digit(body)


_MOBILE = ("501", "505", "506", "507", "530", "532", "533", "535", "536", "538", "541", "542", "543",
           "544", "545", "546", "549", "551", "552", "553", "555", "559")  # fmt: skip
_LANDLINE = ("212", "216", "312", "232", "224", "242", "262", "322", "342", "352", "412", "462")


def gen_phone(rng: random.Random) -> str:
    """Ten national digits of a number ``phonenumbers`` accepts for TR."""
    while True:
        area = rng.choice(_MOBILE if rng.random() < 0.7 else _LANDLINE)
        national = area + rng.choice("23456789") + _digits(rng, 6)
        if phonenumbers.is_valid_number_for_region(phonenumbers.parse("+90" + national), "TR"):
            return national


_NAMES = ("ayse", "mehmet", "zeynep", "mustafa", "elif", "ahmet", "fatma", "emre", "deniz", "can")
_SURNAMES = ("yilmaz", "kaya", "demir", "sahin", "celik", "yildiz", "aydin", "ozturk", "arslan")
_DOMAINS = (("ornek", "com", "tr"), ("firma", "com"), ("posta", "net"), ("universite", "edu", "tr"),
            ("belediye", "bel", "tr"), ("gmail", "com"))  # fmt: skip


def gen_email(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    """(local part, domain labels)."""
    local = rng.choice(_NAMES) + rng.choice((".", "_", "")) + rng.choice(_SURNAMES)
    if rng.random() < 0.4:
        local += str(rng.randint(1, 99))
    return local, rng.choice(_DOMAINS)


_PLATE_LETTERS = "ABCDEFGHIJKLMNOPRSTUVYZ"


def gen_plate(rng: random.Random) -> tuple[str, str, str]:
    """(province, letters, number) of a valid plate."""
    while True:
        n_letters = rng.choice((1, 2, 3))
        letters = "".join(rng.choice(_PLATE_LETTERS) for _ in range(n_letters))
        if letters not in PLATE_STOP:  # abbreviations the detectors deliberately never read as a plate
            break
    n_digits = rng.choice(PLATE_DIGITS[n_letters])
    number = rng.choice("123456789") + _digits(rng, n_digits - 1)
    return f"{rng.randint(1, 81):02d}", letters, number


# --------------------------------------------------------------------------------------------
# Obfuscations
# --------------------------------------------------------------------------------------------

_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u200e", "\u200f", "\u202a",
               "\u202c", "\u2066", "\u2069", "\u180e")  # fmt: skip
_SPACES = (" ", "\u00a0", "\u2009", "\u202f", "\u2002", "\u3000", "\u205f")
_DASHES = ("-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212", "\ufe63", "\uff0d")
_DIGIT_SETS = {
    "fullwidth": "０１２３４５６７８９",
    "arabic_indic": "٠١٢٣٤٥٦٧٨٩",
    "persian": "۰۱۲۳۴۵۶۷۸۹",
    "devanagari": "०१२३४५६७८९",
    "bengali": "০১২৩৪৫৬৭৮৯",
    "math_bold": "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗",
}


def _groups(rng: random.Random, s: str, sizes: tuple[int, ...] | None = None) -> list[str]:
    out, i = [], 0
    while i < len(s):
        size = rng.choice(sizes) if sizes else rng.randint(1, 4)
        out.append(s[i : i + size])
        i += size
    return out


def _join(sep: Callable[[random.Random], str]) -> Callable[[random.Random, str], str]:
    def f(rng: random.Random, s: str) -> str:
        parts = _groups(rng, s, (2, 3, 4))
        return "".join(p + (sep(rng) if k < len(parts) - 1 else "") for k, p in enumerate(parts))

    return f


def _in_digits(name: str) -> Callable[[random.Random, str], str]:
    table = str.maketrans("0123456789", _DIGIT_SETS[name])
    return lambda rng, s: s.translate(table)


def _zero_width(rng: random.Random, s: str) -> str:
    return "".join(ch + (rng.choice(_ZERO_WIDTH) if rng.random() < 0.5 else "") for ch in s[:-1]) + s[-1]


def _mixed(rng: random.Random, s: str) -> str:
    """Everything at once: Unicode digits, random separators, invisible characters."""
    sets = list(_DIGIT_SETS.values()) + ["0123456789"]
    out = []
    for k, part in enumerate(_groups(rng, s)):
        digits = rng.choice(sets)
        out.append("".join(digits[int(c)] if c.isdigit() else c for c in part))
        if k < len(s):
            out.append(rng.choice([*_SPACES, *_DASHES, ".", "/", "_", "\n", *_ZERO_WIDTH, ". ", " - "]))
    return "".join(out).rstrip("".join({*_SPACES, *_DASHES, ".", "/", "_", "\n", *_ZERO_WIDTH, " "}))


#: name -> transform of a digit string (applied to the digits of the identifier)
OBFUSCATIONS: dict[str, Callable[[random.Random, str], str]] = {
    "plain": lambda rng, s: s,
    "spaces": _join(lambda r: " "),
    "unicode_spaces": _join(lambda r: r.choice(_SPACES)),
    "dashes": _join(lambda r: "-"),
    "unicode_dashes": _join(lambda r: r.choice(_DASHES)),
    "dots": _join(lambda r: "."),
    "slashes": _join(lambda r: "/"),
    "underscores": _join(lambda r: "_"),
    "commas": _join(lambda r: ","),
    "parentheses": lambda rng, s: f"({s[:3]}) {s[3:6]} {s[6:]}",
    "line_breaks": _join(lambda r: "\n"),
    "one_digit_each": lambda rng, s: " ".join(s),
    "zero_width": _zero_width,
    **{f"digits_{name}": _in_digits(name) for name in _DIGIT_SETS},
    "mixed": _mixed,
}

EMAIL_OBFUSCATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name -> (at forms, dot forms)
    "plain": (("@",), (".",)),
    "at_brackets": (("[at]", " [at] ", "[ at ]"), (".",)),
    "at_parens": (("(at)", " (at) ", "{at}", " {at} ", "<at>"), (".",)),
    "at_word": ((" at ", " AT "), (" dot ", " nokta ")),
    "at_spaced": ((" @ ", "@ ", " @"), (".", " . ")),
    "dot_brackets": (("@", " [at] "), ("[dot]", " [dot] ", "[.]", " [.] ")),
    "dot_parens": (("@", " (at) "), ("(dot)", " (nokta) ", "(.)", "{dot}")),
    "dot_word": ((" (at) ", "@"), (" nokta ", " dot ", " NOKTA ")),
    "zero_width": (("@",), (".",)),
    "fullwidth": (("＠",), ("．", ".")),
}

PLATE_OBFUSCATIONS: dict[str, Callable[[random.Random, tuple[str, str, str]], str]] = {
    "plain": lambda rng, p: f"{p[0]} {p[1]} {p[2]}",
    "no_spaces": lambda rng, p: "".join(p),
    "dashes": lambda rng, p: "-".join(p),
    "dots": lambda rng, p: ".".join(p),
    "unicode_spaces": lambda rng, p: rng.choice(_SPACES).join(p),
    "one_char_each": lambda rng, p: " ".join("".join(p)),
    "zero_width": lambda rng, p: _zero_width(rng, " ".join(p)),
    "fullwidth_digits": lambda rng, p: _in_digits("fullwidth")(rng, " ".join(p)),
}

PHONE_PREFIXES = ("", "0", "+90 ", "+90", "0090 ", "0090", "90 ", "+90 (0)")


def obfuscations_for(kind: str) -> tuple[str, ...]:
    if kind == "EPOSTA":
        return tuple(EMAIL_OBFUSCATIONS)
    if kind == "PLAKA":
        return tuple(PLATE_OBFUSCATIONS)
    if kind == "IBAN":
        return (*OBFUSCATIONS, "lower_case", "letters_spaced")
    return tuple(OBFUSCATIONS)


def _email_text(rng: random.Random, obfuscation: str) -> str:
    local, labels = gen_email(rng)
    ats, dots = EMAIL_OBFUSCATIONS[obfuscation]
    dot = rng.choice(dots)
    text = local + rng.choice(ats) + dot.join(labels)
    if obfuscation == "zero_width":
        text = _zero_width(rng, text)
    if obfuscation == "fullwidth":
        text = text.translate(str.maketrans("abcdefghijklmnopqrstuvwxyz", "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ"))
    return text


def identifier_text(rng: random.Random, kind: str, obfuscation: str) -> str:
    """One valid identifier of ``kind`` written with ``obfuscation``."""
    if kind == "EPOSTA":
        return _email_text(rng, obfuscation)
    if kind == "PLAKA":
        return PLATE_OBFUSCATIONS[obfuscation](rng, gen_plate(rng))
    if kind == "IBAN":
        value = gen_iban(rng)
        letters, digits = value[:2], value[2:]
        if obfuscation == "lower_case":
            return letters.lower() + OBFUSCATIONS["spaces"](rng, digits)
        if obfuscation == "letters_spaced":
            return " ".join(letters) + " " + OBFUSCATIONS["spaces"](rng, digits)
        if rng.random() < 0.5:
            letters = letters.lower()
        return letters + OBFUSCATIONS[obfuscation](rng, digits)
    if kind == "TELEFON":
        national = gen_phone(rng)
        prefix = rng.choice(PHONE_PREFIXES)
        return prefix + OBFUSCATIONS[obfuscation](rng, national)
    value = {"TCKN": gen_tckn, "VKN": gen_vkn, "KART": gen_card}[kind](rng)
    return OBFUSCATIONS[obfuscation](rng, value)


# --------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "TCKN": (
        "Başvuru sahibinin T.C. kimlik numarası {x} olarak forma yazılmıştır.",
        "Hasta {x} numarasıyla sisteme kaydedildi; 2024 yılında taburcu oldu.",
        "Dilekçede {x} yazıyor, bu kişinin mirasçılık belgesini inceleyiniz.",
        "Kiracı Ayşe Hanım ({x}) kira sözleşmesini 01.03.2023 tarihinde imzaladı.",
        "{x}",
    ),
    "VKN": (
        "Şirketin {x} numarasıyla düzenlenen faturasındaki KDV hatasını açıklayınız.",
        "Mükellef {x} için 2023 yılı beyannamesi verilmedi.",
        "Tedarikçi firma ({x}) 1.250.000 TL tutarında fatura kesti.",
        "{x} hangi vergi dairesine bağlıdır?",
    ),
    "IBAN": (
        "Ödemeyi {x} hesabına yapınız ve dekontu saklayınız.",
        "Kira bedeli her ay {x} numaralı hesaba yatırılmaktadır.",
        "Havale açıklamasında {x} yazan işlemin iadesi nasıl istenir?",
    ),
    "KART": (
        "Müşteri {x} numaralı kartıyla 3 taksitli alışveriş yaptı.",
        "Kartım {x} ise son kullanma tarihi neden reddediliyor?",
        "Şüpheli işlem: {x} kartından 2.500 TL çekildi.",
    ),
    "TELEFON": (
        "Müşteriye {x} numarasından ulaşabilirsiniz.",
        "Randevu için {x} aranmalıdır.",
        "Komşum beni {x} numarasından rahatsız ediyor, ne yapabilirim?",
    ),
    "EPOSTA": (
        "Sonuçları {x} adresine gönderiniz.",
        "Bana {x} üzerinden yazabilirsiniz.",
        "Şikâyetimi {x} adresinden ilettim ama yanıt gelmedi.",
    ),
    "PLAKA": (
        "{x} plakalı araç kırmızı ışıkta geçti.",
        "Aracımın plakası {x}, trafik cezasına itiraz edebilir miyim?",
        "Kazaya karışan {x} otoparktan çıkarken görüldü.",
    ),
}


@dataclass(frozen=True)
class PiiCase:
    kind: str
    obfuscation: str
    identifier: str
    sentence: str


def pii_case(rng: random.Random, kind: str, obfuscation: str) -> PiiCase:
    ident = identifier_text(rng, kind, obfuscation)
    sentence = rng.choice(_TEMPLATES[kind]).format(x=ident)
    return PiiCase(kind, obfuscation, ident, sentence)


PII_CASE_KINDS = tuple(_TEMPLATES)


def pii_cases(seed: int, per_obfuscation: int) -> Iterator[PiiCase]:
    """``per_obfuscation`` cases for every (kind, obfuscation) pair, reproducible from ``seed``."""
    rng = random.Random(seed)
    for kind in PII_CASE_KINDS:
        for obfuscation in obfuscations_for(kind):
            for _ in range(per_obfuscation):
                yield pii_case(rng, kind, obfuscation)


# --------------------------------------------------------------------------------------------
# Ordinary Turkish text: numbers that are NOT personal data
# --------------------------------------------------------------------------------------------

_MONTHS = ("Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz", "Ağustos", "Eylül", "Ekim",
           "Kasım", "Aralık")  # fmt: skip
_LAWS = ("6698", "5237", "4721", "6098", "2709", "5271", "6100", "213", "193", "3065", "5510", "4857")


def _thousands(n: int, sep: str = ".") -> str:
    return f"{n:,}".replace(",", sep)


def _isbn13(rng: random.Random) -> str:
    body = rng.choice(("978975", "978605", "979"))
    body += _digits(rng, 12 - len(body))
    full = body + _ean.calc_check_digit(body)
    return "-".join((full[:3], full[3:6], full[6:8], full[8:12], full[12:]))


def _date(rng: random.Random, sep: str = ".") -> str:
    return f"{rng.randint(1, 28):02d}{sep}{rng.randint(1, 12):02d}{sep}{rng.randint(1299, 2030)}"


_ORDINARY: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"Cumhuriyet {_date(r)} tarihinde ilan edildi; {r.randint(1900, 2030)} yılı bir dönüm noktasıdır.",
    lambda r: f"Projeye {_thousands(r.randint(10_000, 9_999_999_999))} TL bütçe ayrıldı.",
    lambda r: f"Fatura tutarı {_thousands(r.randint(1_000, 99_999_999))},{r.randint(0, 99):02d} TL olarak hesaplandı.",
    lambda r: f"{r.choice(_LAWS)} sayılı Kanun'un {r.randint(1, 300)}. maddesi ve TBK m. {r.randint(1, 650)} uygulanır.",
    lambda r: f"Fiil {r.choice(_LAWS)} sayılı TCK'nın {r.randint(1, 345)}/{r.randint(1, 9)}-a maddesi kapsamındadır.",
    lambda r: f"Yargıtay {r.randint(1, 23)}. HD, {r.randint(2000, 2025)}/{r.randint(1, 99999)} E., "
    f"{r.randint(2000, 2025)}/{r.randint(1, 99999)} K., {_date(r)} T. kararını değerlendiriniz.",
    lambda r: f"Dosya {r.randint(2000, 2025)}/{r.randint(1, 9999)} Esas sayılı olup {_date(r, '/')} günü görüşüldü.",
    lambda r: f"Kitabın ISBN numarası {_isbn13(r)} şeklindedir ve {r.randint(50, 900)} sayfadır.",
    lambda r: f"Bkz. s. {r.randint(1, 400)}-{r.randint(401, 900)} ve dipnot {r.randint(1, 99)}.",
    lambda r: f"Savaş {r.randint(1800, 1950)}-{r.randint(1950, 2000)} yılları arasında sürdü; {r.randint(1, 31)} "
    f"{r.choice(_MONTHS)} {r.randint(1000, 2025)} önemli bir tarihtir.",
    lambda r: f"Türkiye nüfusu {_thousands(r.randint(1_000_000, 99_999_999))} kişidir ve yıllık artış "
    f"%{r.randint(0, 9)},{r.randint(0, 9)} olmuştur.",
    lambda r: f"Toplantı {r.randint(2000, 2030)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} "
    f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}'da başladı.",
    lambda r: f"Dönem {_date(r)} - {_date(r)} arasını kapsar ve {r.randint(1, 99)} oturum içerir.",
    lambda r: f"Resmî Gazete'nin {_date(r)} tarihli ve {r.randint(10000, 32999)} sayılı nüshasında yayımlandı.",
    lambda r: f"Şirketin sermayesi {_thousands(r.randint(1_000_000, 999_999_999_999))} TL'dir; "
    f"{r.randint(1, 9999)} adet pay ihraç edildi.",
    lambda r: f"Osmanlı bütçesi {r.randint(1850, 1914)} yılında {_thousands(r.randint(100_000, 99_999_999))} "
    f"kuruş açık verdi.",
    lambda r: f"Anayasa'nın {r.randint(1, 177)}. maddesi, {r.randint(1921, 1982)} ve {r.randint(1982, 2017)} "
    f"değişiklikleriyle birlikte okunmalıdır.",
    lambda r: f"Ölçüm {r.randint(0, 99)},{r.randint(0, 9999)} mm ve {r.randint(1000, 8848)} m yükseklikte yapıldı.",
    lambda r: f"Dosya no. {r.randint(2000, 2025)}/{r.randint(1, 9999)} - Karar no. {r.randint(2000, 2025)}/"
    f"{r.randint(1, 9999)}",
    lambda r: f"{r.randint(1, 28)}.{r.randint(1, 12)}.{r.randint(1900, 2025)} tarihli ve {r.choice(_LAWS)} sayılı "
    f"kanunla {_thousands(r.randint(1000, 9_999_999))} TL ceza öngörüldü.",
)


def ordinary_sentences(seed: int, n: int) -> list[str]:
    """``n`` ordinary Turkish sentences dense with numbers that are not personal data."""
    rng = random.Random(seed)
    return [rng.choice(_ORDINARY)(rng) for _ in range(n)]


# --------------------------------------------------------------------------------------------
# Order / reference numbers, grouped thousands and decimal amounts: NOT personal data
# --------------------------------------------------------------------------------------------

#: group layouts of dashed/slashed order numbers (Amazon's 3-7-7 and its relatives); every layout
#: has two groups of 5-9 digits, which no phone, ID, IBAN or card print layout has
ORDER_LAYOUTS: tuple[tuple[int, ...], ...] = (
    (3, 7, 7), (2, 7, 7), (4, 7, 7), (3, 6, 7), (3, 7, 6), (2, 6, 6), (3, 5, 5), (4, 8, 8), (3, 8, 6),
    (2, 5, 9), (3, 7, 7, 2), (4, 6, 6, 3),
)  # fmt: skip
_AMAZON_PREFIXES = ("111", "112", "113", "114", "171", "202", "203", "204", "205", "206", "249", "302",
                    "303", "304", "305", "306", "401", "402", "403", "404", "405", "406", "407", "408",
                    "026", "028")  # fmt: skip
_REF_PREFIXES = ("REF", "INV", "FTR", "SP", "SPR", "ORD", "TRX", "DKT", "BSV", "TKP", "PO", "ST")
_EINVOICE_PREFIXES = ("GIB", "ABC", "EAR", "FTR", "TRY", "A01", "E2A", "MRK", "SAT", "IRS")
_CURRENCIES_AFTER = (" TL", " TL", "TL", " ₺", "₺", " USD", " EUR", " lira", " TRY", " $", " €", " dolar")
_CURRENCIES_BEFORE = ("₺", "$", "€", "USD ", "EUR ", "TL ", "₺ ", "£")
#: thousands separators: dot (tr), comma (en), (no-break / narrow no-break) space, apostrophe (ch)
THOUSANDS_SEPARATORS = (".", ",", " ", "\u00a0", "\u202f", "'", "\u2009")


def _seq(rng: random.Random, width: int) -> str:
    """A running number of ``width`` digits: zero-padded small counters or random digits."""
    if rng.random() < 0.5:
        return f"{rng.randint(1, 10 ** min(width, 6) - 1):0{width}d}"
    return _digits(rng, width)


def _magnitude(rng: random.Random, lo_digits: int = 4, hi_digits: int = 12) -> int:
    n = rng.randint(lo_digits, hi_digits)
    return rng.randint(10 ** (n - 1), 10**n - 1)


def _grouped(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


def _amazon_order(rng: random.Random) -> str:
    return f"{rng.choice(_AMAZON_PREFIXES)}-{_digits(rng, 7)}-{_digits(rng, 7)}"


def _dashed_order(rng: random.Random) -> str:
    sep = rng.choice(("-", "-", "/", "–", "_"))
    return sep.join(_digits(rng, n) for n in rng.choice(ORDER_LAYOUTS))


def _prefixed_reference(rng: random.Random) -> str:
    p = rng.choice(_REF_PREFIXES)
    year = rng.randint(2015, 2030)
    return rng.choice(
        (
            f"{p}-{year}-{_seq(rng, rng.choice((5, 6, 7, 8, 9)))}",
            f"{p}/{year}/{_seq(rng, rng.choice((5, 6, 7)))}",
            f"{p}{year}-{_seq(rng, rng.choice((6, 7, 8)))}",
            f"{p}-{_digits(rng, 3)}-{_seq(rng, 7)}-{_seq(rng, 7)}",
            f"{year}-{p}-{_seq(rng, rng.choice((6, 8)))}",
        )
    )


def _einvoice_number(rng: random.Random) -> str:
    """GİB e-Fatura / e-Arşiv numbering: 3 characters, the year, a 9-digit running number."""
    return f"{rng.choice(_EINVOICE_PREFIXES)}{rng.randint(2015, 2030)}{_seq(rng, 9)}"


def _year_reference(rng: random.Random) -> str:
    return f"{rng.randint(2000, 2030)}{rng.choice(('/', '-'))}{_seq(rng, rng.choice((5, 6)))}"


def _thousands_amount(rng: random.Random) -> str:
    value = _grouped(_magnitude(rng, 4, 13), rng.choice(THOUSANDS_SEPARATORS))
    form = rng.random()
    if form < 0.35:
        return value + rng.choice(_CURRENCIES_AFTER)
    if form < 0.5:
        return rng.choice(_CURRENCIES_BEFORE) + value
    return value  # a bare grouped number: a count, a population, a reference printed in groups


def _decimal_amount(rng: random.Random) -> str:
    n = _magnitude(rng, 3, 11)
    frac = f"{rng.randint(0, 99):02d}" if rng.random() < 0.85 else str(rng.randint(0, 9))
    style = rng.random()
    if style < 0.4:  # contiguous integer part: 53383701.63 / 53383701,63
        value = f"{n}{rng.choice('.,')}{frac}"
    else:  # grouped integer part with the other separator for the decimals
        thousands, decimal = rng.choice(((".", ","), (",", "."), ("'", "."), ("\u202f", ","), (" ", ",")))
        value = f"{_grouped(n, thousands)}{decimal}{frac}"
    if rng.random() < 0.7:
        return value + rng.choice(_CURRENCIES_AFTER)
    return rng.choice(_CURRENCIES_BEFORE) + value


#: shape -> generator of one number that is not personal data
NUMBER_SHAPES: dict[str, Callable[[random.Random], str]] = {
    "amazon_order": _amazon_order,
    "dashed_order": _dashed_order,
    "prefixed_reference": _prefixed_reference,
    "einvoice_number": _einvoice_number,
    "year_reference": _year_reference,
    "thousands": _thousands_amount,
    "decimal_amount": _decimal_amount,
}

_NUMBER_TEMPLATES: dict[str, tuple[str, ...]] = {
    "order": (
        "Sipariş numaranız {x} olarak kaydedildi.",
        "Sipariş No: {x}",
        "#{x} numaralı siparişim hâlâ kargoya verilmedi, ne yapmalıyım?",
        "İade talebimi {x} siparişi için açtım.",
        "Kargo takip: {x} (Aras Kargo)",
        "{x}",
    ),
    "reference": (
        "Fatura No: {x} olan belgenin KDV tutarı hatalı.",
        "Ödeme referansı {x} ile dekontta görünüyor.",
        "Başvuru numaranız: {x}. Lütfen saklayınız.",
        "Dekont açıklaması \"{x}\" olan havale iade edildi.",
        "{x} numaralı e-Arşiv faturayı iptal edebilir miyim?",
        "{x}",
    ),
    "amount": (
        "Toplam tutar {x} olarak hesaplandı.",
        "Hesabıma {x} yatırıldı ama bakiye güncellenmedi.",
        "Şirketin cirosu {x} seviyesine çıktı.",
        "Fatura bedeli: {x}",
        "Bu yıl {x} ziyaretçi müzeyi gezdi.",
        "Referans {x} ile ödendi.",
        "{x}",
    ),
}
_SHAPE_TEMPLATE = {"amazon_order": "order", "dashed_order": "order", "prefixed_reference": "reference",
                   "einvoice_number": "reference", "year_reference": "reference", "thousands": "amount",
                   "decimal_amount": "amount"}  # fmt: skip


def number_shape_sentence(rng: random.Random, shape: str) -> str:
    """One Turkish sentence around one generated number of ``shape`` (see ``NUMBER_SHAPES``)."""
    return rng.choice(_NUMBER_TEMPLATES[_SHAPE_TEMPLATE[shape]]).format(x=NUMBER_SHAPES[shape](rng))


def number_shape_sentences(seed: int, per_shape: int) -> Iterator[tuple[str, str]]:
    """``per_shape`` (shape, sentence) pairs for every shape in ``NUMBER_SHAPES``, reproducible from ``seed``."""
    rng = random.Random(seed)
    for shape in NUMBER_SHAPES:
        for _ in range(per_shape):
            yield shape, number_shape_sentence(rng, shape)
