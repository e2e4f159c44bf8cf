"""Reading a request: the text of its messages, the question inside a templated prompt, the example tasks
of an expansion prompt, and noun-phrase-like key phrases of Turkish text (pure functions)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from anka_testkit.simulator.banks import DOMAIN_HINTS, DOMAIN_TOPICS
from anka_testkit.simulator.turkish import tr_capitalize, tr_lower

__all__ = ["tr_capitalize", "tr_lower"]  # re-exported for content.py

def count_tokens(text: str) -> int:
    """The simulator's token count: ``ceil(whitespace words * 1.4)``."""
    return math.ceil(len(text.split()) * 1.4)


def cut_to_tokens(text: str, max_tokens: int) -> str:
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


def message_text(message: Any) -> str:
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


def last_user_text(messages: Sequence[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return message_text(messages[-1]) if messages else ""


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def extract_question(text: str) -> str:
    """The question inside a (possibly templated) user message."""
    tagged = re.search(r"<soru>(.*?)</soru>", text, re.S | re.I)
    if tagged:
        return squash(tagged.group(1))
    labelled = re.search(r"(?:^|\n)\s*(?:soru|görev|talimat)\s*:\s*(.+?)(?:\n\s*\n|\Z)", text, re.S | re.I)
    if labelled:
        return squash(_TAG.sub(" ", labelled.group(1)))
    # Drop format instructions ("<adimlar> ... biçiminde yaz", "JSON döndür") when other lines remain.
    lines = [line for line in text.splitlines() if line.strip()]
    kept = [line for line in lines if not _FORMAT_LINE.search(line)]
    return squash(_TAG.sub(" ", "\n".join(kept or lines)))


_TAG = re.compile(r"<\s*/?\s*[A-Za-zÇĞİÖŞÜçğıöşü_]+\s*>")
_FORMAT_LINE = re.compile(r"<\s*/?\s*(?:adimlar|cevap)\s*>|\bjson\b|biçimin?de|formatında|etiket", re.I)


def shorten(text: str, max_words: int = 12) -> str:
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
    low = tr_lower(word)
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


def key_phrases(text: str, limit: int = 24) -> list[str]:
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
                    piece[0] = tr_lower(piece[0][:1]) + piece[0][1:]
                phrase = " ".join(piece)
                key = tr_lower(phrase)
                if key in seen:
                    continue
                seen.add(key)
                (multi if len(piece) >= 2 else single).append(phrase)
    return (multi + single)[:limit]


FALLBACK_TOPICS = [
    "kira sözleşmesi", "katma değer vergisi", "tüketici hakları", "iklim değişikliği", "enflasyon oranı",
    "Osmanlı ekonomisi", "yenilenebilir enerji", "kişisel verilerin korunması", "deprem güvenliği",
    "anayasal haklar", "dijital dönüşüm", "kamu maliyesi", "Türk edebiyatı", "su kaynakları yönetimi",
]


_ASCII = str.maketrans("çğıöşüâîû", "cgiosuaiu")
_DOMAIN_LINE = re.compile(r"(?mi)^\s*alan\s*:\s*(.+?)\s*$")


def domain_of(text: str) -> str | None:
    """The domain key of a prompt: its ``Alan:`` line (``Kamu Yönetimi`` -> ``kamu_yonetimi``), else the
    domain whose hint words occur most often in it, else None."""
    match = _DOMAIN_LINE.search(text)
    if match:
        key = re.sub(r"\W+", "_", tr_lower(match.group(1)).translate(_ASCII)).strip("_")
        if key in DOMAIN_TOPICS:
            return key
    low = tr_lower(text)
    scores = {d: sum(low.count(h) for h in hints) for d, hints in DOMAIN_HINTS.items()}
    best = max(scores, key=lambda d: (scores[d], d))
    return best if scores[best] > 0 else None


# Capitalised runs of two or more words, e.g. "Türk Medeni Kanunu'na" -> "Türk Medeni Kanunu".
_ENTITY = re.compile(r"(?<![\w'’])((?:[A-ZÇĞİÖŞÜ][\w\-]*\s+)+[A-ZÇĞİÖŞÜ][\w\-]*)(?:['’]\w+)?")
# Participles, converbs, locative-ki and "sayılı"-like words do not make a topic ("düzenlenen haksız").
_NOT_TOPIC = re.compile(
    r"(?:[dt][ıiuü]ğ[ıiuü]\w*|[ae]r[ae]k|[lnr][ae]n|[ıiuü]l[ae]n|[dt][ae]ki|ndeki|ndaki|sayılı|tarihli|ki)$"
)
# Genitive or second-person -In / -nIn, locative -(n)DA on any word: an inflected phrase, not a topic.
_CASED = re.compile(r"(?:[ıiuü]n|\w{3}n?[dt][ae]|[aeıioöuü]yl[ae])$")
# Dative / accusative after a vowel on the last word ("sırasına", "merciyi").
_OBLIQUE_END = re.compile(r"(?:[aeıioöuü][ny][aeıiuü])$")
_WEAK_FIRST = {"temel", "yeni", "farklı", "genel", "özel", "ilgili", "mevcut", "yıllık", "toplam"}


def _good_phrase(phrase: str) -> bool:
    words = phrase.split()
    if len(words) < 2 or any(w[:1].isupper() for w in words) or tr_lower(words[0]) in _WEAK_FIRST:
        return False
    low = [tr_lower(w) for w in words]
    if any(_NOT_TOPIC.search(w) or _CASED.search(w) for w in low):
        return False
    return _OBLIQUE_END.search(low[-1]) is None


def example_topics(examples: Sequence[str]) -> list[str]:
    """Topics of the example tasks: named entities first, then clean lowercase noun phrases."""
    entities: list[str] = []
    phrases: list[str] = []
    for example in examples:
        for match in _ENTITY.finditer(example):
            name = match.group(1)
            first, _, rest = name.partition(" ")
            if match.start() == 0 and tr_lower(first) in _STOPWORDS:  # sentence-initial function word
                name = rest
            if len(name.split()) >= 2 and name not in entities:
                entities.append(name)
        phrases += [p for p in key_phrases(example, limit=8) if _good_phrase(p) and p not in phrases]
    seen: set[str] = set()
    out: list[str] = []
    for topic in entities[:2] + phrases:
        if tr_lower(topic) not in seen:
            seen.add(tr_lower(topic))
            out.append(topic)
    return out
