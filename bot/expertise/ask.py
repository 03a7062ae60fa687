"""Asking "who knows X": find the people, and tell the hub when a topic people ask about rests on one person."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.expertise.index import ExpertiseIndex, QueryExpansion
from bot.expertise.models import ExpertResult
from intake.notices import HUB, BusFactorNotice
from intake.read_models import Actor, PersonView, jsonable
from storage import repo
from storage.db import UnitOfWork
from storage.models import ExpertAsk, JobRun, Person

PAGE = 5
ASKED_WITHIN = dt.timedelta(days=30)
MIN_ASKERS = 2  # different people, the expert aside: one person's curiosity is not yet a risk to the hub


def topic_key(index: ExpertiseIndex, query: str) -> str:
    """What makes two questions the same topic: their taxonomy concepts, else their search terms."""
    analyzed = index.analyze(query)
    words = list(analyzed.concepts) or sorted(set(analyzed.terms) or set(query.lower().split()))
    return "bus_factor:" + "+".join(words)[:50]


def ask_who_knows(
    uow: UnitOfWork,
    index: ExpertiseIndex,
    actor: Actor,
    query: str,
    *,
    offset: int = 0,
    vector: Any = None,
    expansion: QueryExpansion | None = None,
    now: dt.datetime,
) -> ExpertResult:
    """One page of people who know about `query`; a one-expert topic people ask about tells the hub (monthly).

    The answer says the topic rests on one person (`single_expert`) only when the hub has been told.
    """
    asker = actor.person_id or None
    exclude = {asker} if asker else set()  # you know what you know: the answer is about others
    result = index.find_experts(
        uow,
        query,
        top=PAGE,
        offset=offset,
        asker_id=asker,
        exclude=exclude,
        vector=vector,
        expansion=expansion,
        now=now,
    )
    told = offset == 0 and _tell_hub_once(uow, index, result, asker, now)
    return result.model_copy(update={"single_expert": told})


def _askers(uow: UnitOfWork, index: ExpertiseIndex, topic: str, now: dt.datetime) -> set[int]:
    """The people who asked about `topic` within ASKED_WITHIN (as the answers they got recorded it)."""
    stmt = (
        select(ExpertAsk.asker_id, ExpertAsk.query)
        .where(ExpertAsk.at >= now - ASKED_WITHIN, ExpertAsk.at <= now, ExpertAsk.asker_id.is_not(None))
        .distinct()
    )
    topics: dict[str, str] = {}
    found: set[int] = set()
    for asker_id, query in uow.session.execute(stmt):
        if query not in topics:
            topics[query] = topic_key(index, query)
        if topics[query] == topic and asker_id is not None:
            found.add(asker_id)
    return found


def _tell_hub_once(
    uow: UnitOfWork, index: ExpertiseIndex, result: ExpertResult, asker: int | None, now: dt.datetime
) -> bool:
    """Tell the hub about a one-expert topic once a month; whether the hub has heard of it this month."""
    sole = result.sole_expert_id
    if not result.single_expert or sole is None:
        return False
    topic = topic_key(index, result.query)
    askers = _askers(uow, index, topic, now) | ({asker} if asker else set())
    if len(askers - {sole}) < MIN_ASKERS:
        return False
    s = uow.session
    expert = s.get(Person, sole)
    if expert is None:
        return False
    try:
        with s.begin_nested():
            s.add(JobRun(job=topic, period=now.strftime("%Y-%m"), claimed_at=now))
    except IntegrityError:
        return True  # the hub already heard about this topic this month
    notice = BusFactorNotice(topic=result.query, expert=PersonView.of(expert))
    repo.enqueue(s, jsonable(notice), channel=HUB, at=now)
    uow.commit()
    return True
