"""A throwaway PostgreSQL cluster for the tests: Debian's binaries, `initdb` into a temporary directory
(as the `postgres` user when the tests run as root), trust auth, 127.0.0.1 on a free port, fsync off.

`.ci/postgres.sh` installs Debian's `postgresql` when no `initdb` is found. Without it the `postgres`
tests are skipped on a developer's machine and FAIL under CI (`CI=true`): a green CI must have run them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

USER = "anka"


def pg_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL's bin directory, or one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run the command as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class PostgresCluster:
    root: Path
    bin: Path
    port: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        proc = subprocess.run(_as_postgres([str(self.bin / args[0]), *args[1:]]), capture_output=True, text=True,
                              timeout=timeout, cwd="/")
        if proc.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stdout}{proc.stderr}\n{tail}")
        return proc

    def init(self) -> "PostgresCluster":
        self.root.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.data, "postgres")
            os.chmod(self.root, 0o755)
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        self.port = self.port or free_port()
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300", "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_s: float = 0.0) -> None:
        self.stop("immediate")
        time.sleep(down_s)
        self.start()

    def createdb(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name)
        return name

    def conninfo(self, db: str) -> str:
        """libpq key=value form (DuckLake's catalog)."""
        return f"dbname={db} host=127.0.0.1 port={self.port} user={USER}"

    def url(self, db: str) -> str:
        """A plain postgresql:// URL (Dagster's instance): what a user writes."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{db}"
