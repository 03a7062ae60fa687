"""Where the bot can reach people and channels on platforms that need a saved conversation (Teams): saved when the
app is installed or first spoken to, and the hub channel a lead chooses in chat."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.errors import HubError, NotAllowed
from intake.read_models import Actor
from storage import repo
from storage.db import UnitOfWork
from storage.models import ConversationRef, Person

HUB_CHANNEL_KEY = "teams_hub_channel"  # hub_settings: the channel a lead chose with `hub channel here`
LEADS_ONLY = "Only a hub lead can make this the hub channel."
IN_THE_CHANNEL = "Type this in the channel that should be the hub's, with @Hubspoke."


def save_reference(
    session: Session,
    platform: str,
    conversation_id: str,
    kind: str,
    service_url: str,
    tenant_id: str | None,
    *,
    now: dt.datetime,
    person_id: int | None = None,
) -> ConversationRef:
    """Remember (or refresh) where a conversation is, in the caller's transaction."""
    found = session.scalar(
        select(ConversationRef).where(
            ConversationRef.platform == platform, ConversationRef.conversation_id == conversation_id
        )
    )
    if found is None:
        found = ConversationRef(platform=platform, conversation_id=conversation_id, created_at=now)
        session.add(found)
    found.kind, found.service_url, found.tenant_id = kind, service_url, tenant_id
    found.person_id = person_id if person_id is not None else found.person_id
    found.updated_at = now
    session.flush()
    return found


def remember(
    uow: UnitOfWork,
    platform: str,
    conversation_id: str,
    kind: str,
    service_url: str,
    tenant_id: str | None,
    *,
    person_id: int | None = None,
    now: dt.datetime,
) -> None:
    """Save where a conversation is (a personal one as its person's), committed on return."""
    save_reference(
        uow.session,
        platform,
        conversation_id,
        kind,
        service_url,
        tenant_id,
        now=now,
        person_id=person_id if kind == "personal" else None,
    )
    uow.commit()


def set_hub_channel(
    uow: UnitOfWork,
    actor: Actor,
    platform: str,
    conversation_id: str,
    kind: str,
    service_url: str,
    tenant_id: str | None,
    *,
    now: dt.datetime,
) -> None:
    """Make a channel the hub's, for a lead as stored now (never a cached role)."""
    person = uow.session.get(Person, actor.person_id, populate_existing=True) if actor.person_id else None
    if person is None or not person.is_lead:
        raise NotAllowed(LEADS_ONLY)
    if kind != "channel":
        raise HubError(IN_THE_CHANNEL)
    save_reference(uow.session, platform, conversation_id, "channel", service_url, tenant_id, now=now)
    repo.put_setting(uow.session, HUB_CHANNEL_KEY, {"conversation_id": conversation_id}, now)
    uow.commit()
