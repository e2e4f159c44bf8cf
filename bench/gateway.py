"""Throughput of the model gateway against the simulator, compared with the ideal and with distilabel.

    python bench/gateway.py                  # N=1280, C=64
    python bench/gateway.py --n 640 --concurrency 32
    python bench/gateway.py --quick          # N=256, C=32

Case 1: the simulator (a separate process, started from its CLI) answers after a latency drawn uniformly
from [0.5, 3.5] s (mean 2 s). N requests go through ModelGateway (cold cache, temp DuckDB) at
concurrency C, then N other requests through a new gateway on the same warehouse (as the next Dagster
step would: it starts from the concurrency window the first run learned). The ideal throughput is C / mean latency. The same N prompts then go through distilabel's
own Pipeline (LoadDataFromDicts >> TextGeneration, same OpenAILLM settings, input_batch_size=C,
use_cache=False, caches in a temp folder), and through plain asyncio + httpx (the flavour the openai
client uses) as a reference.

Case 2: a fixed 200 ms latency; prints what the gateway costs per request beyond that latency (wall per
request slot and CPU per request).

Case 3 (queue): a server that serves at most K=4 requests at a time and queues the rest (as `transformers
serve`, llama.cpp or a saturated vLLM do), fixed service time 0.25 s: capacity K / 0.25 = 16 req/s. The
gateway at max concurrency 64 with adaptive concurrency (AIMD) vs. a fixed window of 64; timeout 2.5 s,
3 retries. Printed: throughput / capacity and failed rows of each.

Case 4 (rate limit): a server that answers 429 with Retry-After above R=20 requests per second (latency
0.2 s). Printed: throughput / R and failed rows.

Case 5 (replicas): one replica serving 2 at a time (0.25 s each, 8 req/s) vs. four behind one comma separated base URL; printed: the ratio
of their throughputs.

Prints figures only; asserts nothing. `--only queue,ratelimit,replicas` runs a subset.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
warnings.filterwarnings("ignore")

PARAMS = {"temperature": 0.7, "max_tokens": 128}


def prompt(i: int) -> str:
    return f"Soru {i}: Osmanlı Devleti'nde tımar sisteminin işleyişini ve önemini açıklayınız."


# -- simulator process ---------------------------------------------------------------------------------


class Simulator:
    def __init__(self, latency: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "anka_testkit.simulator", "--port", "0", "--latency", latency, *extra],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )
        self.base_url = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if "listening on" in line:
                self.base_url = line.strip().rsplit(" ", 1)[-1]
                break
            if not line and self.proc.poll() is not None:
                break
        if not self.base_url:
            self.close()
            raise RuntimeError("simulator did not start")
        self.root = self.base_url.rsplit("/v1", 1)[0]

    def stats(self) -> dict:
        with urllib.request.urlopen(self.root + "/_sim/stats", timeout=10) as r:
            return json.loads(r.read())

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self.root + "/_sim/reset", method="POST"), timeout=10).read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- the three clients ---------------------------------------------------------------------------------


def run_gateway(
    base_url: str, n: int, c: int, tmp: Path, tag: str, offset: int = 0, **settings_kw
) -> tuple[float, float, int]:
    """(wall s, CPU s of this process, ok count) for one cold-cache gateway run (prompts offset..offset+n;
    a new gateway object, as a new Dagster step has, on the warehouse file of ``tag``)."""
    from anka_assets.gateway import EndpointSettings, ModelGateway, ModelRequest

    settings = EndpointSettings(
        role="teacher", backend="openai", model="anka-sim-teacher", base_url=base_url, locality="local",
        max_concurrency=c, **{"timeout_s": 60, **settings_kw},
    )
    requests = [
        ModelRequest(messages=[{"role": "user", "content": prompt(i)}], params=PARAMS, template_version="bench-v1",
                     seed_id=str(i), sensitivity="public")
        for i in range(offset, offset + n)
    ]
    gw = ModelGateway(settings, tmp / f"bench-{tag}.duckdb")
    cpu0, t0 = time.process_time(), time.perf_counter()
    results = gw.run(requests, asset="bench", partition=None)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return wall, cpu, sum(r.status == "ok" for r in results)


def _openai_httpx():
    """The httpx flavour the installed openai client is built on (``httpx2`` for openai 3.x, else httpx):
    the reference uses the same transport as the gateway. (httpx 0.28 costs ~16 ms of CPU per request
    here against ~1.7 ms for httpx2, which would make the reference, not the gateway, the slow one.)"""
    import importlib

    import openai

    return importlib.import_module(type(openai.DEFAULT_CONNECTION_LIMITS).__module__.split(".")[0])


def run_httpx(base_url: str, n: int, c: int) -> tuple[float, int]:
    """Plain asyncio + httpx with a semaphore: the reference for 'no framework at all'.

    A request that fails (no retries here) counts as not ok instead of ending the benchmark."""
    httpx = _openai_httpx()

    async def main() -> int:
        sem = asyncio.Semaphore(c)
        limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

            async def one(i: int) -> bool:
                async with sem:
                    body = {"model": "anka-sim-teacher", "messages": [{"role": "user", "content": prompt(i)}], **PARAMS}
                    try:
                        r = await client.post("/chat/completions", json=body)
                    except httpx.HTTPError:
                        return False
                    return r.status_code == 200 and bool(r.json()["choices"][0]["message"]["content"])

            return sum(await asyncio.gather(*(one(i) for i in range(n))))

    t0 = time.perf_counter()
    ok = asyncio.run(main())
    return time.perf_counter() - t0, ok


def run_distilabel(base_url: str, n: int, c: int, tmp: Path) -> tuple[float, int]:
    """distilabel's own Pipeline, in a child process (it installs process-wide logging and signal
    handlers); the child times ``pipeline.run`` only, not its own imports."""
    proc = subprocess.run(
        [sys.executable, __file__, "--distilabel-child", base_url, str(n), str(c), str(tmp)],
        cwd=REPO, capture_output=True, text=True,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            data = json.loads(line)
            return data["wall"], data["ok"]
    raise RuntimeError(f"distilabel pipeline failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def distilabel_child(base_url: str, n: int, c: int, tmp: Path) -> None:
    """LoadDataFromDicts >> TextGeneration(OpenAILLM), input_batch_size=C, use_cache=False."""
    os.environ["HF_DATASETS_CACHE"] = str(tmp / "hf-datasets")
    os.environ["HF_HOME"] = str(tmp / "hf-home")
    from distilabel.models.llms import OpenAILLM
    from distilabel.pipeline import Pipeline
    from distilabel.steps import LoadDataFromDicts
    from distilabel.steps.tasks import TextGeneration

    rows = [{"instruction": prompt(i)} for i in range(n)]
    with Pipeline(name="anka-gateway-bench", cache_dir=str(tmp / "distilabel-cache")) as pipeline:
        load = LoadDataFromDicts(data=rows, batch_size=c)
        generate = TextGeneration(
            llm=OpenAILLM(
                model="anka-sim-teacher", base_url=base_url, api_key="EMPTY", max_retries=0, timeout=60,
                generation_kwargs={"max_new_tokens": PARAMS["max_tokens"], "temperature": PARAMS["temperature"]},
            ),
            input_batch_size=c,
            add_raw_output=False,
        )
        load >> generate
    t0 = time.perf_counter()
    distiset = pipeline.run(use_cache=False)
    wall = time.perf_counter() - t0
    ok = sum(1 for row in distiset["default"]["train"] if row.get("generation"))
    print(json.dumps({"wall": wall, "ok": ok}), flush=True)


class _Skip(Exception):
    pass


# -- main ----------------------------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--distilabel-child":
        distilabel_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1280, help="requests per case (default 1280)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (default 64)")
    parser.add_argument("--quick", action="store_true", help="N=256, C=32")
    parser.add_argument("--skip-pipeline", action="store_true", help="do not run the distilabel Pipeline")
    parser.add_argument("--only", default="uniform,overhead,queue,ratelimit,replicas",
                        help="comma separated cases to run (default: all)")
    args = parser.parse_args()
    n, c = (256, 32) if args.quick else (args.n, args.concurrency)
    only = set(args.only.split(","))
    import logging

    logging.basicConfig(level=logging.WARNING)
    for noisy in ("httpx", "httpx2", "distilabel"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="anka-bench-") as tmpdir:
        tmp = Path(tmpdir)
        print(f"# ANKA model gateway benchmark: N={n} requests, concurrency C={c}, {os.cpu_count()} CPUs")

        if only - {"uniform", "overhead"}:  # imports and first DuckDB/HTTP use, not timed below
            warm = Simulator("none")
            try:
                run_gateway(warm.base_url, 8, 8, tmp, "warmup0")
            finally:
                warm.close()
        if "uniform" in only or "overhead" in only:
            case_uniform_and_overhead(args, n, c, tmp, only)
        if "queue" in only:
            case_queue(args.quick, tmp)
        if "ratelimit" in only:
            case_rate_limit(args.quick, tmp)
        if "replicas" in only:
            case_replicas(args.quick, tmp)


def case_queue(quick: bool, tmp: Path) -> None:
    k, service, n = 4, 0.25, (160 if quick else 480)
    capacity = k / service
    sim = Simulator(f"fixed:{service}", "--max-concurrent", str(k))
    try:
        print(f"\n## case 3: server serves at most {k} at a time (queues the rest), {service} s each; "
              f"capacity {capacity:g} req/s; N={n}, max concurrency 64, timeout 2.5 s, 3 retries")
        kw = dict(timeout_s=2.5, max_retries=3)
        for adaptive in (True, False):
            sim.reset()
            wall, _, ok = run_gateway(sim.base_url, n, 64, tmp, f"queue-{adaptive}", adaptive_concurrency=adaptive, **kw)
            label = "adaptive (AIMD)" if adaptive else "fixed 64      "
            print(f"{label}: {wall:7.2f} s  {ok / wall:6.2f} ok req/s  {ok / wall / capacity:5.3f} of capacity  "
                  f"failed rows {n - ok}/{n}, server saw {sim.stats()['total']}")
    finally:
        sim.close()


def case_rate_limit(quick: bool, tmp: Path) -> None:
    r, n = 20.0, (200 if quick else 600)
    sim = Simulator("fixed:0.2", "--rate-limit", str(r))
    try:
        print(f"\n## case 4: server answers 429 + Retry-After above {r:g} req/s, latency 0.2 s; N={n}, max concurrency 64")
        time.sleep(1.1)  # a full bucket
        sim.reset()
        wall, _, ok = run_gateway(sim.base_url, n, 64, tmp, "ratelimit")
        stats = sim.stats()
        print(f"adaptive (AIMD): {wall:7.2f} s  {ok / wall:6.2f} ok req/s  {ok / wall / r:5.3f} of r  "
              f"failed rows {n - ok}/{n}, 429 answers {stats['429']}")
    finally:
        sim.close()


def case_replicas(quick: bool, tmp: Path) -> None:
    k, service, n = 2, 0.25, (320 if quick else 960)  # 8 req/s each: the client process is not the bottleneck
    sims = [Simulator(f"fixed:{service}", "--max-concurrent", str(k)) for _ in range(4)]
    try:
        print(f"\n## case 5: replicas serving {k} at a time, {service} s each ({k / service:g} req/s each); N={n}")
        wall1, _, ok1 = run_gateway(sims[0].base_url, n // 4, 64, tmp, "replica-1")
        thr1 = ok1 / wall1
        print(f"one replica    : {wall1:7.2f} s for {n // 4}  {thr1:6.2f} ok req/s  (failed {n // 4 - ok1})")
        wall4, _, ok4 = run_gateway(",".join(s.base_url for s in sims), n, 64, tmp, "replica-4")
        thr4 = ok4 / wall4
        print(f"four replicas  : {wall4:7.2f} s for {n}  {thr4:6.2f} ok req/s  (failed {n - ok4}); "
              f"served {[s.stats()['ok'] for s in sims]}")
        print(f"four / one replica throughput: {thr4 / thr1:.2f}x")
    finally:
        for s in sims:
            s.close()


def case_uniform_and_overhead(args, n: int, c: int, tmp: Path, only: set[str]) -> None:
    if True:
        # Case 1 -----------------------------------------------------------------------------------
        low, high = 0.5, 3.5
        mean = (low + high) / 2
        ideal = c / mean
        sim = Simulator(f"uniform:{low},{high}")
        try:
            if "uniform" not in only:
                raise _Skip
            print(f"\n## case 1: latency uniform [{low}, {high}] s (mean {mean:g} s); ideal = C / mean = {ideal:.2f} req/s")
            t0 = time.perf_counter()
            import distilabel.models.llms  # noqa: F401 - one-time import (~1 s), not per run

            run_gateway(sim.base_url, 8, c, tmp, "warmup")  # first DuckDB/HTTP use in this process
            print(f"(process warm-up, not timed below: imports + an 8-request run, {time.perf_counter() - t0:.1f} s)")
            sim.reset()
            wall, cpu, ok = run_gateway(sim.base_url, n, c, tmp, "uniform")
            gw_thr = n / wall
            print(f"gateway        : {wall:7.2f} s  {gw_thr:6.2f} req/s  {gw_thr / ideal:5.3f} of ideal  "
                  f"(ok {ok}/{n}, server saw {sim.stats()['total']}, CPU {cpu:.1f} s; a server never seen: "
                  f"the window starts at C/2)")
            sim.reset()
            wall, cpu, ok = run_gateway(sim.base_url, n, c, tmp, "uniform", offset=n)
            print(f"gateway, next  : {wall:7.2f} s  {n / wall:6.2f} req/s  {n / wall / ideal:5.3f} of ideal  "
                  f"(ok {ok}/{n}; a new gateway on the same warehouse, new prompts: it starts from the window "
                  f"the first run ended with)")
            sim.reset()
            h_wall, h_ok = run_httpx(sim.base_url, n, c)
            h_thr = n / h_wall
            print(f"asyncio+httpx  : {h_wall:7.2f} s  {h_thr:6.2f} req/s  {h_thr / ideal:5.3f} of ideal  "
                  f"(ok {h_ok}/{n}, reference: no cache, no audit, no retries)")
            if not args.skip_pipeline:
                sim.reset()
                d_wall, d_ok = run_distilabel(sim.base_url, n, c, tmp)
                d_thr = n / d_wall
                print(f"distilabel     : {d_wall:7.2f} s  {d_thr:6.2f} req/s  {d_thr / ideal:5.3f} of ideal  "
                      f"(ok {d_ok}/{n}, server saw {sim.stats()['total']})")
                print(f"gateway / distilabel Pipeline throughput: {gw_thr / d_thr:.2f}x")
        except _Skip:
            pass
        finally:
            sim.close()
        if "overhead" not in only:
            return

        # Case 2 -----------------------------------------------------------------------------------
        fixed = 0.2
        sim = Simulator(f"fixed:{fixed}")
        try:
            print(f"\n## case 2: fixed latency {fixed * 1000:.0f} ms")
            run_gateway(sim.base_url, min(n, 4 * c), c, tmp, "warmup2")  # first connections to this server
            sim.reset()
            wall, cpu, ok = run_gateway(sim.base_url, n, c, tmp, "fixed")
            slot = wall * c / n  # seconds one concurrency slot spent per request
            ideal_wall = -(-n // c) * fixed
            print(f"gateway        : {wall:7.2f} s for {n} requests (ideal {ideal_wall:.2f} s), ok {ok}/{n}")
            print(f"overhead per request beyond the latency: {(slot - fixed) * 1000:6.2f} ms of wall per slot, "
                  f"{cpu / n * 1000:6.2f} ms of CPU (client process, incl. DuckDB cache + audit writes)")
            sim.reset()
            cpu0 = time.process_time()
            h_wall, _ = run_httpx(sim.base_url, n, c)
            h_cpu = time.process_time() - cpu0
            print(f"asyncio+httpx  : {h_wall:7.2f} s, {(h_wall * c / n - fixed) * 1000:6.2f} ms of wall per slot beyond the "
                  f"latency, {h_cpu / n * 1000:6.2f} ms of CPU per request (reference)")
        finally:
            sim.close()


if __name__ == "__main__":
    main()
