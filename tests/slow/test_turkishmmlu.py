"""TurkishMMLU through lm-eval-harness for real: lm-eval's own `turkishmmlu` task files, a local copy
of the data in the hub repository's layout (written here: a few Turkish questions per subject), the
offline toy model and a LoRA adapter trained on it, offline. lm-eval's accuracies are checked against
an independent log-likelihood computation with transformers over the same items."""

import json
from pathlib import Path

import pytest

from anka_assets.student import turkishmmlu

pytestmark = [pytest.mark.extra("turkishmmlu"), pytest.mark.extra("train")]

LETTERS = "ABCDE"

BIOLOGY = [
    ("Fotosentez bitki hücresinin hangi organelinde gerçekleşir?",
     ["Kloroplast", "Mitokondri", "Ribozom", "Lizozom", "Golgi cisimciği"], "A"),
    ("İnsanda kanın pompalanmasını sağlayan organ hangisidir?",
     ["Akciğer", "Kalp", "Böbrek", "Karaciğer", "Dalak"], "B"),
    ("Kalıtım birimine ne ad verilir?", ["Hücre zarı", "Enzim", "Gen", "Hormon", "Vitamin"], "C"),
]
RELIGION = [
    ("Ramazan ayında tutulan ibadet hangisidir?", ["Namaz", "Hac", "Zekât", "Oruç", "Kurban"], "D"),
    ("Hac ibadeti hangi şehirde yerine getirilir?", ["Mekke", "Bursa", "Konya", "Kahire", "Şam"], "A"),
    ("Zekât hangi tür bir ibadettir?", ["Bedenî", "Sözlü", "Malî", "Zihinsel", "Bölgesel"], "C"),
]
DEV = [("Hücrenin enerji santrali hangisidir?", ["Çekirdek", "Mitokondri", "Koful", "Sentrozom", "Çeper"], "B")]


def rows(items):
    return [{"question": q, "choices": c, "answer": a} for q, c, a in items]


def write_copy(root: Path) -> Path:
    """A local copy in the layout of the hub repo AYueksel/TurkishMMLU (its file names, spaces included)."""
    (root / "test").mkdir(parents=True)
    (root / "dev").mkdir()
    dump = lambda path, data: path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")  # noqa: E731
    dump(root / "test" / "TurkishMMLU_Biology.json", rows(BIOLOGY))
    dump(root / "dev" / "TurkishMMLU_Biology.json", rows(DEV))
    # JSON lines, and no dev file: that subject runs zero-shot only.
    (root / "test" / "TurkishMMLU_Religion and Ethics.json").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows(RELIGION)) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def toy_and_adapter(tmp_path_factory):
    """The project's toy base model and a LoRA adapter trained a few steps to answer "D"."""
    torch = pytest.importorskip("torch")
    peft = pytest.importorskip("peft")
    transformers = pytest.importorskip("transformers")
    from anka_assets.student.toy_model import build_toy_model

    root = tmp_path_factory.mktemp("mmlu_model")
    texts = [q + " " + " ".join(c) for q, c, _ in BIOLOGY + RELIGION + DEV] + ["Soru: Cevap: A. B. C. D. E."]
    base = build_toy_model(texts * 3, root / "base")
    tokenizer = transformers.AutoTokenizer.from_pretrained(base)
    model = transformers.AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    torch.manual_seed(0)
    model = peft.get_peft_model(model, peft.LoraConfig(r=8, lora_alpha=16, task_type="CAUSAL_LM",
                                                       target_modules=["q_proj", "v_proj", "o_proj", "down_proj"]))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
    batch = tokenizer([prompt(q, c) + " D" for q, c, _ in DEV + BIOLOGY], return_tensors="pt", padding=True)
    # Loss on the answer letter only (the last real token of each right-padded row).
    last = batch["attention_mask"].sum(dim=1) - 1
    labels = torch.full_like(batch["input_ids"], -100)
    labels[torch.arange(len(last)), last] = batch["input_ids"][torch.arange(len(last)), last]
    for _ in range(20):
        model(**batch, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(root / "adapter")
    return base, root / "adapter"


def prompt(question: str, choices: list[str]) -> str:
    """lm-eval 0.4.13's turkishmmlu `doc_to_text`, written out to score the items independently."""
    return (f"Soru: {question.strip()}\n" + "".join(f"{L}. {c}\n" for L, c in zip(LETTERS, choices)) + "Cevap:")


def reference_accuracy(base: Path, adapter: Path | None, items) -> float:
    """Accuracy by the summed log-probability of " A" ... " E" after the prompt, argmax over the five."""
    import torch
    import transformers
    from peft import PeftModel

    tokenizer = transformers.AutoTokenizer.from_pretrained(base)
    model = transformers.AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter))
    model.eval()
    right = 0
    for question, choices, answer in items:
        context = prompt(question, choices)
        ctx = tokenizer(context, add_special_tokens=False).input_ids
        scores = []
        for letter in LETTERS:
            whole = tokenizer(context + " " + letter, add_special_tokens=False).input_ids
            cont = whole[len(ctx):]
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([whole[:-1]])).logits[0].log_softmax(-1)
            scores.append(sum(logits[len(ctx) - 1 + i, t].item() for i, t in enumerate(cont)))
        right += int(max(range(5), key=lambda i: scores[i]) == LETTERS.index(answer))
    return right / len(items)


@pytest.mark.slow
def test_base_and_adapter_through_lm_eval_offline(toy_and_adapter, tmp_path, monkeypatch):
    pytest.importorskip("lm_eval", reason="needs the `turkishmmlu` extra (lm-eval)")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_datasets"))
    base, adapter = toy_and_adapter
    copy = write_copy(tmp_path / "TurkishMMLU")

    out = turkishmmlu.evaluate(str(base), str(adapter), str(copy), limit=None)

    assert out["subjects"] == 2 and out["items"] == len(BIOLOGY) + len(RELIGION)
    assert set(out["base_per_subject"]) == {"turkishmmlu_biology", "turkishmmlu_religion_and_ethics"}
    assert "Physics" in out["missing_subjects"] and len(out["missing_subjects"]) == 7
    for label in ("base", "adapter"):
        assert 0.0 <= out[f"{label}_accuracy"] <= 1.0
    # lm-eval scored exactly these items, with and without the adapter, as an independent computation does.
    items = BIOLOGY + RELIGION
    expected_base = reference_accuracy(base, None, items)
    expected_adapter = reference_accuracy(base, adapter, items)
    assert out["base_accuracy"] == pytest.approx(expected_base)
    assert out["adapter_accuracy"] == pytest.approx(expected_adapter)
    # The adapter was trained to answer "D", and its accuracy differs from the base's on these items:
    # so matching both references shows lm-eval applied it rather than scoring the base twice.
    assert expected_adapter != expected_base

    limited = turkishmmlu.evaluate(str(base), str(adapter), str(copy), limit=1)
    assert limited["items"] == 2


def test_bad_rows_name_file_row_and_field(tmp_path):
    path = tmp_path / "TurkishMMLU_Biology.json"
    good = rows(BIOLOGY)
    cases = [
        ([*good[:1], {"question": "Soru?", "choices": ["a", "b", "c", "d", "e"]}], "row 1: field 'answer' is missing"),
        ([{**good[0], "choices": ["a", "b", "c", "d"]}], "row 0: field 'choices' must be a list of 5 strings"),
        ([*good, {**good[0], "answer": "F"}], "row 3: field 'answer' must be one of A, B, C, D, E, got 'F'"),
        ([{**good[0], "question": "  "}], "row 0: field 'question' must be a non-empty string"),
        ([], "no rows"),
    ]
    for data, message in cases:
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        with pytest.raises(turkishmmlu.TurkishMMLUDataError, match=str(path)) as err:
            turkishmmlu.read_rows(path)
        assert message in str(err.value)
    path.write_text(json.dumps(good[0]) + "\n{bozuk\n", encoding="utf-8")
    with pytest.raises(turkishmmlu.TurkishMMLUDataError, match="line 2 is not JSON"):
        turkishmmlu.read_rows(path)
    assert [r["answer"] for r in turkishmmlu.read_rows(write_copy(tmp_path / "c") / "test"
                                                       / "TurkishMMLU_Religion and Ethics.json")] == ["D", "A", "C"]


def test_subject_files_and_empty_copy(tmp_path):
    copy = write_copy(tmp_path / "TurkishMMLU")
    assert turkishmmlu.subject_file(copy, "test", "Religion_and_Ethics").name == "TurkishMMLU_Religion and Ethics.json"
    assert turkishmmlu.subject_file(copy, "dev", "Religion_and_Ethics") is None
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        turkishmmlu.evaluate("base", "adapter", str(tmp_path / "nowhere"), limit=None)
    pytest.importorskip("lm_eval", reason="needs the `turkishmmlu` extra (lm-eval)")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="has no TurkishMMLU test file"):
        turkishmmlu.evaluate("base", "adapter", str(tmp_path / "empty"), limit=None)
