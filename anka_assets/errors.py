"""Errors for bad input files: every problem of a file, each naming its line and field."""

from __future__ import annotations

from pathlib import Path


class InputFileError(ValueError):
    """One or more problems in one input file. `problems` holds one line per problem."""

    kind = "input file"

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{self.path}: {len(problems)} problem(s) in {self.kind}:\n{listing}")
