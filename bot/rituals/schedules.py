"""Rituals on a schedule, as data the hub manages: cadences people type, next and last runs, exactly once.

A schedule is a job (the portfolio `digest` first), a cadence as typed ("weekly monday 09:00", "monthly
first thursday 15:00", "every 2 weeks friday 16:00", "quarterly", "daily 08:30" on working days), a time
zone (the hub's by default) and a channel. Cadences are read into `dateutil.rrule` recurrences, the
well-kept library for calendar rules (DST-correct in the schedule's own zone).

Every run claims `(schedule name, period)` first, the period being the occurrence it is for (in UTC), so two
clocks, a restart, a DST change or `hubspoke jobs run` beside the clock never send twice. After downtime, the
latest missed occurrence still runs if it is within its grace period; older ones are skipped, never sent as
a backlog, and a skipped or empty run is recorded with why, so `/hub schedule list` can show it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from intake.calendar import Calendar, hub_dates, parse_calendar_code
from intake.errors import HubError, NotAllowed, NotFound
from intake.read_models import Actor
from storage import repo
from storage.db import UnitOfWork
from storage.models import JobRun, Person, Schedule

DAYS = {
    "monday": rrule.MO,
    "tuesday": rrule.TU,
    "wednesday": rrule.WE,
    "thursday": rrule.TH,
    "friday": rrule.FR,
    "saturday": rrule.SA,
    "sunday": rrule.SU,
}
NTH = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
WORKDAYS = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR)
JOBS = {
    "digest": "the portfolio digest to the hub channel: what is new, waiting, stale, shipped and learned",
    "department-digest": "each department's own digest, to its channel (/hub department channel Finance #fin-ai)",
    "showcase": "the showcase: invitations two weeks ahead, the agenda a week ahead and on the day",
}
RULE_USAGE = (
    "Say when: weekly monday 09:00 · every 2 weeks friday 16:00 · monthly first thursday 15:00 · "
    "quarterly first monday 10:00 · daily 08:30 (working days)"
)
ANCHOR = dt.datetime(2026, 1, 5)  # a Monday: "every 2 weeks" counts from it, so every process agrees


@dataclass(frozen=True)
class ScheduleView:
    """A schedule as its services return it (plain data, readable after its unit of work ends)."""

    name: str
    job: str
    rule: str
    tz: str
    channel: str
    paused: bool
    last_period: str | None
    last_run_at: dt.datetime | None
    last_outcome: str | None
    created_at: dt.datetime | None = None
    holidays: str | None = None  # the public holidays calendar it skips ("GB-ENG"); None: only the hub's own dates

    @classmethod
    def of(cls, s: Schedule) -> ScheduleView:
        return cls(
            s.name,
            s.job,
            s.rule,
            s.tz,
            s.channel,
            s.paused,
            s.last_period,
            s.last_run_at,
            s.last_outcome,
            s.created_at,
            s.holidays,
        )


@dataclass(frozen=True)
class Rule:
    """A cadence read from words: the recurrence, and how late a missed run may still go out."""

    text: str
    freq: int
    interval: int
    byweekday: tuple[rrule.weekday, ...]
    hour: int
    minute: int

    @property
    def grace(self) -> dt.timedelta:
        return dt.timedelta(hours=2) if self.freq == rrule.DAILY else dt.timedelta(hours=12)

    def recurrence(self, zone: dt.tzinfo) -> rrule.rrule:
        start = ANCHOR.replace(hour=self.hour, minute=self.minute, tzinfo=zone)
        return rrule.rrule(
            self.freq,
            dtstart=start,
            interval=self.interval,
            byweekday=self.byweekday or None,
            byhour=self.hour,
            byminute=self.minute,
            bysecond=0,
        )


def parse_rule(text: str) -> Rule:
    """`weekly monday 09:00` and the like into a Rule; anything else is refused with the forms that work."""
    words = text.lower().split()
    clock = next((w for w in words if re.fullmatch(r"\d{1,2}:\d{2}", w)), "09:00")
    hour, minute = (int(p) for p in clock.split(":"))
    if hour > 23 or minute > 59:
        raise HubError(f"{clock} is not a time of day. {RULE_USAGE}")
    rest = [w for w in words if w != clock]
    day = next((DAYS[w] for w in rest if w in DAYS), None)
    nth = next((NTH[w] for w in rest if w in NTH), None)
    if rest[:1] == ["daily"]:
        return Rule(text, rrule.DAILY, 1, WORKDAYS, hour, minute)
    if rest[:1] == ["weekly"]:
        return Rule(text, rrule.WEEKLY, 1, (day or rrule.MO,), hour, minute)
    if rest[:1] == ["every"] and len(rest) > 2 and rest[1].isdigit() and rest[2] in ("weeks", "week"):
        return Rule(text, rrule.WEEKLY, max(1, min(int(rest[1]), 52)), (day or rrule.MO,), hour, minute)
    if rest[:1] in (["monthly"], ["quarterly"]):
        which = (day or rrule.MO)(nth or 1)
        return Rule(text, rrule.MONTHLY, 3 if rest[0] == "quarterly" else 1, (which,), hour, minute)
    raise HubError(f"I could not read '{text[:60]}' as a cadence. {RULE_USAGE}")


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HubError(f"{name[:60]} is not a time zone; use a name like Europe/London or America/New_York.") from None


def next_run(schedule: ScheduleView, after: dt.datetime) -> dt.datetime | None:
    """The next occurrence after `after`, in UTC."""
    recurrence = parse_rule(schedule.rule).recurrence(zone_of(schedule.tz))
    found = recurrence.after(after.astimezone(zone_of(schedule.tz)))
    # Local times compare on the wall clock: in a DST change's repeated hour one can read as later than it is.
    while found is not None and found.astimezone(dt.UTC) <= after:
        found = recurrence.after(found)
    return found.astimezone(dt.UTC) if found else None


def last_due(schedule: ScheduleView, now: dt.datetime) -> dt.datetime | None:
    """The latest occurrence at or before `now`, in UTC."""
    zone = zone_of(schedule.tz)
    recurrence = parse_rule(schedule.rule).recurrence(zone)
    found = recurrence.before(now.astimezone(zone), inc=True)
    # A time the spring change skips (02:30) reads as before 03:00 on the wall clock, but is 03:30 in fact.
    while found is not None and found.astimezone(dt.UTC) > now:
        found = recurrence.before(found)
    return found.astimezone(dt.UTC) if found else None


def previous_run(schedule: ScheduleView, occurrence: dt.datetime) -> dt.datetime | None:
    """The occurrence before `occurrence`, in UTC (what a run reports since)."""
    zone = zone_of(schedule.tz)
    recurrence = parse_rule(schedule.rule).recurrence(zone)
    found = recurrence.before(occurrence.astimezone(zone))
    while found is not None and found.astimezone(dt.UTC) >= occurrence:
        found = recurrence.before(found)
    return found.astimezone(dt.UTC) if found else None


def period_of(occurrence: dt.datetime) -> str:
    return occurrence.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


# --- what leads do in chat ----------------------------------------------------------------------


def _lead(uow: UnitOfWork, actor: Actor) -> None:
    person = uow.session.get(Person, actor.person_id, populate_existing=True) if actor.person_id else None
    if not (person is not None and person.is_lead) and not (actor.person_id == 0 and actor.is_lead):
        raise NotAllowed("Only hub leads can change the hub's schedules.")


def add_schedule(
    uow: UnitOfWork,
    actor: Actor,
    job: str,
    rule: str,
    channel: str,
    tz: str,
    *,
    name: str | None = None,
    holidays: str = "",
    now: dt.datetime,
) -> ScheduleView:
    """A new schedule for `job` (its name is the job's unless given); refused with why when it cannot be read.

    `holidays` is a public holidays calendar ("GB-ENG") whose days it skips, besides the hub's own.
    """
    _lead(uow, actor)
    if job not in JOBS:
        raise HubError(f"There is no ritual called {job[:40]}. Schedules run: {', '.join(JOBS)}.")
    parse_rule(rule)
    zone_of(tz)
    code = parse_calendar_code(holidays) if holidays.strip() else None
    name = (name or job).lower()
    s = uow.session
    if s.scalar(select(Schedule).where(Schedule.name == name)) is not None:
        raise HubError(f"There is already a schedule called {name}: remove it first (/hub schedule remove {name}).")
    schedule = Schedule(
        name=name,
        job=job,
        rule=" ".join(rule.split()),
        tz=tz,
        channel=channel,
        created_by_id=actor.person_id or None,
        created_at=now,
        holidays=code,
    )
    s.add(schedule)
    s.flush()
    repo.audit(
        s,
        action="schedule_added",
        actor_id=actor.person_id or None,
        after={"name": name, "job": job, "rule": schedule.rule, "tz": tz, "channel": channel, "holidays": code},
        at=now,
    )
    uow.commit()
    return ScheduleView.of(schedule)


def _find(uow: UnitOfWork, name: str) -> Schedule:
    found = uow.session.scalar(select(Schedule).where(Schedule.name == name.lower()))
    if found is None:
        names = ", ".join(uow.session.scalars(select(Schedule.name).order_by(Schedule.name))) or "none yet"
        raise NotFound(f"There is no schedule called {name[:40]}. Schedules: {names}.")
    return found


def find_schedule(uow: UnitOfWork, name: str) -> ScheduleView:
    return ScheduleView.of(_find(uow, name))


def set_paused(uow: UnitOfWork, actor: Actor, name: str, paused: bool, *, now: dt.datetime) -> ScheduleView:
    _lead(uow, actor)
    schedule = _find(uow, name)
    schedule.paused = paused
    repo.audit(
        uow.session,
        action="schedule_paused" if paused else "schedule_resumed",
        actor_id=actor.person_id or None,
        after={"name": schedule.name},
        at=now,
    )
    uow.commit()
    return ScheduleView.of(schedule)


def remove_schedule(uow: UnitOfWork, actor: Actor, name: str, *, now: dt.datetime) -> str:
    _lead(uow, actor)
    schedule = _find(uow, name)
    uow.session.delete(schedule)
    repo.audit(
        uow.session,
        action="schedule_removed",
        actor_id=actor.person_id or None,
        before={"name": schedule.name, "rule": schedule.rule},
        at=now,
    )
    uow.commit()
    return schedule.name


def list_schedules(uow: UnitOfWork) -> list[ScheduleView]:
    return [ScheduleView.of(s) for s in uow.session.scalars(select(Schedule).order_by(Schedule.name))]


# --- running them -------------------------------------------------------------------------------


def claim(uow: UnitOfWork, name: str, period: str, now: dt.datetime) -> bool:
    """Claim `(name, period)`; False when it ran already (another clock, a restart, `jobs run`)."""
    uow.session.add(JobRun(job=name, period=period, claimed_at=now))
    try:
        uow.commit()
    except IntegrityError:
        uow.session.rollback()
        return False
    return True


def record(uow: UnitOfWork, name: str, period: str, outcome: str, now: dt.datetime) -> None:
    schedule = uow.session.scalar(select(Schedule).where(Schedule.name == name))
    if schedule is not None:
        schedule.last_period, schedule.last_run_at, schedule.last_outcome = period, now, outcome[:200]
        uow.commit()


def due(schedule: ScheduleView, now: dt.datetime) -> tuple[str | None, str | None]:
    """(the period to run now, or None; why not, when it is worth recording)."""
    occurrence = last_due(schedule, now)
    if occurrence is None or (schedule.created_at is not None and occurrence < schedule.created_at):
        return None, None  # nothing due since it was made
    period = period_of(occurrence)
    if schedule.last_period == period:
        return None, None
    if schedule.paused:
        return None, f"skipped {period}: paused"
    if now - occurrence > parse_rule(schedule.rule).grace:
        return None, f"skipped {period}: the clock was down past its grace period"
    return period, None


def skip_reason(uow: UnitOfWork, schedule: ScheduleView, occurrence: dt.datetime, hub_calendar: Calendar) -> str | None:
    """Why this occurrence is not run ("holiday: Christmas Day"), or None to run it.

    Its day is the occurrence's date in the schedule's zone; the holidays are its own calendar's public ones
    and the dates the hub added (as stored now, and any `hub_calendar` carries).
    """
    day = occurrence.astimezone(zone_of(schedule.tz)).date()
    added = {**dict(hub_calendar.extra), **hub_dates(uow.session)}
    name = Calendar(holidays=schedule.holidays or "", extra=tuple(added.items())).holiday_name(day)
    return f"holiday: {name}" if name is not None else None
