"""Built-in OpenAI-compatible HTTP simulator for tests, benchmarks and the offline quick start.

The simulator answers ``POST /v1/chat/completions`` with deterministic, plausible Turkish content in the
formats of ``docs/CONTRACTS.md`` (``cot_answer``, ``judge_verdict``, ``task_list``, the tagged
``<adimlar>``/``<cevap>`` fallback, generic JSON-schema instances, plain text) and can inject faults
(latency, 429, 500, hangs, malformed JSON, truncation, PII echo) so the gateway's retry, timeout,
parsing and PII-filter paths can be exercised without a real model.

Two ways to run it:

* in-process (tests)::

      with SimulatorServer(faults=FaultConfig(rate_429=0.1), port=0) as sim:
          client = OpenAI(base_url=sim.base_url, api_key="sim")
          ...
          sim.stats(); sim.received()

* as a process (quick start, benchmarks)::

      python -m anka_assets.simulator --port 8321 --latency uniform:0.5,3.5 --rate-429 0.1

Content is a pure function of the request body (model, messages, temperature, seed, max_tokens,
response_format); faults are drawn from a server-level RNG seeded by ``FaultConfig.seed`` so that a
retry of a faulted request can succeed. Every answer is marked as simulated: the response ``model``
is ``"anka-simulator:<requested model>"`` and chain-of-thought answers end with
:data:`SIMULATOR_MARKER`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import ipaddress
import json
import math
import random
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = [
    "DEFAULT_MODELS",
    "FAKE_PII_PHONE",
    "FAKE_PII_TCKN",
    "OUTCOMES",
    "SIMULATOR_MARKER",
    "SYSTEM_FINGERPRINT",
    "FaultConfig",
    "Latency",
    "SimulatorServer",
    "SimulatorState",
    "count_tokens",
    "create_app",
    "generate_completion",
    "main",
]

#: Sentence appended to every chain-of-thought answer (inside ``cevap``) and every plain-text answer.
SIMULATOR_MARKER = "(Bu yanıt ANKA simülatörü tarafından üretilmiştir.)"
SYSTEM_FINGERPRINT = "anka-simulator"
MODEL_PREFIX = "anka-simulator:"
#: Model ids listed by ``GET /v1/models`` besides every model id requested so far. Any id is accepted.
DEFAULT_MODELS: tuple[str, ...] = ("anka-sim-teacher", "anka-sim-judge", "anka-sim-student")
DEFAULT_PORT = 8321

#: Outcome keys of :meth:`SimulatorServer.stats` (plus ``"total"``). ``"400"`` counts refused requests
#: (invalid JSON, no messages, ``stream: true``); they draw no fault.
OUTCOMES: tuple[str, ...] = ("ok", "429", "500", "hang", "malformed", "truncated", "pii_echo", "400")

# Fictitious personal data used by the pii_echo fault when the prompt contains none. Both are made up:
# 10000000146 passes the T.C. Kimlik No checksum (so a PII filter must catch it) but belongs to nobody,
# and 0532 123 45 67 is a placeholder mobile number.
FAKE_PII_TCKN = "10000000146"
FAKE_PII_PHONE = "0532 123 45 67"


# --------------------------------------------------------------------------------------------------
# Fault configuration
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Per-request latency: ``none``, ``fixed`` (``low`` seconds) or ``uniform`` in ``[low, high]``."""

    kind: str = "none"
    low: float = 0.0
    high: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("none", "fixed", "uniform"):
            raise ValueError(f"latency kind must be none, fixed or uniform, not {self.kind!r}")
        if self.low < 0 or self.high < 0:
            raise ValueError("latency must not be negative")
        if self.kind == "uniform" and self.high < self.low:
            raise ValueError("uniform latency needs low <= high")

    @classmethod
    def fixed(cls, seconds: float) -> Latency:
        return cls("fixed", float(seconds), float(seconds))

    @classmethod
    def uniform(cls, low: float, high: float) -> Latency:
        return cls("uniform", float(low), float(high))

    @classmethod
    def parse(cls, spec: str | float | int | tuple | list | Latency | None) -> Latency:
        """Accept ``"fixed:0.2"``, ``"uniform:0.5,3.5"``, ``"none"``, ``0.2``, ``("fixed", 0.2)``,
        ``("uniform", 0.5, 3.5)`` or a :class:`Latency`."""
        if spec is None:
            return cls()
        if isinstance(spec, Latency):
            return spec
        if isinstance(spec, (int, float)):
            return cls.fixed(spec) if spec > 0 else cls()
        if isinstance(spec, (tuple, list)):
            if not spec:
                return cls()
            kind, *params = spec
            if kind == "none":
                return cls()
            if kind == "fixed" and len(params) == 1:
                return cls.fixed(float(params[0]))
            if kind == "uniform" and len(params) == 2:
                return cls.uniform(float(params[0]), float(params[1]))
            raise ValueError(f"bad latency tuple {spec!r}")
        text = str(spec).strip().lower()
        if text in ("", "none", "0", "off"):
            return cls()
        kind, sep, rest = text.partition(":")
        try:
            if not sep:
                return cls.fixed(float(kind))
            if kind == "fixed":
                return cls.fixed(float(rest))
            if kind == "uniform":
                low, high = (float(x) for x in rest.split(","))
                return cls.uniform(low, high)
        except ValueError as exc:
            raise ValueError(f"bad latency spec {spec!r}: {exc}") from None
        raise ValueError(f"bad latency spec {spec!r} (use fixed:S or uniform:LO,HI)")

    def draw(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.low
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high)
        return 0.0

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"fixed:{self.low:g}"
        if self.kind == "uniform":
            return f"uniform:{self.low:g},{self.high:g}"
        return "none"


_RATE_FIELDS = ("rate_429", "rate_500", "rate_hang", "rate_malformed", "rate_truncated", "rate_pii_echo")
_RATE_OUTCOME = {
    "rate_429": "429",
    "rate_500": "500",
    "rate_hang": "hang",
    "rate_malformed": "malformed",
    "rate_truncated": "truncated",
    "rate_pii_echo": "pii_echo",
}


@dataclass(frozen=True)
class FaultConfig:
    """Fault injection settings. Default: no latency, no faults.

    Each request draws its latency, then exactly one outcome from a single uniform number against the
    cumulative rates in the order 429, 500, hang, malformed, truncated, pii_echo (so the rates are
    exclusive fractions and must sum to at most 1); the rest is ``ok``.
    ``latency`` accepts anything :meth:`Latency.parse` does and is normalised to a :class:`Latency`.
    """

    latency: Latency = field(default_factory=Latency)
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_500: float = 0.0
    rate_hang: float = 0.0
    hang_seconds: float = 30.0
    rate_malformed: float = 0.0
    rate_truncated: float = 0.0
    rate_pii_echo: float = 0.0
    seed: int = 0
    #: serve at most this many requests at a time and queue the rest, as ``transformers serve``,
    #: llama.cpp or a saturated vLLM do (0 = no limit); a client that gives up does not free its place
    max_concurrent: int = 0
    #: answer 429 (with Retry-After) to requests above this many per second (0 = no limit)
    rate_limit: float = 0.0
    #: ignore ``response_format`` silently, as ``transformers serve`` does
    ignore_response_format: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "latency", Latency.parse(self.latency))  # type: ignore[arg-type]
        if int(self.max_concurrent) < 0 or float(self.rate_limit) < 0:
            raise ValueError("max_concurrent and rate_limit must not be negative")
        object.__setattr__(self, "max_concurrent", int(self.max_concurrent))
        object.__setattr__(self, "rate_limit", float(self.rate_limit))
        object.__setattr__(self, "ignore_response_format", bool(self.ignore_response_format))
        total = 0.0
        for name in _RATE_FIELDS:
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
            object.__setattr__(self, name, value)
            total += value
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates sum to {total:.3f} > 1")
        if self.retry_after < 0 or self.hang_seconds < 0:
            raise ValueError("retry_after and hang_seconds must not be negative")

    def draw(self, rng: random.Random) -> tuple[float, str]:
        """Draw ``(latency_seconds, outcome)`` for one request."""
        delay = self.latency.draw(rng)
        u = rng.random()
        acc = 0.0
        for name in _RATE_FIELDS:
            rate = getattr(self, name)
            acc += rate
            if rate > 0 and u < acc:
                return delay, _RATE_OUTCOME[name]
        return delay, "ok"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["latency"] = str(self.latency)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)


# --------------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------------


def count_tokens(text: str) -> int:
    """The simulator's token count: ``ceil(whitespace words * 1.4)``."""
    return math.ceil(len(text.split()) * 1.4)


def _cut_to_tokens(text: str, max_tokens: int) -> str:
    """Longest prefix of ``text`` (ending at a word) whose :func:`count_tokens` is <= ``max_tokens``."""
    if max_tokens <= 0:
        return ""
    words = int(max_tokens / 1.4)
    while words > 0 and math.ceil(words * 1.4) > max_tokens:
        words -= 1
    if words <= 0:
        return ""
    end = 0
    for i, match in enumerate(re.finditer(r"\S+", text)):
        if i == words:
            break
        end = match.end()
    return text[:end]


def _tr_lower(text: str) -> str:
    return text.replace("I", "ı").replace("İ", "i").lower()


def _tr_capitalize(text: str) -> str:
    if not text:
        return text
    first = {"i": "İ", "ı": "I"}.get(text[0], text[0].upper())
    return first + text[1:]


def _message_text(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return ""


def _last_user_text(messages: Sequence[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _message_text(message)
    return _message_text(messages[-1]) if messages else ""


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _extract_question(text: str) -> str:
    """The question inside a (possibly templated) user message."""
    tagged = re.search(r"<soru>(.*?)</soru>", text, re.S | re.I)
    if tagged:
        return _squash(tagged.group(1))
    labelled = re.search(r"(?:^|\n)\s*(?:soru|görev|talimat)\s*:\s*(.+?)(?:\n\s*\n|\Z)", text, re.S | re.I)
    if labelled:
        return _squash(_TAG.sub(" ", labelled.group(1)))
    # Drop format instructions ("<adimlar> ... biçiminde yaz", "JSON döndür") when other lines remain.
    lines = [line for line in text.splitlines() if line.strip()]
    kept = [line for line in lines if not _FORMAT_LINE.search(line)]
    return _squash(_TAG.sub(" ", "\n".join(kept or lines)))


_TAG = re.compile(r"<\s*/?\s*[A-Za-zÇĞİÖŞÜçğıöşü_]+\s*>")
_FORMAT_LINE = re.compile(r"<\s*/?\s*(?:adimlar|cevap)\s*>|\bjson\b|biçimin?de|formatında|etiket", re.I)


def _shorten(text: str, max_words: int = 12) -> str:
    words = text.split()
    short = " ".join(words[:max_words])
    short = short.rstrip(" ?.!:;,")
    return short + ("…" if len(words) > max_words else "")


_STOPWORDS = set(
    """
    ve veya ile ya da de ki ama fakat ancak çünkü için gibi göre kadar dair karşı rağmen beri önce sonra
    bir iki üç dört beş bu şu o bunlar şunlar onlar bunu şunu onu bunun onun bunda buna ona şuna
    ne neden niçin nasıl nedir nelerdir hangi hangisi hangileri kim kimdir nerede ne zaman mi mı mu mü
    midir mıdır mudur müdür en daha çok az her hiç tüm bütün bazı birçok kendi ise ile olan olarak
    olup olması olmak eden edilen yapılan ilgili ilişkin arasındaki arasında üzerine üzerinde hakkında
    hakkındaki içinde içindeki dolayı yönelik yönünden bakımından açısından kapsamında çerçevesinde
    örnek örnekle örneklerle örnekler örneği örneğin kısaca ayrıntılı ayrıntılı şekilde biçimde
    analiz açıklama değerlendirme tartışma yorum görev görevi görevler soru sorusu soruyu yanıt cevap
    ilişkiyi ilişkisini ilişkisi farkı farkları farklar farkını etkileri etkisini etkisi rolü rolünü
    önemi önemini nedenleri nedenlerini sonuçları sonuçlarını avantajları dezavantajları türleri
    yeni benzer aşağıdaki yukarıdaki verilen olarak lütfen türkçe json listesi liste
    the and of for with a an to in on is are what how why
    """.split()
)

_VERB_SUFFIXES = (
    "ınız", "iniz", "unuz", "ünüz", "yınız", "yiniz", "yunuz", "yünüz",
    "mıdır", "midir", "mudur", "müdür", "yor", "yorum", "yoruz", "malı", "meli",
    "abilir", "ebilir", "amaz", "emez", "mektedir", "maktadır",
)
_LONG_VERB_SUFFIXES = ("dır", "dir", "dur", "dür", "tır", "tir", "tur", "tür", "ılır", "ilir", "ulur", "ülür")

_ACCUSATIVE = re.compile(r"(?<=[aeıioöuü])(?:sını|sini|sunu|sünü)$|(?<=[^aeıioöuü][ıiuü])(?:nı|ni|nu|nü)$")


def _is_content_word(word: str) -> bool:
    low = _tr_lower(word)
    if len(low) < 3 or low in _STOPWORDS or not low.isalpha():
        return False
    if low.endswith(_VERB_SUFFIXES):
        return False
    if len(low) > 5 and low.endswith(_LONG_VERB_SUFFIXES):
        return False
    return True


def _strip_case(word: str) -> str:
    # Proper nouns carry their case suffix after an apostrophe: Kanunu'na -> Kanunu.
    return re.split(r"['’]", word, maxsplit=1)[0]


def _nominative_tail(word: str) -> str:
    # sıralamasını -> sıralaması, hakkını -> hakkı (accusative after a possessive); crude but harmless.
    # Short words are left alone so that possessive compounds such as "Medeni Kanunu" survive.
    match = _ACCUSATIVE.search(word)
    if not match or len(word) < 7:
        return word
    return word[: match.start()] + match.group(0)[:-2]


def _key_phrases(text: str, limit: int = 24) -> list[str]:
    """2–4 word noun-phrase-like runs of content words (single words as a fallback)."""
    multi: list[str] = []
    single: list[str] = []
    seen: set[str] = set()
    text = re.sub(r"\S+@\S+|https?://\S+|\d\S*", " , ", text)  # e-mails, URLs and numbers break phrases
    for chunk in re.split(r"[.,;:!?()\[\]{}«»\"“”/\n\-–—…]+", text):
        words = chunk.split()
        runs: list[tuple[int, list[str]]] = []
        current: list[str] = []
        start = 0
        for idx, raw in enumerate(words):
            word = _strip_case(raw)
            # Turkish is verb-final: a clause-final word in -Vr (gerekir, olur, sağlar) is taken as a verb.
            verb_final = idx == len(words) - 1 and len(word) > 4 and re.search(r"[aeıioöuü]r$", word) is not None
            if _is_content_word(word) and not verb_final:
                if not current:
                    start = idx
                current.append(word)
                if raw != word:  # a case suffix ends the noun phrase
                    runs.append((start, current))
                    current = []
            else:
                if current:
                    runs.append((start, current))
                current = []
        if current:
            runs.append((start, current))
        for start_idx, run in runs:
            if len(run) > 4:
                pieces = [run[-3:], run[:2]]
            else:
                pieces = [run]
            for piece in pieces:
                piece = list(piece)
                piece[-1] = _nominative_tail(piece[-1])
                at_start = start_idx == 0 and piece[0] == run[0]
                if at_start and (len(piece) == 1 or not piece[1][:1].isupper()) and not piece[0].isupper():
                    piece[0] = _tr_lower(piece[0][:1]) + piece[0][1:]
                phrase = " ".join(piece)
                key = _tr_lower(phrase)
                if key in seen:
                    continue
                seen.add(key)
                (multi if len(piece) >= 2 else single).append(phrase)
    return (multi + single)[:limit]


_FALLBACK_TOPICS = [
    "kira sözleşmesi", "katma değer vergisi", "tüketici hakları", "iklim değişikliği", "enflasyon oranı",
    "Osmanlı ekonomisi", "yenilenebilir enerji", "kişisel verilerin korunması", "deprem güvenliği",
    "anayasal haklar", "dijital dönüşüm", "kamu maliyesi", "Türk edebiyatı", "su kaynakları yönetimi",
]

# --------------------------------------------------------------------------------------------------
# Content banks
# --------------------------------------------------------------------------------------------------

_ASPECTS = [
    "hukuk", "tarih", "ekonomi", "kavramsal çerçeve", "toplum", "uygulama", "bilim", "etik",
    "kamu yönetimi", "günlük yaşam",
]

_FIRST_STEPS = [
    "Soruda istenen, «{konu}» konusunun {aci} açısından ele alınmasıdır.",
    "Soru, «{konu}» ifadesiyle {k1} hakkında {aci} açısından bir değerlendirme istemektedir.",
    "Öncelikle sorunun kapsamı belirlenir: «{konu}».",
    "Sorunun odak noktası «{konu}» olduğundan önce {k1} kavramı netleştirilmelidir.",
]

_MIDDLE_STEPS = [
    "İlgili mevzuat ve temel kavramlar belirlenir: {k1} ve {k2}.",
    "{K1} kavramının tanımı yapılır ve sorudaki bağlamla ilişkilendirilir.",
    "{K1} ile {k2} arasındaki ilişki incelenir; benzerlikler ve farklılıklar not edilir.",
    "Konunun tarihsel arka planı kısaca gözden geçirilir; {k1} zaman içinde farklı biçimlerde yorumlanmıştır.",
    "Türkiye'deki uygulama örnekleri dikkate alınarak {k1} somutlaştırılır.",
    "Olası istisnalar ve özel durumlar değerlendirilir; özellikle {k2} bakımından dikkatli olunmalıdır.",
    "Sorudaki veriler sırasıyla ele alınır ve her biri {k1} açısından yorumlanır.",
    "Yaygın bir yanılgı, {k1} ile {k2} kavramlarının aynı anlama geldiğini düşünmektir; bu ayrım netleştirilir.",
    "{Aci} açısından bakıldığında {k1} konusunun temel sonuçları sıralanır.",
    "Kaynaklarda genel kabul gören görüş özetlenir ve {k2} ile karşılaştırılır.",
    "Ara sonuç: {k1} konusundaki temel ilke, sorunun çözümünde belirleyicidir.",
    "Karşı görüşler de değerlendirilerek {k1} hakkındaki yorumun tutarlılığı sınanır.",
    "Gerekli çıkarımlar adım adım yapılır: önce {k1}, ardından {k2} ele alınır.",
]

_NUMBER_STEP = "Soruda verilen sayısal değerler ({sayilar}) not edilir ve birimleri kontrol edilir."

_LAST_STEPS = [
    "Bulgular bir araya getirilerek «{konu}» sorusuna doğrudan yanıt verilecek biçimde sentezlenir.",
    "Son olarak varılan sonuç, sorunun ifadesiyle karşılaştırılarak kontrol edilir.",
    "Elde edilen ara sonuçlar birleştirilir ve {k1} hakkında gerekçeli bir sonuca ulaşılır.",
]

_ANSWERS = [
    "«{konu}» sorusunun yanıtı şöyle özetlenebilir: {k1} konusunda belirleyici olan, ilgili kuralların ve "
    "bağlamın birlikte değerlendirilmesidir. {K2} de bu değerlendirmede göz ardı edilmemelidir. Sonuç olarak "
    "{aci} açısından bakıldığında {k1} hakkında dengeli ve gerekçeli bir yaklaşım benimsenmelidir.",
    "{K1}, {aci} açısından ele alındığında birden fazla boyutu olan bir konudur. Temel ilke ile {k2} "
    "arasındaki ilişki doğru kurulduğunda «{konu}» sorusuna verilecek yanıt netleşir: her somut durum kendi "
    "koşulları içinde değerlendirilmelidir.",
    "Kısaca, {k1} ile ilgili temel kavramlar ve Türkiye'deki uygulama birlikte düşünüldüğünde sorunun yanıtı, "
    "{k2} unsurunun da dikkate alındığı gerekçeli bir değerlendirmedir. Bu yaklaşım {aci} açısından da "
    "tutarlıdır.",
    "Yapılan değerlendirmeye göre {k1}, sorunun merkezinde yer alır. {K2} bu sonucu destekleyen ikinci önemli "
    "unsurdur. Dolayısıyla «{konu}» sorusu, bu iki unsurun birlikte ele alınmasıyla yanıtlanır.",
]

_PLAIN = [
    "{K1} konusu, {aci} açısından değerlendirildiğinde birkaç temel unsur öne çıkar. Öncelikle kavramların "
    "doğru tanımlanması gerekir; ardından {k2} ile ilişkisi incelenmelidir. Türkiye'deki uygulama örnekleri "
    "bu değerlendirmeyi somutlaştırır.",
    "Bu konuda dikkat edilmesi gereken nokta, {k1} ile {k2} arasındaki dengedir. Konu {aci} açısından ele "
    "alındığında farklı görüşler bulunduğu görülür; gerekçeli bir sonuç için bu görüşlerin karşılaştırılması "
    "gerekir.",
    "Kısaca belirtmek gerekirse, {k1} konusunda genel kabul gören yaklaşım, somut durumun koşullarına göre "
    "değerlendirme yapılmasıdır. {K2} de bu değerlendirmenin önemli bir parçasıdır.",
]

_TASK_TEMPLATES = [
    "{P} kavramını örneklerle açıklayınız.",
    "{P} konusunun temel ilkelerini açıklayınız.",
    "{P} ile ilgili yaygın yanılgıları açıklayınız.",
    "{P} sürecinin aşamalarını sırasıyla açıklayınız.",
    "{P} ile {q} arasındaki farkları karşılaştırınız.",
    "{P} konusundaki farklı yaklaşımları avantaj ve dezavantajlarıyla karşılaştırınız.",
    "Türkiye'deki {p} uygulamasını bir Avrupa ülkesindeki uygulamayla karşılaştırınız.",
    "{P} konusunun toplumsal etkilerini analiz ediniz.",
    "{P} alanında son yıllarda yaşanan değişiklikleri analiz ediniz.",
    "{P} ile {q} arasındaki ilişkiyi analiz ediniz.",
    "{P} konusunun ekonomik boyutunu analiz ediniz.",
    "{P} ile ilgili basit bir sayısal örnek oluşturarak sonucu adım adım hesaplayınız.",
    "Bir KOBİ için {p} kapsamında ortaya çıkacak yıllık maliyeti varsayımsal verilerle hesaplayınız.",
    "{P} konusunda verilen oranlara göre yüzde değişimi hesaplayınız.",
    "Vaka: Ankara'da yaşayan bir öğretmen {p} ile ilgili bir sorunla karşılaşıyor. Hangi adımları "
    "izlemesi gerektiğini açıklayınız.",
    "Vaka: İzmir'de küçük bir işletme {p} nedeniyle zor bir durumda kalmıştır. İşletmeye ne önerirsiniz?",
    "Vaka: Bir belediye {p} konusunda yeni bir düzenleme yapmak istiyor. Olası sonuçları değerlendiriniz.",
    "Vaka: Bir üniversite öğrencisi {p} ile {q} arasında seçim yapmak zorunda. Gerekçeli bir öneri sununuz.",
    "{P} konusunu lise öğrencilerine anlatacak kısa bir ders planı hazırlayınız.",
    "{P} hakkında sık sorulan üç soruyu ve yanıtlarını yazınız.",
    "{P} konusunun tarihsel gelişimini kronolojik olarak özetleyiniz.",
]

_GEREKCE_HIGH = [
    "Yanıt soruyu doğru ve eksiksiz karşılıyor; akıl yürütme adımları tutarlı ve Türkçe ifade doğal.",
    "Adımlar mantıklı bir sırayla ilerliyor ve nihai cevap soruyla uyumlu; kültürel bağlam doğru kurulmuş.",
    "Yanıt ilgili kavramları doğru kullanıyor ve Türkiye bağlamına uygun örnekler veriyor.",
]
_GEREKCE_MID = [
    "Yanıt genel olarak doğru ancak bazı adımlar yüzeysel kalmış ve önemli bir ayrıntı eksik.",
    "Temel fikir doğru olmakla birlikte gerekçelendirme zayıf; bazı ifadeler belirsiz kalmış.",
]
_GEREKCE_LOW = [
    "Yanıt sorunun özünü kaçırıyor; temel kavramlar yanlış kullanılmış.",
    "Akıl yürütme adımları birbiriyle çelişiyor ve nihai cevap soruyu karşılamıyor.",
]

_FILLER_WORDS = [
    "örnek", "değer", "açıklama", "kavram", "sonuç", "yöntem", "veri", "kaynak", "ilke", "süreç",
    "analiz", "karar", "görüş", "bilgi", "kural",
]


# --------------------------------------------------------------------------------------------------
# Content generation
# --------------------------------------------------------------------------------------------------


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
        aci = rng.choice(_ASPECTS)
        text = template.format(
            konu=self.konu, k1=k1, k2=k2, K1=_tr_capitalize(k1), K2=_tr_capitalize(k2),
            aci=aci, Aci=_tr_capitalize(aci), sayilar=", ".join(self.numbers[:4]),
        )
        return f"{step_no}. {text}" if step_no is not None else text


def _topic(question: str) -> _Topic:
    phrases = _key_phrases(question) or ["konunun temel unsurları"]
    numbers = re.findall(r"(?<![\w.,])\d+(?:[.,]\d+)?(?![\w])", question)
    return _Topic(konu=_shorten(question) or "soru", phrases=phrases, numbers=numbers)


def _cot(question: str, rng: random.Random) -> tuple[list[str], str]:
    topic = _topic(question)
    n_steps = rng.randint(3, 6)
    middle = rng.sample(_MIDDLE_STEPS, n_steps - 2)
    if topic.numbers and n_steps > 3:
        middle[0] = _NUMBER_STEP
    templates = [rng.choice(_FIRST_STEPS), *middle, rng.choice(_LAST_STEPS)]
    steps = [topic.fill(t, rng, i + 1) for i, t in enumerate(templates)]
    answer = topic.fill(rng.choice(_ANSWERS), rng) + " " + SIMULATOR_MARKER
    return steps, answer


def _answer_under_review(text: str) -> str:
    """The answer a judge prompt asks to grade (best effort)."""
    tagged = re.findall(r"<cevap>(.*?)</cevap>", text, re.S | re.I)
    if tagged:
        return _squash(tagged[-1])
    labelled = re.search(
        r"(?:^|\n)\s*(?:öğrenci(?:nin)? (?:yanıtı|cevabı)|model(?:in)? (?:yanıtı|cevabı)|(?:nihai )?(?:yanıt|cevap))"
        r"\s*:\s*(.+?)"
        r"(?:\n\s*\n|\Z)",
        text,
        re.S | re.I,
    )
    if labelled:
        return _squash(labelled.group(1))
    as_json = re.search(r'"cevap"\s*:\s*"((?:[^"\\]|\\.)*)"', text)
    if as_json:
        with contextlib.suppress(json.JSONDecodeError):
            return _squash(json.loads(f'"{as_json.group(1)}"'))
    return _squash(text)


def _judge(prompt_text: str, rng: random.Random) -> dict[str, Any]:
    halusinasyon = rng.random() < 0.10
    if halusinasyon:
        dogruluk = rng.choices([1, 2, 3], weights=[2, 4, 4])[0]
    else:
        # 83 % of the non-hallucinated answers score >= 4, i.e. about 75 % overall.
        dogruluk = rng.choices([1, 2, 3, 4, 5], weights=[3, 5, 9, 38, 45])[0]
    kultur = max(1, min(5, dogruluk + rng.choice([-1, 0, 0, 1, 1])))
    iddia = None
    if halusinasyon:
        answer = _answer_under_review(prompt_text).replace(SIMULATOR_MARKER, "")
        sentences = [
            s.strip() for s in re.split(r"(?<=[.!?])\s+", answer) if len(s.split()) >= 4 and len(s) <= 300
        ]
        iddia = rng.choice(sentences) if sentences else "1923 yılında yürürlüğe girdiği belirtilen düzenleme"
        gerekce = f"Yanıtta kaynaklarla desteklenmeyen bir iddia yer alıyor: «{iddia.rstrip('.!?')}»."
    elif dogruluk >= 4:
        gerekce = rng.choice(_GEREKCE_HIGH)
    elif dogruluk == 3:
        gerekce = rng.choice(_GEREKCE_MID)
    else:
        gerekce = rng.choice(_GEREKCE_LOW)
    return {
        "dogruluk": dogruluk,
        "kulturel_uygunluk": kultur,
        "halusinasyon": halusinasyon,
        "halusinasyon_iddiasi": iddia,
        "gerekce": gerekce,
    }


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
    user = _last_user_text(messages)
    everything = "\n".join(_message_text(m) for m in messages)
    examples = _example_tasks(user) or _example_tasks(everything) or [user]
    count = _requested_count(everything, schema)
    phrases: list[str] = []
    seen: set[str] = set()
    for example in examples:
        for phrase in _key_phrases(example, limit=6):
            if _tr_lower(phrase) not in seen:
                seen.add(_tr_lower(phrase))
                phrases.append(phrase)
    multi = [p for p in phrases if " " in p]
    if len(multi) >= 3:  # single words ("kiracının") read badly in the templates
        phrases = multi
    if len(phrases) < 3:
        phrases += rng.sample(_FALLBACK_TOPICS, 6 - len(phrases))
    rng.shuffle(phrases)
    templates = list(_TASK_TEMPLATES)
    rng.shuffle(templates)
    example_keys = {_tr_lower(_squash(e)) for e in examples}
    tasks: list[str] = []
    keys: set[str] = set()
    n_p, n_t = len(phrases), len(templates)
    for idx in range(n_p * n_t):
        if len(tasks) >= count:
            break
        template = templates[idx % n_t]
        p = phrases[(idx + idx // n_t) % n_p]
        q = phrases[(idx + idx // n_t + 1 + rng.randrange(max(n_p - 1, 1))) % n_p]
        if q == p:
            q = "ilgili temel kavramlar"
        task = template.format(P=_tr_capitalize(p), p=p, q=q)
        key = _tr_lower(task)
        if key in keys or key in example_keys:
            continue
        keys.add(key)
        tasks.append(task)
    serial = 1
    while len(tasks) < count:  # more tasks requested than combinations: number the variants
        base = tasks[(serial - 1) % max(len(tasks), 1)] if tasks else "Genel kültür sorusu yazınız."
        tasks.append(f"{base} (Varyant {serial})")
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
        words = rng.sample(_FILLER_WORDS, rng.randint(2, 5))
        text = (f"{hint} için " if hint else "") + " ".join(words)
        min_len = int(schema.get("minLength", 0))
        max_len = schema.get("maxLength")
        while len(text) < min_len:
            text += " " + rng.choice(_FILLER_WORDS)
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


_NO_JSON_COT = "_anka_sim_ignored_response_format"


def _draft(body: dict[str, Any], rng: random.Random) -> _Draft:
    messages = body.get("messages") or []
    rtype, name, schema = _response_schema(body.get("response_format"))
    prompt_text = "\n".join(_message_text(m) for m in messages)
    question = _extract_question(_last_user_text(messages))
    if rtype == "json_schema":
        if name == "cot_answer":
            steps, answer = _cot(question, rng)
            return _Draft("json", {"adimlar": steps, "cevap": answer})
        if name == "judge_verdict":
            return _Draft("json", _judge(prompt_text, rng))
        if name == "task_list":
            return _Draft("json", {"gorevler": _task_list(messages, rng, schema)})
        return _Draft("json", _fill_schema(schema or {"type": "object"}, rng, schema or {}))
    low = _tr_lower(prompt_text)
    mentions_json = "json" in low
    mentions_dogruluk = "dogruluk" in low or "doğruluk" in low
    judge_like = mentions_json and mentions_dogruluk
    if judge_like and ("halusinasyon" in low or "halüsinasyon" in low):
        return _Draft("json", _judge(prompt_text, rng))
    if "<adimlar>" in low:
        return _Draft("tagged", _cot(question, rng))
    if body.get(_NO_JSON_COT) and "adimlar" in low and not judge_like:
        # A server that ignored response_format, and a small model that does not manage the JSON the
        # prompt asks for without it: prose (as transformers serve with a small model answered).
        return _Draft("text", _topic(question).fill(rng.choice(_PLAIN), rng) + " " + SIMULATOR_MARKER)
    if judge_like:
        return _Draft("json", _judge(prompt_text, rng))
    if mentions_json and "gorevler" in low:
        return _Draft("json", {"gorevler": _task_list(messages, rng, None)})
    if "adimlar" in low and (mentions_json or rtype == "json_object"):
        steps, answer = _cot(question, rng)
        return _Draft("json", {"adimlar": steps, "cevap": answer})
    if rtype == "json_object":
        return _Draft("json", {"cevap": _topic(question).fill(rng.choice(_PLAIN), rng) + " " + SIMULATOR_MARKER})
    return _Draft("text", _topic(question).fill(rng.choice(_PLAIN), rng) + " " + SIMULATOR_MARKER)


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
    prompt_text = "\n".join(_message_text(m) for m in messages)
    draft = _draft(body, rng)
    if outcome == "pii_echo":
        draft.inject(_pii_sentence(prompt_text))
    content = draft.render()
    finish_reason = "stop"
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and count_tokens(content) > max_tokens:
        content = _cut_to_tokens(content, max_tokens)
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


# --------------------------------------------------------------------------------------------------
# Server state and ASGI app
# --------------------------------------------------------------------------------------------------


class SimulatorState:
    """Fault config, fault RNG, counters and the request log; shared by the app and its controller."""

    def __init__(self, faults: FaultConfig | None = None, models: Sequence[str] = DEFAULT_MODELS) -> None:
        self._lock = threading.Lock()
        self._faults = faults or FaultConfig()
        self._rng = random.Random(self._faults.seed)
        self._models: list[str] = list(dict.fromkeys(models))
        self._stats = self._empty_stats()
        self._received: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancel: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._slots_k = 0
        self._tokens = 0.0
        self._tokens_at = 0.0

    def slots(self) -> asyncio.Semaphore | None:
        """The semaphore of ``max_concurrent`` (event loop side); None when unlimited."""
        k = self._faults.max_concurrent
        if k <= 0:
            return None
        if self._slots is None or self._slots_k != k:
            self._slots, self._slots_k = asyncio.Semaphore(k), k
        return self._slots

    def take_token(self) -> float:
        """Rate limit (token bucket, one second of burst): 0.0 if admitted, else seconds until a token."""
        rate = self._faults.rate_limit
        if rate <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            if self._tokens_at == 0.0:
                self._tokens, self._tokens_at = max(1.0, rate), now
            self._tokens = min(max(1.0, rate), self._tokens + (now - self._tokens_at) * rate)
            self._tokens_at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / rate

    @staticmethod
    def _empty_stats() -> dict[str, int]:
        return {"total": 0, **{k: 0 for k in OUTCOMES}}

    # -- controller side (any thread) --
    @property
    def faults(self) -> FaultConfig:
        return self._faults

    def set_faults(self, faults: FaultConfig) -> None:
        """Replace the fault config and re-seed the fault RNG from ``faults.seed``."""
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    def reset(self) -> None:
        """Clear counters and the request log and re-seed the fault RNG (the fault config stays)."""
        with self._lock:
            self._stats = self._empty_stats()
            self._received = []
            self._rng = random.Random(self._faults.seed)
            self._tokens_at = 0.0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._stats)

    def received(self) -> list[Any]:
        with self._lock:
            return list(self._received)

    def models(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def cancel_pending(self) -> None:
        """Wake every request sleeping in latency/hang so a shutdown does not wait for them."""
        loop, event = self._loop, self._cancel
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    # -- server side (event loop) --
    def attach(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._cancel = asyncio.Event()

    def detach(self) -> None:
        self._loop = None
        self._cancel = None

    def record(self, body: Any) -> tuple[float, str]:
        """Log a request and draw its fault; returns ``(latency, outcome)``."""
        with self._lock:
            self._stats["total"] += 1
            self._received.append(body)
            model = body.get("model") if isinstance(body, dict) else None
            if isinstance(model, str) and model and model not in self._models:
                self._models.append(model)
            return self._faults.draw(self._rng)

    def count(self, outcome: str) -> None:
        with self._lock:
            self._stats[outcome] += 1

    def record_limited(self, body: Any) -> None:
        with self._lock:
            self._stats["total"] += 1
            self._stats["429"] += 1
            self._received.append(body)

    def record_refused(self, body: Any) -> None:
        with self._lock:
            self._stats["total"] += 1
            self._stats["400"] += 1
            self._received.append(body)

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False when cut short by :meth:`cancel_pending`."""
        if seconds <= 0:
            return not (self._cancel is not None and self._cancel.is_set())
        event = self._cancel
        if event is None:
            await asyncio.sleep(seconds)
            return True
        try:
            await asyncio.wait_for(event.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return True
        return False


def _error(status: int, message: str, etype: str, code: str | None, headers: dict[str, str] | None = None):
    payload = {"error": {"message": message, "type": etype, "param": None, "code": code}}
    return JSONResponse(payload, status_code=status, headers=headers)


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def create_app(state: SimulatorState) -> Starlette:
    """The Starlette app of the simulator, bound to ``state``."""
    counter = iter(range(1, 1 << 62))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette):
        state.attach()
        try:
            yield
        finally:
            state.detach()

    async def list_models(_request: Request) -> JSONResponse:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "anka-simulator"} for m in state.models()]
        # The simulator answers for any model name: say so, so a client's probe does not reject it.
        return JSONResponse({"object": "list", "data": data, "accepts_any_model": True})

    async def chat_completions(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            state.record_refused({"_invalid_json": raw[:2000].decode("utf-8", "replace")})
            return _error(400, "Request body is not valid JSON.", "invalid_request_error", "invalid_json")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            state.record_refused(body)
            return _error(400, "'messages' must be a non-empty list.", "invalid_request_error", "invalid_messages")
        if body.get("stream"):
            state.record_refused(body)
            return _error(
                400,
                "stream=true is not supported by the ANKA simulator; send stream=false.",
                "invalid_request_error",
                "stream_unsupported",
            )
        wait = state.take_token()
        if wait > 0:
            state.record_limited(body)
            return _error(
                429,
                f"Rate limit of {state.faults.rate_limit:g} requests per second reached (simulated by ANKA "
                f"simulator). Please retry after {wait:.3f} seconds.",
                "rate_limit_error",
                "rate_limit_exceeded",
                headers={"Retry-After": str(max(1, math.ceil(wait))), "retry-after-ms": str(math.ceil(wait * 1000)),
                         "x-anka-sim-outcome": "429"},
            )
        latency, outcome = state.record(body)
        faults = state.faults
        state.count(outcome)
        if faults.ignore_response_format:
            body = {k: v for k, v in body.items() if k != "response_format"}
            body[_NO_JSON_COT] = True
        slots = state.slots()
        if slots is None:
            slept = await state.sleep(latency)
        else:
            async with slots:  # queued here, like a server that serves k requests at a time
                slept = await state.sleep(latency)
        if not slept:
            return _error(503, "Simulator is shutting down.", "server_error", "shutting_down")
        if outcome == "429":
            ra = _format_seconds(faults.retry_after)
            return _error(
                429,
                "Rate limit reached (simulated by ANKA simulator). Please retry after "
                f"{ra} seconds.",
                "rate_limit_error",
                "rate_limit_exceeded",
                headers={"Retry-After": ra, "x-anka-sim-outcome": outcome},
            )
        if outcome == "500":
            return _error(
                500,
                "The server had an error while processing your request (simulated by ANKA simulator).",
                "server_error",
                "internal_error",
                headers={"x-anka-sim-outcome": outcome},
            )
        if outcome == "hang" and not await state.sleep(faults.hang_seconds):
            return _error(503, "Simulator is shutting down.", "server_error", "shutting_down")
        content, finish_reason, usage, digest = generate_completion(body, outcome)
        model = str(body.get("model") or "default")
        payload = {
            "id": f"chatcmpl-sim-{next(counter)}-{digest[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL_PREFIX + model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage,
        }
        return JSONResponse(payload, headers={"x-anka-sim-outcome": outcome})

    async def sim_stats(_request: Request) -> JSONResponse:
        return JSONResponse(state.stats())

    async def sim_requests(_request: Request) -> JSONResponse:
        data = state.received()
        return JSONResponse({"count": len(data), "data": data})

    async def sim_reset(_request: Request) -> JSONResponse:
        state.reset()
        return JSONResponse({"status": "ok"})

    async def sim_faults(request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                state.set_faults(FaultConfig.from_dict(await request.json()))
            except (ValueError, TypeError) as exc:
                return _error(400, f"Invalid fault config: {exc}", "invalid_request_error", "invalid_faults")
        return JSONResponse(state.faults.to_dict())

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "simulator": SYSTEM_FINGERPRINT})

    routes = [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/_sim/stats", sim_stats, methods=["GET"]),
        Route("/_sim/requests", sim_requests, methods=["GET"]),
        Route("/_sim/reset", sim_reset, methods=["POST"]),
        Route("/_sim/faults", sim_faults, methods=["GET", "POST"]),
        Route("/_sim/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


# --------------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------------


class _UvicornServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: SimulatorState, announce: bool = False) -> None:
        super().__init__(config)
        self._state = state
        self._announce = announce

    def bound_port(self) -> int:
        return int(self.servers[0].sockets[0].getsockname()[1])

    async def startup(self, sockets=None) -> None:  # type: ignore[override]
        await super().startup(sockets=sockets)
        if self._announce and self.started:
            print(
                f"ANKA simulator listening on http://{self.config.host}:{self.bound_port()}/v1",
                flush=True,
            )

    def handle_exit(self, sig, frame) -> None:  # type: ignore[override]
        self._state.cancel_pending()
        super().handle_exit(sig, frame)


def _uvicorn_config(app: Starlette, host: str, port: int, *, log_config: Any = None, log_level: str = "warning"):
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        backlog=4096,
    )


class SimulatorServer:
    """The simulator running in a background thread of this process (for tests).

    ``with SimulatorServer(faults=FaultConfig(...), port=0) as sim:`` starts it on a free port;
    ``sim.base_url`` is ``http://127.0.0.1:PORT/v1``.
    """

    def __init__(
        self,
        faults: FaultConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[str] = DEFAULT_MODELS,
        startup_timeout: float = 15.0,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.startup_timeout = startup_timeout
        self.state = SimulatorState(faults, models)
        self.app = create_app(self.state)
        self._server: _UvicornServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._error: BaseException | None = None

    # -- lifecycle --
    def start(self) -> SimulatorServer:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        config = _uvicorn_config(self.app, self.host, self._requested_port)
        server = _UvicornServer(config, self.state)
        self._error = None

        def run() -> None:
            try:
                server.run()
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                self._error = exc

        thread = threading.Thread(target=run, name="anka-simulator", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                where = f"{self.host}:{self._requested_port}"
                raise RuntimeError(f"ANKA simulator failed to start on {where}: {self._error!r}")
            time.sleep(0.01)
        self._port = server.bound_port()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self.state.cancel_pending()
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            self.state.cancel_pending()
            thread.join(5.0)
        self._server = self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- addresses --
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("simulator not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- control --
    @property
    def faults(self) -> FaultConfig:
        return self.state.faults

    def set_faults(self, faults: FaultConfig) -> None:
        self.state.set_faults(faults)

    def reset(self) -> None:
        self.state.reset()

    def stats(self) -> dict[str, int]:
        return self.state.stats()

    def received(self) -> list[Any]:
        return self.state.received()

    @contextlib.contextmanager
    def faults_set(self, faults: FaultConfig) -> Iterator[SimulatorServer]:
        """Temporarily use ``faults`` (and a reset log); restores the previous config afterwards."""
        previous = self.state.faults
        self.set_faults(faults)
        self.reset()
        try:
            yield self
        finally:
            self.set_faults(previous)


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="anka-simulator",
        description="OpenAI-compatible simulator of the ANKA teacher/judge models, with fault injection.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    parser.add_argument("--latency", default="none", help="none | fixed:SECONDS | uniform:LOW,HIGH")
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds of 429 answers")
    parser.add_argument("--rate-500", type=float, default=0.0)
    parser.add_argument("--rate-hang", type=float, default=0.0)
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--rate-malformed", type=float, default=0.0)
    parser.add_argument("--rate-truncated", type=float, default=0.0)
    parser.add_argument("--rate-pii-echo", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault RNG")
    parser.add_argument("--max-concurrent", type=int, default=0,
                        help="serve at most K requests at a time, queue the rest (0 = no limit)")
    parser.add_argument("--rate-limit", type=float, default=0.0,
                        help="answer 429 with Retry-After above R requests per second (0 = no limit)")
    parser.add_argument("--ignore-response-format", action="store_true",
                        help="ignore response_format silently (as transformers serve does)")
    parser.add_argument(
        "--model", action="append", default=None, help="model id listed by /v1/models (repeatable)"
    )
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``anka-simulator`` / ``python -m anka_assets.simulator``."""
    args = _parse_args(argv)
    try:
        faults = FaultConfig(
            latency=Latency.parse(args.latency),
            rate_429=args.rate_429,
            retry_after=args.retry_after,
            rate_500=args.rate_500,
            rate_hang=args.rate_hang,
            hang_seconds=args.hang_seconds,
            rate_malformed=args.rate_malformed,
            rate_truncated=args.rate_truncated,
            rate_pii_echo=args.rate_pii_echo,
            seed=args.seed,
            max_concurrent=args.max_concurrent,
            rate_limit=args.rate_limit,
            ignore_response_format=args.ignore_response_format,
        )
    except ValueError as exc:
        print(f"anka-simulator: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(ValueError):
        if not ipaddress.ip_address(args.host).is_loopback:
            print(f"anka-simulator: warning: binding to non-loopback address {args.host}", file=sys.stderr)
    state = SimulatorState(faults, tuple(args.model) if args.model else DEFAULT_MODELS)
    config = _uvicorn_config(
        create_app(state), args.host, args.port, log_config=uvicorn.config.LOGGING_CONFIG, log_level=args.log_level
    )
    server = _UvicornServer(config, state, announce=True)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
