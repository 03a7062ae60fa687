"""Pure console renderers for command replies: lists, status, the home view, the hub's set-up."""

from __future__ import annotations

from handlers.console.render import (
    UTC,
    Rendered,
    Zone,
    buttons_for,
    clean,
    facts,
    lines_of,
    ref,
    render_receipt,
    status_lines,
    when,
    who,
    why,
)
from intake import notices
from intake.actions import Action, Viewer, available_actions
from intake.lifecycle import ORDER
from intake.notices import Receipt
from intake.read_models import PersonView, SubmitResult, UseCaseView
from intake.schema import Stage, label
from intake.triage import Guidelines

MAX_LIST = 40


def status_line(uc: UseCaseView) -> str:
    return f"{ref(uc)}: {label(uc.status)} · {label(uc.stage)} · {label(uc.risk_tier)} risk"


def render_list(items: list[UseCaseView], title: str, empty: str) -> Rendered:
    """A short list of use cases, one line each."""
    if not items:
        return Rendered((title, empty))
    lines = [title, *(status_line(uc) for uc in items[:MAX_LIST])]
    if len(items) > MAX_LIST:
        lines.append(f"…and {len(items) - MAX_LIST} more")
    return Rendered(tuple(lines))


def render_status(
    uc: UseCaseView,
    zone: Zone,
    *,
    viewer: Viewer | None = None,
    can_decide: bool = False,
    is_submitter: bool = False,
) -> Rendered:
    """Everything about one use case, with what `viewer` may do with it (as buttons, and the moves it can make).

    Without a viewer, `can_decide` and `is_submitter` stand for their roles.
    """
    if viewer is None:
        viewer = Viewer(uc.submitter.id if is_submitter else None, is_reviewer=can_decide)
    actions = available_actions(uc, viewer)
    stages = " → ".join(f"[{label(s)}]" if s is uc.stage else label(s) for s in ORDER)
    if uc.stage is Stage.CLOSED:
        stages += " · [Closed]"
    lines = [ref(uc), f"Problem: {clean(uc.problem)}", *facts(uc), why(uc), f"Hub: {label(uc.status)}"]
    lines += [f"Lifecycle: {stages}", *status_lines(uc, zone)]
    if Action.MOVE_STAGE in actions:
        lines += lines_of([notices.moves_paragraph(uc)], zone)
    lines.append(f"Submitted {when(uc.created_at, zone)} · updated {when(uc.updated_at, zone)}")
    return Rendered(tuple(lines), buttons_for(uc, actions), uc.id)


def render_submitted(result: SubmitResult) -> Rendered:
    """What the form turns into once the use case is saved."""
    if result.edited:
        saved = lines_of([notices.edit_paragraph(result.use_case, result.changes, result.back_to_review)], UTC)
        return Rendered((*saved, why(result.use_case)), use_case_id=result.use_case.id)
    notice = Receipt(
        use_case=result.use_case,
        resubmitted=result.resubmitted,
        duplicates=result.duplicates,
        over_wip=result.over_wip,
    )
    receipt = render_receipt(notice, zone=UTC)
    return Rendered((*receipt.lines, "A copy of this is in your DMs."), use_case_id=result.use_case.id)


def render_home(
    me: PersonView | None, mine: list[UseCaseView], queue: list[UseCaseView] | None, zone: Zone
) -> Rendered:
    """Slack's Home tab as text: your use cases and, for reviewers, your review queue."""
    lines = list(render_list(mine, "Your use cases", "None yet: /usecase to submit one.").lines)
    if queue is not None:
        lines.append("Waiting for your review" if queue else "Waiting for your review: nothing.")
        for uc in queue[:MAX_LIST]:
            since = when(uc.review.assigned_at or uc.created_at, zone) if uc.review else ""
            lines.append(f"{ref(uc)} · {clean(uc.department)} · from {who(uc.submitter)} · since {since}")
        if len(queue) > 1:
            lines.append("Open any of them with /usecase status ID to decide.")
    return Rendered(tuple(lines))


def roles(person: PersonView | None, *, is_lead: bool, is_reviewer: bool) -> str:
    """`hub lead, reviewer (forecasting, nlp)`, or `spoke` for everyone else."""
    parts = []
    if is_lead:
        parts.append("hub lead")
    if is_reviewer:
        skills = f" ({', '.join(person.skills)})" if person and person.skills else ""
        parts.append(f"reviewer{skills}")
    if person and person.away:
        parts.append("away")
    return ", ".join(parts) or "spoke"


def render_reviewers(people: list[PersonView]) -> Rendered:
    if not people:
        return Rendered(("No reviewers yet. A lead adds them with /hub reviewer add @name skill, skill",))
    lines = [
        f"{clean(p.name)}: {', '.join(p.skills) or 'no skills'} · {p.open_reviews} open" + (" · away" if p.away else "")
        for p in people
    ]
    return Rendered(("Hub reviewers", *lines))


def render_departments(names: list[str]) -> Rendered:
    return Rendered(("Departments", *(names or ["None yet: /hub department add NAME"])))


def render_guidelines(g: Guidelines) -> Rendered:
    return Rendered(
        (
            "Self-serve guidelines (low-risk use cases meeting these go ahead without review)",
            f"self_serve: {'on' if g.self_serve else 'off'}",
            f"self_serve_sensitivity: {', '.join(s.value for s in g.self_serve_sensitivity)}",
            f"self_serve_requires_available_data: {'on' if g.self_serve_requires_available_data else 'off'}",
            "Change with /hub guidelines set KEY VALUE",
        )
    )
