"""Parsers for teacher chain of thought, judge verdicts and task lists (anka_assets.parsing)."""

from __future__ import annotations

import json

import pytest

from anka_assets.parsing import (
    COT_ANSWER_MAX_CHARS,
    COT_MAX_STEPS,
    COT_RESPONSE_FORMAT,
    COT_STEP_MAX_CHARS,
    JUDGE_CLAIM_MAX_CHARS,
    JUDGE_RESPONSE_FORMAT,
    JUDGE_TEXT_MAX_CHARS,
    PAIRWISE_RESPONSE_FORMAT,
    TASK_LIST_MAX_ITEMS,
    TASK_LIST_RESPONSE_FORMAT,
    TASK_MAX_CHARS,
    JudgeVerdict,
    ParsedCot,
    ParseError,
    parse_cot,
    parse_judge,
    parse_task_list,
    response_format_max_tokens,
    schema_max_chars,
)

# ---------------------------------------------------------------------------------------------
# response_format dicts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "name", "required"),
    [
        (COT_RESPONSE_FORMAT, "cot_answer", ["adimlar", "cevap"]),
        (
            JUDGE_RESPONSE_FORMAT,
            "judge_verdict",
            ["dogruluk", "kulturel_uygunluk", "halusinasyon", "halusinasyon_iddiasi", "gerekce"],
        ),
        (TASK_LIST_RESPONSE_FORMAT, "task_list", ["gorevler"]),
    ],
)
def test_response_format_shape(fmt, name, required):
    assert fmt["type"] == "json_schema"
    inner = fmt["json_schema"]
    assert inner["name"] == name
    assert inner["strict"] is True
    schema = inner["schema"]
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == required
    assert set(schema["properties"]) == set(required)
    json.dumps(fmt)  # serialisable as a request body


def test_response_format_field_types():
    cot = COT_RESPONSE_FORMAT["json_schema"]["schema"]["properties"]
    assert cot["adimlar"] == {"type": "array", "items": {"type": "string", "maxLength": COT_STEP_MAX_CHARS},
                              "minItems": 1, "maxItems": COT_MAX_STEPS}
    assert cot["cevap"] == {"type": "string", "maxLength": COT_ANSWER_MAX_CHARS}
    judge = JUDGE_RESPONSE_FORMAT["json_schema"]["schema"]["properties"]
    for score in ("dogruluk", "kulturel_uygunluk"):
        assert judge[score] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert judge["halusinasyon"] == {"type": "boolean"}
    assert judge["halusinasyon_iddiasi"] == {"type": ["string", "null"], "maxLength": JUDGE_CLAIM_MAX_CHARS}
    assert judge["gerekce"] == {"type": "string", "maxLength": JUDGE_TEXT_MAX_CHARS}
    tasks = TASK_LIST_RESPONSE_FORMAT["json_schema"]["schema"]["properties"]
    assert tasks["gorevler"] == {"type": "array", "items": {"type": "string", "maxLength": TASK_MAX_CHARS},
                                 "maxItems": TASK_LIST_MAX_ITEMS}


def _longest_verdict() -> str:
    """The longest compact verdict the judge schema allows, written out."""
    return json.dumps({"dogruluk": 5, "kulturel_uygunluk": 5, "halusinasyon": False,
                       "halusinasyon_iddiasi": "ş" * JUDGE_CLAIM_MAX_CHARS, "gerekce": "ğ" * JUDGE_TEXT_MAX_CHARS},
                      ensure_ascii=False, separators=(",", ":"))


def test_every_schema_is_bounded_and_the_bound_is_the_longest_answer():
    judge = JUDGE_RESPONSE_FORMAT["json_schema"]["schema"]
    assert schema_max_chars(judge) == len(_longest_verdict())
    longest_cot = json.dumps({"adimlar": ["a" * COT_STEP_MAX_CHARS] * COT_MAX_STEPS, "cevap": "b" * COT_ANSWER_MAX_CHARS},
                             ensure_ascii=False, separators=(",", ":"))
    assert schema_max_chars(COT_RESPONSE_FORMAT["json_schema"]["schema"]) == len(longest_cot)
    for fmt in (COT_RESPONSE_FORMAT, JUDGE_RESPONSE_FORMAT, TASK_LIST_RESPONSE_FORMAT, PAIRWISE_RESPONSE_FORMAT):
        assert response_format_max_tokens(fmt) == schema_max_chars(fmt["json_schema"]["schema"]) + 8
    # The judge's whole verdict fits the judge's default 512 tokens, so max_tokens is sized from it.
    assert response_format_max_tokens(JUDGE_RESPONSE_FORMAT) < 512


@pytest.mark.parametrize("schema", [
    {"type": "string"},
    {"type": "array", "items": {"type": "string", "maxLength": 5}},
    {"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}},  # open to more properties
    {"type": "object", "properties": {"a": {"type": "number"}}, "additionalProperties": False},
    {"type": "integer", "minimum": 0},
])
def test_unbounded_schemas_have_no_bound(schema):
    assert schema_max_chars(schema) is None
    assert response_format_max_tokens({"type": "json_schema", "json_schema": {"schema": schema}}) is None
    assert response_format_max_tokens({"type": "json_object"}) is None


def test_max_tokens_is_lowered_to_the_schema_bound_never_raised():
    from anka_assets.model_tasks import COT, JUDGE, sized_max_tokens

    bound = response_format_max_tokens(JUDGE_RESPONSE_FORMAT)
    assert sized_max_tokens({"max_tokens": 512}, JUDGE_RESPONSE_FORMAT)["max_tokens"] == bound
    assert sized_max_tokens({"max_tokens": 100}, JUDGE_RESPONSE_FORMAT)["max_tokens"] == 100
    assert sized_max_tokens({"max_tokens": 2048}, COT_RESPONSE_FORMAT)["max_tokens"] == 2048  # bound is higher
    row = {"seed_id": "tsk_0000000000000000", "sensitivity": "public", "sample_index": 0, "domain_label": "Hukuk",
           "instruction": "Soru?", "reasoning_steps": ["Adım."], "answer": "Cevap."}
    template = JUDGE.load_template()
    assert JUDGE.requests([row], template, {"max_tokens": 512})[0].params["max_tokens"] == bound
    # The tagged form (no schema) keeps the configured limit.
    assert JUDGE.requests([row], template, {"max_tokens": 512}, structured=False)[0].params["max_tokens"] == 512
    assert COT.requests([row], COT.load_template(), {"max_tokens": 2048})[0].params["max_tokens"] == 2048


# ---------------------------------------------------------------------------------------------
# parse_cot
# ---------------------------------------------------------------------------------------------

_COT_JSON = '{"adimlar": ["1. 12 elmayı 3 kişiye böleriz.", "2. 12 / 3 = 4 eder."], "cevap": "Kişi başı 4 elma."}'
_STEPS = ("12 elmayı 3 kişiye böleriz.", "12 / 3 = 4 eder.")
_ANSWER = "Kişi başı 4 elma."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(_COT_JSON, ParsedCot(_STEPS, _ANSWER, "json"), id="json-clean"),
        pytest.param(f"```json\n{_COT_JSON}\n```", ParsedCot(_STEPS, _ANSWER, "json"), id="json-fenced"),
        pytest.param(
            f"Tabii, işte çözüm:\n\n{_COT_JSON}\n\nBaşka bir sorunuz var mı? {{yardım}}",
            ParsedCot(_STEPS, _ANSWER, "json"),
            id="json-prose-around",
        ),
        pytest.param(
            '  \n\n {\n  "adimlar" : [ "  Önce topla.  ",\n "Sonra böl." ] ,\n "cevap":"  7 "\n}\n\n ',
            ParsedCot(("Önce topla.", "Sonra böl."), "7", "json"),
            id="json-extra-whitespace",
        ),
        pytest.param(
            '{"Adımlar": ["Adım 1: Topla", "Adım 2: Böl"], "Cevap": "3"}',
            ParsedCot(("Topla", "Böl"), "3", "json"),
            id="json-turkish-keys-and-adim-numbering",
        ),
        pytest.param(
            '{"adimlar": ["a", "  ", "b"], "cevap": 42}',
            ParsedCot(("a", "b"), "42", "json"),
            id="json-blank-step-dropped-numeric-answer",
        ),
        pytest.param(
            '{"adimlar": ["a",\n"b",], "cevap": "satır 1\nsatır 2",}',
            ParsedCot(("a", "b"), "satır 1\nsatır 2", "json"),
            id="json-trailing-commas-raw-newline",
        ),
        pytest.param(
            '{"adimlar": ["x = {1, 2}", "küme {a}"], "cevap": "{1, 2}"}',
            ParsedCot(("x = {1, 2}", "küme {a}"), "{1, 2}", "json"),
            id="json-braces-inside-strings",
        ),
        pytest.param(
            "<adimlar>\n1. 12 elmayı 3 kişiye böleriz.\n2. 12 / 3 = 4 eder.\n</adimlar>\n<cevap>\nKişi başı 4 elma.\n</cevap>",
            ParsedCot(_STEPS, _ANSWER, "tagged"),
            id="tagged-clean",
        ),
        pytest.param(
            "Düşünelim.\n<ADIMLAR>\n  1) Birinci\n     devamı\n2) İkinci\nAdım 3: Üçüncü\n</ ADIMLAR >\n< Cevap >  Ankara </CEVAP>\nSon.",
            ParsedCot(("Birinci\ndevamı", "İkinci", "Üçüncü"), "Ankara", "tagged"),
            id="tagged-case-whitespace-continuation",
        ),
        pytest.param(
            "<adımlar>\n**1.** Un tartılır\n**2.** 1.5 kg un eklenir\n</adımlar><cevap>kek</cevap>",
            ParsedCot(("Un tartılır", "1.5 kg un eklenir"), "kek", "tagged"),
            id="tagged-dotless-tag-bold-numbers-decimal",
        ),
        pytest.param(
            "<adimlar>\nÖnce topla\nSonra böl\n</adimlar>\n<cevap>5</cevap>",
            ParsedCot(("Önce topla", "Sonra böl"), "5", "tagged"),
            id="tagged-unnumbered-lines",
        ),
        pytest.param(
            "<adimlar>\n1. x + 1 = 3\n3 - 1 = 2\n</adimlar><cevap>x = 2</cevap>",
            ParsedCot(("x + 1 = 3\n3 - 1 = 2",), "x = 2", "tagged"),
            id="tagged-arithmetic-line-is-not-numbering",
        ),
    ],
)
def test_parse_cot_ok(text, expected):
    assert parse_cot(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("   \n\t ", "empty", id="whitespace-only"),
        pytest.param('{"adimlar": ["a", "b"], "cevap": "yarım kal', "truncated", id="json-truncated"),
        pytest.param('```json\n{"adimlar": ["a", "b"', "truncated", id="json-truncated-fenced"),
        pytest.param('{"adimlar": ["a", "b"]}', "'cevap'", id="json-missing-answer"),
        pytest.param('{"cevap": "5"}', "'adimlar'", id="json-missing-steps"),
        pytest.param('{"adimlar": [], "cevap": "5"}', "'adimlar' is empty", id="json-empty-steps"),
        pytest.param('{"adimlar": ["", " "], "cevap": "5"}', "'adimlar' is empty", id="json-blank-steps"),
        pytest.param('{"adimlar": ["a", 3], "cevap": "5"}', r"adimlar\[1\] must be a string", id="json-non-string-step"),
        pytest.param('{"adimlar": "1. a 2. b", "cevap": "5"}', "array of strings", id="json-steps-not-list"),
        pytest.param('{"adimlar": ["a"], "cevap": "  "}', "'cevap' is empty", id="json-blank-answer"),
        pytest.param('{"adimlar": ["a"], "cevap": null}', "'cevap' must be a string", id="json-null-answer"),
        pytest.param('{"adimlar": ["a"], "cevap": true}', "'cevap' must be a string", id="json-bool-answer"),
        pytest.param("Sadece düz metin, ne JSON ne etiket.", "no JSON object", id="plain-prose"),
        pytest.param("<adimlar>1. a</adimlar>", "'cevap'", id="tagged-missing-answer"),
        pytest.param("<cevap>5</cevap>", "'adimlar'", id="tagged-missing-steps"),
        pytest.param("<adimlar>1. a</adimlar><cevap>yarım", "never closed", id="tagged-truncated-answer"),
        pytest.param("<adimlar>1. a\n2. b", "never closed", id="tagged-truncated-steps"),
        pytest.param("<adimlar>\n\n</adimlar><cevap>5</cevap>", "'adimlar' is empty", id="tagged-empty-steps"),
        pytest.param("<adimlar>1. a</adimlar><cevap> </cevap>", "'cevap' is empty", id="tagged-empty-answer"),
    ],
)
def test_parse_cot_errors(text, message):
    with pytest.raises(ParseError, match=message):
        parse_cot(text)


def test_parse_error_is_value_error():
    assert issubclass(ParseError, ValueError)
    with pytest.raises(ValueError):
        parse_cot("")


def test_parse_cot_rejects_non_str():
    with pytest.raises(ParseError):
        parse_cot(None)  # type: ignore[arg-type]


def test_parsed_cot_is_frozen():
    parsed = parse_cot(_COT_JSON)
    with pytest.raises(AttributeError):
        parsed.answer = "x"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# parse_judge
# ---------------------------------------------------------------------------------------------


def _verdict(**overrides):
    body = {
        "dogruluk": 4,
        "kulturel_uygunluk": 5,
        "halusinasyon": False,
        "halusinasyon_iddiasi": None,
        "gerekce": "Hesap doğru, dil doğal.",
    }
    body.update(overrides)
    return json.dumps(body, ensure_ascii=False)


_GOOD = JudgeVerdict(4, 5, False, None, "Hesap doğru, dil doğal.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(_verdict(), _GOOD, id="clean"),
        pytest.param(f"```json\n{_verdict()}\n```", _GOOD, id="fenced"),
        pytest.param(f"Değerlendirmem şöyle:\n{_verdict()}\nTeşekkürler.", _GOOD, id="prose-around"),
        pytest.param(_verdict(dogruluk=4.0, kulturel_uygunluk="5"), _GOOD, id="integral-float-and-numeric-string"),
        pytest.param(_verdict(dogruluk=" 4 "), _GOOD, id="numeric-string-with-spaces"),
        pytest.param(_verdict(halusinasyon="HAYIR"), _GOOD, id="hayir-upper"),
        pytest.param(_verdict(halusinasyon="no"), _GOOD, id="no"),
        pytest.param(_verdict(halusinasyon="false"), _GOOD, id="false-string"),
        pytest.param(_verdict(halusinasyon_iddiasi="   "), _GOOD, id="blank-claim-is-none"),
        pytest.param(
            _verdict(halusinasyon="EVET", halusinasyon_iddiasi="Ankara 1920'de başkent oldu."),
            JudgeVerdict(4, 5, True, "Ankara 1920'de başkent oldu.", "Hesap doğru, dil doğal."),
            id="evet-upper-with-claim",
        ),
        pytest.param(
            _verdict(halusinasyon="Yes", dogruluk=1),
            JudgeVerdict(1, 5, True, None, "Hesap doğru, dil doğal."),
            id="yes-min-score",
        ),
        pytest.param(
            '{"doğruluk": 4, "kültürel_uygunluk": 5, "halüsinasyon": false, '
            '"halüsinasyon_iddiası": null, "gerekçe": "Hesap doğru, dil doğal."}',
            _GOOD,
            id="turkish-spelled-keys",
        ),
    ],
)
def test_parse_judge_ok(text, expected):
    assert parse_judge(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param(_verdict()[:-10], "truncated", id="truncated"),
        pytest.param(_verdict(dogruluk=0), "'dogruluk' out of range", id="score-zero"),
        pytest.param(_verdict(kulturel_uygunluk=6), "'kulturel_uygunluk' out of range", id="score-six"),
        pytest.param(_verdict(dogruluk=3.5), "'dogruluk' must be an integer", id="score-half"),
        pytest.param(_verdict(dogruluk="dört"), "'dogruluk' must be an integer", id="score-word"),
        pytest.param(_verdict(dogruluk="4/5"), "'dogruluk' must be an integer", id="score-fraction-string"),
        pytest.param(_verdict(dogruluk=True), "'dogruluk' must be an integer", id="score-bool"),
        pytest.param(_verdict(dogruluk=None), "'dogruluk' must be an integer", id="score-null"),
        pytest.param(_verdict(halusinasyon="belki"), "'halusinasyon' must be a boolean", id="bool-maybe"),
        pytest.param(_verdict(halusinasyon=1), "'halusinasyon' must be a boolean", id="bool-int"),
        pytest.param(_verdict(halusinasyon_iddiasi=5), "'halusinasyon_iddiasi' must be a string or null", id="claim-int"),
        pytest.param(_verdict(gerekce=None), "'gerekce' must be a string", id="reason-null"),
        pytest.param("Puan: 4/5, halüsinasyon yok.", "no JSON object", id="no-json"),
    ],
)
def test_parse_judge_errors(text, message):
    with pytest.raises(ParseError, match=message):
        parse_judge(text)


@pytest.mark.parametrize(
    "field", ["dogruluk", "kulturel_uygunluk", "halusinasyon", "halusinasyon_iddiasi", "gerekce"]
)
def test_parse_judge_missing_field_is_named(field):
    body = json.loads(_verdict())
    del body[field]
    with pytest.raises(ParseError, match=f"missing field '{field}'"):
        parse_judge(json.dumps(body))


# ---------------------------------------------------------------------------------------------
# parse_task_list
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '{"gorevler": ["İstanbul hakkında bir şiir yaz.", "Bir dikdörtgenin alanını hesapla."]}',
            ["İstanbul hakkında bir şiir yaz.", "Bir dikdörtgenin alanını hesapla."],
            id="json-clean",
        ),
        pytest.param(
            'İşte görevler:\n```json\n{"görevler": ["1. Birinci", "  ", "2) İkinci"]}\n```',
            ["Birinci", "İkinci"],
            id="json-fenced-prose-numbering-blank",
        ),
        pytest.param('["a", "b"]', ["a", "b"], id="bare-json-array"),
        pytest.param(
            "Yeni görevler:\n1. Birinci görev\n2) İkinci görev\n3: Üçüncü görev\n\nBaşka bir şey ister misiniz?",
            ["Birinci görev", "İkinci görev", "Üçüncü görev"],
            id="numbered-with-prose",
        ),
        pytest.param("- a görevi\n* b görevi\n• c görevi", ["a görevi", "b görevi", "c görevi"], id="bulleted"),
        pytest.param("  Birinci satır  \n\n\n  İkinci satır ", ["Birinci satır", "İkinci satır"], id="plain-lines"),
        pytest.param(
            "1. Bir şiir yaz\n   dörtlük olsun\n2. Bir hikâye anlat",
            ["Bir şiir yaz\ndörtlük olsun", "Bir hikâye anlat"],
            id="continuation-line",
        ),
    ],
)
def test_parse_task_list_ok(text, expected):
    assert parse_task_list(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param('{"gorevler": []}', "no tasks", id="json-empty-list"),
        pytest.param('{"gorevler": ["", "  "]}', "no tasks", id="json-blank-items"),
        pytest.param('{"gorevler": ["a", "b"', "truncated", id="json-truncated"),
        pytest.param('{"gorevler": ["a", 2]}', r"gorevler\[1\]", id="json-non-string-item"),
        pytest.param('{"gorevler": "a"}', "array of strings", id="json-not-a-list"),
        pytest.param('{"tasks": ["a"]}', "missing field 'gorevler'", id="json-wrong-key"),
        pytest.param('["a", "b"', "truncated", id="array-truncated"),
        pytest.param("```\n```", "no tasks", id="empty-fence"),
    ],
)
def test_parse_task_list_errors(text, message):
    with pytest.raises(ParseError, match=message):
        parse_task_list(text)


def test_a_judge_criterion_is_declared_once_on_the_verdict():
    """The judge's schema, parser and `judged_cot` columns all follow `JudgeVerdict`'s fields."""
    from dataclasses import fields

    from anka_assets.parsing import JudgeVerdict, parse_judge
    from anka_assets.schemas import JUDGED_COT_DTYPES

    names = [f.name for f in fields(JudgeVerdict)]
    schema = JUDGE_RESPONSE_FORMAT["json_schema"]["schema"]
    assert list(schema["properties"]) == names == schema["required"]
    assert set(names) <= set(JUDGED_COT_DTYPES)
    verdict = parse_judge('{"dogruluk": 4, "kulturel_uygunluk": "5", "halusinasyon": "hayır", '
                          '"halusinasyon_iddiasi": " ", "gerekce": " Doğru. "}')
    assert verdict == JudgeVerdict(4, 5, False, None, "Doğru.")
