"""Working hours, time zones and public holidays: a message to a person arrives in their working hours, review
SLAs count working time only (DST, weekends and holidays as the person's own calendar has them), leads add the
hub's own holidays in chat, and a schedule skips a holiday saying which."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import remind_reviews
from bot.conversation import grammar as g
from bot.core import Core
from bot.rituals import schedules
from bot.settings import Settings
from handlers.console.repl import run_console
from handlers.slack.chat import render
from intake import calendar, holidays_admin, hub, people, submission
from intake.calendar import Calendar
from intake.errors import HubError
from intake.notices import NOTICE
from intake.people import SYSTEM
from intake.schema import Submission
from storage.db import UnitOfWork
from storage.models import OutboxMessage, Person
from tests.conftest import make_actor
from tests.factories import ANSWERS, slack

LONDON, NEW_YORK = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
OFFICE = Calendar()  # 09:00-17:00, Monday to Friday, no public holidays
ENGLAND = calendar.calendar_of("09:00-17:00", "GB-ENG")
EVERY_MORNING = Calendar(start=dt.time(0), end=dt.time(12), weekdays=frozenset(range(7)))  # weekends too


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# --- the calendar itself ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "start", "end", "hours"),
    [
        # Midnight to noon on a DST change day is an hour short in spring and an hour long in autumn.
        (LONDON, "2026-03-29", utc(2026, 3, 29, 0), utc(2026, 3, 29, 11), 11),
        (LONDON, "2026-10-25", utc(2026, 10, 24, 23), utc(2026, 10, 25, 12), 13),
        (NEW_YORK, "2026-03-08", utc(2026, 3, 8, 5), utc(2026, 3, 8, 16), 11),
        (NEW_YORK, "2026-11-01", utc(2026, 11, 1, 4), utc(2026, 11, 1, 17), 13),
    ],
)
def test_working_hours_on_a_dst_change_day_are_the_hours_the_clocks_show(
    zone: ZoneInfo, day: str, start: dt.datetime, end: dt.datetime, hours: int
) -> None:
    assert EVERY_MORNING.next_working_moment(start - dt.timedelta(hours=3), zone) == start  # local midnight
    assert EVERY_MORNING.working_hours_between(start, end + dt.timedelta(hours=6), zone) == hours
    assert EVERY_MORNING.working_hours_between(start, end, zone) == hours  # the whole morning, nothing after noon


def test_the_first_working_morning_after_a_dst_change_opens_at_nine_local() -> None:
    # London's clocks went forward on Sunday 29 March: Monday's 09:00 is 08:00 UTC, the Friday before 09:00 UTC.
    assert OFFICE.next_working_moment(utc(2026, 3, 27, 7), LONDON) == utc(2026, 3, 27, 9)
    assert OFFICE.next_working_moment(utc(2026, 3, 29, 12), LONDON) == utc(2026, 3, 30, 8)
    assert OFFICE.working_hours_between(utc(2026, 3, 27, 16), utc(2026, 3, 30, 8, 30), LONDON) == 1.5
    # And back on Sunday 25 October: Friday 16:00 BST to Monday 10:00 GMT is two working hours.
    assert OFFICE.working_hours_between(utc(2026, 10, 23, 15), utc(2026, 10, 26, 10), LONDON) == 2
    # New York changes three weeks before London in spring: its 09:00 is 13:00 UTC on 9 March, 14:00 a week earlier.
    assert OFFICE.next_working_moment(utc(2026, 3, 2, 12), NEW_YORK) == utc(2026, 3, 2, 14)
    assert OFFICE.next_working_moment(utc(2026, 3, 9, 12), NEW_YORK) == utc(2026, 3, 9, 13)
    assert OFFICE.next_working_moment(utc(2026, 11, 2, 12), NEW_YORK) == utc(2026, 11, 2, 14)  # EST again


def test_a_weekend_does_not_count_and_a_message_waits_for_monday() -> None:
    friday_4pm, monday_10am = utc(2026, 11, 6, 16), utc(2026, 11, 9, 10)
    assert OFFICE.working_hours_between(friday_4pm, monday_10am, LONDON) == 2
    assert OFFICE.next_working_moment(utc(2026, 11, 7, 11), LONDON) == utc(2026, 11, 9, 9)  # Saturday → Monday 09:00
    assert OFFICE.next_working_moment(utc(2026, 11, 6, 17), LONDON) == utc(2026, 11, 9, 9)  # closing time, Friday
    assert OFFICE.next_working_moment(utc(2026, 11, 6, 16, 59), LONDON) == utc(2026, 11, 6, 16, 59)  # still open
    assert OFFICE.working_hours_between(monday_10am, friday_4pm, LONDON) == 0  # backwards: nothing


def test_public_holidays_come_from_the_calendar_named_and_the_hub_adds_its_own() -> None:
    assert ENGLAND.holiday_name(dt.date(2026, 12, 25)) == "Christmas Day"
    # Boxing Day is a Saturday in 2026: England keeps it on the Monday.
    assert ENGLAND.holiday_name(dt.date(2026, 12, 28)) == "Boxing Day (observed)"
    assert not ENGLAND.is_working_day(dt.date(2026, 12, 28)) and ENGLAND.is_working_day(dt.date(2026, 12, 29))
    # Thursday 24 Dec 16:00 to Tuesday 29 Dec 10:00: Christmas, the weekend and Boxing Day left out.
    assert ENGLAND.working_hours_between(utc(2026, 12, 24, 16), utc(2026, 12, 29, 10), LONDON) == 2
    assert ENGLAND.next_working_moment(utc(2026, 12, 24, 18), LONDON) == utc(2026, 12, 29, 9)
    us = calendar.calendar_of(None, "US")
    assert us.holiday_name(dt.date(2026, 11, 26)) == "Thanksgiving Day" and us.is_working_day(dt.date(2026, 11, 27))
    assert calendar.calendar_of(None, "de-by").holiday_name(dt.date(2026, 1, 6)) == "Epiphany"  # in English
    closed = Calendar(extra=((dt.date(2026, 12, 24), "Office closed"),))
    assert (
        closed.holiday_name(dt.date(2026, 12, 24)) == "Office closed"
        and closed.holiday_name(dt.date(2026, 12, 25)) is None
    )


def test_hours_and_calendars_that_cannot_be_read_say_what_works(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert calendar.parse_calendar_code(" gb-eng ") == "GB-ENG" and calendar.parse_calendar_code("us-ny") == "US-NY"
    with pytest.raises(HubError, match=r"9-5 is not working hours. Say working hours as HH:MM-HH:MM, e.g. 09:00-17:00"):
        calendar.parse_hours("9-5")
    with pytest.raises(HubError, match="Working hours end after they start"):
        calendar.parse_hours("17:00-09:00")
    with pytest.raises(HubError, match=r"XX is not a holidays calendar. Use a country \(GB, US, DE\) or a country and"):
        calendar.parse_calendar_code("XX")
    with pytest.raises(HubError, match=r"US has no holidays region ZZ\. Its regions: AK, AL"):
        calendar.parse_calendar_code("US-ZZ")
    # At start, a bad HUB_HOLIDAYS stops `hubspoke` with the variable named.
    from bot.cli import _settings

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("HUB_HOLIDAYS", "GB-XYZ")
    with pytest.raises(SystemExit, match=r"bad configuration: HUB_HOLIDAYS: .*GB has no holidays region XYZ"):
        _settings()
    monkeypatch.setenv("HUB_HOLIDAYS", "gb-eng")
    monkeypatch.setenv("HUB_WORKING_HOURS", "8:30-16:30")
    settings = _settings()
    assert (settings.hub_holidays, settings.hub_working_hours) == ("GB-ENG", "08:30-16:30")


# --- review reminders in the reviewer's working hours ----------------------------------------------------------


@pytest.fixture
def core(session_factory: sessionmaker[Session]) -> Core:
    """A hub in London whose reviewer, Rita, works in New York; reminders after 8 working hours, escalation 24."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        hub_leads="ULEAD",
        hub_timezone="Europe/London",
        review_reminder_hours=8,
        review_escalation_hours=24,
    )
    with UnitOfWork(session_factory) as u:
        rita = hub.add_reviewer(u, SYSTEM, slack("UREV", "Rita"), skills=[], now=utc(2026, 10, 1))
    with UnitOfWork(session_factory) as u:
        people.apply_profile(u, rita.id, None, "America/New_York")  # her Slack profile's zone
    make_actor(session_factory, "ULEAD", "Lee")
    return Core(settings=settings, session_factory=session_factory, clock=lambda: utc(2026, 10, 1))


def submit_at(core: Core, when: dt.datetime) -> None:
    spoke = make_actor(core.session_factory, "USAM", "Sam")
    answers = {**ANSWERS, "data_sensitivity": "personal"}  # personal data: it goes to hub review
    with UnitOfWork(core.session_factory) as u:
        submission.submit_use_case(u, spoke, Submission.model_validate(answers), now=when)


def reminders(core: Core) -> list[OutboxMessage]:
    with core.session_factory() as s:
        rows = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [m for m in rows if m.payload.get("kind") == "review_nudge"]


def seen(message: OutboxMessage) -> str:
    text, blocks = render(NOTICE.validate_python(message.payload))
    return "\n".join([text, *(b["text"]["text"] for b in blocks if b.get("type") == "section" and "text" in b)])


def test_a_new_york_reviewer_is_reminded_after_her_working_hours_and_reads_it_at_her_nine(core: Core) -> None:
    submit_at(core, utc(2026, 11, 2, 14))  # Monday 09:00 in New York, 14:00 in London
    # London's working day ended at 17:00 UTC; Rita's goes on until 22:00 UTC, and only hers counts.
    assert remind_reviews(core, now=utc(2026, 11, 2, 21, 5)) == {"reminded": 0, "escalated": 0}  # 7 h 5 min
    assert remind_reviews(core, now=utc(2026, 11, 2, 22, 5)) == {"reminded": 1, "escalated": 0}  # 17:05 hers
    [reminder] = reminders(core)
    assert reminder.created_at == utc(2026, 11, 2, 22, 5)
    assert reminder.next_attempt_at == utc(2026, 11, 3, 14)  # Tuesday 09:00 in New York
    assert "has waited 8 hours for your review" in seen(reminder)
    # Escalation: 24 of her working hours, Wednesday 17:00 in New York; the hub channel hears at once.
    assert remind_reviews(core, now=utc(2026, 11, 4, 21, 5)) == {"reminded": 0, "escalated": 0}
    assert remind_reviews(core, now=utc(2026, 11, 4, 22, 5)) == {"reminded": 0, "escalated": 1}
    escalation = reminders(core)[-1]
    assert escalation.channel == "hub" and escalation.next_attempt_at == utc(2026, 11, 4, 22, 5)


def test_a_reviewer_keeping_us_holidays_is_not_counted_on_thanksgiving(core: Core) -> None:
    with UnitOfWork(core.session_factory) as u:
        hub_now = calendar.hub_defaults(u, core.settings)
        shown = holidays_admin.set_hours(u, SYSTEM, slack("UREV"), None, "us", hub=hub_now, now=utc(2026, 11, 1))
    assert (shown.hours, shown.holidays, shown.tz) == ("09:00-17:00", "US", "America/New_York")
    assert shown.next_holiday == holidays_admin.HolidayView(dt.date(2026, 11, 11), "Veterans Day", "public")
    submit_at(core, utc(2026, 11, 25, 18))  # Wednesday 13:00 in New York: four working hours that day
    assert remind_reviews(core, now=utc(2026, 11, 26, 18, 5)) == {"reminded": 0, "escalated": 0}  # Thanksgiving
    assert remind_reviews(core, now=utc(2026, 11, 27, 18, 5)) == {"reminded": 1, "escalated": 0}  # Friday
    [reminder] = reminders(core)
    assert reminder.next_attempt_at == utc(2026, 11, 27, 18, 5)  # in her working hours: at once


# --- the hub's holidays and people's hours, in chat ---------------------------------------------------------------


@pytest.fixture
def console_core(session_factory: sessionmaker[Session]) -> Core:
    settings = Settings(_env_file=None, hub_timezone="Europe/London", hub_holidays="GB-ENG")  # type: ignore[call-arg]
    return Core(settings=settings, session_factory=session_factory, clock=lambda: utc(2026, 12, 1, 10))


def console(core: Core, name: str, *lines: str, tmp_path: Path) -> str:
    out = io.StringIO()
    script = "".join(line + "\n" for line in lines)
    assert run_console(core, io.StringIO(script), out, name=name, interactive=False, files_dir=tmp_path) == 0
    return out.getvalue()


def test_leads_add_the_hubs_holidays_and_others_are_refused_with_why(console_core: Core, tmp_path: Path) -> None:
    text = console(
        console_core,
        "lee",  # the first person in an empty hub leads it
        "/hub holiday add 2026-12-24 Office  closed",
        "/hub holiday list",
        "/as dana",
        "/hub holiday add 2026-12-31 Party",
        "/hub holiday remove 2026-12-24",
        tmp_path=tmp_path,
    )
    assert "Hub holiday added: Thu 24 Dec 2026, Office closed. Schedules skip it" in text
    assert "Holidays ahead: the hub's own and GB-ENG public holidays in the next 90 days" in text
    listed = text[text.index("Holidays ahead") :]
    assert listed.index("• Thu 24 Dec 2026: Office closed (the hub's)") < listed.index(
        "• Fri 25 Dec 2026: Christmas Day"
    )
    assert "• Mon 28 Dec 2026: Boxing Day (observed)" in listed and "• Fri 01 Jan 2027: New Year's Day" in listed
    assert text.count("Only hub leads can change the hub's holidays. Ask a lead (see /hub help).") == 2
    with console_core.session_factory() as s:
        assert calendar.hub_dates(s) == {dt.date(2026, 12, 24): "Office closed"}  # Dana's changed nothing


def test_anyone_sets_their_own_hours_and_only_leads_set_others(console_core: Core, tmp_path: Path) -> None:
    text = console(
        console_core,
        "lee",
        "/hub hours",
        "/as dana",
        "/hub hours 08:00 - 16:00 holidays us-ca",
        "/hub hours 07:00-15:00 @lee",
        "/hub hours 25:00-26:00",
        "/as lee",
        "/hub hours 07:00-15:00 @dana",
        tmp_path=tmp_path,
    )
    assert "You work 09:00-17:00 (the hub's) Monday to Friday, Europe/London (the hub's), keeping GB-ENG" in text
    assert "Next holiday: Fri 25 Dec 2026, Christmas Day." in text  # Lee keeps the hub's
    assert "You work 08:00-16:00 Monday to Friday, Europe/London (the hub's), keeping US-CA public holidays." in text
    assert "Only hub leads can set other people's working hours." in text
    assert "25:00-26:00 is not a time of day." in text
    assert "Dana works 07:00-15:00 Monday to Friday" in text and "Messages to them arrive in those hours." in text
    with console_core.session_factory() as s:
        stored = {p.name: (p.working_hours, p.holidays) for p in s.scalars(select(Person))}
    assert stored == {"Lee": (None, None), "Dana": ("07:00-15:00", "US-CA")}


def test_hours_and_holiday_commands_parse_the_same_on_every_surface() -> None:
    from handlers.slack.commands import MENTIONS as SLACK

    assert g.parse(g.HUB, "holiday add 2026-12-24 Office closed") == g.HolidayRequest(
        "add", dt.date(2026, 12, 24), "Office closed"
    )
    assert g.parse(g.HUB, "holiday") == g.HolidayRequest("list")
    assert g.parse(g.HUB, "hours 08:00-16:00 holidays US-CA <@URITA|rita>", SLACK) == g.SetHours(
        "08:00-16:00", "US-CA", slack("URITA", "rita")
    )
    assert g.parse(g.HUB, "hours") == g.ShowHours()
    with pytest.raises(HubError, match="Say the date as YYYY-MM-DD"):
        g.parse(g.HUB, "holiday add 24/12 Office closed")
    usages = [u.example for u in g.HELP[g.HUB][1]]
    assert "/hub holiday add 2026-12-24 Office closed" in usages
    assert any(u.startswith("/hub hours 08:00-16:00") for u in usages)


# --- schedules skip holidays --------------------------------------------------------------------------------------


def test_a_schedule_skips_an_occurrence_on_a_holiday_and_says_which(console_core: Core, tmp_path: Path) -> None:
    text = console(
        console_core,
        "lee",
        "/hub schedule add digest weekly friday 09:00 holidays gb-eng",
        "/hub schedule list",
        tmp_path=tmp_path,
    )
    assert "Scheduled digest: weekly friday 09:00 (Europe/London, skipping GB-ENG holidays) to the hub channel" in text
    assert g.parse(g.HUB, "schedule add digest weekly friday 09:00 #ai-hub holidays GB-ENG tz Europe/London") == (
        g.ScheduleRequest("add", "digest", "weekly friday 09:00", "#ai-hub", "Europe/London", "GB-ENG")
    )
    core = console_core
    digest = core.read(schedules.find_schedule, "digest")
    assert digest.holidays == "GB-ENG"
    hub_calendar = core.read(calendar.hub_defaults, core.settings).calendar
    assert core.read(schedules.skip_reason, digest, utc(2026, 12, 25, 9), hub_calendar) == "holiday: Christmas Day"
    assert core.read(schedules.skip_reason, digest, utc(2026, 12, 18, 9), hub_calendar) is None
    # A day the hub added is skipped by every schedule, one keeping no public holidays too.
    core.run(holidays_admin.add_holiday, SYSTEM, dt.date(2026, 12, 11), "Hub offsite")
    plain = core.run(schedules.add_schedule, SYSTEM, "digest", "weekly friday 09:00", "", "Europe/London", name="plain")
    assert plain.holidays is None
    assert core.read(schedules.skip_reason, plain, utc(2026, 12, 11, 9), hub_calendar) == "holiday: Hub offsite"
    assert core.read(schedules.skip_reason, plain, utc(2026, 12, 25, 9), hub_calendar) is None
    # The day is the schedule's own: 22:00 on Christmas Day in New York is already the 26th in UTC.
    evening = core.run(
        schedules.add_schedule,
        SYSTEM,
        "digest",
        "weekly friday 22:00",
        "",
        "America/New_York",
        name="evening",
        holidays="US",
    )
    assert core.read(schedules.skip_reason, evening, utc(2026, 12, 26, 3), hub_calendar) == "holiday: Christmas Day"


def test_a_schedule_with_a_calendar_that_does_not_exist_is_refused(console_core: Core) -> None:
    with pytest.raises(HubError, match="XX is not a holidays calendar"):
        console_core.run(schedules.add_schedule, SYSTEM, "digest", "weekly monday 09:00", "", "UTC", holidays="XX")
