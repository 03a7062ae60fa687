"""Hub administration: reviewers and their skills, departments, being away, and the self-serve guidelines."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from intake import guidelines, hub, submission
from intake.errors import HubError, NotAllowed, NotFound
from intake.read_models import Actor
from intake.schema import Route, Sensitivity, Status, Submission
from intake.triage import Guidelines
from storage import repo
from storage.db import UnitOfWork
from storage.models import AuditEvent, Department, HubSetting, Person
from tests.conftest import NOW, make_actor
from tests.factories import ANSWERS, slack

UowFactory = Callable[[], UnitOfWork]
LEAD_ONLY = "Only hub leads can change the hub's set-up. Ask a lead (see /hub help)."


@pytest.fixture
def lead(session_factory: sessionmaker[Session]) -> Actor:
    return make_actor(session_factory, "ULEAD", "Lee")


@pytest.fixture
def spoke(session_factory: sessionmaker[Session]) -> Actor:
    return make_actor(session_factory, "USAM", "Sam")


def add_reviewer(uow: UowFactory, actor: Actor, slack_id: str, *skills: str, name: str = "Rita") -> Any:
    with uow() as u:
        return hub.add_reviewer(u, actor, slack(slack_id, name), skills=list(skills), now=NOW)


def stored_person(sf: sessionmaker[Session], slack_id: str) -> Person | None:
    """The stored person with their skills loaded (they are read after the session closes)."""
    with sf() as s:
        person = repo.person_by_identity(s, "slack", slack_id)
        if person is not None:
            person.skill_names  # noqa: B018 (load them now)
        return person


def audits(sf: sessionmaker[Session], action: str) -> list[AuditEvent]:
    with sf() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def submit(uow: UowFactory, actor: Actor, **overrides: Any) -> Any:
    base = ANSWERS
    with uow() as u:
        return submission.submit_use_case(u, actor, Submission(**(base | overrides)), now=NOW).use_case


# --- reviewers ------------------------------------------------------------------------------------


def test_only_a_lead_adds_a_reviewer(spoke: Actor, uow: UowFactory, session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(NotAllowed) as refused:
        add_reviewer(uow, spoke, "URITA", "nlp")

    assert refused.value.message == LEAD_ONLY
    assert stored_person(session_factory, "URITA") is None


def test_skills_are_normalised_and_not_duplicated(
    lead: Actor, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    view = add_reviewer(uow, lead, "URITA", "  Demand   Forecasting ", "demand forecasting", "NLP", "   ")
    add_reviewer(uow, lead, "URITA", "nlp", "Contract  REVIEW")

    assert (view.name, view.is_reviewer, view.skills) == ("Rita", True, ["demand forecasting", "nlp"])
    person = stored_person(session_factory, "URITA")
    assert person is not None
    assert (person.is_reviewer, person.skill_names) == (True, ["contract review", "demand forecasting", "nlp"])
    first, second = audits(session_factory, "reviewer_added")
    assert (first.actor_id, first.before) == (lead.person_id, {"is_reviewer": False, "skills": []})
    assert second.before == {"is_reviewer": True, "skills": ["demand forecasting", "nlp"]}


def test_long_skills_are_cut_to_eighty_characters(lead: Actor, uow: UowFactory) -> None:
    view = add_reviewer(uow, lead, "URITA", "x" * 100)

    assert view.skills == ["x" * 80]


def test_removing_a_reviewer_reports_their_open_reviews(
    lead: Actor, spoke: Actor, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    add_reviewer(uow, lead, "URITA", "support")
    uc = submit(uow, spoke, data_sensitivity="personal")
    assert uc.reviewer is not None and uc.reviewer.name == "Rita"

    with uow() as u:
        view, still_open = hub.remove_reviewer(u, lead, slack("URITA"), now=NOW)

    assert (view.name, view.is_reviewer, still_open) == ("Rita", False, 1)
    with uow() as u:
        assert hub.list_reviewers(u) == []
    [event] = audits(session_factory, "reviewer_removed")
    assert (event.actor_id, event.after) == (lead.person_id, {"is_reviewer": False})
    assert submit(uow, spoke, data_sensitivity="personal").reviewer is None


def test_removing_someone_who_is_not_a_reviewer(lead: Actor, spoke: Actor, uow: UowFactory) -> None:
    with uow() as u, pytest.raises(NotFound) as missing:
        hub.remove_reviewer(u, lead, slack("USAM"), now=NOW)

    assert missing.value.message == "That person is not a hub reviewer."


def test_only_a_lead_removes_a_reviewer(
    lead: Actor, spoke: Actor, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    add_reviewer(uow, lead, "URITA")

    with uow() as u, pytest.raises(NotAllowed) as refused:
        hub.remove_reviewer(u, spoke, slack("URITA"), now=NOW)

    assert refused.value.message == LEAD_ONLY
    person = stored_person(session_factory, "URITA")
    assert person is not None and person.is_reviewer


# --- departments ----------------------------------------------------------------------------------


def test_add_department_tidies_the_name(lead: Actor, uow: UowFactory) -> None:
    with uow() as u:
        assert hub.add_department(u, lead, "  Customer   Support ", now=NOW) == "Customer Support"
    with uow() as u:
        assert hub.list_departments(u) == ["Customer Support"]


@pytest.mark.parametrize("again", ["Finance", "finance", "  FINANCE  ", "FiNaNcE"])
def test_duplicate_department_is_refused_whatever_its_case(
    lead: Actor, uow: UowFactory, session_factory: sessionmaker[Session], again: str
) -> None:
    with uow() as u:
        hub.add_department(u, lead, "Finance", now=NOW)

    with uow() as u, pytest.raises(HubError) as refused:
        hub.add_department(u, lead, again, now=NOW)

    assert refused.value.message == "Finance already exists."
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Department)) == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", "Give the department a name: /hub department add Finance"),
        ("x" * 81, "Department names are at most 80 characters."),
    ],
)
def test_department_name_must_be_usable(lead: Actor, uow: UowFactory, name: str, message: str) -> None:
    with uow() as u, pytest.raises(HubError) as refused:
        hub.add_department(u, lead, name, now=NOW)

    assert refused.value.message == message


def test_only_a_lead_adds_a_department(spoke: Actor, uow: UowFactory) -> None:
    with uow() as u, pytest.raises(NotAllowed) as refused:
        hub.add_department(u, spoke, "Finance", now=NOW)

    assert refused.value.message == LEAD_ONLY
    with uow() as u:
        assert hub.list_departments(u) == []


# --- away -----------------------------------------------------------------------------------------


def test_a_reviewer_sets_themself_away_and_routing_skips_them(
    lead: Actor, spoke: Actor, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    add_reviewer(uow, lead, "URITA", "support")
    rita = make_actor(session_factory, "URITA", "Rita")

    with uow() as u:
        view = hub.set_away(u, rita, slack("URITA"), True, now=NOW)

    assert view.away is True
    person = stored_person(session_factory, "URITA")
    assert person is not None and person.away
    [event] = audits(session_factory, "away")
    assert (event.actor_id, event.before, event.after) == (
        rita.person_id,
        {"person": rita.person_id, "away": False},
        {"away": True},
    )
    assert submit(uow, spoke, data_sensitivity="personal").reviewer is None


def test_a_lead_sets_someone_else_back(lead: Actor, uow: UowFactory, session_factory: sessionmaker[Session]) -> None:
    add_reviewer(uow, lead, "URITA")
    with uow() as u:
        hub.set_away(u, lead, slack("URITA"), True, now=NOW)

    with uow() as u:
        view = hub.set_away(u, lead, slack("URITA"), False, now=NOW)

    assert view.away is False
    person = stored_person(session_factory, "URITA")
    assert person is not None and not person.away


def test_a_spoke_cannot_set_someone_else_away(
    lead: Actor, spoke: Actor, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    add_reviewer(uow, lead, "URITA")

    with uow() as u, pytest.raises(NotAllowed) as refused:
        hub.set_away(u, spoke, slack("URITA"), True, now=NOW)

    assert refused.value.message == "You can set yourself away; only hub leads can set others."
    person = stored_person(session_factory, "URITA")
    assert person is not None and not person.away


def test_setting_away_someone_unknown(lead: Actor, uow: UowFactory) -> None:
    with uow() as u, pytest.raises(NotFound) as missing:
        hub.set_away(u, lead, slack("UNOBODY"), True, now=NOW)

    assert missing.value.message == "That person has not used Hubspoke yet; add them as a reviewer first."


# --- guidelines -----------------------------------------------------------------------------------


def set_guideline(uow: UowFactory, actor: Actor, key: str, value: str) -> Guidelines:
    with uow() as u:
        return guidelines.set_guideline(u, actor, key, value, now=NOW)


def stored_guidelines(uow: UowFactory) -> Guidelines:
    with uow() as u:
        return guidelines.get_guidelines(u)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "auto_approve",
            "on",
            "Unknown guideline 'auto_approve'. Guidelines: self_serve, self_serve_sensitivity, "
            "self_serve_requires_available_data, any_reviewer_decides, wip_limit, innovation_band.",
        ),
        ("self_serve", "maybe", "self_serve takes on or off."),
        ("self_serve_requires_available_data", "", "self_serve_requires_available_data takes on or off."),
        (
            "self_serve_sensitivity",
            "internal, secret",
            "self_serve_sensitivity takes a list of: none, internal, personal, regulated.",
        ),
    ],
)
def test_invalid_guideline_is_explained_and_not_stored(
    lead: Actor, uow: UowFactory, session_factory: sessionmaker[Session], key: str, value: str, message: str
) -> None:
    with pytest.raises(HubError) as refused:
        set_guideline(uow, lead, key, value)

    assert refused.value.message == message
    assert stored_guidelines(uow) == Guidelines()
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(HubSetting)) == 0


def test_only_a_lead_changes_guidelines(spoke: Actor, uow: UowFactory) -> None:
    with pytest.raises(NotAllowed) as refused:
        set_guideline(uow, spoke, "self_serve", "off")

    assert refused.value.message == LEAD_ONLY
    assert stored_guidelines(uow) == Guidelines()


def test_switching_self_serve_off_sends_everything_to_review(
    lead: Actor, spoke: Actor, uow: UowFactory, session_factory: sessionmaker[Session]
) -> None:
    updated = set_guideline(uow, lead, "self_serve", "Off")

    assert updated == Guidelines(self_serve=False) == stored_guidelines(uow)
    uc = submit(uow, spoke)
    assert (uc.status, uc.route) == (Status.IN_REVIEW, Route.HUB_REVIEW)
    assert uc.triage_reasons[-1] == "Review: the hub reviews every use case for now"
    [event] = audits(session_factory, "guidelines")
    assert event.actor_id == lead.person_id
    assert event.before is not None and event.after is not None
    assert (event.before["self_serve"], event.after["self_serve"]) == (True, False)

    set_guideline(uow, lead, "self_serve", "yes")
    assert submit(uow, spoke).status is Status.SELF_SERVE


def test_sensitivity_list_is_parsed_and_followed(lead: Actor, spoke: Actor, uow: UowFactory) -> None:
    updated = set_guideline(uow, lead, "self_serve_sensitivity", "  NONE ")

    assert updated.self_serve_sensitivity == [Sensitivity.NONE]
    assert submit(uow, spoke, data_sensitivity="internal").status is Status.IN_REVIEW
    assert submit(uow, spoke, data_sensitivity="none").status is Status.SELF_SERVE


def test_not_requiring_available_data_lets_low_risk_go_ahead(lead: Actor, spoke: Actor, uow: UowFactory) -> None:
    assert submit(uow, spoke, data_availability="needs_access").status is Status.IN_REVIEW

    set_guideline(uow, lead, "self_serve_requires_available_data", "off")

    uc = submit(uow, spoke, data_availability="needs_access")
    assert uc.status is Status.SELF_SERVE
    assert uc.triage_reasons[-1] == "Meets the hub's self-serve guidelines"


def test_guidelines_changed_one_at_a_time_keep_the_others(lead: Actor, uow: UowFactory) -> None:
    set_guideline(uow, lead, "self_serve_sensitivity", "Personal,internal")
    set_guideline(uow, lead, "self_serve", "false")

    assert stored_guidelines(uow) == Guidelines(
        self_serve=False,
        self_serve_sensitivity=[Sensitivity.PERSONAL, Sensitivity.INTERNAL],
        self_serve_requires_available_data=True,
    )


def test_setting_the_sensitivity_list_raises_no_serializer_warnings(lead: Actor, uow: UowFactory) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        set_guideline(uow, lead, "self_serve_sensitivity", "none internal")

    assert [str(w.message) for w in caught if "serializ" in str(w.message)] == []
