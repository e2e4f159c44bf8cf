"""Tests for anka_assets.text.pii: Turkish PII detection and redaction.

Every number below is fictitious: identifiers are built from made-up prefixes and completed with
the check digits computed by python-stdnum, so they are checksum-valid but belong to no one.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.tr import tckimlik, vkn

from anka_assets.text.pii import (
    PII_KINDS,
    PLACEHOLDERS,
    PiiMatch,
    contains_pii,
    find_pii,
    redact,
)

# ------------------------------------------------------------------------------------------------
# Fictitious, checksum-valid vectors (computed, never copied from real records)
# ------------------------------------------------------------------------------------------------


def make_tckn(first9: str) -> str:
    return first9 + tckimlik.calc_check_digits(first9)


def make_vkn(first9: str) -> str:
    return first9 + vkn.calc_check_digit(first9)


def make_tr_iban(bban: str) -> str:
    assert len(bban) == 22
    return "TR" + std_iban.calc_check_digits("TR00" + bban) + bban


def make_card(prefix: str) -> str:
    return prefix + luhn.calc_check_digit(prefix)


def group4(s: str, sep: str = " ") -> str:
    return sep.join(s[i : i + 4] for i in range(0, len(s), 4))


def break_last_digit(s: str) -> str:
    return s[:-1] + str((int(s[-1]) + 1) % 10)


TCKN_1 = make_tckn("100000001")  # 10000000146
TCKN_2 = make_tckn("287913560")
YKN_1 = make_tckn("990000001")  # foreigner's number, 99 prefix
TCKN_BAD = break_last_digit(TCKN_1)

VKN_1 = make_vkn("123456789")
VKN_2 = make_vkn("004512378")  # VKN may start with 0
VKN_BAD = break_last_digit(VKN_1)

IBAN_1 = make_tr_iban("0006100519786457841326")
IBAN_2 = make_tr_iban("0001200000000000004711")
IBAN_BAD = IBAN_1[:2] + f"{(int(IBAN_1[2:4]) + 1) % 100:02d}" + IBAN_1[4:]
# BBAN chosen so that groups 2-5 of the spaced IBAN form the Luhn-valid card 4111 1111 1111 1111.
IBAN_CARD = make_tr_iban("0006" + "4111111111111111" + "11")
# BBAN embedding a mobile number (0532 123 45 67) and a TCKN-like run in its digits.
IBAN_PHONE = make_tr_iban("0006" + "05321234567" + "0000000")
IBAN_TCKN = make_tr_iban("00061" + TCKN_1 + "000000")

VISA = make_card("411111111111111")
MASTERCARD = make_card("545454545454545")
MASTERCARD_2 = make_card("222100000000000")
AMEX = make_card("37144963539843")
TROY = make_card("979212345678901")
VISA_BAD = break_last_digit(VISA)
NO_ISSUER = make_card("123456789012345")  # Luhn-valid, but no issuer starts with 1

PHONE_MOBILE = "0532 123 45 67"


def test_vectors_are_checksum_valid() -> None:
    for n in (TCKN_1, TCKN_2, YKN_1):
        assert tckimlik.is_valid(n)
    assert not tckimlik.is_valid(TCKN_BAD)
    assert YKN_1.startswith("99")
    for n in (VKN_1, VKN_2):
        assert vkn.is_valid(n)
    assert not vkn.is_valid(VKN_BAD)
    for n in (IBAN_1, IBAN_2, IBAN_CARD, IBAN_PHONE, IBAN_TCKN):
        assert std_iban.is_valid(n) and len(n) == 26
    assert not std_iban.is_valid(IBAN_BAD)
    for n in (VISA, MASTERCARD, MASTERCARD_2, AMEX, TROY, NO_ISSUER):
        assert luhn.is_valid(n)
    assert not luhn.is_valid(VISA_BAD)
    assert TCKN_1 == "10000000146"


# ------------------------------------------------------------------------------------------------
# Positive vectors: (sentence, kind, exact matched text)
# ------------------------------------------------------------------------------------------------

POSITIVE = [
    # TCKN / YKN
    (f"Müşterinin T.C. kimlik numarası {TCKN_1} olarak kayıtlıdır.", "TCKN", TCKN_1),
    (f"Hastanın TCKN'si: {TCKN_2}.", "TCKN", TCKN_2),
    (f"Başvuru sahibinin kimlik no {TCKN_2}'dir ve dosyası açıktır.", "TCKN", TCKN_2),
    (f"Yabancı uyruklu çalışanın YKN'si {YKN_1} olarak bildirildi.", "TCKN", YKN_1),
    (f"KİMLİK NUMARASI:{TCKN_1}", "TCKN", TCKN_1),
    # VKN (context keyword required)
    (f"Şirketin VKN: {VKN_1} olarak beyan edildi.", "VKN", VKN_1),
    (f"Vergi numarası {VKN_1}'dir.", "VKN", VKN_1),
    (f"VERGİ KİMLİK NO {VKN_2} olan mükellef", "VKN", VKN_2),
    (f"VERGI NUMARASI: {VKN_2}", "VKN", VKN_2),
    (f"Faturadaki V.K.N. {VKN_1} ile eşleşiyor.", "VKN", VKN_1),
    (f"Kadıköy Vergi Dairesi, vergi no: {VKN_2}", "VKN", VKN_2),
    # IBAN
    (f"Ödemeyi {group4(IBAN_1)} numaralı hesaba yapınız.", "IBAN", group4(IBAN_1)),
    (f"IBAN: {IBAN_2}", "IBAN", IBAN_2),
    (f"iban {IBAN_1.lower()} hesabına gönderildi", "IBAN", IBAN_1.lower()),
    (f"Hesap (IBAN'ı {group4(IBAN_2)}) bloke edildi.", "IBAN", group4(IBAN_2)),
    # KART
    (f"Ödeme {group4(VISA)} numaralı kartla yapıldı.", "KART", group4(VISA)),
    (f"Kart no: {group4(MASTERCARD, '-')}", "KART", group4(MASTERCARD, "-")),
    (f"Yeni Mastercard aralığı {MASTERCARD_2} ile test edildi.", "KART", MASTERCARD_2),
    (f"Amex kartı {AMEX[:4]} {AMEX[4:10]} {AMEX[10:]} iptal edildi.", "KART",
     f"{AMEX[:4]} {AMEX[4:10]} {AMEX[10:]}"),
    (f"Troy kart {TROY} ile 3 taksit", "KART", TROY),
    (f"Kart {group4(VISA)} 3 taksit ile ödendi.", "KART", group4(VISA)),
    # TELEFON
    (f"Müşteriye {PHONE_MOBILE} numarasından ulaşılabilir.", "TELEFON", PHONE_MOBILE),
    ("Santral: +90 (212) 555 12 34, dahili 12.", "TELEFON", "+90 (212) 555 12 34"),
    ("Cep telefonu +905321234567 olarak güncellendi.", "TELEFON", "+905321234567"),
    ("Yurt dışından 0090 532 123 45 67 aranabilir.", "TELEFON", "0090 532 123 45 67"),
    ("Ev telefonu (0312) 444 56 78.", "TELEFON", "(0312) 444 56 78"),
    ("İletişim: 0(216) 555 12 34", "TELEFON", "0(216) 555 12 34"),
    ("Numara 0532.123.45.67 olarak yazılmış.", "TELEFON", "0532.123.45.67"),
    ("Faks +90-212-555-1234 hattıdır.", "TELEFON", "+90-212-555-1234"),
    ("GSM: 5321234567", "TELEFON", "5321234567"),
    ("Mobil hat 532 123 45 67 kapalı.", "TELEFON", "532 123 45 67"),
    ("Tel 2125551234 (mesai saatlerinde)", "TELEFON", "2125551234"),
    ("Kurumsal hat 0850 222 06 00 üzerinden", "TELEFON", "0850 222 06 00"),
    ("Sipariş için 0532-123-45-67 numarasını arayın.", "TELEFON", "0532-123-45-67"),
    ("Bize 532-1234567 numarasından ulaşın.", "TELEFON", "532-1234567"),
    # EPOSTA
    ("Sonuçlar ali.veli@ornek.com.tr adresine gönderildi.", "EPOSTA", "ali.veli@ornek.com.tr"),
    ("E-posta: AYSE_YILMAZ+kvkk@Example.COM.", "EPOSTA", "AYSE_YILMAZ+kvkk@Example.COM"),
    ("Yazışmalar ayşe.yılmaz@örnek.com.tr üzerinden yürütüldü.", "EPOSTA",
     "ayşe.yılmaz@örnek.com.tr"),
    # PLAKA
    ("Aracın plakası 34 ABC 123 olarak tespit edildi.", "PLAKA", "34 ABC 123"),
    ("Ankara plakalı 06 A 1234 otoparkta.", "PLAKA", "06 A 1234"),
    ("İzmir'de 35 BK 4567 plakalı araç", "PLAKA", "35 BK 4567"),
    ("Bitişik yazım 34ABC123 de plakadır.", "PLAKA", "34ABC123"),
    ("Kamyonun plakası 81 ZYT 12'dir.", "PLAKA", "81 ZYT 12"),
    ("Araç (01 AB 1234) çekildi.", "PLAKA", "01 AB 1234"),
]


@pytest.mark.parametrize(("sentence", "kind", "expected"), POSITIVE)
def test_positive(sentence: str, kind: str, expected: str) -> None:
    matches = find_pii(sentence)
    assert [(m.kind, m.text) for m in matches] == [(kind, expected)]
    m = matches[0]
    assert sentence[m.start : m.end] == expected
    assert contains_pii(sentence)


# ------------------------------------------------------------------------------------------------
# Negative vectors: nothing may be flagged
# ------------------------------------------------------------------------------------------------

NEGATIVE = [
    # years, amounts, laws and articles, dates
    "Cumhuriyet 1923 yılında ilan edildi.",
    "2024 yılında enflasyon yüksek seyretti.",
    "Projeye 12.500.000 TL bütçe ayrıldı.",
    "Fatura tutarı 1.250,75 TL olarak hesaplandı.",
    "Kira artışı TBK m. 117 hükmüne tabidir.",
    "6698 sayılı Kanun kişisel verileri korur.",
    "Fiil 5237 sayılı TCK m. 141 kapsamında değerlendirildi.",
    "Anayasa'nın 10. maddesi ve 4721 sayılı TMK m. 2 uygulanır.",
    "Cumhuriyet 29.10.1923 tarihinde ilan edildi.",
    "15/07/2016 gecesi yaşananlar anıldı.",
    "Toplantı 2016-07-15 10:30'da başladı.",
    "Kitabın ISBN numarası 978-975-08-0000-0 şeklindedir.",
    "ISBN 9789750800000 ile kayıtlı eser.",
    "Oy oranı %45,5 ve katılım yüzde 86 oldu.",
    "Pi sayısı yaklaşık 3,14159265358 olarak alınır.",
    "Ölçüm 0.10000000146 mikron çıktı.",
    "Türkiye nüfusu 85.372.377 kişidir.",
    "Sunucu 192.168.100.200 adresinde çalışıyor.",
    "Hazine 5000000000 TL borçlandı.",
    "10 Kasım 1938 ve 19 Mayıs 1919 tarihleri önemlidir.",
    # checksum failures
    f"Kimlik numarası {TCKN_BAD} olarak girilmiş ama geçersiz.",
    f"Şirketin VKN: {VKN_BAD} olarak beyan edildi.",
    f"IBAN: {group4(IBAN_BAD)} hatalı yazılmış.",
    f"Kart {group4(VISA_BAD)} reddedildi.",
    f"Luhn geçerli ama ihraççısı olmayan {group4(NO_ISSUER[:12])} {NO_ISSUER[12:]} numarası.",
    # VKN without context / too far from the keyword
    f"Sipariş numarası {VKN_1} ile kargoya verildi.",
    f"Vergi numarası alanı boş bırakılmış; ayrıca bu formdaki takip kodu {VKN_1} idi.",
    # phone-shaped but invalid per phonenumbers, or not a phone shape
    "Bu hatta +90 599 123 45 67 numarasından ulaşılamaz.",
    "Numara 0599 123 45 67 tahsis edilmemiştir.",
    "Eksik numara 0532 123 45 6 yazılmış.",
    "Çağrı merkezi 444 0 800 herkese açıktır.",
    "Kayıt numarası 2125551234 arşivde.",
    # order / reference numbers and decimal amounts (issue 17, item 8)
    "Sipariş numaram 436-7197216-1880401, iade etmek istiyorum.",
    "Referans 1.234.567.890 ile ödendi.",
    "Tutar 53383701.63 TL olarak tahsil edildi.",
    "Ödeme 25893563.71 TRY ve £37607501.71 olarak iki parça yapıldı.",
    "Fatura No: INV-532-1234567-7654321 olan belge",
    # plates that are not plates
    "Ürün 15 TL 250 kuruşa satıldı.",
    "Madde 12 TCK 141 ile birlikte okunmalı.",
    "Plaka 82 AB 123 geçersiz il kodudur.",
    "Kod 34 AB 12 eksik rakamlıdır.",
    "Kod 06 A 123 eksik rakamlıdır.",
    "Kod 34 QWX 12 yasak harf içerir.",
    "Küçük harfli 34 abc 123 plaka sayılmaz.",
    # long digit runs: embedded candidates are not matches
    f"Dosya no 9{TCKN_1}7 sistemde.",
    "Referans 05321234567890 numaralı işlem.",
    f"Uzun sayı 1{VISA}1 kayıtlı.",
    # Arabic-Indic digits never count
    "Arapça rakamlarla ١٠٠٠٠٠٠٠١٤٦ yazılmış kimlik.",
    "Telefon ٠٥٣٢١٢٣٤٥٦٧ olarak yazılmış.",
    # clean text, dotted/dotless i
    "İstanbul'da ılık bir sabah; IŞIK ailesi ıhlamur içti.",
    "",
]


@pytest.mark.parametrize("sentence", NEGATIVE)
def test_negative(sentence: str) -> None:
    assert find_pii(sentence) == []
    assert not contains_pii(sentence)
    assert redact(sentence) == (sentence, {})


# ------------------------------------------------------------------------------------------------
# Redaction
# ------------------------------------------------------------------------------------------------

REDACT = [
    (
        f"Müşterinin T.C. kimlik numarası {TCKN_1} olarak kayıtlıdır.",
        "Müşterinin T.C. kimlik numarası [TCKN] olarak kayıtlıdır.",
        {"TCKN": 1},
    ),
    (
        f"Ayşe Hanım'ın IBAN'ı {group4(IBAN_1)}, cep telefonu {PHONE_MOBILE}, "
        "e-postası ayse@ornek.com.tr.",
        "Ayşe Hanım'ın IBAN'ı [IBAN], cep telefonu [TELEFON], e-postası [EPOSTA].",
        {"IBAN": 1, "TELEFON": 1, "EPOSTA": 1},
    ),
    (
        f"VKN: {VKN_1}, telefon: 5321234567, plaka 34 ABC 123, kart {group4(VISA)}.",
        "VKN: [VKN], telefon: [TELEFON], plaka [PLAKA], kart [KART].",
        {"VKN": 1, "TELEFON": 1, "PLAKA": 1, "KART": 1},
    ),
    (
        f"Hastalar: {TCKN_1}, {TCKN_2} ve {YKN_1}.",
        "Hastalar: [TCKN], [TCKN] ve [TCKN].",
        {"TCKN": 3},
    ),
    (
        "2024 yılında 12.500.000 TL ödendi; ödeme yapan 0532 123 45 67 numaralı kişidir.",
        "2024 yılında 12.500.000 TL ödendi; ödeme yapan [TELEFON] numaralı kişidir.",
        {"TELEFON": 1},
    ),
    ("Kişisel veri içermeyen metin.", "Kişisel veri içermeyen metin.", {}),
]


@pytest.mark.parametrize(("text", "expected", "counts"), REDACT)
def test_redact(text: str, expected: str, counts: dict[str, int]) -> None:
    redacted, got = redact(text)
    assert redacted == expected
    assert got == counts
    assert find_pii(redacted) == []  # placeholders are not PII themselves


# ------------------------------------------------------------------------------------------------
# Overlaps: the longest / most specific match wins
# ------------------------------------------------------------------------------------------------

OVERLAP = [
    # spaced IBAN whose groups 2-5 are a Luhn-valid Visa number
    (f"Hesap {group4(IBAN_CARD)} aktif.", [("IBAN", group4(IBAN_CARD))]),
    # contiguous IBAN containing a mobile number and a valid TCKN in its digits
    (f"Hesap {IBAN_PHONE} aktif.", [("IBAN", IBAN_PHONE)]),
    (f"Hesap {IBAN_TCKN} aktif.", [("IBAN", IBAN_TCKN)]),
    # e-mail whose local part is a phone number / a TCKN
    ("Yazın: 05321234567@ornek.com", [("EPOSTA", "05321234567@ornek.com")]),
    (f"Adres {TCKN_1}@kurum.gov.tr kapatıldı.", [("EPOSTA", f"{TCKN_1}@kurum.gov.tr")]),
    # a phone keyword between the VKN keyword and a 10-digit number: it is a phone
    (f"VKN {VKN_1}, tel 5321234567", [("VKN", VKN_1), ("TELEFON", "5321234567")]),
    # a rejected candidate does not hide a valid one right after it
    (f"Bakiye 2024 {group4(VISA)} kartında.", [("KART", group4(VISA))]),
]


@pytest.mark.parametrize(("text", "expected"), OVERLAP)
def test_overlap(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(m.kind, m.text) for m in find_pii(text)] == expected


# ------------------------------------------------------------------------------------------------
# Unicode: dotted/dotless i around matches, NFC vs NFD
# ------------------------------------------------------------------------------------------------

TURKISH_CONTEXT = [
    (f"IŞIK'ın kimliği {TCKN_1}'dır; İzmir'de ılık bir gün.", ["TCKN"]),
    (f"İĞNEADA şubesi, IBAN'ı {group4(IBAN_2)} ışığında", ["IBAN"]),
    (f"ılgaz@örnek.com.tr ve İletişim: {PHONE_MOBILE}ı", ["EPOSTA", "TELEFON"]),
    ("Şoför İsmail'in aracı 06 A 1234'tür; ıssız yolda.", ["PLAKA"]),
    (f"VERGİ NO: {VKN_2} — ŞİRKET ÜNVANI: IŞIK A.Ş.", ["VKN"]),
]


@pytest.mark.parametrize(("text", "kinds"), TURKISH_CONTEXT)
def test_turkish_letters_around_matches(text: str, kinds: list[str]) -> None:
    assert [m.kind for m in find_pii(text)] == kinds


NFC_TEXTS = [
    f"Müşteri Ayşe Şahin'in kimlik numarası {TCKN_1}, telefonu {PHONE_MOBILE}.",
    f"Öğrencinin vergi numarası {VKN_1}; İŞ YERİ plakası 34 ABC 123.",
    "İletişim için ayşe.çağlar@örnek.com.tr adresine yazın.",
]


@pytest.mark.parametrize("text", NFC_TEXTS)
@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_normalisation_forms(text: str, form: str) -> None:
    variant = unicodedata.normalize(form, text)
    expected = [(m.kind, m.text) for m in find_pii(unicodedata.normalize("NFC", text))]
    got = find_pii(variant)
    assert [(m.kind, unicodedata.normalize("NFC", m.text)) for m in got] == expected
    for m in got:
        assert variant[m.start : m.end] == m.text


# ------------------------------------------------------------------------------------------------
# API contract and invariants
# ------------------------------------------------------------------------------------------------


def test_kinds_and_placeholders_follow_contract() -> None:
    assert PII_KINDS == ("TCKN", "VKN", "IBAN", "KART", "TELEFON", "EPOSTA", "PLAKA")
    assert PLACEHOLDERS == {
        "TCKN": "[TCKN]",
        "VKN": "[VKN]",
        "IBAN": "[IBAN]",
        "KART": "[KART]",
        "TELEFON": "[TELEFON]",
        "EPOSTA": "[EPOSTA]",
        "PLAKA": "[PLAKA]",
    }


def test_match_is_frozen() -> None:
    m = find_pii(f"No {TCKN_1}")[0]
    assert m == PiiMatch("TCKN", 3, 14, TCKN_1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.kind = "VKN"  # type: ignore[misc]


def test_matches_sorted_and_non_overlapping() -> None:
    text = " | ".join(s for s, _, _ in POSITIVE)
    matches = find_pii(text)
    assert len(matches) == len(POSITIVE)
    for a, b in zip(matches, matches[1:]):
        assert a.end <= b.start
    for m in matches:
        assert text[m.start : m.end] == m.text
        assert m.kind in PII_KINDS
    redacted, counts = redact(text)
    assert sum(counts.values()) == len(POSITIVE)
    assert set(counts) == set(PII_KINDS)
    assert not re.search(r"[0-9]{10}", redacted)


def test_many_texts_are_fast() -> None:
    import time

    clean = "2024 yılında 12.500.000 TL ödendi; TBK m. 117 ve 6698 sayılı Kanun. " * 15
    start = time.perf_counter()
    for _ in range(2000):
        find_pii(clean)
    assert time.perf_counter() - start < 5.0


# ------------------------------------------------------------------------------------------------
# The KVKK seed fixture: tasks tagged "temiz" are clean, every other task carries PII
# ------------------------------------------------------------------------------------------------

_SEED_FILE = Path(__file__).parent.parent / "fixtures" / "pii_seeds" / "kisisel.yaml"
_SEED_TASKS = yaml.safe_load(_SEED_FILE.read_text(encoding="utf-8"))["tasks"]


def test_seed_file_shape() -> None:
    data = yaml.safe_load(_SEED_FILE.read_text(encoding="utf-8"))
    assert data["domain"] == "kisisel"
    assert {t["sensitivity"] for t in data["tasks"]} == {"public", "internal", "confidential"}
    assert all("pii_test" in t["tags"] for t in data["tasks"])


@pytest.mark.parametrize("task", _SEED_TASKS, ids=lambda t: "-".join(t["tags"][1:3]))
def test_seed_tasks_detection(task: dict) -> None:
    clean = "temiz" in task["tags"]
    assert contains_pii(task["instruction"]) is not clean
    if not clean:
        found = {m.kind for m in find_pii(task["instruction"])}
        tag_kinds = {k.upper() for k in task["tags"]} & set(PII_KINDS)
        assert found == tag_kinds


# ------------------------------------------------------------------------------------------------
# Decimal amounts and dashed order numbers are no phone numbers (issue 17, item 8)
# ------------------------------------------------------------------------------------------------

_MOBILE_AREAS = ("501", "505", "530", "532", "533", "535", "542", "544", "549", "552", "555")


@settings(max_examples=80, deadline=None)
@given(
    area=st.sampled_from(_MOBILE_AREAS),
    sub=st.integers(2_000_000, 9_999_999),
    tail=st.integers(0, 9_999_999),
    currency=st.sampled_from(["", " TL", " ₺", " USD", " EUR"]),
)
def test_phone_digits_as_amount_or_order_are_not_phones_but_as_phone_they_are(
    area: str, sub: int, tail: int, currency: str
) -> None:
    national = f"{area}{sub}"
    # the same ten digits as a decimal amount or inside a dashed order number: not flagged
    assert find_pii(f"Tutar {national[:8]}.{national[8:]}{currency} oldu.") == []
    assert find_pii(f"Tutar {national[:8]},{national[8:]}{currency} oldu.") == []
    assert find_pii(f"Sipariş {area}-{sub}-{tail:07d} kargoda.") == []
    # ... and in the layouts a phone is printed in: flagged
    for written in (f"0{area}-{national[3:6]}-{national[6:8]}-{national[8:]}", f"0{area} {sub}", f"{area}-{sub}"):
        assert [(m.kind, m.text) for m in find_pii(f"Tel: {written} (mesai)")] == [("TELEFON", written)]
