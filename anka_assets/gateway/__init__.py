"""The model gateway: the one path by which any asset reaches a model (teacher, judge, seed expansion,
evaluation). It enforces KVKK before any byte leaves the machine, caches every response in DuckDB as it
arrives, runs requests concurrently with retries, counts tokens/latency/cost and audits every request.

Modules: ``types`` (values), ``endpoint`` (settings from env), ``kvkk`` (the transfer guard), ``keys``
(cache keys, payload hashes), ``retry`` (policy) are pure; ``store`` (DuckDB), ``backends`` (HTTP, vLLM),
``core`` (orchestration) and ``resource`` (Dagster) do the I/O.
"""

from anka_assets.gateway.core import ModelGateway
from anka_assets.gateway.endpoint import EndpointSettings
from anka_assets.gateway.kvkk import KvkkDecision, decide_kvkk
from anka_assets.gateway.types import BackendUnavailable, CallLedger, GatewayRunStats, ModelRequest, ModelResult


def __getattr__(name: str):
    # The Dagster resource is imported on first use: plain gateway users (benchmarks, scripts, the
    # crash-resume child process) do not pay for importing dagster.
    if name == "ModelEndpoint":
        from anka_assets.gateway.resource import ModelEndpoint

        return ModelEndpoint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EndpointSettings",
    "ModelRequest",
    "ModelResult",
    "ModelGateway",
    "KvkkDecision",
    "decide_kvkk",
    "BackendUnavailable",
    "ModelEndpoint",
    "CallLedger",
    "GatewayRunStats",
]
