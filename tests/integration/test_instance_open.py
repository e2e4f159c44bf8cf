"""Two builds started together on a fresh DAGSTER_HOME both create the instance's SQLite storage;
`open_instance` serialises that first creation (CI once failed with "table runs already exists")."""

import subprocess
import sys
import time

from tests.conftest import REPO as PROJECT_ROOT

OPEN = """
import os, sys, time
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
from anka_assets.run_queue import open_instance
instance = open_instance()
print(len(instance.get_runs(limit=1)))
"""


def test_processes_opening_a_fresh_instance_at_once_all_succeed(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    env = {"DAGSTER_HOME": str(home), "PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"}
    start = time.time() + 8  # every process imports dagster first, then they open the instance together
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(start)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    failures = [err[-2000:] for p, (_, err) in zip(procs, results) if p.returncode]
    assert not failures, "\n=====\n".join(failures)
    assert [out.strip() for out, _ in results] == ["0"] * 4
