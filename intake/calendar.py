"""Working hours, time zones and public holidays: when a person (or the hub) is at work.

A Calendar is a working day's hours (read in whatever zone it is applied in), the working weekdays, a
public holidays calendar of the `holidays` package ("GB-ENG": a country, or a country and one of its
regions) and the dates the hub added itself. A message addressed to a person waits for their next working
moment in their own zone; review SLAs count working hours only. Every instant in and out is aware (UTC
out); local days are worked out in the zone given, so DST changes are counted as the clocks show them.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as public_holidays
from sqlalchemy.orm import Session

from intake.errors import HubError
from storage import repo
from storage.db import HUB_CALENDAR, UnitOfWork
from storage.models import Person

DEFAULT_HOURS = "09:00-17:00"
MON_FRI = frozenset(range(5))
HUB_HOLIDAYS_KEY = "holidays"  # hub_settings row: {"dates": {"2026-12-24": "Office closed"}}
HOURS_USAGE = "Say working hours as HH:MM-HH:MM, e.g. 09:00-17:00 or 08:30-16:30."
CODE_USAGE = "Use a country (GB, US, DE) or a country and region (GB-ENG, US-NY, DE-BY) of the holidays package."
LOOK_AHEAD = 400  # days searched for an opening: more than a year of holidays in a row is not a calendar
HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


@dataclass(frozen=True)
class Calendar:
    """When someone works: hours on working weekdays, minus public holidays and the hub's own dates."""

    start: dt.time = dt.time(9)
    end: dt.time = dt.time(17)
    holidays: str = ""  # a `holidays` calendar code ("GB-ENG"); "" keeps no public holidays
    extra: tuple[tuple[dt.date, str], ...] = ()  # dates the hub added, with their names
    weekdays: frozenset[int] = field(default=MON_FRI)  # Monday is 0

    @property
    def hours(self) -> str:
        """The working hours as typed: "09:00-17:00"."""
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def holiday_name(self, day: dt.date) -> str | None:
        """The name of the holiday `day` is (the hub's own name first), or None on an ordinary day."""
        for added, name in self.extra:
            if added == day:
                return name
        if not self.holidays:
            return None
        return _public_year(self.holidays, day.year).get(day)

    def is_working_day(self, day: dt.date) -> bool:
        """True on a working weekday that is no holiday."""
        return day.weekday() in self.weekdays and self.holiday_name(day) is None

    def _window(self, day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """That day's opening and closing, as UTC instants."""
        opening = dt.datetime.combine(day, self.start, tzinfo=zone).astimezone(dt.UTC)
        closing = dt.datetime.combine(day, self.end, tzinfo=zone).astimezone(dt.UTC)
        return opening, closing

    def next_working_moment(self, now: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
        """`now` when it is inside working hours in `zone`, else the next opening (in UTC)."""
        now = now.astimezone(dt.UTC)
        day = now.astimezone(zone).date()
        for _ in range(LOOK_AHEAD):
            if self.is_working_day(day):
                opening, closing = self._window(day, zone)
                if now < opening:
                    return opening
                if now < closing:
                    return now
            day += dt.timedelta(days=1)
        return now  # no working day in sight (a calendar of holidays only): do not hold the message forever

    def working_hours_between(self, start: dt.datetime, end: dt.datetime, zone: dt.tzinfo) -> float:
        """Hours of working time from `start` to `end` in `zone`, weekends and holidays left out."""
        start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        if end <= start:
            return 0.0
        seconds = 0.0
        day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
        while day <= last:
            if self.is_working_day(day):
                opening, closing = self._window(day, zone)
                overlap = (min(end, closing) - max(start, opening)).total_seconds()
                seconds += max(0.0, overlap)
            day += dt.timedelta(days=1)
        return seconds / 3600


class HubConfig(Protocol):
    """The hub-wide settings a calendar is built from (bot.settings.Settings has them)."""

    hub_working_hours: str
    hub_holidays: str
    hub_timezone: str


@dataclass(frozen=True)
class HubDefaults:
    """The hub's calendar (its hours, public holidays and added dates) and zone: anyone's when theirs is unset."""

    calendar: Calendar
    zone: ZoneInfo


# --- reading what people type -------------------------------------------------------------------


def parse_hours(text: str) -> tuple[dt.time, dt.time]:
    """`08:00-16:00` into its start and end; refused with the form that works."""
    found = HOURS.fullmatch(text.strip())
    if found is None:
        raise HubError(f"{text.strip()[:40] or 'Nothing'} is not working hours. {HOURS_USAGE}")
    sh, sm, eh, em = (int(g) for g in found.groups())
    if sh > 23 or eh > 23 or sm > 59 or em > 59:
        raise HubError(f"{text.strip()[:40]} is not a time of day. {HOURS_USAGE}")
    start, end = dt.time(sh, sm), dt.time(eh, em)
    if end <= start:
        raise HubError(f"Working hours end after they start, on the same day. {HOURS_USAGE}")
    return start, end


def parse_calendar_code(text: str) -> str:
    """A `holidays` calendar code as it is stored ("gb-eng" → "GB-ENG"); refused with codes that work."""
    country, _, region = text.strip().partition("-")
    country = country.upper()
    supported = _supported()
    if country not in supported:
        raise HubError(f"{text.strip()[:40] or 'Nothing'} is not a holidays calendar. {CODE_USAGE}")
    if not region:
        return country
    regions = _regions(country)
    found = regions.get(region.casefold())
    if found is None:
        known = sorted(set(regions.values()))
        shown = ", ".join(known[:16]) + (", …" if len(known) > 16 else "")
        if not known:
            raise HubError(f"The holidays calendar of {country} has no regions: use {country}.")
        example = f"{country}-{known[0]}"
        raise HubError(f"{country} has no holidays region {region[:40]}. Its regions: {shown} (e.g. {example}).")
    return f"{country}-{found}"


def calendar_of(hours: str | None, holidays: str | None, extra: tuple[tuple[dt.date, str], ...] = ()) -> Calendar:
    """A Calendar from stored text (hours "08:00-16:00", a calendar code); None or "" is the default."""
    start, end = parse_hours(hours or DEFAULT_HOURS)
    return Calendar(start=start, end=end, holidays=parse_calendar_code(holidays) if holidays else "", extra=extra)


# --- people and the hub -------------------------------------------------------------------------


def hub_dates(session: Session) -> dict[dt.date, str]:
    """The dates the hub added as holidays, with their names."""
    stored = repo.get_setting(session, HUB_HOLIDAYS_KEY) or {}
    return {dt.date.fromisoformat(day): str(name) for day, name in (stored.get("dates") or {}).items()}


def hub_defaults(uow: UnitOfWork, config: HubConfig) -> HubDefaults:
    """The hub's calendar and zone, from its settings and the dates leads added."""
    extra = tuple(sorted(hub_dates(uow.session).items()))
    return HubDefaults(calendar_of(config.hub_working_hours, config.hub_holidays, extra), ZoneInfo(config.hub_timezone))


def calendar_for(person: Person, hub: Calendar) -> Calendar:
    """A person's calendar: their hours and public holidays where set, else the hub's; the hub's added dates."""
    try:
        start, end = parse_hours(person.working_hours) if person.working_hours else (hub.start, hub.end)
        # None: the hub's public holidays; "" (`holidays none`): none at all.
        code = hub.holidays if person.holidays is None else person.holidays and parse_calendar_code(person.holidays)
    except HubError:
        return hub  # a stored value this version cannot read: the hub's calendar, not a failed reminder run
    return Calendar(start=start, end=end, holidays=code, extra=hub.extra, weekdays=hub.weekdays)


def zone_for(person: Person | None, hub_zone: ZoneInfo) -> ZoneInfo:
    """A person's zone (from their profile), or the hub's when it is unknown or unreadable."""
    try:
        return ZoneInfo(person.tz) if person is not None and person.tz else hub_zone
    except (ZoneInfoNotFoundError, ValueError):
        return hub_zone


def reachable_at(session: Session, person_id: int, now: dt.datetime, hub: HubDefaults) -> dt.datetime:
    """When a message addressed to this person may arrive: now in their working hours, else their next opening."""
    person = session.get(Person, person_id)
    if person is None:
        return now
    return calendar_for(person, hub.calendar).next_working_moment(now, zone_for(person, hub.zone))


def when_reachable(session: Session, person_id: int, now: dt.datetime) -> dt.datetime | None:
    """`reachable_at` with the hub calendar this deployment set on its sessions; None (at once) without one."""
    config = session.info.get(HUB_CALENDAR)
    if config is None:
        return None
    extra = tuple(sorted(hub_dates(session).items()))
    try:
        hub = HubDefaults(
            calendar_of(config.hub_working_hours, config.hub_holidays, extra), ZoneInfo(config.hub_timezone)
        )
    except (HubError, ZoneInfoNotFoundError, ValueError):
        return None
    return reachable_at(session, person_id, now, hub)


# --- the `holidays` package, cached (building a country's calendar is slow) -----------------------


@functools.cache
def _supported() -> Mapping[str, list[str]]:
    return public_holidays.list_supported_countries()


@functools.cache
def _regions(country: str) -> Mapping[str, str]:
    """A country's region codes and aliases, case-folded, to the code the package takes."""
    found = {code.casefold(): code for code in _supported().get(country, [])}
    entity = public_holidays.country_holidays(country, years=())
    for alias, code in (getattr(entity, "subdivisions_aliases", None) or {}).items():
        found.setdefault(str(alias).casefold(), str(code))
    return found


@functools.cache
def _language(country: str) -> str | None:
    """English names where the package has them ("Christmas Day", not "Erster Weihnachtstag")."""
    entity = public_holidays.country_holidays(country, years=())
    default = str(getattr(entity, "default_language", "") or "")
    if default.startswith("en"):
        return None
    supported = tuple(getattr(entity, "supported_languages", ()) or ())
    return next((lang for lang in ("en_GB", "en_US") if lang in supported), None)


@functools.lru_cache(maxsize=256)
def _public_year(code: str, year: int) -> Mapping[dt.date, str]:
    """One year of a calendar's public holidays, built once per process."""
    country, _, region = code.partition("-")
    built = public_holidays.country_holidays(country, subdiv=region or None, years=year, language=_language(country))
    return dict(built.items())
