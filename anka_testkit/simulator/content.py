"""The simulator's answers: a pure function of the request body (and of the drawn content-level fault)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from anka_assets.judge_criteria import (
    CRITERIA,
    SCORE_MAX,
    SCORE_MIN,
    Criterion,
    SimBehaviour,
    SimFlag,
    SimNear,
    SimQuote,
    SimReason,
    SimScore,
)
from anka_assets.simulated import MODEL_PREFIX
from anka_testkit.simulator.banks import (
    ANSWERS,
    ASPECTS,
    FILLER_WORDS,
    FIRST_STEPS,
    GEREKCE_HIGH,
    GEREKCE_LOW,
    GEREKCE_MID,
    LAST_STEPS,
    MIDDLE_STEPS,
    NUMBER_STEP,
    PLAIN,
    DOMAIN_TASK_TEMPLATES,
    DOMAIN_TOPICS,
    TASK_TEMPLATES,
)
from anka_testkit.simulator.extract import (
    FALLBACK_TOPICS,
    domain_of,
    example_topics,
    count_tokens,
    cut_to_tokens,
    extract_question,
    key_phrases,
    last_user_text,
    message_text,
    shorten,
    squash,
    tr_capitalize,
    tr_lower,
)
from anka_testkit.simulator.turkish import Phrase

#: Sentence appended to every chain-of-thought answer (inside ``cevap``) and every plain-text answer.
SIMULATOR_MARKER = "(Bu yanıt ANKA simülatörü tarafından üretilmiştir.)"

# Fictitious personal data used by the pii_echo fault when the prompt contains none. Both are made up:
# 10000000146 passes the T.C. Kimlik No checksum (so a PII filter must catch it) but belongs to nobody,
# and 0532 123 45 67 is a placeholder mobile number.
FAKE_PII_TCKN = "10000000146"
FAKE_PII_PHONE = "0532 123 45 67"

def _content_rng(body: dict[str, Any]) -> tuple[random.Random, str]:
    key = {
        "model": body.get("model"),
        "messages": body.get("messages"),
        "temperature": body.get("temperature"),
        "seed": body.get("seed"),
        "max_tokens": body.get("max_tokens"),
        "max_completion_tokens": body.get("max_completion_tokens"),
        "response_format": body.get("response_format"),
    }
    canonical = json.dumps(key, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return random.Random(int(digest, 16)), digest


@dataclass
class _Topic:
    konu: str
    phrases: list[str]
    numbers: list[str]

    def fill(self, template: str, rng: random.Random, step_no: int | None = None) -> str:
        k1 = self.phrases[0]
        k2 = self.phrases[1] if len(self.phrases) > 1 else "ilgili temel kavramlar"
        if len(self.phrases) > 1:
            k1, k2 = rng.sample(self.phrases[: min(len(self.phrases), 6)], 2)
        aci = rng.choice(ASPECTS)
        k1, k2 = Phrase(k1), Phrase(k2)
        text = template.format(
            konu=self.konu, k1=k1, k2=k2, K1=tr_capitalize(k1), K2=tr_capitalize(k2),
            aci=aci, Aci=tr_capitalize(aci), sayilar=", ".join(self.numbers[:4]),
        )
        return f"{step_no}. {text}" if step_no is not None else text


def _topic(question: str) -> _Topic:
    phrases = key_phrases(question) or ["konunun temel unsurları"]
    numbers = re.findall(r"(?<![\w.,])\d+(?:[.,]\d+)?(?![\w])", question)
    return _Topic(konu=shorten(question) or "soru", phrases=phrases, numbers=numbers)


def _cot(question: str, rng: random.Random) -> tuple[list[str], str]:
    topic = _topic(question)
    n_steps = rng.randint(3, 6)
    middle = rng.sample(MIDDLE_STEPS, n_steps - 2)
    if topic.numbers and n_steps > 3:
        middle[0] = NUMBER_STEP
    templates = [rng.choice(FIRST_STEPS), *middle, rng.choice(LAST_STEPS)]
    steps = [topic.fill(t, rng, i + 1) for i, t in enumerate(templates)]
    answer = topic.fill(rng.choice(ANSWERS), rng) + " " + SIMULATOR_MARKER
    return steps, answer


def _answer_under_review(text: str) -> str:
    """The answer a judge prompt asks to grade (best effort)."""
    tagged = re.findall(r"<cevap>(.*?)</cevap>", text, re.S | re.I)
    if tagged:
        return squash(tagged[-1])
    labelled = re.search(
        r"(?:^|\n)\s*(?:öğrenci(?:nin)? (?:yanıtı|cevabı)|model(?:in)? (?:yanıtı|cevabı)|(?:nihai )?(?:yanıt|cevap))"
        r"\s*:\s*(.+?)"
        r"(?:\n\s*\n|\Z)",
        text,
        re.S | re.I,
    )
    if labelled:
        return squash(labelled.group(1))
    as_json = re.search(r'"cevap"\s*:\s*"((?:[^"\\]|\\.)*)"', text)
    if as_json:
        with contextlib.suppress(json.JSONDecodeError):
            return squash(json.loads(f'"{as_json.group(1)}"'))
    return squash(text)


#: The reason banks a `SimReason` draws from, by the score of the criterion it follows.
_REASON_BANKS = {"high": GEREKCE_HIGH, "mid": GEREKCE_MID, "low": GEREKCE_LOW}


class _Verdict:
    """A simulated verdict drawn value by value as each criterion's `simulate` entry in
    `anka_assets.judge_criteria` says; a value another one depends on is drawn first, once (so the
    random draws follow the dependencies, then the criteria's order)."""

    def __init__(self, criteria: Sequence[Criterion], prompt_text: str, rng: random.Random) -> None:
        self.by_name = {c.name: c for c in criteria}
        self.prompt_text, self.rng = prompt_text, rng
        self.values: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.values:
            self.values[name] = self._draw(self.by_name[name].simulate)
        return self.values[name]

    def _draw(self, sim: SimBehaviour) -> Any:
        rng = self.rng
        if isinstance(sim, SimFlag):
            return rng.random() < sim.probability
        if isinstance(sim, SimScore):
            weights = sim.flagged_weights if sim.flagged_by and self[sim.flagged_by] else sim.weights
            return rng.choices(range(SCORE_MIN, SCORE_MIN + len(weights)), weights=weights)[0]
        if isinstance(sim, SimNear):
            return max(SCORE_MIN, min(SCORE_MAX, self[sim.of] + rng.choice(sim.offsets)))
        if isinstance(sim, SimQuote):
            return self._quote(sim.fallback) if self[sim.flag] else None
        if isinstance(sim, SimReason):
            if self[sim.flag]:
                return sim.quote_template.format(quote=self[sim.quote].rstrip(".!?"))
            score = self[sim.score]
            return rng.choice(_REASON_BANKS["high" if score >= 4 else "mid" if score == 3 else "low"])
        raise TypeError(f"simulator: unknown judge behaviour {sim!r}")  # pragma: no cover

    def _quote(self, fallback: str) -> str:
        answer = _answer_under_review(self.prompt_text).replace(SIMULATOR_MARKER, "")
        sentences = [
            s.strip() for s in re.split(r"(?<=[.!?])\s+", answer) if len(s.split()) >= 4 and len(s) <= 300
        ]
        return self.rng.choice(sentences) if sentences else fallback


def _judge(prompt_text: str, rng: random.Random, criteria: Sequence[Criterion] = CRITERIA) -> dict[str, Any]:
    """A verdict on every criterion, in the criteria's order (the keys the judge's schema asks for)."""
    verdict = _Verdict(criteria, prompt_text, rng)
    return {c.name: verdict[c.name] for c in criteria}


_COUNT_PATTERNS = [
    r"(\d+)\s*(?:adet\s+)?(?:tane\s+)?(?:yeni|farklı|özgün)\s+(?:\w+\s+)?(?:görev|soru|talimat)",
    r"(\d+)\s*(?:adet\s+|tane\s+)?(?:görev|soru|talimat)",
    r"(\d+)\s+(?:new\s+)?(?:tasks?|instructions?|questions?)",
]


def _requested_count(text: str, schema: dict[str, Any] | None) -> int:
    count = None
    for pattern in _COUNT_PATTERNS:
        match = re.search(pattern, text, re.I)
        if match and 0 < int(match.group(1)) <= 200:
            count = int(match.group(1))
            break
    if count is None:
        count = 5
    items = ((schema or {}).get("properties") or {}).get("gorevler") or {}
    if isinstance(items, dict):
        if isinstance(items.get("minItems"), int):
            count = max(count, items["minItems"])
        if isinstance(items.get("maxItems"), int):
            count = min(count, items["maxItems"])
    return max(count, 0)


def _example_tasks(text: str) -> list[str]:
    examples = [m.group(1).strip() for m in re.finditer(r"(?mi)^\s*örnek (?:görev|soru)\s*:\s*(.+)$", text)]
    examples += [m.group(1).strip() for m in re.finditer(r"(?m)^\s*(?:[-*•]|\d+[.)])\s+(.+)$", text)]
    examples += [m.group(1).strip() for m in re.finditer(r"[«“\"]([^«»“”\"]{12,400})[»”\"]", text)]
    return [e for e in examples if len(e.split()) >= 3]


def _task_list(messages: Sequence[Any], rng: random.Random, schema: dict[str, Any] | None) -> list[str]:
    """Plausible expansion tasks: templates (generic and per domain) over topics taken from the example
    tasks and from the domain's bank of real Turkish topics; every task ends as an instruction."""
    user = last_user_text(messages)
    everything = "\n".join(message_text(m) for m in messages)
    examples = _example_tasks(user) or _example_tasks(everything) or [user]
    count = _requested_count(everything, schema)
    domain = domain_of(everything)
    own = example_topics(examples)[:4]  # topics of the examples come first: the tasks stay on subject
    bank = list(DOMAIN_TOPICS.get(domain, FALLBACK_TOPICS) if domain else FALLBACK_TOPICS)
    rng.shuffle(bank)
    seen = {tr_lower(t) for t in own}
    topics = own + [t for t in bank if tr_lower(t) not in seen]
    templates = [*TASK_TEMPLATES, *DOMAIN_TASK_TEMPLATES.get(domain or "", [])]
    rng.shuffle(templates)
    example_keys = {tr_lower(squash(e)) for e in examples}
    tasks: list[str] = []
    keys: set[str] = set()
    n_p, n_t = len(topics), len(templates)
    for idx in range(n_p * n_t):
        if len(tasks) >= count:
            break
        template = templates[idx % n_t]
        p = topics[(idx + idx // n_t) % n_p]
        q = topics[(idx + idx // n_t + 1 + rng.randrange(max(n_p - 1, 1))) % n_p]
        if q == p:
            q = topics[(topics.index(p) + 1) % n_p]
        task = template.format(p=Phrase(p), q=Phrase(q))
        key = tr_lower(task)
        if key in keys or key in example_keys:
            continue
        keys.add(key)
        tasks.append(task)
    serial = 1
    while len(tasks) < count:  # more tasks requested than combinations: ask for another example each time
        base = tasks[(serial - 1) % len(tasks)].rstrip(".") if tasks else "Genel kültür sorusu"
        tasks.append(f"{base} ve {serial + 1}. bir örnek veriniz.")
        serial += 1
    return tasks


def _fill_schema(schema: Any, rng: random.Random, root: dict[str, Any], depth: int = 0, hint: str = "") -> Any:
    """A valid instance of a (reasonable subset of) JSON Schema."""
    if not isinstance(schema, dict) or depth > 10:
        return None if depth > 10 else "örnek"
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _fill_schema(target, rng, root, depth + 1, hint)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            return _fill_schema(rng.choice(non_null or options), rng, root, depth + 1, hint)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if isinstance(part, dict):
                for k, v in part.items():
                    if k == "properties":
                        merged.setdefault("properties", {}).update(v)
                    elif k == "required":
                        merged["required"] = list({*merged.get("required", []), *v})
                    else:
                        merged.setdefault(k, v)
        return _fill_schema(merged, rng, root, depth + 1, hint)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if kinds else "null"
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        props = schema.get("properties") or {}
        out = {name: _fill_schema(sub, rng, root, depth + 1, name) for name, sub in props.items()}
        for name in schema.get("required") or []:
            out.setdefault(name, "örnek")
        return out
    if kind == "array":
        low = int(schema.get("minItems", 1))
        high = int(schema.get("maxItems", max(low, 3)))
        n = rng.randint(min(low, high), max(low, min(high, low + 2)))
        items = schema.get("items") or {"type": "string"}
        values = [_fill_schema(items, rng, root, depth + 1, hint) for _ in range(n)]
        if schema.get("uniqueItems"):
            unique: list[Any] = []
            for i, value in enumerate(values):
                if value in unique and isinstance(value, str):
                    value = f"{value} {i + 1}"
                if value not in unique:
                    unique.append(value)
            values = unique
        return values
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date":
            return "2024-05-17"
        if fmt == "date-time":
            return "2024-05-17T10:30:00Z"
        if fmt == "email":
            return "kullanici@example.com"
        if fmt in ("uri", "url"):
            return "https://example.com/ornek"
        if fmt == "uuid":
            return "00000000-0000-4000-8000-000000000000"
        words = rng.sample(FILLER_WORDS, rng.randint(2, 5))
        text = (f"{hint} için " if hint else "") + " ".join(words)
        min_len = int(schema.get("minLength", 0))
        max_len = schema.get("maxLength")
        while len(text) < min_len:
            text += " " + rng.choice(FILLER_WORDS)
        if isinstance(max_len, int):
            text = text[:max_len]
        return text
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0 if kind == "integer" else 0.0))
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 10))
        if kind == "integer":
            lo = math.ceil(low) + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
            hi = math.floor(high) - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
            return rng.randint(lo, max(lo, hi))
        return round(rng.uniform(float(low), float(high)), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    return None


def _response_schema(response_format: Any) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """(type, json_schema name, schema) of a response_format."""
    if not isinstance(response_format, dict):
        return None, None, None
    rtype = response_format.get("type")
    if rtype != "json_schema":
        return rtype, None, None
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") if isinstance(spec.get("schema"), dict) else None
    return rtype, spec.get("name"), schema


def _tagged(steps: list[str], answer: str) -> str:
    return "<adimlar>\n" + "\n".join(steps) + "\n</adimlar>\n<cevap>\n" + answer + "\n</cevap>"


@dataclass
class _Draft:
    """A generated answer before serialisation, so PII can be injected without breaking its format."""

    kind: str  # "json" | "tagged" | "text"
    data: Any

    def inject(self, sentence: str) -> None:
        if self.kind == "tagged":
            steps, answer = self.data
            self.data = (steps, _insert_before_marker(answer, sentence))
        elif self.kind == "text":
            self.data = _insert_before_marker(self.data, sentence)
        elif isinstance(self.data, dict) and isinstance(self.data.get("cevap"), str):
            self.data["cevap"] = _insert_before_marker(self.data["cevap"], sentence)
        elif isinstance(self.data, dict) and isinstance(self.data.get("gerekce"), str):
            self.data["gerekce"] += " " + sentence
        elif isinstance(self.data, dict) and isinstance(self.data.get("gorevler"), list) and self.data["gorevler"]:
            self.data["gorevler"][0] += " " + sentence
        elif not _inject_first_string(self.data, sentence):
            self.kind, self.data = "text", json.dumps(self.data, ensure_ascii=False) + " " + sentence

    def render(self) -> str:
        if self.kind == "json":
            return json.dumps(self.data, ensure_ascii=False)
        if self.kind == "tagged":
            return _tagged(*self.data)
        return str(self.data)


def _insert_before_marker(text: str, sentence: str) -> str:
    if text.endswith(SIMULATOR_MARKER):
        return text[: -len(SIMULATOR_MARKER)] + sentence + " " + SIMULATOR_MARKER
    return text + " " + sentence


def _inject_first_string(data: Any, sentence: str) -> bool:
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str):
                data[key] = value + " " + sentence
                return True
            if _inject_first_string(value, sentence):
                return True
    elif isinstance(data, list):
        for i, value in enumerate(data):
            if isinstance(value, str):
                data[i] = value + " " + sentence
                return True
            if _inject_first_string(value, sentence):
                return True
    return False


NO_JSON_COT = "_anka_sim_ignored_response_format"


def _draft(body: dict[str, Any], rng: random.Random) -> _Draft:
    messages = body.get("messages") or []
    rtype, name, schema = _response_schema(body.get("response_format"))
    prompt_text = "\n".join(message_text(m) for m in messages)
    question = extract_question(last_user_text(messages))
    if rtype == "json_schema":
        if name == "cot_answer":
            steps, answer = _cot(question, rng)
            return _Draft("json", {"adimlar": steps, "cevap": answer})
        if name == "judge_verdict":
            return _Draft("json", _judge(prompt_text, rng))
        if name == "task_list":
            return _Draft("json", {"gorevler": _task_list(messages, rng, schema)})
        return _Draft("json", _fill_schema(schema or {"type": "object"}, rng, schema or {}))
    low = tr_lower(prompt_text)
    mentions_json = "json" in low
    mentions_dogruluk = "dogruluk" in low or "doğruluk" in low
    judge_like = mentions_json and mentions_dogruluk
    if judge_like and ("halusinasyon" in low or "halüsinasyon" in low):
        return _Draft("json", _judge(prompt_text, rng))
    if "<adimlar>" in low:
        return _Draft("tagged", _cot(question, rng))
    if body.get(NO_JSON_COT) and "adimlar" in low and not judge_like:
        # A server that ignored response_format, and a small model that does not manage the JSON the
        # prompt asks for without it: prose (as transformers serve with a small model answered).
        return _Draft("text", _topic(question).fill(rng.choice(PLAIN), rng) + " " + SIMULATOR_MARKER)
    if judge_like:
        return _Draft("json", _judge(prompt_text, rng))
    if mentions_json and "gorevler" in low:
        return _Draft("json", {"gorevler": _task_list(messages, rng, None)})
    if "adimlar" in low and (mentions_json or rtype == "json_object"):
        steps, answer = _cot(question, rng)
        return _Draft("json", {"adimlar": steps, "cevap": answer})
    if rtype == "json_object":
        return _Draft("json", {"cevap": _topic(question).fill(rng.choice(PLAIN), rng) + " " + SIMULATOR_MARKER})
    return _Draft("text", _topic(question).fill(rng.choice(PLAIN), rng) + " " + SIMULATOR_MARKER)


_PII_PATTERNS = [
    re.compile(r"\bTR\d{2}(?:[ ]?\d){22}\b", re.I),  # TR IBAN (26 characters, optionally grouped)
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),  # e-mail
    re.compile(r"(?<![\d+])(?:\+90[ ]?|0)?5\d{2}[ ]?\d{3}[ ]?\d{2}[ ]?\d{2}(?!\d)"),  # TR mobile phone
    re.compile(r"(?<!\d)0[2-4]\d{2}[ ]\d{3}[ ]\d{2}[ ]\d{2}(?!\d)"),  # TR landline, grouped
    re.compile(r"(?<!\d)\d{10,11}(?!\d)"),  # TCKN / VKN and other long digit runs
]


def _pii_tokens(text: str) -> list[str]:
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    for pattern in _PII_PATTERNS:
        for match in pattern.finditer(text):
            if any(s < match.end() and match.start() < e for s, e in spans):
                continue
            spans.append(match.span())
            token = match.group(0).strip()
            if token not in found:
                found.append(token)
    return found


def _pii_sentence(prompt_text: str) -> str:
    tokens = _pii_tokens(prompt_text)
    if tokens:
        return "İlgili kişinin bilgileri: " + ", ".join(tokens[:8]) + "."
    # No personal data in the prompt: echo a fictitious but checksum-valid T.C. Kimlik No and a made-up
    # phone number, so output-side PII filters are exercised anyway.
    return f"İlgili kişinin T.C. Kimlik No'su {FAKE_PII_TCKN}, telefonu {FAKE_PII_PHONE}."


def _malformed(content: str) -> str:
    """Broken JSON: cut in the middle with a stray closing brace (guaranteed not to parse)."""
    if not content.lstrip().startswith(("{", "[")):
        content = json.dumps({"cevap": content}, ensure_ascii=False)
    broken = content[: max(len(content) // 2, 1)] + "}"
    try:
        json.loads(broken)
    except ValueError:
        return broken
    return "{" + broken  # "{{" never parses


def generate_completion(body: dict[str, Any], outcome: str = "ok") -> tuple[str, str, dict[str, int], str]:
    """``(content, finish_reason, usage, digest)`` for a request body; pure function of body and outcome.

    ``outcome`` is one of ``ok``, ``hang``, ``malformed``, ``truncated``, ``pii_echo`` (the content-level
    outcomes; ``hang`` answers like ``ok``).
    """
    rng, digest = _content_rng(body)
    messages = body.get("messages") or []
    prompt_text = "\n".join(message_text(m) for m in messages)
    draft = _draft(body, rng)
    if outcome == "pii_echo":
        draft.inject(_pii_sentence(prompt_text))
    content = draft.render()
    finish_reason = "stop"
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and count_tokens(content) > max_tokens:
        content = cut_to_tokens(content, max_tokens)
        finish_reason = "length"
    if outcome == "malformed":
        content = _malformed(content)
    elif outcome == "truncated":
        content = content[: len(content) // 2]
        finish_reason = "length"
    prompt_tokens = count_tokens(prompt_text)
    completion_tokens = count_tokens(content)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return content, finish_reason, usage, digest
