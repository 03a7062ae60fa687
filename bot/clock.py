"""The clock process: one APScheduler instance running Hubspoke's scheduled jobs.

It only schedules: what a job sends goes into the outbox, which `hubspoke worker` (or, on the
embedded SQLite, `hubspoke run`) delivers.
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.exc import IntegrityError

from bot.app import Hubspoke
from bot.core import Core
from bot.rituals.digest import run_due
from intake import calendar, retros
from intake.reminders import remind_waiting_reviews
from storage.models import JobRun

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": 3600, "max_instances": 1}


def claim_period(core: Core, job: str, period: str) -> bool:
    """Claim `(job, period)`; False when another clock (or a restart) already ran it."""
    with core.uow() as uow:
        uow.session.add(JobRun(job=job, period=period, claimed_at=core.now()))
        try:
            uow.commit()
        except IntegrityError:
            return False
    return True


def claim_hour(core: Core, job: str, now: dt.datetime) -> bool:
    """Claim an hourly job's hour (UTC); False, and logged, when another clock or a restart ran it."""
    period = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H")
    if claim_period(core, job, period):
        return True
    log.info("%s already ran for %s", job, period)
    return False


def remind_reviews(core: Core, now: dt.datetime | None = None) -> dict[str, int] | None:
    """Hourly: remind reviewers of waiting reviews and escalate old ones to the hub channel."""
    now = now or core.now()
    if not claim_hour(core, "remind_reviews", now):
        return None
    s = core.settings
    return core.run(
        remind_waiting_reviews,
        remind_after=dt.timedelta(hours=s.review_reminder_hours),
        escalate_after=dt.timedelta(hours=s.review_escalation_hours),
        # Working hours count in the hub's calendar (HUB_WORKING_HOURS, HUB_HOLIDAYS, dates leads added) and zone
        # for anyone who set no calendar of their own.
        hub=core.read(calendar.hub_defaults, s),
        now=now,
    )


def ask_retros(core: Core, now: dt.datetime | None = None) -> dict[str, int] | None:
    """Hourly: ask the follow-up retro of use cases deployed RETRO_FOLLOWUP_WEEKS ago; remind unwritten ones once."""
    now = now or core.now()
    if not claim_hour(core, "retros", now):
        return None
    s = core.settings
    return core.run(
        retros.remind,
        followup_after=dt.timedelta(weeks=s.retro_followup_weeks),
        remind_after=dt.timedelta(days=s.retro_reminder_days),
        now=now,
    )


def embed_pending(core: Core, now: dt.datetime | None = None) -> dict[str, int] | None:
    """Hourly, with an embeddings endpoint: embed what has no vector of the current model yet (an imported register,
    new evidence, every item after LLM_EMBEDDING_MODEL changed)."""
    from intake import semantic

    now = now or core.now()
    if core.llm is None or not core.llm.enabled or not claim_hour(core, "embeddings", now):
        return None
    done = semantic.sync(core.session_factory, core.llm, allowed=core.settings.llm_fields)
    return {"use_cases": done.use_cases, "evidence": done.evidence, "failed": int(done.failed)}


def build_scheduler(app: Hubspoke) -> BlockingScheduler:
    """The scheduler with every job registered under a stable id, in the hub's time zone."""
    scheduler = BlockingScheduler(timezone=app.settings.zone, job_defaults=JOB_DEFAULTS)
    scheduler.add_job(remind_reviews, "cron", minute=5, args=[app.core], id="remind_reviews", replace_existing=True)
    scheduler.add_job(ask_retros, "cron", minute=35, args=[app.core], id="retros", replace_existing=True)
    if app.core.llm is not None and app.core.llm.enabled:
        scheduler.add_job(embed_pending, "cron", minute=50, args=[app.core], id="embeddings", replace_existing=True)
    # The hub's own schedules (/hub schedule) are data: checked every minute, each run claimed once.
    scheduler.add_job(run_due, "cron", second=20, args=[app.core], id="schedules", replace_existing=True)
    return scheduler


def run_clock(app: Hubspoke) -> None:
    """Run the scheduler until interrupted."""
    scheduler = build_scheduler(app)
    log.info("clock running: %s", "; ".join(f"{job.id} ({job.trigger})" for job in scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("clock stopped")
