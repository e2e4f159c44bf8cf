"""`dg`, Dagster's project CLI, finds this project (pyproject's [tool.dg]), loads `anka_assets/defs/` and
shows every asset, check, job, sensor and resource of the code location, as the README runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.unit.test_definitions import EXPECTED_LOCATION

DG = Path(sys.executable).with_name("dg")


def _dg(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(DG), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


def test_dg_check_and_list_defs_show_the_whole_code_location(project):
    _, env = project
    check = _dg("check", "defs", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "All definitions loaded successfully" in check.stdout + check.stderr

    listed = _dg("list", "defs", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    shown = json.loads(listed.stdout)
    assert {
        "assets": sorted(a["asset_key"] for a in shown["assets"]),
        "checks": sorted(c["key"] for c in shown["asset_checks"]),
        "jobs": sorted(j["name"] for j in shown["jobs"]),
        "sensors": sorted(s["name"] for s in shown["sensors"]),
        "resources": sorted(r["name"] for r in shown["resources"]),
    } == EXPECTED_LOCATION
    groups = {a["asset_key"]: a["group_name"] for a in shown["assets"]}
    assert groups["raw_cot"] == "distillation" and groups["student_eval"] == "student"


def test_dg_names_the_file_and_the_error_when_the_seeds_folder_is_missing(project):
    tmp, env = project
    env["ANKA_SEEDS_DIR"] = str(tmp / "no-such-folder")
    check = _dg("check", "defs", env=env)
    assert check.returncode != 0
    assert "seeds folder" in check.stdout + check.stderr and "no-such-folder" in check.stdout + check.stderr
