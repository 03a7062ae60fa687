"""Reminders: nudge reviewers about reviews that wait too long, and escalate to the hub."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from intake.notices import HUB, ReviewNudge
from intake.read_models import PersonView, UseCaseView, jsonable
from storage import repo
from storage.db import UnitOfWork
from storage.models import Person, Review, UseCase


def remind_waiting_reviews(
    uow: UnitOfWork, *, remind_after: dt.timedelta, escalate_after: dt.timedelta, now: dt.datetime
) -> dict[str, int]:
    """Queue one reminder per review past `remind_after` and one escalation past `escalate_after`."""
    s = uow.session
    waiting = s.scalars(select(Review).where(Review.decision.is_(None)).order_by(Review.opened_at)).all()
    leads = [PersonView.of(p) for p in s.scalars(select(Person).where(Person.is_lead.is_(True)))]
    counts = {"reminded": 0, "escalated": 0}
    for review in waiting:
        since = review.assigned_at or review.opened_at
        waited = now - since
        uc = s.get(UseCase, review.use_case_id)
        assert uc is not None
        view = UseCaseView.of(uc, review)
        hours = waited.total_seconds() / 3600
        # An away reviewer will not act on a DM: the hub hears about it as soon as a reminder is due.
        away = review.reviewer is not None and review.reviewer.away
        due = escalate_after if not away else remind_after
        if waited >= due and review.escalated_at is None:
            nudge = ReviewNudge(use_case=view, waited_hours=hours, escalation=True, leads=leads)
            repo.enqueue(s, jsonable(nudge), channel=HUB, at=now)
            review.escalated_at = now
            counts["escalated"] += 1
        elif waited >= remind_after and review.reminded_at is None and review.reviewer_id is not None:
            repo.enqueue(
                s, jsonable(ReviewNudge(use_case=view, waited_hours=hours)), person_id=review.reviewer_id, at=now
            )
            review.reminded_at = now
            counts["reminded"] += 1
    uow.commit()
    return counts
