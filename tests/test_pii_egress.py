"""The KVKK egress scan: every generated identifier in every obfuscation is refused for a commercial
endpoint, ordinary Turkish text and the shipped public seeds are not, spans map to the original text."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anka_assets.gateway.kvkk import decide_kvkk
from anka_assets.text.pii import find_pii, redact
from anka_assets.text.pii_egress import normalise
from anka_assets.text.pii_fuzz import (
    PII_CASE_KINDS,
    obfuscations_for,
    ordinary_sentences,
    pii_case,
    pii_cases,
)

ROOT = Path(__file__).resolve().parents[1]
PAIRS = [(k, o) for k in PII_CASE_KINDS for o in obfuscations_for(k)]


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _covered(sentence: str, ident: str) -> bool:
    i = sentence.index(ident)
    return any(m.start < i + len(ident) and m.end > i for m in find_pii(sentence, mode="egress"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
@pytest.mark.parametrize(("kind", "obfuscation"), PAIRS, ids=[f"{k}-{o}" for k, o in PAIRS])
def test_no_generated_identifier_reaches_a_commercial_endpoint(kind: str, obfuscation: str, seed: int) -> None:
    case = pii_case(random.Random(seed), kind, obfuscation)
    decision = decide_kvkk("commercial", "public", user(case.sentence))
    assert not decision.allowed, (kind, obfuscation, case.sentence)
    assert decision.pii_kinds
    assert _covered(case.sentence, case.identifier)


def test_seeded_sweep_every_kind_and_obfuscation_is_caught() -> None:
    missed = [c for c in pii_cases(seed=20261201, per_obfuscation=5) if not _covered(c.sentence, c.identifier)]
    assert missed == []


def test_egress_kind_is_the_generated_kind_for_unambiguous_shapes() -> None:
    # A 10-digit number can be both a phone number and a VKN; every other kind is named exactly.
    for c in pii_cases(seed=7, per_obfuscation=3):
        kinds = {m.kind for m in find_pii(c.sentence, mode="egress")}
        if c.kind == "TELEFON":
            assert kinds & {"TELEFON", "VKN"}, c.sentence
        else:
            assert c.kind in kinds, c.sentence


def _public_seed_prompts() -> list[str]:
    out = []
    for path in sorted((ROOT / "data" / "seeds").glob("*.yaml")):
        for task in yaml.safe_load(path.read_text(encoding="utf-8"))["tasks"]:
            if task.get("sensitivity", "public") == "public":
                out.append(task["instruction"])
    return out


def test_shipped_public_seeds_are_not_blocked() -> None:
    prompts = _public_seed_prompts()
    assert len(prompts) > 100
    blocked = [p for p in prompts if not decide_kvkk("commercial", "public", user(p)).allowed]
    assert blocked == []


def test_ordinary_turkish_numbers_are_rarely_blocked() -> None:
    sentences = ordinary_sentences(seed=11, n=2000)
    blocked = [s for s in sentences if find_pii(s, mode="egress")]
    assert len(blocked) / len(sentences) < 0.01, blocked[:5]


@pytest.mark.parametrize(
    "text",
    [
        "Cumhuriyet 29.10.1923 tarihinde ilan edildi.",
        "Projeye 1.250.000 TL bütçe ayrıldı.",
        "6698 sayılı Kanun'un 11. maddesi",
        "Yargıtay 9. HD, 2019/1234 E., 2020/5678 K.",
        "Kitabın ISBN numarası 978-975-08-0000-0 şeklindedir.",
        "Dönem 29.10.1923 - 10.11.1938 arasını kapsar.",
        "Toplantı 2016-07-15 10:30'da başladı.",
        "Sunucu 192.168.100.200 adresinde.",
        "Ali at yarışında birinci geldi, nokta koyduk.",
        "Ürün 15 TL 250 kuruşa satıldı; plaka 12 de 2024 değil.",
        "Hazine 5000000000 TL borçlandı; faiz 1250000000,50 TL tuttu.",
        "Oran %12,5 ve tutar 1.250.000,75 TL; koordinat 39.9334, 32.8597.",
        "Esas No: 2021/12345 Karar No: 2022/6789, RG: 12/10/2004-25611",
        "| yıl | oran |\n| 12 | 34 | 56 | 78 | 90 |",
        "Maddeler 12, 15, 117, 141 ve 1923, 1938 yılları",
    ],
)
def test_ordinary_text_is_not_flagged(text: str) -> None:
    assert find_pii(text, mode="egress") == []


TCKN = "10000000146"


@pytest.mark.parametrize(
    "text",
    [
        f"TC {TCKN[:3]} {TCKN[3:6]} {TCKN[6:9]} {TCKN[9:]}",
        "TC ١٠٠٠٠٠٠٠١٤٦",
        "TC １０００００００１４６",
        "TC 100\u200b000\u2060001\u00ad46",
        "TC \u2066100-000-001-46\u2069",
        "TC 100\n000\n001\n46",
        "TC (100) 000_001/46",
        "TC 1\u03010000000146",  # a combining mark glued to a digit
        "TC 100,000,001,46",
        "TC 100*000|001~46",
        "TC ⑴⓪⓪⓪⓪⓪⓪⓪①④⑥",
    ],
)
def test_tckn_obfuscations_and_spans_map_to_the_original(text: str) -> None:
    matches = find_pii(text, mode="egress")
    assert [m.kind for m in matches] == ["TCKN"]
    m = matches[0]
    assert text[m.start : m.end] == m.text and m.start >= 3
    redacted, counts = redact(text, mode="egress")
    assert counts == {"TCKN": 1} and redacted.startswith("TC ") and "[TCKN]" in redacted
    assert not any(ch.isdigit() for ch in redacted)


def test_normalise_keeps_an_index_into_the_original() -> None:
    text = "a\u200bb١\ufb01"
    norm, index = normalise(text)
    assert norm == "ab1fi"
    assert index == [0, 2, 3, 4, 4]


def test_every_string_of_a_request_is_scanned() -> None:
    clean = [{"role": "system", "content": "Türkçe yanıt ver."}]
    cases = [
        [{"role": "user", "content": "merhaba", "name": f"kisi_{TCKN}"}],
        [{"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "ara", "arguments": f'{{"tc": {TCKN}}}'}}]}],
        [{"role": "tool", "tool_call_id": "c1", "content": "Telefon: 0532 123 45 67"}],
        [{"role": "user", "content": [{"type": "text", "text": "TC 100 000"}, {"type": "text", "text": "001 46"}]}],
        [{"role": "user", "content": "x", "metadata": {"id": int(TCKN)}}],
    ]
    for messages in cases:
        d = decide_kvkk("commercial", "public", clean + messages)
        assert not d.allowed and d.pii_kinds, messages
    tools = {"tools": [{"type": "function", "function": {"name": "f", "description": f"IBAN TR33 0006 1005 1978 6457 8413 26"}}]}
    assert not decide_kvkk("commercial", "public", user("merhaba"), tools).allowed
    assert decide_kvkk("commercial", "public", user("merhaba"), {"seed": 10000000146, "max_tokens": 2048}).allowed


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="egress"):
        find_pii("x", mode="strict")
