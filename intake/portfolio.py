"""The hub's portfolio: what is in flight, where it is stuck, and whether the hub keeps its promises.

One read model (`Portfolio`) that a lead's Home, `/hub portfolio`, `hubspoke portfolio` and the
digests all render. Everything is computed from what is stored: use cases, their review rounds and
the audit trail's stage moves, so every process and every surface sees the same figures.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Row, select
from sqlalchemy.orm import Session, aliased

from intake.schema import Decision, RiskTier, Route, Stage, Status
from storage.db import UnitOfWork
from storage.models import AuditEvent, Department, HubSetting, Person, Review, UseCase

# How long a use case typically stays in a stage; past the upper bound it is "stale". Monitoring and
# closed have no end. Ideation is where feasibility is worked out.
TYPICAL_WEEKS: dict[Stage, tuple[int, int]] = {
    Stage.IDEATION: (1, 2),
    Stage.EXPERIMENTATION: (4, 8),
    Stage.PRODUCTION_ENGINEERING: (2, 4),
    Stage.DEPLOYMENT: (1, 2),
}
ACTIVE_STAGES = frozenset(TYPICAL_WEEKS)
# Statuses under which a use case is still being worked on (not rejected, not withdrawn).
LIVE_STATUSES = frozenset({Status.IN_REVIEW, Status.CHANGES_REQUESTED, Status.APPROVED, Status.SELF_SERVE})
WAITING_STATUSES = frozenset({Status.IN_REVIEW})
PRODUCTION = frozenset({Stage.DEPLOYMENT, Stage.MONITORING})  # "in production" for the lead time
FIGURES_WINDOW = dt.timedelta(days=90)  # service figures look at chat submissions of the last 90 days
K = TypeVar("K")
SHOWN = 10  # rows of each list kept in the read model (counts are always whole)


@dataclass(frozen=True)
class PortfolioFilter:
    """What `/hub portfolio department Finance stage deployment risk high waiting` narrows to."""

    department: str | None = None
    stage: Stage | None = None
    risk: RiskTier | None = None
    waiting: bool = False

    @property
    def empty(self) -> bool:
        return self == PortfolioFilter()

    def describe(self) -> list[str]:
        """The filter as the words a person typed, in a stable order ("department Finance", ...)."""
        parts = []
        if self.department:
            parts.append(f"department {self.department}")
        if self.stage:
            parts.append(f"stage {self.stage.value}")
        if self.risk:
            parts.append(f"risk {self.risk.value}")
        if self.waiting:
            parts.append("waiting")
        return parts


@dataclass(frozen=True)
class DuplicatePair:
    """Two use cases in different departments that look alike (intake.duplicates), and what was said of it."""

    id: int
    title: str
    department: str
    other_id: int
    other_title: str
    other_department: str
    score: float
    relation: str  # likely (not answered yet) or same


@dataclass(frozen=True)
class PortfolioItem:
    """A use case as the portfolio lists it: enough to recognise it and to act on it."""

    id: int
    title: str
    department: str
    stage: Stage
    status: Status
    risk_tier: RiskTier
    owner: str
    reviewer: str | None
    since: dt.datetime  # waiting since (a review), or in its stage since (a stale use case)
    age: dt.timedelta
    overdue_by: dt.timedelta | None = None  # how far past its stage's typical upper bound


@dataclass(frozen=True)
class ServiceFigures:
    """Whether the hub keeps its promises, over chat submissions of the last `window` (None: not enough data)."""

    window: dt.timedelta
    submitted: int
    self_serve: int
    to_first_review: dt.timedelta | None  # median, submission to the first reviewer's decision of any kind
    to_decision: dt.timedelta | None  # median, submission to approve or reject
    idea_to_production: dt.timedelta | None  # median, submission to first reaching deployment
    reviews_measured: int = 0
    decisions_measured: int = 0
    production_measured: int = 0

    @property
    def self_serve_share(self) -> float | None:
        return self.self_serve / self.submitted if self.submitted else None


DIGEST_SUMMARY = "digest_summary"  # hub_settings key: the last hub digest's summary from the LLM
SUMMARY_FRESH = dt.timedelta(days=8)  # shown on the Home until the next weekly digest is due, and a day more


@dataclass(frozen=True)
class DigestSummaryNote:
    """The model's summary of the last hub digest, with the figures it was written from."""

    text: str
    figures: str
    at: dt.datetime


@dataclass(frozen=True)
class Portfolio:
    """The hub's use cases at `at`, counted every way a lead asks, with the lists worth acting on."""

    at: dt.datetime
    filter: PortfolioFilter
    total: int
    by_stage: dict[Stage, int]
    by_department: dict[str, int]
    by_status: dict[Status, int]
    by_risk: dict[RiskTier, int]
    waiting: list[PortfolioItem]  # oldest first, at most SHOWN
    waiting_total: int
    stale: list[PortfolioItem]  # most overdue first, at most SHOWN
    stale_total: int
    figures: ServiceFigures
    limits: Limits | None = None  # hub-wide, like the figures
    duplicates: list[DuplicatePair] = field(default_factory=list)  # best first, at most SHOWN
    duplicates_total: int = 0
    pipeline: dict[str, dict[Stage, int]] = field(default_factory=dict)  # department -> stage -> live count
    summary: DigestSummaryNote | None = None  # the whole hub's, from its last digest, while fresh

    @property
    def in_flight(self) -> int:
        """Live use cases in an active stage: the hub's work in progress."""
        return sum(sum(n for st, n in stages.items() if st in ACTIVE_STAGES) for stages in self.pipeline.values())


def portfolio(uow: UnitOfWork, *, now: dt.datetime, filt: PortfolioFilter | None = None) -> Portfolio:
    """Compute the portfolio, narrowed by `filt` (counts, lists and pipeline; service figures are hub-wide)."""
    filt = filt or PortfolioFilter()
    s = uow.session
    query = (
        select(
            UseCase.id,
            UseCase.title,
            UseCase.stage,
            UseCase.status,
            UseCase.risk_tier,
            UseCase.created_at,
            UseCase.source,
            Department.name.label("department"),
            Person.name.label("owner"),
            UseCase.reviewer_id,
        )
        .join(Department, UseCase.department_id == Department.id)
        .join(Person, UseCase.submitter_id == Person.id)
    )
    if filt.department:
        query = query.where(Department.name.ilike(filt.department))
    if filt.stage:
        query = query.where(UseCase.stage == filt.stage.value)
    if filt.risk:
        query = query.where(UseCase.risk_tier == filt.risk.value)
    if filt.waiting:
        query = query.where(UseCase.status.in_([st.value for st in WAITING_STATUSES]))
    rows = s.execute(query).all()

    by_stage: Counter[Stage] = Counter()
    by_department: Counter[str] = Counter()
    by_status: Counter[Status] = Counter()
    by_risk: Counter[RiskTier] = Counter()
    pipeline: dict[str, Counter[Stage]] = {}
    for row in rows:
        stage, status = Stage(row.stage), Status(row.status)
        by_stage[stage] += 1
        by_department[row.department] += 1
        by_status[status] += 1
        by_risk[RiskTier(row.risk_tier)] += 1
        if status in LIVE_STATUSES:
            pipeline.setdefault(row.department, Counter())[stage] += 1

    ids = [row.id for row in rows]
    reviewers = _names(s, {row.reviewer_id for row in rows if row.reviewer_id})
    entered = _stage_entered(s, ids)
    waiting_since = _waiting_since(s, [row.id for row in rows if Status(row.status) in WAITING_STATUSES])

    waiting = [
        _item(row, reviewers, since, now)
        for row in rows
        if (since := waiting_since.get(row.id)) is not None and Status(row.status) in WAITING_STATUSES
    ]
    waiting.sort(key=lambda item: item.since)

    stale = []
    for row in rows:
        stage, status = Stage(row.stage), Status(row.status)
        if stage not in ACTIVE_STAGES or status not in LIVE_STATUSES:
            continue
        since = entered.get(row.id, row.created_at)
        limit = dt.timedelta(weeks=TYPICAL_WEEKS[stage][1])
        if now - since > limit:
            stale.append(_item(row, reviewers, since, now, overdue_by=now - since - limit))
    stale.sort(key=lambda item: (-(item.overdue_by or dt.timedelta()), item.id))

    return Portfolio(
        at=now,
        filter=filt,
        total=len(rows),
        by_stage=_ordered(by_stage, list(Stage)),
        by_department=dict(sorted(by_department.items(), key=lambda kv: (-kv[1], kv[0].lower()))),
        by_status=_ordered(by_status, list(Status)),
        by_risk=_ordered(by_risk, list(RiskTier)),
        waiting=waiting[:SHOWN],
        waiting_total=len(waiting),
        stale=stale[:SHOWN],
        stale_total=len(stale),
        figures=service_figures(uow, now=now),
        limits=hub_limits(uow.session),
        **_duplicate_pairs(s, {row.id for row in rows}),
        pipeline={dept: _ordered(stages, list(Stage)) for dept, stages in sorted(pipeline.items())},
        summary=last_digest_summary(s, now) if filt.empty else None,
    )


def save_digest_summary(session: Session, text: str, figures: str, now: dt.datetime) -> None:
    """Keep the hub digest's summary for the lead's Home (the latest replaces the one before)."""
    value = {"text": text, "figures": figures, "at": now.isoformat()}
    row = session.get(HubSetting, DIGEST_SUMMARY)
    if row is None:
        session.add(HubSetting(key=DIGEST_SUMMARY, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now


def last_digest_summary(session: Session, now: dt.datetime) -> DigestSummaryNote | None:
    row = session.get(HubSetting, DIGEST_SUMMARY)
    if row is None or not isinstance(row.value, dict):
        return None
    try:
        note = DigestSummaryNote(
            str(row.value["text"]), str(row.value["figures"]), dt.datetime.fromisoformat(row.value["at"])
        )
    except (KeyError, TypeError, ValueError):
        return None
    return note if dt.timedelta(0) <= now - note.at <= SUMMARY_FRESH else None


def _duplicate_pairs(s: Session, ids: set[int]) -> dict[str, Any]:
    """The likely duplicates among these use cases (not answered "different" or "related"), best first."""
    from storage.models import UseCaseLink

    if not ids:
        return {"duplicates": [], "duplicates_total": 0}
    other, other_department = aliased(UseCase), aliased(Department)
    rows = s.execute(
        select(UseCaseLink, UseCase.title, Department.name, other.title, other_department.name)
        .join(UseCase, UseCaseLink.use_case_id == UseCase.id)
        .join(Department, UseCase.department_id == Department.id)
        .join(other, UseCaseLink.other_id == other.id)
        .join(other_department, other.department_id == other_department.id)
        .where(UseCaseLink.relation.in_(["likely", "same"]))
        .order_by(UseCaseLink.score.desc(), UseCaseLink.id)
    ).all()
    pairs, seen = [], set()
    for link, title, dept, o_title, o_dept in rows:
        pair = frozenset((link.use_case_id, link.other_id))
        if pair in seen or not (link.use_case_id in ids or link.other_id in ids):
            continue  # each found from either side: listed once
        seen.add(pair)
        pairs.append(
            DuplicatePair(link.use_case_id, title, dept, link.other_id, o_title, o_dept, link.score, link.relation)
        )
    return {"duplicates": pairs[:SHOWN], "duplicates_total": len(pairs)}


EXPERIMENTAL = frozenset({Stage.IDEATION, Stage.EXPERIMENTATION})  # "innovation" work not yet in production


@dataclass(frozen=True)
class Limits:
    """The hub's limits against where it is: work in progress, and the share of experimental work."""

    in_progress: int  # live use cases in active stages
    wip_limit: int  # 0: none
    live: int  # live use cases in any stage but closed
    experimental: int  # of those, in ideation or experimentation
    band: tuple[int, int]  # the target share of experimental work, in %

    @property
    def over_wip(self) -> bool:
        return bool(self.wip_limit) and self.in_progress > self.wip_limit

    @property
    def innovation_share(self) -> float | None:
        return self.experimental / self.live if self.live else None

    @property
    def innovation_outside_band(self) -> bool:
        share = self.innovation_share
        return share is not None and not self.band[0] <= round(share * 100) <= self.band[1]


def hub_limits(session: Session) -> Limits:
    """The hub's limits (its guidelines) and where it stands against them, hub-wide."""
    from intake.guidelines import load_guidelines  # guidelines read settings; the portfolio only counts

    rules = load_guidelines(session)
    rows = session.execute(
        select(UseCase.stage, UseCase.status).where(
            UseCase.status.in_([s.value for s in LIVE_STATUSES]), UseCase.stage != Stage.CLOSED.value
        )
    ).all()
    stages = [Stage(stage) for stage, _ in rows]
    return Limits(
        in_progress=sum(1 for st in stages if st in ACTIVE_STAGES),
        wip_limit=rules.wip_limit,
        live=len(stages),
        experimental=sum(1 for st in stages if st in EXPERIMENTAL),
        band=rules.innovation_band,
    )


def service_figures(uow: UnitOfWork, *, now: dt.datetime, window: dt.timedelta = FIGURES_WINDOW) -> ServiceFigures:
    """Medians over chat submissions (not imports) made in the last `window`."""
    s = uow.session
    recent = (UseCase.source.is_(None), UseCase.created_at >= now - window)
    cases = s.execute(select(UseCase.id, UseCase.created_at, UseCase.route).where(*recent)).all()
    created = {row.id: row.created_at for row in cases}
    first_review: dict[int, dt.datetime] = {}
    decided: dict[int, dt.datetime] = {}
    rounds = (
        select(Review.use_case_id, Review.decision, Review.decided_at)
        .join(UseCase, Review.use_case_id == UseCase.id)
        .where(*recent, Review.decided_at.is_not(None))
        .order_by(Review.decided_at)
    )
    for use_case_id, decision, decided_at in s.execute(rounds):
        if decided_at is None:
            continue
        first_review.setdefault(use_case_id, decided_at)
        if decision in (Decision.APPROVE.value, Decision.REJECT.value):
            decided.setdefault(use_case_id, decided_at)
    produced: dict[int, dt.datetime] = {}
    moves = (
        select(AuditEvent.use_case_id, AuditEvent.after, AuditEvent.at)
        .join(UseCase, AuditEvent.use_case_id == UseCase.id)
        .where(*recent, AuditEvent.action == "stage")
        .order_by(AuditEvent.at)
    )
    for use_case_id, after, at in s.execute(moves):
        if use_case_id is not None and (after or {}).get("stage") in {st.value for st in PRODUCTION}:
            produced.setdefault(use_case_id, at)

    def median(ends: dict[int, dt.datetime]) -> dt.timedelta | None:
        spans = [(end - created[uc]).total_seconds() for uc, end in ends.items() if uc in created]
        return dt.timedelta(seconds=statistics.median(spans)) if spans else None

    return ServiceFigures(
        window=window,
        submitted=len(cases),
        self_serve=sum(1 for row in cases if row.route == Route.SELF_SERVE.value),
        to_first_review=median(first_review),
        to_decision=median(decided),
        idea_to_production=median(produced),
        reviews_measured=len(first_review),
        decisions_measured=len(decided),
        production_measured=len(produced),
    )


def _ordered(counts: Counter[K], order: Sequence[K]) -> dict[K, int]:
    return {key: counts[key] for key in order if counts[key]}


def _names(s: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    return {pid: name for pid, name in s.execute(select(Person.id, Person.name).where(Person.id.in_(wanted)))}


def _stage_entered(s: Session, ids: list[int]) -> dict[int, dt.datetime]:
    """When each use case entered its current stage: its newest stage move (none: since it was created)."""
    entered: dict[int, dt.datetime] = {}
    for chunk in _chunks(ids):
        rows = s.execute(
            select(AuditEvent.use_case_id, AuditEvent.at)
            .where(AuditEvent.action == "stage", AuditEvent.use_case_id.in_(chunk))
            .order_by(AuditEvent.id)
        )
        for use_case_id, at in rows:
            if use_case_id is not None:
                entered[use_case_id] = at
    return entered


def _waiting_since(s: Session, ids: list[int]) -> dict[int, dt.datetime]:
    """When each use case's open review round was opened."""
    since: dict[int, dt.datetime] = {}
    for chunk in _chunks(ids):
        rows = s.execute(
            select(Review.use_case_id, Review.opened_at)
            .where(Review.use_case_id.in_(chunk), Review.decided_at.is_(None))
            .order_by(Review.round)
        )
        for use_case_id, opened_at in rows:
            since[use_case_id] = opened_at
    return since


def _chunks(ids: list[int], size: int = 2000) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _item(
    row: Row[*tuple[Any, ...]],
    reviewers: dict[int, str],
    since: dt.datetime,
    now: dt.datetime,
    *,
    overdue_by: dt.timedelta | None = None,
) -> PortfolioItem:
    return PortfolioItem(
        id=row.id,
        title=row.title,
        department=row.department,
        stage=Stage(row.stage),
        status=Status(row.status),
        risk_tier=RiskTier(row.risk_tier),
        owner=row.owner,
        reviewer=reviewers.get(row.reviewer_id) if row.reviewer_id else None,
        since=since,
        age=now - since,
        overdue_by=overdue_by,
    )


@dataclass(frozen=True)
class WeekFigure:
    """Decisions made in one week (Monday to Sunday, UTC) and their median time from submission."""

    week: dt.date
    decisions: int
    median_days: float | None


def decision_trend(uow: UnitOfWork, *, now: dt.datetime, weeks: int = 12) -> list[WeekFigure]:
    """Median days from submission to approve or reject, week by week, oldest first (chat submissions)."""
    monday = (now - dt.timedelta(days=now.weekday())).date()
    first = monday - dt.timedelta(weeks=weeks - 1)
    start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    rows = uow.session.execute(
        select(Review.decided_at, UseCase.created_at)
        .join(UseCase, Review.use_case_id == UseCase.id)
        .where(
            UseCase.source.is_(None),
            Review.decided_at >= start,
            Review.decision.in_([Decision.APPROVE.value, Decision.REJECT.value]),
        )
    ).all()
    spans: dict[dt.date, list[float]] = {first + dt.timedelta(weeks=i): [] for i in range(weeks)}
    for decided_at, created_at in rows:
        if decided_at is None:
            continue
        day = decided_at.date()
        week = day - dt.timedelta(days=day.weekday())
        if week in spans:
            spans[week].append((decided_at - created_at).total_seconds() / 86400)
    return [
        WeekFigure(week=week, decisions=len(days), median_days=statistics.median(days) if days else None)
        for week, days in spans.items()
    ]
