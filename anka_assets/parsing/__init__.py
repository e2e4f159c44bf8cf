"""Parsers for model outputs, and the OpenAI ``response_format`` dicts that ask for them.

Formats are fixed in ``docs/CONTRACTS.md``:

* teacher chain of thought (``cot_answer``, :mod:`.cot`): ``{"adimlar": [...], "cevap": "..."}`` or, for
  backends without structured output, the tagged form ``<adimlar>1. ... 2. ...</adimlar><cevap>...</cevap>``;
* judge verdict (``judge_verdict``, :mod:`.judge`): one field per criterion of
  `anka_assets.judge_criteria.CRITERIA` (today ``{"dogruluk": 1-5, "kulturel_uygunluk": 1-5,
  "halusinasyon": bool, "halusinasyon_iddiasi": str | null, "gerekce": str}``), and the pairwise
  verdict of the student evaluation (``pairwise_verdict``);
* seed expansion (``task_list``, :mod:`.tasks`): ``{"gorevler": [...]}`` or a numbered / bulleted plain list.

:mod:`.jsonish` holds the shared reading of noisy JSON and lists, :mod:`.bounds` the longest answer a
bounded schema allows. Everything here is pure: text in, value out, ``ParseError`` (a ``ValueError``)
when the text cannot be read. The parsers tolerate the usual noise of real model output (```json
fences, prose around the JSON object, extra whitespace, raw newlines inside JSON strings, trailing
commas, Turkish spellings of keys such as ``"adımlar"`` or ``"kültürel_uygunluk"``) but never guess at
content: truncated JSON, wrong types and out-of-range scores are errors.
"""

from anka_assets.judge_criteria import JUDGE_CLAIM_MAX_CHARS, JUDGE_TEXT_MAX_CHARS, SCORE_MAX, SCORE_MIN
from anka_assets.parsing.bounds import response_format_max_tokens, schema_max_chars
from anka_assets.parsing.cot import (
    COT_ANSWER_MAX_CHARS,
    COT_MAX_STEPS,
    COT_RESPONSE_FORMAT,
    COT_STEP_MAX_CHARS,
    ParsedCot,
    parse_cot,
)
from anka_assets.parsing.jsonish import ParseError
from anka_assets.parsing.judge import (
    JUDGE_RESPONSE_FORMAT,
    PAIRWISE_CHOICES,
    PAIRWISE_REASON_MAX_CHARS,
    PAIRWISE_RESPONSE_FORMAT,
    JudgeVerdict,
    PairwiseVerdict,
    parse_judge,
    parse_pairwise,
    parse_verdict,
)
from anka_assets.parsing.tasks import TASK_LIST_MAX_ITEMS, TASK_LIST_RESPONSE_FORMAT, TASK_MAX_CHARS, parse_task_list

__all__ = [
    "schema_max_chars",
    "response_format_max_tokens",
    "COT_RESPONSE_FORMAT",
    "JUDGE_RESPONSE_FORMAT",
    "TASK_LIST_RESPONSE_FORMAT",
    "SCORE_MIN",
    "SCORE_MAX",
    "ParseError",
    "ParsedCot",
    "JudgeVerdict",
    "parse_cot",
    "parse_judge",
    "parse_verdict",
    "parse_task_list",
    "PAIRWISE_RESPONSE_FORMAT",
    "PairwiseVerdict",
    "parse_pairwise",
    "COT_MAX_STEPS",
    "COT_STEP_MAX_CHARS",
    "COT_ANSWER_MAX_CHARS",
    "TASK_LIST_MAX_ITEMS",
    "TASK_MAX_CHARS",
    "JUDGE_TEXT_MAX_CHARS",
    "JUDGE_CLAIM_MAX_CHARS",
    "PAIRWISE_REASON_MAX_CHARS",
    "PAIRWISE_CHOICES",
]
