"""`anka-refinery`: build every asset, every partition, offline, against a persistent Dagster instance.

    anka-refinery build                 # all domains, then the cross-domain assets
    anka-refinery build --domain hukuk  # one domain (and the cross-domain assets)

Runs are recorded in the instance of $DAGSTER_HOME (the project root by default, where dagster.yaml
lives), so `dagster dev` shows them afterwards. A failing domain does not stop the others; the exit
code is 1 if any run failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from anka_assets.settings import PROJECT_ROOT


def _default_dagster_home() -> None:
    if "DAGSTER_HOME" not in os.environ and (PROJECT_ROOT / "dagster.yaml").exists():
        os.environ["DAGSTER_HOME"] = str(PROJECT_ROOT)
    if "DAGSTER_HOME" in os.environ:
        os.chdir(os.environ["DAGSTER_HOME"])  # dagster.yaml's storage paths are relative to it


def build(domains: Sequence[str] | None = None) -> int:
    from dagster import DagsterInstance, materialize

    from anka_assets.definitions import build_definitions

    defs = build_definitions()
    assets = list(defs.assets or [])
    partitioned = [a for a in assets if a.partitions_def is not None]
    unpartitioned = [a for a in assets if a.partitions_def is None]
    all_domains = sorted({k for a in partitioned for k in a.partitions_def.get_partition_keys()})
    chosen = list(domains) if domains else all_domains
    unknown = sorted(set(chosen) - set(all_domains))
    if unknown:
        print(f"unknown domain(s): {', '.join(unknown)}; known: {', '.join(all_domains)}", file=sys.stderr)
        return 2

    instance = DagsterInstance.get() if "DAGSTER_HOME" in os.environ else DagsterInstance.ephemeral()
    quiet = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    failed: list[str] = []
    for domain in chosen:
        result = materialize(
            assets, selection=partitioned, partition_key=domain, resources=defs.resources,
            instance=instance, raise_on_error=False, tags={"anka/entry": "cli"}, run_config=quiet,
        )
        print(f"[{'ok' if result.success else 'FAILED'}] {domain}: run {result.run_id}")
        for line in _run_notes(result):
            print(f"    {line}")
        if not result.success:
            failed.append(domain)
    if unpartitioned:
        result = materialize(
            assets, selection=unpartitioned, resources=defs.resources, instance=instance,
            raise_on_error=False, tags={"anka/entry": "cli"}, run_config=quiet,
        )
        print(f"[{'ok' if result.success else 'FAILED'}] cross-domain assets: run {result.run_id}")
        if not result.success:
            failed.append("cross-domain")
    if failed:
        print(f"failed: {', '.join(failed)} (see the runs in `dagster dev`)", file=sys.stderr)
        return 1
    print(f"built {len(chosen)} domain(s) into {defs.resources['paths'].warehouse}")
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


def _quiet_warnings() -> None:
    """Dagster's beta notices and its note that the seed and model assets have different backfill
    policies (intended: see docs/ARCHITECTURE.md) are noise for someone running the build."""
    import warnings

    from dagster import BetaWarning, PreviewWarning

    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)
    warnings.filterwarnings("ignore", message=".*BackfillPolic.*")
    warnings.filterwarnings("ignore", message=".*backfill policies.*")
    warnings.filterwarnings("ignore", module="pydantic.*")  # distilabel's field declarations
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="anka-refinery", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="materialize every asset, every (or the given) domain")
    p_build.add_argument("--domain", action="append", help="only this domain (repeatable)")
    args = parser.parse_args(argv)
    _default_dagster_home()
    _quiet_warnings()
    if args.command == "build":
        return build(args.domain)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
