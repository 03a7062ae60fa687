"""The hub hears "only X knows this" when it is true and people need it: real evidence, two askers, the topic itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.expertise.ask import ask_who_knows
from bot.expertise.index import ExpertiseIndex
from bot.expertise.models import ExpertResult
from handlers.console.whoknows import render_experts
from intake.read_models import Actor
from storage import evidence
from storage.db import UnitOfWork
from storage.models import OutboxMessage
from tests.conftest import NOW, make_actor

UowFactory = Callable[[], UnitOfWork]
DAY = dt.timedelta(days=1)
TOLD = "Only one person has real evidence on this topic; the hub has been told."


def knows(uow: UowFactory, actor: Actor, kind: str, text: str, tags: tuple[str, ...] = ()) -> None:
    with uow() as u:
        evidence.record(
            u.session,
            person_id=actor.person_id,
            kind=kind,
            text=text,
            tags=tags,
            source_key=f"t:{actor.person_id}:{kind}:{text}",
            at=NOW - 10 * DAY,
        )
        u.commit()


def ask(uow: UowFactory, actor: Actor, query: str, *, at: dt.datetime = NOW) -> ExpertResult:
    with uow() as u:
        return ask_who_knows(u, ExpertiseIndex(), actor, query, now=at)


def seen(result: ExpertResult, at: dt.datetime = NOW) -> str:
    """The answer as the asker reads it."""
    return render_experts(result, at).text()


def notices(uow: UowFactory) -> list[dict[str, Any]]:
    """The bus-factor notices waiting for the hub."""
    with uow() as u:
        payloads = u.session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id))
        return [p for p in payloads if p.get("kind") == "bus_factor"]


def told_about(uow: UowFactory) -> list[tuple[str, str]]:
    return [(n["topic"], n["expert"]["name"]) for n in notices(uow)]


def test_the_hub_hears_once_two_people_have_asked(uow: UowFactory, session_factory: sessionmaker[Session]) -> None:
    gil = make_actor(session_factory, "UGIL", "Gil")
    knows(uow, gil, "built", "Flood risk model for river catchments")
    ada = make_actor(session_factory, "UADA", "Ada")
    bo = make_actor(session_factory, "UBO", "Bo")
    for _ in range(2):  # one person asking twice is still one person
        first = ask(uow, ada, "flood risk")
        assert [e.name for e in first.experts] == ["Gil"] and TOLD not in seen(first)
    assert told_about(uow) == []
    second = ask(uow, bo, "flood risk")
    assert TOLD in seen(second)
    assert told_about(uow) == [("flood risk", "Gil")]
    again = ask(uow, ada, "Flood risk?")  # the same topic, the same month: the hub is not told twice
    assert TOLD in seen(again)
    assert told_about(uow) == [("flood risk", "Gil")]


def test_only_asks_within_thirty_days_count(uow: UowFactory, session_factory: sessionmaker[Session]) -> None:
    gil = make_actor(session_factory, "UGIL", "Gil")
    knows(uow, gil, "built", "Flood risk model for river catchments")
    bo = make_actor(session_factory, "UBO", "Bo")
    ada = make_actor(session_factory, "UADA", "Ada")
    ask(uow, bo, "flood risk", at=NOW - 31 * DAY)
    assert TOLD not in seen(ask(uow, ada, "flood risk"))
    assert told_about(uow) == []
    cy = make_actor(session_factory, "UCY", "Cy")
    assert TOLD in seen(ask(uow, cy, "flood risk"))
    assert told_about(uow) == [("flood risk", "Gil")]


def test_an_asker_who_knows_the_topic_still_counts_as_knowing_it(
    uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    sam = make_actor(session_factory, "USAM", "Sam")
    rita = make_actor(session_factory, "URITA", "Rita")
    knows(uow, sam, "built", "Churn prediction for telecom customers")
    knows(uow, rita, "reviewed", "Churn prediction for telecom customers")
    ada = make_actor(session_factory, "UADA", "Ada")
    assert [e.name for e in ask(uow, ada, "churn prediction").experts] == ["Sam", "Rita"]
    mine = ask(uow, rita, "churn prediction")  # Rita asks about her own topic: she is left out of the answer...
    assert [e.name for e in mine.experts] == ["Sam"]
    assert mine.bus_factor == 2 and TOLD not in seen(mine)  # ...but still knows it
    assert told_about(uow) == []


def test_declared_skills_alone_never_tell_the_hub(uow: UowFactory, session_factory: sessionmaker[Session]) -> None:
    omar = make_actor(session_factory, "UOMAR", "Omar")
    knows(uow, omar, "declared_skill", "computer vision", tags=("computer vision",))
    for slack_id, name in (("UADA", "Ada"), ("UBO", "Bo"), ("UCY", "Cy")):
        result = ask(uow, make_actor(session_factory, slack_id, name), "computer vision")
        assert [e.name for e in result.experts] == ["Omar"] and TOLD not in seen(result)
    assert told_about(uow) == []
    knows(uow, omar, "built", "Computer vision for shelf gaps")  # now he has done it, not just said so
    assert TOLD in seen(ask(uow, make_actor(session_factory, "UDEE", "Dee"), "computer vision"))
    assert told_about(uow) == [("computer vision", "Omar")]


def test_a_topic_found_only_through_synonyms_does_not_tell_the_hub(
    uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    nina = make_actor(session_factory, "UNINA", "Nina")
    knows(uow, nina, "built", "NLP triage of support tickets", tags=("nlp",))
    askers = [make_actor(session_factory, f"U{n.upper()}", n) for n in ("Ada", "Bo")]
    for query in ("text mining", "sentiment analysis"):  # a synonym of nlp, and a topic nlp is related to
        for asker in askers:
            result = ask(uow, asker, query)
            assert [e.name for e in result.experts] == ["Nina"] and TOLD not in seen(result)
    assert told_about(uow) == []
    for asker in askers:  # asked for by name, the topic is hers alone
        result = ask(uow, asker, "nlp")
    assert TOLD in seen(result)
    assert told_about(uow) == [("nlp", "Nina")]
