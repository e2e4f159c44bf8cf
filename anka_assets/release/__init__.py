"""Pure logic of the release, one module per responsibility; every name is importable from here.

- `layout`: the chat layout of one example, its side columns, the prompt/completion form;
- `checks`: decontamination against the eval tasks (`EvalIndex`) and the blocking checks;
- `files`: the content-addressed version and the files, written atomically;
- `card`: the dataset card (README.md of a release);
- `assemble`: one release from its rows (dedup, decontamination, files, the facts it states);
- `funnel`: seeds → tasks → chains → judged and passed → SFT rows → exported, per domain.
"""

from anka_assets.release.assemble import (
    Release,
    Selection,
    decontaminate,
    deduplicated,
    release_files,
    split_counts,
)
from anka_assets.release.card import (
    CARD_CONFIGS,
    card_front_matter,
    dataset_card,
    domains_line,
    simulated_warning,
    token_stats,
)
from anka_assets.release.checks import (
    PII_SCAN,
    EvalIndex,
    chat_problems,
    eval_overlaps,
    invalid_chats,
    pii_findings,
)
from anka_assets.release.files import canonical, features, file_sha256, jsonl, release_version, write_release
from anka_assets.release.funnel import (
    FUNNEL_COLUMNS,
    funnel_markdown,
    funnel_problems,
    funnel_row,
    funnel_total,
    reject_category,
)
from anka_assets.release.layout import SIDE_COLUMNS, SPLITS, Layout, example, example_text, prompt_completion

__all__ = [
    "CARD_CONFIGS", "FUNNEL_COLUMNS", "Release", "Selection", "decontaminate", "deduplicated",
    "release_files", "split_counts", "PII_SCAN", "SIDE_COLUMNS", "SPLITS", "EvalIndex", "Layout", "canonical",
    "card_front_matter", "chat_problems", "dataset_card", "domains_line", "eval_overlaps", "example",
    "example_text", "features", "file_sha256", "funnel_markdown", "funnel_problems", "funnel_row", "funnel_total",
    "invalid_chats", "jsonl", "pii_findings", "prompt_completion", "reject_category", "release_version",
    "simulated_warning", "token_stats", "write_release",
]
