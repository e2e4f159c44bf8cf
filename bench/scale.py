"""The scale curve: 1, 2 and 4 workers over one PostgreSQL Dagster instance and one DuckLake warehouse.

    python bench/scale.py                       # workers 1,2,4; latency 0.5 s, 4 requests at a time per replica
    python bench/scale.py --workers 1,2 --tasks 8 --latency 0.3

Each worker is `anka-refinery build --domain <its domain> --skip-release` with its own DAGSTER_HOME
(deploy/dagster-postgres.yaml) over the same instance database and the same lake (a throwaway PostgreSQL
cluster started here, as the tests do: Debian's `postgresql` must be installed, `.ci/postgres.sh`). The
teacher and the judge are simulator processes with a fixed capacity per replica (`--max-concurrent K`,
`--latency fixed:L`: K / L requests per second): N workers get N replicas each, listed comma separated in
the gateway's replica list, and N lock slots per role. Every worker builds a domain of the same size (a
copy of the first `--tasks` tasks of data/seeds/hukuk.yaml under its own name and label, so nothing is a
cache hit across workers). One `dagster-daemon` serves the instance's queue for all of them.

Printed per N: wall time from the first submit to the last worker's exit, chains of thought per second,
the ratio against N=1 measured in the same run (ideal: N), and the requests each replica answered.
Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.pg import PostgresCluster, pg_bin_dir  # noqa: E402
from tests.scaleout import SharedCluster  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_simulator(latency: float, capacity: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "anka_testkit.simulator", "--port", str(port),
                             "--latency", f"fixed:{latency}", "--max-concurrent", str(capacity),
                             "--log-level", "warning"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("simulator did not start")


def seed_copies(n: int, tasks: int) -> dict[str, str]:
    """`n` domains of the same size: hukuk's first `tasks` tasks under another name and label."""
    import yaml

    source = yaml.safe_load((REPO / "data" / "seeds" / "hukuk.yaml").read_text(encoding="utf-8"))
    out = {}
    for i in range(1, n + 1):
        doc = {**source, "domain": f"hukuk{i}", "label": f"Hukuk {i}", "tasks": source["tasks"][:tasks]}
        out[f"hukuk{i}"] = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    return out


def measure(pg: PostgresCluster, workers: int, args) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"anka-scale-{workers}-"))
    sims = []
    try:
        teachers = [start_simulator(args.latency, args.capacity) for _ in range(workers)]
        judges = [start_simulator(args.latency, args.capacity) for _ in range(workers)]
        sims = [p for p, _ in teachers + judges]
        seeds = seed_copies(workers, args.tasks)
        cluster = SharedCluster.create(pg, root, extra_env={
            "ANKA_TEACHER_BASE_URL": ",".join(u for _, u in teachers), "ANKA_TEACHER_MODEL": "teacher-model",
            "ANKA_TEACHER_LOCALITY": "local", "ANKA_TEACHER_MAX_CONCURRENCY": str(args.capacity * 2),
            "ANKA_JUDGE_BASE_URL": ",".join(u for _, u in judges), "ANKA_JUDGE_MODEL": "judge-model",
            "ANKA_JUDGE_LOCALITY": "local", "ANKA_JUDGE_MAX_CONCURRENCY": str(args.capacity * 2),
            "ANKA_TEACHER_LOCK_SLOTS": str(workers), "ANKA_JUDGE_LOCK_SLOTS": str(workers),
        })
        for name, body in seeds.items():
            (root / "seeds" / f"{name}.yaml").write_text(body, encoding="utf-8")
        cluster.start_daemon()
        try:
            started = time.monotonic()
            procs = [cluster.build(f"worker-{i}", [d]) for i, d in enumerate(seeds)]
            outs = [p.communicate(timeout=args.timeout)[0] for p in procs]
            wall = time.monotonic() - started
        finally:
            cluster.stop_daemon()
        failed = [o[-1500:] for p, o in zip(procs, outs) if p.returncode != 0]
        if failed:
            raise RuntimeError(f"{len(failed)} worker(s) failed:\n" + "\n=====\n".join(failed))
        rows = cluster.query("select count(*) from anka.raw_cot where status = 'ok'")[0][0]
        sent = cluster.query("select count(*) from anka.model_audit where decision = 'sent'")[0][0]
        return {"workers": workers, "wall_s": wall, "cot_rows": rows, "sent": sent, "rows_per_s": rows / wall}
    finally:
        for p in sims:
            p.terminate()
        for p in sims:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4", help="comma separated worker counts (default 1,2,4)")
    parser.add_argument("--tasks", type=int, default=12, help="curated tasks per worker's domain (default 12)")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per request (default 0.5)")
    parser.add_argument("--capacity", type=int, default=4, help="requests a replica serves at once (default 4)")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed: bash .ci/postgres.sh")
    pg_root = Path(tempfile.mkdtemp(prefix="anka-scale-pg-"))
    pg = PostgresCluster(root=pg_root, bin=bin_dir)
    pg.init()
    pg.start()
    try:
        results = []
        for n in [int(x) for x in args.workers.split(",")]:
            results.append(measure(pg, n, args))
            r = results[-1]
            print(f"{n} worker(s): wall {r['wall_s']:.1f} s, {r['cot_rows']} chains of thought, {r['sent']} requests "
                  f"sent, {r['rows_per_s']:.2f} rows/s", flush=True)
    finally:
        pg.stop("immediate")
        shutil.rmtree(pg_root, ignore_errors=True)
    base = results[0]
    print(f"\nteacher/judge replica capacity: {args.capacity} at a time, {args.latency} s each "
          f"({args.capacity / args.latency:.1f} req/s per replica); {os.cpu_count()} CPU cores")
    print("workers  wall_s  rows/s  ratio vs 1  ideal")
    for r in results:
        ratio = r["rows_per_s"] / base["rows_per_s"] * base["workers"]
        print(f"{r['workers']:>7}  {r['wall_s']:>6.1f}  {r['rows_per_s']:>6.2f}  {ratio:>10.2f}  {r['workers']:>5}")


if __name__ == "__main__":
    main()
