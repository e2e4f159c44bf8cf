"""Pure logic of the distillation stages: expansion planning and screening, pass/reject decisions,
expert review files, near-duplicate keys, prompt versions."""

from pathlib import Path

import pytest

from anka_assets.assets.expanded_tasks import ExpansionConfig, accept_candidates, plan_expansion, screen_candidate
from anka_assets.assets.judged_cot import JudgeConfig, decide, text_signals
from anka_assets.dedup import NearDuplicateIndex, jaccard
from anka_assets.judge_criteria import SCORE_MAX, scores
from anka_assets.prompts import load_prompt
from anka_assets.review import ExpertVerdict, ReviewFileError, load_reviews
from anka_assets.seed_loader import SENSITIVITY_RANK, SeedTask, seed_id_for

# --- expansion --------------------------------------------------------------------------------------


def task(i: int, text: str | None = None, sensitivity: str = "public") -> SeedTask:
    text = text or f"Türkiye'de {i}. beş yıllık kalkınma planının hedeflerini açıklayınız."
    return SeedTask(seed_id_for("ekonomi", text), "ekonomi", text, sensitivity, False, (), None,
                    "ekonomi.yaml", 2 + i, False, "0" * 64)


def test_plan_expansion_asks_enough_and_is_stable_when_seeds_are_appended():
    curated = [task(i) for i in range(10)]
    cfg = ExpansionConfig(target_per_domain=20, tasks_per_request=5, oversample=1.5)
    jobs = plan_expansion(curated, cfg)
    assert len(jobs) == 3  # ceil(10 missing × 1.5 / 5)
    assert [j.parent.seed_id for j in jobs] == [t.seed_id for t in curated[:3]]
    appended = plan_expansion(curated + [task(99)], cfg)
    assert [(j.parent.seed_id, j.examples, j.round) for j in appended] == [
        (j.parent.seed_id, j.examples, j.round) for j in jobs[: len(appended)]
    ]


def test_plan_expansion_cycles_parents_with_new_rounds():
    jobs = plan_expansion([task(1), task(2)], ExpansionConfig(target_per_domain=12, tasks_per_request=2, oversample=1.0))
    assert len(jobs) == 5
    assert [j.round for j in jobs] == [0, 0, 1, 1, 2]


def test_expansion_prompts_never_carry_stricter_seeds_as_context():
    curated = [task(1), task(2, sensitivity="confidential"), task(3), task(4, sensitivity="internal"), task(5)]
    jobs = plan_expansion(curated, ExpansionConfig(target_per_domain=10, tasks_per_request=1, oversample=1.0,
                                                   examples_per_prompt=2))
    by_text = {t.instruction: t for t in curated}
    for job in jobs:
        assert job.examples and job.parent.instruction not in job.examples
        for example in job.examples:
            # The request is labelled with the parent's sensitivity: nothing stricter may ride along.
            assert SENSITIVITY_RANK[by_text[example].sensitivity] <= SENSITIVITY_RANK[job.parent.sensitivity]
    public_parent = next(j for j in jobs if j.parent.seed_id == curated[0].seed_id)
    assert public_parent.examples == (curated[2].instruction, curated[4].instruction)


def test_plan_expansion_off():
    assert plan_expansion([task(1)], ExpansionConfig(target_per_domain=0)) == []
    assert plan_expansion([task(i) for i in range(5)], ExpansionConfig(target_per_domain=5)) == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Kısa.", "invalid"),
        ("Explain the economic consequences of the 2001 banking crisis in Turkey in detail.", "not_turkish"),
        ("Müşteri 10000000146 numaralı T.C. kimlik sahibinin kredi notunu değerlendiriniz.", "personal_data"),
        ("Bozuk metin \ufffd\ufffd içeren ve onarılamayan bir görev açıklayınız.", "invalid"),
    ],
)
def test_screen_candidate_rejects(text, reason):
    assert screen_candidate(text) == (None, reason)


def test_screen_candidate_accepts_and_normalises():
    clean, reason = screen_candidate("  2001 krizinin   bankacılık sektörüne etkilerini analiz ediniz. ")
    assert reason is None and clean == "2001 krizinin bankacılık sektörüne etkilerini analiz ediniz."


def test_accept_candidates_dedups_inherits_sensitivity_and_stops_at_target():
    parent = task(1, "Türkiye'de enflasyon hedeflemesi rejimini açıklayınız.", sensitivity="internal")
    proposals = [(parent, [
        "TÜRKİYE'DE ENFLASYON HEDEFLEMESİ REJİMİNİ AÇIKLAYINIZ",  # exact duplicate of the parent
        "Türkiye'de enflasyon hedeflemesi rejimini ayrıntılı açıklayınız.",  # near-duplicate
        "Merkez Bankası'nın politika faizi kararlarının kredi büyümesine etkisini analiz ediniz.",
        "Cari açığın finansman kalitesini doğrudan yatırımlar ve portföy girişleri açısından karşılaştırınız.",
        "Türkiye'de asgari ücret artışlarının enflasyona etkisini tartışınız.",
    ])]
    accepted, parents, rejected = accept_candidates("ekonomi", [parent], proposals, 2, 0.7, "teacher:x")
    assert [t.instruction[:13] for t in accepted] == ["Merkez Bankas", "Cari açığın f"]
    assert all(t.sensitivity == "internal" for t in accepted)
    assert parents == [[parent.seed_id], [parent.seed_id]]
    assert rejected == {"duplicate": 1, "near_duplicate": 1, "surplus": 1}


def test_near_duplicate_index():
    index = NearDuplicateIndex(threshold=0.7)
    assert index.add_if_new("a", "Osmanlı Devleti'nde tımar sisteminin işleyişini açıklayınız.") is None
    assert index.add_if_new("b", "OSMANLI DEVLETİ'NDE TIMAR SİSTEMİNİN İŞLEYİŞİNİ AÇIKLAYINIZ") == ("a", "exact")
    assert index.add_if_new("c", "Osmanlı Devleti'nde tımar sisteminin işleyişini kısaca açıklayınız.") == ("a", "near")
    assert index.add_if_new("d", "Lozan Antlaşması'nın kapitülasyonlar açısından önemini açıklayınız.") is None
    assert len(index) == 2
    assert jaccard("ışık", "ISIK") == 1.0  # diacritics and Turkish case folded


# --- decisions --------------------------------------------------------------------------------------

GOOD_ROW = {
    **{c.name: SCORE_MAX for c in scores()},  # a criterion added to the registry passes here too
    "teacher_status": "ok", "judge_status": "ok", "dogruluk": 5, "kulturel_uygunluk": 4, "halusinasyon": False,
    "language_reasoning": "tr", "language_answer": "tr", "refusal": None, "step_count": 3, "answer_chars": 300,
    "repetition_ratio": 0.0, "foreign_script_ratio": 0.0, "pii_kinds": [],
}


@pytest.mark.parametrize(
    ("change", "reasons"),
    [
        ({}, []),
        ({"dogruluk": 3}, ["low_accuracy"]),
        ({"kulturel_uygunluk": 2}, ["low_cultural_fit"]),
        ({"halusinasyon": True}, ["hallucination"]),
        ({"judge_status": "judge_error", "dogruluk": None}, ["judge_error"]),
        ({"judge_status": "blocked_kvkk", "dogruluk": None}, ["judge_blocked_kvkk"]),
        ({"language_answer": "az"}, ["wrong_language_answer"]),
        ({"language_reasoning": "en"}, ["wrong_language_reasoning"]),
        ({"language_answer": None}, []),  # too short to tell is no verdict
        ({"refusal": "yapay zeka dil modeli olarak"}, ["refusal"]),
        ({"step_count": 1}, ["too_few_steps"]),
        ({"answer_chars": 5}, ["answer_too_short"]),
        ({"answer_chars": 9000}, ["answer_too_long"]),
        ({"repetition_ratio": 0.5}, ["repetition"]),
        ({"foreign_script_ratio": 0.1}, ["foreign_script"]),
        ({"pii_kinds": ["TCKN"]}, []),  # redacted later by default
        ({"teacher_status": "blocked_kvkk"}, ["teacher_blocked_kvkk"]),
        ({"dogruluk": 2, "halusinasyon": True, "step_count": 0}, ["low_accuracy", "hallucination", "too_few_steps"]),
    ],
)
def test_decide(change, reasons):
    passed, got = decide({**GOOD_ROW, **change}, JudgeConfig(), None)
    assert got == reasons and passed == (not reasons)


def test_decide_thresholds_and_expert_override():
    cfg = JudgeConfig(min_dogruluk=3, reject_personal_data=True)
    assert decide({**GOOD_ROW, "dogruluk": 3}, cfg, None) == (True, [])
    assert decide({**GOOD_ROW, "pii_kinds": ["IBAN"]}, cfg, None) == (False, ["personal_data"])
    approve = ExpertVerdict("r", "approve", None, None, 2)
    reject = ExpertVerdict("r", "reject", "yanlış", "uzman", 3)
    assert decide({**GOOD_ROW, "dogruluk": 1, "halusinasyon": True}, cfg, approve) == (True, [])
    assert decide(GOOD_ROW, cfg, reject) == (False, ["expert_reject"])
    # No verdict resurrects an answer that does not exist.
    assert decide({**GOOD_ROW, "teacher_status": "failed"}, cfg, approve) == (False, ["teacher_failed"])


def test_text_signals():
    steps = ["Türk Borçlar Kanunu'nun temerrüde ilişkin hükümleri incelenir ve şartlar sıralanır.",
             "Borçlunun kusuru ve muacceliyet birlikte değerlendirilir."]
    answer = "Temerrüt için borcun muaccel olması ve alacaklının ihtarı gerekir; iletişim: 0532 123 45 67."
    s = text_signals(steps, answer)
    assert s["language_reasoning"] == "tr" and s["language_answer"] == "tr"
    assert s["pii_kinds"] == ["TELEFON"] and s["step_count"] == 2 and s["refusal"] is None
    assert text_signals([], "Üzgünüm, bu konuda yardımcı olamam.")["refusal"]


# --- expert review files ----------------------------------------------------------------------------


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "hukuk.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_reviews_comma_and_semicolon_and_turkish_words(tmp_path):
    path = write(tmp_path, "ROW_ID;Verdict;note;reviewer\nr1;ONAY;İyi;Uzman A\nr2;Reddet;;\nr3;;;\nr4;HAYIR;;\nr5;APPROVE;;\n",
                 "utf-8-sig")
    verdicts = load_reviews(path)
    assert {k: v.verdict for k, v in verdicts.items()} == {"r1": "approve", "r2": "reject", "r4": "reject", "r5": "approve"}
    assert verdicts["r1"].note == "İyi" and verdicts["r1"].reviewer == "Uzman A" and verdicts["r2"].note is None
    path = write(tmp_path, "row_id,verdict\nr1,approve\n")
    assert load_reviews(path)["r1"].verdict == "approve"


def test_missing_review_file_means_no_verdicts(tmp_path):
    assert load_reviews(tmp_path / "yok.csv") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("row_id,verdict\nr1,belki\n", "line 2, column 'verdict': unknown verdict 'belki'"),
        ("row_id,note\nr1,x\n", "line 1: missing column(s) verdict"),
        ("row_id,verdict\nr1,approve\nr1,reject\n", "line 3, column 'row_id': r1 was already reviewed on line 2"),
        ("row_id,verdict\n,approve\n", "line 2, column 'row_id': empty"),
        ("row_id,verdict,note\nr1,approve,bozuk \ufffd not\n", "line 2, column 'note': garbled text"),
    ],
)
def test_bad_review_files(tmp_path, text, message):
    with pytest.raises(ReviewFileError) as info:
        load_reviews(write(tmp_path, text))
    assert "hukuk.csv" in str(info.value) and message in str(info.value)


def test_review_file_not_utf8(tmp_path):
    with pytest.raises(ReviewFileError, match="line 2: the file is not valid UTF-8"):
        load_reviews(write(tmp_path, "row_id,verdict,note\nr1,approve,Doğru\n", "cp1254"))


# --- prompts ----------------------------------------------------------------------------------------


def test_prompt_versions_follow_the_file(tmp_path, monkeypatch):
    cot = load_prompt("cot")
    assert cot.version.startswith("cot-v1+")
    messages = cot.messages(domain_label="Hukuk", instruction="Temerrüdü açıklayınız.", structured=False)
    assert "<adimlar>" in messages[1]["content"] and messages[0]["role"] == "system"
    assert '"adimlar"' in cot.messages(domain_label="Hukuk", instruction="x", structured=True)[1]["content"]
    override = tmp_path / "cot.jinja2"
    override.write_text(cot.source.replace("titiz", "çok titiz"), encoding="utf-8")
    monkeypatch.setenv("ANKA_PROMPTS_DIR", str(tmp_path))
    edited = load_prompt("cot")
    assert edited.version.startswith("cot-v1+") and edited.version != cot.version
    override.write_text("{% macro system() %}x{% endmacro %}", encoding="utf-8")
    with pytest.raises(ValueError, match="declares no version"):
        load_prompt("cot")
