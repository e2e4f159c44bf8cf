"""Several workers over one PostgreSQL Dagster instance and one DuckLake warehouse, on this machine:
each worker has its own DAGSTER_HOME (a copy of deploy/dagster-postgres.yaml) and runs the real
`anka-refinery build` in a subprocess. One `dagster-daemon` serves the instance's queue, as in a
deployment (deploy/README.md); the workers' CLIs find its heartbeat and start none of their own.
Used by tests/slow/test_scale_out.py and bench/scale.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLI = str(BIN / "anka-refinery")


@dataclass
class SharedCluster:
    """The shared instance database, the lake and the seeds; workers and the daemon come from here."""

    root: Path
    pg: object  # tests.pg.PostgresCluster
    env: dict[str, str] = field(default_factory=dict)
    daemon: subprocess.Popen | None = None

    @classmethod
    def create(cls, pg, root: Path, seeds: dict[str, str] | None = None, seed_files: list[Path] = (),
               extra_env: dict[str, str] | None = None) -> "SharedCluster":
        from tests.conftest import write_seed

        tag = uuid.uuid4().hex[:8]
        dag_db, lake_db = pg.createdb(f"dagster_{tag}"), pg.createdb(f"lake_{tag}")
        (root / "seeds").mkdir(parents=True, exist_ok=True)
        for domain, body in (seeds or {}).items():
            write_seed(root / "seeds", domain, body)
        for path in seed_files:
            shutil.copy(path, root / "seeds" / path.name)
        (root / "lake").mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANKA_", "DAGSTER_"))}
        env.update(
            PYTHONPATH=str(REPO),
            ANKA_DAGSTER_PG_URL=pg.url(dag_db),
            ANKA_WAREHOUSE=f"ducklake:postgres:{pg.conninfo(lake_db)}",
            ANKA_WAREHOUSE_DATA_PATH=str(root / "lake"),
            ANKA_SEEDS_DIR=str(root / "seeds"),
            ANKA_DATA_DIR=str(root),
            **(extra_env or {}),
        )
        return cls(root=root, pg=pg, env=env)

    def home(self, name: str) -> Path:
        """A DAGSTER_HOME of its own, with the PostgreSQL instance's dagster.yaml."""
        home = self.root / name
        home.mkdir(exist_ok=True)
        shutil.copy(REPO / "deploy" / "dagster-postgres.yaml", home / "dagster.yaml")
        return home

    def env_for(self, name: str) -> dict[str, str]:
        return {**self.env, "DAGSTER_HOME": str(self.home(name))}

    def instance(self, name: str = "observer"):
        """The shared instance from this process (its URL is read from the environment when loaded)."""
        from dagster import DagsterInstance

        old = os.environ.get("ANKA_DAGSTER_PG_URL")
        os.environ["ANKA_DAGSTER_PG_URL"] = self.env["ANKA_DAGSTER_PG_URL"]
        try:
            return DagsterInstance.from_config(str(self.home(name)))
        finally:
            if old is None:
                os.environ.pop("ANKA_DAGSTER_PG_URL", None)
            else:
                os.environ["ANKA_DAGSTER_PG_URL"] = old

    def start_daemon(self, timeout_s: float = 180) -> None:
        """`dagster-daemon run` for the instance (its own DAGSTER_HOME), once its queue heartbeat shows."""
        from anka_assets.run_queue import daemon_alive

        log = open(self.root / "daemon.log", "ab")
        self.daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
                                       env=self.env_for("daemon"), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout_s
        with self.instance() as instance:
            while not daemon_alive(instance):
                if self.daemon.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("dagster-daemon did not start:\n" + self.daemon_log()[-3000:])
                time.sleep(1)

    def daemon_log(self) -> str:
        path = self.root / "daemon.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_daemon(self) -> None:
        if self.daemon is None:
            return
        try:
            os.killpg(self.daemon.pid, signal.SIGTERM)
            self.daemon.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.daemon.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.daemon.wait()
        self.daemon = None

    def build(self, worker: str, domains: list[str], extra_env: dict[str, str] | None = None,
              release: bool = False) -> subprocess.Popen:
        """`anka-refinery build --domain ... --skip-release` of one worker (the domains only, unless
        `release`), started now (stdout and stderr together)."""
        args = [CLI, "build", *[a for d in domains for a in ("--domain", d)], *([] if release else ["--skip-release"])]
        return subprocess.Popen(args, env={**self.env_for(worker), **(extra_env or {})}, cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        """Read the lake from this (third) process."""
        from anka_assets.gateway.store import open_warehouse

        old = {k: os.environ.get(k) for k in ("ANKA_WAREHOUSE_DATA_PATH",)}
        os.environ["ANKA_WAREHOUSE_DATA_PATH"] = self.env["ANKA_WAREHOUSE_DATA_PATH"]
        try:
            with open_warehouse(self.env["ANKA_WAREHOUSE"], read_only=True) as con:
                return con.execute(sql, params or []).fetchall()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
