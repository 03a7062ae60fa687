"""A loopback Bot Framework connector, playing the `serviceUrl` Teams puts in every Activity.

It records what the bot sends (posts, updates, new conversations), answers roster lookups from `members`, can
answer 429 with Retry-After or 503 without, and validates every Adaptive Card it receives against the 1.5 schema.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CARD = "application/vnd.microsoft.card.adaptive"


@dataclass
class Sent:
    method: str  # POST (a new activity), PUT (an update), CREATE (a new conversation)
    conversation_id: str
    activity_id: str
    body: dict[str, Any]

    @property
    def card(self) -> dict[str, Any]:
        attachments = self.body.get("attachments") or []
        return dict(attachments[0]["content"]) if attachments else {}

    @property
    def text(self) -> str:
        """Every TextBlock's and fact's text of the card, for assertions on what people read."""
        out: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("type") == "TextBlock":
                    out.append(str(node.get("text", "")))
                if node.get("type") == "FactSet":
                    out.extend(f"{f['title']}: {f['value']}" for f in node.get("facts", []))
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(self.card)
        return "\n".join(out)


@dataclass
class FakeConnector:
    """Start with `start()`; `service_url` goes into the Activities a test sends the bot."""

    sent: list[Sent] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)  # what was PUT to an upload URL, by its name
    upload_ranges: list[str] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> what the roster answers
    throttle_next: int = 0  # answer this many sends with 429 first
    fail_next: int = 0  # answer this many sends with 503 first, with no Retry-After (the connector is down)
    create_status: int = 201  # what opening a personal chat answers (403: the app is not installed for them)
    invalid: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def upload_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/upload/"

    @property
    def service_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/teams/"

    def start(self) -> FakeConnector:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode() if length else ""
                return dict(json.loads(raw)) if raw else {}

            def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                status, body, headers = fake._answer("POST", self.path, self._body())
                self._reply(status, body, headers)

            def do_PUT(self) -> None:
                if self.path.startswith("/upload/"):  # playing OneDrive's upload URL of a file the person allowed
                    length = int(self.headers.get("Content-Length", 0))
                    with fake._lock:
                        fake.uploads[self.path.removeprefix("/upload/")] = self.rfile.read(length)
                        fake.upload_ranges.append(str(self.headers.get("Content-Range")))
                    self._reply(201, {"id": "file-1"})
                    return
                status, body, headers = fake._answer("PUT", self.path, self._body())
                self._reply(status, body, headers)

            def do_GET(self) -> None:
                status, body, headers = fake._answer("GET", self.path, {})
                self._reply(status, body, headers)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def _answer(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        from tests.fakes.adaptive_cards import card_problems

        path = path.split("/teams", 1)[-1]
        members = re.fullmatch(r"/v3/conversations/([^/]+)/members/([^/]+)", path)
        if method == "GET" and members:
            member = self.members.get(members.group(2))
            return (200, member, {}) if member else (404, {"error": {"code": "MemberNotFound"}}, {})
        with self._lock:
            if self.throttle_next and method in ("POST", "PUT"):
                self.throttle_next -= 1
                return 429, {"error": {"code": "Throttled"}}, {"Retry-After": "1"}
            if self.fail_next and method in ("POST", "PUT"):
                self.fail_next -= 1
                return 503, {"error": {"code": "ServiceUnavailable"}}, {}
            if method == "POST" and path == "/v3/conversations":
                if self.create_status >= 400:
                    self.sent.append(Sent("CREATE:refused", "", "", body))
                    return self.create_status, {"error": {"code": "BotNotInConversationRoster"}}, {}
                conversation = f"a:personal-{next(self._ids)}"
                self.sent.append(Sent("CREATE", conversation, "", body))
                return 201, {"id": conversation}, {}
            found = re.fullmatch(r"/v3/conversations/([^/]+)/activities(?:/([^/]+))?", path)
            if not found:
                return 404, {"error": {"code": "NotFound"}}, {}
            conversation, activity = found.group(1), found.group(2) or ""
            for attachment in body.get("attachments") or []:
                if attachment.get("contentType") == CARD:
                    self.invalid += card_problems(attachment["content"])
            if method == "PUT":
                self.sent.append(Sent("PUT", conversation, activity, body))
                return 200, {"id": activity}, {}
            new_id = f"act-{next(self._ids)}"
            self.sent.append(Sent("POST", conversation, new_id, body))
            return 201, {"id": new_id}, {}

    def wait_for(self, predicate: Any, count: int = 1, timeout: float = 10.0) -> list[Sent]:
        """Wait until at least `count` sends match `predicate`; the matching ones."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [s for s in self.sent if predicate(s)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def to(self, conversation_id: str, method: str = "POST") -> list[Sent]:
        with self._lock:
            return [s for s in self.sent if s.conversation_id == conversation_id and s.method == method]
