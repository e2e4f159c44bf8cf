"""Built-in OpenAI-compatible HTTP simulator for tests, benchmarks and the offline quick start.

Part of the test kit, not of the product: the product reaches it only through
:mod:`anka_assets.simulated` (``SimulatorServer``, imported lazily when the gateway's ``simulator``
backend starts one for a run).

The simulator answers ``POST /v1/chat/completions`` with deterministic, plausible Turkish content in the
formats of ``docs/CONTRACTS.md`` (``cot_answer``, ``judge_verdict``, ``task_list``, the tagged
``<adimlar>``/``<cevap>`` fallback, generic JSON-schema instances, plain text) and can inject faults
(latency, 429, 500, hangs, malformed JSON, truncation, PII echo) so the gateway's retry, timeout,
parsing and PII-filter paths can be exercised without a real model.

Two ways to run it:

* in-process (tests)::

      with SimulatorServer(faults=FaultConfig(rate_429=0.1), port=0) as sim:
          client = OpenAI(base_url=sim.base_url, api_key="sim")
          ...
          sim.stats(); sim.received()

* as a process (quick start, benchmarks)::

      python -m anka_testkit.simulator --port 8321 --latency uniform:0.5,3.5 --rate-429 0.1

Content is a pure function of the request body (model, messages, temperature, seed, max_tokens,
response_format); faults are drawn from a server-level RNG seeded by ``FaultConfig.seed`` so that a
retry of a faulted request can succeed. Every answer is marked as simulated: the response ``model``
is ``"anka-simulator:<requested model>"`` and chain-of-thought answers end with
:data:`SIMULATOR_MARKER`; the response also carries ``system_fingerprint == "anka-simulator"``
(:func:`is_simulated_model`, from the product's :mod:`anka_assets.simulated`, tells a recorded model
name apart).

Modules: :mod:`.faults` (what can go wrong), :mod:`.extract` (reading a prompt), :mod:`.turkish` (suffix
harmony), :mod:`.banks` (sentence and topic banks), :mod:`.content` (the answers), :mod:`.app` (the
Starlette app), :mod:`.server` (serving it) and ``__main__``.
"""

from __future__ import annotations

from anka_assets.simulated import is_simulated_model
from anka_testkit.simulator.app import DEFAULT_MODELS, MODEL_PREFIX, SYSTEM_FINGERPRINT, SimulatorState, create_app
from anka_testkit.simulator.content import (
    FAKE_PII_PHONE,
    FAKE_PII_TCKN,
    SIMULATOR_MARKER,
    generate_completion,
)
from anka_testkit.simulator.extract import count_tokens
from anka_testkit.simulator.faults import OUTCOMES, FaultConfig, Latency
from anka_testkit.simulator.server import DEFAULT_PORT, SimulatorServer, main

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_PORT",
    "FAKE_PII_PHONE",
    "FAKE_PII_TCKN",
    "MODEL_PREFIX",
    "OUTCOMES",
    "SIMULATOR_MARKER",
    "SYSTEM_FINGERPRINT",
    "FaultConfig",
    "Latency",
    "SimulatorServer",
    "SimulatorState",
    "count_tokens",
    "create_app",
    "generate_completion",
    "is_simulated_model",
    "main",
]
