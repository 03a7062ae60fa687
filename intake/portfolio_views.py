"""What people ask of the whole hub: the portfolio with its chart, a search across departments, an export.

Each is one core service every surface calls; what it sends later (the chart, the files) goes through the
outbox to the person who asked, so it survives a restart and never delays an acknowledgement.
"""

from __future__ import annotations

import datetime as dt
import io

from intake.errors import NotAllowed
from intake.notices import Attachment, Files
from intake.portfolio import Portfolio, PortfolioFilter, decision_trend, portfolio
from intake.portfolio_words import chart_notice
from intake.read_models import Actor, jsonable
from intake.register import export_use_cases, write_export
from intake.similar import Similarity, SimilarUseCase, default_similarity
from storage import repo
from storage.db import UnitOfWork
from storage.models import Person

SEARCH_TOP = 10


def show_portfolio(
    uow: UnitOfWork, actor: Actor, filt: PortfolioFilter | None = None, *, now: dt.datetime, chart: bool = True
) -> Portfolio:
    """The portfolio as `actor` asked for it; with `chart`, its picture is queued for them (committed here)."""
    view = portfolio(uow, now=now, filt=filt)
    if chart and actor.person_id:
        notice = chart_notice(view, decision_trend(uow, now=now))
        repo.enqueue(uow.session, jsonable(notice), person_id=actor.person_id, at=now)
        uow.commit()
    return view


def search_use_cases(
    uow: UnitOfWork, text: str, *, top: int = SEARCH_TOP, similarity: Similarity | None = None
) -> list[SimilarUseCase]:
    """The use cases most like `text`, across every department, best first."""
    return (similarity or default_similarity()).similar(uow, text, top=top)


def _lead(uow: UnitOfWork, actor: Actor) -> None:
    """Leads only; the role as stored now, not as an adapter's cached actor says."""
    person = uow.session.get(Person, actor.person_id, populate_existing=True) if actor.person_id else None
    if not (person is not None and person.is_lead) and not (actor.person_id == 0 and actor.is_lead):
        raise NotAllowed("Only hub leads can export the hub's records.")


def export_files(uow: UnitOfWork, actor: Actor, *, zone: dt.tzinfo = dt.UTC, now: dt.datetime) -> Files:
    """The hub's use cases and its audit trail (times in UTC and in `zone`, the hub's) as CSV files, for a lead."""
    from intake import audit  # the audit export (intake.audit) reads every table; imported only when asked

    _lead(uow, actor)
    use_cases = io.StringIO()
    write_export(use_cases, export_use_cases(uow), "csv")
    trail = io.StringIO()
    audit.write_audit(trail, audit.audit_rows(uow, since=None, zone=zone), "csv")
    day = now.date().isoformat()
    return Files(
        text=f"The hub's use cases and its audit trail on {day}, as CSV files.",
        files=[
            Attachment(name=f"hubspoke-use-cases-{day}.csv", content=use_cases.getvalue()),
            Attachment(name=f"hubspoke-audit-{day}.csv", content=trail.getvalue()),
        ],
    )


def send_export(uow: UnitOfWork, actor: Actor, *, zone: dt.tzinfo = dt.UTC, now: dt.datetime) -> None:
    """Build the export and queue it for the lead who asked (the task bot.tasks runs for `request_export`)."""
    files = export_files(uow, actor, zone=zone, now=now)
    repo.enqueue(uow.session, jsonable(files), person_id=actor.person_id, at=now)
    uow.commit()


def request_export(uow: UnitOfWork, actor: Actor, *, now: dt.datetime) -> None:
    """Queue the export for a lead as durable work (bot.tasks runs it): refused now if they are not a lead."""
    _lead(uow, actor)
    task = {"task": "export", "person_id": actor.person_id}
    repo.enqueue(uow.session, task, operation="task", platform="core", destination=f"export:{actor.person_id}", at=now)
    uow.commit()
