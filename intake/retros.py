"""Blameless retros: asked of a use case's owner when it is deployed, rejected or closed, and again some weeks
after deployment; written once, they are lessons linked to the use case, findable by "who knows".

Asked in the same transaction as the change that called for them, so a retro is never asked twice nor lost;
reminded once if not written, never nagged; a lead may waive one. Imported use cases (a register's rows, with
nobody behind them to ask) are not asked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake import calendar
from intake.errors import FieldErrors, HubError, NotAllowed
from intake.forms import FormField, Kind, friendly
from intake.notices import RetroPrompt
from intake.read_models import Actor, Lesson, PersonView, UseCaseView, jsonable
from intake.reviews import load_use_case
from intake.schema import Stage
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import Person, Retro, Review, UseCase


class Trigger(StrEnum):
    """What called for a retro."""

    DEPLOYED = "deployed"
    REJECTED = "rejected"
    CLOSED = "closed"
    FOLLOWUP = "followup"  # some weeks after deployment: did the success metric move?


class MetricMet(StrEnum):
    """The success metric set at intake, against its target."""

    MET = "met"
    PARTLY = "partly"
    NOT_MET = "not_met"
    TOO_EARLY = "too_early"


MAX_ANSWER = 2000
MAX_METRIC = 500
WHY = {
    Trigger.DEPLOYED: "it was deployed",
    Trigger.REJECTED: "the hub rejected it",
    Trigger.CLOSED: "it was closed",
    Trigger.FOLLOWUP: "it has been in use for a while",
}


class RetroAnswers(BaseModel):
    """A written retro, as the form's answers are validated into it."""

    worked: str = Field(min_length=1, max_length=MAX_ANSWER)
    didnt: str = Field(min_length=1, max_length=MAX_ANSWER)
    differently: str = Field(min_length=1, max_length=MAX_ANSWER)
    metric_result: str = Field(min_length=1, max_length=MAX_METRIC)
    metric_met: MetricMet


def retro_fields(metric: str) -> tuple[FormField, ...]:
    """The retro's questions, the intake's success metric and its target quoted where they are measured."""
    target = f"Set at intake: {metric}" if metric.strip() else "No success metric was set at intake."
    return (
        FormField(
            "worked",
            "What worked",
            Kind.LONG_TEXT,
            hint="Blameless: about the work and the system, not about people.",
            max_length=MAX_ANSWER,
        ),
        FormField("didnt", "What didn't", Kind.LONG_TEXT, max_length=MAX_ANSWER),
        FormField("differently", "What we'd do differently", Kind.LONG_TEXT, max_length=MAX_ANSWER),
        FormField(
            "metric_result",
            "What the success metric showed",
            hint=target[:150],
            example="handling time down 14%",
            max_length=MAX_METRIC,
        ),
        FormField("metric_met", "Against its target", Kind.RADIO, choices=MetricMet),
    )


class RetroForm(BaseModel):
    """The retro form as every surface draws it: a title, what it is for, its questions' initial answers."""

    use_case_id: int
    title: str  # "Retro on #12" (a Slack modal title: at most 24 characters)
    intro: str
    metric: str
    initial: dict[str, Any] = Field(default_factory=dict)

    @property
    def fields(self) -> tuple[FormField, ...]:
        return retro_fields(self.metric)


def parse_retro(answers: Mapping[str, Any]) -> tuple[RetroAnswers | None, dict[str, str]]:
    """The retro from a form's answers, or a message for each question that needs another look."""
    cleaned = {k: (v.strip() if isinstance(v, str) else v) for k, v in answers.items()}
    try:
        return RetroAnswers.model_validate({k: v for k, v in cleaned.items() if v not in ("", None)}), {}
    except ValidationError as exc:
        return None, {str(err["loc"][0]): friendly(err) for err in exc.errors()}


def check_retro_answer(name: str, value: Any) -> str | None:
    """One answer's message, if it would be refused (the console asks each question until it is right)."""
    full = {f.name: "x" for f in retro_fields("")} | {"metric_met": MetricMet.MET.value, name: value}
    return parse_retro(full)[1].get(name)


# --- asking -------------------------------------------------------------------------------------------------


def _askable(uc: UseCase) -> bool:
    """Someone to ask: not a register's row (its owner never used the bot) nor the import's stand-in."""
    return uc.source_id is None and not evidence.is_importer(uc.submitter)


def _pending(session: Session, use_case_id: int) -> Retro | None:
    return session.scalar(
        select(Retro)
        .where(Retro.use_case_id == use_case_id, Retro.done_at.is_(None), Retro.waived_at.is_(None))
        .order_by(Retro.asked_at.desc(), Retro.id.desc())
        .limit(1)
    )


def ask(
    session: Session, uc: UseCase, trigger: Trigger, *, now: dt.datetime, not_before: dt.datetime | None = None
) -> bool:
    """Ask `uc`'s owner for a retro on `trigger`, in the caller's transaction; False if there is nothing to ask.

    One retro per use case and trigger, and never a second while one is still unwritten.
    """
    if not _askable(uc) or _pending(session, uc.id) is not None:
        return False
    same = (trigger.value, Trigger.REJECTED.value) if trigger is Trigger.CLOSED else (trigger.value,)
    asked = session.scalar(select(Retro.id).where(Retro.use_case_id == uc.id, Retro.trigger.in_(same)).limit(1))
    if asked is not None:
        return False  # asked already (closing a rejected use case: its rejection's retro covers it)
    session.add(Retro(use_case_id=uc.id, owner_id=uc.submitter_id, trigger=trigger.value, asked_at=now))
    prompt = RetroPrompt(use_case=UseCaseView.of(uc), trigger=trigger.value, why=WHY[trigger])
    when = not_before or calendar.when_reachable(session, uc.submitter_id, now)
    repo.enqueue(session, jsonable(prompt), person_id=uc.submitter_id, at=now, not_before=when)
    return True


def remind(
    uow: UnitOfWork,
    *,
    now: dt.datetime,
    followup_after: dt.timedelta,
    remind_after: dt.timedelta,
    reachable: Any = None,
) -> dict[str, int]:
    """From the clock: ask the follow-up retro of use cases deployed `followup_after` ago, and remind once.

    `reachable(session, person_id, now)` says when a message to a person may arrive (their working hours).
    """
    s = uow.session
    counts = {"followups": 0, "reminded": 0}
    deployed = s.scalars(
        select(Retro).where(Retro.trigger == Trigger.DEPLOYED.value, Retro.asked_at <= now - followup_after)
    ).all()
    for first in deployed:
        uc = s.get(UseCase, first.use_case_id)
        if uc is None or uc.stage not in (Stage.DEPLOYMENT.value, Stage.MONITORING.value):
            continue
        when = reachable(s, uc.submitter_id, now) if reachable else None
        if ask(s, uc, Trigger.FOLLOWUP, now=now, not_before=when):
            counts["followups"] += 1
    waiting = s.scalars(
        select(Retro).where(
            Retro.done_at.is_(None),
            Retro.waived_at.is_(None),
            Retro.reminded_at.is_(None),
            Retro.asked_at <= now - remind_after,
        )
    ).all()
    for retro in waiting:
        uc = s.get(UseCase, retro.use_case_id)
        if uc is None or retro.owner_id is None:
            continue
        retro.reminded_at = now
        prompt = RetroPrompt(
            use_case=UseCaseView.of(uc), trigger=retro.trigger, why=WHY[Trigger(retro.trigger)], reminder=True
        )
        when = reachable(s, retro.owner_id, now) if reachable else calendar.when_reachable(s, retro.owner_id, now)
        repo.enqueue(s, jsonable(prompt), person_id=retro.owner_id, at=now, not_before=when)
        counts["reminded"] += 1
    uow.commit()
    return counts


# --- writing and waiving --------------------------------------------------------------------------------


def _owner_or_lead(uc: UseCase, actor: Actor) -> None:
    if uc.submitter_id != actor.person_id and not actor.is_lead:
        raise NotAllowed(f"Only the owner of #{uc.id} ({uc.submitter.name}) or a hub lead can write its retro.")


def _wanted(session: Session, uc: UseCase) -> Retro:
    retro = _pending(session, uc.id)
    if retro is not None:
        return retro
    done = session.scalar(
        select(Retro).where(Retro.use_case_id == uc.id, Retro.done_at.is_not(None)).order_by(Retro.done_at.desc())
    )
    if done is not None:
        by = session.get(Person, done.done_by_id) if done.done_by_id else None
        who = f" by {by.name}" if by else ""
        raise HubError(f"#{uc.id}'s retro was already written{who} on {done.done_at:%d %b %Y}: /usecase status {uc.id}")
    raise HubError(
        f"No retro is asked of #{uc.id} now: retros are asked when a use case is deployed, rejected or closed."
    )


def open_retro(uow: UnitOfWork, actor: Actor, use_case_id: int) -> RetroForm:
    """The retro form for the retro asked of a use case, for its owner or a lead."""
    uc = load_use_case(uow.session, use_case_id)
    _owner_or_lead(uc, actor)
    retro = _wanted(uow.session, uc)
    why = WHY[Trigger(retro.trigger)]
    return RetroForm(
        use_case_id=uc.id,
        title=f"Retro on #{uc.id}",
        intro=(
            f"A blameless retro on #{uc.id} {uc.title}, now that {why}: what worked, what didn't, what we'd do "
            "differently. It becomes a lesson others find on its status and through /whoknows."
        ),
        metric=uc.success_metric,
    )


def _people(session: Session, uc: UseCase, writer_id: int | None) -> list[int]:
    """Whose retro it is: the owner, the reviewers who decided it, and whoever wrote it."""
    reviewers = session.scalars(
        select(Review.decided_by_id).where(Review.use_case_id == uc.id, Review.decided_by_id.is_not(None))
    )
    ids = [uc.submitter_id, *reviewers, writer_id]
    return [i for i in dict.fromkeys(ids) if i]


def lesson_text(uc: UseCase, answers: RetroAnswers) -> str:
    """The words of a lesson, as the expertise index reads them."""
    return "\n".join(
        (uc.title, answers.worked, answers.didnt, answers.differently, answers.metric_result, uc.success_metric)
    )


def save_retro(uow: UnitOfWork, actor: Actor, use_case_id: int, answers: RetroAnswers, *, now: dt.datetime) -> Lesson:
    """Write the retro asked of a use case: a lesson linked to it, and `retro` evidence for its people."""
    s = uow.session
    uc = load_use_case(s, use_case_id)
    _owner_or_lead(uc, actor)
    retro = _wanted(s, uc)
    for key, value in answers.model_dump().items():
        setattr(retro, key, value.value if isinstance(value, StrEnum) else value)
    retro.done_at = now
    retro.done_by_id = actor.person_id
    text = lesson_text(uc, answers)
    tags = [uc.department.name if uc.department else "", uc.topic_area or ""]
    for person_id in _people(s, uc, actor.person_id):
        evidence.record(
            s,
            person_id=person_id,
            kind=evidence.Kind.RETRO.value,
            text=text,
            tags=tags,
            source_key=f"retro:{retro.id}:{person_id}",
            at=now,
            use_case_id=uc.id,
        )
    after = {"trigger": retro.trigger, "metric_met": retro.metric_met}
    repo.audit(s, action="retro", actor_id=actor.person_id, use_case_id=uc.id, before=None, after=after, at=now)
    lesson = _lesson(s, retro, uc)
    uow.commit()
    return lesson


def waive_retro(uow: UnitOfWork, actor: Actor, use_case_id: int, reason: str, *, now: dt.datetime) -> UseCaseView:
    """A lead says a use case needs no retro (it is not asked again for the same reason)."""
    s = uow.session
    person = s.get(Person, actor.person_id, populate_existing=True) if actor.person_id else None
    if person is None or not person.is_lead:
        raise NotAllowed("Only a hub lead can waive a retro.")
    uc = load_use_case(s, use_case_id)
    retro = _pending(s, uc.id)
    if retro is None:
        raise HubError(f"No retro is waiting on #{uc.id}.")
    retro.waived_at = now
    retro.waived_by_id = actor.person_id
    retro.waived_reason = reason.strip()[:MAX_ANSWER] or None
    after = {"trigger": retro.trigger, "reason": retro.waived_reason}
    repo.audit(s, action="retro:waived", actor_id=actor.person_id, use_case_id=uc.id, before=None, after=after, at=now)
    view = UseCaseView.of(uc)
    uow.commit()
    return view


def form_errors(answers: Mapping[str, Any]) -> RetroAnswers:
    """The retro from a form's answers, or FieldErrors with a message on each question to look at again."""
    parsed, errors = parse_retro(answers)
    if parsed is None:
        raise FieldErrors(errors)
    return parsed


# --- reading ----------------------------------------------------------------------------------------------


def _lesson(session: Session, retro: Retro, uc: UseCase) -> Lesson:
    by = session.get(Person, retro.done_by_id) if retro.done_by_id else None
    return Lesson(
        use_case_id=uc.id,
        title=uc.title,
        department=uc.department.name if uc.department else "",
        trigger=retro.trigger,
        by=PersonView.of(by, with_skills=False) if by else None,
        at=retro.done_at or retro.asked_at,
        worked=retro.worked,
        didnt=retro.didnt,
        differently=retro.differently,
        metric=uc.success_metric,
        metric_result=retro.metric_result,
        metric_met=retro.metric_met,
    )


def lessons_of(session: Session, use_case_id: int) -> list[Lesson]:
    """A use case's written retros, newest first."""
    uc = session.get(UseCase, use_case_id)
    if uc is None:
        return []
    done = session.scalars(
        select(Retro).where(Retro.use_case_id == use_case_id, Retro.done_at.is_not(None)).order_by(Retro.done_at.desc())
    )
    return [_lesson(session, r, uc) for r in done]


def lessons_since(
    session: Session, since: dt.datetime, until: dt.datetime, department: str | None = None
) -> list[Lesson]:
    """Retros written in a window (a digest's "new lessons"), oldest first, of one department if given."""
    rows = session.execute(
        select(Retro, UseCase)
        .join(UseCase, UseCase.id == Retro.use_case_id)
        .where(Retro.done_at >= since, Retro.done_at <= until)
        .order_by(Retro.done_at, Retro.id)
    ).all()
    lessons = [_lesson(session, r, uc) for r, uc in rows]
    return [lesson for lesson in lessons if department is None or lesson.department.casefold() == department.casefold()]


def retro_waiting(session: Session, use_case_id: int) -> str | None:
    """Why a retro is waiting on a use case ("it was deployed"), for its status; None when none is."""
    retro = _pending(session, use_case_id)
    return WHY[Trigger(retro.trigger)] if retro is not None else None
