"""Plain read models the services return and the adapters render."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from intake.schema import (
    Affected,
    Autonomy,
    DataAvailability,
    Decision,
    RiskTier,
    Route,
    Sensitivity,
    Stage,
    Status,
    Submission,
)
from storage.models import Person, Review, UseCase


@dataclass(frozen=True)
class Actor:
    """The person making a request, with the roles the hub gives them."""

    person_id: int
    name: str
    is_reviewer: bool
    is_lead: bool
    tz: str | None = None
    # Their id on each platform they use ({"slack": "U123"}): adapters draw mentions from it.
    handles: Mapping[str, str] = field(default_factory=dict)

    @property
    def can_decide(self) -> bool:
        return self.is_reviewer or self.is_lead

    def handle(self, platform: str) -> str | None:
        return self.handles.get(platform)


class PersonView(BaseModel):
    id: int
    name: str
    handles: dict[str, str] = {}
    tz: str | None = None
    is_reviewer: bool = False
    is_lead: bool = False
    away: bool = False
    department: str | None = None
    skills: list[str] = []
    open_reviews: int | None = None

    def handle(self, platform: str) -> str | None:
        """Their id on `platform`, if they use it."""
        return self.handles.get(platform)

    @classmethod
    def of(cls, p: Person, open_reviews: int | None = None, *, with_skills: bool = True) -> PersonView:
        """A person as plain data; `with_skills=False` spares loading skills nobody will show."""
        return cls(
            id=p.id,
            name=p.name,
            handles=p.handles,
            tz=p.tz,
            is_reviewer=p.is_reviewer,
            is_lead=p.is_lead,
            away=p.away,
            department=p.department.name if p.department else None,
            skills=sorted(p.skill_names) if with_skills else [],
            open_reviews=open_reviews,
        )


class Change(BaseModel):
    """One answer that changed between review rounds."""

    field: str
    before: str
    after: str


class ReviewView(BaseModel):
    round: int
    reviewer: PersonView | None = None
    assigned_at: dt.datetime | None = None
    decision: Decision | None = None
    reason: str | None = None
    decided_by: PersonView | None = None
    decided_at: dt.datetime | None = None
    changes: list[Change] = []

    @classmethod
    def of(cls, r: Review) -> ReviewView:
        return cls(
            round=r.round,
            reviewer=PersonView.of(r.reviewer, with_skills=False) if r.reviewer else None,
            assigned_at=r.assigned_at,
            decision=Decision(r.decision) if r.decision else None,
            reason=r.reason,
            decided_by=PersonView.of(r.decided_by, with_skills=False) if r.decided_by else None,
            decided_at=r.decided_at,
            changes=[Change.model_validate(c) for c in r.changes],
        )


class Relation(StrEnum):
    """What a submitter said of a likely duplicate in another department (intake.duplicates)."""

    LIKELY = "likely"  # not answered yet
    SAME = "same"
    RELATED = "related"
    DIFFERENT = "different"


class Duplicate(BaseModel):
    """A use case in another department that looks like this one, its owner, and what the submitter said."""

    id: int
    title: str
    department: str
    stage: Stage
    status: Status
    owner: PersonView | None = None  # None: a register row nobody owns yet
    score: float
    relation: Relation = Relation.LIKELY
    reason: str | None = None


class Closure(BaseModel):
    """Who closed (or withdrew) a use case, when and why: read from its audit trail."""

    by: PersonView | None = None
    at: dt.datetime
    reason: str | None = None
    withdrawn: bool = False  # its owner took it out of review
    from_stage: Stage | None = None  # where it was before; a reopen goes back there


class Lesson(BaseModel):
    """A written blameless retro of a use case: what worked, what didn't, what we'd do differently, the metric."""

    use_case_id: int
    title: str
    department: str = ""
    trigger: str  # deployed | rejected | closed | followup
    by: PersonView | None = None
    at: dt.datetime
    worked: str
    didnt: str
    differently: str
    metric: str = ""  # the success metric set at intake
    metric_result: str = ""
    metric_met: str | None = None  # met | partly | not_met | too_early


def _suggestion(extra: dict[str, Any] | None) -> RiskView | None:
    raw = (extra or {}).get(RISK_SUGGESTION)
    try:
        return RiskView.model_validate(raw) if raw else None
    except ValueError:
        return None


RISK_SUGGESTION = "risk_suggestion"  # the key in a use case's `extra` where the LLM's suggestion is kept


class RiskSuggestion(BaseModel):
    """The LLM's view of a use case's risk tier, beside the rules' (which stay the authority)."""

    tier: RiskTier
    rationale: str = Field(max_length=600)


class RiskView(BaseModel):
    """A stored suggestion and where it came from."""

    tier: RiskTier
    rationale: str
    model: str = ""
    prompt: str = ""


class UseCaseView(BaseModel):
    id: int
    title: str
    problem: str
    department: str
    benefit: str
    success_metric: str
    data_sources: str
    data_availability: DataAvailability
    data_sensitivity: Sensitivity
    people_affected: Affected
    autonomy: Autonomy
    target_date: dt.date | None
    links: list[str]
    risk_tier: RiskTier
    route: Route
    triage_reasons: list[str]
    status: Status
    stage: Stage
    submitter: PersonView
    reviewer: PersonView | None
    created_at: dt.datetime
    updated_at: dt.datetime
    review: ReviewView | None = None
    closed: Closure | None = None  # filled where it is shown (the status), from the audit trail
    lessons: list[Lesson] = []  # its written retros, filled where they are shown (the status)
    retro_waiting: str | None = None  # why a retro is asked and not written yet ("it was deployed"), on the status
    risk_suggestion: RiskView | None = None  # the LLM's view of its tier, when one was asked

    @classmethod
    def of(cls, uc: UseCase, review: Review | None = None) -> UseCaseView:
        return cls(
            id=uc.id,
            title=uc.title,
            problem=uc.problem,
            department=uc.department.name,
            benefit=uc.benefit,
            success_metric=uc.success_metric,
            data_sources=uc.data_sources,
            data_availability=DataAvailability(uc.data_availability),
            data_sensitivity=Sensitivity(uc.data_sensitivity),
            people_affected=Affected(uc.people_affected),
            autonomy=Autonomy(uc.autonomy),
            target_date=uc.target_date,
            links=list(uc.links),
            risk_tier=RiskTier(uc.risk_tier),
            route=Route(uc.route),
            triage_reasons=list(uc.triage_reasons),
            status=Status(uc.status),
            stage=Stage(uc.stage),
            submitter=PersonView.of(uc.submitter, with_skills=False),
            reviewer=PersonView.of(uc.reviewer, with_skills=False) if uc.reviewer else None,
            created_at=uc.created_at,
            updated_at=uc.updated_at,
            review=ReviewView.of(review) if review else None,
            risk_suggestion=_suggestion(uc.extra),
        )

    def answers(self) -> dict[str, Any]:
        """The intake answers as stored, in a submission snapshot's shape (not validated: an imported register's
        rows need not meet today's form rules to be edited)."""
        return {
            "title": self.title,
            "problem": self.problem,
            "department": self.department,
            "benefit": self.benefit,
            "success_metric": self.success_metric,
            "data_sources": self.data_sources,
            "data_availability": self.data_availability.value,
            "data_sensitivity": self.data_sensitivity.value,
            "people_affected": self.people_affected.value,
            "autonomy": self.autonomy.value,
            "target_date": self.target_date.isoformat() if self.target_date else None,
            "links": list(self.links),
        }

    def submission(self) -> Submission:
        """The answers as a Submission, to pre-fill an edit."""
        return Submission(
            title=self.title,
            problem=self.problem,
            department=self.department,
            benefit=self.benefit,
            success_metric=self.success_metric,
            data_sources=self.data_sources,
            data_availability=self.data_availability,
            data_sensitivity=self.data_sensitivity,
            people_affected=self.people_affected,
            autonomy=self.autonomy,
            target_date=self.target_date,
            links=tuple(self.links),
        )


class SubmitResult(BaseModel):
    """What a submission led to: the use case, and the skills that routed it."""

    use_case: UseCaseView
    matched_skills: list[str] = []
    resubmitted: bool = False
    replayed: bool = False  # the same request was carried out before; nothing new was stored
    edited: bool = False  # an edit (not a submission or a resubmission after changes were asked)
    changes: list[Change] = []  # what an edit changed
    back_to_review: bool = False  # the edit raised the risk tier of a use case that had the go-ahead
    duplicates: list[Duplicate] = []  # likely duplicates in other departments (intake.duplicates)
    over_wip: str | None = None  # the hub is over its work-in-progress limit


def jsonable(model: BaseModel) -> dict[str, Any]:
    """A JSON-safe dict of a model, for outbox payloads and audit rows."""
    return model.model_dump(mode="json")
