"""`anka-refinery`: build every asset, every partition, offline, through the Dagster instance's run queue.

    anka-refinery build                 # all domains, then the cross-domain assets (release, adapter, evaluation)
    anka-refinery build --domain hukuk  # one domain (and the cross-domain assets, unless their inputs are unchanged)

Each domain is one run of the named job `domain_build`, the cross-domain stages one run of
`cross_domain_build`, submitted to the instance of $DAGSTER_HOME (the project root by default, where
dagster.yaml lives) and launched by its daemon (`run_queue.py`): the UI shows them, can re-execute them,
and the queue's limits hold for them as for every other run. A failing domain does not stop the others;
each failure is one line with its cause; the exit code is 1 if any run failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from anka_assets.build_report import format_table, summarize
from anka_assets.warehouse import parse_target
from anka_assets.gateway.store import WarehouseLockedError, open_warehouse
from anka_assets.jobs import CROSS_DOMAIN_JOB, DOMAIN_JOB
from anka_assets.reuse import FINGERPRINT_TAG, inputs_fingerprint
from anka_assets.run_queue import RunQueue, follow, open_instance, pending_runs
from anka_assets.settings import PROJECT_ROOT


def _default_dagster_home() -> None:
    """The project root is the default instance. dagster.yaml gives no storage paths, so every
    instance file lands under $DAGSTER_HOME whatever the working directory (no chdir needed)."""
    if "DAGSTER_HOME" not in os.environ:
        os.environ["DAGSTER_HOME"] = str(PROJECT_ROOT)


def build(domains: Sequence[str] | None = None, verbose: bool = False, skip_release: bool = False) -> int:
    """Submit one `domain_build` run per domain, then (unless its inputs are unchanged, or
    `skip_release`: a worker of a scaled-out set-up that only builds domains) one `cross_domain_build`
    run, follow them, print the summary; 0 when every run succeeded."""
    loaded = _load(domains)
    if isinstance(loaded, int):
        return loaded
    defs, chosen = loaded
    paths = defs.resources["paths"]
    instance = open_instance()
    outcome = BuildOutcome()
    with RunQueue(instance, PROJECT_ROOT / "workspace.yaml",
                  Path(instance.root_directory) / ".anka" / "daemon.log") as queue:
        if not queue.started_daemon:
            print("runs go to the running Dagster daemon of this instance (dagster dev); "
                  "its environment's ANKA_* settings apply", flush=True)
        follower = Follower(instance, queue, verbose)
        runs = [(d, queue.submit(DOMAIN_JOB, partition=d, tags={"anka/entry": "cli"})) for d in chosen]
        for i, (domain, run_id) in enumerate(runs, 1):
            outcome.add(domain, follower.follow(run_id, domain, f"[{i}/{len(runs)}] "))
        try:
            if skip_release:
                print("release, adapter and evaluation: not built (--skip-release)", flush=True)
            else:
                _build_cross_domain(defs, instance, queue, follower, outcome)
        except WarehouseLockedError as exc:
            outcome.add("cross-domain", RunResult("", False, str(exc)))
    return _report(paths, chosen, outcome)


def _load(domains: Sequence[str] | None):
    """(definitions, chosen domains), or the exit code after a one-line error."""
    from anka_assets.partitions import SeedsFolderError

    try:  # importing the code location builds it (`defs`): a bad seeds folder fails right here
        from anka_assets.definitions import build_definitions

        defs = build_definitions()
    except (SeedsFolderError, ValueError) as exc:  # a bad seeds folder or file name: one line, no trace
        print(f"anka-refinery: {exc}", file=sys.stderr)
        return 2
    all_domains = sorted({k for a in defs.assets or [] if getattr(a, "is_materializable", False)
                          and a.partitions_def is not None for k in a.partitions_def.get_partition_keys()})
    chosen = list(domains) if domains else all_domains
    unknown = sorted(set(chosen) - set(all_domains))
    if unknown:
        print(f"unknown domain(s): {', '.join(unknown)}; known: {', '.join(all_domains)}", file=sys.stderr)
        return 2
    return defs, chosen


def _build_cross_domain(defs, instance, queue: RunQueue, follower: "Follower", outcome: "BuildOutcome") -> None:
    """The release, the adapter and the evaluation: reused when their inputs did not change."""
    paths = defs.resources["paths"]
    if outcome.results and not any(r.success for r in outcome.results.values()):
        print("release, adapter and evaluation: not built (no domain was built)", flush=True)
        return
    follower.wait_for_job(CROSS_DOMAIN_JOB)  # another build's release: decide on what it leaves
    fingerprint = inputs_fingerprint(paths.warehouse_target, cross_domain_tables(defs), PROJECT_ROOT / "anka_assets",
                                     log=SAY)
    reused = reusable_cross_domain_run(instance, fingerprint, paths.warehouse_target)
    if reused is not None:
        print(f"release, adapter and evaluation: reused from run {reused} (their inputs did not change)", flush=True)
        return
    run_id = queue.submit(CROSS_DOMAIN_JOB, tags={"anka/entry": "cli", FINGERPRINT_TAG: fingerprint or ""})
    outcome.add("cross-domain", follower.follow(run_id, "cross-domain assets (release, adapter, evaluation)"))


def _report(paths, chosen: Sequence[str], outcome: "BuildOutcome") -> int:
    """Where things are, the table per domain, one line per failure; the exit code."""
    try:
        written = cross_domain_outputs(paths.warehouse_target)
        table = format_table(summarize(paths.warehouse_target, chosen, [r.run_id for r in outcome.results.values() if r.run_id],
                                       stale=outcome.failed_domains, log=SAY))
    except WarehouseLockedError as exc:
        written, table = {}, f"no summary: {exc}"
    if "SFT release" in written:
        print(f"release {written['SFT release'].name}: {written['SFT release']}")
    print()
    print(table)
    print()
    print(f"warehouse     {parse_target(paths.warehouse_target).describe()}")
    print(f"review CSVs   {paths.review_queue_dir}/<domain>.csv")
    print(f"verdicts to   {paths.reviews_dir}/<domain>.csv")
    for label, where in written.items():
        print(f"{label:<13} {where}")
    if outcome.failed:
        for name in outcome.failed:
            print(f"FAILED {name}: {outcome.results[name].reason}", file=sys.stderr)
        print(f"failed: {', '.join(outcome.failed)} (runs in the UI: `dg dev`, jobs {DOMAIN_JOB} / "
              f"{CROSS_DOMAIN_JOB}; --verbose for their event log)", file=sys.stderr)
        return 1
    print(f"built {len(chosen)} domain(s) into {parse_target(paths.warehouse_target).describe()}")
    return 0


class _Say:
    """A log for the CLI's own waits (a locked warehouse): warnings printed as they come."""

    def warning(self, message: str) -> None:
        print(f"    warning: {message}", flush=True)

    info = debug = warning


SAY = _Say()


@dataclass
class RunResult:
    run_id: str
    success: bool
    reason: str = ""


@dataclass
class BuildOutcome:
    results: dict[str, RunResult] = field(default_factory=dict)
    cross_run: str | None = None

    def add(self, name: str, result: RunResult) -> None:
        self.results[name] = result

    @property
    def failed(self) -> list[str]:
        return [name for name, r in self.results.items() if not r.success]

    @property
    def failed_domains(self) -> list[str]:
        return [name for name in self.failed if name != "cross-domain"]


class Follower:
    """Prints what a person needs of each run: where it waits, its progress, warnings, and why it failed
    in one line (the innermost cause, not Dagster's wrapper); `verbose` adds every event, once."""

    def __init__(self, instance, queue: RunQueue, verbose: bool) -> None:
        self.instance, self.queue, self.verbose = instance, queue, verbose
        self.progress = ProgressPrinter()

    def wait_for_job(self, job_name: str) -> None:
        """Wait (saying so) while runs of `job_name` submitted by someone else are queued or running."""
        said = set()
        while busy := pending_runs(self.instance, job_name):
            for run in busy:
                if run.run_id not in said:
                    said.add(run.run_id)
                    print(f"waiting for run {run.run_id} ({job_name}, {run.status.value}) of another build "
                          "to finish first", flush=True)
            time.sleep(1.0)

    def follow(self, run_id: str, title: str, position: str = "") -> RunResult:
        started = time.monotonic()
        reasons: list[str] = []
        status = None
        for event in follow(self.instance, run_id, self.queue):
            if event.kind == "status":
                status = event.text
                if status == "QUEUED":
                    ahead = runs_ahead(self.instance, run_id)
                    if ahead:
                        print(f"{position}{title}: queued behind {ahead} in the instance's run queue (dagster.yaml)", flush=True)
                elif status == "STARTED":
                    started = time.monotonic()
                    print(f"{position}building {title} … (run {run_id})", flush=True)
            elif event.kind == "progress":
                self.progress.show(event.text, event.done, event.total)
            elif event.kind in ("step_failure", "run_failure"):
                step = f"{event.step}: " if event.step and event.step not in event.text else ""
                reason = f"{step}{event.text}"
                if reason not in reasons and not (event.kind == "run_failure" and reasons):
                    reasons.append(reason)
            elif event.kind == "warning" or self.verbose:
                self.progress.end_line()
                where = f"[{event.step}] " if event.step else ""
                print(f"    {'warning: ' if event.kind == 'warning' else ''}{where}{event.text}", flush=True)
        self.progress.end_line()
        ok = status == "SUCCESS"
        took = time.monotonic() - started
        print(f"[{'ok' if ok else 'FAILED'}] {title} in {took:.0f} s: run {run_id}", flush=True)
        for reason in reasons:
            print(f"    failed: {reason}", flush=True)
        if not ok and not reasons:
            reasons.append(f"run ended {status or 'missing'}")
        return RunResult(run_id, ok, "; ".join(reasons))


def runs_ahead(instance, run_id: str) -> str:
    """The runs this one waits for (in progress, or queued before it), for a person to read."""
    from dagster import RunsFilter

    from anka_assets.run_queue import ACTIVE

    records = instance.get_run_records(RunsFilter(statuses=ACTIVE), limit=50)
    mine = next((r for r in records if r.dagster_run.run_id == run_id), None)
    ahead = [r.dagster_run for r in reversed(records) if r.dagster_run.run_id != run_id
             and (mine is None or r.create_timestamp <= mine.create_timestamp)]
    return ", ".join(f"run {r.run_id[:8]} ({r.job_name}"
                     f"{', ' + r.tags['dagster/partition'] if 'dagster/partition' in r.tags else ''}, "
                     f"{r.status.value.lower()})" for r in ahead[:4])


def cross_domain_tables(defs) -> list[str]:
    """The domain tables that the cross-domain assets read (directly)."""
    assets = [a for a in defs.assets or [] if getattr(a, "is_materializable", False)]
    domain_keys = {k for a in assets if a.partitions_def is not None for k in a.keys}
    deps = {k for a in assets if a.partitions_def is None for ks in a.asset_deps.values() for k in ks}
    return sorted(k.path[-1] for k in deps & domain_keys)


def reusable_cross_domain_run(instance, fingerprint: str | None, warehouse) -> str | None:
    """The last `cross_domain_build` run, if it succeeded on exactly these inputs and its outputs exist."""
    from dagster import RunsFilter

    if not fingerprint:
        return None
    last = instance.get_runs(RunsFilter(job_name=CROSS_DOMAIN_JOB), limit=1)
    if not last or last[0].status.value != "SUCCESS" or last[0].tags.get(FINGERPRINT_TAG) != fingerprint:
        return None
    outputs = cross_domain_outputs(warehouse)
    if set(outputs) != {"SFT release", "LoRA adapter"} or not all(p.is_dir() for p in outputs.values()):
        return None
    return last[0].run_id


def cross_domain_outputs(warehouse) -> dict[str, Path]:
    """Where the current release and adapter lie, from their tables."""
    if not parse_target(warehouse).exists():
        return {}
    out: dict[str, Path] = {}
    with open_warehouse(warehouse, read_only=True, log=SAY) as con:
        have = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'anka'").fetchall()}
        if "sft_export" in have:
            row = con.execute("select release_dir from anka.sft_export limit 1").fetchone()
            if row:
                out["SFT release"] = Path(row[0])
        if "lora_adapter" in have:
            row = con.execute("select adapter_dir from anka.lora_adapter limit 1").fetchone()
            if row:
                out["LoRA adapter"] = Path(row[0])
    return out


class ProgressPrinter(logging.Handler):
    """Model-call progress (`anka.progress`) for a person at the CLI: a bar redrawn in place on a
    terminal, plain lines otherwise; never wider than 100 columns."""

    WIDTH = 100

    def __init__(self, stream=None) -> None:
        super().__init__(level=logging.INFO)
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        done, total = getattr(record, "done", None), getattr(record, "total", None)
        if self.tty and done is not None and total:
            filled = int(20 * done / total)
            bar = "[" + "#" * filled + "." * (20 - filled) + "] "
            self.stream.write("\r" + (bar + line)[: self.WIDTH - 1].ljust(self.WIDTH - 1))
        else:
            self.stream.write("  " + line[: self.WIDTH - 2] + "\n")
        self.stream.flush()

    def show(self, line: str, done: int | None, total: int | None) -> None:
        self.emit(logging.makeLogRecord({"msg": line, "done": done, "total": total, "levelno": logging.INFO}))

    def end_line(self) -> None:
        if self.tty:
            self.stream.write("\r" + " " * (self.WIDTH - 1) + "\r")
            self.stream.flush()


def _quiet_libraries(verbose: bool) -> None:
    """The training stack's own chatter is noise in a build's output: per-step tqdm bars of datasets and
    transformers, and FutureWarnings those libraries raise about their own internals. Dagster's notices are
    filtered by category where the code location loads (definitions.py); nothing else is silenced.
    `--verbose` keeps all of it."""
    if verbose:
        return
    import warnings

    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft|trl|accelerate)(\..*)?$")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["dev"]:  # the UI: `dagster dev` / `dg dev` that stops in seconds (devserver.py)
        from anka_assets import devserver

        _default_dagster_home()
        return devserver.main(argv[1:])
    parser = argparse.ArgumentParser(prog="anka-refinery", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="materialize every asset, every (or the given) domain")
    p_build.add_argument("--domain", action="append", help="only this domain (repeatable)")
    p_build.add_argument("--verbose", action="store_true", help="also show Dagster's own event log")
    p_build.add_argument("--skip-release", action="store_true",
                         help="build the domains only, not the release, adapter and evaluation (a worker among "
                         "several: README, Scaling out)")
    sub.add_parser("dev", help="the UI: `dagster dev` (`--dg`: `dg dev`) with this instance, stopped within "
                   "seconds by Ctrl-C or SIGTERM; other arguments go to it", add_help=False)
    args = parser.parse_args(argv)
    _default_dagster_home()
    _quiet_libraries(getattr(args, "verbose", False))
    if args.command == "build":
        return build(args.domain, verbose=args.verbose, skip_release=args.skip_release)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
