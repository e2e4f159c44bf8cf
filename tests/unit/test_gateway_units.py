"""Pure parts of the model gateway: settings from the environment, the KVKK decision, keys, retry policy,
the vLLM parameter mapping, and the Dagster resource's settings resolution."""

from __future__ import annotations

import random
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from anka_assets.gateway import (
    BackendUnavailable,
    EndpointSettings,
    KvkkDecision,
    ModelEndpoint,
    ModelGateway,
    ModelRequest,
    decide_kvkk,
)
from anka_assets.gateway.backends import vllm_sampling_kwargs
from anka_assets.gateway.endpoint import endpoint_label
from anka_assets.gateway.keys import cache_key, payload_sha256, request_body
from anka_assets.gateway.retry import backoff_delay, is_retryable_status, parse_retry_after
from anka_assets.gateway.types import normalise_sensitivity, percentile, scrub

TCKN = "10000000146"  # checksum-valid, belongs to nobody (the simulator's fake)
IBAN = "TR33 0006 1005 1978 6457 8413 26"
SECRET = "sk-test-SECRET-1234"


def msgs(text: str, system: str | None = None) -> list[dict[str, str]]:
    out = [{"role": "system", "content": system}] if system else []
    return out + [{"role": "user", "content": text}]


# -- from_env ------------------------------------------------------------------------------------------


def test_from_env_nothing_set_is_the_local_simulator():
    s = EndpointSettings.from_env("teacher", {})
    assert (s.backend, s.model, s.locality, s.base_url) == ("simulator", "anka-simulator", "local", None)
    assert s.is_simulated and s.endpoint == "simulator"
    assert (s.max_concurrency, s.timeout_s, s.max_retries) == (16, 120.0, 5)


def test_from_env_base_url_means_openai_and_commercial_by_default():
    env = {
        "ANKA_JUDGE_BASE_URL": "https://user:pw@api.example.com/v1?x=1",
        "ANKA_JUDGE_MODEL": "judge-7b",
        "ANKA_JUDGE_API_KEY": SECRET,
        "ANKA_JUDGE_MAX_CONCURRENCY": "32",
        "ANKA_JUDGE_TIMEOUT_S": "7.5",
        "ANKA_JUDGE_MAX_RETRIES": "0",
        "ANKA_JUDGE_PRICE_INPUT_PER_MTOK": "0.5",
        "ANKA_JUDGE_PRICE_OUTPUT_PER_MTOK": "1.5",
    }
    s = EndpointSettings.from_env("judge", env)
    assert (s.role, s.backend, s.model, s.locality) == ("judge", "openai", "judge-7b", "commercial")
    assert (s.max_concurrency, s.timeout_s, s.max_retries) == (32, 7.5, 0)
    assert s.api_key == SECRET
    assert s.endpoint == "https://api.example.com:443"  # no userinfo, path or query
    assert s.cost(1_000_000, 2_000_000) == pytest.approx(0.5 + 3.0)
    assert SECRET not in repr(s) and "pw" not in str(s.describe())
    assert "pw" in s.secrets() and SECRET in s.secrets()


def test_from_env_explicit_backend_and_locality():
    env = {"ANKA_TEACHER_BASE_URL": "http://10.0.0.5:8000/v1", "ANKA_TEACHER_MODEL": "qwen", "ANKA_TEACHER_LOCALITY": "LOCAL"}
    s = EndpointSettings.from_env("teacher", env)
    assert (s.backend, s.locality, s.endpoint) == ("openai", "local", "http://10.0.0.5:8000")
    s = EndpointSettings.from_env("teacher", {"ANKA_TEACHER_BACKEND": "openai", "ANKA_TEACHER_MODEL": "gpt-x"})
    assert s.base_url == "https://api.openai.com/v1" and s.locality == "commercial"


@pytest.mark.parametrize(
    "name, value, fragment",
    [
        ("LOCALITY", "abroad", "local, commercial"),
        ("MAX_CONCURRENCY", "many", "integer >= 1"),
        ("MAX_CONCURRENCY", "0", "integer >= 1"),
        ("TIMEOUT_S", "-1", "> 0"),
        ("MAX_RETRIES", "2.5", "integer >= 0"),
        ("PRICE_INPUT_PER_MTOK", "cheap", ">= 0"),
        ("BACKEND", "ollama", "openai, vllm, simulator"),
        ("BASE_URL", "ftp://x", "http(s) URL"),
    ],
)
def test_from_env_bad_value_names_the_variable_and_the_allowed_values(name, value, fragment):
    env = {f"ANKA_TEACHER_{name}": value, "ANKA_TEACHER_API_KEY": SECRET}
    with pytest.raises(ValueError) as err:
        EndpointSettings.from_env("teacher", env)
    message = str(err.value)
    assert f"ANKA_TEACHER_{name}" in message and fragment in message
    assert SECRET not in message


def test_openai_backend_needs_a_model_name():
    with pytest.raises(ValueError, match="ANKA_TEACHER_MODEL"):
        EndpointSettings.from_env("teacher", {"ANKA_TEACHER_BASE_URL": "http://127.0.0.1:1/v1"})


def test_direct_construction_validates_and_defaults_locality_by_backend():
    assert EndpointSettings(role="teacher", backend="openai", model="m", base_url="http://h:1/v1").locality == "commercial"
    assert EndpointSettings(role="teacher", backend="simulator", model="m").locality == "local"
    with pytest.raises(ValueError, match="locality"):
        EndpointSettings(role="teacher", backend="openai", model="m", locality="abroad")
    with pytest.raises(ValueError, match="max_concurrency"):
        EndpointSettings(role="teacher", backend="simulator", model="m", max_concurrency=0)
    s = EndpointSettings(role="teacher", backend="openai", model="m", base_url="http://h:1/v1", api_key=SECRET)
    assert SECRET not in repr(s)


# -- KVKK -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "locality, sensitivity, messages, allowed, reason_part, kinds",
    [
        ("local", "confidential", msgs(f"TCKN {TCKN}"), True, "local", ()),
        ("local", None, msgs("x"), True, "local", ()),
        ("commercial", "public", msgs("Osmanlı'da tımar sistemi nedir?"), True, "public", ()),
        ("commercial", "PUBLIC ", msgs("Tımar sistemi nedir?"), True, "public", ()),
        ("commercial", "internal", msgs("İç yönetmelik"), False, "sensitivity=internal is local-only (KVKK m. 9", ()),
        ("commercial", "confidential", msgs("Gizli"), False, "sensitivity=confidential is local-only", ()),
        ("commercial", None, msgs("Etiketsiz"), False, "sensitivity=confidential", ()),
        ("commercial", "secret", msgs("Bilinmeyen etiket"), False, "sensitivity=confidential", ()),
        ("commercial", "public", msgs(f"Müşteri TCKN {TCKN} için"), False, "personal data in prompt: TCKN", ("TCKN",)),
        (
            "commercial",
            "public",
            msgs("Hesap özeti", system=f"IBAN: {IBAN}, kimlik {TCKN}"),
            False,
            "personal data in prompt: IBAN, TCKN",
            ("IBAN", "TCKN"),
        ),
        (
            "commercial",
            "public",
            [{"role": "user", "content": [{"type": "text", "text": "yaz: ali.veli@example.com"}]}],
            False,
            "EPOSTA",
            ("EPOSTA",),
        ),
        ("abroad", "public", msgs("Tımar nedir?"), True, "unknown and treated as commercial", ()),
        ("abroad", "public", msgs(f"TCKN {TCKN}"), False, "treated as commercial", ("TCKN",)),
        ("", "internal", msgs("x"), False, "sensitivity=internal", ()),
    ],
)
def test_decide_kvkk(locality, sensitivity, messages, allowed, reason_part, kinds):
    decision = decide_kvkk(locality, sensitivity, messages)
    assert isinstance(decision, KvkkDecision)
    assert decision.allowed is allowed
    assert reason_part in decision.reason
    assert decision.pii_kinds == kinds


def test_pii_overrides_the_label_and_both_reasons_are_given():
    d = decide_kvkk("commercial", "confidential", msgs(f"TCKN {TCKN}"))
    assert not d.allowed and "sensitivity=confidential" in d.reason and "TCKN" in d.reason


def test_sensitivity_normalisation():
    assert [normalise_sensitivity(s) for s in (None, "", "Public", " internal ", "gizli")] == [
        "confidential", "confidential", "public", "internal", "confidential",
    ]


# -- requests and keys ----------------------------------------------------------------------------------


def test_request_normalises_messages_and_refuses_bad_input():
    r = ModelRequest(messages=[{"role": "user", "content": "a"}], params={"temperature": 0}, template_version="v1")
    assert isinstance(r.messages, tuple) and r.messages[0] == {"role": "user", "content": "a"}
    assert r.normalised_sensitivity == "confidential"
    with pytest.raises(ValueError):
        ModelRequest(messages=[], params={}, template_version="v1")
    with pytest.raises(ValueError, match="'n'"):
        ModelRequest(messages=msgs("a"), params={"n": 3}, template_version="v1")
    with pytest.raises(ValueError, match="JSON"):
        ModelRequest(messages=msgs("a"), params={"x": object()}, template_version="v1")


def test_cache_key_covers_what_changes_the_answer_and_nothing_else():
    base = dict(messages=msgs("Soru"), params={"temperature": 0.7, "max_tokens": 10}, template_version="v1")
    k = cache_key("m", ModelRequest(**base))
    assert len(k) == 64
    assert k == cache_key("m", ModelRequest(**{**base, "params": {"max_tokens": 10, "temperature": 0.7}}))
    assert k == cache_key("m", ModelRequest(**base, seed_id="other", sensitivity="public"))
    variants = [
        cache_key("m2", ModelRequest(**base)),
        cache_key("m", ModelRequest(**{**base, "messages": msgs("Soru?")})),
        cache_key("m", ModelRequest(**{**base, "params": {"temperature": 0.8, "max_tokens": 10}})),
        cache_key("m", ModelRequest(**{**base, "template_version": "v2"})),
        cache_key("m", ModelRequest(**base, sample_index=1)),
        cache_key("m", ModelRequest(**base, repair_attempt=1)),
    ]
    assert len({k, *variants}) == 7
    r = ModelRequest(**base)
    assert request_body("m", r) == {"model": "m", "messages": list(r.messages), "temperature": 0.7, "max_tokens": 10}
    assert payload_sha256("m", r) != k and len(payload_sha256("m", r)) == 64


@pytest.mark.parametrize(
    "backend, url, label",
    [
        ("openai", "https://user:pw@api.example.com/v1?key=abc", "https://api.example.com:443"),
        ("openai", "http://127.0.0.1:8000/v1", "http://127.0.0.1:8000"),
        ("openai", "http://[::1]:9000/v1", "http://[::1]:9000"),
        ("simulator", "http://127.0.0.1:5555/v1", "simulator"),
        ("simulator", None, "simulator"),
        ("vllm", None, "vllm-in-process"),
    ],
)
def test_endpoint_label(backend, url, label):
    assert endpoint_label(backend, url) == label


# -- retry policy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status, retry", [(429, True), (408, True), (409, True), (500, True), (503, True),
                                           (400, False), (401, False), (403, False), (404, False), (422, False)])
def test_retryable_statuses(status, retry):
    assert is_retryable_status(status) is retry


def test_parse_retry_after_seconds_and_http_date():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = datetime(2026, 11, 1, 12, 0, 0, tzinfo=timezone.utc)
    header = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == pytest.approx(7.0)
    assert parse_retry_after(format_datetime(now - timedelta(seconds=5), usegmt=True), now=now.timestamp()) == 0.0


def test_backoff_full_jitter_and_retry_after_cap():
    rng = random.Random(1)
    delays = [backoff_delay(a, base_s=0.5, max_s=4.0, rng=rng) for a in range(1, 9) for _ in range(50)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert max(backoff_delay(1, base_s=0.5, max_s=30, rng=rng) for _ in range(100)) <= 0.5
    assert backoff_delay(1, base_s=0.1, max_s=30, retry_after_s=3.0, rng=rng) >= 3.0
    assert backoff_delay(1, base_s=0.1, max_s=2.0, retry_after_s=100.0, rng=rng) == 2.0


def test_scrub_and_percentile():
    assert scrub(f"bad key {SECRET}!", [SECRET, None]) == "bad key ***!"
    assert percentile([], 50) == 0.0 and percentile([1, 2, 3, 4], 50) == 2.5 and percentile([5], 95) == 5


# -- vLLM -----------------------------------------------------------------------------------------------


def test_vllm_backend_is_unavailable_here_with_an_install_hint():
    settings = EndpointSettings(role="teacher", backend="vllm", model="Qwen/Qwen2.5-7B-Instruct")
    assert settings.locality == "local"
    with pytest.raises(BackendUnavailable) as err:
        ModelGateway(settings, "/nonexistent/never-opened.duckdb")
    message = str(err.value)
    assert "pip install 'anka-refinery[gpu]'" in message and "ANKA_TEACHER_BASE_URL" in message


def test_vllm_sampling_kwargs_mapping():
    schema = {"type": "object", "properties": {"cevap": {"type": "string"}}}
    kwargs, structured, ignored = vllm_sampling_kwargs(
        {
            "temperature": 0.7, "top_p": 0.9, "max_tokens": 256, "seed": 3, "stop": "</cevap>", "top_k": 20,
            "response_format": {"type": "json_schema", "json_schema": {"name": "cot_answer", "schema": schema, "strict": True}},
            "logit_bias": {},
        }
    )
    assert kwargs == {"n": 1, "temperature": 0.7, "top_p": 0.9, "max_tokens": 256, "seed": 3, "stop": ["</cevap>"], "top_k": 20}
    assert structured == ("json", schema) and ignored == ["logit_bias"]
    assert vllm_sampling_kwargs({"response_format": {"type": "json_object"}})[1] == ("json_object", True)


# -- Dagster resource -----------------------------------------------------------------------------------


def test_model_endpoint_resource_resolves_env_at_execution_time(monkeypatch):
    for k in ("BASE_URL", "MODEL", "API_KEY", "LOCALITY", "BACKEND", "MAX_CONCURRENCY"):
        monkeypatch.delenv(f"ANKA_JUDGE_{k}", raising=False)
    blank = ModelEndpoint(role="judge")
    s = blank.settings()
    assert (s.backend, s.model, s.locality) == ("simulator", "anka-simulator", "local")

    monkeypatch.setenv("ANKA_JUDGE_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("ANKA_JUDGE_MODEL", "judge-7b")
    monkeypatch.setenv("ANKA_JUDGE_API_KEY", SECRET)
    monkeypatch.setenv("MY_KEY", "sk-other-5678")
    s = blank.settings()
    assert (s.backend, s.model, s.locality, s.api_key) == ("openai", "judge-7b", "commercial", SECRET)

    res = ModelEndpoint.from_env("judge")
    assert res.api_key_env == "ANKA_JUDGE_API_KEY" and res.model == "judge-7b"
    assert SECRET not in repr(res) and SECRET not in str(res.model_dump())
    override = ModelEndpoint(role="judge", locality="local", max_concurrency=4, api_key_env="MY_KEY")
    s = override.settings()
    assert (s.locality, s.max_concurrency, s.api_key) == ("local", 4, "sk-other-5678")
    with pytest.raises(ValueError, match="ModelEndpoint.locality"):
        ModelEndpoint(role="judge", locality="abroad").settings()
    fields = ModelEndpoint.model_fields
    assert "api_key" not in fields and all(f.description for f in fields.values())
    assert isinstance(override.open_gateway("/tmp/unused.duckdb"), ModelGateway)


def test_model_endpoint_fields_are_typed_and_validated_once(monkeypatch):
    from pydantic import ValidationError

    from anka_assets.gateway.resource import Backend, Locality

    endpoint = ModelEndpoint(role="judge", backend="OpenAI", locality="local", base_url="http://127.0.0.1:9/v1",
                             model="m", max_concurrency=3)
    assert endpoint.backend is Backend.openai and endpoint.locality is Locality.local
    for bad in ({"max_concurrency": 0}, {"timeout_s": -1.0}, {"max_retries": -1}, {"backend": "grpc"},
                {"price_input_per_mtok": -0.5}):
        with pytest.raises(ValidationError):
            ModelEndpoint(role="judge", **bad)
    # A typed field wins and its variable is not even parsed; blank fields still come from the environment.
    monkeypatch.setenv("ANKA_JUDGE_MAX_CONCURRENCY", "many")
    monkeypatch.setenv("ANKA_JUDGE_TIMEOUT_S", "7.5")
    s = endpoint.settings()
    assert (s.backend, s.locality, s.max_concurrency, s.timeout_s) == ("openai", "local", 3, 7.5)
    with pytest.raises(ValueError, match="ANKA_JUDGE_MAX_CONCURRENCY='many'"):
        ModelEndpoint(role="judge").settings()


def test_model_endpoint_closes_the_gateways_a_step_opened(monkeypatch, tmp_path):
    import dagster as dg

    closed, opened = [], []
    original = ModelGateway.close

    def close(self):
        closed.append(self)
        original(self)

    monkeypatch.setattr(ModelGateway, "close", close)

    @dg.asset
    def uses_a_model(judge: ModelEndpoint) -> None:
        opened.append(judge.open_gateway(tmp_path / "w.duckdb"))
        assert not closed  # open for the whole step

    for k in ("BASE_URL", "BACKEND", "MODEL"):
        monkeypatch.delenv(f"ANKA_JUDGE_{k}", raising=False)
    assert dg.materialize([uses_a_model], resources={"judge": ModelEndpoint(role="judge")}).success
    assert len(opened) == 1 and closed == opened
    with pytest.raises(dg.DagsterInvalidConfigError, match="not in enum type Locality got abroad"):
        dg.materialize([uses_a_model], resources={"judge": ModelEndpoint.configure_at_launch()},
                       run_config={"resources": {"judge": {"config": {"role": "judge", "locality": "abroad"}}}})
    assert len(opened) == 1  # refused by the config schema, before the step ran
