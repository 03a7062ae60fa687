"""The showcase ritual on its schedule: invitations two weeks ahead, the agenda a week ahead and on the day, and
the presenters recorded afterwards. Each phase of each occurrence claims `(schedule, occurrence:phase)` first, so
two clocks, a restart or `hubspoke jobs run showcase` never invite or post twice; a phase whose moment passed
while the clock was down still runs while it is useful, never after (no agenda after the showcase).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from bot.core import Core
from bot.rituals import schedules
from intake import showcases
from intake.notices import HUB, ShowcaseAgenda
from intake.read_models import jsonable
from storage import repo
from storage.db import UnitOfWork
from storage.models import Showcase

DAY = dt.timedelta(days=1)
ANSWER_TIME = dt.timedelta(days=2)
FIRST_NOTICE = dt.timedelta(days=7)
LOOKBACK = dt.timedelta(days=60)  # what shipped in the last two months is worth showing, the first time


@dataclass(frozen=True)
class Phase:
    """One step of a showcase: from when it may run, until when it is still worth running."""

    name: str
    start: Callable[[dt.datetime], dt.datetime]
    end: Callable[[dt.datetime], dt.datetime]


PHASES = (
    Phase("invite", lambda at: at - 14 * DAY, lambda at: at - DAY),
    Phase("agenda", lambda at: at - 7 * DAY, lambda at: at - DAY),
    Phase("day", lambda at: at - dt.timedelta(hours=3), lambda at: at),
    Phase("record", lambda at: at + dt.timedelta(hours=2), lambda at: at + 7 * DAY),
)


def channel_of(schedule: schedules.ScheduleView) -> str:
    return HUB if schedule.channel in ("", HUB) else schedule.channel


def occurrences(schedule: schedules.ScheduleView, now: dt.datetime) -> list[dt.datetime]:
    """The showcases whose phases may run now: from a week ago to two weeks ahead, in UTC."""
    zone = schedules.zone_of(schedule.tz)
    rule = schedules.parse_rule(schedule.rule).recurrence(zone)
    found = rule.between((now - 7 * DAY).astimezone(zone), (now + 14 * DAY).astimezone(zone), inc=True)
    return [at.astimezone(dt.UTC) for at in found]


def _invite(uow: UnitOfWork, schedule: schedules.ScheduleView, at: dt.datetime, *, now: dt.datetime) -> str:
    s = uow.session
    showcase = showcases.ensure_showcase(s, schedule.name, at, schedule.channel, now)
    previous = s.scalar(select(func.max(Showcase.at)).where(Showcase.schedule == schedule.name, Showcase.at < at))
    since = previous if previous is not None and at - previous <= LOOKBACK else at - LOOKBACK
    count = showcases.invite_candidates(s, showcase, since, now=now)
    uow.commit()
    return f"invited {count}" if count else "invited nobody (nothing shipped or learned since the last one)"


def _agenda(
    uow: UnitOfWork, schedule: schedules.ScheduleView, at: dt.datetime, *, day_of: bool, now: dt.datetime
) -> str:
    s = uow.session
    showcase = showcases.ensure_showcase(s, schedule.name, at, schedule.channel, now)
    notice = ShowcaseAgenda(at=at, presenters=showcases.presenters(s, showcase), day_of=day_of)
    repo.enqueue(s, jsonable(notice), channel=channel_of(schedule), at=now)
    uow.commit()
    return f"agenda posted ({len(notice.presenters)} presenting)"


def _record(uow: UnitOfWork, schedule: schedules.ScheduleView, at: dt.datetime, *, now: dt.datetime) -> str:
    s = uow.session
    showcase = showcases.ensure_showcase(s, schedule.name, at, schedule.channel, now)
    count = showcases.record_presenters(s, showcase, now=now)
    uow.commit()
    return f"recorded {count} presenter{'s' if count != 1 else ''}"


def _answers_had_time(uow: UnitOfWork, name: str, at: dt.datetime, now: dt.datetime) -> bool:
    """The week-ahead agenda waits until invitations have been out two days (a schedule made late)."""
    showcase = uow.session.scalar(select(Showcase).where(Showcase.schedule == name, Showcase.at == at))
    return showcase is None or now - showcase.created_at >= ANSWER_TIME


def run_phase(core: Core, schedule: schedules.ScheduleView, at: dt.datetime, phase: str, now: dt.datetime) -> str:
    """Carry out one phase of the showcase at `at` (already claimed)."""
    if phase == "invite":
        return core.run(_invite, schedule, at)
    if phase in ("agenda", "day"):
        return core.run(_agenda, schedule, at, day_of=phase == "day")
    return core.run(_record, schedule, at)


def run_showcase(core: Core, schedule: schedules.ScheduleView, now: dt.datetime, *, force: bool = False) -> list[str]:
    """Every phase due now of every showcase near `now`, each once; `force` ignores a pause (`jobs run`)."""
    if schedule.paused and not force:
        return []
    outcomes = []
    for at in occurrences(schedule, now):
        if schedule.created_at is not None and at < schedule.created_at + FIRST_NOTICE:
            continue  # too soon after the schedule was made to invite anyone: the first is the next one
        for phase in PHASES:
            if not phase.start(at) <= now < phase.end(at):
                continue
            if phase.name == "agenda" and not core.read(_answers_had_time, schedule.name, at, now):
                continue
            period = f"{schedules.period_of(at)}:{phase.name}"
            if not core.run(schedules.claim, schedule.name, period):
                continue
            outcome = f"{period} {run_phase(core, schedule, at, phase.name, now)}"
            core.run(schedules.record, schedule.name, period, outcome)
            outcomes.append(outcome)
    return outcomes


def preview(uow: UnitOfWork, schedule: schedules.ScheduleView, *, now: dt.datetime) -> ShowcaseAgenda | None:
    """The agenda of the next showcase as it stands (for `/hub schedule preview showcase`)."""
    upcoming = [at for at in occurrences(schedule, now) if at > now]
    if not upcoming:
        return None
    at = upcoming[0]
    found = showcases.next_showcase(uow.session, now)
    presenters = showcases.presenters(uow.session, found) if found is not None and found.at == at else []
    return ShowcaseAgenda(at=at, presenters=presenters, day_of=False)
