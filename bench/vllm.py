"""The model gateway against a real vLLM server, compared with a plain OpenAI client in the same run.

    ANKA_VLLM_PYTHON="$(bash .ci/vllm-venv.sh)" python bench/vllm.py      # starts vLLM (CPU) on a tiny model
    python bench/vllm.py --base-url http://HOST:8000/v1 --model NAME       # an existing server (e.g. a GPU)
    python bench/vllm.py --n 128 --concurrency 32 --max-tokens 128

Without ``--base-url`` it builds the random-weight toy Llama (anka_assets/student/toy_model.py: it never
stops on its own, so every answer is ``max_tokens`` long: ``ignore_eos`` makes sure) and starts vLLM's
OpenAI server on it from ``$ANKA_VLLM_PYTHON`` with the CPU flags (tests/vllm_server.py).

Case 1 (throughput): N requests, each ``max_tokens`` tokens, at concurrency C, alternately through the
gateway (ModelGateway: cold cache in a temp DuckDB, audit, KVKK decision; a fixed window of C, so both
sides hold C requests in flight) and through the installed ``openai`` package's AsyncOpenAI client with an
asyncio semaphore of C (no cache, no audit): two rounds each, distinct prompts per run. Printed: completion
tokens/s of each and the ratio gateway / client (goal >= 0.95).

Case 2 (overhead per call): N requests of 1 token at concurrency 1 through each; the difference of their
mean wall time per request is what the gateway adds to a call (cache lookup, audit rows, KVKK scan, and
its per-run start: probe, warehouse, client, spread over the N calls), and the CPU each spends per call.

Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
warnings.filterwarnings("ignore")


def prompt(i: int, tag: str) -> str:
    return f"Soru {tag}-{i}: Osmanlı Devleti'nde tımar sisteminin işleyişini ve önemini açıklayınız."


def params(i: int, max_tokens: int) -> dict:
    return {"temperature": 0.7, "max_tokens": max_tokens, "seed": i, "ignore_eos": True}


def run_gateway(base_url: str, model: str, n: int, c: int, max_tokens: int, tmp: Path, tag: str) -> tuple[float, int, int]:
    """(wall s, completion tokens, ok count) of one cold-cache gateway run."""
    from anka_assets.gateway import EndpointSettings, ModelGateway, ModelRequest

    settings = EndpointSettings(role="teacher", backend="openai", model=model, base_url=base_url, locality="local",
                                max_concurrency=c, adaptive_concurrency=False, timeout_s=600, max_retries=0)
    requests = [ModelRequest(messages=[{"role": "user", "content": prompt(i, tag)}], params=params(i, max_tokens),
                             template_version="bench-v1", seed_id=str(i), sensitivity="public") for i in range(n)]
    gw = ModelGateway(settings, tmp / f"bench-{tag}.duckdb")
    t0, c0 = time.perf_counter(), time.process_time()
    results = gw.run(requests, asset="bench", partition=None)
    wall = time.perf_counter() - t0
    run_gateway.cpu_s = time.process_time() - c0
    gw.close()
    return wall, sum(r.completion_tokens for r in results if r.ok), sum(r.ok for r in results)


def run_client(base_url: str, model: str, n: int, c: int, max_tokens: int, tag: str) -> tuple[float, int, int]:
    """(wall s, completion tokens, ok count) of the plain openai client at the same concurrency."""
    import openai

    async def main() -> tuple[int, int]:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0, timeout=600)
        gate = asyncio.Semaphore(c)

        async def one(i: int) -> int:
            p = params(i, max_tokens)
            async with gate:
                r = await client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": prompt(i, tag)}],
                    temperature=p["temperature"], max_tokens=p["max_tokens"], seed=p["seed"],
                    extra_body={"ignore_eos": True})
            return r.usage.completion_tokens

        try:
            tokens = await asyncio.gather(*(one(i) for i in range(n)))
        finally:
            await client.close()
        return sum(tokens), len(tokens)

    t0, c0 = time.perf_counter(), time.process_time()
    tokens, ok = asyncio.run(main())
    run_client.cpu_s = time.process_time() - c0
    return time.perf_counter() - t0, tokens, ok


def start_server(tmp: Path):
    from anka_assets.student.toy_model import build_toy_model
    from tests.tiny_teacher import TURKISH_TEXT
    from tests.vllm_server import VllmServer

    python = os.environ.get("ANKA_VLLM_PYTHON")
    if not python:
        sys.exit('ANKA_VLLM_PYTHON is not set: export ANKA_VLLM_PYTHON="$(bash .ci/vllm-venv.sh)", or pass --base-url')
    model_dir = build_toy_model(TURKISH_TEXT * 4, tmp / "toy")
    server = VllmServer(python, model_dir, "anka-toy", tmp / "server.log")
    t0 = time.perf_counter()
    server.start()
    print(f"vLLM (CPU) serving the toy Llama at {server.base_url}, started in {time.perf_counter() - t0:.0f} s")
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", help="an existing OpenAI-compatible vLLM server (default: start one)")
    parser.add_argument("--model", default="anka-toy", help="model name on that server")
    parser.add_argument("--n", type=int, default=64, help="requests per throughput run (default 64)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--max-tokens", type=int, default=64, help="tokens per answer (default 64)")
    parser.add_argument("--overhead-n", type=int, default=48, help="1-token requests for case 2 (default 48)")
    args = parser.parse_args()
    n, c, mt = args.n, args.concurrency, args.max_tokens

    with tempfile.TemporaryDirectory(prefix="anka-bench-vllm-") as tmp_name:
        tmp = Path(tmp_name)
        server = None if args.base_url else start_server(tmp)
        base_url, model = (args.base_url, args.model) if args.base_url else (server.base_url, "anka-toy")
        try:
            run_client(base_url, model, 8, c, 8, "warm")  # first connections, engine warm-up
            run_gateway(base_url, model, 8, c, 8, tmp, "warm")  # first DuckDB/HTTP use in this process

            print(f"\n## case 1: {n} requests x {mt} tokens at concurrency {c}")
            ratios = []
            for round_ in (1, 2):
                cw, ct, cok = run_client(base_url, model, n, c, mt, f"c{round_}")
                gw, gt, gok = run_gateway(base_url, model, n, c, mt, tmp, f"g{round_}")
                ratio = (gt / gw) / (ct / cw)
                ratios.append(ratio)
                print(f"round {round_}: openai client {ct / cw:8.1f} tokens/s ({cw:6.2f} s, ok {cok}/{n})   "
                      f"gateway {gt / gw:8.1f} tokens/s ({gw:6.2f} s, ok {gok}/{n})   ratio {ratio:.3f}")
            print(f"gateway / openai client tokens/s: {statistics.mean(ratios):.3f} (mean of {len(ratios)} rounds; "
                  "goal >= 0.95)")

            m = args.overhead_n
            print(f"\n## case 2: {m} requests of 1 token at concurrency 1")
            cw, _, _ = run_client(base_url, model, m, 1, 1, "o-client")
            ccpu = run_client.cpu_s
            gw, _, _ = run_gateway(base_url, model, m, 1, 1, tmp, "o-gateway")
            gcpu = run_gateway.cpu_s
            print(f"openai client {cw / m * 1000:7.2f} ms per call, gateway {gw / m * 1000:7.2f} ms per call: "
                  f"overhead {(gw - cw) / m * 1000:+.2f} ms per call ({gw / cw:.3f}x the client's time)")
            print(f"CPU of this process per call: client {ccpu / m * 1000:.2f} ms, gateway {gcpu / m * 1000:.2f} ms "
                  "(on a CPU vLLM server the client's CPU is taken from the engine's)")
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
