"""Expert review files: the queue we export for a spreadsheet, and the verdicts we import.

Export: `<review_queue_dir>/<domain>.csv`, UTF-8 with BOM (Excel opens it with Turkish letters
intact), one row per judged answer, rejected and borderline ones first, with empty `verdict`,
`note`, `reviewer` columns for the expert.

Import: `<reviews_dir>/<domain>.csv` with columns `row_id`, `verdict` (approve / reject; Turkish
`onay`, `onayla`, `kabul`, `ret`, `red`, `reddet` too), optional `note` and `reviewer`. Comma or
semicolon separated (Excel in a Turkish locale writes semicolons). Every problem names the file,
the line and the column; all problems of a file are reported together. Pure: no Dagster, no DuckDB.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from anka_assets.errors import InputFileError
from anka_assets.judge_criteria import CRITERIA, VERDICT_FIELDS, scores
from anka_assets.text.pii import redact
from anka_assets.text.normalize import MojibakeError, label_key, normalize_text

#: Keys are `label_key` forms (Turkish case fold, ı→i), so "ONAY", "Hayır" and "HAYIR" all match.
VERDICT_ALIASES = {
    "approve": "approve", "approved": "approve", "onay": "approve", "onayla": "approve",
    "onaylandi": "approve", "kabul": "approve", "evet": "approve",
    "reject": "reject", "rejected": "reject", "ret": "reject", "red": "reject", "reddet": "reject",
    "reddedildi": "reject", "hayir": "reject",
}
REQUIRED_COLUMNS = ("row_id", "verdict")
OPTIONAL_COLUMNS = ("note", "reviewer")
MAX_NOTE_CHARS = 2000

QUEUE_COLUMNS = (
    "row_id", "domain", "instruction", "reasoning", "answer", *VERDICT_FIELDS, "passed", "reject_reasons",
    "verdict", "note", "reviewer",
)


class ReviewFileError(InputFileError):
    kind = "review file"


@dataclass(frozen=True)
class ExpertVerdict:
    row_id: str
    verdict: str  # approve | reject
    note: str | None
    reviewer: str | None
    line: int


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ReviewFileError(
            path, [f"line {line}: the file is not valid UTF-8; save it as 'CSV UTF-8' from the spreadsheet"]
        ) from None


def load_reviews(path: Path | str) -> dict[str, ExpertVerdict]:
    """Verdicts by row_id. A missing file means no verdicts. Raises ReviewFileError on any problem."""
    path = Path(path)
    rows = _csv_rows(path) if path.exists() else []
    if not rows:
        return {}
    col = _columns(path, rows[0])
    verdicts: dict[str, ExpertVerdict] = {}
    problems: list[str] = []
    for line_no, row in enumerate(rows[1:], start=2):
        verdict = _verdict(row + [""] * (len(rows[0]) - len(row)), col, line_no, problems)
        if verdict is None:
            continue
        if verdict.row_id in verdicts:
            problems.append(f"line {line_no}, column 'row_id': {verdict.row_id} was already reviewed on line "
                            f"{verdicts[verdict.row_id].line}")
            continue
        verdicts[verdict.row_id] = verdict
    if problems:
        raise ReviewFileError(path, problems)
    return verdicts


def _csv_rows(path: Path) -> list[list[str]]:
    """The file's rows (comma or semicolon separated, whichever the header uses more); [] when empty."""
    text = _decode(path)
    if not text.strip():
        return []
    first_line = text.splitlines()[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return list(reader)
    except csv.Error as exc:
        raise ReviewFileError(path, [f"line {reader.line_num}: CSV syntax error: {exc}"]) from None


def _columns(path: Path, header_row: list[str]) -> dict[str, int]:
    """Column name -> index of the known columns; raises ReviewFileError when a required one is missing."""
    header = [label_key(h) for h in header_row]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ReviewFileError(path, [f"line 1: missing column(s) {', '.join(missing)} (found: {', '.join(header)})"])
    return {name: header.index(name) for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if name in header}


def _verdict(row: list[str], col: dict[str, int], line_no: int, problems: list[str]) -> ExpertVerdict | None:
    """One line's verdict, or None (a blank line, a row not reviewed yet, or a problem added to `problems`)."""

    def cell(name: str) -> str:
        return row[col[name]].strip() if name in col else ""

    row_id, raw_verdict = cell("row_id"), cell("verdict")
    if not any(c.strip() for c in row):
        return None
    if not row_id:
        problems.append(f"line {line_no}, column 'row_id': empty")
        return None
    if not raw_verdict:
        return None  # not reviewed yet: an exported queue may come back partly filled in
    verdict = VERDICT_ALIASES.get(label_key(raw_verdict))
    if verdict is None:
        problems.append(f"line {line_no}, column 'verdict': unknown verdict {raw_verdict!r} (use approve or reject; "
                        f"onay / ret work too)")
        return None
    texts = {name: _text_cell(cell(name), name, line_no, problems) for name in OPTIONAL_COLUMNS}
    return ExpertVerdict(row_id, verdict, texts["note"], texts["reviewer"], line_no)


def _text_cell(value: str, name: str, line_no: int, problems: list[str]) -> str | None:
    """A free-text cell, NFC-normalised; None when empty. Mojibake and overlong text are problems."""
    try:
        value = normalize_text(value)[0] if value else ""
    except MojibakeError as exc:
        problems.append(f"line {line_no}, column '{name}': {exc}")
        value = ""
    if len(value) > MAX_NOTE_CHARS:
        problems.append(f"line {line_no}, column '{name}': too long ({len(value)} characters)")
    return value or None


#: Free-text columns of the queue that may carry personal data from a prompt or a teacher's answer.
REDACTED_COLUMNS = ("instruction", "reasoning", "answer",
                    *(c.name for c in CRITERIA if c.kind in ("text", "optional_text")), "note")


def write_review_queue(judged: pl.DataFrame, path: Path | str, *, redacted: bool = True) -> int:
    """Write the expert queue for one domain: rejected and low-scored rows first. Returns row count.

    The file leaves the warehouse (it is opened in a spreadsheet, mailed to experts), so personal data in
    its free-text columns is replaced by typed placeholders (``[TCKN]``, ``[IBAN]``, ...; egress scan)
    unless ``redacted=False``; the raw texts stay in the warehouse only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    queue = (
        judged.filter(pl.col("answer").is_not_null())
        .with_columns(
            pl.col("reasoning_steps").list.join("\n").alias("reasoning"),
            pl.col("reject_reasons").list.join(", "),
            pl.col("expert_verdict").fill_null("").alias("verdict"),
            pl.col("expert_note").fill_null("").alias("note"),
            pl.col("reviewer").fill_null(""),
        )
        .sort(["passed", scores()[0].name, "row_id"], nulls_last=False)  # lowest first score first
        .select(QUEUE_COLUMNS)
    )
    if redacted:
        queue = queue.with_columns(
            pl.col(c).map_elements(_redact_cell, return_dtype=pl.Utf8) for c in REDACTED_COLUMNS
        )
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(QUEUE_COLUMNS)
        writer.writerows(["" if v is None else v for v in row] for row in queue.iter_rows())
    tmp.replace(path)  # never leave a half-written queue behind
    return len(queue)


def _redact_cell(text: str | None) -> str | None:
    return redact(text, mode="egress")[0] if text else text
