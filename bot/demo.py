"""A small demo hub, seeded through the real services so its audit trail and outbox are real."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.chat import ChatPort
from bot.core import Core
from bot.outbox import deliver_due
from handlers.console.people import console_ref
from intake import decisions, hub, stages, submission
from intake.people import resolve_actor
from intake.read_models import Actor
from intake.schema import Affected, Autonomy, DataAvailability, Decision, Sensitivity, Stage, Submission
from storage import repo
from storage.db import UnitOfWork

LEAD = "Lee"
DEPARTMENTS = ["Finance", "Customer Service", "People & HR", "Operations"]
REVIEWERS: list[tuple[str, list[str]]] = [
    ("Rita", ["forecasting", "language models"]),
    ("Omar", ["documents", "computer vision"]),
    ("Priya", ["privacy", "customer data"]),
]
AWAY = "Priya"

A, N = DataAvailability.AVAILABLE, DataAvailability.NEEDS_ACCESS
NONE, INTERNAL, PERSONAL = Sensitivity.NONE, Sensitivity.INTERNAL, Sensitivity.PERSONAL
STAFF, CUSTOMERS, PUBLIC = Affected.INTERNAL, Affected.CUSTOMERS, Affected.PUBLIC
ASSIST, CHECKED, AUTO = Autonomy.ASSISTIVE, Autonomy.HUMAN_IN_THE_LOOP, Autonomy.AUTOMATED


@dataclass(frozen=True)
class DemoUseCase:
    """One seeded use case: who submits what, the decision its reviewer takes, and the stages it reaches."""

    submitter: str
    department: str
    title: str
    problem: str
    benefit: str
    metric: str
    sources: str
    answers: tuple[DataAvailability, Sensitivity, Affected, Autonomy]
    decision: tuple[Decision, str] | None = None
    stages: tuple[Stage, ...] = ()


USE_CASES: list[DemoUseCase] = [
    DemoUseCase(
        "Sam", "Finance", "Forecast invoice volumes",
        "Finance guesses monthly invoice volumes by hand and staffs the team wrong every quarter end.",
        "Right-sized team, fewer late payments", "Late payments down 30% by Q3", "ERP invoice history",
        (A, INTERNAL, STAFF, ASSIST), stages=(Stage.EXPERIMENTATION,),
    ),
    DemoUseCase(
        "Dana", "Customer Service", "Draft replies to customer emails",
        "Agents type the same answers all day; a language model could draft replies for an agent to check.",
        "Faster replies, happier agents", "First-reply time down 40%", "Zendesk tickets, help-centre articles",
        (A, PERSONAL, CUSTOMERS, CHECKED),
    ),
    DemoUseCase(
        "Hugo", "People & HR", "Screen CVs automatically",
        "Recruiters read hundreds of CV documents per role; we want to reject unqualified applicants automatically.",
        "Recruiters spend their time on the best candidates", "Time to shortlist down 50%", "Applicant tracking system",
        (A, PERSONAL, PUBLIC, AUTO),
        decision=(Decision.REJECT, "Rejecting applicants automatically needs a legal basis and a person in the "
                  "loop. Come back with a design where a recruiter makes every decision."),
    ),
    DemoUseCase(
        "Sam", "Finance", "Match supplier invoices to purchase orders",
        "Clerks match scanned invoice documents to purchase orders by eye; mismatches are found weeks late.",
        "Mismatches caught the day an invoice arrives", "Unmatched invoices older than 7 days down 80%",
        "Scanned invoices, ERP purchase orders", (N, INTERNAL, STAFF, CHECKED),
        decision=(Decision.APPROVE, "Go ahead; ask IT for read-only ERP access first."),
        stages=(Stage.EXPERIMENTATION, Stage.PRODUCTION_ENGINEERING, Stage.DEPLOYMENT),
    ),
    DemoUseCase(
        "Dana", "Customer Service", "Summarise support calls",
        "Agents write a summary after every call; the recordings hold customer data, so summaries must be safe.",
        "Agents save three minutes a call", "After-call work time down 30%", "Call recordings and transcripts",
        (A, PERSONAL, STAFF, ASSIST),
        decision=(Decision.REQUEST_CHANGES, "Say how names and card numbers are removed from the transcripts "
                  "before they reach the model."),
    ),
    DemoUseCase(
        "Olga", "Operations", "Predict warehouse stock-outs",
        "Stock-outs are found when a picker reaches an empty shelf.", "Fewer lost orders", "Stock-outs down 25%",
        "Warehouse management system", (A, NONE, STAFF, CHECKED),
        stages=(Stage.EXPERIMENTATION, Stage.PRODUCTION_ENGINEERING),
    ),
    DemoUseCase(
        "Olga", "Operations", "Route IT tickets to the right team",
        "A coordinator reads every IT ticket and forwards it; a language model could route them straight away.",
        "Tickets reach the right team in minutes", "Median time to first response down 50%", "Service desk tickets",
        (A, INTERNAL, STAFF, AUTO),
        decision=(Decision.APPROVE, "Approved; check a weekly sample of routed tickets."),
        stages=(Stage.EXPERIMENTATION, Stage.PRODUCTION_ENGINEERING, Stage.DEPLOYMENT, Stage.MONITORING),
    ),
    DemoUseCase(
        "Sam", "Finance", "Read receipts from expense photos",
        "Staff type receipt details into the expense tool by hand; computer vision could read the photos.",
        "Expense claims filed in a minute", "Claims filed within 7 days up to 90%", "Expense tool receipt photos",
        (A, PERSONAL, STAFF, ASSIST),
    ),
]  # fmt: skip

HINT = (
    f"Demo hub: {len(DEPARTMENTS)} departments, {len(REVIEWERS)} reviewers ({AWAY} is away), "
    f"{len(USE_CASES)} use cases. Try: /hub reviewer list · /as rita (a review is waiting for her) · "
    "/as dana, then /usecase list and /usecase status 5 · /usecase to submit one · /help"
)


def is_empty(uow: UnitOfWork) -> bool:
    """True when nobody has used this hub yet."""
    return not repo.has_people(uow.session)


def _submission(row: DemoUseCase) -> Submission:
    availability, sensitivity, affected, autonomy = row.answers
    return Submission(
        title=row.title,
        problem=row.problem,
        department=row.department,
        benefit=row.benefit,
        success_metric=row.metric,
        data_sources=row.sources,
        data_availability=availability,
        data_sensitivity=sensitivity,
        people_affected=affected,
        autonomy=autonomy,
    )


def seed_demo(core: Core, *, chat: ChatPort | None = None) -> bool:
    """Seed the demo hub if the database is empty (False when it is not); `chat` takes the seed's messages."""
    if not core.read(is_empty):
        return False
    at = core.now() - dt.timedelta(days=16)  # history ends about two days ago

    def tick(hours: float = 5) -> dt.datetime:
        nonlocal at
        at += dt.timedelta(hours=hours)
        return at

    people: dict[str, Actor] = {}

    def person(name: str) -> Actor:
        if name not in people:
            people[name] = core.run(resolve_actor, console_ref(name), first_is_lead=True, now=tick(0.1))[0]
        return people[name]

    lead = person(LEAD)  # the first person of an empty hub is its lead
    for department in DEPARTMENTS:
        core.run(hub.add_department, lead, department, now=tick(0.1))
    for name, skills in REVIEWERS:
        core.run(hub.add_reviewer, lead, console_ref(name), skills=skills, now=tick(0.1))
        people[name] = core.run(resolve_actor, console_ref(name), now=tick(0.1))[0]
    for row in USE_CASES:
        result = core.run(submission.submit_use_case, person(row.submitter), _submission(row), now=tick(16))
        uc = result.use_case
        if row.decision and uc.reviewer:
            decision, reason = row.decision
            core.run(decisions.decide, people[uc.reviewer.name], uc.id, decision, reason=reason, now=tick(4))
        for stage in row.stages:
            core.run(stages.move_stage, person(row.submitter), uc.id, stage, now=tick(12))
    core.run(hub.set_away, lead, console_ref(AWAY), True, now=tick(1))
    if chat is not None:
        while deliver_due(core.session_factory, chat, now=core.now()).get("delivered"):
            pass
    return True
