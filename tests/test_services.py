"""Use-case services against a real database: what is stored, audited and queued for each change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from intake import decisions, hub, queries, stages, submission
from intake.errors import AlreadyDecided, FieldErrors, InvalidMove, NotAllowed, NotFound
from intake.notices import HUB, card_key
from intake.people import SYSTEM
from intake.read_models import Actor, Change, UseCaseView
from intake.schema import Decision, RiskTier, Route, Stage, Status, Submission
from storage.db import UnitOfWork
from storage.models import AuditEvent, Department, OutboxMessage, Review, UseCase
from tests.conftest import NOW, make_actor
from tests.factories import slack

UowFactory = Callable[[], UnitOfWork]
LATER = NOW + dt.timedelta(hours=2)
LATEST = NOW + dt.timedelta(hours=5)
NEEDS_REASON = {"reason": "Give the submitter a reason, so they know what to do next."}


@dataclass(frozen=True)
class People:
    lead: Actor  # a hub lead, not a reviewer
    rita: Actor  # reviewer, skill "demand forecasting"
    omar: Actor  # reviewer, skill "contract review"
    sam: Actor  # a spoke who submits
    ada: Actor  # another spoke


@pytest.fixture
def people(uow: UowFactory, session_factory: sessionmaker[Session]) -> People:
    for slack_id, name, skill in (("URITA", "Rita", "demand forecasting"), ("UOMAR", "Omar", "contract review")):
        with uow() as u:
            hub.add_reviewer(u, SYSTEM, slack(slack_id, name), skills=[skill], now=NOW)
    return People(
        lead=make_actor(session_factory, "ULEAD", "Lee"),
        rita=make_actor(session_factory, "URITA", "Rita"),
        omar=make_actor(session_factory, "UOMAR", "Omar"),
        sam=make_actor(session_factory, "USAM", "Sam"),
        ada=make_actor(session_factory, "UADA", "Ada"),
    )


def answers(**overrides: Any) -> Submission:
    """Personal data makes this medium risk, so it goes to hub review; it mentions demand forecasting."""
    base: dict[str, Any] = {
        "title": "Forecast demand for stores",
        "problem": "Store managers over-order fresh food every week.",
        "department": "Finance",
        "benefit": "Less food waste",
        "success_metric": "food waste -15%",
        "data_sources": "till data, loyalty cards",
        "data_availability": "available",
        "data_sensitivity": "personal",
        "people_affected": "internal",
        "autonomy": "assistive",
    }
    return Submission(**(base | overrides))


SELF_SERVE: dict[str, Any] = {"data_sensitivity": "internal", "data_sources": "till data"}


def submit(uow: UowFactory, actor: Actor, *, at: dt.datetime = NOW, **overrides: Any) -> UseCaseView:
    with uow() as u:
        return submission.submit_use_case(u, actor, answers(**overrides), now=at).use_case


def decide(uow: UowFactory, actor: Actor, uc_id: int, decision: Decision, **kw: Any) -> UseCaseView:
    kw.setdefault("now", LATER)
    with uow() as u:
        return decisions.decide(u, actor, uc_id, decision, **kw)


def set_away(uow: UowFactory, actor: Actor) -> None:
    with uow() as u:
        hub.set_away(u, actor, None, True, now=NOW)


def outbox(sf: sessionmaker[Session]) -> list[tuple[str, str | None, int | None, str | None, str]]:
    """(operation, channel, person, ref_key, kind) for every queued message, oldest first (profile reads aside)."""
    with sf() as s:
        rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.operation != "profile").order_by(OutboxMessage.id)
        )
        return [(m.operation, m.channel, m.person_id, m.ref_key, m.payload["kind"]) for m in rows]


def audits(sf: sessionmaker[Session], action: str | None = None) -> list[AuditEvent]:
    with sf() as s:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        return list(s.scalars(stmt if action is None else stmt.where(AuditEvent.action == action)))


def reviews(sf: sessionmaker[Session], uc_id: int) -> list[Review]:
    with sf() as s:
        return list(s.scalars(select(Review).where(Review.use_case_id == uc_id).order_by(Review.round)))


def db_state(sf: sessionmaker[Session]) -> dict[str, object]:
    """Everything a refused request must leave untouched."""
    with sf() as s:
        return {
            "use_cases": s.execute(select(UseCase.id, UseCase.status, UseCase.stage, UseCase.reviewer_id)).all(),
            "reviews": s.execute(select(Review.id, Review.reviewer_id, Review.decision, Review.reason)).all(),
            "audit": s.scalar(select(func.count()).select_from(AuditEvent)),
            "outbox": s.scalar(select(func.count()).select_from(OutboxMessage)),
        }


# --- submit ---------------------------------------------------------------------------------------


def test_low_risk_submission_goes_ahead_self_serve(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = submit(uow, people.sam, **SELF_SERVE)

    assert (uc.status, uc.stage, uc.route, uc.risk_tier) == (
        Status.SELF_SERVE,
        Stage.IDEATION,
        Route.SELF_SERVE,
        RiskTier.LOW,
    )
    assert uc.reviewer is None and uc.review is None
    assert uc.triage_reasons[-1] == "Meets the hub's self-serve guidelines"
    assert reviews(session_factory, uc.id) == []
    assert outbox(session_factory) == [
        ("post", HUB, None, None, "self_serve"),
        ("post", None, people.sam.person_id, None, "receipt"),
    ]
    [event] = audits(session_factory, "submitted")
    assert (event.actor_id, event.use_case_id, event.before) == (people.sam.person_id, uc.id, None)
    assert event.after is not None and event.after["status"] == "self_serve"


def test_review_submission_goes_to_the_reviewer_with_matching_skills(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    with uow() as u:
        result = submission.submit_use_case(u, people.sam, answers(), now=NOW)
    uc = result.use_case

    assert (uc.status, uc.stage, uc.risk_tier) == (Status.IN_REVIEW, Stage.IDEATION, RiskTier.MEDIUM)
    assert uc.reviewer is not None and uc.reviewer.name == "Rita"
    assert result.matched_skills == ["demand forecasting"]
    [review] = reviews(session_factory, uc.id)
    assert (review.round, review.reviewer_id, review.assigned_at, review.decision) == (
        1,
        people.rita.person_id,
        NOW,
        None,
    )
    assert review.submission["title"] == "Forecast demand for stores"
    card = card_key(uc.id, 1)
    assert outbox(session_factory) == [
        ("post", HUB, None, card, "review_card"),
        ("post", None, people.rita.person_id, card, "review_card"),
        ("post", None, people.sam.person_id, None, "receipt"),
    ]
    [event] = audits(session_factory, "submitted")
    assert event.actor_id == people.sam.person_id
    assert event.after is not None and event.after["reviewer"]["name"] == "Rita"


def test_a_reviewer_never_gets_their_own_use_case(people: People, uow: UowFactory) -> None:
    uc = submit(uow, people.rita)

    assert uc.reviewer is not None and uc.reviewer.name == "Omar"


def test_away_reviewers_are_skipped(people: People, uow: UowFactory) -> None:
    set_away(uow, people.rita)

    uc = submit(uow, people.sam)

    assert uc.reviewer is not None and uc.reviewer.name == "Omar"


def test_without_an_available_reviewer_it_waits_in_review_unassigned(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    set_away(uow, people.rita)
    set_away(uow, people.omar)

    uc = submit(uow, people.sam)

    assert (uc.status, uc.reviewer) == (Status.IN_REVIEW, None)
    [review] = reviews(session_factory, uc.id)
    assert (review.reviewer_id, review.assigned_at) == (None, None)
    assert outbox(session_factory) == [
        ("post", HUB, None, card_key(uc.id, 1), "review_card"),
        ("post", None, people.sam.person_id, None, "receipt"),
    ]


def test_past_target_date_is_refused_and_nothing_is_stored(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    with pytest.raises(FieldErrors) as refused:
        submit(uow, people.sam, target_date=NOW.date() - dt.timedelta(days=1))

    assert refused.value.errors == {"target_date": "The target date is in the past."}
    assert db_state(session_factory)["use_cases"] == []


# --- departments ----------------------------------------------------------------------------------


def test_first_submission_creates_the_department(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = submit(uow, people.sam, department="  Store   Operations ")

    assert uc.department == "Store Operations"
    with uow() as u:
        assert hub.list_departments(u) == ["Store Operations"]
    [event] = audits(session_factory, "department_added")
    assert (event.actor_id, event.after) == (people.sam.person_id, {"name": "Store Operations"})


def test_known_department_matches_ignoring_case(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    submit(uow, people.sam)

    uc = submit(uow, people.ada, department="FINANCE")

    assert uc.department == "Finance"
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Department)) == 1


def test_unknown_department_names_the_choices(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    for name in ("Operations", "Finance"):
        with uow() as u:
            hub.add_department(u, people.lead, name, now=NOW)

    with pytest.raises(FieldErrors) as refused:
        submit(uow, people.sam, department="Legal")

    assert refused.value.errors == {"department": "Unknown department 'Legal'. Choose one of: Finance, Operations."}
    assert db_state(session_factory)["use_cases"] == []


# --- decide ---------------------------------------------------------------------------------------


def test_a_plain_spoke_cannot_decide_and_nothing_changes(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = submit(uow, people.sam)
    before = db_state(session_factory)

    with pytest.raises(NotAllowed) as refused:
        decide(uow, people.ada, uc.id, Decision.APPROVE)

    assert refused.value.message == "Only hub reviewers can decide on use cases."
    assert db_state(session_factory) == before


def test_approval_is_stored_audited_and_updates_the_card(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = submit(uow, people.sam)
    queued = len(outbox(session_factory))

    view = decide(uow, people.rita, uc.id, Decision.APPROVE)

    assert view.status is Status.APPROVED
    assert view.review is not None and view.review.decided_by is not None
    assert (view.review.decision, view.review.decided_by.name, view.review.decided_at) == (
        Decision.APPROVE,
        "Rita",
        LATER,
    )
    [review] = reviews(session_factory, uc.id)
    assert (review.decision, review.decided_by_id, review.reason) == ("approve", people.rita.person_id, None)
    assert outbox(session_factory)[queued:] == [
        ("update", None, None, card_key(uc.id, 1), "review_card"),
        ("post", None, people.sam.person_id, None, "outcome"),
    ]
    [event] = audits(session_factory, "decision:approve")
    assert (event.actor_id, event.use_case_id) == (people.rita.person_id, uc.id)
    assert event.before is not None and event.after is not None
    assert (event.before["status"], event.after["status"]) == ("in_review", "approved")
    assert (event.after["decision"], event.after["round"], event.before["decision"]) == ("approve", 1, None)


def test_a_lead_who_is_not_a_reviewer_can_decide(people: People, uow: UowFactory) -> None:
    uc = submit(uow, people.sam)

    view = decide(uow, people.lead, uc.id, Decision.REJECT, reason="  Duplicates the pricing pilot.  ")

    assert view.status is Status.REJECTED
    assert view.review is not None and view.review.reason == "Duplicates the pricing pilot."


@pytest.mark.parametrize("decision", [Decision.REJECT, Decision.REQUEST_CHANGES])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_reject_and_request_changes_need_a_reason(
    people: People,
    uow: UowFactory,
    session_factory: sessionmaker[Session],
    decision: Decision,
    reason: str | None,
) -> None:
    uc = submit(uow, people.sam)
    before = db_state(session_factory)

    with pytest.raises(FieldErrors) as refused:
        decide(uow, people.rita, uc.id, decision, reason=reason)

    assert refused.value.errors == NEEDS_REASON
    assert db_state(session_factory) == before


@pytest.mark.parametrize(
    ("first", "said"),
    [
        (Decision.APPROVE, "Rita already approved this one."),
        (Decision.REJECT, "Rita already rejected this one."),
        (Decision.REQUEST_CHANGES, "Rita already requested changes on this one."),
    ],
)
def test_a_second_decision_is_told_who_decided_and_changes_nothing(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session], first: Decision, said: str
) -> None:
    uc = submit(uow, people.sam)
    decide(uow, people.rita, uc.id, first, reason="Needs a data owner.")
    before = db_state(session_factory)

    with pytest.raises(AlreadyDecided) as second:
        decide(uow, people.omar, uc.id, Decision.APPROVE, now=LATEST)

    assert (second.value.message, second.value.decided_at) == (said, LATER)
    assert db_state(session_factory) == before


def test_self_serve_use_case_has_nothing_to_decide(people: People, uow: UowFactory) -> None:
    uc = submit(uow, people.sam, **SELF_SERVE)

    with pytest.raises(InvalidMove) as refused:
        decide(uow, people.rita, uc.id, Decision.APPROVE)

    assert refused.value.message == f"#{uc.id} went ahead self-serve; there is no review to decide."


def test_deciding_an_unknown_use_case(people: People, uow: UowFactory) -> None:
    with pytest.raises(NotFound) as missing:
        decide(uow, people.rita, 999, Decision.APPROVE)

    assert missing.value.message == "There is no use case #999."


def test_a_reviewer_cannot_decide_their_own_use_case(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = submit(uow, people.rita)  # routed to Omar
    before = db_state(session_factory)

    with pytest.raises(NotAllowed):
        decide(uow, people.rita, uc.id, Decision.APPROVE)

    assert db_state(session_factory) == before


# --- request changes and resubmit -----------------------------------------------------------------


def request_changes(uow: UowFactory, people: People) -> UseCaseView:
    uc = submit(uow, people.sam)
    decide(uow, people.rita, uc.id, Decision.REQUEST_CHANGES, reason="Say which stores.")
    return uc


def resubmit(uow: UowFactory, actor: Actor, uc_id: int, **overrides: Any) -> UseCaseView:
    with uow() as u:
        return submission.resubmit_use_case(u, actor, uc_id, answers(**overrides), now=LATEST).use_case


def test_resubmission_goes_back_to_the_same_reviewer_with_the_changes(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = request_changes(uow, people)
    queued = len(outbox(session_factory))

    view = resubmit(uow, people.sam, uc.id, title="Forecast demand for 40 city stores", links="https://wiki.example/x")

    assert view.status is Status.IN_REVIEW
    assert view.reviewer is not None and view.reviewer.name == "Rita"
    assert view.review is not None and view.review.round == 2
    assert view.review.changes == [
        Change(field="Title", before="Forecast demand for stores", after="Forecast demand for 40 city stores"),
        Change(field="Links", before="(empty)", after="https://wiki.example/x"),
    ]
    first, second = reviews(session_factory, uc.id)
    assert (first.decision, second.decision, second.reviewer_id) == ("request_changes", None, people.rita.person_id)
    card = card_key(uc.id, 2)
    assert outbox(session_factory)[queued:] == [
        ("post", HUB, None, card, "review_card"),
        ("post", None, people.rita.person_id, card, "review_card"),
        ("post", None, people.sam.person_id, None, "receipt"),
    ]
    [event] = audits(session_factory, "resubmitted")
    assert event.actor_id == people.sam.person_id
    assert event.before is not None and event.after is not None
    assert (event.before["status"], event.after["status"]) == ("changes_requested", "in_review")


def test_resubmission_without_changes_is_refused(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = request_changes(uow, people)
    before = db_state(session_factory)

    with pytest.raises(FieldErrors) as refused:
        resubmit(uow, people.sam, uc.id, department="finance")  # same department, other case

    assert refused.value.errors == {
        "problem": "Nothing changed. Edit the answers the reviewer asked about, then resubmit."
    }
    assert db_state(session_factory) == before


def test_only_the_submitter_can_resubmit(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = request_changes(uow, people)
    before = db_state(session_factory)

    with pytest.raises(NotAllowed) as refused:
        resubmit(uow, people.ada, uc.id, title="Hijacked title")

    assert refused.value.message == "Only the person who submitted this use case can edit and resubmit it."
    assert db_state(session_factory) == before


def test_a_use_case_in_review_cannot_be_resubmitted(people: People, uow: UowFactory) -> None:
    uc = submit(uow, people.sam)

    with pytest.raises(InvalidMove) as refused:
        resubmit(uow, people.sam, uc.id, title="A new title")

    assert refused.value.message == (
        f"#{uc.id} is in hub review; only use cases with changes requested can be resubmitted."
    )


def test_resubmission_is_rerouted_when_the_reviewer_is_away(people: People, uow: UowFactory) -> None:
    uc = request_changes(uow, people)
    set_away(uow, people.rita)

    view = resubmit(uow, people.sam, uc.id, title="Forecast demand for 40 city stores")

    assert view.reviewer is not None and view.reviewer.name == "Omar"


def test_resubmission_returns_to_the_reviewer_even_when_routing_would_pick_another(
    people: People, uow: UowFactory
) -> None:
    uc = submit(uow, people.sam)  # routing picks Rita (skill match)
    with uow() as u:
        decisions.assign_reviewer(u, people.lead, uc.id, people.omar.person_id, now=LATER)
    decide(uow, people.omar, uc.id, Decision.REQUEST_CHANGES, reason="Say which stores.")

    view = resubmit(uow, people.sam, uc.id, title="Forecast demand for 40 city stores")

    assert view.reviewer is not None and view.reviewer.name == "Omar"


def test_a_card_from_an_earlier_round_is_refused(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = request_changes(uow, people)
    resubmit(uow, people.sam, uc.id, title="Forecast demand for 40 city stores")
    before = db_state(session_factory)

    with pytest.raises(AlreadyDecided) as old_card:
        decide(uow, people.omar, uc.id, Decision.APPROVE, round_=1, now=LATEST)
    with pytest.raises(InvalidMove) as unknown_round:
        decide(uow, people.omar, uc.id, Decision.APPROVE, round_=7, now=LATEST)

    assert old_card.value.message == "Rita already requested changes on this one."
    assert unknown_round.value.message == (
        "This card is out of date: the use case was resubmitted. Use the newest card."
    )
    assert db_state(session_factory) == before
    view = decide(uow, people.rita, uc.id, Decision.APPROVE, round_=2, now=LATEST)
    assert view.status is Status.APPROVED


# --- assign ---------------------------------------------------------------------------------------


def test_a_lead_reassigns_an_open_review(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = submit(uow, people.sam)
    queued = len(outbox(session_factory))
    with session_factory() as s:
        last_id = s.scalar(select(func.max(OutboxMessage.id)))

    with uow() as u:
        view = decisions.assign_reviewer(
            u, people.lead, uc.id, people.omar.person_id, note=" knows the data ", now=LATER
        )

    assert view.reviewer is not None and view.reviewer.name == "Omar"
    [review] = reviews(session_factory, uc.id)
    assert (review.reviewer_id, review.assigned_at) == (people.omar.person_id, LATER)
    card = card_key(uc.id, 1)
    assert outbox(session_factory)[queued:] == [
        ("update", None, None, card, "review_card"),
        ("post", None, people.omar.person_id, card, "review_card"),
    ]
    with session_factory() as s:
        notes = [m.payload["note"] for m in s.scalars(select(OutboxMessage).where(OutboxMessage.id > last_id))]
    assert notes == ["Reassigned from Rita to Omar by Lee: knows the data"] * 2
    [event] = audits(session_factory, "assigned")
    assert event.actor_id == people.lead.person_id
    assert event.before is not None and event.after is not None
    assert (event.before["reviewer"]["name"], event.after["reviewer"]["name"]) == ("Rita", "Omar")


def test_a_review_nobody_could_take_is_assigned(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    set_away(uow, people.rita)
    set_away(uow, people.omar)
    uc = submit(uow, people.sam)
    with uow() as u:
        hub.set_away(u, people.lead, slack("UOMAR"), False, now=NOW)

    with uow() as u:
        view = decisions.assign_reviewer(u, people.rita, uc.id, people.omar.person_id, now=LATER)

    assert view.reviewer is not None and view.reviewer.name == "Omar"
    with session_factory() as s:
        last = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert last is not None and last.payload["note"] == "Assigned to Omar by Rita"


@pytest.mark.parametrize(
    ("submitter", "target", "error"),
    [
        ("rita", "rita", "Submitters cannot review their own use case."),
        ("sam", "ada", "Pick a hub reviewer (a lead adds them with /hub reviewer add)."),
        ("sam", "rita", "Rita already has this review."),
    ],
)
def test_assigning_to_someone_who_cannot_take_it(
    people: People,
    uow: UowFactory,
    session_factory: sessionmaker[Session],
    submitter: str,
    target: str,
    error: str,
) -> None:
    uc = submit(uow, getattr(people, submitter))
    before = db_state(session_factory)

    with uow() as u, pytest.raises(FieldErrors) as refused:
        decisions.assign_reviewer(u, people.lead, uc.id, getattr(people, target).person_id, now=LATER)

    assert refused.value.errors == {"reviewer": error}
    assert db_state(session_factory) == before


def test_assigning_to_an_away_reviewer_is_refused(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = submit(uow, people.sam)
    set_away(uow, people.omar)
    before = db_state(session_factory)

    with uow() as u, pytest.raises(FieldErrors) as refused:
        decisions.assign_reviewer(u, people.lead, uc.id, people.omar.person_id, now=LATER)

    assert refused.value.errors == {"reviewer": "Omar is away. Pick someone else."}
    assert db_state(session_factory) == before


def test_a_spoke_cannot_assign_and_a_decided_review_cannot_move(people: People, uow: UowFactory) -> None:
    uc = submit(uow, people.sam)
    with uow() as u, pytest.raises(NotAllowed) as spoke:
        decisions.assign_reviewer(u, people.ada, uc.id, people.omar.person_id, now=LATER)
    decide(uow, people.rita, uc.id, Decision.APPROVE)

    with uow() as u, pytest.raises(AlreadyDecided) as decided:
        decisions.assign_reviewer(u, people.lead, uc.id, people.omar.person_id, now=LATEST)

    assert spoke.value.message == "Only hub reviewers and leads can assign reviews."
    assert decided.value.message == "Rita already approved this one."


# --- lifecycle ------------------------------------------------------------------------------------


def move(uow: UowFactory, actor: Actor, uc_id: int, target: Stage) -> UseCaseView:
    with uow() as u:
        return stages.move_stage(u, actor, uc_id, target, now=LATER)


def test_owner_and_lead_move_the_stage_and_it_is_audited(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = submit(uow, people.sam, **SELF_SERVE)

    assert move(uow, people.sam, uc.id, Stage.EXPERIMENTATION).stage is Stage.EXPERIMENTATION
    assert move(uow, people.lead, uc.id, Stage.PRODUCTION_ENGINEERING).stage is Stage.PRODUCTION_ENGINEERING

    with session_factory() as s:
        assert s.get_one(UseCase, uc.id).stage == "production_engineering"
    moves = [(e.actor_id, e.before, e.after) for e in audits(session_factory, "stage")]
    assert moves == [
        (people.sam.person_id, {"stage": "ideation"}, {"stage": "experimentation"}),
        (people.lead.person_id, {"stage": "experimentation"}, {"stage": "production_engineering"}),
    ]


@pytest.mark.parametrize("who", ["ada", "rita"])
def test_others_cannot_move_the_stage(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session], who: str
) -> None:
    uc = submit(uow, people.sam, **SELF_SERVE)
    before = db_state(session_factory)

    with pytest.raises(NotAllowed) as refused:
        move(uow, getattr(people, who), uc.id, Stage.EXPERIMENTATION)

    assert refused.value.message == f"Only the owner of #{uc.id} (Sam) or a hub lead can move it."
    assert db_state(session_factory) == before


def test_production_engineering_waits_for_the_go_ahead(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = submit(uow, people.sam)
    move(uow, people.sam, uc.id, Stage.EXPERIMENTATION)
    before = db_state(session_factory)

    with pytest.raises(InvalidMove) as refused:
        move(uow, people.sam, uc.id, Stage.PRODUCTION_ENGINEERING)

    assert refused.value.message == "Production engineering needs the hub's go-ahead first (it is in hub review)."
    assert db_state(session_factory) == before


# --- the audit trail as a whole -------------------------------------------------------------------


def test_every_state_change_leaves_one_audit_row_with_its_actor(
    people: People, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    uc = request_changes(uow, people)
    resubmit(uow, people.sam, uc.id, title="Forecast demand for 40 city stores")
    decide(uow, people.rita, uc.id, Decision.APPROVE, now=LATEST)
    move(uow, people.sam, uc.id, Stage.EXPERIMENTATION)

    trail = [(e.action, e.actor_id) for e in audits(session_factory) if e.use_case_id == uc.id]

    assert trail == [
        ("submitted", people.sam.person_id),
        ("decision:request_changes", people.rita.person_id),
        ("resubmitted", people.sam.person_id),
        ("decision:approve", people.rita.person_id),
        ("stage", people.sam.person_id),
    ]
    with uow() as u:
        mine = queries.my_use_cases(u, people.sam)
    assert [(v.id, v.status, v.stage) for v in mine] == [(uc.id, Status.APPROVED, Stage.EXPERIMENTATION)]
