"""Base vs base + adapter on the release's held-out tasks: reference loss / perplexity, generated
answers, and pairwise judge verdicts combined into a win rate per domain.

The model side runs transformers on CPU (one model load: the adapter is switched off with
`disable_adapter()` for the base) or vLLM with `enable_lora=True` and a `LoRARequest` on CUDA.
Combining verdicts and rates is pure and tested on its own. An empty answer loses without asking the
judge (both empty: a tie), and one payload is asked once even when two rows (the two orders of a pair
with identical answers) would give it two cache keys (`plan_judging`).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from anka_assets.parsing import PairwiseVerdict
from anka_assets.seed_loader import default_domain_label
from anka_assets.student.deps import require, require_cuda
from anka_assets.student.release import EvalTask


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------


def load_student(base_path: str, adapter_dir: str):
    """(tokenizer, PeftModel) on CPU or the one CUDA device; `model.disable_adapter()` gives the base."""
    torch = require("torch")
    transformers = require("transformers")
    peft = require("peft")
    tokenizer = transformers.AutoTokenizer.from_pretrained(adapter_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.float32 if device == "cpu" else "auto"
    base = transformers.AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype).to(device)
    model = peft.PeftModel.from_pretrained(base, adapter_dir).eval()
    return tokenizer, model


def _variant(model, adapter: bool):
    return nullcontext() if adapter else model.disable_adapter()


def reference_nll(model, tokenizer, tasks: Sequence[EvalTask], *, adapter: bool, max_length: int) -> list[tuple[float, int]]:
    """(summed negative log-likelihood, token count) of each task's reference answer given its prompt.
    Tasks without a reference give (0.0, 0)."""
    torch = require("torch")
    out = []
    with _variant(model, adapter), torch.no_grad():
        for task in tasks:
            if task.reference is None:
                out.append((0.0, 0))
                continue
            prompt = tokenizer.apply_chat_template(task.prompt, tokenize=False, add_generation_prompt=True)
            full = tokenizer.apply_chat_template(task.prompt + [{"role": "assistant", "content": task.reference}],
                                                 tokenize=False)
            p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            ids = tokenizer(full, add_special_tokens=False)["input_ids"][:max_length]
            if len(ids) <= len(p_ids):
                out.append((0.0, 0))
                continue
            input_ids = torch.tensor([ids], device=model.device)
            logits = model(input_ids=input_ids).logits[0, :-1].float()
            targets = input_ids[0, 1:]
            logprobs = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None])[:, 0]
            answer = logprobs[len(p_ids) - 1:]
            out.append((float(-answer.sum()), int(answer.numel())))
    return out


def generate_answers(model, tokenizer, tasks: Sequence[EvalTask], *, adapter: bool, max_new_tokens: int) -> list[str]:
    """Greedy answers with transformers `generate` (CPU path)."""
    torch = require("torch")
    answers = []
    with _variant(model, adapter), torch.no_grad():
        for task in tasks:
            prompt = tokenizer.apply_chat_template(task.prompt, tokenize=False, add_generation_prompt=True)
            ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").to(model.device)
            generated = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                                       pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            answers.append(tokenizer.decode(generated[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    return answers


def generate_answers_vllm(base_path: str, adapter_dir: str, tasks: Sequence[EvalTask], *, max_new_tokens: int,
                          max_lora_rank: int) -> tuple[list[str], list[str], dict[str, float]]:
    """(base answers, adapter answers, throughput) from one vLLM engine serving the adapter (CUDA only)."""
    require_cuda("vLLM generation")
    vllm = require("vllm", extra="gpu")
    from vllm.lora.request import LoRARequest
    import time

    llm = vllm.LLM(model=base_path, enable_lora=True, max_lora_rank=max(8, max_lora_rank), max_loras=1)
    params = vllm.SamplingParams(temperature=0.0, max_tokens=max_new_tokens)
    conversations = [t.prompt for t in tasks]
    started = time.perf_counter()
    base = llm.chat(conversations, params)
    tuned = llm.chat(conversations, params, lora_request=LoRARequest("student", 1, adapter_dir))
    wall = time.perf_counter() - started
    tokens = sum(len(o.outputs[0].token_ids) for o in base + tuned)
    return ([o.outputs[0].text.strip() for o in base], [o.outputs[0].text.strip() for o in tuned],
            {"vllm_generated_tokens": tokens, "vllm_tokens_per_s": round(tokens / wall, 1) if wall else 0.0})


# ------------------------------------------------------------------------------------------------
# Pairwise judging (pure apart from the template)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairPlan:
    """The two orders in which one task's answers are shown to the judge; `first` is drawn at random."""

    task_index: int
    first: str  # "base" or "adapter": which model is answer A in the first request


def plan_pairs(tasks: Sequence[EvalTask], seed: int) -> list[PairPlan]:
    """A random (seeded, per task) first order; both orders are always asked."""
    plans = []
    for i, task in enumerate(tasks):
        digest = hashlib.sha256(f"{seed}\x00{task.seed_id}".encode()).digest()
        plans.append(PairPlan(i, random.Random(digest).choice(("base", "adapter"))))
    return plans


def pairwise_rows(tasks: Sequence[EvalTask], plans: Sequence[PairPlan], base_answers: Sequence[str],
                  adapter_answers: Sequence[str], labels: Mapping[str, str] | None = None) -> list[dict]:
    """The rows the `PAIRWISE` task runs over: two per task, (A, B) in the planned first order, then
    swapped (``order`` 0 and 1). ``labels``: domain -> label shown to the judge (the seed file's)."""
    rows = []
    for plan in plans:
        task = tasks[plan.task_index]
        answers = {"base": base_answers[plan.task_index], "adapter": adapter_answers[plan.task_index]}
        second = "adapter" if plan.first == "base" else "base"
        for order, (a, b) in enumerate(((plan.first, second), (second, plan.first))):
            rows.append({"seed_id": task.seed_id, "sensitivity": task.sensitivity, "order": order,
                         "instruction": task.instruction,
                         "domain_label": (labels or {}).get(task.domain) or default_domain_label(task.domain),
                         "answer_a": answers[a], "answer_b": answers[b], "reference": task.reference})
    return rows


#: The reason recorded for a verdict settled without the judge (an empty answer loses; two empty ones tie).
EMPTY_A, EMPTY_B, EMPTY_BOTH = "A boş cevap verdi.", "B boş cevap verdi.", "İki cevap da boş."


def settled_verdict(answer_a: str | None, answer_b: str | None) -> PairwiseVerdict | None:
    """The verdict when an answer is empty (the empty one loses; both empty: a tie), else None (ask the judge)."""
    a_empty, b_empty = not (answer_a or "").strip(), not (answer_b or "").strip()
    if a_empty and b_empty:
        return PairwiseVerdict("berabere", EMPTY_BOTH)
    if a_empty:
        return PairwiseVerdict("B", EMPTY_A)
    if b_empty:
        return PairwiseVerdict("A", EMPTY_B)
    return None


@dataclass(frozen=True)
class JudgePlan:
    """Which pairwise rows go to the judge. `ask`: the rows to send, one per distinct payload; `routes[i]`:
    for row i either ("settled", verdict) or ("asked", index into `ask`)."""

    ask: list[dict]
    routes: list[tuple[str, Any]]

    @property
    def settled(self) -> int:
        return sum(kind == "settled" for kind, _ in self.routes)

    @property
    def shared(self) -> int:
        """Rows answered by another row's request (the same payload under another cache key)."""
        return len(self.routes) - self.settled - len(self.ask)


def payload_key(row: Mapping[str, Any], variables) -> str:
    """What makes a pairwise request's text and labels: the template variables and the KVKK label (not the
    order or the seed id, which only change its cache key)."""
    return json.dumps([variables(row), row.get("sensitivity")], ensure_ascii=False, sort_keys=True)


def plan_judging(rows: Sequence[Mapping[str, Any]], variables) -> JudgePlan:
    """Empty answers are settled here; identical payloads (the two orders of a pair whose answers are the
    same, or two tasks with the same text and answers) are asked once and share the verdict.
    `variables`: the task's row -> template variables (`model_tasks.PAIRWISE.variables`). Pure."""
    ask: list[dict] = []
    first: dict[str, int] = {}
    routes: list[tuple[str, Any]] = []
    for row in rows:
        verdict = settled_verdict(row["answer_a"], row["answer_b"])
        if verdict is not None:
            routes.append(("settled", verdict))
            continue
        key = payload_key(row, variables)
        if key not in first:
            first[key] = len(ask)
            ask.append(dict(row))
        routes.append(("asked", first[key]))
    return JudgePlan(ask, routes)


def plan_verdicts(plan: JudgePlan, asked: Sequence[PairwiseVerdict | None]) -> list[PairwiseVerdict | None]:
    """One verdict per pairwise row, from the settled ones and the judge's answers to `plan.ask`."""
    if len(asked) != len(plan.ask):
        raise ValueError(f"{len(asked)} judge verdicts for {len(plan.ask)} requests")
    return [value if kind == "settled" else asked[value] for kind, value in plan.routes]


def winner(verdict: PairwiseVerdict | None, a_model: str) -> str | None:
    """'base' | 'adapter' | 'tie' for one verdict, given which model was answer A; None if no verdict."""
    if verdict is None:
        return None
    if verdict.kazanan == "berabere":
        return "tie"
    b_model = "adapter" if a_model == "base" else "base"
    return a_model if verdict.kazanan == "A" else b_model


def combine(first: str | None, second: str | None) -> str:
    """One outcome per task from its two orders: agreeing verdicts win, a split or tie is a tie,
    a single usable verdict stands alone, none is 'error'."""
    got = [v for v in (first, second) if v is not None]
    if not got:
        return "error"
    if len(got) == 1:
        return got[0]
    return got[0] if got[0] == got[1] else "tie"


def task_outcomes(plans: Sequence[PairPlan], verdicts: Sequence[PairwiseVerdict | None]) -> list[str]:
    out = []
    for k, plan in enumerate(plans):
        second_a = "adapter" if plan.first == "base" else "base"
        out.append(combine(winner(verdicts[2 * k], plan.first), winner(verdicts[2 * k + 1], second_a)))
    return out


def win_rate(outcomes: Sequence[str]) -> float | None:
    """Adapter wins plus half the ties, over judged tasks; None when nothing was judged."""
    judged = [o for o in outcomes if o != "error"]
    if not judged:
        return None
    return (sum(o == "adapter" for o in judged) + 0.5 * sum(o == "tie" for o in judged)) / len(judged)


def perplexity(nll: float, tokens: int) -> float | None:
    return math.exp(nll / tokens) if tokens else None


def domain_rows(tasks: Sequence[EvalTask], base_nll, adapter_nll, outcomes: Sequence[str]) -> list[dict[str, Any]]:
    """Per-domain figures plus an 'ALL' row."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, task in enumerate(tasks):
        groups[task.domain].append(i)
    groups_all = {**dict(sorted(groups.items())), "ALL": list(range(len(tasks)))}
    rows = []
    for domain, idx in groups_all.items():
        b_nll, b_tok = sum(base_nll[i][0] for i in idx), sum(base_nll[i][1] for i in idx)
        a_nll, a_tok = sum(adapter_nll[i][0] for i in idx), sum(adapter_nll[i][1] for i in idx)
        outs = [outcomes[i] for i in idx]
        rows.append({
            "domain": domain, "suite": "eval_tasks", "tasks": len(idx),
            "reference_tokens": b_tok,
            "base_loss": b_nll / b_tok if b_tok else None, "adapter_loss": a_nll / a_tok if a_tok else None,
            "base_perplexity": perplexity(b_nll, b_tok), "adapter_perplexity": perplexity(a_nll, a_tok),
            "adapter_wins": outs.count("adapter"), "base_wins": outs.count("base"), "ties": outs.count("tie"),
            "judge_errors": outs.count("error"), "win_rate": win_rate(outs),
            "base_accuracy": None, "adapter_accuracy": None,
        })
    return rows
