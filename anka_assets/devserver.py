"""`python -m anka_assets.devserver [--dg] [ARGS...]`: the Dagster UI and daemon (`dagster dev ARGS`, or
`dg dev ARGS`) that stop within a few seconds on SIGINT, SIGTERM or SIGHUP, however they were started,
and leave no process behind.

Why not `dagster dev` itself (measured on Dagster 1.13, 2 busy cores; docs/ARCHITECTURE.md):

- Started as a background job of a non-interactive shell (`dagster dev &` in a script, a CI step, an
  agent), it inherits SIGINT as *ignored*, and it installs for SIGTERM whatever SIGINT has: it ignores
  both, for good (still running 100 s after a SIGTERM; `dg dev` runs the same code).
- Started properly, it stops its webserver and daemon one after the other and asks its code server to
  stop without waiting for it: 2–10 s to exit under load, and the code server and its gRPC child
  outlive it by a few more seconds (up to their 45 s + 30 s heartbeat timeouts when the request is lost).

This launcher starts the command in its own process group with the default signal dispositions (so
Python in it turns SIGINT into KeyboardInterrupt and Dagster maps SIGTERM onto that). On a stop signal
it sends SIGINT to the whole group, as a terminal's Ctrl-C does (the webserver, the daemon, the code
servers and any run they launched all start shutting down at once), and SIGKILLs what is left after
``--grace`` seconds. A run killed that way is marked failed by the `dead_run_reaper` sensor (dead_runs.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

#: SIGINT to the group, then SIGKILL after this many seconds: the whole stop fits in 5 s.
GRACE_S = 3.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def dev_command(use_dg: bool, args: Sequence[str], bin_dir: Path | None = None) -> list[str]:
    """The command to run: `dg dev ARGS` or `dagster dev ARGS`, from this Python's environment when it
    has the executable, else from PATH. Pure apart from looking the executable up."""
    name = "dg" if use_dg else "dagster"
    local = (bin_dir or Path(sys.executable).parent) / name
    executable = str(local) if local.is_file() else shutil.which(name)
    if executable is None:
        raise SystemExit(f"`{name}` is not installed in this environment ({local}) nor on PATH")
    return [executable, "dev", *args]


def become_subreaper() -> bool:
    """Linux: processes of the group orphaned by their parent's exit become this process's children
    (PR_SET_CHILD_SUBREAPER), so it reaps them itself and none is left as a zombie after it exits."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def reap_orphans() -> None:
    """Collect every exited child (orphans handed to this subreaper); never blocks."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def group_alive(pgid: int) -> bool:
    """True while any process of the group exists (a zombie not yet reaped included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def stop_group(proc: subprocess.Popen, grace_s: float, poll_s: float = 0.05) -> bool:
    """SIGINT to the process group of ``proc`` (its leader), wait up to ``grace_s`` for every process of
    it to end, then SIGKILL what is left. True when it ended without the SIGKILL."""
    pgid = proc.pid
    signal_group(pgid, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if settle(proc, pgid):
            return True
        time.sleep(poll_s)
    signal_group(pgid, signal.SIGKILL)
    proc.wait()
    while not settle(proc, pgid) and time.monotonic() < deadline + 1.0:
        time.sleep(poll_s)
    return False


def settle(proc: subprocess.Popen, pgid: int) -> bool:
    """Reap the leader, then any orphan handed to us (the leader first, so its exit status is kept);
    True when no process of the group is left, zombies included."""
    if proc.poll() is not None:
        reap_orphans()
    return not group_alive(pgid)


def run(command: Sequence[str], grace_s: float = GRACE_S) -> int:
    """Run ``command`` in its own process group until it exits or a stop signal arrives; then stop the
    whole group. The command's exit status, or 0 after a requested stop."""
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    # A Python handler (not SIG_IGN, whatever this process inherited): the child starts with the defaults.
    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    become_subreaper()
    try:
        proc = subprocess.Popen(list(command), process_group=0)
        while proc.poll() is None and not stop.wait(0.1):
            pass
        if stop.is_set():
            name = signal.Signals(received[0]).name
            print(f"anka devserver: {name} received, stopping {command[0]} dev (at most {grace_s:g} s)",
                  file=sys.stderr, flush=True)
            clean = stop_group(proc, grace_s)
            if not clean:
                print(f"anka devserver: processes still running after {grace_s:g} s were killed",
                      file=sys.stderr, flush=True)
            return 0
        if group_alive(proc.pid):  # it exited on its own: leave none of its children behind either
            stop_group(proc, grace_s)
        return proc.returncode
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m anka_assets.devserver", add_help=False, allow_abbrev=False,  # -h is dagster dev's host
        description="`dagster dev` (or `dg dev`) that stops within a few seconds on SIGINT/SIGTERM/SIGHUP, "
        "however it was started. Arguments not listed here go to `dagster dev` / `dg dev`.",
    )
    parser.add_argument("--dg", action="store_true", help="run `dg dev` instead of `dagster dev`")
    parser.add_argument("--grace", type=float, default=GRACE_S,
                        help=f"seconds between the SIGINT and the SIGKILL of what is left (default {GRACE_S})")
    ours, rest = parser.parse_known_args(argv)
    return run(dev_command(ours.dg, rest), grace_s=ours.grace)


if __name__ == "__main__":
    sys.exit(main())
