"""A tiny Llama teacher built locally for tests that start a real OpenAI-compatible server on it (no download).

LlamaConfig with hidden size 64, 2 layers, head_dim 32, random init; a byte-level BPE tokenizer trained with
`tokenizers` on a little Turkish text, with a chat template. So that the pipeline gets rows it can parse,
a few weights are then set by hand: the layers' output projections are zeroed (the residual stream is the
token embedding), and the embedding / LM-head rows of three tokens make the greedy (and, by a wide margin,
the sampled) continuation of ``<|assistant|>`` the single added token ANSWER_TEXT, then ``</s>``.
ANSWER_TEXT is one JSON object that parses both as a chain of thought and as a judge verdict.

For a server that enforces the JSON schema (vLLM's structured outputs), one answer cannot fit every task's
schema (`additionalProperties: false`), so ``answers=SCHEMA_ANSWERS`` gives one added token per task, in
compact JSON (no whitespace outside strings), with logits 20, 19, 18, 17: the schema of the request rules out
the others, and the one it allows is taken by a wide margin, then ``</s>``."""

from __future__ import annotations

from pathlib import Path

TURKISH_TEXT = [
    "Osmanlı Devleti'nde tımar sistemi toprağın işletilmesini ve askerin beslenmesini sağlardı.",
    "Türkiye Cumhuriyeti Anayasası temel hak ve özgürlükleri güvence altına alır.",
    "Kişisel verilerin korunması kanunu açık rıza olmadan veri aktarımını sınırlar.",
    "Enflasyon, genel fiyat düzeyinin sürekli olarak yükselmesidir; merkez bankası faizle müdahale eder.",
    "İstanbul Boğazı Karadeniz'i Marmara Denizi'ne bağlar ve iki kıtayı ayırır.",
    "Adımlar: önce soru okunur, sonra kavramlar tanımlanır, en sonunda cevap gerekçesiyle yazılır.",
    "Cevap: Doğruluk, kültürel uygunluk ve halüsinasyon ölçütleriyle değerlendirilir.",
    '{"adimlar": ["birinci adım", "ikinci adım"], "cevap": "kısa bir cevap"}',
    "<adimlar>1. Soru incelenir. 2. Sonuç çıkarılır.</adimlar><cevap>Sonuç budur.</cevap>",
    "dogruluk kulturel_uygunluk halusinasyon gerekce ığüşöçİĞÜŞÖÇ 0123456789",
]

ANSWER_TEXT = (
    '{"adimlar": ["Soru dikkatle okunur ve temel kavramlar belirlenir.", '
    '"Kavramlar Türk hukuku ve tarihi bağlamında açıklanır.", "Sonuç gerekçesiyle birlikte yazılır."], '
    '"cevap": "Bu sorunun cevabı, ilgili kavramların tarihsel ve hukuki bağlamıyla birlikte açıklanmasıdır.", '
    '"dogruluk": 5, "kulturel_uygunluk": 5, "halusinasyon": false, "halusinasyon_iddiasi": null, '
    '"gerekce": "Cevap soruyla uyumlu ve Türkçe."}'
)

#: One compact answer per schema the refinery asks for (chain of thought, judge verdict, task list, pairwise
#: verdict), each in
#: its schema's property order and within its maxLength bounds.
COT_ANSWER = (
    '{"adimlar":["Soru dikkatle okunur ve temel kavramlar belirlenir.",'
    '"Kavramlar Türk hukuku ve tarihi bağlamında açıklanır.","Sonuç gerekçesiyle birlikte yazılır."],'
    '"cevap":"Bu sorunun cevabı, ilgili kavramların tarihsel ve hukuki bağlamıyla birlikte açıklanmasıdır."}'
)
JUDGE_ANSWER = (
    '{"dogruluk":5,"kulturel_uygunluk":5,"halusinasyon":false,"halusinasyon_iddiasi":null,'
    '"gerekce":"Cevap soruyla uyumlu ve Türkçe."}'
)
TASKS_ANSWER = (
    '{"gorevler":["Türk hukukunda zamanaşımı ile hak düşürücü süre arasındaki farkları açıklayınız.",'
    '"Tanzimat döneminde yapılan hukuki düzenlemelerin toplumsal etkilerini değerlendiriniz."]}'
)
PAIRWISE_ANSWER = '{"kazanan":"berabere","gerekce":"İki cevap da aynı ölçüde yeterli."}'
SCHEMA_ANSWERS = (COT_ANSWER, JUDGE_ANSWER, TASKS_ANSWER, PAIRWISE_ANSWER)

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tiny_teacher(directory: Path, answers: tuple[str, ...] = (ANSWER_TEXT,)) -> Path:
    """Write config, weights, tokenizer and chat template to ``directory``; return it. After
    ``<|assistant|>`` the model answers ``answers[0]`` (logit 20), else ``answers[1]`` (19), ... (what a
    constrained decoder allows), then ``</s>``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    specials = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        TURKISH_TEXT * 4,
        trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="</s>",
    )
    from tokenizers import AddedToken

    fast.add_tokens([AddedToken(a, special=False, normalized=False) for a in answers])
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(directory)

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, head_dim=32, max_position_embeddings=2048,
        bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    assistant, eos = (fast.convert_tokens_to_ids(t) for t in ("<|assistant|>", "</s>"))
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embed, head = model.model.embed_tokens.weight, model.lm_head.weight
        embed[assistant].zero_()
        embed[assistant, 0] = 1.0
        head.zero_()
        for rank, text in enumerate(answers):
            answer = fast.convert_tokens_to_ids(text)
            embed[answer].zero_()
            embed[answer, 1] = 1.0
            head[answer, 0] = 20.0 - rank  # after <|assistant|>: the answer (logit 20 vs 0 for the rest)
        head[eos, 1] = 20.0  # after an answer: end of sequence
    model.generation_config.eos_token_id = fast.eos_token_id
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(directory)
    return directory
