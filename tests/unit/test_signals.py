"""Deterministic quality signals (anka_assets.text.signals)."""

from __future__ import annotations

import threading

import pytest

from anka_assets.text import signals
from anka_assets.text.signals import (
    MIN_LETTERS,
    count_letters,
    detect_language,
    foreign_script_ratio,
    foreign_script_sample,
    has_reasoning_steps,
    is_refusal,
    max_repeated_line_count,
    reasoning_step_count,
    repetition_ratio,
)

# ---------------------------------------------------------------------------------------------
# Language identification
# ---------------------------------------------------------------------------------------------

TURKISH = (
    "Türkiye Cumhuriyeti'nin başkenti Ankara'dır ve şehir, ülkenin en kalabalık ikinci şehri "
    "olarak önemli bir yönetim merkezidir."
)
TURKISH_UPPER = "TÜRKİYE CUMHURİYETİ'NİN BAŞKENTİ ANKARA'DIR VE ÜLKENİN EN KALABALIK İKİNCİ ŞEHRİDİR."
TURKISH_MATH = (
    "Önce iki sayının toplamını buluruz, sonra bu toplamı üçe böleriz; böylece ortalama yedi çıkar."
)
AZERBAIJANI = "Azərbaycan Respublikasının paytaxtı Bakı şəhəridir və ölkənin ən böyük sənaye mərkəzidir."
AZERBAIJANI_2 = (
    "Mən hər gün səhər tezdən oyanıram, çay içirəm və sonra işə gedirəm, çünki iş yerim evimizə yaxındır."
)
ENGLISH = (
    "The capital of the Republic of Turkey is Ankara, although Istanbul remains the largest city "
    "and the economic heart of the country."
)
GERMAN = "Die Hauptstadt der Türkei ist Ankara und nicht Istanbul, wie viele Menschen in Europa glauben."
RUSSIAN = "Столица Турции — Анкара, а крупнейшим городом страны по-прежнему остаётся Стамбул."


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param(TURKISH, "tr", id="turkish"),
        pytest.param(TURKISH_UPPER, "tr", id="turkish-upper-case"),
        pytest.param(TURKISH_MATH, "tr", id="turkish-math"),
        pytest.param(AZERBAIJANI, "az", id="azerbaijani"),
        pytest.param(AZERBAIJANI_2, "az", id="azerbaijani-2"),
        pytest.param(ENGLISH, "en", id="english"),
        pytest.param(GERMAN, "de", id="german"),
        pytest.param(RUSSIAN, "ru", id="russian"),
    ],
)
def test_detect_language(text, code):
    assert count_letters(text) >= 60 or code in {"ru", "de"}
    assert detect_language(text) == code


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("Merhaba dünya", id="two-words"),
        pytest.param("Cevap: 42", id="short-answer"),
        pytest.param("12 + 30 = 42; 42 / 2 = 21 → x = 21", id="digits-only"),
        pytest.param("a" * (MIN_LETTERS - 1), id="just-below-minimum"),
    ],
)
def test_detect_language_short_is_none(text):
    assert count_letters(text) < MIN_LETTERS
    assert detect_language(text) is None


def test_detect_language_detector_built_once_under_threads():
    results: list[str | None] = []
    detectors = []

    def work():
        detectors.append(signals._get_detector())
        results.append(detect_language(TURKISH))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["tr"] * 8
    assert all(d is detectors[0] for d in detectors)


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        pytest.param(
            "Yapay zeka dil modeli olarak kişisel bir fikrim yok.", "yapay zeka dil modeli olarak", id="tr-basic"
        ),
        pytest.param(
            "YAPAY ZEKÂ DİL MODELİ OLARAK bu soruya kesin bir yanıt veremem.",
            "yapay zeka dil modeli olarak",
            id="tr-upper-dotted-I-circumflex",
        ),
        pytest.param(
            "Bir YAPAY ZEKA DIL MODELI OLARAK yorum yapamam.",
            "yapay zeka dil modeli olarak",
            id="tr-upper-dotless-I",
        ),
        pytest.param(
            "Bir yapay zekâ di\u0307l modeli̇ olarak yanıtlıyorum.",
            "yapay zeka dil modeli olarak",
            id="tr-combining-dot",
        ),
        pytest.param("Maalesef bu konuda yardımcı olamam.", "bu konuda yardımcı olamam", id="tr-cannot-help"),
        pytest.param("BU KONUDA YARDIMCI OLAMAM.", "bu konuda yardımcı olamam", id="tr-cannot-help-upper"),
        pytest.param("Bu isteği yerine getiremem çünkü zararlı.", "bu isteği yerine getiremem", id="tr-cannot-fulfil"),
        pytest.param("Üzgünüm, ancak bu bilgiyi paylaşamam.", "üzgünüm, ancak", id="tr-sorry"),
        pytest.param("uzgunum ancak yapamam", "üzgünüm, ancak", id="tr-ascii-folded"),
        pytest.param("As an AI language model, I do not have opinions.", "as an ai language model", id="en-ai-model"),
        pytest.param("I cannot help with that request.", "i cannot help with", id="en-cannot-help"),
        pytest.param("I'm sorry, but I can't do that.", "i'm sorry, but i can't", id="en-sorry-ascii-apostrophe"),
        pytest.param("I’m sorry, but I can’t do that.", "i'm sorry, but i can't", id="en-sorry-curly-apostrophe"),
        pytest.param("I'M SORRY, BUT I CANNOT COMPLY.", "i'm sorry, but i cannot", id="en-sorry-upper"),
    ],
)
def test_is_refusal(text, phrase):
    assert is_refusal(text) == phrase


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(TURKISH, id="plain-turkish"),
        pytest.param("Yapay zeka, dil modelleri üzerine kurulu bir alandır.", id="talks-about-ai"),
        pytest.param("Size bu konuda yardımcı olabilirim: önce toplayalım.", id="can-help"),
        pytest.param("Zekâ ve dil arasındaki ilişki eskiden beri incelenir.", id="zeka-dil-words"),
        pytest.param(ENGLISH, id="plain-english"),
    ],
)
def test_is_not_refusal(text):
    assert is_refusal(text) is None


# ---------------------------------------------------------------------------------------------
# Repetition
# ---------------------------------------------------------------------------------------------


def test_repetition_ratio_none():
    assert repetition_ratio(TURKISH) == 0.0
    assert repetition_ratio("") == 0.0
    assert repetition_ratio("iki kelime") == 0.0


def test_repetition_ratio_loop():
    loop = " ".join(["Sonuç olarak cevap beştir."] * 20)
    assert repetition_ratio(loop) > 0.8


def test_repetition_ratio_case_folded():
    assert repetition_ratio("IRMAK akar gider ırmak AKAR GİDER") == repetition_ratio("ırmak akar gider ırmak akar gider")
    assert repetition_ratio("ırmak akar gider ırmak akar gider") == pytest.approx(1 / 4)


@pytest.mark.parametrize(
    ("text", "count"),
    [
        pytest.param("", 0, id="empty"),
        pytest.param("a\nb\nc", 1, id="unique"),
        pytest.param("Cevap 5.\ncevap   5.\nCEVAP 5.\nbaşka", 3, id="case-and-space-folded"),
        pytest.param("x\n---\n---\n---\n\n\n```\n```", 1, id="non-word-lines-ignored"),
    ],
)
def test_max_repeated_line_count(text, count):
    assert max_repeated_line_count(text) == count


# ---------------------------------------------------------------------------------------------
# Foreign script
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(TURKISH, id="turkish"),
        pytest.param(AZERBAIJANI, id="azerbaijani-schwa"),
        pytest.param("", id="empty"),
        pytest.param("12345 + 678", id="no-letters"),
        pytest.param("π sayısı 3,14'tür; sinθ ve α açısı, ΔT sıcaklık farkı, 5 Ω direnç.", id="math-symbols"),
        pytest.param("Çağrı İstanbul’da; ʻOkina ﬁ ligature", id="apostrophes-ligatures"),
    ],
)
def test_foreign_script_none(text):
    assert foreign_script_ratio(text) == 0.0
    assert foreign_script_sample(text) is None


def test_cyrillic_leak_in_turkish():
    text = "Bu denklemi çözmek için önce решение находим, sonra sonucu yazarız."
    ratio = foreign_script_ratio(text)
    assert 0.2 < ratio < 0.5
    assert foreign_script_sample(text) == "решение находим"


def test_chinese_leak_in_turkish():
    text = "Toplam fiyat 45 liradır, 因此 cevap 45 olur."
    assert foreign_script_sample(text) == "因此"
    letters = count_letters(text)
    assert foreign_script_ratio(text) == pytest.approx(2 / letters)


@pytest.mark.parametrize(
    ("text", "sample"),
    [
        pytest.param("Sonuç: النتيجة هي خمسة", "النتيجة هي خمسة", id="arabic"),
        pytest.param("Kelime Ελληνικά demektir", "Ελληνικά", id="greek-word"),
        pytest.param("Bu שלום demek", "שלום", id="hebrew"),
        pytest.param("Yani नमस्ते diyoruz", "नमस्ते", id="devanagari"),
    ],
)
def test_foreign_script_samples(text, sample):
    assert foreign_script_sample(text) == sample
    assert foreign_script_ratio(text) > 0


def test_all_foreign():
    assert foreign_script_ratio(RUSSIAN) == 1.0


def test_foreign_sample_is_capped():
    text = "Başla " + "кириллица " * 20
    sample = foreign_script_sample(text)
    assert sample is not None and len(sample) <= 40


# ---------------------------------------------------------------------------------------------
# Letters and reasoning steps
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count"),
    [("", 0), ("123 !?", 0), ("Işık", 4), ("ğüşiöçıİĞÜŞÖÇ", 13), ("abc 因此 абв", 8)],
)
def test_count_letters(text, count):
    assert count_letters(text) == count


@pytest.mark.parametrize(
    ("steps", "count", "enough"),
    [
        ((), 0, False),
        (("tek adım",), 1, False),
        (("bir", "  ", ""), 1, False),
        (("bir", "iki"), 2, True),
        (["bir", "iki", "üç"], 3, True),
    ],
)
def test_reasoning_steps(steps, count, enough):
    assert reasoning_step_count(steps) == count
    assert has_reasoning_steps(steps) is enough
    assert has_reasoning_steps(steps, minimum=1) is (count >= 1)
