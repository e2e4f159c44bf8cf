"""Turkish suffix harmony for the simulator's sentences (small pure functions).

Turkish suffixes agree with the word they follow: two-way vowel harmony (de/da, e/a, den/dan), four-way
harmony (ı/i/u/ü: mı/mi/mu/mü, accusative, genitive), consonant assimilation after a voiceless consonant
(de -> te, den -> ten), a buffer consonant after a vowel (y in dative/accusative, n in genitive and after
a third-person possessive: "Türk Ceza Kanunu'nda"), and an apostrophe before the suffix of a proper noun
("Ankara'da", "SGK'da"). Acronyms take the vowel of their last letter's name (KDV -> "ve": "KDV'de";
SGK -> "ka": "SGK'da").

:class:`Phrase` carries these as format specs, so a template reads
``"{p:cap,gen} önemini açıklayınız."`` -> ``"Türk Ceza Kanunu'nun önemini açıklayınız."``.
"""

from __future__ import annotations

VOWELS = "aeıioöuü"
BACK = "aıou"
ROUNDED = "oöuü"
#: Voiceless consonants ("fıstıkçı şahap"): after them d -> t in de/da, den/dan.
VOICELESS = "fstkçşhp"
_CIRCUMFLEX = str.maketrans({"â": "a", "î": "i", "û": "u", "Â": "a", "Î": "i", "Û": "u"})
_LETTER_VOWEL = {"k": "a", "h": "e", "q": "u", "w": "e"}  # KDV = ka-de-ve; most letter names end in e


def tr_lower(text: str) -> str:
    return text.replace("I", "ı").replace("İ", "i").lower().translate(_CIRCUMFLEX)


def tr_capitalize(text: str) -> str:
    if not text:
        return text
    first = {"i": "İ", "ı": "I"}.get(text[0], text[0].upper())
    return first + text[1:]


def _last_word(phrase: str) -> str:
    words = phrase.split()
    return words[-1].strip(".,;:!?\"«»()") if words else ""


def is_acronym(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _sound(word: str) -> str:
    """The word as pronounced at its end: an acronym is spelled by letter names (SGK -> ...ka)."""
    if is_acronym(word):
        last = tr_lower(word.rstrip(".")[-1])
        return last if last in VOWELS else last + _LETTER_VOWEL.get(last, "e")
    return tr_lower(word)


def last_vowel(word: str) -> str:
    """The last vowel of ``word`` as pronounced (``e`` when it has none)."""
    for ch in reversed(_sound(_last_word(word) or word)):
        if ch in VOWELS:
            return ch
    return "e"


def ends_in_vowel(word: str) -> bool:
    sound = _sound(_last_word(word) or word)
    return bool(sound) and sound[-1] in VOWELS


def ends_voiceless(word: str) -> bool:
    sound = _sound(_last_word(word) or word)
    return bool(sound) and sound[-1] in VOICELESS


def two_way(word: str) -> str:
    """``a`` after a back vowel, ``e`` after a front one."""
    return "a" if last_vowel(word) in BACK else "e"


def four_way(word: str) -> str:
    """``ı`` / ``i`` / ``u`` / ``ü`` by the last vowel's backness and rounding."""
    v = last_vowel(word)
    if v in BACK:
        return "u" if v in ROUNDED else "ı"
    return "ü" if v in ROUNDED else "i"


def is_proper(phrase: str) -> bool:
    """Proper nouns (capitalised last word or an acronym) take their suffix after an apostrophe."""
    word = _last_word(phrase)
    return bool(word) and (word[0].isupper() or is_acronym(word))


def is_possessive_compound(phrase: str) -> bool:
    """A noun compound whose head carries the third-person possessive (Türk Ceza Kanunu, Amasya
    Genelgesi, kıdem tazminatı): its case suffixes take the buffer ``n`` (Kanunu'nda, tazminatını).
    Heuristic: two or more words and a last word ending in ı/i/u/ü (not an acronym)."""
    words = phrase.split()
    last = _last_word(phrase)
    return len(words) >= 2 and not is_acronym(last) and tr_lower(last)[-1:] in ("ı", "i", "u", "ü")


def _join(phrase: str, suffix: str) -> str:
    if is_proper(phrase):
        return f"{phrase}'{suffix}"
    last = phrase[-1:]
    # k -> ğ before a vowel in common nouns of more than one syllable (ortaklık -> ortaklığı).
    if suffix[:1] in VOWELS and last == "k" and sum(c in VOWELS for c in tr_lower(_last_word(phrase))) > 1:
        return phrase[:-1] + "ğ" + suffix
    return phrase + suffix


def locative(phrase: str) -> str:
    """-de/-da/-te/-ta (-nde/-nda after a possessive compound)."""
    if is_possessive_compound(phrase):
        return _join(phrase, "nd" + two_way(phrase))
    return _join(phrase, ("t" if ends_voiceless(phrase) else "d") + two_way(phrase))


def ablative(phrase: str) -> str:
    """-den/-dan/-ten/-tan (-nden/-ndan after a possessive compound)."""
    return locative(phrase) + "n"


def dative(phrase: str) -> str:
    """-e/-a, -ye/-ya after a vowel (-ne/-na after a possessive compound)."""
    if is_possessive_compound(phrase):
        return _join(phrase, "n" + two_way(phrase))
    return _join(phrase, ("y" if ends_in_vowel(phrase) else "") + two_way(phrase))


def accusative(phrase: str) -> str:
    """-ı/-i/-u/-ü, -yı/… after a vowel (-nı/… after a possessive compound)."""
    if is_possessive_compound(phrase):
        return _join(phrase, "n" + four_way(phrase))
    return _join(phrase, ("y" if ends_in_vowel(phrase) else "") + four_way(phrase))


def genitive(phrase: str) -> str:
    """-ın/-in/-un/-ün, -nın/… after a vowel."""
    return _join(phrase, ("n" if ends_in_vowel(phrase) else "") + four_way(phrase) + "n")


def locative_ki(phrase: str) -> str:
    """The locative plus the relative -ki (Türkiye'deki, SGK'daki)."""
    return locative(phrase) + "ki"


def conjunction_da(phrase: str) -> str:
    """The conjunction "de/da" ("also"), written apart and never ``te/ta``: "Kanunu da", "KDV de"."""
    return f"{phrase} d{two_way(phrase)}"


def question_mi(phrase: str) -> str:
    """The question particle, written apart: "geçerli mi", "doğru mu", "yasal mı", "önemli mi"."""
    return f"{phrase} m{four_way(phrase)}"


_SPECS = {
    "loc": locative,
    "abl": ablative,
    "dat": dative,
    "acc": accusative,
    "gen": genitive,
    "ki": locative_ki,
    "da": conjunction_da,
    "mi": question_mi,
    "cap": tr_capitalize,
}


class Phrase(str):
    """A noun phrase whose format spec inflects it: ``format("{p:cap,loc}", p=Phrase("ceza hukuku"))``.

    Specs (comma-separated, applied left to right): ``cap``, ``loc``, ``abl``, ``dat``, ``acc``, ``gen``,
    ``ki``, ``da``, ``mi``.
    """

    __slots__ = ()

    def __format__(self, spec: str) -> str:
        text = str(self)
        for name in filter(None, (s.strip() for s in spec.split(","))):
            if name not in _SPECS:
                raise ValueError(f"unknown Turkish suffix spec {name!r} (use {', '.join(_SPECS)})")
            text = _SPECS[name](text)
        return text
