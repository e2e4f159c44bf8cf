"""What a person following a run sees of its event log: progress, warnings and the true cause of a failure.

Pure functions over Dagster's event log entries. A step failure's error is Dagster's wrapper
("Error occurred while executing op ...") around the exception that happened; the cause a person can
act on is the innermost one (connection refused, an HTTP status, a YAML line:column), or the
`Failure` description our assets raise, which already names the asset, the domain and the cause.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from anka_assets.gateway.progress import PROGRESS_PATTERN

MAX_LINE = 400
_WRAPPER = re.compile(r"^Error occurred while (executing|loading)")
_QUALIFIED = re.compile(r"^(?:[A-Za-z_][\w]*\.)+(?P<cls>[A-Za-z_]\w*): ")


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """Lines joined with '; ' (a first line ending in ':' introduces the ones after it), cut to `limit`."""
    parts = [p.strip() for p in str(text).splitlines() if p.strip()]
    out = " ".join(parts[:1]) if parts else ""
    for part in parts[1:]:
        out += (" " if out.endswith(":") else "; ") + part
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _message(err: Any) -> str:
    msg = (getattr(err, "message", "") or "").strip()
    msg = _QUALIFIED.sub(lambda m: f"{m['cls']}: ", msg, count=1)
    if msg.startswith("Failure: "):  # our own Failure: its description is the whole story
        msg = msg[len("Failure: "):]
    return msg


def root_cause(error: Any) -> str:
    """The innermost error of the `raise ... from` chain (`cause`) that says something; Dagster's own
    wrappers are skipped. `context` (an error that happened while another was being handled) is not
    followed: there the outer error is the one that tells."""
    chain = []
    err = error
    while err is not None and len(chain) < 20:
        chain.append(err)
        err = getattr(err, "cause", None)
    for err in reversed(chain):
        msg = _message(err)
        if msg and not _WRAPPER.match(msg):
            return one_line(msg)
    return one_line(_message(error)) or "no message"


def describe_record(run_id: str, entry: Any):
    """A :class:`RunEvent` for one event-log entry, or None for what nobody needs to see."""
    from anka_assets.run_queue import RunEvent

    event = entry.dagster_event
    if event is None:
        text = entry.user_message or ""
        match = PROGRESS_PATTERN.match(text)
        if match:
            return RunEvent("progress", run_id, text, step=entry.step_key, done=int(match["done"]),
                            total=int(match["total"]))
        # Dagster's own "Dependencies for step X failed/were not executed" lines follow every failure: the
        # failure's cause is the line a person needs, these are for --verbose.
        skipped = text.startswith("Dependencies for step ")
        kind = "warning" if entry.level >= logging.WARNING and not skipped else "log"
        return RunEvent(kind, run_id, text, step=entry.step_key)
    kind = event.event_type_value
    if kind == "STEP_FAILURE":
        error = event.step_failure_data.error
        return RunEvent("step_failure", run_id, root_cause(error) if error else "no message", step=event.step_key)
    if kind == "RUN_FAILURE":
        data = event.event_specific_data
        error = getattr(data, "error", None)
        text = root_cause(error) if error is not None else one_line(event.message or "run failed")
        return RunEvent("run_failure", run_id, text)
    if kind == "ENGINE_EVENT" and getattr(event.event_specific_data, "error", None) is not None:
        # e.g. the daemon could not load the code location to launch the run
        return RunEvent("run_failure", run_id, root_cause(event.event_specific_data.error))
    if kind == "ASSET_MATERIALIZATION":
        return RunEvent("materialization", run_id, event.asset_key.to_user_string(), step=event.step_key)
    return RunEvent("log", run_id, f"{kind}: {one_line(event.message or '')}", step=event.step_key)
