"""Rituals on a schedule (issue 11, the portfolio digest): schedules are data leads manage in chat; each run goes
out exactly once, in the schedule's time zone, never as a backlog after downtime; what was skipped says why."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.core import Core
from bot.demo import seed_demo
from bot.rituals import schedules
from bot.rituals.digest import run_due, run_schedule
from bot.settings import Settings
from handlers.console.repl import run_console
from intake.errors import HubError, NotAllowed
from intake.people import SYSTEM
from storage.db import UnitOfWork, make_engine, make_session_factory, upgrade
from storage.models import OutboxMessage

LONDON = "Europe/London"
MONDAY_0900 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)  # 09:00 in London in December (GMT)


@pytest.mark.parametrize(
    ("rule", "after", "expected"),
    [
        (
            "weekly monday 09:00",
            dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC),
            dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC),
        ),
        # Summer time: 09:00 in London is 08:00 UTC, and the rule follows the clocks, not UTC.
        ("weekly monday 09:00", dt.datetime(2026, 6, 3, tzinfo=dt.UTC), dt.datetime(2026, 6, 8, 8, tzinfo=dt.UTC)),
        (
            "monthly first thursday 15:00",
            dt.datetime(2026, 12, 4, tzinfo=dt.UTC),
            dt.datetime(2027, 1, 7, 15, tzinfo=dt.UTC),
        ),
        ("daily 08:30", dt.datetime(2026, 12, 4, 9, tzinfo=dt.UTC), dt.datetime(2026, 12, 7, 8, 30, tzinfo=dt.UTC)),
        (
            "every 2 weeks friday 16:00",
            dt.datetime(2026, 12, 4, 17, tzinfo=dt.UTC),
            dt.datetime(2026, 12, 11, 16, tzinfo=dt.UTC),
        ),  # fortnights count from Mon 5 Jan 2026, for every process
    ],
)
def test_cadences_read_as_people_say_them_in_the_schedules_zone(
    rule: str, after: dt.datetime, expected: dt.datetime
) -> None:
    view = schedules.ScheduleView("digest", "digest", rule, LONDON, "", False, None, None, None)
    assert schedules.next_run(view, after) == expected


def test_a_cadence_that_cannot_be_read_says_the_forms_that_work() -> None:
    with pytest.raises(HubError, match="Say when: weekly monday 09:00"):
        schedules.parse_rule("fortnightly")
    with pytest.raises(HubError, match="25:00 is not a time of day"):
        schedules.parse_rule("weekly monday 25:00")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Core, list[dt.datetime]]]:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    upgrade(url)
    engine = make_engine(url)
    clock = [MONDAY_0900 - dt.timedelta(days=3)]
    settings = Settings(_env_file=None, database_url=url, hub_timezone=LONDON)
    core = Core(settings=settings, session_factory=make_session_factory(engine), clock=lambda: clock[0])
    assert seed_demo(core)
    yield core, clock
    engine.dispose()


@dataclasses.dataclass(frozen=True)
class Sent:
    channel: str | None
    payload: dict[str, Any]


def digests(core: Core) -> list[Sent]:
    with UnitOfWork(core.session_factory) as u:
        rows = u.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [Sent(m.channel, m.payload) for m in rows if m.payload.get("kind") == "digest"]


def something_new(core: Core) -> None:
    """A submission now, so the next digest has news (a digest with nothing new is skipped)."""
    from handlers.console.people import console_ref
    from intake import submission
    from intake.people import resolve_actor
    from intake.schema import Submission

    dana = core.run(resolve_actor, console_ref("Dana"))[0]
    answers = {
        "title": "Shift rota forecaster", "problem": "Rotas are drawn by hand every week.", "department": "Operations",
        "benefit": "Fewer gaps", "success_metric": "unfilled shifts -30%", "data_availability": "available",
        "data_sensitivity": "internal", "people_affected": "internal", "autonomy": "assistive",
    }
    core.run(submission.submit_use_case, dana, Submission.model_validate(answers))


def test_a_due_digest_goes_out_once_even_with_two_clocks_and_a_manual_run(demo: tuple[Core, list[dt.datetime]]) -> None:
    core, clock = demo
    something_new(core)
    core.run(schedules.add_schedule, SYSTEM, "digest", "weekly monday 09:00", "C_AIHUB", LONDON)
    assert run_due(core) == []  # Friday: not due
    clock[0] = MONDAY_0900 + dt.timedelta(minutes=1)
    assert run_due(core) == ["digest: sent 2026-12-07T09:00Z to C_AIHUB"]
    assert run_due(core) == []  # a second clock a second later
    assert run_schedule(core, "digest", "2026-12-07T09:00Z") == "already ran for 2026-12-07T09:00Z"
    sent = digests(core)
    assert len(sent) == 1 and sent[0].channel == "C_AIHUB"
    assert sent[0].payload["view"]["total"] == 9 and sent[0].payload["new"] == 1
    assert sent[0].payload["title"] == "Portfolio digest, Mon 07 Dec 2026"
    assert core.read(schedules.find_schedule, "digest").last_outcome == "sent 2026-12-07T09:00Z to C_AIHUB"


def test_after_downtime_only_a_run_within_its_grace_goes_out_and_a_skip_says_why(
    demo: tuple[Core, list[dt.datetime]],
) -> None:
    core, clock = demo
    core.run(schedules.add_schedule, SYSTEM, "digest", "weekly monday 09:00", "", LONDON)
    clock[0] = MONDAY_0900 + dt.timedelta(days=1)  # the clock was down all Monday
    assert run_due(core) == ["digest: skipped 2026-12-07T09:00Z: the clock was down past its grace period"]
    assert run_due(core) == []  # said once
    assert digests(core) == []
    clock[0] = MONDAY_0900 + dt.timedelta(days=2)
    something_new(core)
    clock[0] = MONDAY_0900 + dt.timedelta(days=7, hours=3)  # next Monday, three hours late: still sent
    assert run_due(core) == ["digest: sent 2026-12-14T09:00Z to the hub channel"]
    assert [m.channel for m in digests(core)] == ["hub"]


def test_a_paused_schedule_records_the_skip_and_only_leads_change_schedules(
    demo: tuple[Core, list[dt.datetime]],
) -> None:
    core, clock = demo
    core.run(schedules.add_schedule, SYSTEM, "digest", "weekly monday 09:00", "", LONDON)
    core.run(schedules.set_paused, SYSTEM, "digest", True)
    clock[0] = MONDAY_0900 + dt.timedelta(minutes=5)
    assert run_due(core) == ["digest: skipped 2026-12-07T09:00Z: paused"]
    assert digests(core) == []
    from intake.read_models import Actor

    spoke = Actor(person_id=3, name="Dana", is_reviewer=False, is_lead=False)
    with pytest.raises(NotAllowed, match="Only hub leads can change the hub's schedules"):
        core.run(schedules.remove_schedule, spoke, "digest")


def test_leads_manage_schedules_in_the_console_and_preview_privately(
    demo: tuple[Core, list[dt.datetime]], tmp_path: Path
) -> None:
    core, _ = demo
    script = (
        "/hub schedule add digest weekly monday 09:00 #ai-hub\n/hub schedule list\n/hub schedule preview digest\n"
        "/hub schedule add standup daily 09:30\n"
    )
    out = io.StringIO()
    assert run_console(core, io.StringIO(script), out, name="lee", interactive=False, files_dir=tmp_path) == 0
    text = out.getvalue()
    assert (
        "Scheduled digest: weekly monday 09:00 (Europe/London) to #ai-hub, next Mon 07 Dec 09:00 GMT; not run yet"
        in text
    )
    assert "[only you] Preview: digest: " in text and "8 use cases: 6 in flight" in text
    assert "There is no ritual called standup. Schedules run: digest, department-digest, showcase." in text
    assert digests(core) == []  # a preview sends nothing
