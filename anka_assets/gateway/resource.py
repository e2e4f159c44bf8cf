"""Dagster resource for a model endpoint. The API key is never a config field: only the NAME of the
environment variable that holds it is, so the key never shows in the UI, in run config or in logs."""

from __future__ import annotations

import logging
import os
from typing import Optional

import dagster as dg
from pydantic import Field

from anka_assets.gateway.core import ModelGateway
from anka_assets.gateway.endpoint import BACKENDS, LOCALITIES, EndpointSettings, env_prefix

__all__ = ["ModelEndpoint"]


class ModelEndpoint(dg.ConfigurableResource):
    """One model endpoint (teacher, judge, ...). Blank fields fall back, at execution time, to the
    ``ANKA_<ROLE>_*`` environment variables and then to the defaults (the local simulator)."""

    role: str = Field(
        default="teacher",
        description="What the endpoint is for (teacher, judge, ...): the ANKA_<ROLE>_ environment prefix and the audit's role.",
    )
    backend: str = Field(
        default="",
        description="openai (any OpenAI-compatible server), vllm (in-process, GPU) or simulator; blank = "
        "ANKA_<ROLE>_BACKEND, else openai when a base URL is set, else simulator.",
    )
    base_url: str = Field(
        default="",
        description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (blank = ANKA_<ROLE>_BASE_URL). "
        "Do not put credentials in it.",
    )
    model: str = Field(default="", description="Model name sent to the endpoint (blank = ANKA_<ROLE>_MODEL; simulator: anka-simulator).")
    locality: str = Field(
        default="",
        description="local (inside the organisation: may receive any prompt) or commercial (only public, PII-free "
        "prompts, KVKK m. 9); blank = ANKA_<ROLE>_LOCALITY, else commercial for openai, local for simulator/vllm.",
    )
    max_concurrency: Optional[int] = Field(
        default=None, description="Requests in flight at once (vllm: prompts per batch); blank = env or 16."
    )
    timeout_s: Optional[float] = Field(default=None, description="Seconds to wait for one answer; blank = env or 120.")
    max_retries: Optional[int] = Field(
        default=None, description="Retries after 429/408/409/5xx/timeouts/connection errors; blank = env or 5."
    )
    price_input_per_mtok: Optional[float] = Field(
        default=None, description="Price per million prompt tokens (for cost accounting); blank = env or 0."
    )
    price_output_per_mtok: Optional[float] = Field(
        default=None, description="Price per million completion tokens (for cost accounting); blank = env or 0."
    )
    api_key_env: str = Field(
        default="",
        description="NAME of the environment variable that holds the API key (blank = ANKA_<ROLE>_API_KEY). "
        "The key itself is read at execution time and never stored in config.",
    )

    @classmethod
    def from_env(cls, role: str) -> "ModelEndpoint":
        """Config defaults from ``ANKA_<ROLE>_*`` now (the key stays in the environment)."""
        s = EndpointSettings.from_env(role)
        return cls(
            role=role,
            backend=s.backend,
            base_url=s.base_url or "",
            model=s.model,
            locality=str(s.locality),
            max_concurrency=s.max_concurrency,
            timeout_s=s.timeout_s,
            max_retries=s.max_retries,
            price_input_per_mtok=s.price_input_per_mtok,
            price_output_per_mtok=s.price_output_per_mtok,
            api_key_env=env_prefix(role) + "API_KEY",
        )

    def key_variable(self) -> str:
        return self.api_key_env or env_prefix(self.role) + "API_KEY"

    def settings(self) -> EndpointSettings:
        """Resolve config + environment into :class:`EndpointSettings` (reads the key now)."""
        prefix = env_prefix(self.role)
        for name, value, allowed in (("backend", self.backend, BACKENDS), ("locality", self.locality, LOCALITIES)):
            if value and value.strip().lower() not in allowed:
                raise ValueError(
                    f"ModelEndpoint.{name}={value!r} is not valid; allowed values: {', '.join(allowed)} (or blank)"
                )
        env = {k: v for k, v in os.environ.items() if k.startswith(prefix)}
        env.pop(prefix + "API_KEY", None)
        overrides = {
            "BACKEND": self.backend,
            "BASE_URL": self.base_url,
            "MODEL": self.model,
            "LOCALITY": self.locality,
            "MAX_CONCURRENCY": self.max_concurrency,
            "TIMEOUT_S": self.timeout_s,
            "MAX_RETRIES": self.max_retries,
            "PRICE_INPUT_PER_MTOK": self.price_input_per_mtok,
            "PRICE_OUTPUT_PER_MTOK": self.price_output_per_mtok,
        }
        for name, value in overrides.items():
            if value is not None and value != "":
                env[prefix + name] = str(value)
        key = os.environ.get(self.key_variable())
        if key:
            env[prefix + "API_KEY"] = key
        return EndpointSettings.from_env(self.role, env)

    def open_gateway(self, db_path: str | os.PathLike, *, log: logging.Logger | None = None) -> ModelGateway:
        return ModelGateway(self.settings(), db_path, log=log)
