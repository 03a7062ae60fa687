"""A loopback fake of an OpenAI-compatible API (chat completions, embeddings, models) that records every call.

Chat answers are scripted: `replies` are used in order, then `default_reply`. Each one is a string (the
message's `content`, returned exactly as written, so tests put JSON there for structured outputs), a `Reply`
(content with a delay or another finish_reason), an `Error` (an HTTP error in OpenAI's shape, e.g. 429 with
Retry-After, or a slow 500 for a timeout), or a callable that takes the request body and returns one of those.
Embeddings are deterministic: character trigrams hashed into signed buckets and L2-normalised, so texts that
share most trigrams get vectors with a cosine near 1 and unrelated texts get a cosine near 0.

    fake = FakeOpenAI(api_key="sk-test", replies=['{"answer": "yes"}']).start()
    client = openai.OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
    ...
    fake.stop()
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

# What each error status says when `Error.body` is not given: (OpenAI's `type`, `code`, message).
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Country not supported."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again shortly."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


@dataclass(frozen=True)
class Error:
    """Answer a request with HTTP `status` in OpenAI's error shape.

    `body`: None for the status's usual error; a str for its message; a dict to send exactly as given.
    `retry_after`: seconds for the Retry-After header (the client waits that long before a retry).
    `delay`: seconds before answering (longer than the client's timeout: an `openai.APITimeoutError`).
    """

    status: int
    body: dict[str, Any] | str | None = None
    retry_after: float | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Reply:
    """A chat answer with more than its content: a delay before it, or another finish_reason."""

    content: str
    delay: float = 0.0
    finish_reason: str = "stop"


Scripted = str | Reply | Error
ReplyScript = Scripted | Callable[[dict[str, Any]], Scripted]


class Call(NamedTuple):
    """One request the fake received (answered or refused): `headers` have lower-case names."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]


class _Server(ThreadingHTTPServer):
    request_queue_size = 64
    daemon_threads = True


def tokens(text: str) -> int:
    """The fake's token count: about four characters a token (a non-empty text is at least one)."""
    return (len(text) + 3) // 4


def embed(text: str, dimensions: int = 64, meanings: dict[str, str] | None = None) -> list[float]:
    """The fake's embedding of `text`: float32 values (exactly what base64 carries), unit length. Texts alike in
    letters are alike in vectors; `meanings` (word -> a word meaning the same) makes paraphrases alike too, as a
    real model would (a test says which words mean the same; the bench measures a real model)."""
    lowered = re.sub(r"\s+", " ", text.lower()).strip()
    if meanings:
        lowered = " ".join(meanings.get(w, w) for w in re.findall(r"[a-z0-9]+", lowered))
    norm = " " + lowered + " "
    vector = [0.0] * dimensions
    for i in range(len(norm) - 2):
        digest = hashlib.blake2b(norm[i : i + 3].encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "little") % dimensions
        vector[bucket] += 1.0 if digest[4] & 1 else -1.0
    length = math.sqrt(sum(v * v for v in vector))
    if length == 0:  # every trigram cancelled out (a tiny `dimensions`): still a unit vector, still deterministic
        digest = hashlib.blake2b(norm.encode(), digest_size=4).digest()
        vector[int.from_bytes(digest, "little") % dimensions], length = 1.0, 1.0
    return list(struct.unpack(f"<{dimensions}f", struct.pack(f"<{dimensions}f", *(v / length for v in vector))))


_USUAL: Any = object()  # the status's usual error code


def _error_body(status: int, message: str | None = None, code: str | None = _USUAL, param: str | None = None) -> dict:
    """OpenAI's error shape: {"error": {"message", "type", "param", "code"}}."""
    usual = _ERRORS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error."))
    kind, usual_code, usual_message = usual
    return {
        "error": {
            "message": message or usual_message,
            "type": kind,
            "param": param,
            "code": usual_code if code is _USUAL else code,
        }
    }


def _message_text(messages: list[Any]) -> str:
    """The text of chat messages, for counting tokens (string contents and the text of content parts)."""
    out = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.extend(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "\n".join(out)


@dataclass
class FakeOpenAI:
    """Start with `start()` (or `with FakeOpenAI(...) as fake:`); `base_url` ends in /v1; `calls` is the transcript."""

    replies: list[ReplyScript] = field(default_factory=list)  # chat answers, used up in order
    default_reply: ReplyScript = "ok"  # then this, for every chat call
    embedding_errors: list[Error] = field(default_factory=list)  # the next embeddings calls get these first
    models: list[str] = field(default_factory=lambda: ["gpt-4o-mini", "text-embedding-3-small"])
    api_key: str | None = None  # set: requests need `Authorization: Bearer <api_key>`, else 401
    delay: float = 0.0  # seconds every chat and embeddings call takes before answering
    meanings: dict[str, str] = field(default_factory=dict)  # word -> same-meaning word, for embeddings (see embed)
    calls: list[Call] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # scripted output a real server would not send (see _chat)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the openai client pools its connections
            disable_nagle_algorithm = True  # headers and body go in two writes: no delayed-ACK wait between them

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                path = self.path.split("?", 1)[0]
                try:
                    body = json.loads(raw or b"{}") if self.command == "POST" else {}
                except ValueError:
                    body = None
                try:
                    status, payload, extra = fake._answer(self.command, path, body, headers)
                except Exception as exc:  # a broken callable reply: answer, never leave the client hanging
                    status, payload, extra = 500, _error_body(500, f"fake: {type(exc).__name__}: {exc}"), {}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("x-request-id", f"req_fake{next(fake._ids)}")
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout) before the answer

            do_GET = do_POST

        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # cuts every delay short
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self if self._server else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the transcript ------------------------------------------------------------------------------

    def of(self, path: str) -> list[Call]:
        """The calls to `path` so far ("/v1/chat/completions", "/v1/embeddings", "/v1/models")."""
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while len(found := self.of(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} calls to {path}, wanted {count}")
            time.sleep(0.01)
        return found

    # --- answers ---------------------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _answer(
        self, verb: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.calls.append(Call(path, body if isinstance(body, dict) else {}, headers))
        if self.api_key is not None:
            auth = headers.get("authorization", "")
            if not auth:
                message = "You didn't provide an API key. You need to provide your API key in an Authorization header."
                return 401, _error_body(401, message, code=None), {}
            if auth != f"Bearer {self.api_key}":
                shown = auth.removeprefix("Bearer ")
                return 401, _error_body(401, f"Incorrect API key provided: {shown[:3]}***{shown[-4:]}."), {}
        if not isinstance(body, dict):
            return 400, _error_body(400, "We could not parse the JSON body of your request."), {}
        if verb == "GET" and path == "/v1/models":
            return 200, {"object": "list", "data": [self._model(m) for m in self.models]}, {}
        if verb == "GET" and path.startswith("/v1/models/"):
            name = path.removeprefix("/v1/models/")
            if name in self.models:
                return 200, self._model(name), {}
            return 404, _error_body(404, f"The model '{name}' does not exist", param="model"), {}
        if verb == "POST" and path == "/v1/chat/completions":
            return self._chat(body)
        if verb == "POST" and path == "/v1/embeddings":
            return self._embeddings(body)
        return 404, _error_body(404, f"Invalid URL ({verb} {path})", code=None), {}

    @staticmethod
    def _model(name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "hubspoke-fake"}

    def _error(self, error: Error) -> tuple[int, Any, dict[str, str]]:
        self._sleep(error.delay)
        if isinstance(error.body, dict):
            payload: Any = error.body
        else:
            payload = _error_body(error.status, error.body)
        extra = {}
        if error.retry_after is not None:
            seconds = error.retry_after
            extra["retry-after"] = str(int(seconds)) if float(seconds).is_integer() else str(seconds)
        return error.status, payload, extra

    def _chat(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        for name in ("model", "messages"):
            if not body.get(name):
                message = f"Missing required parameter: '{name}'."
                return 400, _error_body(400, message, code="missing_required_parameter", param=name), {}
        if body.get("stream"):
            return 400, _error_body(400, "fake: streaming is not supported", param="stream"), {}
        with self._lock:
            script = self.replies.pop(0) if self.replies else self.default_reply
        answer = script(body) if callable(script) else script
        self._sleep(self.delay)
        if isinstance(answer, Error):
            return self._error(answer)
        reply = answer if isinstance(answer, Reply) else Reply(str(answer))
        self._sleep(reply.delay)
        content, finish = reply.content, reply.finish_reason
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and tokens(content) > limit:  # cut short, as a real model stops at its limit
            content, finish = content[: limit * 4], "length"
        response_format = body.get("response_format") or {}
        if response_format.get("type") in ("json_schema", "json_object") and finish == "stop":
            try:
                json.loads(content)
            except ValueError:
                with self._lock:
                    self.invalid.append(f"chat: {response_format['type']} reply is not JSON: {content[:80]!r}")
        prompt_tokens, completion_tokens = tokens(_message_text(body["messages"])), tokens(content)
        return (
            200,
            {
                "id": f"chatcmpl-fake{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None, "annotations": []},
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
                },
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
            },
            {},
        )

    def _embeddings(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            error = self.embedding_errors.pop(0) if self.embedding_errors else None
        self._sleep(self.delay)
        if error is not None:
            return self._error(error)
        if not body.get("model"):
            return 400, _error_body(400, "Missing required parameter: 'model'.", param="model"), {}
        raw = body.get("input")
        if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw)):
            raw = [raw]  # one text, or one text as token ids
        texts = [" ".join(map(str, t)) if isinstance(t, list) else t for t in raw] if isinstance(raw, list) else []
        if not texts or not all(isinstance(t, str) and t for t in texts):
            return 400, _error_body(400, "'$.input' is invalid. Please check the API reference.", param="input"), {}
        dimensions = body.get("dimensions", 64)
        if not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1:
            return 400, _error_body(400, f"Invalid value for 'dimensions': {dimensions!r}.", param="dimensions"), {}
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            message = f"Invalid value for 'encoding_format': {encoding!r}."
            return 400, _error_body(400, message, param="encoding_format"), {}
        data = []
        for i, text in enumerate(texts):
            vector = embed(text, dimensions, self.meanings)
            value: Any = vector
            if encoding == "base64":
                value = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": value})
        used = sum(tokens(t) for t in texts)
        usage = {"prompt_tokens": used, "total_tokens": used}
        return 200, {"object": "list", "data": data, "model": body["model"], "usage": usage}, {}
