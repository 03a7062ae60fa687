"""The hub's own holidays and people's working hours, as leads and people set them in chat."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from intake.calendar import (
    HUB_HOLIDAYS_KEY,
    Calendar,
    HubDefaults,
    calendar_for,
    hub_dates,
    parse_calendar_code,
    parse_hours,
    zone_for,
)
from intake.errors import HubError, NotAllowed, NotFound
from intake.people import PersonRef, find
from intake.read_models import Actor, PersonView
from storage import repo
from storage.db import UnitOfWork
from storage.models import Person

HUB = "hub"  # a HolidayView the hub added
PUBLIC = "public"  # one of the hub calendar's public holidays
DEFAULT_WORDS = frozenset({"default", "hub"})  # back to the hub's hours or holidays
NO_HOLIDAYS = frozenset({"none", "off"})


@dataclass(frozen=True)
class HolidayView:
    """One holiday as the list shows it: when, what, and whether the hub added it or it is a public one."""

    date: dt.date
    name: str
    source: str


@dataclass(frozen=True)
class HoursView:
    """When a person works, and which of it is theirs rather than the hub's."""

    person: PersonView
    hours: str
    holidays: str  # a calendar code; "" keeps no public holidays
    tz: str
    own_hours: bool
    own_holidays: bool
    own_tz: bool
    next_holiday: HolidayView | None = None


def _lead(uow: UnitOfWork, actor: Actor, what: str) -> None:
    """Refuse anyone but a lead, by the roles stored now (a cached Actor may be a minute old)."""
    person = uow.session.get(Person, actor.person_id, populate_existing=True) if actor.person_id else None
    if not (person is not None and person.is_lead) and not (actor.person_id == 0 and actor.is_lead):
        raise NotAllowed(f"Only hub leads can {what}. Ask a lead (see /hub help).")


# --- the hub's own holidays -----------------------------------------------------------------------


def add_holiday(uow: UnitOfWork, actor: Actor, day: dt.date, name: str, *, now: dt.datetime) -> HolidayView:
    """Add a date the whole hub keeps as a holiday (leads only); the same date again renames it."""
    _lead(uow, actor, "change the hub's holidays")
    clean = " ".join(name.split())[:80] or "Hub holiday"
    dates = hub_dates(uow.session)
    before = dates.get(day)
    dates[day] = clean
    _store(uow, dates, now)
    repo.audit(
        uow.session,
        action="holiday_added",
        actor_id=actor.person_id or None,
        before={"date": day.isoformat(), "name": before} if before else None,
        after={"date": day.isoformat(), "name": clean},
        at=now,
    )
    uow.commit()
    return HolidayView(day, clean, HUB)


def remove_holiday(uow: UnitOfWork, actor: Actor, day: dt.date, *, now: dt.datetime) -> HolidayView:
    """Take a date the hub added off its holidays (leads only); public holidays are not the hub's to remove."""
    _lead(uow, actor, "change the hub's holidays")
    dates = hub_dates(uow.session)
    if day not in dates:
        upcoming = ", ".join(d.isoformat() for d in sorted(dates) if d >= now.date()) or "none"
        raise NotFound(f"The hub added no holiday on {day:%a %d %b %Y}. Its own upcoming holidays: {upcoming}.")
    name = dates.pop(day)
    _store(uow, dates, now)
    repo.audit(
        uow.session,
        action="holiday_removed",
        actor_id=actor.person_id or None,
        before={"date": day.isoformat(), "name": name},
        at=now,
    )
    uow.commit()
    return HolidayView(day, name, HUB)


def _store(uow: UnitOfWork, dates: dict[dt.date, str], now: dt.datetime) -> None:
    stored = {d.isoformat(): n for d, n in sorted(dates.items())}
    repo.put_setting(uow.session, HUB_HOLIDAYS_KEY, {"dates": stored}, now)


def list_holidays(uow: UnitOfWork, hub_calendar: Calendar, today: dt.date, days: int = 90) -> list[HolidayView]:
    """The hub's own holidays from today on, and its calendar's public ones in the next `days` days."""
    added = {**dict(hub_calendar.extra), **hub_dates(uow.session)}
    found = {d: HolidayView(d, n, HUB) for d, n in added.items() if d >= today}
    public = Calendar(holidays=hub_calendar.holidays)
    for offset in range(days):
        day = today + dt.timedelta(days=offset)
        name = public.holiday_name(day)
        if name is not None and day not in found:
            found[day] = HolidayView(day, name, PUBLIC)
    return [found[d] for d in sorted(found)]


# --- people's working hours -----------------------------------------------------------------------


def _person(uow: UnitOfWork, actor: Actor, target: PersonRef | None) -> Person:
    if target is None:
        person = uow.session.get(Person, actor.person_id) if actor.person_id else None
        if person is None:
            raise HubError("Whose hours? Mention the person: /hub hours 08:00-16:00 @person")
        return person
    found = find(uow.session, target)
    if found is None:
        raise NotFound("That person has not used Hubspoke yet.")
    return found


def _view(uow: UnitOfWork, person: Person, hub: HubDefaults, now: dt.datetime) -> HoursView:
    calendar = calendar_for(person, hub.calendar)
    zone = zone_for(person, hub.zone)
    today = now.astimezone(zone).date()
    upcoming = None
    for offset in range(90):
        day = today + dt.timedelta(days=offset)
        if (name := calendar.holiday_name(day)) is not None:
            upcoming = HolidayView(day, name, HUB if name == dict(calendar.extra).get(day) else PUBLIC)
            break
    return HoursView(
        person=PersonView.of(person, with_skills=False),
        hours=calendar.hours,
        holidays=calendar.holidays,
        tz=str(zone.key),
        own_hours=bool(person.working_hours),
        own_holidays=person.holidays is not None,
        own_tz=str(zone.key) == person.tz,
        next_holiday=upcoming,
    )


def show_hours(
    uow: UnitOfWork, actor: Actor, target: PersonRef | None, *, hub: HubDefaults, now: dt.datetime
) -> HoursView:
    """A person's working hours, zone and holidays (yours by default); anyone may look."""
    return _view(uow, _person(uow, actor, target), hub, now)


def set_hours(
    uow: UnitOfWork,
    actor: Actor,
    target: PersonRef | None,
    hours: str | None,
    holidays: str | None,
    *,
    hub: HubDefaults,
    now: dt.datetime,
) -> HoursView:
    """Set when messages to a person may arrive and whose holidays they keep; yours, or anyone's for a lead.

    `hours` "08:00-16:00" or "default" (the hub's); `holidays` a calendar code, "none" or "default"; None
    leaves that one as it is.
    """
    person = _person(uow, actor, target)
    if person.id != actor.person_id:
        _lead(uow, actor, "set other people's working hours")
    before = {"person": person.id, "working_hours": person.working_hours, "holidays": person.holidays}
    if hours is not None:
        if hours.strip().lower() in DEFAULT_WORDS:
            person.working_hours = None
        else:
            start, end = parse_hours(hours)
            person.working_hours = f"{start:%H:%M}-{end:%H:%M}"
    if holidays is not None:
        word = holidays.strip().lower()
        person.holidays = None if word in DEFAULT_WORDS else "" if word in NO_HOLIDAYS else parse_calendar_code(word)
    repo.audit(
        uow.session,
        action="working_hours",
        actor_id=actor.person_id or None,
        before=before,
        after={"working_hours": person.working_hours, "holidays": person.holidays},
        at=now,
    )
    view = _view(uow, person, hub, now)
    uow.commit()
    return view
