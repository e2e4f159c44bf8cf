"""The simulator's Turkish: suffix harmony helpers and the text it produces (expansion tasks, answers)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from anka_assets import parsing
from anka_testkit.simulator import generate_completion, is_simulated_model
from anka_testkit.simulator.extract import domain_of
from anka_testkit.simulator.turkish import (
    Phrase,
    accusative,
    conjunction_da,
    dative,
    genitive,
    last_vowel,
    locative,
    locative_ki,
    question_mi,
)

SEEDS = Path(__file__).resolve().parents[2] / "data" / "seeds"
PROMPTS = Path(__file__).resolve().parents[2] / "anka_assets" / "prompts"
BACK = set("aıou")
#: An instruction ends with a second-person plural imperative: açıklayınız, karşılaştırınız, ediniz, yazınız…
INSTRUCTION_END = re.compile(r"\w+(?:[ıiuü]n[ıiuü]z)\.$")


@pytest.mark.parametrize(
    ("phrase", "loc", "dat", "acc", "gen"),
    [
        ("Türk Ceza Kanunu", "Türk Ceza Kanunu'nda", "Türk Ceza Kanunu'na", "Türk Ceza Kanunu'nu", "Türk Ceza Kanunu'nun"),
        ("Ankara", "Ankara'da", "Ankara'ya", "Ankara'yı", "Ankara'nın"),
        ("İzmir", "İzmir'de", "İzmir'e", "İzmir'i", "İzmir'in"),
        ("Borsa İstanbul", "Borsa İstanbul'da", "Borsa İstanbul'a", "Borsa İstanbul'u", "Borsa İstanbul'un"),
        ("SGK", "SGK'da", "SGK'ya", "SGK'yı", "SGK'nın"),
        ("KDV", "KDV'de", "KDV'ye", "KDV'yi", "KDV'nin"),
        ("kira sözleşmesi", "kira sözleşmesinde", "kira sözleşmesine", "kira sözleşmesini", "kira sözleşmesinin"),
        ("obezite", "obezitede", "obeziteye", "obeziteyi", "obezitenin"),
        ("enflasyon", "enflasyonda", "enflasyona", "enflasyonu", "enflasyonun"),
        ("cari açık", "cari açıkta", "cari açığa", "cari açığı", "cari açığın"),
        ("Tuz Gölü", "Tuz Gölü'nde", "Tuz Gölü'ne", "Tuz Gölü'nü", "Tuz Gölü'nün"),
        ("halka arz", "halka arzda", "halka arza", "halka arzı", "halka arzın"),
    ],
)
def test_case_suffixes_agree(phrase, loc, dat, acc, gen):
    assert (locative(phrase), dative(phrase), accusative(phrase), genitive(phrase)) == (loc, dat, acc, gen)


def test_particles_and_format_specs():
    assert conjunction_da("Türk Ceza Kanunu") == "Türk Ceza Kanunu da"  # the slip the demo used to show
    assert conjunction_da("KDV") == "KDV de" and conjunction_da("enflasyon") == "enflasyon da"
    assert [question_mi(w) for w in ("geçerli", "yasal", "doğru", "önemli", "büyük")] == [
        "geçerli mi", "yasal mı", "doğru mu", "önemli mi", "büyük mü"]
    assert locative_ki("Türkiye") == "Türkiye'deki" and locative("Sivas") == "Sivas'ta"
    assert "{p:cap,gen} önemi".format(p=Phrase("kıdem tazminatı")) == "Kıdem tazminatının önemi"
    with pytest.raises(ValueError, match="unknown Turkish suffix spec"):
        format(Phrase("x"), "instrumental")


def _expansion_body(domain: str, instruction: str, examples: list[str], count: int, seed: int) -> dict:
    import jinja2

    module = jinja2.Environment(loader=jinja2.FileSystemLoader(PROMPTS)).get_template("expand.jinja2").module
    label = yaml.safe_load((SEEDS / f"{domain}.yaml").read_text(encoding="utf-8"))["domain"]
    return {
        "model": "anka-sim-teacher",
        "seed": seed,
        "messages": [
            {"role": "system", "content": str(module.system())},
            {"role": "user", "content": str(module.user(label.capitalize(), instruction, count, examples))},
        ],
        "response_format": parsing.TASK_LIST_RESPONSE_FORMAT,
    }


def _seed_tasks(domain: str) -> list[str]:
    return [t["instruction"] for t in yaml.safe_load((SEEDS / f"{domain}.yaml").read_text(encoding="utf-8"))["tasks"]]


@pytest.mark.parametrize("domain", sorted(p.stem for p in SEEDS.glob("*.yaml")))
def test_expanded_tasks_read_as_instructions(domain):
    seeds = _seed_tasks(domain)
    for i in range(0, min(len(seeds), 30), 3):
        body = _expansion_body(domain, seeds[i], seeds[i + 1 : i + 3], 5, seed=i)
        content, finish, _, _ = generate_completion(body)
        assert finish == "stop"
        tasks = json.loads(content)["gorevler"]
        assert len(tasks) == 5 and len(set(tasks)) == 5
        for task in tasks:
            assert INSTRUCTION_END.search(task), task  # "...açıklayınız.", "...karşılaştırınız.", ...
            assert task[0].isupper(), task
            assert "  " not in task and "{" not in task and "Varyant" not in task, task
            assert not re.search(r"\b(?:ile|ve|konusunun)\s+(?:ile|ve|konusunun)\b", task), task
        assert generate_completion(body)[0] == content  # deterministic for the same request


def test_domain_comes_from_the_alan_line():
    assert domain_of("Alan: Kamu Yönetimi\n\nÖrnek görev: ...") == "kamu_yonetimi"
    assert domain_of("Alan: Coğrafya\n") == "cografya"
    assert domain_of("Türk Borçlar Kanunu'na göre dava açma süresini açıklayınız.") == "hukuk"
    assert domain_of("xyz") is None


def _harmony_slips(text: str) -> list[str]:
    """'de/da' written apart (conjunction) or after an apostrophe (locative) that disagree with the vowel
    before them."""
    slips = []
    for match in re.finditer(r"([\wÂâÎîÛû]+)(?: |')([dt][ae])(?:ki|n)?\b", text):
        word, particle = match.group(1), match.group(2)
        if word.isupper() and len(word) > 1:
            continue  # acronyms follow their letter names; checked in the unit tests
        if not re.search(r"[aeıioöuü]", word.lower()):
            continue
        expected_back = last_vowel(word) in BACK
        if (particle[1] == "a") != expected_back:
            slips.append(match.group(0))
    return slips


@pytest.mark.parametrize("domain", ["hukuk", "tarih", "ekonomi", "saglik"])
def test_answers_have_no_de_da_harmony_slips(domain):
    seeds = _seed_tasks(domain)
    for i, instruction in enumerate(seeds[:25]):
        for fmt in (parsing.COT_RESPONSE_FORMAT, None):
            body = {"model": "anka-sim-teacher", "seed": i, "messages": [{"role": "user", "content": instruction}]}
            if fmt:
                body["response_format"] = fmt
            text = generate_completion(body)[0]
            assert not _harmony_slips(text), (instruction, _harmony_slips(text))


def test_simulated_answers_are_recognisable():
    assert is_simulated_model("anka-simulator:anka-sim-teacher")
    assert not is_simulated_model("gpt-4o-mini") and not is_simulated_model(None)
