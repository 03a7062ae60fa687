"""Showcases and per-department digests on a schedule (issue 11): invitations two weeks ahead, answers (yes, not
this time, a colleague nominated), the agenda a week ahead and on the day, presenters recorded as evidence; each
step exactly once, with several clocks and `jobs run` beside them; holidays skipped and recorded."""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.conversation import ritual_answers
from bot.core import Core
from bot.rituals import schedules
from bot.rituals.digest import run_due, run_schedule
from bot.settings import Settings
from handlers.console.repl import run_console
from intake import hub, showcases, stages
from intake.errors import NotAllowed
from intake.people import SYSTEM
from intake.schema import Stage
from storage.db import UnitOfWork, make_engine, make_session_factory
from storage.models import Evidence, OutboxMessage, ShowcaseInvite
from tests.test_retros import NOW, deployed, new_hub, person, setup_hub, submitted

SHOWCASE_AT = dt.datetime(2027, 1, 7, 15, 0, tzinfo=dt.UTC)  # the first Thursday of January, 15:00 in London


@pytest.fixture
def hub_core(database_url: str, migrate: Callable[[str], None]) -> Iterator[tuple[Core, list[dt.datetime]]]:
    yield from new_hub(database_url, migrate)


def queued(core: Core, kind: str) -> list[tuple[str | None, int | None, dict[str, Any]]]:
    with UnitOfWork(core.session_factory) as u:
        rows = u.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(m.channel, m.person_id, m.payload) for m in rows if m.payload.get("kind") == kind]


def invite_of(core: Core, person_id: int | None) -> int:
    with UnitOfWork(core.session_factory) as u:
        found = u.session.scalar(select(ShowcaseInvite.id).where(ShowcaseInvite.person_id == person_id))
    assert found is not None
    return int(found)


def test_a_showcase_invites_owners_of_what_shipped_takes_their_answers_posts_the_agenda_and_records_presenters(
    hub_core: tuple[Core, list[dt.datetime]], tmp_path: Path
) -> None:
    core, clock = hub_core
    _, rita, sam = setup_hub(core)
    deployed(core, sam, rita)
    ana = person(core, "Ana")
    deployed(core, ana, rita)
    core.run(schedules.add_schedule, SYSTEM, "showcase", "monthly first thursday 15:00", "C_SHOW", "Europe/London")

    clock[0] = NOW + dt.timedelta(days=1, hours=1)  # 3 December: a showcase tomorrow is too soon to invite for
    assert run_due(core) == []
    clock[0] = SHOWCASE_AT - dt.timedelta(days=14) + dt.timedelta(minutes=1)
    assert run_due(core) == ["showcase: 2027-01-07T15:00Z:invite invited 2"]
    assert run_due(core) == []  # a second clock
    assert run_schedule(core, "showcase").startswith("nothing due")  # `hubspoke jobs run showcase` beside them
    invitations = queued(core, "showcase_invitation")
    assert sorted(p for _, p, _ in invitations) == sorted([sam.person_id, ana.person_id])
    assert {pl["title"] for _, _, pl in invitations} == {"Invoice triage assistant"}

    sam_invite, ana_invite = invite_of(core, sam.person_id), invite_of(core, ana.person_id)
    with pytest.raises(NotAllowed, match="only the person invited can answer it"):
        core.run(showcases.answer_invitation, ana, sam_invite, True)
    said = ritual_answers.answer_invitation(core, sam, sam_invite, True)  # Yes, I'll present
    assert said.plain() == "Thank you: you are on the agenda for the showcase on 2027-01-07 15:00 UTC."
    script = (
        f"/as Ana\n/hub showcase nominate {ana_invite} @Rita\n"
        "/as Rita\n2\n"  # the last card shown is Rita's invitation: Not this time
        "/as Lee\n/hub showcase\n"
    )
    out = io.StringIO()
    assert run_console(core, io.StringIO(script), out, name="Lee", interactive=False, files_dir=tmp_path) == 0
    text = out.getvalue()
    assert "Noted: not this time. You may be asked again for a later showcase." in text
    assert "Thanks: Rita is invited to present at the showcase on Thu 7 Jan 2027 15:00 GMT instead." in text
    assert "Rita nominated you" not in text and "Ana nominated you. Would you present #2" in text
    assert "• Sam on #1 Invoice triage assistant: yes" in text
    assert "• Ana on #2 Invoice triage assistant: nominated → Rita" in text
    assert "• Rita on #2 Invoice triage assistant: not this time" in text
    assert "1 presenting so far." in text

    clock[0] = SHOWCASE_AT - dt.timedelta(days=7) + dt.timedelta(minutes=1)
    assert run_due(core) == ["showcase: 2027-01-07T15:00Z:agenda agenda posted (1 presenting)"]
    clock[0] = SHOWCASE_AT - dt.timedelta(hours=2)
    assert run_due(core) == ["showcase: 2027-01-07T15:00Z:day agenda posted (1 presenting)"]
    agendas = queued(core, "showcase_agenda")
    assert [(c, pl["day_of"], [p["person"]["name"] for p in pl["presenters"]]) for c, _, pl in agendas] == [
        ("C_SHOW", False, ["Sam"]),
        ("C_SHOW", True, ["Sam"]),
    ]

    clock[0] = SHOWCASE_AT + dt.timedelta(hours=3)
    assert run_due(core) == ["showcase: 2027-01-07T15:00Z:record recorded 1 presenter"]
    assert run_due(core) == []
    with UnitOfWork(core.session_factory) as u:
        shown = u.session.execute(
            select(Evidence.person_id, Evidence.use_case_id, Evidence.at).where(Evidence.kind == "showcase")
        ).all()
    assert [(p, uc, at) for p, uc, at in shown] == [(sam.person_id, 1, SHOWCASE_AT)]
    assert core.read(schedules.find_schedule, "showcase").last_outcome == (
        "2027-01-07T15:00Z:record recorded 1 presenter"
    )


def test_department_digests_go_to_each_department_channel_and_a_quiet_one_is_skipped_with_why(
    hub_core: tuple[Core, list[dt.datetime]], tmp_path: Path
) -> None:
    core, clock = hub_core
    lee, _, sam = setup_hub(core)
    core.run(hub.add_department, lee, "Operations")
    script = "/hub department channel Finance #fin-ai\n/hub department channel Operations #ops-ai\n"
    script += "/hub department channel Legal #legal\n/hub schedule add department-digest weekly monday 09:00\n"
    out = io.StringIO()
    assert run_console(core, io.StringIO(script), out, name="Lee", interactive=False, files_dir=tmp_path) == 0
    text = out.getvalue()
    assert "Finance's own digest goes to #fin-ai when a department-digest schedule runs" in text
    assert "There is no department called Legal. Departments: Finance, Operations." in text

    use_case_id = submitted(core, sam)  # Finance
    clock[0] = dt.datetime(2026, 12, 7, 9, 1, tzinfo=dt.UTC)
    assert run_due(core) == ["department-digest: sent 2026-12-07T09:00Z to 1 department channel; 1 had nothing new"]
    (digest,) = queued(core, "digest")
    assert digest[0] == "#fin-ai" and digest[2]["department"] == "Finance"
    assert digest[2]["title"] == "Finance digest, Mon 07 Dec 2026" and digest[2]["new"] == 1
    assert digest[2]["view"]["total"] == 1

    clock[0] = dt.datetime(2026, 12, 14, 9, 1, tzinfo=dt.UTC)  # a quiet week everywhere
    assert run_due(core) == ["department-digest: skipped 2026-12-14T09:00Z: nothing new in any department"]
    core.run(stages.move_stage, sam, use_case_id, Stage.EXPERIMENTATION)
    assert len(queued(core, "digest")) == 1


def test_a_schedule_skips_its_holidays_and_says_so(hub_core: tuple[Core, list[dt.datetime]], tmp_path: Path) -> None:
    core, clock = hub_core
    _, _, sam = setup_hub(core)
    submitted(core, sam)
    script = "/hub schedule add digest weekly friday 09:00 #ai-hub holidays GB-ENG\n"
    out = io.StringIO()
    assert run_console(core, io.StringIO(script), out, name="Lee", interactive=False, files_dir=tmp_path) == 0
    clock[0] = dt.datetime(2026, 12, 25, 9, 5, tzinfo=dt.UTC)  # Christmas Day is a Friday
    assert run_due(core) == ["digest: skipped 2026-12-25T09:00Z: holiday: Christmas Day"]
    assert run_due(core) == []  # recorded once
    assert queued(core, "digest") == []
    out = io.StringIO()
    assert run_console(core, io.StringIO("/hub schedule list\n"), out, name="Lee", interactive=False) == 0
    assert "last: skipped 2026-12-25T09:00Z: holiday: Christmas Day" in out.getvalue()


def test_several_clocks_and_jobs_run_at_once_send_each_ritual_once(
    hub_core: tuple[Core, list[dt.datetime]], database_url: str
) -> None:
    core, clock = hub_core
    _, rita, sam = setup_hub(core)
    deployed(core, sam, rita)
    core.run(schedules.add_schedule, SYSTEM, "digest", "weekly thursday 15:00", "C_HUB", "Europe/London")
    core.run(schedules.add_schedule, SYSTEM, "showcase", "monthly first thursday 15:00", "C_SHOW", "Europe/London")
    at = SHOWCASE_AT - dt.timedelta(days=14) + dt.timedelta(minutes=2)  # a Thursday: the digest is due too
    clock[0] = at - dt.timedelta(days=2)
    submitted(core, person(core, "Ana"))  # news for the digest
    engines = [make_engine(database_url) for _ in range(4)]
    settings = Settings(_env_file=None, database_url=database_url, hub_timezone="Europe/London")
    clocks = [Core(settings=settings, session_factory=make_session_factory(e), clock=lambda: at) for e in engines]
    clock[0] = at
    start = threading.Barrier(len(clocks) + 1)
    errors: list[BaseException] = []

    def tick(c: Core, manual: bool) -> None:
        start.wait()
        try:
            run_due(c)
            if manual:
                run_schedule(c, "digest", schedules.period_of(at - dt.timedelta(minutes=2)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=tick, args=(c, i == 0)) for i, c in enumerate(clocks)]
    threads.append(threading.Thread(target=tick, args=(core, True)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for e in engines:
        e.dispose()
    assert not errors, errors
    assert len(queued(core, "digest")) == 1
    assert [p for _, p, _ in queued(core, "showcase_invitation")] == [sam.person_id]
    with UnitOfWork(core.session_factory) as u:
        assert u.session.scalar(select(func.count()).select_from(ShowcaseInvite)) == 1


@pytest.mark.parametrize(
    ("zone", "day", "rule", "expected"),
    [
        # London's clocks go back at 02:00 BST on Sunday 25 October 2026: 01:30 happens twice, and runs once.
        ("Europe/London", dt.datetime(2026, 10, 25, tzinfo=dt.UTC), "weekly sunday 01:30", ["2026-10-25T00:30Z"]),
        # New York's go forward at 02:00 on Sunday 8 March 2026: 02:30 never happens; it runs at 03:30 EDT, once.
        ("America/New_York", dt.datetime(2026, 3, 8, tzinfo=dt.UTC), "weekly sunday 02:30", ["2026-03-08T07:30Z"]),
        # The working days either side: 09:00 is 14:00 UTC on the Friday before, 13:00 UTC on the Monday after.
        ("America/New_York", dt.datetime(2026, 3, 6, tzinfo=dt.UTC), "daily 09:00", ["2026-03-06T14:00Z"]),
        ("America/New_York", dt.datetime(2026, 3, 9, tzinfo=dt.UTC), "daily 09:00", ["2026-03-09T13:00Z"]),
    ],
)
def test_a_daily_ritual_runs_once_on_a_dst_change_day_in_its_own_zone(
    hub_core: tuple[Core, list[dt.datetime]], zone: str, day: dt.datetime, rule: str, expected: list[str]
) -> None:
    core, clock = hub_core
    _, _, sam = setup_hub(core)
    clock[0] = day - dt.timedelta(days=1)
    core.run(schedules.add_schedule, SYSTEM, "digest", rule, "C_HUB", zone)
    sent = []
    for minute in range(0, 24 * 60, 10):  # the clock ticking through the whole day (every ten minutes here)
        clock[0] = day + dt.timedelta(minutes=minute)
        if minute == 0:
            submitted(core, sam)  # news for the day's digest
        done = run_due(core)
        sent += [o.split(" ")[2] for o in done if " sent " in o]
    assert sent == expected
    assert len(queued(core, "digest")) == 1
