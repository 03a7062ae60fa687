"""Platform events seen once: Slack and Teams retry deliveries, and a retry must do nothing new."""

from __future__ import annotations

import datetime as dt

from storage import repo
from storage.db import UnitOfWork


def claim_event(uow: UnitOfWork, event_id: str, *, now: dt.datetime) -> bool:
    """True the first time an event id is seen; Slack's retries of it return False."""
    fresh = repo.claim_event(uow.session, event_id, now)
    uow.commit()
    return fresh
