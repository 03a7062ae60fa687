"""Teams at /api/messages, beside Slack on the same port: the Teams SDK authenticates and parses each Activity,
and the one conversation core (handlers.teams.dialogs) answers it on a worker thread.

The SDK's App is given an adapter that only records its handler, so our own Starlette route serves the path.
With credentials set, every request must carry a valid Bot Framework token (the SDK checks issuer, audience
and service URL) and come from the configured tenant; without them, requests are refused with 401 unless
TEAMS_ALLOW_UNAUTHENTICATED is set, for local development and tests. A request that fails verification does
nothing at all.
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.core import Core
from bot.settings import Settings
from handlers.teams.chat import TeamsChat
from handlers.teams.dialogs import Dialogs, Turn

log = logging.getLogger(__name__)
HANDLED = {"message", "conversationUpdate", "installationUpdate", "invoke"}
CARD_ACTION = "adaptiveCard/action"
FILE_CONSENT = "fileConsent/invoke"
# Variables the SDK falls back to when an option is left unset; ours are named TEAMS_*, so these are ignored.
SDK_ENVIRONMENT = ("CLIENT_ID", "CLIENT_SECRET", "TENANT_ID", "SERVICE_URL", "CLOUD", "MANAGED_IDENTITY_CLIENT_ID")


class RouteAdapter:
    """The SDK's HTTP server adapter, reduced to remembering the handler our own route calls."""

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}

    def register_route(self, method: str, path: str, handler: Any) -> None:
        self.routes[path] = handler

    def serve_static(self, path: str, directory: str) -> None:
        return None

    async def start(self, port: int) -> None:
        raise NotImplementedError("hubspoke run serves the port itself")

    async def stop(self) -> None:
        return None


def turn_of(activity: Any) -> Turn:
    """The parts of an SDK Activity the dialogs use."""
    conversation = activity.conversation
    tenant = getattr(conversation, "tenant_id", None)
    mentions: list[tuple[str, str]] = []
    tz = None
    for entity in getattr(activity, "entities", None) or []:
        mentioned = getattr(entity, "mentioned", None)
        if mentioned is not None and getattr(mentioned, "id", None):
            mentions.append((str(mentioned.id), str(getattr(mentioned, "name", "") or "")))
        tz = tz or getattr(entity, "timezone", None)  # clientInfo: the sender's own time zone
    members = tuple(str(m.id) for m in (getattr(activity, "members_added", None) or []))
    value = getattr(activity, "value", None)
    if value is not None and hasattr(value, "model_dump"):
        value = value.model_dump(by_alias=True, exclude_none=True)  # the wire names (uploadInfo, …)
    return Turn(
        service_url=str(activity.service_url or ""),
        # A channel message's conversation is its thread (`19:…;messageid=…`): the channel is what we keep.
        conversation_id=str(conversation.id).split(";messageid=", 1)[0],
        thread_id=str(conversation.id),
        conversation_type=str(getattr(conversation, "conversation_type", None) or "personal"),
        tenant_id=str(tenant) if tenant else None,
        user_id=str(activity.from_.id),
        user_name=str(getattr(activity.from_, "name", "") or ""),
        bot_id=str(getattr(activity.recipient, "id", "") or ""),
        activity_id=str(getattr(activity, "id", "") or "") or None,
        text=str(getattr(activity, "text", "") or ""),
        mentions=tuple(mentions),
        members_added=members,
        value=dict(value or {}),
        tz=str(tz) if tz else None,
    )


class TeamsAdapter:
    """The Teams SDK App wired to the dialogs; `endpoint` is the Starlette route for /api/messages."""

    def __init__(self, core: Core, settings: Settings, chat: TeamsChat) -> None:
        with warnings.catch_warnings():  # the SDK announces a preview widget it has, which we do not use
            warnings.simplefilter("ignore")
            from microsoft_teams.apps import App

        for name in SDK_ENVIRONMENT:
            os.environ.pop(name, None)
        self.settings = settings
        self.dialogs = Dialogs(core, chat, settings.hub_leads)
        self.authenticated = bool(settings.teams_app_id and settings.teams_app_password)
        self._adapter = RouteAdapter()
        options: dict[str, Any] = {"http_server_adapter": self._adapter}
        if self.authenticated:
            assert settings.teams_app_password is not None
            options.update(
                client_id=settings.teams_app_id,
                client_secret=settings.teams_app_password.get_secret_value(),
                tenant_id=settings.teams_tenant_id,
            )
        else:
            options["dangerously_allow_unauthenticated_requests"] = True
        self.app = App(**options)
        self._ready = asyncio.Lock()
        self._initialized = False
        self._register()

    def _register(self) -> None:
        app = self.app

        @app.on_message
        async def on_message(ctx: Any) -> None:
            await anyio.to_thread.run_sync(self.dialogs.on_message, turn_of(ctx.activity))

        @app.on_conversation_update
        async def on_conversation_update(ctx: Any) -> None:
            await anyio.to_thread.run_sync(self.dialogs.installed, turn_of(ctx.activity))

        @app.on_installation_update
        async def on_installation_update(ctx: Any) -> None:
            await anyio.to_thread.run_sync(self.dialogs.installed, turn_of(ctx.activity))

        @app.on_card_action  # type: ignore[arg-type]  # a plain dict is answered as it is
        async def on_card_action(ctx: Any) -> dict[str, Any]:
            return await anyio.to_thread.run_sync(self.dialogs.on_action, turn_of(ctx.activity))

        @app.on_file_consent  # type: ignore[arg-type]  # a plain dict is answered as it is
        async def on_file_consent(ctx: Any) -> dict[str, Any]:
            return await anyio.to_thread.run_sync(self.dialogs.on_file_consent, turn_of(ctx.activity))

        @app.event("error")
        async def on_error(event: Any) -> None:
            log.error("teams: %r", getattr(event, "error", event))

    async def _handler(self) -> Any:
        async with self._ready:
            if not self._initialized:
                await self.app.initialize()  # registers the messaging route on our adapter; no network
                self._initialized = True
        return self._adapter.routes[self.app.server.messaging_endpoint]

    def _tenant_ok(self, body: dict[str, Any]) -> bool:
        wanted = self.settings.teams_tenant_id
        if not wanted:
            return True
        conversation = body.get("conversation") or {}
        tenant = conversation.get("tenantId") or ((body.get("channelData") or {}).get("tenant") or {}).get("id")
        return tenant == wanted

    async def endpoint(self, request: Request) -> Response:
        """POST /api/messages."""
        if not self.authenticated and not self.settings.teams_allow_unauthenticated:
            return JSONResponse({"error": "Authentication not configured"}, status_code=401)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "bad request"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "bad request"}, status_code=400)
        kind = body.get("type")
        if kind not in HANDLED or (kind == "invoke" and body.get("name") not in (CARD_ACTION, FILE_CONSENT)):
            # Verified first: an unknown payload from a stranger still does nothing but this.
            log.info("teams: a %s activity was ignored", str(kind)[:40])
            if self.authenticated and not await self._verified(request, body):
                return JSONResponse({"error": "Unauthorized"}, status_code=401)
            return JSONResponse({}, status_code=200)
        if kind == "invoke" and body.get("name") == CARD_ACTION:
            value = body.setdefault("value", {})
            value["trigger"] = "manual"  # a card refresh says "automatic", which the SDK's model refuses
            value.setdefault("action", {}).setdefault("data", {})
        if self.authenticated and not self._tenant_ok(body):
            log.warning("teams: an activity from another tenant was refused")
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        handler = await self._handler()
        result = await handler({"body": body, "headers": dict(request.headers)})
        if result.get("body") is None:
            return Response(status_code=result["status"])
        return JSONResponse(result["body"], status_code=result["status"])

    async def _verified(self, request: Request, body: dict[str, Any]) -> bool:
        """Whether this request's token is valid (for activities the SDK is not given)."""
        from microsoft_teams.apps.auth.token_validator import InboundActivityTokenValidator

        raw = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        if not raw:
            return False
        assert self.settings.teams_app_id is not None
        try:
            await InboundActivityTokenValidator(self.settings.teams_app_id).validate_token(raw, body.get("serviceUrl"))
        except Exception as exc:  # the validator raises jwt's and its own errors alike
            log.info("teams: a request with an invalid token was refused (%s)", type(exc).__name__)
            return False
        return True
