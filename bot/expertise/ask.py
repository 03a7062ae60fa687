"""Asking "who knows X": find the people, and tell the hub when a topic rests on one person."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError

from bot.expertise.index import ExpertiseIndex
from bot.expertise.models import ExpertResult
from intake.notices import HUB, BusFactorNotice
from intake.read_models import Actor, PersonView, jsonable
from storage import repo
from storage.db import UnitOfWork
from storage.models import JobRun, Person

PAGE = 5


def topic_key(result: ExpertResult) -> str:
    """What makes two questions the same topic: their taxonomy concepts, else their words."""
    words = result.concepts or sorted(set(result.query.lower().split()))
    return "bus_factor:" + "+".join(words)[:50]


def ask_who_knows(
    uow: UnitOfWork, index: ExpertiseIndex, actor: Actor, query: str, *, offset: int = 0, now: dt.datetime
) -> ExpertResult:
    """One page of people who know about `query`; the first page of a one-expert topic tells the hub (monthly)."""
    asker = actor.person_id or None
    exclude = {asker} if asker else set()  # you know what you know: the answer is about others
    result = index.find_experts(uow, query, top=PAGE, offset=offset, asker_id=asker, exclude=exclude, now=now)
    if result.single_expert and offset == 0 and result.experts:
        _tell_hub_once(uow, result, now)
    return result


def _tell_hub_once(uow: UnitOfWork, result: ExpertResult, now: dt.datetime) -> None:
    s = uow.session
    expert = s.get(Person, result.experts[0].person_id)
    if expert is None:
        return
    try:
        with s.begin_nested():
            s.add(JobRun(job=topic_key(result), period=now.strftime("%Y-%m"), claimed_at=now))
    except IntegrityError:
        return  # the hub already heard about this topic this month
    notice = BusFactorNotice(topic=result.query, expert=PersonView.of(expert))
    repo.enqueue(s, jsonable(notice), channel=HUB, at=now)
    uow.commit()
