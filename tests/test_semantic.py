"""Similarity by meaning (issue 13): embeddings of use cases and evidence through a loopback OpenAI-compatible
server, stored per model, fused with the lexical ranking; computed after the answer, as durable work.

The fake embeds letters, and `meanings` tells it which words mean the same (as a real model would know); the
bench measures a real model. Each test checks what a person reads or what is stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.chat import FakeChat
from bot.conversation import grammar as g
from bot.conversation.answers import ExpertsLater, answer, who_knows_now
from bot.outbox.delivery import deliver_due
from bot.settings import Settings
from bot.tasks import TASKS, TaskRunner
from bot.web import build_asgi
from handlers.console.people import console_ref
from handlers.console.render import render_notice
from intake import duplicates, hub, semantic, submission
from intake.notices import DuplicatesFound
from intake.people import resolve_actor
from intake.read_models import Relation
from intake.schema import Submission
from storage import vectors
from storage.db import UnitOfWork, configure_calendar
from storage.models import Embedding, Evidence, LLMCall, OutboxMessage, UseCase, UseCaseLink
from tests.conftest import Scenario
from tests.factories import slack_actor
from tests.fakes.openai_api import Error, FakeOpenAI
from tests.fakes.server import serve
from tests.fakes.slack_api import blocks_text

# What the fake's "model" knows: these words mean the same as the ones they map to.
MEANINGS = {
    "predict": "forecast", "bill": "invoice", "bills": "invoice", "amounts": "volumes", "suppliers": "vendors",
    "supplier": "vendor", "monthly": "month", "accounts": "payables", "staff": "team", "roster": "plan",
    "people": "staffing", "overdue": "late", "settlements": "payments",
}  # fmt: skip
FINANCE = {
    "title": "Forecast invoice volumes",
    "problem": "Forecast month invoice volumes from vendors so the payables team can plan staffing.",
    "department": "Finance",
    "benefit": "Fewer late payments",
    "success_metric": "late payments -20%",
    "data_availability": "available",
    "data_sensitivity": "internal",
    "people_affected": "internal",
    "autonomy": "assistive",
}
# The same use case in other words: few words in common, so the lexical check at submission misses it.
OPERATIONS = {
    **FINANCE,
    "title": "Predict bill amounts",
    "problem": "Predict monthly bill amounts from suppliers so the accounts staff can roster people.",
    "department": "Operations",
    "benefit": "Fewer overdue settlements",
}


def settings_for(database_url: str, fake: FakeOpenAI, **over: Any) -> Settings:
    return Settings(
        _env_file=None, database_url=database_url, openai_api_key="sk-test", openai_base_url=fake.base_url, **over
    )


@pytest.fixture
def hub_llm(database_url: str, migrate: Callable[[str], None]) -> Iterator[tuple[Any, FakeOpenAI, FakeChat]]:
    migrate(database_url)
    fake = FakeOpenAI(api_key="sk-test", meanings=MEANINGS).start()
    chat = FakeChat(platform="console")
    app = create_app(settings_for(database_url, fake), chat=chat, deliver=False)
    lee = app.core.run(resolve_actor, console_ref("Lee"), first_is_lead=True)[0]
    for name in ("Finance", "Operations"):
        app.core.run(hub.add_department, lee, name)
    app.core.run(hub.add_reviewer, lee, console_ref("Rita"), skills=["forecasting"])
    try:
        yield app, fake, chat
    finally:
        fake.stop()
        app.core.session_factory.kw["bind"].dispose()


def person(app: Any, name: str) -> Any:
    return app.core.run(resolve_actor, console_ref(name))[0]


def submit(app: Any, who: str, answers: dict[str, str]) -> int:
    result = app.core.run(submission.submit_use_case, person(app, who), Submission.model_validate(answers))
    return int(result.use_case.id)


def run_tasks(app: Any, chat: FakeChat) -> None:
    ports = {TASKS: TaskRunner(app.core), chat.platform: chat}
    while deliver_due(app.core.session_factory, ports).get("delivered"):
        pass


def to(chat: FakeChat, name: str) -> list[Any]:
    """The notices `name` was sent in their DM, in order."""
    return [s.notice for s in chat.transcript if s.destination == f"dm:{name}"]


def queued(app: Any, kind: str) -> list[dict[str, Any]]:
    """The notices of `kind` waiting in the outbox (not delivered yet)."""
    with UnitOfWork(app.core.session_factory) as uow:
        rows = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None)))
        return [m.payload for m in rows if m.payload.get("kind") == kind]


def stored(app: Any) -> list[tuple[str, int, str]]:
    with UnitOfWork(app.core.session_factory) as uow:
        rows = uow.session.execute(select(Embedding.kind, Embedding.ref_id, Embedding.model).order_by(Embedding.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_paraphrase_the_receipt_missed_is_found_by_meaning_and_its_submitter_told_who_to_talk_to(
    hub_llm: tuple[Any, FakeOpenAI, FakeChat],
) -> None:
    app, _, chat = hub_llm
    finance = submit(app, "Fay", FINANCE)
    run_tasks(app, chat)
    ops = submit(app, "Sam", OPERATIONS)
    [receipt] = queued(app, "receipt")
    assert receipt["duplicates"] == []  # the words differ: the check at submission (in the request) finds nothing
    with UnitOfWork(app.core.session_factory) as uow:
        before = uow.session.get(UseCase, ops)
        tier, status = before.risk_tier, before.status

    run_tasks(app, chat)  # after the answer: embedded, then compared by meaning
    [found] = [n for n in to(chat, "Sam") if isinstance(n, DuplicatesFound)]
    [d] = found.duplicates
    assert (d.id, d.department, d.owner.name if d.owner else None) == (finance, "Finance", "Fay")
    words = render_notice(found).text()  # as the console shows it
    assert "found more like it in other departments" in words and "talk to Fay" in words
    assert f"[1] Same as #{finance}" in words
    with UnitOfWork(app.core.session_factory) as uow:
        link = uow.session.scalar(select(UseCaseLink).where(UseCaseLink.use_case_id == ops))
        assert link is not None and link.other_id == finance and link.relation == Relation.LIKELY.value
        after = uow.session.get(UseCase, ops)
        assert (after.risk_tier, after.status) == (tier, status)  # advice only: nothing else changed
    assert ("use_case", ops, "text-embedding-3-small") in stored(app)

    # An edit checks by words again (dropping unanswered links), then by meaning: what Sam was told stays linked
    # and is not told again.
    from intake import editing

    edited = {**OPERATIONS, "success_metric": "overdue settlements -25%"}
    app.core.run(editing.edit_use_case, person(app, "Sam"), ops, Submission.model_validate(edited))
    run_tasks(app, chat)
    assert len([n for n in to(chat, "Sam") if isinstance(n, DuplicatesFound)]) == 1
    with UnitOfWork(app.core.session_factory) as uow:
        assert uow.session.scalar(select(UseCaseLink.other_id).where(UseCaseLink.use_case_id == ops)) == finance

    # The same answers as a receipt's: Same tells Finance's owner.
    app.core.run(duplicates.answer_duplicate, person(app, "Sam"), ops, finance, Relation.SAME)
    run_tasks(app, chat)
    assert any(n.kind == "duplicate_flagged" for n in to(chat, "Fay"))


def test_words_alone_still_find_what_shares_them_and_nothing_is_said_twice(
    hub_llm: tuple[Any, FakeOpenAI, FakeChat],
) -> None:
    app, _, chat = hub_llm
    finance = submit(app, "Fay", FINANCE)
    run_tasks(app, chat)
    ops = submit(app, "Sam", {**FINANCE, "department": "Operations"})  # word for word
    receipt = queued(app, "receipt")[-1]
    assert [d["id"] for d in receipt["duplicates"]] == [finance]
    run_tasks(app, chat)
    assert not [n for n in to(chat, "Sam") if isinstance(n, DuplicatesFound)]  # the receipt said it
    sim = semantic.SemanticSimilarity(app.core.llm)
    [top] = app.core.read(lambda uow: sim.similar(uow, FINANCE["problem"], title=FINANCE["title"], exclude_id=ops))
    assert top.id == finance and top.likely_duplicate and top.score >= 0.9


def test_a_failing_endpoint_leaves_the_lexical_answer_and_writes_nothing_half(
    hub_llm: tuple[Any, FakeOpenAI, FakeChat],
) -> None:
    app, fake, chat = hub_llm
    submit(app, "Fay", FINANCE)
    fake.embedding_errors = [Error(500), Error(500)]  # the client's one retry fails too
    run_tasks(app, chat)
    assert stored(app) == []
    with UnitOfWork(app.core.session_factory) as uow:
        outcomes = set(uow.session.scalars(select(LLMCall.outcome).where(LLMCall.prompt == "embed_use_case")))
        assert outcomes == {"error"}
        waiting = uow.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.platform == TASKS,
                                                                  OutboxMessage.delivered_at.is_(None))
        )  # fmt: skip
        assert waiting == 0  # the task ended: the hourly sync embeds it later
    done = semantic.sync(app.core.session_factory, app.core.llm)
    assert (done.use_cases, done.failed) == (1, False) and ("use_case", 1, "text-embedding-3-small") in stored(app)


def test_sync_embeds_an_import_in_batches_skips_what_is_current_and_recomputes_for_a_new_model(
    database_url: str, migrate: Callable[[str], None]
) -> None:
    migrate(database_url)
    with FakeOpenAI(api_key="sk-test") as fake:
        app = create_app(settings_for(database_url, fake), chat=FakeChat(platform="console"), deliver=False)
        lee = app.core.run(resolve_actor, console_ref("Lee"), first_is_lead=True)[0]
        app.core.run(hub.add_department, lee, "Finance")
        for i in range(7):
            submit(app, f"P{i}", {**FINANCE, "title": f"Use case number {i}", "problem": f"Problem {i} " * 3})
        semantic.BATCH, old = 3, semantic.BATCH
        try:
            first = semantic.sync(app.core.session_factory, app.core.llm)
        finally:
            semantic.BATCH = old
        assert first.use_cases == 7 and first.evidence > 0 and not first.failed
        embed_calls = len(fake.of("/v1/embeddings"))
        again = semantic.sync(app.core.session_factory, app.core.llm)
        assert (again.use_cases, again.evidence) == (0, 0) and len(fake.of("/v1/embeddings")) == embed_calls
        app.core.session_factory.kw["bind"].dispose()

        newer = create_app(
            settings_for(database_url, fake, llm_embedding_model="text-embedding-3-large"),
            chat=FakeChat(platform="console"),
            deliver=False,
        )
        redone = semantic.sync(newer.core.session_factory, newer.core.llm)
        assert redone.use_cases == 7
        models = {m for _, _, m in stored(newer)}
        assert models == {"text-embedding-3-small", "text-embedding-3-large"}  # kept apart, never mixed
        newer.core.session_factory.kw["bind"].dispose()


def test_only_the_fields_a_lead_allows_are_sent(database_url: str, migrate: Callable[[str], None]) -> None:
    migrate(database_url)
    with FakeOpenAI(api_key="sk-test") as fake:
        app = create_app(settings_for(database_url, fake, llm_fields="title"), chat=FakeChat(platform="console"))
        lee = app.core.run(resolve_actor, console_ref("Lee"), first_is_lead=True)[0]
        app.core.run(hub.add_department, lee, "Finance")
        submit(app, "Fay", FINANCE)
        semantic.sync(app.core.session_factory, app.core.llm, allowed=app.core.settings.llm_fields)
        sent = json.dumps([c.body for c in fake.of("/v1/embeddings")])
        assert "Forecast invoice volumes" in sent and "payables team" not in sent  # the title, not the problem
        app.core.session_factory.kw["bind"].dispose()


def test_without_an_endpoint_nothing_is_embedded_or_queued(database_url: str, migrate: Callable[[str], None]) -> None:
    migrate(database_url)
    chat = FakeChat(platform="console")
    app = create_app(Settings(_env_file=None, database_url=database_url), chat=chat, deliver=False)
    lee = app.core.run(resolve_actor, console_ref("Lee"), first_is_lead=True)[0]
    app.core.run(hub.add_department, lee, "Finance")
    submit(app, "Fay", FINANCE)
    with UnitOfWork(app.core.session_factory) as uow:
        kinds = [m.payload.get("task") for m in uow.session.scalars(select(OutboxMessage))]
        assert "embed" not in kinds
    assert not app.core.expertise.semantic
    result = answer(app.core, lee, g.WhoKnows("forecasting", 0))
    assert not isinstance(result, ExpertsLater)
    assert semantic.sync(app.core.session_factory, app.core.llm).use_cases == 0
    app.core.session_factory.kw["bind"].dispose()


def test_the_vector_index_follows_the_table_new_replaced_and_forgotten_rows(
    database_url: str, migrate: Callable[[str], None]
) -> None:
    from storage.db import make_engine, make_session_factory

    migrate(database_url)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    index = vectors.VectorIndex()
    e1, e2, e3 = np.eye(3, dtype=np.float32)
    with UnitOfWork(factory) as uow:
        vectors.put(uow.session, "use_case", "m", [(1, "a", e1), (2, "b", e2)])
        uow.commit()
        assert [n.ref_id for n in index.nearest(uow.session, "use_case", "m", e2, top=1)] == [2]
        vectors.put(uow.session, "use_case", "m", [(3, "c", e3 + 0.1 * e2)])  # new: appended
        uow.commit()
        assert [n.ref_id for n in index.nearest(uow.session, "use_case", "m", e3 + 0.5 * e2, top=2)] == [3, 2]
        vectors.put(uow.session, "use_case", "m", [(2, "b2", e1)])  # re-embedded: its old vector is gone
        uow.commit()
        near = index.nearest(uow.session, "use_case", "m", e2, top=3)
        assert near[0].ref_id == 3 and {n.ref_id for n in near} == {1, 2, 3}
        assert index.cosines(uow.session, "use_case", "m", e1, [2]) == {2: pytest.approx(1.0)}
        vectors.drop(uow.session, "use_case", [3])
        uow.commit()
        assert {n.ref_id for n in index.nearest(uow.session, "use_case", "m", e3, top=3)} == {1, 2}
        assert index.nearest(uow.session, "use_case", "other-model", e1, top=3) == []
        assert index.nearest(uow.session, "use_case", "m", e1, top=3, exclude=[1, 2]) == []
    engine.dispose()


# --- "who knows" by meaning ----------------------------------------------------------------------------------


def who_knows_seed(app: Any, chat: FakeChat) -> None:
    """Fay submitted the invoices forecast; Omar declared computer vision. Everything is embedded."""
    submit(app, "Fay", FINANCE)
    lee = person(app, "Lee")
    app.core.run(hub.add_reviewer, lee, console_ref("Omar"), skills=["computer vision"])
    run_tasks(app, chat)
    semantic.sync(app.core.session_factory, app.core.llm)


def test_who_knows_finds_people_whose_evidence_uses_other_words(hub_llm: tuple[Any, FakeOpenAI, FakeChat]) -> None:
    app, _, chat = hub_llm
    who_knows_seed(app, chat)
    asker = person(app, "Ada")
    words_only = app.core.read(
        lambda uow: app.core.expertise.find_experts(
            uow, "predict supplier bills", record_asks=False, now=app.core.now()
        )
    )
    assert "Fay" not in [e.name for e in words_only.experts]  # no word in common with her evidence
    result = answer(app.core, asker, g.WhoKnows("predict supplier bills", 0))
    assert isinstance(result, ExpertsLater)  # where an answer has a deadline, this is durable work
    found = who_knows_now(app.core, asker, "predict supplier bills")
    assert found.experts[0].name == "Fay" and "Omar" not in [e.name for e in found.experts]
    again = answer(app.core, asker, g.WhoKnows("predict supplier bills", 0))  # asked lately: at once
    assert not isinstance(again, ExpertsLater) and again.experts[0].name == "Fay"  # type: ignore[union-attr]


def test_who_knows_falls_back_to_words_when_the_endpoint_fails(hub_llm: tuple[Any, FakeOpenAI, FakeChat]) -> None:
    app, fake, chat = hub_llm
    who_knows_seed(app, chat)
    fake.embedding_errors = [Error(503), Error(503)]
    result = who_knows_now(app.core, person(app, "Ada"), "forecasting invoices")
    assert "Fay" in [e.name for e in result.experts]  # her words match: the text search alone finds her


def test_on_slack_whoknows_answers_at_once_that_it_is_looking_and_the_answer_replaces_it(
    slack_llm: tuple[Scenario, FakeOpenAI],
) -> None:
    sc, fake = slack_llm
    fake.meanings = MEANINGS
    lead, fay = sc.user("ULEAD", "lee"), sc.user("UFAY", "fay")
    sc.slack.command(lead, "/hub", "department add Finance")
    core = sc.app.core
    actor, _ = slack_actor(core, fay.id, "fay")
    core.run(submission.submit_use_case, actor, Submission.model_validate(FINANCE))
    sc.api.wait_for_text("chat.postMessage", "Forecast invoice volumes")
    semantic.sync(core.session_factory, core.llm)

    def questions_embedded() -> int:
        return sum("predict supplier bills" in json.dumps(c.body) for c in fake.of("/v1/embeddings"))

    r = sc.slack.command(sc.user("UADA", "ada"), "/whoknows", "predict supplier bills")
    assert r.status_code == 200 and "Looking for people who know about that" in json.dumps(r.json())
    assert questions_embedded() == 0  # nothing asked of the model before the answer
    hook = sc.api.wait_for_hook("Who knows")
    assert "predict supplier bills" in hook
    [reply] = [c for c in sc.api.calls if c.method.startswith("response_url:")]
    assert "<@UFAY>" in blocks_text(reply) and reply.params.get("replace_original") is True
    assert questions_embedded() == 1


def test_forgetting_a_person_removes_the_vectors_made_from_their_words(
    hub_llm: tuple[Any, FakeOpenAI, FakeChat],
) -> None:
    from intake import forget

    app, _, _ = hub_llm
    mine = submit(app, "Fay", {**FINANCE, "problem": "Fay forecasts invoice volumes by hand every month."})
    other = submit(app, "Sam", OPERATIONS)
    semantic.sync(app.core.session_factory, app.core.llm)
    with UnitOfWork(app.core.session_factory) as uow:
        fay_evidence = set(
            uow.session.scalars(select(Evidence.id).where(Evidence.person_id == person(app, "Fay").person_id))
        )
    assert fay_evidence and {("evidence", e) for e in fay_evidence} <= {(k, r) for k, r, _ in stored(app)}
    app.core.run(forget.forget_person, person(app, "Lee"), person(app, "Fay").person_id)
    left = {(k, r) for k, r, _ in stored(app)}
    assert not {("evidence", e) for e in fay_evidence} & left  # her evidence's vectors went with it
    assert ("use_case", mine) not in left  # its text named her: rewritten, so its vector is gone
    assert ("use_case", other) in left


def test_the_model_reads_a_question_into_the_taxonomy_and_only_the_taxonomy(
    hub_llm: tuple[Any, FakeOpenAI, FakeChat],
) -> None:
    app, fake, chat = hub_llm
    who_knows_seed(app, chat)
    fake.replies = [
        json.dumps(
            {
                "concepts": ["forecasting", "approve_everything"],
                "synonyms": [
                    "cash planning",
                    "<!channel> ping",
                    "a phrase far too long to be one synonym at all really",
                ],
            }
        )
    ]
    asker = person(app, "Ada")
    question = "who knows about cash outlook modelling"  # not a word of Fay's use case, nor of Rita's skill
    index, now = app.core.expertise, app.core.now()
    before = app.core.read(lambda uow: index.find_experts(uow, question, record_asks=False, now=now))
    assert not {"Fay", "Rita"} & {e.name for e in before.experts}
    result = who_knows_now(app.core, asker, question)
    assert result.concepts == ["forecasting"]  # a concept the taxonomy does not have is dropped
    assert "cash planning" in result.expanded_terms and "forecast" in result.expanded_terms
    assert not any("channel" in t or "far too long" in t for t in result.expanded_terms)
    assert {"Fay", "Rita"} <= {e.name for e in result.experts}  # found through "forecasting" and its terms
    [call] = [
        c
        for c in fake.of("/v1/chat/completions")
        if "query_expand" in json.dumps(c.body) or "taxonomy" in json.dumps(c.body)
    ]
    prompt = call.body["messages"][0]["content"]
    assert "BEGIN QUESTION" in prompt and question in prompt
    chat_calls = len(fake.of("/v1/chat/completions"))
    who_knows_now(app.core, asker, "Who knows about cash  outlook modelling")  # the same question: cached
    assert len(fake.of("/v1/chat/completions")) == chat_calls


def test_on_teams_who_knows_says_it_is_looking_and_the_card_follows_in_the_chat(
    database_url: str, migrate: Callable[[str], None]
) -> None:
    from tests.fakes.teams_connector import FakeConnector
    from tests.test_teams import LEE, SAM, TeamsBot, teams_settings

    migrate(database_url)
    connector = FakeConnector().start()
    fake = FakeOpenAI(api_key="sk-test", meanings=MEANINGS).start()
    app = create_app(
        teams_settings(database_url, openai_api_key="sk-test", openai_base_url=fake.base_url),
        outbox_interval=0.2,
        deliver=True,
    )
    configure_calendar(app.core.session_factory, None)
    try:
        with serve(build_asgi(app)) as base:
            bot = TeamsBot(base, connector, app)
            bot.say(LEE, "hub department add Finance")
            fay = app.core.run(resolve_actor, console_ref("Fay"))[0]
            app.core.run(submission.submit_use_case, fay, Submission.model_validate(FINANCE))
            semantic.sync(app.core.session_factory, app.core.llm)
            bot.say(SAM, "whoknows predict supplier bills")
            assert "Looking for people who know about that" in bot.answered(SAM.chat)[0].text
            found = connector.wait_for(lambda s: s.conversation_id == SAM.chat and "Who knows" in s.text)
            assert found and "Fay" in found[0].text, [s.text for s in connector.sent]
            assert not connector.invalid
    finally:
        connector.stop()
        fake.stop()
        app.core.session_factory.kw["bind"].dispose()


def test_hubspoke_similar_at_the_command_line_finds_a_paraphrase_by_meaning(
    hub_llm: tuple[Any, FakeOpenAI, FakeChat], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    app, fake, chat = hub_llm
    finance = submit(app, "Fay", FINANCE)
    run_tasks(app, chat)
    monkeypatch.setenv("DATABASE_URL", app.settings.database_url)
    ask = ["similar", "--title", OPERATIONS["title"], OPERATIONS["problem"]]
    assert main(ask) == 0  # no endpoint in the environment: words alone
    by_words = capsys.readouterr().out
    assert "likely duplicate" not in by_words
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    assert main(ask) == 0
    by_meaning = capsys.readouterr().out
    line = next(row for row in by_meaning.splitlines() if row.startswith(f"#{finance} "))
    assert "*" in line and "Forecast invoice volumes" in line and "* likely duplicate" in by_meaning
