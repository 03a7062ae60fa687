"""The portfolio read model against a real database: counts, the oldest waiting reviews, stale use cases and
the hub's service figures, computed from what the services stored."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from intake import decisions, hub, stages
from intake.portfolio import PortfolioFilter, portfolio
from intake.schema import Decision, RiskTier, Stage, Status
from tests.conftest import NOW
from tests.test_services import SELF_SERVE, People, UowFactory, people, submit  # noqa: F401 (fixture)

DAY = dt.timedelta(days=1)


def build(uow: UowFactory, p: People) -> dict[str, int]:
    """A small hub: two reviews decided at known speeds, one waiting, one self-serve, one stale, one deployed."""
    ids: dict[str, int] = {}
    with uow() as u:
        for name in ("Finance", "HR"):
            hub.add_department(u, p.lead, name, now=NOW - 90 * DAY)
    ids["approved"] = submit(uow, p.sam, at=NOW - 30 * DAY, title="Forecast demand").id  # hub review (personal data)
    with uow() as u:
        decisions.decide(u, p.rita, ids["approved"], Decision.APPROVE, now=NOW - 28 * DAY)  # 2 days to decide
    ids["rejected"] = submit(uow, p.ada, at=NOW - 20 * DAY, title="Score applicants", department="HR").id
    reviewer = p.rita if _reviewer_of(uow, ids["rejected"]) == p.rita.person_id else p.omar
    with uow() as u:
        decisions.decide(u, reviewer, ids["rejected"], Decision.REJECT, reason="Not for now", now=NOW - 16 * DAY)
    ids["waiting_old"] = submit(uow, p.sam, at=NOW - 5 * DAY, title="Old waiting one").id
    ids["waiting_new"] = submit(uow, p.ada, at=NOW - 1 * DAY, title="New waiting one", department="HR").id
    ids["self_serve"] = submit(uow, p.sam, at=NOW - 60 * DAY, title="Summarise tickets", **SELF_SERVE).id
    # The approved one goes on to deployment: 10 days from submission to production.
    for stage, days in (
        (Stage.PRODUCTION_ENGINEERING, 25),
        (Stage.DEPLOYMENT, 20),
    ):
        with uow() as u:
            if stage is Stage.PRODUCTION_ENGINEERING:
                stages.move_stage(u, p.sam, ids["approved"], Stage.EXPERIMENTATION, now=NOW - 26 * DAY)
            stages.move_stage(u, p.sam, ids["approved"], stage, now=NOW - days * DAY)
    return ids


def _reviewer_of(uow: UowFactory, use_case_id: int) -> int | None:
    from storage.models import UseCase

    with uow() as u:
        return u.session.get(UseCase, use_case_id).reviewer_id  # type: ignore[union-attr]


def test_counts_lists_and_figures(uow: UowFactory, people: People, session_factory: sessionmaker[Session]) -> None:  # noqa: F811
    ids = build(uow, people)
    with uow() as u:
        view = portfolio(u, now=NOW)

    assert view.total == 5
    assert view.by_status == {
        Status.IN_REVIEW: 2,
        Status.APPROVED: 1,
        Status.SELF_SERVE: 1,
        Status.REJECTED: 1,
    }
    assert view.by_department == {"Finance": 3, "HR": 2}
    assert view.by_stage[Stage.DEPLOYMENT] == 1
    assert set(view.by_risk) <= set(RiskTier)

    # Oldest waiting review first, with its age.
    assert [item.id for item in view.waiting] == [ids["waiting_old"], ids["waiting_new"]]
    assert view.waiting[0].age == 5 * DAY and view.waiting[0].reviewer is not None

    # Deployed 20 days ago, typically 1-2 weeks: stale by 6 days. The self-serve one has sat in its
    # first stage for 60 days. Rejected and waiting ones within their bound are not stale.
    stale = {item.id: item.overdue_by for item in view.stale}
    assert stale[ids["approved"]] == 6 * DAY
    assert ids["self_serve"] in stale and ids["rejected"] not in stale
    assert ids["waiting_new"] not in stale

    figures = view.figures
    assert figures.submitted == 5 and figures.self_serve == 1
    assert figures.self_serve_share == 0.2
    assert figures.to_first_review == 3 * DAY  # median of 2 and 4 days
    assert figures.to_decision == 3 * DAY
    assert figures.idea_to_production == 10 * DAY
    assert view.pipeline == {
        "Finance": {Stage.IDEATION: 2, Stage.DEPLOYMENT: 1},
        "HR": {Stage.IDEATION: 1},  # the rejected one is not in the pipeline
    }
    assert view.in_flight == 4  # every live use case is in an active stage; the rejected one is not live


def test_filters_narrow_counts_and_lists(uow: UowFactory, people: People) -> None:  # noqa: F811
    ids = build(uow, people)
    with uow() as u:
        hr = portfolio(u, now=NOW, filt=PortfolioFilter(department="hr"))
        waiting = portfolio(u, now=NOW, filt=PortfolioFilter(waiting=True))
        deployed = portfolio(u, now=NOW, filt=PortfolioFilter(stage=Stage.DEPLOYMENT))

    assert hr.total == 2 and hr.by_department == {"HR": 2}
    assert [item.id for item in hr.waiting] == [ids["waiting_new"]]
    assert waiting.total == 2 and waiting.by_status == {Status.IN_REVIEW: 2}
    assert deployed.total == 1 and [item.id for item in deployed.stale] == [ids["approved"]]
    assert PortfolioFilter(department="HR", waiting=True).describe() == ["department HR", "waiting"]


def test_service_figures_leave_out_imports_and_old_submissions(uow: UowFactory, people: People) -> None:  # noqa: F811
    submit(uow, people.sam, at=NOW - 200 * DAY, title="Long ago", **SELF_SERVE)
    with uow() as u:
        view = portfolio(u, now=NOW)
    assert view.total == 1
    assert view.figures.submitted == 0 and view.figures.self_serve_share is None
    assert view.figures.to_decision is None
