"""The clock: reminders to reviewers, escalations to the hub, one run per (job, hour), and how jobs are scheduled."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import Hubspoke
from bot.clock import ask_retros, build_scheduler, remind_reviews
from bot.core import Core
from bot.rituals.digest import run_due
from bot.settings import Settings
from handlers.slack.chat import render
from intake import hub, submission
from intake.notices import HUB, NOTICE
from intake.people import SYSTEM
from intake.schema import Submission
from storage.db import UnitOfWork
from storage.models import JobRun, OutboxMessage, Person
from tests.conftest import NOW, make_actor
from tests.factories import on_slack, slack

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
# NOW is Monday 2 Nov 2026 09:30 in London (GMT); the hub works 09:00-17:00 on weekdays, so REVIEW_*_HOURS count
# working hours: the Wednesday before at 09:30 is 24 working hours back (7.5 + 8 + 8, the weekend left out, 0.5).
WEDNESDAY_0930 = dt.datetime(2026, 10, 28, 9, 30, tzinfo=dt.UTC)


def proposal(title: str) -> Submission:
    return Submission.model_validate({
        "title": title, "problem": "Finance guesses monthly invoice volumes by hand.",
        "department": "Finance", "benefit": "Right-sized team", "success_metric": "Late payments -30%",
        "data_availability": "available", "data_sensitivity": "personal", "people_affected": "internal",
        "autonomy": "assistive",
    })


@pytest.fixture
def core(session_factory: sessionmaker[Session]) -> Core:
    settings = Settings(_env_file=None, hub_leads="ULEAD", review_reminder_hours=24,  # type: ignore[call-arg,arg-type]
                        review_escalation_hours=72, hub_timezone="Europe/London")
    with UnitOfWork(session_factory) as u:
        hub.add_reviewer(u, SYSTEM, slack("UREV", "Rita"), skills=[], now=NOW - 10 * 24 * HOUR)
    make_actor(session_factory, "ULEAD", "Lee")
    return Core(settings=settings, session_factory=session_factory, clock=lambda: NOW)


def submit_at(core: Core, when: dt.datetime, title: str = "Forecast invoice volumes") -> int:
    spoke = make_actor(core.session_factory, "USAM", "Sam")
    with UnitOfWork(core.session_factory) as u:
        return submission.submit_use_case(u, spoke, proposal(title), now=when).use_case.id


def nudges(core: Core) -> list[OutboxMessage]:
    with core.session_factory() as s:
        return [m for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
                if m.payload.get("kind") == "review_nudge"]


def seen(message: OutboxMessage) -> str:
    """What a person reads when the message is rendered for Slack."""
    text, blocks = render(NOTICE.validate_python(message.payload))
    return "\n".join([text, *(b["text"]["text"] for b in blocks if b.get("type") == "section" and "text" in b)])


def person_id(core: Core, slack_id: str) -> int:
    with core.session_factory() as s:
        found = s.scalar(select(Person.id).where(on_slack(slack_id)))
        assert found is not None
        return found


def test_waiting_review_gets_one_reminder_then_one_escalation(core: Core) -> None:
    submitted = WEDNESDAY_0930
    use_case_id = submit_at(core, submitted)
    assert remind_reviews(core, now=NOW - HOUR) == {"reminded": 0, "escalated": 0}  # 23.5 working hours

    assert remind_reviews(core, now=NOW) == {"reminded": 1, "escalated": 0}
    [reminder] = nudges(core)
    assert reminder.person_id == person_id(core, "UREV") and reminder.channel is None
    assert reminder.payload["escalation"] is False and reminder.payload["use_case"]["id"] == use_case_id
    assert reminder.payload["waited_hours"] == pytest.approx(5 * 24)  # people read the time it really waited
    assert "has waited 5 days for your review" in seen(reminder)
    assert reminder.next_attempt_at == NOW  # inside Rita's working hours: it goes at once

    # Later hours: no second reminder.
    assert remind_reviews(core, now=NOW + HOUR) == {"reminded": 0, "escalated": 0}
    assert remind_reviews(core, now=NOW + 24 * HOUR) == {"reminded": 0, "escalated": 0}
    assert len(nudges(core)) == 1

    # Past REVIEW_ESCALATION_HOURS of working time (nine working days): one escalation to the hub, naming the leads.
    escalate_at = dt.datetime(2026, 11, 10, 9, 30, tzinfo=dt.UTC)  # Tuesday, a week later
    assert remind_reviews(core, now=escalate_at - HOUR) == {"reminded": 0, "escalated": 0}
    assert remind_reviews(core, now=escalate_at) == {"reminded": 0, "escalated": 1}
    escalation = nudges(core)[-1]
    assert escalation.channel == HUB and escalation.person_id is None
    assert escalation.payload["escalation"] is True
    assert [p["handles"] for p in escalation.payload["leads"]] == [{"slack": "ULEAD"}]
    assert "has waited 13 days for <@UREV>'s review. <@ULEAD>: please decide or reassign." in seen(escalation)
    assert remind_reviews(core, now=escalate_at + HOUR) == {"reminded": 0, "escalated": 0}
    assert len(nudges(core)) == 2


def test_review_past_escalation_is_escalated_once_without_a_reminder(core: Core) -> None:
    submit_at(core, NOW - 14 * DAY)  # 79 working hours
    assert remind_reviews(core, now=NOW) == {"reminded": 0, "escalated": 1}
    [escalation] = nudges(core)
    assert escalation.channel == HUB


def test_escalation_of_a_review_nobody_was_assigned_reads_sensibly(core: Core) -> None:
    with UnitOfWork(core.session_factory) as u:
        hub.set_away(u, SYSTEM, slack("UREV"), True, now=NOW - 100 * HOUR)
    submit_at(core, NOW - 14 * DAY)  # routing finds nobody: the hub was asked to pick a reviewer
    assert remind_reviews(core, now=NOW) == {"reminded": 0, "escalated": 1}  # 79 of the hub's working hours
    [escalation] = nudges(core)
    text = seen(escalation)
    assert "has waited 14 days" in text and "<@ULEAD>" in text
    assert "nobody yet_'s review" not in text, text
    assert "has no reviewer yet" in text and "please pick one" in text


def test_a_second_run_in_the_same_hour_sends_nothing(core: Core) -> None:
    submit_at(core, WEDNESDAY_0930 - 30 * dt.timedelta(minutes=1), "Forecast invoice volumes")  # 24 by Friday
    first_hour = NOW.replace(minute=5)
    assert remind_reviews(core, now=first_hour) == {"reminded": 1, "escalated": 0}

    # Another review becomes due; a second clock (or a restart) in the same hour does not run the job.
    submit_at(core, WEDNESDAY_0930 - DAY, "Summarise supplier contracts")
    assert remind_reviews(core, now=first_hour + dt.timedelta(minutes=50)) is None
    assert len(nudges(core)) == 1
    with core.session_factory() as s:
        assert [(r.job, r.period) for r in s.scalars(select(JobRun))] == [("remind_reviews", "2026-11-02T09")]

    # The next hour runs, and reminds only the review not reminded yet.
    assert remind_reviews(core, now=first_hour + HOUR) == {"reminded": 1, "escalated": 0}
    assert len(nudges(core)) == 2


def test_scheduler_registers_named_jobs_with_coalesce_and_an_hour_of_grace(core: Core) -> None:
    app = Hubspoke(settings=core.settings, core=core, chat=None, outbox=None, slack=None)
    scheduler = build_scheduler(app)
    # Job defaults are applied when the scheduler starts: start it paused in a thread, read, shut down.
    started = threading.Event()

    def run() -> None:
        scheduler.start(paused=True)

    scheduler.add_listener(lambda _: started.set(), EVENT_SCHEDULER_STARTED)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert started.wait(5), "scheduler did not start"
        jobs: dict[str, Any] = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
        thread.join(5)

    assert set(jobs) == {"remind_reviews", "retros", "schedules"}  # the clock only schedules; workers deliver
    for job in jobs.values():
        assert job.coalesce is True and job.misfire_grace_time == 3600 and job.max_instances == 1
    remind = jobs["remind_reviews"]
    assert remind.func is remind_reviews and remind.args == (core,)
    assert isinstance(remind.trigger, CronTrigger) and str(remind.trigger.fields[6]) == "5"  # minute 5, hourly
    assert str(remind.trigger.fields[5]) == "*"
    assert remind.trigger.timezone == ZoneInfo("Europe/London")
    assert scheduler.timezone == ZoneInfo("Europe/London")
    assert jobs["schedules"].func is run_due and jobs["schedules"].args == (core,)  # the hub's own, every minute
    retros = jobs["retros"]  # follow-up retros and their one reminder, hourly at :35
    assert retros.func is ask_retros and retros.args == (core,) and str(retros.trigger.fields[6]) == "35"
