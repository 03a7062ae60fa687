"""The self-serve guidelines: what may go ahead without a hub review, as a lead set them."""

from __future__ import annotations

import datetime as dt

from pydantic import ValidationError
from sqlalchemy.orm import Session

from intake.errors import HubError, NotAllowed
from intake.read_models import Actor
from intake.schema import Sensitivity
from intake.triage import Guidelines
from storage import repo
from storage.db import UnitOfWork

GUIDELINES_KEY = "guidelines"


def load_guidelines(session: Session) -> Guidelines:
    """The hub's self-serve guidelines, or the defaults when no lead has set them."""
    stored = repo.get_setting(session, GUIDELINES_KEY)
    return Guidelines.model_validate(stored) if stored else Guidelines()


def set_guideline(uow: UnitOfWork, actor: Actor, key: str, value: str, *, now: dt.datetime) -> Guidelines:
    """Change one self-serve guideline; `value` is what a lead typed (on/off, or a list of sensitivities)."""
    if not actor.is_lead:
        raise NotAllowed("Only hub leads can change the hub's set-up. Ask a lead (see /hub help).")
    current = load_guidelines(uow.session)
    fields = Guidelines.model_fields
    if key not in fields:
        raise HubError(f"Unknown guideline '{key}'. Guidelines: {', '.join(fields)}.")
    raw: object
    if key == "self_serve_sensitivity":
        raw = [v.strip().lower() for v in value.replace(",", " ").split() if v.strip()]
    elif key == "wip_limit":
        if not (value.strip().isascii() and value.strip().isdigit()):
            raise HubError("wip_limit takes a number of use cases (0: no limit), e.g. /hub guidelines set wip_limit 30")
        raw = int(value.strip())
    elif key == "innovation_band":
        low, _, high = value.strip().rstrip("%").partition("-")
        if not (low.strip().isdigit() and high.strip().rstrip("%").isdigit()):
            raise HubError("innovation_band takes a range of percentages, e.g. 10-20")
        raw = (int(low), int(high.strip().rstrip("%")))
        if not 0 <= raw[0] <= raw[1] <= 100:
            raise HubError("innovation_band takes a range of percentages from low to high, e.g. 10-20")
    else:
        lowered = value.strip().lower()
        if lowered not in {"on", "off", "true", "false", "yes", "no"}:
            raise HubError(f"{key} takes on or off.")
        raw = lowered in {"on", "true", "yes"}
    try:
        updated = Guidelines.model_validate({**current.model_dump(), key: raw})
    except ValidationError:
        choices = ", ".join(s.value for s in Sensitivity)
        raise HubError(f"{key} takes a list of: {choices}.") from None
    repo.put_setting(uow.session, GUIDELINES_KEY, updated.model_dump(mode="json"), now)
    repo.audit(
        uow.session,
        action="guidelines",
        actor_id=actor.person_id or None,
        before=current.model_dump(mode="json"),
        after=updated.model_dump(mode="json"),
        at=now,
    )
    uow.commit()
    return updated


def get_guidelines(uow: UnitOfWork) -> Guidelines:
    return load_guidelines(uow.session)
