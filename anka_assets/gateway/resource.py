"""Dagster resource for a model endpoint. The API key is never a config field: only the NAME of the
environment variable that holds it is, so the key never shows in the UI, in run config or in logs.

Fields are typed and validated once, when the resource is built (by Python or from run config): an enum
for backend and locality, positive numbers. `EndpointSettings.resolve` takes them as they are and reads
the ``ANKA_<ROLE>_*`` variables only for fields left blank. The resource owns the gateways a step opens
and closes them when the step ends, so an in-process vLLM model is released."""

from __future__ import annotations

import logging
import os
from enum import Enum
from typing import Any, Optional

import dagster as dg
from pydantic import Field, PrivateAttr, field_validator

from anka_assets.gateway.core import ModelGateway
from anka_assets.gateway.endpoint import BACKENDS, LOCALITIES, EndpointSettings, env_prefix, url_secrets

__all__ = ["Backend", "Locality", "ModelEndpoint"]

#: Dagster config takes enums (not ``Literal``); member names equal values, so run config says "openai".
Backend = Enum("Backend", {b: b for b in BACKENDS}, type=str)
Locality = Enum("Locality", {loc: loc for loc in LOCALITIES}, type=str)


class ModelEndpoint(dg.ConfigurableResource):
    """One model endpoint (teacher, judge, ...). Blank fields fall back, at execution time, to the
    ``ANKA_<ROLE>_*`` environment variables and then to the defaults (the local simulator)."""

    role: str = Field(
        default="teacher",
        description="What the endpoint is for (teacher, judge, ...): the ANKA_<ROLE>_ environment prefix and the audit's role.",
    )
    backend: Optional[Backend] = Field(
        default=None,
        description="openai (any OpenAI-compatible server), vllm (in-process, GPU) or simulator; blank = "
        "ANKA_<ROLE>_BACKEND, else openai when a base URL is set, else simulator.",
    )
    base_url: str = Field(
        default="",
        description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (blank = ANKA_<ROLE>_BASE_URL). "
        "Do not put credentials in it.",
    )
    model: str = Field(default="", description="Model name sent to the endpoint (blank = ANKA_<ROLE>_MODEL; simulator: anka-simulator).")
    locality: Optional[Locality] = Field(
        default=None,
        description="local (inside the organisation: may receive any prompt) or commercial (only public, PII-free "
        "prompts, KVKK m. 9); blank = ANKA_<ROLE>_LOCALITY, else commercial for openai, local for simulator/vllm.",
    )
    max_concurrency: Optional[int] = Field(
        default=None, gt=0, description="Requests in flight at once (vllm: prompts per batch); blank = env or 16."
    )
    timeout_s: Optional[float] = Field(default=None, gt=0, description="Seconds to wait for one answer; blank = env or 120.")
    max_retries: Optional[int] = Field(
        default=None, ge=0, description="Retries after 429/408/409/5xx/timeouts/connection errors; blank = env or 5."
    )
    price_input_per_mtok: Optional[float] = Field(
        default=None, ge=0, description="Price per million prompt tokens (for cost accounting); blank = env or 0."
    )
    price_output_per_mtok: Optional[float] = Field(
        default=None, ge=0, description="Price per million completion tokens (for cost accounting); blank = env or 0."
    )
    api_key_env: str = Field(
        default="",
        description="NAME of the environment variable that holds the API key (blank = ANKA_<ROLE>_API_KEY). "
        "The key itself is read at execution time and never stored in config.",
    )

    _gateways: list = PrivateAttr(default_factory=list)

    @field_validator("backend", "locality", mode="before")
    @classmethod
    def _choice(cls, value: Any, info) -> Any:
        """Blank is "not set"; anything else must be one of the allowed words (any case)."""
        if value is None or isinstance(value, Enum):
            return value
        text = str(value).strip().lower()
        if not text:
            return None
        allowed = BACKENDS if info.field_name == "backend" else LOCALITIES
        if text not in allowed:
            raise ValueError(f"ModelEndpoint.{info.field_name}={value!r} is not valid; allowed values: "
                             f"{', '.join(allowed)} (or blank)")
        return text

    @classmethod
    def from_env(cls, role: str) -> "ModelEndpoint":
        """Config defaults from ``ANKA_<ROLE>_*`` now (the key stays in the environment, and so does a base
        URL carrying ``user:password@``: left blank, it is read from ``ANKA_<ROLE>_BASE_URL`` when used)."""
        s = EndpointSettings.from_env(role)
        return cls(
            role=role,
            backend=s.backend,
            base_url="" if url_secrets(s.base_url) else s.base_url or "",
            model=s.model,
            locality=s.locality,
            max_concurrency=s.max_concurrency,
            timeout_s=s.timeout_s,
            max_retries=s.max_retries,
            price_input_per_mtok=s.price_input_per_mtok,
            price_output_per_mtok=s.price_output_per_mtok,
            api_key_env=env_prefix(role) + "API_KEY",
        )

    def __repr_args__(self):
        """The fields, with any ``user:password@`` of the base URL hidden."""
        for name, value in super().__repr_args__():
            if name == "base_url" and isinstance(value, str):
                for secret in url_secrets(value):
                    value = value.replace(secret, "***")
            yield name, value

    def key_variable(self) -> str:
        return self.api_key_env or env_prefix(self.role) + "API_KEY"

    def settings(self) -> EndpointSettings:
        """This resource's typed fields over the ``ANKA_<ROLE>_*`` variables (for blank fields only);
        reads the key now, from :meth:`key_variable`."""
        return EndpointSettings.resolve(
            self.role,
            api_key=os.environ.get(self.key_variable()),
            backend=self.backend.value if self.backend is not None else None,
            locality=self.locality.value if self.locality is not None else None,
            base_url=self.base_url, model=self.model, max_concurrency=self.max_concurrency,
            timeout_s=self.timeout_s, max_retries=self.max_retries,
            price_input_per_mtok=self.price_input_per_mtok, price_output_per_mtok=self.price_output_per_mtok,
        )

    def open_gateway(self, db_path: str | os.PathLike, *, log: logging.Logger | None = None) -> ModelGateway:
        """A gateway to this endpoint; closed (an in-process model released) when the step ends."""
        gateway = ModelGateway(self.settings(), db_path, log=log)
        self._gateways.append(gateway)
        return gateway

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Close the gateways this step opened: free an in-process vLLM model, keep nothing loaded."""
        gateways, self._gateways = self._gateways, []
        for gateway in gateways:
            gateway.close()
