"""`anka-refinery build`'s progress display: a bar in place on a terminal, plain lines in a log file."""

import io
import logging

from anka_assets.cli import ProgressPrinter
from anka_assets.gateway.progress import progress_line


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def record(done: int, total: int) -> logging.LogRecord:
    line = progress_line("raw_cot hukuk", done, total, 10.0, cached=0, failed=0, blocked=0)
    rec = logging.LogRecord("anka.progress", logging.INFO, __file__, 1, line, None, None)
    rec.done, rec.total, rec.label = done, total, "raw_cot hukuk"
    return rec


def test_terminal_gets_a_bar_redrawn_in_place_within_100_columns():
    out = Terminal()
    printer = ProgressPrinter(out)
    printer.emit(record(25, 100))
    printer.emit(record(50, 100))
    printer.end_line()
    frames = out.getvalue().split("\r")[1:]
    assert frames[0].startswith("[#####...............] raw_cot hukuk: 25/100")
    assert frames[1].startswith("[##########..........] raw_cot hukuk: 50/100")
    assert all(len(f) <= 99 for f in frames) and "\n" not in out.getvalue()


def test_a_log_file_gets_plain_lines():
    out = io.StringIO()
    printer = ProgressPrinter(out)
    printer.emit(record(25, 100))
    printer.end_line()
    assert out.getvalue() == "  " + record(25, 100).getMessage()[:98] + "\n"
