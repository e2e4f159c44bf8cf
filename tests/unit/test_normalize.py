import unicodedata

import pytest

from anka_assets.text.normalize import (
    MojibakeError,
    dedup_key,
    normalize_text,
    repair_mojibake,
    task_key,
    turkish_lower,
    turkish_upper,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DİYARBAKIR", "diyarbakır"),
        ("IĞDIR", "ığdır"),
        ("İSTANBUL", "istanbul"),
        ("Işık ILIK", "ışık ılık"),
        ("ÇANAKKALE ŞEHİTLERİ", "çanakkale şehitleri"),
    ],
)
def test_turkish_lower(text, expected):
    assert turkish_lower(text) == expected
    assert len(turkish_lower("İ")) == 1  # str.lower would give two code points


def test_turkish_upper_round_trip():
    assert turkish_upper("diyarbakır") == "DİYARBAKIR"
    assert turkish_upper("ılık iklim") == "ILIK İKLİM"


@pytest.mark.parametrize(
    ("garbled", "expected"),
    [
        ("Ä±", "ı"),  # UTF-8 ı read as cp1252
        ("TÃ¼rkiye'nin baÅŸkenti Ankara'dÄ±r.", "Türkiye'nin başkenti Ankara'dır."),
        ("Ankara Türkiye'nin baþkenti", "Ankara Türkiye'nin başkenti"),  # cp1254 read as cp1252
        ("Osmanlý Ýmparatorluðu", "Osmanlı İmparatorluğu"),
        ("ÅžanlÄ±urfa", "Şanlıurfa"),
    ],
)
def test_repair_mojibake(garbled, expected):
    text, repaired = repair_mojibake(garbled)
    assert text == expected
    assert repaired


@pytest.mark.parametrize(
    "clean",
    [
        "Çağdaş Türk şiirinde İkinci Yeni hareketi.",
        "Âşık Veysel'in şiirlerinde âşıklık geleneği ve hâkimiyet, kâğıt, lâle sözcükleri.",
        "Azərbaycan dilində ə hərfi; Ğ, Ş, İ, ı, ö, ü, ç.",
    ],
)
def test_clean_text_is_untouched(clean):
    text, repaired = repair_mojibake(clean)
    assert text == clean
    assert not repaired


@pytest.mark.parametrize("bad", ["bozuk \ufffd metin", "kontrol \x85 karakteri"])
def test_unrepairable_text_is_refused(bad):
    with pytest.raises(MojibakeError, match="cannot be repaired"):
        repair_mojibake(bad)


def test_nfd_input_becomes_nfc():
    decomposed = unicodedata.normalize("NFD", "Gümüşhane   ve  Iğdır")
    text, _ = normalize_text(decomposed)
    assert text == "Gümüşhane ve Iğdır"
    assert unicodedata.is_normalized("NFC", text)


def test_keys():
    assert task_key("DİYARBAKIR'ın tarihi!") == task_key("diyarbakırın   tarihi")
    assert task_key("Işık") != task_key("isik")  # case fold keeps ı/i apart
    assert dedup_key("Işık") == dedup_key("isik")  # dedup key folds diacritics
