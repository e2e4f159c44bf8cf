"""Automation: the named jobs over every asset of this folder (anka_assets/jobs.py) and the sensors.

- `dead_run_reaper`: killed runs must not hold the one-run queue (dead_runs.py);
- `seed_file_sensor` (off by default): builds a domain whose seed file is new or changed (jobs.py).
"""

from __future__ import annotations

import dagster as dg

from anka_assets.dead_runs import dead_run_reaper
from anka_assets.defs import Wiring, concern_modules
from anka_assets.jobs import DOMAIN_JOB, build_jobs, seed_file_sensor


def stage_assets(wiring: Wiring) -> list:
    """The assets of every module here that makes some (the jobs' selections are computed from them)."""
    return [a for module in concern_modules() if hasattr(module, "assets") for a in module.assets(wiring)]


def build(wiring: Wiring) -> dg.Definitions:
    jobs = build_jobs(stage_assets(wiring), wiring.domains)
    return dg.Definitions(
        jobs=list(jobs.values()),
        sensors=[dead_run_reaper, seed_file_sensor(jobs[DOMAIN_JOB], wiring.paths.seeds_dir)],
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build(Wiring.resolve())
