"""Durable work a click starts: written before Slack is told the click arrived, carried out by a worker.

An Approve (or a reviewer picked from a card) is recorded as a task in the request's own
transaction, the request is acknowledged, and an outbox worker makes the decision moments later,
under the same role checks and state machine as any other. A crash between the two loses nothing:
the task is in the database and the next worker runs it. Tasks travel in the outbox on the core's
own platform (TASKS), one use case's at a time and in order, so two clicks on one card are decided
in the order they came and the second is told who decided first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from bot.chat import DeliveryError
from intake import decisions, drafting, hub, portfolio_views, queries, risk_ai, semantic
from intake.errors import AlreadyDecided, FieldErrors, HeldByAnother, HubError
from intake.notices import ExpertsAnswer, Refusal
from intake.people import actor_of
from intake.read_models import Actor, RiskSuggestion, jsonable
from intake.schema import Decision
from storage import repo
from storage.db import UnitOfWork
from storage.models import Person

log = logging.getLogger(__name__)

TASKS = "core"  # the outbox "platform" of durable work
REPLY_ADDRESS = "reply_address"  # beside a reply's notice in its outbox payload


class ReplyTo(BaseModel):
    """Where to tell the person what came of their click: a platform and its private address (Slack: response_url)."""

    platform: str
    address: str


def _enqueue(uow: UnitOfWork, task: dict[str, Any], use_case_id: int, now: dt.datetime) -> None:
    repo.enqueue(uow.session, task, operation="task", platform=TASKS, destination=f"uc:{use_case_id}", at=now)
    uow.commit()


def request_decision(
    uow: UnitOfWork,
    actor: Actor,
    use_case_id: int,
    decision: Decision,
    *,
    round_: int,
    reply_to: ReplyTo | None,
    now: dt.datetime,
) -> None:
    """Record a click on a decision button as durable work (committed on return)."""
    task = {
        "task": "decide",
        "person_id": actor.person_id,
        "use_case_id": use_case_id,
        "decision": decision.value,
        "round": round_,
        "reply_to": reply_to.model_dump() if reply_to else None,
    }
    _enqueue(uow, task, use_case_id, now)


def request_assignment(
    uow: UnitOfWork, actor: Actor, use_case_id: int, reviewer_id: int, *, reply_to: ReplyTo | None, now: dt.datetime
) -> None:
    """Record a reviewer picked on a card as durable work (committed on return)."""
    task = {
        "task": "assign",
        "person_id": actor.person_id,
        "use_case_id": use_case_id,
        "reviewer_id": reviewer_id,
        "reply_to": reply_to.model_dump() if reply_to else None,
    }
    _enqueue(uow, task, use_case_id, now)


WHO_KNOWS = "whoknows"


def request_who_knows(
    uow: UnitOfWork, actor: Actor, topic: str, offset: int, *, reply_to: ReplyTo | None, now: dt.datetime
) -> None:
    """Record "who knows X" as durable work (committed on return): its question is embedded by the worker, and
    the answer goes to `reply_to` (Slack: the command's response_url), or to the asker's DM without one."""
    task = {
        "task": WHO_KNOWS,
        "person_id": actor.person_id,
        "topic": topic[:500],
        "offset": offset,
        "reply_to": reply_to.model_dump() if reply_to else None,
    }
    repo.enqueue(uow.session, task, operation="task", platform=TASKS, destination=f"ask:{actor.person_id}", at=now)
    uow.commit()


class TaskRunner:
    """The port the outbox worker hands core tasks to (platform TASKS)."""

    platform = TASKS
    post_interval = 0.0

    def __init__(self, core: Any) -> None:
        self._core = core  # bot.core.Core (not imported: Core's module imports this one's callers)

    def bucket(self, operation: str) -> str:
        return "tasks"

    def run(self, payload: dict[str, Any], *, done: Callable[[Session], None]) -> None:
        """Carry out one task; its completion (`done`) commits with its effect, a refusal is told to the person."""
        core = self._core
        if payload.get("task") == risk_ai.TASK:
            self._explain_risk(int(payload["use_case_id"]), done)
            return
        if payload.get("task") == drafting.TASK:
            self._draft(payload, done)
            return
        if payload.get("task") == semantic.TASK:
            self._embed(payload, done)
            return
        if payload.get("task") == WHO_KNOWS:
            self._who_knows(payload, done)
            return
        try:
            actor = core.read(_actor, int(payload["person_id"]))
            if payload["task"] == "export":  # `/hub export`: files for the lead who asked
                core.run_with(done, portfolio_views.send_export, actor, zone=core.zone_of(None))
                return
            use_case_id = int(payload["use_case_id"])
            if payload["task"] == "decide":
                decision = Decision(payload["decision"])
                core.run_with(done, decisions.decide, actor, use_case_id, decision, round_=int(payload["round"]))
            elif payload["task"] == "assign":
                core.run_with(done, decisions.assign_reviewer, actor, use_case_id, int(payload["reviewer_id"]))
            else:
                raise DeliveryError(f"unknown task {payload['task']!r}", permanent=True)
        except AlreadyDecided as exc:
            self._refuse(payload, exc.message, exc.decided_at, done)
        except FieldErrors as exc:
            self._refuse(payload, next(iter(exc.errors.values())), None, done)
        except HeldByAnother as exc:
            self._refuse(payload, exc.message, None, done, take_over=(exc.use_case_id, exc.round))
        except HubError as exc:
            self._refuse(payload, exc.message, None, done)
        except (KeyError, ValueError, TypeError) as exc:
            raise DeliveryError(f"unreadable task: {exc}", permanent=True) from exc

    def _draft(self, payload: dict[str, Any], done: Callable[[Session], None]) -> None:
        """Draft the form from what someone wrote and send it to them to check (without a model: today's pre-fill)."""
        from bot.conversation.answers import draft_now

        core = self._core
        person_id, text = int(payload["person_id"]), str(payload.get("text") or "")
        actor = core.read(_actor, person_id)
        draft, questions, from_model = draft_now(core, actor, text)
        departments = core.read(hub.list_departments)
        core.run_with(done, drafting.save_draft, person_id, draft, questions, from_model, departments)

    def _who_knows(self, payload: dict[str, Any], done: Callable[[Session], None]) -> None:
        """Embed the question (no transaction open), rank people by meaning and words, and send the answer."""
        core = self._core
        try:
            actor = core.read(_actor, int(payload["person_id"]))
            topic, offset = str(payload["topic"]), int(payload.get("offset") or 0)
            target = ReplyTo.model_validate(payload["reply_to"]) if payload.get("reply_to") else None
        except (KeyError, ValueError, TypeError) as exc:
            raise DeliveryError(f"unreadable task: {exc}", permanent=True) from exc
        except HubError as exc:
            self._refuse(payload, exc.message, None, done)
            return
        u = core.expertise.understand(topic)  # no answer from the endpoint: words alone rank
        try:
            core.run_with(done, _answer_experts, core.expertise, actor, topic, offset, u, target)
        except HubError as exc:
            self._refuse(payload, exc.message, None, done)

    def _embed(self, payload: dict[str, Any], done: Callable[[Session], None]) -> None:
        """Embed a new or edited use case, then look for its duplicates by meaning; without an answer from the
        endpoint the receipt's lexical duplicates stand (the hourly sync embeds it later)."""
        from storage.vectors import USE_CASE

        core = self._core
        llm = core.llm
        use_case_id = int(payload["use_case_id"])
        if llm is None or not llm.enabled:
            core.run_with(done, _nothing)
            return
        allowed = core.settings.llm_fields
        _, failed = semantic.embed_pending(core.session_factory, llm, USE_CASE, [use_case_id], allowed=allowed)
        if failed or not payload.get("check", True):
            core.run_with(done, _nothing)
            return
        similarity = semantic.SemanticSimilarity.from_settings(llm, core.settings)
        found = core.read(semantic.find_by_meaning, use_case_id, similarity)
        core.run_with(done, semantic.record_found, use_case_id, found)

    def _explain_risk(self, use_case_id: int, done: Callable[[Session], None]) -> None:
        """Ask the model for its view of a use case's risk; no answer (or an invalid one) leaves the rules alone."""
        from bot.llm import load_prompt

        core = self._core
        llm = core.llm
        try:
            view = core.read(queries.get_use_case, use_case_id)
        except HubError:  # deleted (forgotten) since: nothing to ask
            core.run_with(done, _nothing)
            return
        suggestion = None
        if llm is not None and llm.enabled:
            prompt = load_prompt("risk_explain")
            text = risk_ai.use_case_text(view, core.settings.llm_fields)
            suggestion = llm.structured(prompt, {"use_case": text}, RiskSuggestion)
        if suggestion is None:
            core.run_with(done, _nothing)
            return
        model = str(getattr(llm, "chat_model", ""))
        core.run_with(done, risk_ai.store, use_case_id, suggestion, model, f"{prompt.name}.{prompt.version}")

    def _refuse(
        self,
        payload: dict[str, Any],
        text: str,
        at: dt.datetime | None,
        done: Callable[[Session], None],
        *,
        take_over: tuple[int, int] | None = None,
    ) -> None:
        """Tell the person why their click changed nothing (in the transaction that marks the task done)."""
        reply_to = payload.get("reply_to")
        target = ReplyTo.model_validate(reply_to) if reply_to else None
        if target is None:
            log.info("task %s refused, nobody to tell: %s", payload.get("task"), text)
        self._core.run_with(done, _tell, target, Refusal(text=text, at=at, take_over=take_over))


def _nothing(uow: UnitOfWork, *, now: dt.datetime) -> None:
    uow.commit()  # only the task's completion


def _actor(uow: UnitOfWork, person_id: int) -> Actor:
    person = uow.session.get(Person, person_id)
    if person is None:
        raise HubError("The person who clicked no longer exists.")
    return actor_of(person)


class _Within(UnitOfWork):
    """A service's unit of work inside the caller's transaction: its commits only flush, so what it writes commits
    with what the caller adds after it, once."""

    def __init__(self, outer: UnitOfWork) -> None:
        self.session = outer.session
        self.before_commit = outer.before_commit

    def commit(self) -> None:
        self.session.flush()


def _answer_experts(
    uow: UnitOfWork,
    index: Any,
    actor: Actor,
    topic: str,
    offset: int,
    understood: Any,
    target: ReplyTo | None,
    *,
    now: dt.datetime,
) -> None:
    from bot.expertise.ask import ask_who_knows  # the expertise services build on the core's tasks

    u = understood
    within = _Within(uow)
    result = ask_who_knows(within, index, actor, topic, offset=offset, vector=u.vector, expansion=u.expansion, now=now)
    notice = ExpertsAnswer(result=result)
    if target is None:
        repo.enqueue(uow.session, jsonable(notice), person_id=actor.person_id, at=now)
        uow.commit()
    else:
        _send_reply(uow, target, notice, now)


def _send_reply(uow: UnitOfWork, target: ReplyTo, notice: BaseModel, now: dt.datetime) -> None:
    payload = {**jsonable(notice), REPLY_ADDRESS: target.address}
    digest = hashlib.sha256(target.address.encode()).hexdigest()[:32]
    repo.enqueue(
        uow.session, payload, operation="reply", platform=target.platform, destination=f"reply:{digest}", at=now
    )
    uow.commit()


def _tell(uow: UnitOfWork, target: ReplyTo | None, refusal: Refusal, *, now: dt.datetime) -> None:
    if target is None:
        uow.commit()  # nothing to say to anyone: just the task's completion
        return
    _send_reply(uow, target, refusal, now)
