"""Governance a hub can defend (issue 9, items 12, 13, 15, 17, 19): close with a reason, withdraw, reopen, edit.

Each decision is checked against the actor's role as stored now, lands in the audit trail with who and why, and
tells the people it concerns through the outbox.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.conversation import grammar as g
from intake import closing, decisions, editing, hub, people, queries, stages, submission
from intake.errors import AlreadyDecided, FieldErrors, HubError, InvalidMove, NotAllowed
from intake.people import SYSTEM
from intake.read_models import Actor
from intake.schema import Decision, Stage, Status, Submission
from storage.db import UnitOfWork
from storage.models import AuditEvent, OutboxMessage, Review, UseCase
from tests.conftest import NOW
from tests.factories import ANSWERS, slack

LATER = NOW + dt.timedelta(hours=2)
PERSONAL = Submission.model_validate({**ANSWERS, "data_sensitivity": "personal"})
LOW = Submission.model_validate(ANSWERS)


def actor(sf: sessionmaker[Session], user_id: str, name: str, lead: bool = False) -> Actor:
    with UnitOfWork(sf) as u:
        leads = frozenset({user_id}) if lead else None
        return people.resolve_actor(u, slack(user_id, name), leads=leads, now=NOW)[0]


@pytest.fixture
def hub_people(session_factory: sessionmaker[Session]) -> dict[str, Actor]:
    sf = session_factory
    with UnitOfWork(sf) as u:
        hub.add_department(u, SYSTEM, "Support", now=NOW)
        hub.add_reviewer(u, SYSTEM, slack("URITA", "Rita"), skills=["support"], now=NOW)
        hub.add_reviewer(u, SYSTEM, slack("UOMAR", "Omar"), skills=[], now=NOW)
        hub.add_reviewer(u, SYSTEM, slack("UAMY", "Amy"), skills=[], now=NOW)
    who = {n: actor(sf, uid, n) for uid, n in (("URITA", "Rita"), ("UOMAR", "Omar"), ("UAMY", "Amy"), ("USAM", "Sam"))}
    who["Lee"] = actor(sf, "ULEE", "Lee", lead=True)
    return who


def submit(sf: sessionmaker[Session], who: Actor, sub: Submission = PERSONAL) -> int:
    with UnitOfWork(sf) as u:
        return submission.submit_use_case(u, who, sub, now=NOW).use_case.id


def run(sf: sessionmaker[Session], fn, *args, **kw):  # type: ignore[no-untyped-def]
    with UnitOfWork(sf) as u:
        return fn(u, *args, now=kw.pop("now", LATER), **kw)


@dataclasses.dataclass(frozen=True)
class Audited:
    action: str
    actor_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def audit(sf: sessionmaker[Session], use_case_id: int) -> list[Audited]:
    with UnitOfWork(sf) as u:
        query = select(AuditEvent).where(AuditEvent.use_case_id == use_case_id).order_by(AuditEvent.id)
        return [Audited(e.action, e.actor_id, e.before, e.after) for e in u.session.scalars(query)]


def queued(sf: sessionmaker[Session], after: int = 0) -> list[tuple[str, str]]:
    """(destination, notice kind) of what was queued after outbox row `after`."""
    with UnitOfWork(sf) as u:
        rows = u.session.scalars(select(OutboxMessage).where(OutboxMessage.id > after).order_by(OutboxMessage.id))
        return [(m.destination, str(m.payload.get("kind"))) for m in rows]


def last_outbox(sf: sessionmaker[Session]) -> int:
    with UnitOfWork(sf) as u:
        return max(u.session.scalars(select(OutboxMessage.id)), default=0)


def test_closing_asks_why_and_a_waiting_review_ends_with_the_card_updated_and_the_reviewer_told(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    sf, who = session_factory, hub_people
    uc_id = submit(sf, who["Sam"])
    with pytest.raises(FieldErrors) as blank:
        run(sf, closing.close_use_case, who["Sam"], uc_id, "   ")
    assert blank.value.errors == {"reason": closing.REASON_NEEDED}
    with pytest.raises(NotAllowed, match="Only the owner of #1 \\(Sam\\) or a hub lead can close it"):
        run(sf, closing.close_use_case, who["Omar"], uc_id, "Not needed")
    before = last_outbox(sf)

    view = run(sf, closing.close_use_case, who["Sam"], uc_id, "Finance already runs one.")

    assert (view.stage, view.status) == (Stage.CLOSED, Status.WITHDRAWN)
    assert queued(sf, before) == [("ref:uc:1:r1:card", "review_card"), (f"person:{who['Rita'].person_id}", "withdrawn")]
    closed = audit(sf, uc_id)[-1]
    assert (closed.action, closed.actor_id) == ("closed", who["Sam"].person_id)
    assert closed.before == {"stage": "ideation", "status": "in_review"}
    assert closed.after == {"stage": "closed", "status": "withdrawn", "reason": "Finance already runs one."}
    with UnitOfWork(sf) as u:
        shown = queries.get_use_case(u, uc_id)
    assert shown.closed is not None and shown.closed.by is not None
    assert (shown.closed.by.name, shown.closed.reason, shown.closed.from_stage) == (
        "Sam",
        "Finance already runs one.",
        Stage.IDEATION,
    )
    # The reviewer's click after it left review changes nothing and says why.
    with pytest.raises(AlreadyDecided, match="Sam took this use case out of review"):
        run(sf, decisions.decide, who["Rita"], uc_id, Decision.APPROVE)


def test_a_stage_move_to_closed_asks_for_the_reason_instead(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    uc_id = submit(session_factory, hub_people["Sam"], LOW)
    with pytest.raises(InvalidMove, match="Closing a use case asks why: /usecase close 1"):
        run(session_factory, stages.move_stage, hub_people["Sam"], uc_id, Stage.CLOSED)
    assert g.parse(g.USECASE, "stage 1 closed") == g.CloseUseCase(1)


def test_the_owner_withdraws_a_waiting_submission_and_nobody_else_can(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    sf, who = session_factory, hub_people
    uc_id = submit(sf, who["Sam"])
    with pytest.raises(NotAllowed, match="Only Sam, who submitted #1, can withdraw it"):
        run(sf, closing.withdraw_use_case, who["Lee"], uc_id)
    view = run(sf, closing.withdraw_use_case, who["Sam"], uc_id)
    assert (view.stage, view.status) == (Stage.CLOSED, Status.WITHDRAWN)
    assert view.closed is not None and view.closed.withdrawn
    with UnitOfWork(sf) as u:
        review = u.session.scalar(select(Review).where(Review.use_case_id == uc_id))
        assert review is not None and (review.decision, review.decided_by_id) == ("withdrawn", who["Sam"].person_id)
    assert audit(sf, uc_id)[-1].action == "withdrawn"
    # A self-serve one is not waiting: there is nothing to withdraw, and the message says what to do instead.
    other = submit(sf, who["Sam"], LOW)
    with pytest.raises(InvalidMove, match=r"not waiting for review.*close it: /usecase close 2"):
        run(sf, closing.withdraw_use_case, who["Sam"], other)


def test_a_lead_reopens_to_the_stage_it_was_in_and_a_rejected_one_goes_back_to_review(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    sf, who = session_factory, hub_people
    going = submit(sf, who["Sam"], LOW)  # self-serve: moves without review
    run(sf, stages.move_stage, who["Sam"], going, Stage.EXPERIMENTATION)
    run(sf, closing.close_use_case, who["Sam"], going, "Paused for the budget round.")
    with pytest.raises(NotAllowed, match="Only a hub lead can reopen"):
        run(sf, closing.reopen_use_case, who["Sam"], going, "Budget back")
    with pytest.raises(FieldErrors):
        run(sf, closing.reopen_use_case, who["Lee"], going, "")

    before = last_outbox(sf)
    back = run(sf, closing.reopen_use_case, who["Lee"], going, "Budget back.")
    assert (back.stage, back.status) == (Stage.EXPERIMENTATION, Status.SELF_SERVE)
    assert queued(sf, before) == [(f"person:{who['Sam'].person_id}", "reopened")]
    reopened = audit(sf, going)[-1]
    assert (reopened.action, reopened.actor_id) == ("reopened", who["Lee"].person_id)
    assert reopened.before == {"stage": "closed", "status": "self_serve"}
    assert reopened.after == {"stage": "experimentation", "status": "self_serve", "reason": "Budget back."}

    refused = submit(sf, who["Sam"])
    run(sf, decisions.decide, who["Rita"], refused, Decision.REJECT, reason="No data owner.")
    again = run(sf, closing.reopen_use_case, who["Lee"], refused, "The data owner signed up.")
    assert again.status is Status.IN_REVIEW and again.review is not None
    assert (again.review.round, again.review.decision) == (2, None)
    with pytest.raises(InvalidMove, match="only a closed or rejected use case can be reopened"):
        run(sf, closing.reopen_use_case, who["Lee"], refused, "again")


def test_a_lead_who_lost_the_role_cannot_reopen_with_an_old_actor(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    sf, who = session_factory, hub_people
    uc_id = submit(sf, who["Sam"], LOW)
    run(sf, closing.close_use_case, who["Sam"], uc_id, "Done with it.")
    other = actor(sf, "UKIM", "Kim", lead=True)
    with UnitOfWork(sf) as u:
        hub.remove_lead(u, other, slack("ULEE", "Lee"), now=NOW)
    with pytest.raises(NotAllowed):
        run(sf, closing.reopen_use_case, who["Lee"], uc_id, "Back")  # the Actor still says is_lead=True


def test_an_edit_that_raises_the_risk_tier_sends_a_self_serve_use_case_back_to_review(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    sf, who = session_factory, hub_people
    uc_id = submit(sf, who["Sam"], LOW)
    with (
        pytest.raises(NotAllowed, match=r"Only Sam \(who submitted #1\) or a hub lead can edit it"),
        UnitOfWork(sf) as u,
    ):
        editing.use_case_for_edit(u, who["Omar"], uc_id)
    with pytest.raises(FieldErrors) as same:
        run(sf, editing.edit_use_case, who["Sam"], uc_id, LOW)
    assert same.value.errors == {"title": editing.NOTHING_CHANGED}

    result = run(sf, editing.edit_use_case, who["Sam"], uc_id, PERSONAL)

    assert result.edited and result.back_to_review
    assert [c.field for c in result.changes] == ["Data sensitivity"]
    uc = result.use_case
    assert (uc.status, uc.risk_tier.value, uc.review and uc.review.round) == (Status.IN_REVIEW, "medium", 1)
    edited = audit(sf, uc_id)[-1]
    assert edited.action == "edited"
    assert edited.before == {"data_sensitivity": "internal", "risk_tier": "low", "status": "self_serve"}
    assert edited.after["data_sensitivity"] == "personal" and edited.after["status"] == "in_review"


def test_an_edit_while_waiting_updates_the_card_and_a_lowered_tier_keeps_the_review(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    sf, who = session_factory, hub_people
    uc_id = submit(sf, who["Sam"])
    before = last_outbox(sf)
    changed = Submission.model_validate({**PERSONAL.model_dump(), "problem": "Agents read 40-message threads."})
    result = run(sf, editing.edit_use_case, who["Sam"], uc_id, changed)
    assert not result.back_to_review and result.use_case.status is Status.IN_REVIEW
    assert queued(sf, before) == [("ref:uc:1:r1:card", "review_card")]  # the card, edited in place
    with UnitOfWork(sf) as u:
        review = u.session.scalar(select(Review).where(Review.use_case_id == uc_id))
        assert review is not None and review.submission["problem"] == "Agents read 40-message threads."


def test_reassign_offers_only_reviewers_who_can_take_it(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    sf, who = session_factory, hub_people
    uc_id = submit(sf, who["Sam"])  # routed to Rita (skill)
    with UnitOfWork(sf) as u:
        hub.set_away(u, SYSTEM, slack("UAMY", "Amy"), True, now=NOW)
    with UnitOfWork(sf) as u:
        offered = [p.name for p in decisions.reviewers_for(u, uc_id)]
    assert offered == ["Omar"]  # not Rita (holds it), not Amy (away), not Sam (the submitter)
    with UnitOfWork(sf) as u:
        with pytest.raises(FieldErrors, match="Amy is away"):
            decisions.check_pick(u, uc_id, who["Amy"].person_id)
        decisions.check_pick(u, uc_id, who["Omar"].person_id)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status 99999999999999999999", "There is no use case #99999999999999999999."),
        ("stage 12 finished", "finished is not a stage: ideation, experimentation, production engineering"),
        ("close", "Which one? /usecase close 12"),
        ("edit 12 now", None),
    ],
)
def test_usage_errors_say_what_was_wrong(text: str, message: str | None) -> None:
    if message is None:
        assert g.parse(g.USECASE, text) == g.Help(g.USECASE)
        return
    with pytest.raises(HubError) as error:
        g.parse(g.USECASE, text)
    assert message in str(error.value)


def test_a_sentence_that_fits_is_the_whole_title() -> None:
    request = g.parse(g.USECASE, "Forecast invoice volumes for the AP team in the Nordics. It takes days.")
    assert isinstance(request, g.OpenForm)
    from intake.forms import draft_from_text

    draft = draft_from_text(request.text)
    assert draft.title == "Forecast invoice volumes for the AP team in the Nordics"
    long = draft_from_text("word " * 60)
    assert not long.title.endswith(("…", " ")) and len(long.title) <= 200


def test_closed_status_in_the_database(session_factory: sessionmaker[Session], hub_people: dict[str, Actor]) -> None:
    sf, who = session_factory, hub_people
    uc_id = submit(sf, who["Sam"], LOW)
    run(sf, closing.close_use_case, who["Lee"], uc_id, "Merged into #9.")
    with UnitOfWork(sf) as u:
        uc = u.session.get(UseCase, uc_id)
        assert uc is not None and (uc.stage, uc.status) == ("closed", "self_serve")
