"""Progress of a long batch of model calls, logged at a steady pace (pure apart from the clock).

With a real teacher one domain can take minutes; the run log (and `anka-refinery build`) then shows
lines like

    raw_cot hukuk: 120/480 calls done (25%): 118 answered, 2 failed; 3.2/s, ETA 1m 52s; 40 cached, 5 KVKK-blocked

every `every_s` seconds (`ANKA_PROGRESS_EVERY_S`, default 10) and never more often. Each line also
goes to the Python logger `anka.progress` with `done`/`total`/`label` attributes, where
`anka-refinery build` draws a progress bar on a terminal (plain lines otherwise).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from anka_assets import settings


PROGRESS_LOGGER = logging.getLogger("anka.progress")


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def progress_line(label: str, done: int, total: int, elapsed_s: float, cached: int, failed: int, blocked: int) -> str:
    """One progress line: calls finished of those to make, answered and failed apart, rate, ETA, and
    what needed no call (cached, KVKK-blocked)."""
    share = done / total if total else 1.0
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    eta = _duration((total - done) / rate) if rate > 0 and done < total else ("done" if done >= total else "?")
    return (f"{label}: {done}/{total} calls done ({share:.0%}): {done - failed} answered, {failed} failed; "
            f"{rate:.1f}/s, ETA {eta}; {cached} cached, {blocked} KVKK-blocked")


#: Reads a line of :func:`progress_line` back (the CLI follows runs through their event log).
PROGRESS_PATTERN = re.compile(r"^(?P<label>\S+ \S+): (?P<done>\d+)/(?P<total>\d+) calls done ")


@dataclass
class ProgressReporter:
    """Counts answers as they arrive and emits a line at most every `every_s` seconds."""

    label: str
    total: int
    emit: Callable[[str], None]
    cached: int = 0
    blocked: int = 0
    every_s: float = field(default_factory=lambda: settings.value("ANKA_PROGRESS_EVERY_S"))
    clock: Callable[[], float] = time.monotonic
    done: int = 0
    failed: int = 0

    def __post_init__(self) -> None:
        self._start = self.clock()
        self._last = self._start

    def answered(self, failed: bool = False) -> None:
        self.done += 1
        self.failed += int(failed)
        now = self.clock()
        if now - self._last >= self.every_s and self.done < self.total:
            self._last = now
            line = self.line(now)
            self.emit(line)
            PROGRESS_LOGGER.info(line, extra={"done": self.done, "total": self.total, "label": self.label})

    def line(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        return progress_line(self.label, self.done, self.total, now - self._start, self.cached, self.failed,
                             self.blocked)
