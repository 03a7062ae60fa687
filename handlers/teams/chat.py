"""Sends notices to Teams through the Bot Connector of each saved conversation reference.

A person is reached in their personal chat with the bot (saved when the app was installed for them or they first
wrote to it; created through the connector when only their Teams id is known); the hub in the channel whose
conversation id is TEAMS_HUB_CHANNEL (or set by `hub channel here`). 429 and 5xx are retried with their
Retry-After; a person the bot cannot reach yet fails for good, and the hub lead hears of it once.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.chat import DeliveryError, Posted, Profile, Recipient
from handlers.teams.cards import build_notice
from intake.conversations import HUB_CHANNEL_KEY, save_reference
from intake.notices import HUB, Files, Notice, PortfolioChart, compose, plain
from intake.people import TEAMS
from storage import repo
from storage.db import UnitOfWork, background
from storage.models import ConversationRef, FileOffer
from storage.types import utcnow

log = logging.getLogger(__name__)
TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
SCOPE = "https://api.botframework.com/.default"
CARD = "application/vnd.microsoft.card.adaptive"


def card_activity(notice: Notice) -> dict[str, Any]:
    """The message activity carrying a notice's card, with its summary as the notification's text."""
    if isinstance(notice, PortfolioChart):
        return chart_activity(notice)
    return {
        "type": "message",
        "summary": plain(compose(notice).summary)[:200],
        "attachments": [{"contentType": CARD, "content": build_notice(notice)}],
    }


@dataclass(frozen=True)
class Ref:
    """A saved conversation reference, as plain data (readable after its unit of work ends)."""

    conversation_id: str
    service_url: str
    tenant_id: str | None

    @classmethod
    def of(cls, row: ConversationRef) -> Ref:
        return cls(row.conversation_id, row.service_url, row.tenant_id)


def chart_activity(notice: PortfolioChart) -> dict[str, Any]:
    """The portfolio chart as an inline image (a PNG data URI, which Teams shows in chats), its alt text beside."""
    from bot.charts import draw_portfolio  # matplotlib loads only when a chart is drawn

    chart = draw_portfolio(notice)
    return {
        "type": "message",
        "summary": chart.title[:200],
        "text": chart.alt[:1000],
        "attachments": [
            {
                "contentType": "image/png",
                "contentUrl": "data:image/png;base64," + base64.b64encode(chart.png).decode(),
                "name": chart.filename,
            }
        ],
    }


FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"


def files_activity(notice: Files, offers: list[int]) -> dict[str, Any]:
    """Files (an export) in Teams: one consent card per file (Teams lets a bot send files only once the person
    allows the upload to their OneDrive); each carries the id of the offer kept for it."""
    attachments = [
        {
            "contentType": FILE_CONSENT,
            "name": f.name,
            "content": {
                "description": notice.text[:200],
                "sizeInBytes": len(f.content.encode()),
                "acceptContext": {"offer_id": offer},
                "declineContext": {"offer_id": offer},
            },
        }
        for f, offer in zip(notice.files, offers, strict=True)
    ]
    return {"type": "message", "summary": notice.text[:200], "text": notice.text, "attachments": attachments}


class Tokens:
    """The bot's connector token (client credentials), fetched when needed and kept until shortly before expiry."""

    def __init__(self, http: httpx.Client, app_id: str | None, password: str | None, tenant: str | None) -> None:
        self._http, self._app_id, self._password, self._tenant = http, app_id, password, tenant
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def header(self) -> dict[str, str]:
        if not (self._app_id and self._password):
            return {}  # unauthenticated development: a local emulator or the tests' loopback connector
        with self._lock:
            if self._token is None or self._token[1] < time.monotonic() + 60:
                response = self._http.post(
                    TOKEN_URL.format(tenant=self._tenant or "botframework.com"),
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self._app_id,
                        "client_secret": self._password,
                        "scope": SCOPE,
                    },
                )
                if response.status_code != 200:
                    raise DeliveryError(f"Teams token refused ({response.status_code})", permanent=False)
                body = response.json()
                self._token = (str(body["access_token"]), time.monotonic() + float(body.get("expires_in", 3600)))
            return {"Authorization": f"Bearer {self._token[0]}"}


class TeamsChat:
    """The ChatPort for Teams."""

    platform = TEAMS
    post_interval = 1.0  # Teams allows about one message a second per conversation

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        app_id: str | None,
        password: str | None,
        tenant: str | None,
        hub_channel: str | None,
        http: httpx.Client | None = None,
    ) -> None:
        self._factory = factory
        self._http = http or httpx.Client(timeout=10.0)
        self._tokens = Tokens(self._http, app_id, password, tenant)
        self._app_id = app_id
        self._tenant = tenant
        self._hub_channel = hub_channel

    def bucket(self, operation: str) -> str:
        return {"post": "activities", "update": "activities", "reply": "activities"}.get(operation, operation)

    # --- where things go ------------------------------------------------------------------------------

    def _ref(self, conversation_id: str) -> Ref | None:
        with UnitOfWork(background(self._factory)) as uow:
            found = uow.session.scalar(
                select(ConversationRef).where(
                    ConversationRef.platform == TEAMS, ConversationRef.conversation_id == conversation_id
                )
            )
            return Ref.of(found) if found else None

    def _personal(self, to: Recipient) -> Ref:
        with UnitOfWork(background(self._factory)) as uow:
            found = uow.session.scalar(
                select(ConversationRef)
                .where(
                    ConversationRef.platform == TEAMS,
                    ConversationRef.person_id == to.person_id,
                    ConversationRef.kind == "personal",
                )
                .order_by(ConversationRef.updated_at.desc())
                .limit(1)
            )
            if found is not None:
                return Ref.of(found)
            service_url = uow.session.scalar(
                select(ConversationRef.service_url).order_by(ConversationRef.updated_at.desc()).limit(1)
            )
        user_id = to.handle(TEAMS)
        if not user_id or not service_url:
            raise DeliveryError(f"{to.name} has not talked to the bot on Teams yet", unreachable=True)
        return self._create_personal(to, user_id, service_url)

    def _create_personal(self, to: Recipient, user_id: str, service_url: str) -> Ref:
        """Open a personal chat with someone the bot has not talked to yet (the app is installed for them)."""
        body = {
            "isGroup": False,
            "bot": {"id": f"28:{self._app_id or 'hubspoke'}"},
            "members": [{"id": user_id}],
            "tenantId": self._tenant,
            "channelData": {"tenant": {"id": self._tenant}} if self._tenant else {},
        }
        try:
            response = self._call("POST", f"{service_url.rstrip('/')}/v3/conversations", body)
        except DeliveryError as exc:
            if not exc.permanent:
                raise
            raise DeliveryError(f"Teams would not open a chat with {to.name}: {exc}", unreachable=True) from None
        conversation_id = str(response.get("id") or "")
        if not conversation_id:
            raise DeliveryError(f"Teams opened no chat with {to.name}", permanent=True)
        with UnitOfWork(background(self._factory)) as uow:
            save_reference(
                uow.session,
                TEAMS,
                conversation_id,
                "personal",
                service_url,
                self._tenant,
                now=utcnow(),
                person_id=to.person_id,
            )
            uow.commit()
        return Ref(conversation_id, service_url, self._tenant)

    def _hub(self) -> Ref:
        with UnitOfWork(background(self._factory)) as uow:
            chosen = (repo.get_setting(uow.session, HUB_CHANNEL_KEY) or {}).get("conversation_id")
        channel = chosen or self._hub_channel
        ref = self._ref(channel) if channel else None
        if ref is None:
            raise DeliveryError(
                "the Teams hub channel is not known yet: set TEAMS_HUB_CHANNEL, or a lead types "
                "`hub channel here` in it",
                permanent=True,
            )
        return ref

    # --- the port ---------------------------------------------------------------------------------------

    def fetch_profile(self, to: Recipient) -> Profile | None:
        return None  # names and e-mails come with each activity (the roster is read when one is missing)

    def post(self, notice: Notice, *, channel: str | None = None, to: Recipient | None = None) -> Posted:
        if to is not None:
            ref = self._personal(to)
        elif channel == HUB:
            ref = self._hub()
        else:
            found = self._ref(channel or "")
            if found is None:
                raise DeliveryError(f"Teams channel {channel} has not been seen by the bot", permanent=True)
            ref = found
        url = f"{ref.service_url.rstrip('/')}/v3/conversations/{ref.conversation_id}/activities"
        if isinstance(notice, Files):
            if to is None:
                raise DeliveryError("Teams takes files only in a person's own chat", permanent=True)
            activity = files_activity(notice, self._offer(to.person_id, notice))
        else:
            activity = card_activity(notice)
        response = self._call("POST", url, activity)
        return Posted(ref.conversation_id, str(response.get("id") or ""))

    def _offer(self, person_id: int, notice: Files) -> list[int]:
        """Keep each file until its person allows the upload (a retried post offers new copies; the old expire)."""

        with UnitOfWork(background(self._factory)) as uow:
            rows = [
                FileOffer(
                    person_id=person_id, name=f.name, media_type=f.media_type, content=f.content, created_at=utcnow()
                )
                for f in notice.files
            ]
            uow.session.add_all(rows)
            uow.session.flush()
            ids = [r.id for r in rows]
            uow.commit()
        return ids

    def upload(self, person_id: int, offer_id: int, upload_info: dict[str, Any], address: dict[str, str]) -> str:
        """Put an accepted file where Teams said (its OneDrive upload URL), then show it in the chat."""

        with UnitOfWork(background(self._factory)) as uow:
            offer = uow.session.get(FileOffer, offer_id)
            if offer is None or offer.person_id != person_id:
                return "That file is no longer on offer: ask for the export again."
            data = offer.content.encode()
            name = offer.name
        url = str(upload_info.get("uploadUrl") or "")
        if not url:
            return "Teams gave no place to upload it to."
        headers = {"Content-Length": str(len(data)), "Content-Range": f"bytes 0-{max(len(data) - 1, 0)}/{len(data)}"}
        try:
            response = self._http.put(url, content=data, headers=headers)
        except httpx.HTTPError as exc:
            return f"The upload to OneDrive failed ({type(exc).__name__}): ask for the export again."
        if response.status_code >= 400:
            return f"OneDrive refused the upload ({response.status_code}): ask for the export again."
        info = {
            "contentType": FILE_INFO,
            "contentUrl": upload_info.get("contentUrl"),
            "name": upload_info.get("name") or name,
            "content": {"uniqueId": upload_info.get("uniqueId"), "fileType": upload_info.get("fileType") or "csv"},
        }
        url = f"{address['service_url'].rstrip('/')}/v3/conversations/{address['conversation_id']}/activities"
        self._call("POST", url, {"type": "message", "attachments": [info]})
        with UnitOfWork(background(self._factory)) as uow:
            found = uow.session.get(FileOffer, offer_id)
            if found is not None:
                found.delivered_at = utcnow()
                uow.commit()
        return ""

    def update(self, posted: Posted, notice: Notice) -> None:
        ref = self._ref(posted.channel)
        if ref is None or not posted.ts:
            return
        url = f"{ref.service_url.rstrip('/')}/v3/conversations/{ref.conversation_id}/activities/{posted.ts}"
        self._call("PUT", url, {**card_activity(notice), "id": posted.ts})

    def reply(self, address: str, notice: Notice) -> None:
        """Answer in the conversation a request came from (`address`: service URL, conversation, activity)."""
        where = json.loads(address)
        url = f"{where['service_url'].rstrip('/')}/v3/conversations/{where['conversation_id']}/activities"
        if where.get("reply_to"):
            url += f"/{where['reply_to']}"
        self._call("POST", url, card_activity(notice))

    def member(self, service_url: str, conversation_id: str, user_id: str) -> dict[str, Any] | None:
        """A member of a conversation as the roster has them (their AAD e-mail, name), or None when it cannot say."""
        url = f"{service_url.rstrip('/')}/v3/conversations/{conversation_id}/members/{user_id}"
        try:
            response = self._http.get(url, headers=self._tokens.header())
        except (httpx.HTTPError, DeliveryError) as exc:
            log.info("teams: the roster did not answer (%s)", exc)
            return None
        return dict(response.json()) if response.status_code == 200 and response.content else None

    def answer(self, address: dict[str, str], content: dict[str, Any], attempts: int = 3) -> bool:
        """Answer a message in its conversation, retrying a 429 or 5xx after its Retry-After (a few seconds at most).

        What the message asked for is already done and committed; if the answer still cannot be sent it is logged,
        and the request is not failed (Teams would send the activity again, and the command would run twice).
        """
        for attempt in range(attempts):
            try:
                self.send_card(address, content)
                return True
            except DeliveryError as exc:
                if exc.permanent or attempt == attempts - 1:
                    log.warning("teams: an answer could not be sent (%s)", exc)
                    return False
                time.sleep(min(exc.retry_after if exc.retry_after is not None else 1.0, 5.0))
        return False

    def send_card(self, address: dict[str, str], content: dict[str, Any], text: str = "") -> None:
        """Post a card (an answer or a form) to where a request came from."""
        url = f"{address['service_url'].rstrip('/')}/v3/conversations/{address['conversation_id']}/activities"
        activity = {
            "type": "message",
            "summary": text[:200],
            "attachments": [{"contentType": CARD, "content": content}],
        }
        self._call("POST", url, activity)

    def _call(self, method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.request(method, url, json=body, headers=self._tokens.header())
        except httpx.HTTPError as exc:
            raise DeliveryError(f"Teams connector unreachable: {exc}") from None
        if response.status_code == 429 or response.status_code >= 500:
            after = response.headers.get("Retry-After")
            raise DeliveryError(
                f"Teams connector answered {response.status_code}", retry_after=float(after) if after else None
            )
        if response.status_code >= 400:
            raise DeliveryError(
                f"Teams connector refused ({response.status_code}): {response.text[:200]}", permanent=True
            )
        try:
            return dict(response.json()) if response.content else {}
        except ValueError:
            return {}
