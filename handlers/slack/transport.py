"""Slack over HTTP: verify every request before anything reads it, then hand it to Bolt.

Order matters. The body is read up to MAX_BODY, its signature and timestamp checked over the raw
bytes, and only then decoded and parsed; anything that fails answers 401 (not from Slack) or 400
(from Slack but unreadable) with one log line and no body, and nothing else happens: no reply, no
DM, no call to a `response_url`. A verified request is parsed strictly (UTF-8, a JSON object, at
most 64 levels deep), its strings cleaned (no NUL bytes, no lone surrogates), and dispatched to Bolt
on a worker thread, with a deadline inside Slack's 3 s: a hub whose database has stopped answering
still answers Slack (a command is told so; a click is not acknowledged, so it is not lost).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from intake.text import clean_tree

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # a full 100-block modal submission, URL-encoded, stays well under this
MAX_AGE = 5 * 60  # seconds; older timestamps are replays
ACK_DEADLINE = 2.5  # seconds; Slack gives up at 3
VERIFIED = "hubspoke_verified"  # set in the Bolt context of every request that passed verification
UNAVAILABLE = (
    ":warning: The hub's database is not answering right now, so this may not have been done. "
    "Please try again in a minute."
)


class Refused(Exception):
    """A request that is not carried out; `status` is what Slack (or whoever sent it) gets back."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_signature(secret: bytes, headers: Any, body: bytes, *, now: float | None = None) -> None:
    """Raise Refused(401) unless `body` carries Slack's signature for `secret`, made in the last five minutes."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise Refused(401, "no valid X-Slack-Request-Timestamp")
    if abs((now or time.time()) - int(timestamp)) > MAX_AGE:
        raise Refused(401, "timestamp outside the five-minute window")
    if not signature.isascii() or not signature.startswith("v0="):
        raise Refused(401, "no valid X-Slack-Signature")
    expected = "v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Refused(401, "signature does not match")


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """Slack's payload (a form's `payload` field unpacked), strings cleaned; Refused(400) if unreadable."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    kind = content_type.split(";", 1)[0].strip().lower()
    try:
        if kind == "application/json":
            payload = json.loads(text)
        elif kind == "application/x-www-form-urlencoded":
            form = dict(parse_qsl(text, keep_blank_values=True))
            payload = json.loads(form["payload"]) if "payload" in form else form
        else:
            raise Refused(400, f"unsupported content type {kind[:60] or '(none)'}")
        if not isinstance(payload, dict):
            raise Refused(400, "payload is not a JSON object")
        payload = clean_tree(payload)
    except (ValueError, RecursionError) as exc:
        raise Refused(400, f"unreadable payload ({type(exc).__name__})") from None
    return payload


async def read_capped(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, or Refused(413) as soon as it is known to be longer than `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"body of {int(declared):,} bytes is over the {limit:,}-byte limit")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"body over the {limit:,}-byte limit")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refused(400, "client went away mid-body") from None
    return b"".join(chunks)


def _timed_out(payload: dict[str, Any]) -> Response:
    """What Slack gets when the hub could not answer in time: commands are told, clicks are not acknowledged."""
    if "command" in payload:
        return JSONResponse({"response_type": "ephemeral", "text": UNAVAILABLE})
    return Response(status_code=503)


def slack_endpoint(
    bolt: App, signing_secret: str, *, deadline: float = ACK_DEADLINE
) -> Callable[[Request], Awaitable[Response]]:
    """The /slack/events endpoint: verify, parse, then Bolt's dispatch on a worker thread within `deadline`."""
    secret = signing_secret.encode()

    async def endpoint(request: Request) -> Response:
        peer = request.client.host if request.client else "?"
        try:
            body = await read_capped(request)
            check_signature(secret, request.headers, body)
            payload = parse_body(body, request.headers.get("content-type", ""))
            # Bolt gets the cleaned payload as JSON: what it reads is exactly what was checked here (and a
            # command whose text says "payload" is not mistaken for an empty interactive form).
            headers = {k: v for k, v in request.headers.items() if k not in ("content-type", "content-length")}
            try:
                bolt_request = BoltRequest(
                    body=json.dumps(payload),
                    query=request.url.query,
                    headers={**headers, "content-type": "application/json"},
                    context={VERIFIED: True},
                )
            except Exception as exc:  # Bolt could not make sense of a well-signed payload's shape
                raise Refused(400, f"payload Bolt cannot read ({type(exc).__name__})") from None
        except Refused as refused:
            log.warning("refused a Slack request from %s: %s (HTTP %d)", peer, refused.reason, refused.status)
            return Response(status_code=refused.status)
        response: BoltResponse | None = None
        with anyio.move_on_after(deadline):
            # Abandoned (not waited for) at the deadline: the thread finishes on its own, bounded by the
            # database's own timeouts, while Slack gets an answer in time.
            response = await anyio.to_thread.run_sync(bolt.dispatch, bolt_request, abandon_on_cancel=True)
        if response is None:
            log.error("a Slack %s was not answered within %.1f s", _kind(payload), deadline)
            return _timed_out(payload)
        return to_starlette_response(response)

    return endpoint


def _kind(payload: dict[str, Any]) -> str:
    if "command" in payload:
        return f"command {str(payload['command'])[:20]}"
    return str(payload.get("type") or "request")[:40]
