"""Pure cleaning and release logic: every drop reason of sft_dataset, dedup recall, decontamination,
and each release check failing on a crafted bad row."""

import polars as pl
import pytest

from anka_assets.schemas import JUDGED_COT_DTYPES
from anka_assets.assets.sft_dataset import SftDatasetConfig, clean_domain
from anka_assets.cleaning import DROP_REASONS, DedupSettings, dedup, eval_version, redact_sample, select_eval, split_of
from anka_assets.release import EvalIndex, Layout, eval_overlaps, example, invalid_chats, pii_findings, release_version

STEPS = ["Önce kavramın tanımı yapılır ve kapsamı belirlenir.", "Sonra örnekler üzerinden değerlendirme yapılır."]
ANSWER = "Borçlu temerrüdü için borcun muaccel olması ve alacaklının ihtarda bulunması gerekir; istisnalar vardır."


WORDS = ("hukuk devlet kanun borç alacak sözleşme dava mahkeme karar itiraz süre tebligat temyiz icra haciz "
         "kira tahliye miras vasiyet tapu ipotek kefalet faiz senet çek poliçe ortaklık şirket ticaret").split()


def distinct(seed_id: str, n: int = 25) -> str:
    import random

    return " ".join(random.Random(seed_id).choices(WORDS, k=n)).capitalize() + "."


def judged_row(seed: str, sample: int = 0, *, passed=True, answer=None, steps=None, instruction=None,
               dogruluk=5, expert=None):
    answer = answer or distinct(seed + "a")
    steps = steps or [distinct(seed + "s1", 12), distinct(seed + "s2", 12)]
    row = {k: None for k in JUDGED_COT_DTYPES}
    row.update(
        row_id=f"{seed}-s{sample}", seed_id=seed, domain="hukuk", sample_index=sample,
        instruction=instruction or f"Görev {seed}: borçlu temerrüdünün şartlarını açıklayınız.",
        sensitivity="public", origin="curated", reasoning_steps=list(steps), answer=answer,
        teacher_model="t", teacher_status="ok", judge_model="j", judge_template_version="judge-v1",
        judge_status="ok", dogruluk=dogruluk, kulturel_uygunluk=5, halusinasyon=False, judge_cached=False,
        judge_prompt_tokens=0, judge_completion_tokens=0, judge_cost=0.0, pii_kinds=[], repetition_ratio=0.0,
        foreign_script_ratio=0.0, step_count=len(steps), answer_chars=len(answer), expert_verdict=expert,
        passed=passed, reject_reasons=[] if passed else ["low_accuracy"],
    )
    return row


def seed(n: int) -> str:
    return f"tsk_{n:016x}"


def test_every_drop_reason_of_sft_dataset():
    other = "Zamanaşımı süresi alacağın muaccel olduğu andan itibaren işlemeye başlar ve kesilebilir, durabilir."
    rows = [
        judged_row(seed(1), passed=False),                                   # not_passed
        judged_row(seed(2)),                                                 # eval_task
        judged_row(seed(3), 0, dogruluk=4), judged_row(seed(3), 1),          # s1 best, s0 not_best_sample
        judged_row(seed(4), answer="TC: 10000000146 ve 10000000146"),        # pii_meaningless
        judged_row(seed(5), instruction="Aynı görev metni burada.", answer=other, steps=STEPS),
        judged_row(seed(6), instruction="AYNI GÖREV METNİ BURADA!", answer=other, steps=STEPS),  # exact_duplicate
        judged_row(seed(7), instruction="Aynı görev metni burada, kısaca.", answer=other, steps=STEPS),  # near_duplicate
        judged_row(seed(8), instruction="Telefonla başvuru nasıl yapılır?",
                   answer="Başvuru için 0532 123 45 67 numaralı hat aranır ve kimlik bilgileri doğrulanır, süreç tamamlanır."),
        judged_row(seed(9), 0, passed=False), judged_row(seed(9), 1, dogruluk=3, expert="approve"),  # expert wins
    ]
    judged = pl.DataFrame(rows, schema=JUDGED_COT_DTYPES)
    raw = pl.DataFrame({"row_id": judged["row_id"], "template_version": ["cot-v1"] * len(judged),
                        "answer_tokens": [100] * len(judged)})
    evals = pl.DataFrame({"seed_id": [seed(2)], "eval_version": ["ev-0000000000"]})
    kept, dropped, kinds, examples = clean_domain(judged, raw, evals, SftDatasetConfig())
    assert dict(dropped) == {"not_passed": 2, "eval_task": 1, "not_best_sample": 1, "pii_meaningless": 1,
                             "exact_duplicate": 1, "near_duplicate": 1}
    assert set(kept["row_id"]) == {f"{seed(3)}-s1", f"{seed(5)}-s0", f"{seed(8)}-s0", f"{seed(9)}-s1"}
    phone = kept.filter(pl.col("seed_id") == seed(8)).row(0, named=True)
    assert "[TELEFON]" in phone["answer"] and "0532" not in phone["answer"] and phone["redacted_kinds"] == ["TELEFON"]
    assert kinds == {"TCKN": 2, "TELEFON": 1}
    assert {e["reason"] for e in examples} >= set(dropped)
    assert all("answer" not in e and "instruction" not in e for e in examples)  # counts and ids, never content
    assert set(kept["split"]) <= {"train", "validation"} and kept["completion_tokens"].to_list() == [100] * 4

    every = clean_domain(judged, raw, evals, SftDatasetConfig(selection="all"))
    # Every passing sample is a candidate; seed 3's two samples are the same text, so the better one stays.
    assert every[1]["not_best_sample"] == 0 and every[1]["exact_duplicate"] == 2
    assert {"row_id": f"{seed(3)}-s0", "reason": "exact_duplicate", "duplicate_of": f"{seed(3)}-s1"} in every[3]


def test_eval_selection_is_deterministic_stable_and_versioned():
    ids = [seed(i) for i in range(200)]
    chosen = select_eval(ids, 0.1, 2, "salt")
    assert chosen == select_eval(list(reversed(ids)), 0.1, 2, "salt") and 5 < len(chosen) < 40
    assert chosen <= select_eval(ids + [seed(1000 + i) for i in range(50)], 0.1, 2, "salt")  # adding never moves one
    assert len(select_eval(ids[:3], 0.1, 2, "salt")) == 2  # the minimum
    assert len(select_eval(ids[:1], 0.1, 2, "salt")) == 0  # never every task
    assert eval_version(0.1, 2, "salt") != eval_version(0.1, 2, "other")
    assert {split_of("s", i, 0.5) for i in ids} == {"train", "validation"}


def test_near_duplicate_recall_on_planted_edits():
    import random

    rng = random.Random(3)
    letters = "abcçdefgğhıijklmnoöprsştuüvyz     "
    base = ["".join(rng.choice(letters) for _ in range(300)) for _ in range(500)]
    planted = []
    for text in base[:100]:
        chars = list(text)
        for _ in range(rng.randint(1, 5)):
            chars[rng.randrange(len(chars))] = rng.choice(letters)
        planted.append("".join(chars))
    reasons, kept_as = dedup(base + planted, DedupSettings())
    assert reasons[:500] == [None] * 500  # no false positive among unrelated texts
    found = sum(1 for i in range(100) if reasons[500 + i] in ("near_duplicate", "exact_duplicate") and kept_as[500 + i] == i)
    assert found >= 97


def test_redaction_keeps_meaningful_text_and_drops_the_rest():
    ok = redact_sample("Soru", ["Adım bir."], "Bilgi için ali.veli@ornek.com.tr adresine yazılır ve yanıt beklenir.")
    assert not ok.meaningless and "[EPOSTA]" in ok.answer and ok.counts == {"EPOSTA": 1}
    bad = redact_sample("Soru", ["Adım bir."], "ali.veli@ornek.com.tr, 0532 123 45 67")
    assert bad.meaningless
    clean = redact_sample("Soru", ["Adım."], "Kısa.")
    assert not clean.meaningless  # no personal data: the judge decides on length, not the redactor


EVAL_INSTRUCTION = "Anadolu Selçuklu Devleti'nin yıkılış sürecini sosyo-ekonomik açıdan analiz ediniz."


def train_example(instruction: str, answer: str = ANSWER, seed_id: str = seed(50)):
    row = {"instruction": instruction, "reasoning_steps": STEPS, "answer": answer, "domain": "tarih",
           "seed_id": seed_id, "sample_index": 0, "teacher_model": "t", "judge_model": "j", "dogruluk": 5,
           "kulturel_uygunluk": 5, "completion_tokens": 10, "content_hash": "0" * 64}
    return example(row, Layout())


@pytest.mark.parametrize("text,how", [
    ("ANADOLU SELÇUKLU DEVLETİ'NİN YIKILIŞ SÜRECİNİ sosyo ekonomik açıdan analiz ediniz ve örnek veriniz.", "word_ngram"),
    # Suffixes changed on every second word defeat word 8-grams; a 50-character stretch still matches.
    ("Anadolu Selçuklu Devletinin yıkılış sürecini sosyoekonomik açıdan analizi", "char_window"),
])
def test_decontamination_catches_overlap(text, how):
    index = EvalIndex()
    index.add(seed(1), EVAL_INSTRUCTION)
    assert index.hit(text) == (seed(1), how)
    assert index.hit("Osmanlı Devleti'nin kuruluş sürecini siyasi açıdan değerlendiriniz.") is None
    overlaps = eval_overlaps([train_example(text)], [{"seed_id": seed(1)}], index)
    assert overlaps and overlaps[0]["how"] == how
    assert eval_overlaps([train_example("Başka bir görev.", seed_id=seed(1))], [{"seed_id": seed(1)}], index)[0]["how"] == "same_seed"


def test_each_release_check_fails_on_a_bad_row():
    good = train_example("Osmanlı Devleti'nin kuruluşunu açıklayınız.")
    assert not invalid_chats({"train": [good]}) and not pii_findings({"train": [good]})
    swapped = {**good, "messages": list(reversed(good["messages"]))}
    empty = {**good, "messages": [good["messages"][0], {"role": "assistant", "content": "  "}]}
    bad_eval = {"prompt": [{"role": "assistant", "content": "x"}], "reference": None}
    found = invalid_chats({"train": [swapped, empty], "eval": [bad_eval]})
    assert [(b["file"], b["row"]) for b in found] == [("train", 0), ("train", 1), ("eval", 0)]

    leaked = train_example("Müşteri 10000000146 numarası ile kayıtlı mı?")
    pc = {"prompt": [{"role": "user", "content": "Soru"}], "completion": [
        {"role": "assistant", "content": "Yazın: ali.veli@ornek.com.tr"}]}
    ref = {"prompt": [{"role": "user", "content": "Soru"}], "reference": "Ara: 0532 123 45 67", "instruction": "Soru"}
    assert [f["kinds"] for f in pii_findings({"a": [leaked], "b": [pc], "c": [ref]})] == [["TCKN"], ["EPOSTA"], ["TELEFON"]]


def test_release_version_is_content_addressed():
    files = {"train": [train_example("Bir görev.")], "eval": []}
    assert release_version(files, {"a": 1}) == release_version(files, {"a": 1})
    assert release_version(files, {"a": 2}) != release_version(files, {"a": 1})
    assert release_version({"train": [], "eval": []}, {"a": 1}) != release_version(files, {"a": 1})
    assert set(DROP_REASONS) >= {"not_passed", "contaminated"}


def test_fast_key_and_vectorised_shingles_match_the_reference():
    import numpy as np

    from anka_assets.cleaning import char_shingles, dedup_keys, fast_dedup_key, shingle_hashes
    from anka_assets.text.normalize import dedup_key

    texts = ["IŞIK ılık İstanbul'da “Ğğ” şöyle: ÂLİ", "Ça va, naïve café — ñ", "ab", ""]
    assert [fast_dedup_key(t) for t in texts] == dedup_keys(texts) == [dedup_key(t) for t in texts]
    keys = [dedup_key(t) for t in texts]
    hashes, offsets = shingle_hashes(keys, 5)
    for i, key in enumerate(keys):
        row = hashes[int(offsets[i]) : int(offsets[i + 1])]
        assert len(set(row.tolist())) == len(char_shingles(key, 5))  # one distinct hash per distinct shingle
    assert offsets[-1] == len(hashes) and np.all(np.diff(offsets.astype(np.int64)) >= 1)


def test_vectorised_union_find_gives_the_clusters_of_one_by_one_joins():
    import random

    import numpy as np

    from anka_assets.cleaning import _union

    rng = random.Random(5)
    n = 300
    edges = [(rng.randrange(n), rng.randrange(n)) for _ in range(250)]
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for x, y in edges:  # the reference: join one edge at a time, the earlier root wins
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    expected = [find(i) for i in range(n)]
    a = np.array([x for x, _ in edges], dtype=np.int64)
    b = np.array([y for _, y in edges], dtype=np.int64)
    got = _union(np.arange(n, dtype=np.int64), a[:120], b[:120])  # in two rounds, as bands arrive
    got = _union(got, a[120:], b[120:])
    assert got.tolist() == expected
    assert all(root <= i for i, root in enumerate(expected)) and len(set(expected)) < n


def test_fingerprint_prefilter_never_undercounts_agreement():
    import numpy as np

    from anka_assets.cleaning import _agreeing_fields, _fingerprints

    rng = np.random.default_rng(1)
    a = rng.integers(0, 2**32, size=(400, 128), dtype=np.uint32)
    b = a.copy()
    for row in range(400):  # replace a random share of b's hashes
        cols = rng.choice(128, size=rng.integers(0, 129), replace=False)
        b[row, cols] = rng.integers(0, 2**32, size=len(cols), dtype=np.uint32)
    exact = np.count_nonzero(a == b, axis=1)
    bound = _agreeing_fields(_fingerprints(a), _fingerprints(b), 128)
    assert np.all(bound >= exact) and np.any(bound > exact)
    assert np.mean(bound - exact) < 0.3 * 128 * 0.5  # low 2 bits agree by chance about a quarter of the time


def test_dedup_is_the_same_in_any_chunk_size_and_bounds_pairs_in_one_giant_bucket():
    import random

    import numpy as np

    from anka_assets.cleaning import _band_candidates, near_duplicate_of

    rng = random.Random(9)
    letters = "abcçdefgğhıijklmnoöprsştuüvyz     "
    base = ["".join(rng.choice(letters) for _ in range(200)) for _ in range(150)]
    texts = base + [base[3].upper(), base[7][:-2] + "xy", base[0]] + base[10:40]
    whole = dedup(texts, DedupSettings())
    assert dedup(texts, DedupSettings(chunk_rows=17, verify_batch=7)) == whole
    reasons, kept_as = whole
    assert (reasons[150], kept_as[150]) == ("exact_duplicate", 3)
    assert (reasons[151], kept_as[151]) == ("near_duplicate", 7)
    assert reasons[:150] == [None] * 150 and (reasons[152], kept_as[152]) == ("exact_duplicate", 0)
    assert reasons[153:] == ["exact_duplicate"] * 30 and kept_as[153:] == list(range(10, 40))

    sigs = np.ones((1000, 128), dtype=np.uint32)  # every row in one bucket of every band
    settings = DedupSettings()
    a, b = _band_candidates(sigs, 0, settings)
    assert len(a) <= (1 + settings.neighbours) * 1000 and np.all(a != b)
    assert near_duplicate_of(sigs, settings).tolist() == [0] * 1000
