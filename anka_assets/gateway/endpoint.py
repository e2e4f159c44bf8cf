"""Endpoint settings: which model, where, how local, how fast, how expensive. Pure (reads a mapping)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urlsplit

if TYPE_CHECKING:  # pragma: no cover
    from anka_assets.simulated import FaultConfig

__all__ = [
    "BACKENDS",
    "LOCALITIES",
    "SIMULATOR_MODEL",
    "OPENAI_DEFAULT_BASE_URL",
    "EndpointSettings",
    "env_prefix",
    "endpoint_label",
    "split_base_urls",
    "url_for_messages",
]

BACKENDS = ("openai", "vllm", "simulator")
LOCALITIES = ("local", "commercial")
SIMULATOR_MODEL = "anka-simulator"
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"

#: Marks "read the key from ANKA_<ROLE>_API_KEY" in :meth:`EndpointSettings.resolve`.
_FROM_ENV: Any = object()
#: Typed settings and the ``ANKA_<ROLE>_`` variable each one replaces.
_ENV_NAMES = {
    "backend": "BACKEND", "base_url": "BASE_URL", "model": "MODEL", "locality": "LOCALITY",
    "max_concurrency": "MAX_CONCURRENCY", "timeout_s": "TIMEOUT_S", "max_retries": "MAX_RETRIES",
    "price_input_per_mtok": "PRICE_INPUT_PER_MTOK", "price_output_per_mtok": "PRICE_OUTPUT_PER_MTOK",
    "adaptive_concurrency": "ADAPTIVE_CONCURRENCY",
}

_ROLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def env_prefix(role: str) -> str:
    """``teacher`` → ``ANKA_TEACHER_``."""
    if not _ROLE.match(role or ""):
        raise ValueError(f"role must be an identifier (letters, digits, _), got {role!r}")
    return f"ANKA_{role.upper()}_"


def default_locality(backend: str) -> str:
    """Fail closed: anything reached over the network is commercial unless declared local.

    The simulator runs on 127.0.0.1 and in-process vLLM runs on this machine, so both are local.
    """
    return "local" if backend in ("simulator", "vllm") else "commercial"


def split_base_urls(base_url: str | None) -> tuple[str, ...]:
    """``"http://a:8000/v1, http://b:8000/v1"`` → both URLs (replicas of one model); blank parts dropped."""
    if not base_url:
        return ()
    return tuple(part.strip() for part in base_url.split(",") if part.strip())


def _check_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def url_for_messages(url: str) -> str:
    """``scheme://host:port/path`` of a URL, without credentials or query: safe to show in an error."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "invalid-url"
    return endpoint_label("openai", url) + (parts.path or "").rstrip("/")


def endpoint_label(backend: str, base_url: str | None) -> str:
    """What the audit calls the endpoint: ``scheme://host:port`` with userinfo, path and query stripped.

    The simulator is ``simulator`` and in-process vLLM is ``vllm-in-process``. Several replicas (a comma
    separated ``base_url``) are labelled together, so the audit does not depend on which one answered.
    """
    if backend == "simulator":
        return "simulator"
    if backend == "vllm":
        return "vllm-in-process"
    if not base_url:
        return backend
    urls = split_base_urls(base_url)
    if len(urls) > 1:
        return ",".join(endpoint_label(backend, u) for u in urls)
    try:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "invalid-url"
    scheme = parts.scheme or "http"
    if port is None:
        port = 443 if scheme == "https" else 80
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def url_secrets(base_url: str | None) -> tuple[str, ...]:
    """Credentials embedded in a URL (``http://user:pass@host``): scrubbed from errors like the API key."""
    out = []
    for url in split_base_urls(base_url):
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        out += [s for s in (parts.password,) if s]
    return tuple(out)


def _allowed(name: str, value: str, allowed: tuple[str, ...]) -> str:
    v = value.strip().lower()
    if v not in allowed:
        raise ValueError(f"{name}={value!r} is not valid; allowed values: {', '.join(allowed)}")
    return v


@dataclass(frozen=True)
class EndpointSettings:
    """How to reach one model endpoint. Build it with :meth:`from_env` or directly.

    ``locality`` left as ``None`` resolves from the backend: ``commercial`` for ``openai`` (fail closed),
    ``local`` for the simulator and in-process vLLM. Neither ``api_key`` nor ``base_url`` (which may carry
    ``user:password@``) is shown by ``repr``; :attr:`endpoint` names the endpoint safely.
    """

    role: str
    backend: str
    model: str
    base_url: str | None = field(default=None, repr=False)  # may hold user:password@; `endpoint` is safe
    api_key: str | None = field(default=None, repr=False)
    locality: str | None = None
    max_concurrency: int = 16
    timeout_s: float = 120.0
    max_retries: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    price_input_per_mtok: float = 0.0
    price_output_per_mtok: float = 0.0
    simulator_faults: "FaultConfig | None" = None
    #: adapt the requests in flight (between 1 and max_concurrency per replica) to the server; off: always
    #: max_concurrency (ANKA_<ROLE>_ADAPTIVE_CONCURRENCY=0)
    adaptive_concurrency: bool = True

    def __post_init__(self) -> None:
        env_prefix(self.role)
        backend = _allowed("backend", self.backend, BACKENDS)
        object.__setattr__(self, "backend", backend)
        locality = default_locality(backend) if self.locality in (None, "") else self.locality
        object.__setattr__(self, "locality", _allowed("locality", locality, LOCALITIES))
        if not self.model or not str(self.model).strip():
            raise ValueError("model must be a non-empty model name")
        if self.base_url is not None and self.base_url.strip() == "":
            object.__setattr__(self, "base_url", None)
        if self.base_url is not None:
            for url in split_base_urls(self.base_url) or (self.base_url,):
                if not _check_url(url):
                    raise ValueError(
                        "base_url must be an http(s) URL such as http://127.0.0.1:8000/v1 (several replicas: "
                        f"comma separated), got {endpoint_label('openai', url)!r}"
                    )
        if self.simulator_faults is not None and backend != "simulator":
            raise ValueError("simulator_faults is only meaningful for the simulator backend")
        checks = [
            ("max_concurrency", self.max_concurrency >= 1, ">= 1"),
            ("timeout_s", self.timeout_s > 0, "> 0"),
            ("max_retries", self.max_retries >= 0, ">= 0"),
            ("backoff_base_s", self.backoff_base_s >= 0, ">= 0"),
            ("backoff_max_s", self.backoff_max_s >= 0, ">= 0"),
            ("price_input_per_mtok", self.price_input_per_mtok >= 0, ">= 0"),
            ("price_output_per_mtok", self.price_output_per_mtok >= 0, ">= 0"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} is not valid; it must be {rule}")

    # -- derived -------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The audit's name for this endpoint (no credentials, no path, no query)."""
        return endpoint_label(self.backend, self.base_url)

    @property
    def base_urls(self) -> tuple[str, ...]:
        """The replicas' base URLs (one unless ``base_url`` lists several, comma separated)."""
        return split_base_urls(self.base_url)

    @property
    def is_simulated(self) -> bool:
        return self.backend == "simulator"

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in an error, a log line or a table."""
        return tuple(s for s in (self.api_key, *url_secrets(self.base_url)) if s)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.price_input_per_mtok + completion_tokens * self.price_output_per_mtok
        ) / 1e6

    def describe(self) -> dict[str, Any]:
        """Settings safe to log or show as metadata (no key, no URL credentials)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("api_key", "base_url")}
        out["endpoint"] = self.endpoint
        out["api_key_set"] = bool(self.api_key)
        out["simulator_faults"] = repr(self.simulator_faults) if self.simulator_faults is not None else None
        return out

    # -- environment ---------------------------------------------------------------------------------

    @classmethod
    def from_env(cls, role: str, environ: Mapping[str, str] | None = None) -> "EndpointSettings":
        """Read ``ANKA_<ROLE>_*``. Nothing set gives the local simulator (model ``anka-simulator``).

        Variables: ``BASE_URL``, ``MODEL``, ``API_KEY``, ``LOCALITY``, ``MAX_CONCURRENCY``, ``TIMEOUT_S``,
        ``MAX_RETRIES``, ``ADAPTIVE_CONCURRENCY``, ``PRICE_INPUT_PER_MTOK``, ``PRICE_OUTPUT_PER_MTOK``, ``BACKEND`` (default
        ``openai`` when ``BASE_URL`` is set, else ``simulator``).
        """
        return cls.resolve(role, environ)

    @classmethod
    def resolve(
        cls, role: str, environ: Mapping[str, str] | None = None, *, api_key: Any = _FROM_ENV, **given: Any
    ) -> "EndpointSettings":
        """Settings from typed values ``given`` (already validated by their owner, e.g. the ``ModelEndpoint``
        resource; ``None`` or ``""``: not given), else the ``ANKA_<ROLE>_*`` variables, else the defaults.

        The variables are the only strings parsed here, and only those of fields not given; ``api_key``
        (when passed, even as None) replaces ``ANKA_<ROLE>_API_KEY``."""
        given = _typed_values(given)
        env = _RoleEnv(env_prefix(role), os.environ if environ is None else environ,
                       frozenset(_ENV_NAMES[k] for k in given))
        base_url = given.get("base_url") or env.base_url()
        backend = given.get("backend") or env.choice("BACKEND", BACKENDS) or ("openai" if base_url else "simulator")
        locality = given.get("locality") or env.choice("LOCALITY", LOCALITIES)
        model = given.get("model") or env.text("MODEL") or _default_model(env.prefix, backend)
        if backend == "openai" and base_url is None:
            base_url = OPENAI_DEFAULT_BASE_URL
        return cls(
            role=role,
            backend=backend,
            model=model,
            base_url=base_url,
            api_key=env.text("API_KEY") if api_key is _FROM_ENV else (api_key or None),
            locality=locality,
            **_numbers(given, env),
            **_adaptive(given, env),
        )


#: (field, variable, type, allowed values in words, rule) of the numeric settings.
_NUMBERS = (
    ("max_concurrency", "MAX_CONCURRENCY", int, "an integer >= 1", lambda v: v >= 1),
    ("timeout_s", "TIMEOUT_S", float, "a number of seconds > 0", lambda v: v > 0),
    ("max_retries", "MAX_RETRIES", int, "an integer >= 0", lambda v: v >= 0),
    ("price_input_per_mtok", "PRICE_INPUT_PER_MTOK", float, "a number >= 0", lambda v: v >= 0),
    ("price_output_per_mtok", "PRICE_OUTPUT_PER_MTOK", float, "a number >= 0", lambda v: v >= 0),
)
_TRUE_WORDS = ("1", "true", "yes", "on")
_FLAG_WORDS = (*_TRUE_WORDS, "0", "false", "no", "off")


def _typed_values(given: Mapping[str, Any]) -> dict[str, Any]:
    """The typed values actually given (``None`` and ``""`` mean "not given"); unknown names are an error."""
    unknown = set(given) - set(_ENV_NAMES)
    if unknown:
        raise TypeError(f"unknown endpoint settings {sorted(unknown)}")
    return {k: v for k, v in given.items() if v is not None and v != ""}


@dataclass(frozen=True)
class _RoleEnv:
    """The ``ANKA_<ROLE>_*`` variables of one role. A variable whose setting was given typed is never read;
    a blank one is unset. Every error names the variable and its allowed values."""

    prefix: str
    env: Mapping[str, str]
    skipped: frozenset[str]

    def text(self, name: str) -> str | None:
        if name in self.skipped:
            return None
        value = self.env.get(self.prefix + name)
        return None if value is None or value.strip() == "" else value.strip()

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        raw = self.text(name)
        return None if raw is None else _allowed(self.prefix + name, raw, allowed)

    def number(self, name: str, kind: type, rule: str, ok: Callable[[Any], bool]) -> Any:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or value != value or value == float("inf") or not ok(value):  # NaN and inf refused
            raise ValueError(f"{self.prefix}{name}={raw!r} is not valid; allowed values: {rule}") from None
        return value

    def flag(self, name: str) -> bool | None:
        raw = self.text(name)
        if raw is None:
            return None
        if raw.lower() not in _FLAG_WORDS:
            raise ValueError(f"{self.prefix}{name}={raw!r} is not valid; allowed values: 1 or 0")
        return raw.lower() in _TRUE_WORDS

    def base_url(self) -> str | None:
        """``BASE_URL``: one http(s) URL or several replicas, comma separated (never echoed: it may hold a password)."""
        raw = self.text("BASE_URL")
        if raw is not None and not all(_check_url(u) for u in split_base_urls(raw) or (raw,)):
            raise ValueError(
                f"{self.prefix}BASE_URL is not valid; allowed values: an http(s) URL such as "
                "http://127.0.0.1:8000/v1, or several replicas of the same model, comma separated"
            )
        return raw


def _default_model(prefix: str, backend: str) -> str:
    if backend != "simulator":
        raise ValueError(f"{prefix}MODEL must be set for backend {backend!r} (a model name)")
    return SIMULATOR_MODEL


def _numbers(given: Mapping[str, Any], env: _RoleEnv) -> dict[str, Any]:
    """The numeric settings given or set (unset ones keep the dataclass defaults)."""
    out = {}
    for key, name, kind, rule, ok in _NUMBERS:
        value = given[key] if key in given else env.number(name, kind, rule, ok)
        if value is not None:
            out[key] = value
    return out


def _adaptive(given: Mapping[str, Any], env: _RoleEnv) -> dict[str, bool]:
    if "adaptive_concurrency" in given:
        return {"adaptive_concurrency": bool(given["adaptive_concurrency"])}
    value = env.flag("ADAPTIVE_CONCURRENCY")
    return {} if value is None else {"adaptive_concurrency": value}
