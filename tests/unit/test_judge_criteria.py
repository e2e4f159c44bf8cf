"""A judge criterion is one entry of `anka_assets.judge_criteria.CRITERIA`: the judge prompt, its JSON schema,
the parser, the pass rule, the thresholds, the Pandera column, the drop-reason vocabulary and the simulator's
judge all follow from the list. The test extends the list with a new criterion (as a one-entry diff of the
registry would) and checks that every derived artefact follows; and that today's list derives today's texts."""

from __future__ import annotations

import json
import random

import pandera.errors
import polars as pl
import pytest
from dagster import Config

from anka_assets import judge_criteria as jc
from anka_assets import reasons
from anka_assets.assets.judged_cot import JudgeConfig, decide
from anka_assets.parsing import JUDGE_RESPONSE_FORMAT, JudgeVerdict, ParseError, parse_verdict, schema_max_chars
from anka_assets.prompts import load_prompt
from anka_assets.release import reject_category
from anka_assets.schemas import JUDGED_COT_DTYPES, JudgedCotSchema, judged_cot_schema, polars_schema
from anka_testkit.simulator.content import _judge

FLUENCY = jc.Criterion(
    "akicilik", "score", label="akıcılık",
    rubric="Cevap akıcı ve doğal bir Türkçeyle yazılmış mı? 1 = anlaşılmaz, 5 = tamamen akıcı.",
    answer_hint="1-5 arası tam sayı",
    rule=jc.PassRule("min_akicilik", 3, "Lowest fluency score (1–5) that passes.", "low_fluency"),
    simulate=jc.SimScore(weights=(1, 1, 2, 3, 3)),
)


@pytest.fixture
def extended() -> tuple[jc.Criterion, ...]:
    """Today's criteria with a fluency score after the cultural-fit score (what a one-entry diff adds)."""
    return jc.check((*jc.CRITERIA[:2], FLUENCY, *jc.CRITERIA[2:]))


# --- today's list derives today's artefacts ----------------------------------------------------------------

TODAY_RUBRIC = """Değerlendirme ölçütleri:
- doğruluk (1–5): Bilgiler, hesaplamalar ve mevzuat atıfları doğru mu? 1 = büyük ölçüde yanlış, 5 = tamamen doğru.
- kültürel uygunluk (1–5): Cevap Türkiye bağlamına, Türkçe terminolojiye ve yerel kurumlara uygun mu? 1 = uygun değil, 5 = tamamen uygun.
- halüsinasyon: Cevapta uydurma bir kanun maddesi, tarih, kişi, kurum veya kaynak var mı? Varsa uydurma iddiayı aynen aktar.
- gerekçe: Puanlarının kısa Türkçe gerekçesi.

Yalnızca şu JSON nesnesini döndür:
{"dogruluk": 1-5 arası tam sayı, "kulturel_uygunluk": 1-5 arası tam sayı, "halusinasyon": true veya false, "halusinasyon_iddiasi": "uydurma iddia" veya null, "gerekce": "..."}"""  # noqa: E501


def judge_user_message(template) -> str:
    return template.messages(domain_label="Hukuk", instruction="Soru?", steps=["Adım."], answer="Cevap.")[1]["content"]


def test_todays_criteria_fill_the_judge_prompt_with_the_same_text():
    template = load_prompt("judge")
    assert "slot:" not in template.source
    assert judge_user_message(template).endswith(TODAY_RUBRIC)
    assert template.version == load_prompt("judge", slots=jc.prompt_slots(jc.CRITERIA)).version


def test_todays_criteria_are_the_verdict_the_schema_and_the_columns():
    names = [c.name for c in jc.CRITERIA]
    assert [f for f in JudgeVerdict.__dataclass_fields__] == names == list(jc.VERDICT_FIELDS)
    assert JUDGE_RESPONSE_FORMAT == jc.response_format(jc.CRITERIA)
    columns = list(JUDGED_COT_DTYPES)
    at = columns.index("judge_error") + 1
    assert columns[at:at + len(names)] == names
    assert {c.rule.config_field for c in jc.CRITERIA if c.rule} <= set(JudgeConfig.model_fields)
    assert (JudgeConfig().min_dogruluk, JudgeConfig().min_kulturel_uygunluk, JudgeConfig().reject_hallucination) == (
        4, 4, True)


# --- a new criterion: every derived artefact follows -------------------------------------------------------


def test_a_new_criterion_enters_the_prompt(extended):
    slots = jc.prompt_slots(extended)
    template = load_prompt("judge", slots=slots)
    text = judge_user_message(template)
    rubric = "- akıcılık (1–5): Cevap akıcı ve doğal bir Türkçeyle yazılmış mı? 1 = anlaşılmaz, 5 = tamamen akıcı."
    lines = text.splitlines()
    assert lines[lines.index(rubric) - 1].startswith("- kültürel uygunluk (1–5):")
    assert '"kulturel_uygunluk": 1-5 arası tam sayı, "akicilik": 1-5 arası tam sayı, "halusinasyon"' in text
    assert template.version.startswith("judge-v1+") and template.version != load_prompt("judge").version


def test_a_new_criterion_enters_the_schema_and_the_parser(extended):
    fmt = jc.response_format(extended)
    schema = fmt["json_schema"]["schema"]
    assert schema["properties"]["akicilik"] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert schema["required"] == [c.name for c in extended]
    assert schema_max_chars(schema) == schema_max_chars(JUDGE_RESPONSE_FORMAT["json_schema"]["schema"]) + len(
        '"akicilik":5,')
    verdict_cls = jc.verdict_type(extended)
    answer = {"dogruluk": 5, "kulturel_uygunluk": 4, "akicilik": "2", "halusinasyon": "hayır",
              "halusinasyon_iddiasi": None, "gerekce": "Akıcı değil."}
    verdict = parse_verdict(json.dumps(answer, ensure_ascii=False), extended, verdict_cls)
    assert verdict.akicilik == 2 and verdict.halusinasyon is False
    with pytest.raises(ParseError, match="missing field 'akicilik'"):
        parse_verdict(json.dumps({k: v for k, v in answer.items() if k != "akicilik"}), extended, verdict_cls)
    with pytest.raises(ParseError, match="'akicilik' out of range 1..5"):
        parse_verdict(json.dumps({**answer, "akicilik": 6}), extended, verdict_cls)


GOOD_ROW = {
    "teacher_status": "ok", "judge_status": "ok", "dogruluk": 5, "kulturel_uygunluk": 4, "halusinasyon": False,
    "language_reasoning": "tr", "language_answer": "tr", "refusal": None, "step_count": 3, "answer_chars": 300,
    "repetition_ratio": 0.0, "foreign_script_ratio": 0.0, "pii_kinds": [],
}


def test_a_new_criterion_enters_the_thresholds_and_the_pass_rule(extended):
    thresholds = jc.config_model(Config, extended)
    assert thresholds().min_akicilik == 3 and thresholds().min_dogruluk == 4
    config_cls = jc.config_model(JudgeConfig, extended, name="ExtendedJudgeConfig")
    cfg = config_cls()
    assert decide({**GOOD_ROW, "akicilik": 2}, cfg, None, extended) == (False, ["low_fluency"])
    assert decide({**GOOD_ROW, "akicilik": 3}, cfg, None, extended) == (True, [])
    assert decide({**GOOD_ROW, "akicilik": 1, "dogruluk": 1}, cfg, None, extended) == (
        False, ["low_accuracy", "low_fluency"])
    assert decide({**GOOD_ROW, "akicilik": 1}, config_cls(min_akicilik=1), None, extended) == (True, [])
    assert decide({**GOOD_ROW, "akicilik": 1}, JudgeConfig(), None) == (True, [])  # today's list ignores it


def judged_frame(schema, **values) -> pl.DataFrame:
    """One valid judged row of ``schema`` (a rejected one: the checks want a reason)."""
    row = {"row_id": "r1", "seed_id": "tsk_" + "0" * 16, "domain": "hukuk", "domain_label": "Hukuk",
           "sample_index": 0, "instruction": "Soru?", "sensitivity": "public", "origin": "curated",
           "reasoning_steps": ["Adım."], "answer": "Cevap.", "teacher_model": "m", "teacher_status": "ok",
           "judge_model": "j", "judge_template_version": "judge-v1+0", "judge_status": "ok", "judge_error": None,
           "dogruluk": 4, "kulturel_uygunluk": 4, "halusinasyon": False, "halusinasyon_iddiasi": None,
           "gerekce": "Doğru.", "judge_cached": False, "judge_truncated": False, "judge_prompt_tokens": 1,
           "judge_completion_tokens": 1, "judge_cost": 0.0, "language_reasoning": "tr", "language_answer": "tr",
           "pii_kinds": [], "refusal": None, "repetition_ratio": 0.0, "foreign_script_ratio": 0.0, "step_count": 1,
           "answer_chars": 6, "expert_verdict": None, "expert_note": None, "reviewer": None, "passed": False,
           "reject_reasons": ["too_few_steps"], "simulated": True, **values}
    return pl.DataFrame([row], schema=polars_schema(schema))


def test_a_new_criterion_is_a_pandera_column(extended):
    schema = judged_cot_schema(extended)
    columns = list(polars_schema(schema))
    assert columns == [*list(JUDGED_COT_DTYPES)[:columns.index("akicilik")], "akicilik",
                       *list(JUDGED_COT_DTYPES)[columns.index("akicilik"):]]
    schema.validate(judged_frame(schema, akicilik=2))
    schema.validate(judged_frame(schema, akicilik=None))  # no verdict: null
    with pytest.raises(pandera.errors.SchemaError, match="akicilik"):
        schema.validate(judged_frame(schema, akicilik=6))
    with pytest.raises(pandera.errors.SchemaError, match="akicilik"):  # strict: today's contract has no such column
        JudgedCotSchema.validate(judged_frame(schema, akicilik=2))


def test_a_new_criterion_enters_the_reason_vocabulary(extended):
    assert "low_fluency" in reasons.vocabulary(extended) and "low_fluency" not in reasons.VOCABULARY
    assert "low_fluency" in reasons.judge_reasons(extended)
    duplicate = jc.Criterion("akicilik", "score", answer_hint="x", simulate=jc.SimScore((1,)),
                             rule=jc.PassRule("min_akicilik", 3, "d", "refusal"))
    with pytest.raises(ValueError, match="refusal"):
        reasons.vocabulary((*jc.CRITERIA, duplicate))


def test_a_new_criterion_is_simulated(extended):
    names = [c.name for c in extended]
    verdict_cls = jc.verdict_type(extended)
    drawn = []
    for seed in range(300):
        verdict = _judge("Nihai cevap: Ankara 1923 yılında başkent oldu ve bu karar Mecliste alındı.",
                         random.Random(seed), extended)
        assert list(verdict) == names
        drawn.append(parse_verdict(json.dumps(verdict, ensure_ascii=False), extended, verdict_cls).akicilik)
    assert set(drawn) == {1, 2, 3, 4, 5}


# --- the vocabulary and the registry refuse mistakes -------------------------------------------------------


def test_every_count_uses_the_vocabulary():
    counts = reasons.count_reasons([["low_accuracy", "refusal"], ["refusal"]])
    assert counts == {"low_accuracy": 1, "refusal": 2}
    assert reasons.reason_metadata(dict(sorted(counts.items())), "rejected_") == {
        "rejected_low_accuracy": 1, "rejected_refusal": 2}
    with pytest.raises(ValueError, match="unknown drop reason 'low_acuracy'"):
        reasons.ReasonCounts()["low_acuracy"] += 1
    assert reasons.drop_counts({"eval_task": 2})["eval_task"] == 2
    assert set(reasons.drop_counts({})) == set(reasons.DROP_REASONS)
    assert reject_category(["low_accuracy", "personal_data"]) == "judge"
    assert reject_category(["personal_data", "refusal"]) == "personal_data"


def test_the_reason_vocabulary_covers_every_status():
    from anka_assets.schemas import JUDGE_STATUSES, RAW_COT_STATUSES

    assert set(reasons.TEACHER_REASONS) == {f"teacher_{s}" for s in RAW_COT_STATUSES if s != "ok"}
    assert set(reasons.JUDGE_STATUS_REASONS) == {s if s.startswith("judge_") else f"judge_{s}"
                                                 for s in JUDGE_STATUSES if s != "ok"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (lambda: jc.Criterion("Akicilik", "score", answer_hint="x", simulate=jc.SimFlag(0.1)), "lower-case"),
        (lambda: jc.Criterion("not", "text", answer_hint="x", simulate=jc.SimFlag(0.1)), "max_chars"),
        (lambda: jc.Criterion("not", "text", answer_hint="x", max_chars=10, simulate=jc.SimFlag(0.1),
                              rule=jc.PassRule("x", 1, "d", "r")), "only a score or a flag"),
        (lambda: jc.Criterion("x", "score", label="x", rubric="{{ oops }}", answer_hint="x",
                              simulate=jc.SimFlag(0.1)), "Jinja"),
        (lambda: jc.check((*jc.CRITERIA, jc.Criterion("x", "score", answer_hint="x",
                                                      simulate=jc.SimNear(of="yok", offsets=(0,))))),
         "needs a score criterion 'yok'"),
        (lambda: jc.check((*jc.CRITERIA, jc.CRITERIA[0])), "name declared twice: dogruluk"),
    ],
)
def test_the_registry_refuses_a_broken_entry(entry, message):
    with pytest.raises(ValueError, match=message):
        entry()
