"""Strict, humane loading of curated seed files (`data/seeds/<domain>.yaml`).

A seed file is UTF-8 YAML:

    domain: hukuk                      # optional; must equal the file name when given
    description: "..."                 # optional
    label: "Hukuk"                     # optional: the domain's name shown to models; default from the key
    tasks:
      - instruction: "Türk Borçlar Kanunu'na göre temerrüdün şartlarını açıklayınız."
        sensitivity: public            # public | internal | confidential; missing → confidential
        tags: [borclar_hukuku, aciklama]   # optional list of strings
        source: "6098 sayılı TBK m. 117"   # optional string

Every problem is reported as an editor shows a place, ``hukuk.yaml:5:18: ...`` (line and column from 1),
with the task number as the file shows it (task 1 is the first) and the field. All problems of a
file are collected and raised together as one :class:`SeedFileError`, so a curator fixes a file in
one pass. The file is read here only: every later stage reads the stored `curated_seeds` table (the
domain's label included, as its `domain_label` column). Pure: no Dagster, no DuckDB.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from anka_assets.gateway.types import SENSITIVITIES  # one definition, shared with the KVKK guard
from anka_assets.errors import InputFileError
from anka_assets.text.normalize import (
    MojibakeError,
    content_hash,
    count_letters,
    normalize_text,
    stable_id,
    label_key,
    task_key,
)

#: Strictness order: a merged or derived task takes the strictest label of its sources.
SENSITIVITY_RANK = {name: rank for rank, name in enumerate(SENSITIVITIES)}
DEFAULT_SENSITIVITY = "confidential"

TASK_FIELDS = ("instruction", "sensitivity", "tags", "source")
MIN_INSTRUCTION_LETTERS = 10
MAX_INSTRUCTION_CHARS = 2000
MAX_SOURCE_CHARS = 500
MAX_TAG_CHARS = 64

DOMAIN_PATTERN = re.compile(r"^[a-z0-9_]+$")


class SeedFileError(InputFileError):
    """Problems of one seed file. ``problems`` are ``"line:column: text"``; the message has one line per problem, each starting with the file and its place (``path:5:18: ...``),
    so the first line alone already says where to look."""

    kind = "seed file"

    def __init__(self, path: Path | str, problems: list[str]):
        super().__init__(path, problems)
        self.args = ("\n".join(f"{self.path}:{p}" for p in problems),)

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class SeedTask:
    seed_id: str
    domain: str
    instruction: str
    sensitivity: str
    sensitivity_defaulted: bool
    tags: tuple[str, ...]
    source: str | None
    source_file: str
    source_line: int
    repaired: bool
    content_hash: str


@dataclass
class SeedFileResult:
    domain: str
    path: str
    description: str | None
    tasks: list[SeedTask]
    label: str | None = None
    duplicates_collapsed: int = 0
    repaired: int = 0
    sensitivity_defaulted: int = 0
    duplicate_examples: list[str] = field(default_factory=list)


def validate_instruction(text: str) -> tuple[str, bool]:
    """Normalise a task text (NFC, mojibake repair, whitespace) and check its length.

    Returns (text, repaired?). Raises ValueError (MojibakeError included) saying what is wrong.
    Curated and teacher-generated tasks pass through the same rules."""
    text, repaired = normalize_text(text)
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise ValueError(f"too long ({len(text)} characters, at most {MAX_INSTRUCTION_CHARS})")
    letters = count_letters(text)
    if letters < MIN_INSTRUCTION_LETTERS:
        raise ValueError(f"empty or too short ({letters} letters, at least {MIN_INSTRUCTION_LETTERS})")
    return text, repaired


def strictest(*labels: str) -> str:
    return max(labels, key=lambda s: SENSITIVITY_RANK[s])


def seed_id_for(domain: str, instruction: str) -> str:
    """Stable id: same domain and same task text (after Turkish-aware normalisation) → same id."""
    return stable_id(domain, task_key(instruction), prefix="tsk_")


def task_content_hash(instruction: str, sensitivity: str, tags: tuple[str, ...], source: str | None) -> str:
    return content_hash(instruction, sensitivity, "\x1e".join(tags), source or "")


def domain_from_path(path: Path) -> str:
    return path.stem


def list_seed_files(seeds_dir: Path) -> list[Path]:
    """Seed files of a folder, sorted. Raises ValueError for a file name that is no valid domain."""
    if not seeds_dir.is_dir():
        return []
    files = sorted(p for p in seeds_dir.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    bad = [p.name for p in files if not DOMAIN_PATTERN.match(p.stem)]
    if bad:
        raise ValueError(
            f"seed file names must be lower-case ASCII domain names (letters, digits, '_'), "
            f"e.g. kamu_yonetimi.yaml; rename: {', '.join(bad)} in {seeds_dir}"
        )
    stems = Counter(p.stem for p in files)
    twice = [s for s, n in stems.items() if n > 1]
    if twice:
        raise ValueError(f"two seed files for the same domain ({', '.join(twice)}) in {seeds_dir}: keep one")
    return files


# --- YAML with line numbers -------------------------------------------------------------------


class _Node:
    """A YAML value with the place (1-based line and column) where it starts."""

    __slots__ = ("value", "line", "column", "key_at")

    def __init__(self, value: Any, line: int, column: int = 1, key_at: str | None = None):
        self.value = value
        self.line = line
        self.column = column
        self.key_at = key_at or self.at  #: where the key of a mapping value is (a misspelt field's place)

    @property
    def at(self) -> str:
        return f"{self.line}:{self.column}"


def _wrap(node: yaml.Node) -> _Node:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, _Node] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            value = _wrap(value_node)
            value.key_at = _place(key_node.start_mark)
            out[str(key)] = value
        return _Node(out, line, column)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_wrap(v) for v in node.value], line, column)
    return _Node(_scalar(node), line, column)


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a plain value", node.start_mark)
    return yaml.SafeLoader(stream="").construct_object(node)  # type: ignore[arg-type]


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "nothing (null)"}.get(type(value), type(value).__name__)


def _place(mark: yaml.Mark) -> str:
    """A PyYAML mark (0-based) as an editor shows it: ``line:column`` from 1."""
    return f"{mark.line + 1}:{mark.column + 1}"


def _unclosed_quote(text: str, problem: yaml.Mark) -> yaml.Token | None:
    """The quoted value that most likely lacks its closing quote: one that runs over several lines and
    ends on the line where the parser gave up (its "closing" quote is really the next value's opening
    one). None when there is no such value."""
    suspect = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= problem.index:
                break
            if (isinstance(token, yaml.ScalarToken) and token.style in ('"', "'")
                    and token.start_mark.line < token.end_mark.line == problem.line):
                suspect = token
    except yaml.YAMLError:
        pass  # the tokens before the error are all we need
    return suspect


def yaml_problem(text: str, exc: yaml.YAMLError) -> str:
    """A YAML syntax error as ``"line:column: YAML syntax error: ..."``, at the place to fix.

    PyYAML's ``problem_mark`` is where it gave up, which is often lines after the mistake: an unclosed
    quote is noticed at the end of the file, or at the next quote. There the place to fix is where the
    scanned construct began (the ``context_mark`` of a scanner error) or the quote that opened the value
    which swallowed the following lines; the place PyYAML gave up is named after it."""
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    problem = (getattr(exc, "problem", None) or str(exc)).strip()
    context = (getattr(exc, "context", None) or "").strip()
    if problem_mark is None:
        return f"1:1: YAML syntax error: {problem}"
    if isinstance(exc, yaml.scanner.ScannerError) and context_mark is not None \
            and _place(context_mark) != _place(problem_mark):
        hint = " (a quote is not closed)" if "quoted scalar" in context else ""
        return (f"{_place(context_mark)}: YAML syntax error{hint}: {context} starting here, "
                f"{problem} at {_place(problem_mark)}")
    quote = _unclosed_quote(text, problem_mark)
    if quote is not None:
        closing = f"{quote.end_mark.line + 1}:{quote.end_mark.column}"  # the end mark is past the quote
        return (f"{_place(quote.start_mark)}: YAML syntax error (a quote is not closed on its line): the {quote.style} "
                f"opened here is closed only by the one at {closing}, and then {problem} at {_place(problem_mark)}")
    where = f" ({context} at {_place(context_mark)})" if context and context_mark is not None else ""
    return f"{_place(problem_mark)}: YAML syntax error: {problem}{where}"


def _compose(path: Path) -> _Node:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw[: exc.start].count(b"\n") + 1
        column = len(raw[line_start: exc.start].decode("utf-8", errors="replace")) + 1
        raise SeedFileError(
            path, [f"{line}:{column}: the file is not valid UTF-8 (byte {raw[exc.start]:#04x}); save it as UTF-8"]
        ) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise SeedFileError(path, [yaml_problem(text, exc)]) from None
    if node is None:
        raise SeedFileError(path, ["1:1: the file is empty; expected a mapping with a 'tasks' list"])
    return _wrap(node)


# --- validation -------------------------------------------------------------------------------


def _text_field(
    raw: _Node, where: str, name: str, problems: list[str], *, max_chars: int
) -> tuple[str | None, bool]:
    """Validate and normalise one text field. ``where``: the problem's prefix up to the field's name
    (``"4:11: task 1, "``). Returns (text or None on error, repaired?)."""
    if not isinstance(raw.value, str):
        problems.append(f"{where}field '{name}': expected a string, got {_type_name(raw.value)}")
        return None, False
    try:
        text, repaired = normalize_text(raw.value)
    except MojibakeError as exc:
        problems.append(f"{where}field '{name}': {exc}")
        return None, False
    if len(text) > max_chars:
        problems.append(f"{where}field '{name}': too long ({len(text)} characters, at most {max_chars})")
        return None, False
    return text, repaired


def _parse_task(item: _Node, number: int, domain: str, path: Path, problems: list[str]) -> SeedTask | None:
    """One task; ``number`` counts from 1, as the file shows the tasks."""
    where = f"{item.at}: task {number}"
    if not isinstance(item.value, dict):
        problems.append(f"{where}: expected a mapping with an 'instruction', got {_type_name(item.value)}")
        return None
    fields: dict[str, _Node] = item.value
    before = len(problems)

    for name in fields:
        if name not in TASK_FIELDS:
            problems.append(
                f"{fields[name].key_at}: task {number}, field '{name}': unknown field "
                f"(allowed: {', '.join(TASK_FIELDS)})"
            )

    instruction, repaired = None, False
    if "instruction" not in fields or fields["instruction"].value is None:
        problems.append(f"{where}, field 'instruction': missing")
    elif not isinstance(fields["instruction"].value, str):
        raw = fields["instruction"]
        problems.append(
            f"{raw.at}: task {number}, field 'instruction': expected a string, got {_type_name(raw.value)}"
        )
    else:
        raw = fields["instruction"]
        try:
            instruction, repaired = validate_instruction(raw.value)
        except ValueError as exc:
            problems.append(f"{raw.at}: task {number}, field 'instruction': {exc}")

    sensitivity, defaulted = DEFAULT_SENSITIVITY, True
    if "sensitivity" in fields and fields["sensitivity"].value is not None:
        raw = fields["sensitivity"]
        defaulted = False
        if not isinstance(raw.value, str):
            problems.append(
                f"{raw.at}: task {number}, field 'sensitivity': expected one of "
                f"{', '.join(SENSITIVITIES)}, got {_type_name(raw.value)}"
            )
        elif label_key(raw.value) not in SENSITIVITIES:
            problems.append(
                f"{raw.at}: task {number}, field 'sensitivity': unknown value {raw.value!r} "
                f"(allowed: {', '.join(SENSITIVITIES)}; leave it out to mean confidential)"
            )
        else:
            sensitivity = label_key(raw.value)

    tags: list[str] = []
    if "tags" in fields and fields["tags"].value is not None:
        raw = fields["tags"]
        if not isinstance(raw.value, list):
            problems.append(
                f"{raw.at}: task {number}, field 'tags': expected a list of strings, got {_type_name(raw.value)}"
            )
        else:
            for tag_index, tag in enumerate(raw.value):
                text, _ = _text_field(
                    tag, f"{tag.at}: task {number}, ", f"tags[{tag_index}]", problems, max_chars=MAX_TAG_CHARS
                )
                if text:
                    tags.append(text)

    source = None
    if "source" in fields and fields["source"].value is not None:
        raw = fields["source"]
        value = raw.value if not isinstance(raw.value, (int, float)) or isinstance(raw.value, bool) else str(raw.value)
        source, _ = _text_field(
            _Node(value, raw.line, raw.column), f"{raw.at}: task {number}, ", "source", problems, max_chars=MAX_SOURCE_CHARS
        )
        source = source or None

    if len(problems) > before or instruction is None:
        return None
    tag_tuple = tuple(dict.fromkeys(tags))
    return SeedTask(
        seed_id=seed_id_for(domain, instruction),
        domain=domain,
        instruction=instruction,
        sensitivity=sensitivity,
        sensitivity_defaulted=defaulted,
        tags=tag_tuple,
        source=source,
        source_file=path.name,
        source_line=item.line,
        repaired=repaired,
        content_hash=task_content_hash(instruction, sensitivity, tag_tuple, source),
    )


def collapse_duplicates(tasks: list[SeedTask]) -> tuple[list[SeedTask], list[SeedTask]]:
    """Keep the first task of each seed_id; a duplicate's stricter sensitivity wins.

    Returns (kept, dropped)."""
    kept: dict[str, SeedTask] = {}
    dropped: list[SeedTask] = []
    for task in tasks:
        first = kept.get(task.seed_id)
        if first is None:
            kept[task.seed_id] = task
            continue
        dropped.append(task)
        label = strictest(first.sensitivity, task.sensitivity)
        if label != first.sensitivity:
            kept[task.seed_id] = SeedTask(
                **{**first.__dict__, "sensitivity": label, "sensitivity_defaulted": False,
                   "content_hash": task_content_hash(first.instruction, label, first.tags, first.source)}
            )
    return list(kept.values()), dropped


TOP_LEVEL_FIELDS = ("domain", "description", "label", "tasks")
MAX_LABEL_CHARS = 80


def default_domain_label(domain: str) -> str:
    """The label of a domain whose seed file names none: the key, capitalised (``kamu_yonetimi`` ->
    ``Kamu yonetimi``). Seed files should say ``label:`` for proper Turkish letters. `curated_seeds`
    stores the label (the file's or this one) in its `domain_label` column for every later stage."""
    return domain.replace("_", " ").capitalize()


def load_seed_file(path: Path | str) -> SeedFileResult:
    """Parse and validate one seed file. Raises SeedFileError listing every problem found."""
    path = Path(path)
    domain = domain_from_path(path)
    if not DOMAIN_PATTERN.match(domain):
        raise SeedFileError(path, [f"file name {path.name!r} is not a valid domain name (a-z, 0-9, '_')"])
    root = _compose(path)
    if not isinstance(root.value, dict):
        raise SeedFileError(path, [f"{root.at}: expected a mapping with a 'tasks' list, got {_type_name(root.value)}"])
    top: dict[str, _Node] = root.value
    problems: list[str] = []

    for name, node in top.items():
        if name not in TOP_LEVEL_FIELDS:
            problems.append(f"{node.key_at}: field '{name}': unknown top-level field "
                            f"(allowed: {', '.join(TOP_LEVEL_FIELDS)})")
    if "domain" in top and top["domain"].value != domain:
        problems.append(
            f"{top['domain'].at}: field 'domain': {top['domain'].value!r} does not match the file name "
            f"{path.name!r} (the file name is the partition key)"
        )
    description = None
    if "description" in top and top["description"].value is not None:
        description, _ = _text_field(top["description"], f"{top['description'].at}: ", "description",
                                     problems, max_chars=MAX_SOURCE_CHARS)
    label = None
    if "label" in top and top["label"].value is not None:
        label, _ = _text_field(top["label"], f"{top['label'].at}: ", "label", problems, max_chars=MAX_LABEL_CHARS)

    if "tasks" not in top:
        problems.append(f"{root.at}: field 'tasks': missing; expected a list of tasks")
        raise SeedFileError(path, problems)
    items = top["tasks"]
    if not isinstance(items.value, list):
        problems.append(f"{items.at}: field 'tasks': expected a list of tasks, got {_type_name(items.value)}")
        raise SeedFileError(path, problems)
    if not items.value:
        problems.append(f"{items.at}: field 'tasks': the list is empty")

    parsed = [_parse_task(item, n, domain, path, problems) for n, item in enumerate(items.value, start=1)]
    if problems:
        raise SeedFileError(path, problems)

    tasks = [t for t in parsed if t is not None]
    kept, dropped = collapse_duplicates(tasks)
    return SeedFileResult(
        domain=domain,
        path=str(path),
        description=description,
        tasks=kept,
        label=label,
        duplicates_collapsed=len(dropped),
        repaired=sum(t.repaired for t in kept),
        sensitivity_defaulted=sum(t.sensitivity_defaulted for t in kept),
        duplicate_examples=[f"line {t.source_line}: {t.instruction[:80]}" for t in dropped[:5]],
    )
