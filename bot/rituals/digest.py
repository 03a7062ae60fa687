"""The portfolio digest, and running scheduled rituals: due ones from the clock, any one from `hubspoke jobs run`.

Both paths are the same: claim the period, build what to say, queue it in the outbox, record the outcome.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select

from bot.core import Core
from bot.rituals import schedules
from intake.notices import HUB, Digest
from intake.portfolio import portfolio
from intake.read_models import jsonable
from storage import repo
from storage.db import UnitOfWork
from storage.models import AuditEvent, Review, UseCase

log = logging.getLogger(__name__)


def digest_notice(uow: UnitOfWork, *, since: dt.datetime, now: dt.datetime, title: str) -> Digest | None:
    """What the hub did since `since` and where the portfolio stands now; None when the hub is empty."""
    s = uow.session
    view = portfolio(uow, now=now)
    if not view.total:
        return None
    new = s.scalar(select(func.count()).select_from(UseCase).where(UseCase.created_at >= since)) or 0
    decided = (
        s.scalar(select(func.count()).select_from(Review).where(Review.decided_at >= since, Review.decided_at <= now))
        or 0
    )
    moved = (
        s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "stage", AuditEvent.at >= since)
        )
        or 0
    )
    return Digest(title=title, since=since, at=now, new=new, decided=decided, moved=moved, view=view)


def _channel(schedule: schedules.ScheduleView) -> str:
    return HUB if schedule.channel in ("", HUB) else schedule.channel


def run_schedule(core: Core, name: str, period: str | None = None, *, now: dt.datetime | None = None) -> str:
    """Run one schedule for `period` (default: now's), once: the outcome as `list` shows it."""
    now = now or core.now()
    schedule = core.read(schedules.find_schedule, name)
    period = period or schedules.period_of(now)
    if not core.run(schedules.claim, schedule.name, period):
        return f"already ran for {period}"
    rule = schedules.parse_rule(schedule.rule)
    zone = schedules.zone_of(schedule.tz)
    occurrence = schedules.last_due(schedule, now) or now
    before = rule.recurrence(zone).before(occurrence.astimezone(zone))
    since = before.astimezone(dt.UTC) if before else now - dt.timedelta(days=7)
    local = now.astimezone(zone)
    title = f"Portfolio digest, {local:%a %d %b %Y}"
    notice = core.read(digest_notice, since=since, now=now, title=title)
    if notice is None:
        outcome = f"skipped {period}: nothing to say (no use cases yet)"
    else:
        core.run(_enqueue, notice, _channel(schedule))
        outcome = f"sent {period} to {schedule.channel or 'the hub channel'}"
    core.run(schedules.record, schedule.name, period, outcome)
    log.info("schedule %s: %s", schedule.name, outcome)
    return outcome


def _enqueue(uow: UnitOfWork, notice: Digest, channel: str, *, now: dt.datetime) -> None:
    repo.enqueue(uow.session, jsonable(notice), channel=channel, at=now)
    uow.commit()


def run_due(core: Core, now: dt.datetime | None = None) -> list[str]:
    """Every minute, from the clock: run what is due now; record what was skipped and why."""
    now = now or core.now()
    outcomes = []
    for schedule in core.read(schedules.list_schedules):
        period, skipped = schedules.due(schedule, now)
        if period is not None:
            outcomes.append(f"{schedule.name}: {run_schedule(core, schedule.name, period, now=now)}")
        elif skipped is not None and not (schedule.last_outcome or "").startswith(skipped):
            core.run(schedules.record, schedule.name, skipped.split(": ", 1)[0].removeprefix("skipped "), skipped)
            outcomes.append(f"{schedule.name}: {skipped}")
    return outcomes
