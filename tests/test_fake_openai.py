"""The OpenAI fake answers the real `openai` client as OpenAI does: structured outputs, embeddings, errors, keys."""

from __future__ import annotations

import base64
import json
import math
import struct
import time
from collections.abc import Iterator

import openai
import pytest
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from tests.fakes.openai_api import Error, FakeOpenAI, Reply, embed, tokens

KEY = "sk-test-key"
CHAT = "gpt-4o-mini"
EMBED = "text-embedding-3-small"
SCHEMA = {
    "type": "object",
    "properties": {"owner": {"type": "string"}, "confidence": {"type": "number"}},
    "required": ["owner", "confidence"],
    "additionalProperties": False,
}


class Owner(BaseModel):
    owner: str
    confidence: float


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY) as api:
        yield api


@pytest.fixture
def client(fake: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0, timeout=5)


def ask(client: openai.OpenAI, text: str = "Who owns billing?") -> ChatCompletion:
    """A structured-output call as bot.llm makes it: a strict json_schema response_format."""
    return client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": text}],
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA, "strict": True}},
    )


def content(response: ChatCompletion) -> str:
    text = response.choices[0].message.content
    assert text is not None
    return text


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_structured_output_returns_the_scripted_json(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.replies = ['{"owner": "Ada", "confidence": 0.9}']
    response = ask(client)
    assert response.object == "chat.completion" and response.model == CHAT
    choice = response.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert json.loads(content(response)) == {"owner": "Ada", "confidence": 0.9}
    assert Owner.model_validate_json(content(response)) == Owner(owner="Ada", confidence=0.9)
    (call,) = fake.of("/v1/chat/completions")
    assert call.body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert fake.invalid == []


def test_parse_with_a_pydantic_model(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    # openai 3.x has `chat.completions.parse` (the 1.x home, `beta.chat.completions.parse`, is still there too)
    fake.replies = ['{"owner": "Grace", "confidence": 0.5}']
    completion = client.chat.completions.parse(
        model=CHAT, messages=[{"role": "user", "content": "Who owns search?"}], response_format=Owner
    )
    assert completion.choices[0].message.parsed == Owner(owner="Grace", confidence=0.5)
    sent = fake.of("/v1/chat/completions")[0].body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["name"] == "Owner"


def test_usage_counts_about_four_characters_a_token(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    reply = '{"owner": "Ada", "confidence": 0.9}'
    fake.replies = [reply]
    response = ask(client, "x" * 400)
    usage = response.usage
    assert usage is not None
    assert usage.prompt_tokens == 100 and usage.completion_tokens == tokens(reply) > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_replies_in_order_then_the_default_and_callables_see_the_request(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.replies = ["first", lambda body: body["messages"][-1]["content"].upper()]
    fake.default_reply = lambda body: f"default for {body['model']}"
    said = [
        client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": text}])
        .choices[0]
        .message.content
        for text in ("a", "echo me", "b", "c")
    ]
    assert said == ["first", "ECHO ME", f"default for {CHAT}", f"default for {CHAT}"]


def test_max_tokens_cuts_the_reply_short(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.replies = ["word " * 100]
    response = client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].message.content == ("word " * 100)[:20]


def test_non_json_under_a_json_schema_is_returned_as_is_and_noted(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.replies = ["not json"]
    assert ask(client).choices[0].message.content == "not json"
    assert fake.invalid and "not JSON" in fake.invalid[0]


def test_embeddings_float_base64_and_the_clients_default_agree(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    texts = ["who owns the billing service", "who owns the billing services", "lunch menu on friday"]
    as_float = client.embeddings.create(model=EMBED, input=texts, encoding_format="float")
    by_default = client.embeddings.create(model=EMBED, input=texts)  # the client asks base64 and decodes it
    as_base64 = client.embeddings.create(model=EMBED, input=texts, encoding_format="base64")  # left as given
    wire = [c.body.get("encoding_format") for c in fake.of("/v1/embeddings")]
    assert wire == ["float", "base64", "base64"]

    floats = [d.embedding for d in as_float.data]
    assert [d.embedding for d in by_default.data] == floats
    decoded: list[list[float]] = []
    for item in as_base64.data:
        assert isinstance(item.embedding, str)
        raw = base64.b64decode(item.embedding)
        decoded.append(list(struct.unpack(f"<{len(raw) // 4}f", raw)))
    assert decoded == floats

    assert [d.index for d in as_float.data] == [0, 1, 2] and as_float.object == "list" and as_float.model == EMBED
    assert all(len(v) == 64 and math.isclose(math.sqrt(sum(x * x for x in v)), 1, rel_tol=1e-5) for v in floats)
    assert cosine(floats[0], floats[1]) > 0.8 > 0.4 > abs(cosine(floats[0], floats[2]))
    assert floats[0] == embed(texts[0])  # deterministic: the same text, the same vector, in any run
    assert as_float.usage.prompt_tokens == sum(tokens(t) for t in texts) == as_float.usage.total_tokens


def test_embeddings_honour_dimensions_and_a_single_string(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    result = client.embeddings.create(model=EMBED, input="hello", dimensions=256)
    assert len(result.data) == 1 and len(result.data[0].embedding) == 256
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=EMBED, input="")


def test_a_scripted_429_is_a_rate_limit_error(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.replies = [Error(429, retry_after=7), Error(500, "boom"), '{"owner": "Ada", "confidence": 1}']
    with pytest.raises(openai.RateLimitError) as limited:
        ask(client)
    assert limited.value.status_code == 429 and limited.value.response.headers["retry-after"] == "7"
    assert limited.value.code == "rate_limit_exceeded"
    with pytest.raises(openai.InternalServerError, match="boom"):
        ask(client)
    assert json.loads(content(ask(client)))["owner"] == "Ada"


def test_the_client_retries_after_retry_after(fake: FakeOpenAI) -> None:
    fake.replies = [Error(429, retry_after=0.05), '{"owner": "Ada", "confidence": 1}']
    retrying = openai.OpenAI(base_url=fake.base_url, api_key=KEY, max_retries=1, timeout=5)
    assert json.loads(content(ask(retrying)))["owner"] == "Ada"
    assert len(fake.of("/v1/chat/completions")) == 2
    fake.embedding_errors = [Error(503)]
    with pytest.raises(openai.InternalServerError):
        openai.OpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0).embeddings.create(model=EMBED, input="x")


def test_a_slow_answer_is_a_timeout(fake: FakeOpenAI) -> None:
    fake.replies = [Reply("late", delay=2), Error(500, delay=2), "on time"]
    impatient = openai.OpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0, timeout=0.3)
    started = time.monotonic()
    for _ in range(2):
        with pytest.raises(openai.APITimeoutError):
            impatient.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "hi"}])
    assert time.monotonic() - started < 1.5
    reply = impatient.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "on time"


def test_a_missing_or_wrong_key_is_an_authentication_error(fake: FakeOpenAI) -> None:
    # The client itself refuses to start without a key, so "missing" is an omitted Authorization header.
    wrong = openai.OpenAI(base_url=fake.base_url, api_key="none", max_retries=0)  # what bot.llm sends with no key
    with pytest.raises(openai.AuthenticationError, match="didn't provide an API key"):
        wrong.models.list(extra_headers={"Authorization": openai.omit})
    with pytest.raises(openai.AuthenticationError, match="Incorrect API key") as refused:
        ask(wrong)
    assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"
    assert fake.replies == [] and len(fake.calls) == 2  # refused calls are in the transcript too


def test_models_lists_the_configured_models(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.models = ["llama3", "nomic-embed-text"]
    assert [m.id for m in client.models.list()] == ["llama3", "nomic-embed-text"]
    assert client.models.retrieve("llama3").id == "llama3"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-5")


def test_without_a_key_on_the_fake_any_key_will_do() -> None:
    with FakeOpenAI() as open_fake:
        anyone = openai.OpenAI(base_url=open_fake.base_url, api_key="whatever", max_retries=0)
        assert anyone.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "hi"}]).choices
        assert open_fake.base_url.endswith("/v1") and open_fake.base_url.startswith("http://127.0.0.1:")
