"""A loopback fake of Slack's Web API (and response_url hooks, and file upload URLs) that records every call.

Every message, modal and Home view the bot sends is validated with slack_sdk.models, so a
test fails if the bot ever sends Block Kit that Slack would refuse.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 resets connections under a benchmark's load
    daemon_threads = True


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = 0.0  # time.time() when the fake answered it


@dataclass
class PostLimit:
    """Slack's limits on chat.postMessage, as a generic cell rate algorithm (a leaky bucket kept as one time).

    A post is refused (429, `Retry-After` in whole seconds, as Slack sends it) when it comes sooner than
    `rate` a second allows after a burst of `burst` posts; a refused post costs nothing. Slack documents
    about one post a second per conversation (short bursts allowed) and a workspace-wide limit.
    """

    rate: float
    burst: float = 1.0
    _due: dict[str, float] = field(default_factory=dict)  # key -> when its bucket is empty again

    def wait(self, key: str, now: float) -> float:
        """Seconds until a post under `key` conforms (0: it may go now)."""
        due = max(self._due.get(key, now), now)
        return max(0.0, due + 1 / self.rate - self.burst / self.rate - now)

    def take(self, key: str, now: float) -> None:
        self._due[key] = max(self._due.get(key, now), now) + 1 / self.rate


def validate_blocks(blocks: Any) -> list[str]:
    """Problems Slack would reject in a list of blocks (empty when valid)."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    problems = []
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks in a message (max 50)")
    for raw in blocks:
        try:
            parsed = Block.parse(raw)
            if parsed is None:
                problems.append(f"unknown block {raw.get('type')}")
                continue
            parsed.validate_json()
        except Exception as exc:  # slack_sdk raises SlackObjectFormationError and friends
            problems.append(f"{raw.get('type')}: {exc}")
    return problems


def validate_view(view: Any) -> list[str]:
    if isinstance(view, str):
        view = json.loads(view)
    try:
        View(**view).validate_json()
    except Exception as exc:
        return [f"view: {exc}"]
    return validate_blocks(view.get("blocks", []))


@dataclass
class FakeSlack:
    """Start with `start()`; `base_url` goes into SLACK_API_URL; `calls` is the transcript."""

    calls: list[Call] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    rate_limit_next: int = 0  # answer this many chat.* calls with HTTP 429 first
    rate_limited: dict[str, int] = field(default_factory=dict)  # Web API method -> answer this many with 429 first
    uploads: dict[str, bytes] = field(default_factory=dict)  # file id -> the bytes posted to its upload URL
    upload_status: int = 200  # what upload URLs answer (a 5xx or 413 to test a failed upload)
    latency: float = 0.0  # seconds each Web API call takes to answer (benchmarks: a real Slack's ~50 ms)
    validate: bool = True  # check every view and message with slack_sdk.models (benchmarks turn it off)
    auth_error: str | None = None  # auth.test answers {"ok": false, "error": this} (a refused token)
    # chat.postMessage's own limits (None: none): per conversation, and across the whole workspace.
    channel_limit: PostLimit | None = None
    workspace_limit: PostLimit | None = None
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _file_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _pending: dict[str, int] = field(default_factory=dict)  # file id -> the length files.getUploadURLExternal was told
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    @property
    def hook_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/"

    @property
    def upload_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/upload/"

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                data = self.rfile.read(length)
                if self.path.startswith("/upload/"):  # the file's bytes, never text
                    status, text = fake._receive(self.path.rsplit("/", 1)[-1], data)
                    self._send(status, text.encode(), "text/plain", {})
                    return
                raw = data.decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = dict(parse_qsl(raw))
                if fake.latency and "/api/" in self.path:
                    time.sleep(fake.latency)
                status, body, headers = fake._answer(self.path, params)
                self._send(status, json.dumps(body).encode(), "application/json", headers)

            def _send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def _answer(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        method = path.rsplit("/api/", 1)[-1] if "/api/" in path else "response_url:" + path.rsplit("/hooks/", 1)[-1]
        with self._lock:
            if self.rate_limit_next and method.startswith("chat."):
                self.rate_limit_next -= 1
                self.calls.append(Call(method + ":429", params))
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
            if self.rate_limited.get(method):
                self.rate_limited[method] -= 1
                self.calls.append(Call(method + ":429", params))
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"}
            if method == "chat.postMessage" and (refused := self._over_limit(str(params.get("channel", "")))):
                self.calls.append(Call(method + ":429", params, time.time()))
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": refused}
            n = next(self._ts)
            if method in ("views.open", "views.push", "views.update") and params.get("view"):
                # Slack answers with the view's id and hash; record them with the call, as a view the
                # person then submits carries them.
                view = params["view"]
                view = json.loads(view) if isinstance(view, str) else dict(view)
                view["id"] = params.get("view_id") or view.get("id") or f"V{n:08d}"
                view["hash"] = f"{n}.h{n:06d}"
                params = {**params, "view": json.dumps(view)}
            self.calls.append(Call(method, params, time.time()))
            if self.validate:
                self._validate(method, params)
            ts = f"{int(time.time())}.{n:06d}"
        if method == "auth.test" and self.auth_error:
            return 200, {"ok": False, "error": self.auth_error}, {}
        if method == "auth.test":
            return (
                200,
                {
                    "ok": True,
                    "url": "https://hub.example/",
                    "team": "Hub",
                    "user": "hubspoke",
                    "team_id": "T111",
                    "user_id": "UBOT",
                    "bot_id": "BBOT",
                },
                {},
            )
        if method == "chat.postMessage":
            channel = params.get("channel", "")
            if channel.startswith(("U", "W")):
                channel = "D" + channel[1:]  # a DM channel id, as Slack answers a post to a user id
            return 200, {"ok": True, "channel": channel, "ts": ts, "message": {"text": params.get("text")}}, {}
        if method == "chat.update":
            return 200, {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}, {}
        if method == "users.info":
            user_id = params.get("user", "")
            user = self.users.get(user_id) or {
                "id": user_id,
                "name": user_id.lower(),
                "tz": "Europe/London",
                "profile": {"display_name": f"Person {user_id}"},
            }
            return 200, {"ok": True, "user": user}, {}
        if method.startswith("views."):
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            return 200, {"ok": True, "view": view or {}}, {}
        if method == "conversations.open":
            users = str(params.get("users", ""))
            if not users.startswith(("U", "W")) or "," in users:
                return 200, {"ok": False, "error": "user_not_found"}, {}
            return 200, {"ok": True, "channel": {"id": "D" + users[1:]}}, {}
        if method == "files.getUploadURLExternal":
            return self._upload_url(params)
        if method == "files.completeUploadExternal":
            return self._complete_upload(params)
        return 200, {"ok": True}, {}

    def _over_limit(self, channel: str) -> str | None:
        """Retry-After (whole seconds, at least 1) if a post to `channel` now is over a limit; else take it."""
        now = time.monotonic()
        limits = [(lim, key) for lim, key in ((self.channel_limit, channel), (self.workspace_limit, "")) if lim]
        wait = max((lim.wait(key, now) for lim, key in limits), default=0.0)
        if wait > 0:
            return str(max(1, math.ceil(wait)))
        for lim, key in limits:
            lim.take(key, now)
        return None

    # --- files: files_upload_v2's three steps -------------------------------------------------------

    def _upload_url(self, params: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        if len(str(params.get("alt_txt") or "")) > 1000:
            self.invalid.append("files.getUploadURLExternal: alt_txt over 1000 characters")
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        with self._lock:
            file_id = f"F{next(self._file_ids):04d}"
            self._pending[file_id] = int(params["length"])
        return 200, {"ok": True, "upload_url": self.upload_url + file_id, "file_id": file_id}, {}

    def _receive(self, file_id: str, data: bytes) -> tuple[int, str]:
        """The POST to an upload URL: slack_sdk sends the file's raw bytes as the body (not multipart)."""
        with self._lock:
            self.calls.append(Call("upload", {"file_id": file_id, "length": len(data)}))
            if file_id not in self._pending:
                return 404, "unknown upload URL"
            if self.upload_status != 200:
                return self.upload_status, f"upload refused: {self.upload_status}"
            if self._pending[file_id] != len(data):
                self.invalid.append(f"upload {file_id}: {len(data)} bytes sent, {self._pending[file_id]} announced")
            self.uploads[file_id] = data
        return 200, f"OK - {len(data)}"

    def _complete_upload(self, params: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        channel = str(params.get("channel_id", ""))
        # Only a conversation id shares a file: a user id (U…) is refused, as by Slack (open the DM first).
        if not channel.startswith(("C", "D", "G")):
            return 200, {"ok": False, "error": "invalid_channel"}, {}
        files = json.loads(params.get("files") or "[]")
        with self._lock:
            if not files or any(f.get("id") not in self.uploads for f in files):
                return 200, {"ok": False, "error": "file_not_found"}, {}
        shared = [{"id": f["id"], "title": f.get("title"), "channels": [channel]} for f in files]
        return 200, {"ok": True, "files": shared}, {}

    def files_in(self, channel: str) -> list[tuple[dict[str, Any], bytes]]:
        """Every file shared into `channel`: its entry in files.completeUploadExternal, and its bytes."""
        shared = []
        for call in self.of("files.completeUploadExternal"):
            if call.params.get("channel_id") == channel:
                for f in json.loads(call.params["files"]):
                    shared.append((f, self.uploads.get(f["id"], b"")))
        return shared

    def _validate(self, method: str, params: dict[str, Any]) -> None:
        if params.get("blocks"):
            self.invalid += [f"{method}: {p}" for p in validate_blocks(params["blocks"])]
        if "view" in params:
            self.invalid += [f"{method}: {p}" for p in validate_view(params["view"])]

    # --- what tests read -------------------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0, **match: str) -> list[Call]:
        """Wait until at least `count` calls of `method` whose params contain `match` were recorded."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.of(method) if all(str(c.params.get(k)) == v for k, v in match.items())]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def wait_for_text(self, method: str, contains: str, timeout: float = 10.0) -> str:
        """The text (fallback and blocks) of the first `method` call containing `contains` ('' if none came)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.of(method):
                text = blocks_text(call)
                if contains in text:
                    return text
            time.sleep(0.02)
        return ""

    def wait_for_hook(self, contains: str, timeout: float = 10.0) -> str:
        """The text of the first response_url message containing `contains` ('' if none came)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                texts = [str(c.params.get("text")) for c in self.calls if c.method.startswith("response_url:")]
            for text in texts:
                if contains in text:
                    return text
            time.sleep(0.02)
        return ""


def blocks_text(call: Call) -> str:
    """All text in a call's blocks (and its fallback text), for assertions on what people read."""
    parts = [str(call.params.get("text", ""))]
    raw = call.params.get("blocks") or (
        json.loads(call.params["view"]) if isinstance(call.params.get("view"), str) else (call.params.get("view") or {})
    ).get("blocks", [])
    if isinstance(raw, str):
        raw = json.loads(raw)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "value", "placeholder"):
                value = node.get(key)
                if isinstance(value, str) and key == "text":
                    parts.append(value)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(raw)
    return "\n".join(parts)
