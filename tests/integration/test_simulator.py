"""The built-in OpenAI-compatible simulator: formats, determinism, faults, concurrency, CLI."""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from anka_testkit.simulator import (
    FAKE_PII_PHONE,
    FAKE_PII_TCKN,
    OUTCOMES,
    SIMULATOR_MARKER,
    FaultConfig,
    Latency,
    SimulatorServer,
    count_tokens,
)

from anka_assets import parsing
from anka_assets.judge_criteria import VERDICT_FIELDS

REPO_ROOT = Path(__file__).resolve().parents[2]

QUESTION = "Türk Medeni Kanunu'na göre mirasçılık sıralamasını açıklayınız."

# The response formats the refinery really sends (the contract lives beside the parsers).
COT_FORMAT = parsing.COT_RESPONSE_FORMAT
JUDGE_FORMAT = parsing.JUDGE_RESPONSE_FORMAT
TASK_FORMAT = parsing.TASK_LIST_RESPONSE_FORMAT

SEED_PROMPT = (
    "Aşağıdaki örnek görevlere benzer {n} yeni görev üret. Görevler Türkçe ve birbirinden farklı olsun.\n"
    "Örnek görevler:\n"
    "- Türk Medeni Kanunu'na göre mirasçılık sıralamasını açıklayınız.\n"
    "- Enflasyon ile faiz oranları arasındaki ilişkiyi analiz ediniz.\n"
    "- Kira sözleşmesinin feshi için kiracının hangi şartları yerine getirmesi gerekir?\n"
    "- Bir şirketin yıllık net kârı 1.250.000 TL ise kurumlar vergisi tutarını hesaplayınız.\n"
)


def chat_body(content: str = QUESTION, **extra) -> dict:
    body = {
        "model": "anka-sim-teacher",
        "messages": [
            {"role": "system", "content": "Sen Türkçe yanıt veren bir uzmansın."},
            {"role": "user", "content": content},
        ],
        "temperature": 0.7,
    }
    body.update(extra)
    return body


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def sim():
    with SimulatorServer(port=0) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(request):
    if "sim" in request.fixturenames:
        server = request.getfixturevalue("sim")
        server.set_faults(FaultConfig())
        server.reset()
    yield


@pytest.fixture
def http(sim):
    with httpx.Client(base_url=sim.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def oai(sim):
    client = openai.OpenAI(base_url=sim.base_url, api_key="sim-key", max_retries=0, timeout=10)
    yield client
    client.close()


def post(http: httpx.Client, body: dict) -> httpx.Response:
    return http.post("/chat/completions", json=body)


def content_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


# ---------------------------------------------------------------------------------------------- basics


def test_models_endpoint(sim, http, oai):
    data = http.get("/models").json()
    assert data["object"] == "list"
    ids = [m["id"] for m in data["data"]]
    assert "anka-sim-teacher" in ids
    assert all(m["object"] == "model" for m in data["data"])
    assert "anka-sim-judge" in [m.id for m in oai.models.list()]


def test_completion_shape_and_marking(http):
    body = chat_body()
    response = post(http, body)
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["id"] and isinstance(data["created"], int)
    assert data["model"] == "anka-simulator:anka-sim-teacher"
    assert data["system_fingerprint"] == "anka-simulator"
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"].endswith(SIMULATOR_MARKER)
    usage = data["usage"]
    prompt_words = sum(len(m["content"].split()) for m in body["messages"])
    assert usage["prompt_tokens"] == math.ceil(prompt_words * 1.4)
    assert usage["completion_tokens"] == count_tokens(choice["message"]["content"])
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_cot_answer_with_openai_client(oai):
    completion = oai.chat.completions.create(
        model="anka-sim-teacher",
        messages=[{"role": "user", "content": QUESTION}],
        response_format=COT_FORMAT,
    )
    assert completion.model == "anka-simulator:anka-sim-teacher"
    assert completion.choices[0].finish_reason == "stop"
    parsed = json.loads(completion.choices[0].message.content)
    assert set(parsed) == {"adimlar", "cevap"}
    steps = parsed["adimlar"]
    assert 3 <= len(steps) <= 6
    for i, step in enumerate(steps, start=1):
        assert step.startswith(f"{i}. ")
    assert "mirasçılık" in " ".join(steps)  # the steps refer to the question
    assert parsed["cevap"].endswith(SIMULATOR_MARKER)
    assert completion.usage.completion_tokens > 0


def test_judge_verdict_ranges(http):
    answer = (
        "Soru: Cumhuriyet ne zaman ilan edildi?\n"
        "Cevap: Türkiye Cumhuriyeti 29 Ekim 1923 tarihinde ilan edildi. Ankara aynı yıl başkent oldu ve "
        "ilk cumhurbaşkanı Mustafa Kemal Atatürk seçildi.\n"
    )
    bodies = [chat_body(answer, model="anka-sim-judge", seed=i, response_format=JUDGE_FORMAT) for i in range(40)]
    verdicts = [json.loads(content_of(post(http, body))) for body in bodies]
    for verdict in verdicts:
        assert list(verdict) == list(VERDICT_FIELDS)  # every criterion of the registry, in its order
        assert isinstance(verdict["dogruluk"], int) and 1 <= verdict["dogruluk"] <= 5
        assert isinstance(verdict["kulturel_uygunluk"], int) and 1 <= verdict["kulturel_uygunluk"] <= 5
        assert isinstance(verdict["halusinasyon"], bool)
        assert isinstance(verdict["gerekce"], str) and verdict["gerekce"]
        if verdict["halusinasyon"]:
            assert verdict["halusinasyon_iddiasi"] in answer  # quoted from the answer under review
        else:
            assert verdict["halusinasyon_iddiasi"] is None
    high = sum(v["dogruluk"] >= 4 for v in verdicts)
    assert high >= 20  # skewed high (about 75 %)


def test_task_list_returns_n_distinct_tasks(http, oai):
    tasks = json.loads(content_of(post(http, chat_body(SEED_PROMPT.format(n=7), response_format=TASK_FORMAT))))[
        "gorevler"
    ]
    assert len(tasks) == 7
    assert len(set(tasks)) == 7
    assert all(isinstance(t, str) and len(t.split()) >= 4 for t in tasks)
    assert any(re.search(r"mirasçılık|faiz oranları|kira sözleşmesi|kurumlar vergisi", t, re.I) for t in tasks)

    reseeded = json.loads(
        content_of(post(http, chat_body(SEED_PROMPT.format(n=7), seed=42, response_format=TASK_FORMAT)))
    )["gorevler"]
    assert reseeded != tasks

    completion = oai.chat.completions.create(
        model="anka-sim-teacher",
        messages=[
            {
                "role": "user",
                "content": "Bu örneklere benzer görevler yaz:\n- Osmanlı'da Tanzimat Fermanı'nın etkilerini açıklayınız.",
            }
        ],
        response_format=TASK_FORMAT,
    )
    default = json.loads(completion.choices[0].message.content)["gorevler"]
    assert len(default) == 5 and len(set(default)) == 5


def test_tagged_format(http):
    prompt = "Önce adımları <adimlar> etiketinde numaralı yaz, sonra nihai cevabı <cevap> etiketinde ver.\n\n"
    prompt += QUESTION
    content = content_of(post(http, chat_body(prompt)))
    match = re.fullmatch(r"<adimlar>\n((?:\d+\. .+\n)+)</adimlar>\n<cevap>\n(.+)\n</cevap>", content, re.S)
    assert match, content
    steps = match.group(1).strip().splitlines()
    assert 3 <= len(steps) <= 6
    assert match.group(2).endswith(SIMULATOR_MARKER)


def test_generic_json_schema_and_json_object(http):
    schema = {
        "type": "object",
        "properties": {
            "baslik": {"type": "string", "maxLength": 40},
            "puan": {"type": "integer", "minimum": 1, "maximum": 3},
            "oran": {"type": "number"},
            "tur": {"enum": ["a", "b"]},
            "etiketler": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            "alt": {"$ref": "#/$defs/Alt"},
            "bos": {"type": "null"},
        },
        "required": ["baslik", "puan"],
        "$defs": {"Alt": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}},
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "ozel", "schema": schema}}
    value = json.loads(content_of(post(http, chat_body(response_format=fmt))))
    assert isinstance(value["baslik"], str) and len(value["baslik"]) <= 40
    assert value["puan"] in (1, 2, 3)
    assert isinstance(value["oran"], float)
    assert value["tur"] in ("a", "b")
    assert len(value["etiketler"]) == 2 and all(isinstance(t, str) for t in value["etiketler"])
    assert isinstance(value["alt"]["ok"], bool)
    assert value["bos"] is None

    judged = json.loads(
        content_of(post(http, chat_body("Yanıtı doğruluk ve halüsinasyon açısından puanla, JSON döndür.")))
    )
    assert 1 <= judged["dogruluk"] <= 5
    as_object = json.loads(content_of(post(http, chat_body(response_format={"type": "json_object"}))))
    assert isinstance(as_object, dict)


def test_deterministic_content(http):
    body = chat_body(response_format=COT_FORMAT, seed=7)
    first = content_of(post(http, body))
    second = content_of(post(http, json.loads(json.dumps(body))))
    assert first == second
    other = content_of(post(http, chat_body(response_format=COT_FORMAT, seed=8)))
    assert other != first


def test_max_tokens_cuts_with_finish_reason_length(http):
    data = post(http, chat_body(response_format=COT_FORMAT, max_tokens=20)).json()
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] <= 20


def test_stream_is_refused(http, sim):
    response = post(http, chat_body(stream=True))
    assert response.status_code == 400
    assert "stream" in response.json()["error"]["message"]
    assert sim.stats()["400"] == 1


# ---------------------------------------------------------------------------------------------- faults


def test_429_with_retry_after(sim, http, oai):
    sim.set_faults(FaultConfig(rate_429=1.0, retry_after=3))
    response = post(http, chat_body())
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json()["error"]["type"] == "rate_limit_error"
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "Merhaba"}])
    assert sim.stats()["429"] == 2


def test_500(sim, http, oai):
    sim.set_faults(FaultConfig(rate_500=1.0))
    response = post(http, chat_body())
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"
    with pytest.raises(openai.InternalServerError):
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "Merhaba"}])


def test_truncated_sets_finish_reason_length(sim, http):
    full = content_of(post(http, chat_body(response_format=COT_FORMAT)))
    sim.set_faults(FaultConfig(rate_truncated=1.0))
    data = post(http, chat_body(response_format=COT_FORMAT)).json()
    assert data["choices"][0]["finish_reason"] == "length"
    cut = data["choices"][0]["message"]["content"]
    assert full.startswith(cut) and len(cut) < len(full)


def test_malformed_is_not_valid_json(sim, http):
    sim.set_faults(FaultConfig(rate_malformed=1.0))
    for fmt in (COT_FORMAT, JUDGE_FORMAT, None):
        content = content_of(post(http, chat_body(response_format=fmt)))
        with pytest.raises(json.JSONDecodeError):
            json.loads(content)
    assert sim.stats()["malformed"] == 3


def test_pii_echo(sim, http):
    sim.set_faults(FaultConfig(rate_pii_echo=1.0))
    prompt = "Müşteri ayse.yilmaz@example.com adresinden yazdı, telefonu 0555 444 33 22. " + QUESTION
    parsed = json.loads(content_of(post(http, chat_body(prompt, response_format=COT_FORMAT))))
    assert "ayse.yilmaz@example.com" in parsed["cevap"]
    assert "0555 444 33 22" in parsed["cevap"]

    plain = content_of(post(http, chat_body("Vergi türlerini kısaca açıklayınız.")))
    assert FAKE_PII_TCKN in plain and FAKE_PII_PHONE in plain
    assert sim.stats()["pii_echo"] == 2


def test_fake_tckn_is_checksum_valid():
    digits = [int(c) for c in FAKE_PII_TCKN]
    assert digits[9] == ((sum(digits[0:9:2]) * 7) - sum(digits[1:8:2])) % 10
    assert digits[10] == sum(digits[:10]) % 10


def test_hang_times_out_client_and_stop_is_prompt():
    server = SimulatorServer(faults=FaultConfig(rate_hang=1.0, hang_seconds=30), port=0).start()
    errors: list[BaseException] = []

    def hanging_call() -> None:
        try:
            httpx.post(server.base_url + "/chat/completions", json=chat_body(), timeout=0.3)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    caller = threading.Thread(target=hanging_call)
    caller.start()
    caller.join(5)
    assert errors and isinstance(errors[0], httpx.ReadTimeout)
    # a second hanging request is still in flight while the server stops
    background = threading.Thread(
        target=lambda: httpx.post(server.base_url + "/chat/completions", json=chat_body(), timeout=30)
    )
    background.start()
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 15  # waiting for the hanging request would take 30 s
    background.join(5)
    assert not background.is_alive()
    assert not server.running
    assert server.stats()["hang"] == 2


def test_fault_draws_are_seeded_and_retries_can_succeed(sim, http):
    sim.set_faults(FaultConfig(rate_429=0.5, seed=123))
    first = [post(http, chat_body()).status_code for _ in range(20)]
    sim.reset()
    second = [post(http, chat_body()).status_code for _ in range(20)]
    assert first == second
    assert 200 in first and 429 in first  # the same body is answered differently: a retry can succeed


def test_stats_and_received_count_exactly(sim, http):
    sim.set_faults(FaultConfig(rate_429=0.2, rate_500=0.2, rate_truncated=0.2, seed=5))
    bodies = [chat_body(f"Soru {i}: vergi türleri nelerdir?") for i in range(30)]
    codes = [post(http, body).status_code for body in bodies]
    post(http, chat_body(stream=True))
    stats = sim.stats()
    assert stats["total"] == 31
    assert sum(stats[k] for k in OUTCOMES) == 31
    assert stats["429"] == codes.count(429)
    assert stats["500"] == codes.count(500)
    assert stats["ok"] + stats["truncated"] == codes.count(200)
    assert stats["400"] == 1
    received = sim.received()
    assert received[:30] == bodies and received[30]["stream"] is True
    assert httpx.get(f"{sim.url}/_sim/stats").json() == stats
    assert httpx.get(f"http://127.0.0.1:{sim.port}/_sim/requests").json()["count"] == 31
    assert httpx.post(f"http://127.0.0.1:{sim.port}/_sim/reset").json() == {"status": "ok"}
    assert sim.stats()["total"] == 0 and sim.received() == []


def test_concurrency_100_parallel(sim):
    sim.set_faults(FaultConfig(latency=Latency.fixed(0.2)))

    async def fire() -> list[int]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=sim.base_url, limits=limits, timeout=10) as client:
            responses = await asyncio.gather(
                *(client.post("/chat/completions", json=chat_body(f"Soru {i}")) for i in range(100))
            )
        return [r.status_code for r in responses]

    started = time.monotonic()
    codes = asyncio.run(fire())
    elapsed = time.monotonic() - started
    assert codes == [200] * 100
    assert elapsed < 10, elapsed  # one after the other: 20 s; in parallel about 1 s (slack for a loaded machine)
    assert sim.stats()["ok"] == 100


# ---------------------------------------------------------------------------------------------- config, CLI


def test_fault_config_parsing():
    assert FaultConfig(latency="fixed:0.2").latency == Latency("fixed", 0.2, 0.2)
    assert FaultConfig(latency=("uniform", 0.5, 3.5)).latency == Latency("uniform", 0.5, 3.5)
    assert Latency.parse("uniform:0.5,3.5") == Latency.uniform(0.5, 3.5)
    assert FaultConfig().latency.kind == "none"
    with pytest.raises(ValueError):
        FaultConfig(rate_429=0.7, rate_500=0.6)
    with pytest.raises(ValueError):
        Latency.parse("gaussian:1")


def test_cli_starts_and_answers():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "anka_testkit.simulator", "--port", str(port), "--latency", "fixed:0.01"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(base + "/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "simulator CLI did not start"
            time.sleep(0.1)
        response = httpx.post(base + "/chat/completions", json=chat_body(response_format=COT_FORMAT), timeout=5)
        assert response.status_code == 200
        assert json.loads(response.json()["choices"][0]["message"]["content"])["adimlar"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode is not None


def test_outputs_match_the_project_parsers(sim, http):
    tagged_prompt = "Yanıtı <adimlar> ... </adimlar> ve <cevap> ... </cevap> etiketleriyle ver.\n" + QUESTION
    cases = [
        (chat_body(response_format=parsing.COT_RESPONSE_FORMAT), parsing.parse_cot),
        (chat_body(tagged_prompt), parsing.parse_cot),
        (chat_body("Cevap: Ankara 1923'te başkent oldu.", response_format=parsing.JUDGE_RESPONSE_FORMAT),
         parsing.parse_judge),
        (chat_body(SEED_PROMPT.format(n=4), response_format=parsing.TASK_LIST_RESPONSE_FORMAT),
         parsing.parse_task_list),
    ]
    for body, parser in cases:
        parser(content_of(post(http, body)))
    assert len(parsing.parse_task_list(content_of(post(http, cases[3][0])))) == 4
    cot = parsing.parse_cot(content_of(post(http, cases[0][0])))
    assert cot.answer.endswith(SIMULATOR_MARKER) and 3 <= len(cot.steps) <= 6
    for faults in (FaultConfig(rate_malformed=1.0), FaultConfig(rate_truncated=1.0)):
        sim.set_faults(faults)
        for body, parser in (cases[0], cases[2], cases[3]):  # the JSON formats
            with pytest.raises(parsing.ParseError):
                parser(content_of(post(http, body)))
