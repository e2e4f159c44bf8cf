"""An offline toy base model: a tiny Llama with a BPE tokenizer trained on the project's Turkish text.

With no base model configured the whole graph still runs end to end on a CPU: this builds a
2-layer Llama (hidden 64, 2 heads of 32: vLLM's CPU attention needs head_dim >= 32) from a config,
with random weights and a byte-level BPE tokenizer trained by `tokenizers` on the release text (the
stored tables' Turkish, as `sft_export` wrote it; never the seed files, so a broken seed file fails
only its own domain), and a chat template with special tokens and `{% generation %}` marks. It is built once
per text corpus, under `<adapters_dir>/base/<hash>/`, and `anka_toy.json` there marks it as a toy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from anka_assets.student.deps import require

TOY_MARKER = "anka_toy.json"
TOY_VERSION = "anka-toy-llama-v1"
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
EOS = "<|end|>"

#: The chat template: one `<|role|>` line per message, the assistant's text inside generation marks
#: (so TRL's assistant-only loss can find it), and `<|end|>` (the EOS token) after every message.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|' + message['role'] + '|>\\n' }}"
    "{%- if message['role'] == 'assistant' -%}"
    "{% generation %}{{ message['content'] + '<|end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{%- else -%}"
    "{{ message['content'] + '<|end|>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|assistant|>\\n' }}{%- endif -%}"
)

TOY_SHAPE = {
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "max_position_embeddings": 1024,
    "vocab_size": 2000,
}


def corpus_hash(texts: Iterable[str]) -> str:
    digest = hashlib.sha256(TOY_VERSION.encode())
    digest.update(json.dumps(TOY_SHAPE, sort_keys=True).encode())
    for text in texts:
        digest.update(unicodedata.normalize("NFC", text).encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def train_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer (NFC) wrapped as a transformers fast tokenizer with the chat template."""
    tokenizers = require("tokenizers")
    transformers = require("transformers")
    from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token=EOS, pad_token="<pad>",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>", "</s>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "right"
    return fast


def build_toy_model(texts: list[str], cache_root: Path, seed: int = 0) -> Path:
    """Build (or reuse) the toy base model for this text corpus; returns its folder."""
    if not texts:
        raise ValueError("the toy tokenizer needs some text: the release has no text")
    target = Path(cache_root) / corpus_hash(texts)
    if (target / TOY_MARKER).is_file():
        return target
    torch = require("torch")
    transformers = require("transformers")
    tokenizer = train_tokenizer(texts, TOY_SHAPE["vocab_size"])
    config = transformers.LlamaConfig(
        **{**TOY_SHAPE, "vocab_size": len(tokenizer)},
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(config)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / TOY_MARKER).write_text(json.dumps({
        "toy": True, "version": TOY_VERSION, "shape": TOY_SHAPE, "texts": len(texts), "seed": seed,
        "note": "random-weight toy model for offline runs; its scores mean nothing about real models",
    }, ensure_ascii=False, indent=2), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)  # atomic: a half-built folder is never mistaken for the model
    return target


def is_toy(model_path: str | Path) -> bool:
    return (Path(model_path) / TOY_MARKER).is_file()
