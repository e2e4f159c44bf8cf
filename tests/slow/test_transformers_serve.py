"""raw_cot and judged_cot against a real OpenAI-compatible server no one here wrote: `transformers serve`
(transformers[serving], from the package registry) on 127.0.0.1, serving a tiny Llama built in the test
(tests/tiny_teacher.py: no download, works offline). Rows, errors in the server's own words, a re-run that
makes no call."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from dagster import materialize

from anka_assets.definitions import build_definitions
from anka_assets.gateway import EndpointSettings, ModelEndpoint, ModelGateway, ModelRequest
from anka_assets.gateway.types import ProbeFailed
from tests.conftest import read_table
from tests.tiny_teacher import build_tiny_teacher

pytestmark = [pytest.mark.slow, pytest.mark.extra("train")]

SEL = ["curated_seeds", "expanded_tasks", "seed_tasks", "raw_cot", "judged_cot", "review_queue"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_command() -> list[str]:
    cli = Path(sys.executable).parent / "transformers"
    if cli.exists():
        return [str(cli), "serve"]
    found = shutil.which("transformers")
    if found is None:
        pytest.fail("the `transformers` CLI is missing: pip install 'transformers[serving]' (the test extra)")
    return [found, "serve"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("fastapi", reason="transformers serve needs transformers[serving]")
    model_dir = build_tiny_teacher(tmp_path_factory.mktemp("tiny-teacher") / "model")
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    log = open(tmp_path_factory.mktemp("serve-log") / "serve.log", "w+")
    proc = subprocess.Popen(
        [*_serve_command(), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu", str(model_dir)],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                with urllib.request.urlopen(base + "/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"transformers serve did not start:\n{log.read()[-3000:]}")
            time.sleep(0.5)
        yield base, str(model_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _endpoint(role: str, base: str, model: str) -> ModelEndpoint:
    return ModelEndpoint(role=role, backend="openai", base_url=base, model=model, locality="local",
                         max_concurrency=4, timeout_s=60.0, max_retries=1)


def _run(paths, base, model):
    defs = build_definitions(paths, teacher=_endpoint("teacher", base, model), judge=_endpoint("judge", base, model))
    ops = {"expanded_tasks": {"config": {"target_per_domain": 0}}}
    return materialize(list(defs.assets), selection=SEL, partition_key="tarih", resources=defs.resources,
                       run_config={"ops": ops}, raise_on_error=False)


def test_raw_cot_and_judged_cot_against_transformers_serve(server, refinery):
    base, model = server
    first = _run(refinery, base, model)
    assert first.success
    raw = read_table(refinery, "raw_cot")
    assert raw["status"].to_list() == ["ok", "ok"]
    assert raw["teacher_model"].to_list() == [model, model]  # what the server said it is
    assert (raw["completion_tokens"] > 0).all() and raw["finish_reason"].to_list() == ["stop", "stop"]
    judged = read_table(refinery, "judged_cot")
    assert judged["judge_status"].to_list() == ["ok", "ok"] and judged["dogruluk"].to_list() == [5, 5]
    meta = first.asset_materializations_for_node("raw_cot")[0].metadata
    assert meta["calls_made"].value == 2

    again = _run(refinery, base, model)  # nothing changed: everything from the cache
    assert again.success
    for node in ("raw_cot", "judged_cot"):
        meta = again.asset_materializations_for_node(node)[0].metadata
        assert meta["calls"].value == "all cached" and meta["calls_cached"].value == 2 and "calls_made" not in meta


def test_usual_mistakes_are_explained_in_the_servers_words(server, tmp_path):
    base, model = server
    root = base.removesuffix("/v1")

    def gateway(**kw) -> ModelGateway:
        s = dict(role="teacher", backend="openai", model=model, base_url=base, locality="local", max_retries=0,
                 timeout_s=60.0)
        return ModelGateway(EndpointSettings(**{**s, **kw}), tmp_path / "w.duckdb")

    def req(**params) -> ModelRequest:
        return ModelRequest(messages=[{"role": "user", "content": "Tanzimat nedir?"}],
                            params={"max_tokens": 8, **params}, template_version="t", sensitivity="public")

    with pytest.raises(ProbeFailed, match=rf"answered HTTP 404 \(Not Found\).*ANKA_TEACHER_BASE_URL={root}/v1"):
        gateway(base_url=root).run([req()], asset="a", partition=None)
    with pytest.raises(ProbeFailed, match=rf"does not serve model 'qwen-7b'; it lists: {model}\."):
        gateway(model="qwen-7b").run([req()], asset="a", partition=None)

    # A field the server does not know: its own validation message, the status and the URL.
    out = gateway().run([req(top_k=5)], asset="a", partition=None)
    assert out[0].status == "failed"
    assert out[0].error.startswith(f"HTTP 422 from {base}/chat/completions after 1 attempt: ")
    assert "top_k" in out[0].error
