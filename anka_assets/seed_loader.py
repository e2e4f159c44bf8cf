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

Every problem is reported with the file, the line, the item index and the field. All problems of a
file are collected and raised together as one :class:`SeedFileError`, so a curator fixes a file in
one pass. Pure: no Dagster, no DuckDB.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterable

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
    kind = "seed file"


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
    """A YAML value with the line (1-based) where it starts."""

    __slots__ = ("value", "line")

    def __init__(self, value: Any, line: int):
        self.value = value
        self.line = line


def _wrap(node: yaml.Node) -> _Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, _Node] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            out[str(key)] = _wrap(value_node)
        return _Node(out, line)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_wrap(v) for v in node.value], line)
    return _Node(_scalar(node), line)


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a plain value", node.start_mark)
    return yaml.SafeLoader(stream="").construct_object(node)  # type: ignore[arg-type]


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "nothing (null)"}.get(type(value), type(value).__name__)


def _compose(path: Path) -> _Node:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SeedFileError(
            path, [f"line {line}: the file is not valid UTF-8 (byte {raw[exc.start]:#04x}); save it as UTF-8"]
        ) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        problem = getattr(exc, "problem", None) or str(exc)
        raise SeedFileError(path, [f"{where}: YAML syntax error: {problem}"]) from None
    if node is None:
        raise SeedFileError(path, ["line 1: the file is empty; expected a mapping with a 'tasks' list"])
    return _wrap(node)


# --- validation -------------------------------------------------------------------------------


def _text_field(
    raw: _Node, where: str, name: str, problems: list[str], *, max_chars: int
) -> tuple[str | None, bool]:
    """Validate and normalise one text field. Returns (text or None on error, repaired?)."""
    if not isinstance(raw.value, str):
        problems.append(f"{where}, field '{name}': expected a string, got {_type_name(raw.value)}")
        return None, False
    try:
        text, repaired = normalize_text(raw.value)
    except MojibakeError as exc:
        problems.append(f"{where}, field '{name}': {exc}")
        return None, False
    if len(text) > max_chars:
        problems.append(f"{where}, field '{name}': too long ({len(text)} characters, at most {max_chars})")
        return None, False
    return text, repaired


def _parse_task(item: _Node, index: int, domain: str, path: Path, problems: list[str]) -> SeedTask | None:
    where = f"line {item.line}, task #{index}"
    if not isinstance(item.value, dict):
        problems.append(f"{where}: expected a mapping with an 'instruction', got {_type_name(item.value)}")
        return None
    fields: dict[str, _Node] = item.value
    before = len(problems)

    for name in fields:
        if name not in TASK_FIELDS:
            problems.append(
                f"line {fields[name].line}, task #{index}, field '{name}': unknown field "
                f"(allowed: {', '.join(TASK_FIELDS)})"
            )

    instruction, repaired = None, False
    if "instruction" not in fields or fields["instruction"].value is None:
        problems.append(f"{where}, field 'instruction': missing")
    elif not isinstance(fields["instruction"].value, str):
        raw = fields["instruction"]
        problems.append(
            f"line {raw.line}, task #{index}, field 'instruction': expected a string, got {_type_name(raw.value)}"
        )
    else:
        raw = fields["instruction"]
        try:
            instruction, repaired = validate_instruction(raw.value)
        except ValueError as exc:
            problems.append(f"line {raw.line}, task #{index}, field 'instruction': {exc}")

    sensitivity, defaulted = DEFAULT_SENSITIVITY, True
    if "sensitivity" in fields and fields["sensitivity"].value is not None:
        raw = fields["sensitivity"]
        defaulted = False
        if not isinstance(raw.value, str):
            problems.append(
                f"line {raw.line}, task #{index}, field 'sensitivity': expected one of "
                f"{', '.join(SENSITIVITIES)}, got {_type_name(raw.value)}"
            )
        elif label_key(raw.value) not in SENSITIVITIES:
            problems.append(
                f"line {raw.line}, task #{index}, field 'sensitivity': unknown value {raw.value!r} "
                f"(allowed: {', '.join(SENSITIVITIES)}; leave it out to mean confidential)"
            )
        else:
            sensitivity = label_key(raw.value)

    tags: list[str] = []
    if "tags" in fields and fields["tags"].value is not None:
        raw = fields["tags"]
        if not isinstance(raw.value, list):
            problems.append(
                f"line {raw.line}, task #{index}, field 'tags': expected a list of strings, got {_type_name(raw.value)}"
            )
        else:
            for tag_index, tag in enumerate(raw.value):
                text, _ = _text_field(
                    tag, f"line {tag.line}, task #{index}", f"tags[{tag_index}]", problems, max_chars=MAX_TAG_CHARS
                )
                if text:
                    tags.append(text)

    source = None
    if "source" in fields and fields["source"].value is not None:
        raw = fields["source"]
        value = raw.value if not isinstance(raw.value, (int, float)) or isinstance(raw.value, bool) else str(raw.value)
        source, _ = _text_field(
            _Node(value, raw.line), f"line {raw.line}, task #{index}", "source", problems, max_chars=MAX_SOURCE_CHARS
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
    ``Kamu yonetimi``). Seed files should say ``label:`` for proper Turkish letters."""
    return domain.replace("_", " ").capitalize()


def domain_labels(seeds_dir: Path | str, domains: Iterable[str] = ()) -> dict[str, str]:
    """Domain -> the label shown to models, from each seed file's ``label`` (its key when it has none),
    for every seed file and every one of ``domains`` (a domain without a file gets its default).

    Reads only the top-level ``label`` of each file: the full validation is `curated_seeds`' job."""
    labels = {}
    for path in list_seed_files(Path(seeds_dir)):
        try:
            top = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            top = None
        label = top.get("label") if isinstance(top, dict) else None
        try:
            label = normalize_text(label)[0] if isinstance(label, str) else None
        except MojibakeError:
            label = None
        labels[path.stem] = label or default_domain_label(path.stem)
    return {**{d: default_domain_label(d) for d in domains}, **labels}


def load_seed_file(path: Path | str) -> SeedFileResult:
    """Parse and validate one seed file. Raises SeedFileError listing every problem found."""
    path = Path(path)
    domain = domain_from_path(path)
    if not DOMAIN_PATTERN.match(domain):
        raise SeedFileError(path, [f"file name {path.name!r} is not a valid domain name (a-z, 0-9, '_')"])
    root = _compose(path)
    if not isinstance(root.value, dict):
        raise SeedFileError(path, [f"line {root.line}: expected a mapping with a 'tasks' list, got {_type_name(root.value)}"])
    top: dict[str, _Node] = root.value
    problems: list[str] = []

    for name, node in top.items():
        if name not in TOP_LEVEL_FIELDS:
            problems.append(f"line {node.line}, field '{name}': unknown top-level field "
                            f"(allowed: {', '.join(TOP_LEVEL_FIELDS)})")
    if "domain" in top and top["domain"].value != domain:
        problems.append(
            f"line {top['domain'].line}, field 'domain': {top['domain'].value!r} does not match the file name "
            f"{path.name!r} (the file name is the partition key)"
        )
    description = None
    if "description" in top and top["description"].value is not None:
        description, _ = _text_field(top["description"], f"line {top['description'].line}", "description",
                                     problems, max_chars=MAX_SOURCE_CHARS)
    label = None
    if "label" in top and top["label"].value is not None:
        label, _ = _text_field(top["label"], f"line {top['label'].line}", "label", problems, max_chars=MAX_LABEL_CHARS)

    if "tasks" not in top:
        problems.append(f"line {root.line}, field 'tasks': missing; expected a list of tasks")
        raise SeedFileError(path, problems)
    items = top["tasks"]
    if not isinstance(items.value, list):
        problems.append(f"line {items.line}, field 'tasks': expected a list of tasks, got {_type_name(items.value)}")
        raise SeedFileError(path, problems)
    if not items.value:
        problems.append(f"line {items.line}, field 'tasks': the list is empty")

    parsed = [_parse_task(item, i, domain, path, problems) for i, item in enumerate(items.value)]
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
