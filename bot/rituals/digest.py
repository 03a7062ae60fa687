"""The portfolio digest, and running scheduled rituals: due ones from the clock, any one from `hubspoke jobs run`.

Both paths are the same: claim the period, build what to say, queue it in the outbox, record the outcome.
"""

from __future__ import annotations

import datetime as dt
import logging

from pydantic import BaseModel, Field
from sqlalchemy import func, select, true

from bot.core import Core
from bot.rituals import schedules, showcase_job
from intake import calendar, hub, retros, showcases
from intake.notices import HUB, Digest, Shipped, UpcomingShowcase
from intake.portfolio import PortfolioFilter, portfolio, save_digest_summary
from intake.read_models import PersonView, jsonable
from intake.schema import Stage, label
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import AuditEvent, Department, Review, UseCase

SHOWCASES_AHEAD = dt.timedelta(days=21)  # a digest mentions showcases in the next three weeks

log = logging.getLogger(__name__)


def digest_notice(
    uow: UnitOfWork, *, since: dt.datetime, now: dt.datetime, title: str, department: str | None = None
) -> Digest | None:
    """What the hub (or one department) did since `since` and where it stands now; None when it has no use cases."""
    s = uow.session
    view = portfolio(uow, now=now, filt=PortfolioFilter(department=department) if department else None)
    if not view.total:
        return None
    mine = UseCase.department.has(Department.key == department.casefold()) if department else true()
    new = s.scalar(select(func.count()).select_from(UseCase).where(UseCase.created_at >= since, mine)) or 0
    decided = (
        s.scalar(
            select(func.count())
            .select_from(Review)
            .join(UseCase, UseCase.id == Review.use_case_id)
            .where(Review.decided_at >= since, Review.decided_at <= now, mine)
        )
        or 0
    )
    stage_moves = (
        select(AuditEvent, UseCase)
        .join(UseCase, UseCase.id == AuditEvent.use_case_id)
        .where(AuditEvent.action == "stage", AuditEvent.at >= since, AuditEvent.at <= now, mine)
        .order_by(AuditEvent.at)
    )
    moved, shipped = 0, {}
    for event, uc in s.execute(stage_moves).all():
        moved += 1
        if (event.after or {}).get("stage") == Stage.DEPLOYMENT.value and not evidence.is_importer(uc.submitter):
            owner = PersonView.of(uc.submitter, with_skills=False)
            shipped[uc.id] = Shipped(use_case_id=uc.id, title=uc.title, department=uc.department.name, owner=owner)
    upcoming = [
        UpcomingShowcase(at=at, presenters=presenters) for at, presenters in showcases.upcoming(s, now, SHOWCASES_AHEAD)
    ]
    return Digest(
        title=title,
        since=since,
        at=now,
        new=new,
        decided=decided,
        moved=moved,
        view=view,
        department=department,
        shipped=list(shipped.values()),
        lessons=retros.lessons_since(s, since, now, department),
        showcases=upcoming,
    )


class DigestSummary(BaseModel):
    """What the model may add on top of a digest: two sentences."""

    summary: str = Field(max_length=400)


def figures_text(notice: Digest) -> str:
    """The digest's figures, and only its figures: no names, titles or other text people wrote."""
    view = notice.view
    stages = ", ".join(f"{label(st)} {n}" for st, n in view.by_stage.items())
    f = view.figures

    def hours(value: dt.timedelta | None) -> str:
        return f"{value.total_seconds() / 3600:.0f} hours" if value is not None else "not measured"

    oldest = max((i.age for i in view.waiting), default=None)
    return "\n".join(
        (
            f"since the last digest: {notice.new} new submissions, {notice.decided} decisions, "
            f"{notice.moved} stage moves, {len(notice.shipped)} shipped, {len(notice.lessons)} retros written",
            f"use cases: {view.total}; in flight: {view.in_flight}; by stage: {stages}",
            f"reviews waiting: {view.waiting_total}" + (f", the oldest for {hours(oldest)}" if oldest else ""),
            f"stale in their stage: {view.stale_total}",
            f"median to first review: {hours(f.to_first_review)}; to decision: {hours(f.to_decision)}",
            f"over the work-in-progress limit: {'yes' if view.limits and view.limits.over_wip else 'no'}",
        )
    )


def summarised(core: Core, notice: Digest) -> Digest:
    """The digest with the model's two sentences on top, when a model is configured and answers well."""
    llm = core.llm
    if llm is None or not llm.enabled:
        return notice
    from bot.llm import load_prompt

    answer = llm.structured(load_prompt("digest_summary"), {"figures": figures_text(notice)}, DigestSummary)
    return notice.model_copy(update={"summary": " ".join(answer.summary.split())}) if answer else notice


def _channel(schedule: schedules.ScheduleView) -> str:
    return HUB if schedule.channel in ("", HUB) else schedule.channel


def _window(schedule: schedules.ScheduleView, now: dt.datetime) -> dt.datetime:
    """Since when a run at `now` reports: the occurrence before this one (a week, by default)."""
    occurrence = schedules.last_due(schedule, now) or now
    return schedules.previous_run(schedule, occurrence) or now - dt.timedelta(days=7)


def _title(schedule: schedules.ScheduleView, now: dt.datetime, department: str | None = None) -> str:
    local = now.astimezone(schedules.zone_of(schedule.tz))
    return f"{department + ' digest' if department else 'Portfolio digest'}, {local:%a %d %b %Y}"


def _send_digest(core: Core, schedule: schedules.ScheduleView, period: str, now: dt.datetime) -> str:
    since = _window(schedule, now)
    notice = core.read(digest_notice, since=since, now=now, title=_title(schedule, now))
    if notice is None:
        return f"skipped {period}: nothing to say (no use cases yet)"
    if notice.quiet:
        return f"skipped {period}: nothing new since the last digest"
    notice = summarised(core, notice)
    core.run(_enqueue, notice, _channel(schedule))
    return f"sent {period} to {schedule.channel or 'the hub channel'}"


def _send_department_digests(core: Core, schedule: schedules.ScheduleView, period: str, now: dt.datetime) -> str:
    since = _window(schedule, now)
    sent, quiet = 0, 0
    for name, channel in core.read(hub.department_channels):
        notice = core.read(digest_notice, since=since, now=now, title=_title(schedule, now, name), department=name)
        if notice is None or notice.quiet:
            quiet += 1
            continue
        core.run(_enqueue, notice, channel)
        sent += 1
    if not sent and not quiet:
        return f"skipped {period}: no department has a channel (/hub department channel Finance #finance-ai)"
    if not sent:
        return f"skipped {period}: nothing new in any department"
    return f"sent {period} to {sent} department channel{'s' if sent != 1 else ''}; {quiet} had nothing new"


def run_schedule(
    core: Core, name: str, period: str | None = None, *, now: dt.datetime | None = None, force: bool = False
) -> str:
    """Run one schedule for `period` (default: now's), once: the outcome as `list` shows it."""
    now = now or core.now()
    schedule = core.read(schedules.find_schedule, name)
    if schedule.job == "showcase":
        outcomes = showcase_job.run_showcase(core, schedule, now, force=True)
        return "; ".join(outcomes) or "nothing due: invitations go two weeks ahead, the agenda one week ahead"
    period = period or schedules.period_of(now)
    if not core.run(schedules.claim, schedule.name, period):
        return f"already ran for {period}"
    if schedule.job == "department-digest":
        outcome = _send_department_digests(core, schedule, period, now)
    else:
        outcome = _send_digest(core, schedule, period, now)
    core.run(schedules.record, schedule.name, period, outcome)
    log.info("schedule %s: %s", schedule.name, outcome)
    return outcome


def _enqueue(uow: UnitOfWork, notice: Digest, channel: str, *, now: dt.datetime) -> None:
    repo.enqueue(uow.session, jsonable(notice), channel=channel, at=now)
    if notice.summary and notice.department is None:  # the hub's: shown on the leads' Home too
        save_digest_summary(uow.session, notice.summary, figures_text(notice), now)
    uow.commit()


def _holiday(core: Core, schedule: schedules.ScheduleView, now: dt.datetime) -> str | None:
    """Why the occurrence due now is not run (a holiday of its calendar, or one the hub added), if it is not."""
    occurrence = schedules.last_due(schedule, now)
    if occurrence is None:
        return None
    hub_calendar = core.read(calendar.hub_defaults, core.settings).calendar
    return core.read(schedules.skip_reason, schedule, occurrence, hub_calendar)


def run_due(core: Core, now: dt.datetime | None = None) -> list[str]:
    """Every minute, from the clock: run what is due now; record what was skipped and why."""
    now = now or core.now()
    outcomes = []
    for schedule in core.read(schedules.list_schedules):
        if schedule.job == "showcase":
            outcomes += [f"{schedule.name}: {o}" for o in showcase_job.run_showcase(core, schedule, now)]
            continue
        period, skipped = schedules.due(schedule, now)
        if period is not None and (holiday := _holiday(core, schedule, now)):
            period, skipped = None, f"skipped {period}: {holiday}"
        if period is not None:
            outcomes.append(f"{schedule.name}: {run_schedule(core, schedule.name, period, now=now)}")
        elif skipped is not None and not (schedule.last_outcome or "").startswith(skipped):
            core.run(schedules.record, schedule.name, skipped.split(": ", 1)[0].removeprefix("skipped "), skipped)
            outcomes.append(f"{schedule.name}: {skipped}")
    return outcomes
