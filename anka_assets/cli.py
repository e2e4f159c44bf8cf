"""`anka-refinery`: build every asset, every partition, offline, against a persistent Dagster instance.

    anka-refinery build                 # all domains, then the cross-domain assets (sft_export: the release)
    anka-refinery build --domain hukuk  # one domain (and the cross-domain assets)

Runs are recorded in the instance of $DAGSTER_HOME (the project root by default, where dagster.yaml
lives), so `dagster dev` shows them afterwards. A failing domain does not stop the others; the exit
code is 1 if any run failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from anka_assets.settings import PROJECT_ROOT


def _default_dagster_home() -> None:
    """The project root is the default instance. dagster.yaml gives no storage paths, so every
    instance file lands under $DAGSTER_HOME whatever the working directory (no chdir needed)."""
    if "DAGSTER_HOME" not in os.environ and (PROJECT_ROOT / "dagster.yaml").exists():
        os.environ["DAGSTER_HOME"] = str(PROJECT_ROOT)


def build(domains: Sequence[str] | None = None, verbose: bool = False) -> int:
    import time

    from dagster import DagsterInstance, materialize

    from anka_assets.build_report import format_table, summarize

    from anka_assets.partitions import SeedsFolderError

    try:  # importing the code location builds it (`defs`): a bad seeds folder fails right here
        from anka_assets.definitions import build_definitions

        defs = build_definitions()
    except (SeedsFolderError, ValueError) as exc:  # a bad seeds folder or file name: one line, no trace
        print(f"anka-refinery: {exc}", file=sys.stderr)
        return 2
    assets = list(defs.assets or [])
    # Observable sources (the expert verdict files) are read by the assets themselves; only what is made here.
    partitioned = [a for a in assets if a.partitions_def is not None and getattr(a, "is_materializable", False)]
    unpartitioned = [a for a in assets if a.partitions_def is None]
    all_domains = sorted({k for a in partitioned for k in a.partitions_def.get_partition_keys()})
    chosen = list(domains) if domains else all_domains
    unknown = sorted(set(chosen) - set(all_domains))
    if unknown:
        print(f"unknown domain(s): {', '.join(unknown)}; known: {', '.join(all_domains)}", file=sys.stderr)
        return 2

    instance = DagsterInstance.get() if "DAGSTER_HOME" in os.environ else DagsterInstance.ephemeral()
    # Quiet by default: our own lines (a line per domain, model-call progress, the summary) and Dagster's
    # warnings; --verbose: Dagster's whole event log as well.
    quiet = {"loggers": {"console": {"config": {"log_level": "DEBUG" if verbose else "WARNING"}}}}
    progress = ProgressPrinter()
    progress_logger = logging.getLogger("anka.progress")
    progress_logger.setLevel(logging.INFO)
    progress_logger.propagate = False
    progress_logger.addHandler(progress)
    failed: list[str] = []
    run_ids: list[str] = []
    written: dict[str, str] = {}
    for i, domain in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] building {domain} …", flush=True)
        started = time.monotonic()
        result = materialize(
            assets, selection=partitioned, partition_key=domain, resources=defs.resources,
            instance=instance, raise_on_error=False, tags={"anka/entry": "cli"}, run_config=quiet,
        )
        run_ids.append(result.run_id)
        progress.end_line()
        print(f"[{'ok' if result.success else 'FAILED'}] {domain} in {time.monotonic() - started:.0f} s: "
              f"run {result.run_id}", flush=True)
        for line in _run_notes(result):
            print(f"    {line}")
        if not result.success:
            failed.append(domain)
    if unpartitioned:
        print("building the cross-domain assets (release, adapter, evaluation) …", flush=True)
        started = time.monotonic()
        result = materialize(
            assets, selection=unpartitioned, resources=defs.resources, instance=instance,
            raise_on_error=False, tags={"anka/entry": "cli"}, run_config=quiet,
        )
        run_ids.append(result.run_id)
        progress.end_line()
        print(f"[{'ok' if result.success else 'FAILED'}] cross-domain assets in "
              f"{time.monotonic() - started:.0f} s: run {result.run_id}", flush=True)
        for event in result.get_asset_materialization_events():
            meta = event.materialization.metadata
            if "release_dir" in meta:  # sft_export: where the release a trainer reads lies
                print(f"release {meta['release_version'].value}: {meta['release_dir'].value}")
                written["SFT release"] = str(meta["release_dir"].value)
            if "adapter_dir" in meta:  # lora_adapter
                written["LoRA adapter"] = str(meta["adapter_dir"].value)
        if not result.success:
            failed.append("cross-domain")
    paths = defs.resources["paths"]
    print()
    print(format_table(summarize(paths.warehouse, chosen, run_ids)))
    print()
    print(f"warehouse     {paths.warehouse}")
    print(f"review CSVs   {paths.review_queue_dir}/<domain>.csv")
    print(f"verdicts to   {paths.reviews_dir}/<domain>.csv")
    for label, where in written.items():
        print(f"{label:<13} {where}")
    if failed:
        print(f"failed: {', '.join(failed)} (see the runs in `dagster dev`)", file=sys.stderr)
        return 1
    print(f"built {len(chosen)} domain(s) into {paths.warehouse}")
    return 0


def _run_notes(result) -> list[str]:
    """Why a run failed (each failed step's message) and the warnings its assets left in their metadata."""
    notes = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            message = (error.message if error is not None else "").strip().splitlines()
            notes.append(f"failed: {event.step_key}: {message[0] if message else 'no message'}")
        elif event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            for key in ("model_call_warning",):
                value = materialization.metadata.get(key)
                if value is not None:
                    notes.append(f"warning: {materialization.asset_key.to_user_string()}: {getattr(value, 'value', value)}")
    return notes


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
    parser = argparse.ArgumentParser(prog="anka-refinery", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="materialize every asset, every (or the given) domain")
    p_build.add_argument("--domain", action="append", help="only this domain (repeatable)")
    p_build.add_argument("--verbose", action="store_true", help="also show Dagster's own event log")
    args = parser.parse_args(argv)
    _default_dagster_home()
    _quiet_libraries(getattr(args, "verbose", False))
    if args.command == "build":
        return build(args.domain, verbose=args.verbose)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
