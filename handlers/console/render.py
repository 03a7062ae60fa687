"""Pure console renderers for notices: plain text lines plus the numbered buttons a card offers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from intake.notices import (
    BusFactorNotice,
    Notice,
    Outcome,
    Receipt,
    Refusal,
    ReviewCard,
    ReviewNudge,
    SelfServeNotice,
)
from intake.read_models import PersonView, UseCaseView
from intake.schema import Decision, Route, label

Zone = dt.tzinfo
UTC = ZoneInfo("UTC")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # everything but tab and newline: no terminal escapes


class ButtonAction(StrEnum):
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"
    REASSIGN = "reassign"
    PICK_REVIEWER = "pick_reviewer"
    EDIT_RESUBMIT = "edit_resubmit"


@dataclass(frozen=True)
class Button:
    """A button on a card; typing its number clicks it."""

    label: str
    action: ButtonAction
    use_case_id: int
    round: int = 1


@dataclass(frozen=True)
class Rendered:
    """A message as console lines; `closes` says it replaces an earlier card's buttons with none."""

    lines: tuple[str, ...]
    buttons: tuple[Button, ...] = ()
    use_case_id: int | None = None
    closes: bool = False

    def text(self) -> str:
        lines = list(self.lines)
        if self.buttons:
            lines.append(buttons_line(self.buttons))
        return "\n".join(lines)


def buttons_line(buttons: tuple[Button, ...]) -> str:
    """`[1] Approve  [2] Request changes  …`: what a person types to click."""
    return "  ".join(f"[{i}] {b.label}" for i, b in enumerate(buttons, 1))


def message(destination: str, rendered: Rendered) -> str:
    """A message with its destination in front (`[#hub]`, `[DM to Rita]`, `[only you]`), the rest indented."""
    first, *rest = rendered.text().splitlines() or [""]
    return "\n".join([f"[{destination}] {first}", *(f"    {line}" if line else "" for line in rest)])


def clean(text: str | None) -> str:
    """User text as typed, minus control characters that would drive the terminal."""
    return _CONTROL.sub("", text or "").strip()


def when(moment: dt.datetime, zone: Zone) -> str:
    """A time in the reader's zone: `Mon 2 Nov 2026 09:30 GMT`."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"


def who(person: PersonView | None, nobody: str = "nobody yet") -> str:
    return clean(person.name) if person else nobody


def ref(uc: UseCaseView) -> str:
    return f"#{uc.id} {clean(uc.title)}"


def quoted(text: str | None) -> list[str]:
    return [f"> {line}" for line in clean(text).splitlines()]


def facts(uc: UseCaseView, matched: list[str] | None = None) -> list[str]:
    """The answers that matter for a decision, one per line."""
    reviewer = who(uc.reviewer)
    if uc.reviewer and matched:
        reviewer += f" (knows {', '.join(matched)})"
    route = f"Reviewer: {reviewer}" if uc.route is Route.HUB_REVIEW else "Route: self-serve"
    data = f"{label(uc.data_sensitivity)} · {label(uc.data_availability).lower()}"
    if uc.data_sources:
        data += f" · {clean(uc.data_sources)}"
    lines = [
        f"Department: {clean(uc.department)} · Submitted by: {who(uc.submitter)} · Risk: {label(uc.risk_tier)}",
        route,
        f"Success metric: {clean(uc.success_metric)}",
        f"Expected benefit: {clean(uc.benefit)}",
        f"Data: {data}",
        f"People affected · autonomy: {label(uc.people_affected)} · {label(uc.autonomy)}",
    ]
    if uc.target_date:
        lines.append(f"Target date: {uc.target_date.isoformat()}")
    if uc.links:
        lines.append("Links: " + " ".join(clean(u) for u in uc.links))
    return lines


def why(uc: UseCaseView) -> str:
    return "Why: " + " · ".join(clean(r) for r in uc.triage_reasons)


def decision_lines(uc: UseCaseView, zone: Zone) -> list[str]:
    """`Rejected by Rita on Mon 2 Nov 2026 09:31 GMT` and the reason, once the current round is decided."""
    review = uc.review
    if review is None or review.decision is None:
        return []
    line = f"{label(review.decision)} by {who(review.decided_by, 'someone')}"
    if review.decided_at:
        line += f" on {when(review.decided_at, zone)}"
    return [line, *quoted(review.reason)]


def decision_buttons(uc: UseCaseView, *, reassign: bool = True) -> tuple[Button, ...]:
    round_ = uc.review.round if uc.review else 1
    buttons = [
        Button("Approve", ButtonAction.APPROVE, uc.id, round_),
        Button("Request changes", ButtonAction.REQUEST_CHANGES, uc.id, round_),
        Button("Reject", ButtonAction.REJECT, uc.id, round_),
    ]
    if uc.reviewer is None:
        buttons.append(Button("Pick a reviewer", ButtonAction.PICK_REVIEWER, uc.id, round_))
    elif reassign:
        buttons.append(Button("Reassign", ButtonAction.REASSIGN, uc.id, round_))
    return tuple(buttons)


def _card_head(uc: UseCaseView) -> str:
    round_ = uc.review.round if uc.review else 1
    return f"Review #{uc.id}" + (f" (round {round_})" if round_ > 1 else "") + f": {clean(uc.title)}"


def render_review_card(card: ReviewCard, zone: Zone) -> Rendered:
    """The card reviewers decide on; once decided it says who decided, when and why, and has no buttons."""
    uc = card.use_case
    lines = [_card_head(uc), f"Problem: {clean(uc.problem)}", *facts(uc, card.matched_skills), why(uc)]
    if uc.review and uc.review.changes:
        lines.append(f"Changed since round {uc.review.round - 1}:")
        lines += [f"  {c.field}: {clean(c.before)} → {clean(c.after)}" for c in uc.review.changes]
    if card.note:
        lines.append(clean(card.note))
    decided = decision_lines(uc, zone)
    if decided:
        return Rendered(tuple(lines + decided), use_case_id=uc.id, closes=True)
    if uc.reviewer is None:
        lines.append("No reviewer is available for this one. Hub, pick a reviewer.")
    return Rendered(tuple(lines), decision_buttons(uc), uc.id)


def render_card_update(card: ReviewCard, zone: Zone) -> Rendered:
    """A card edited in place, shortened to what changed: the decision, or the new reviewer."""
    uc = card.use_case
    decided = decision_lines(uc, zone)
    lines = [f"{_card_head(uc)} (updated)"]
    if card.note:
        lines.append(clean(card.note))
    if decided:
        return Rendered(tuple(lines + decided), use_case_id=uc.id, closes=True)
    lines.append(f"Waiting for {who(uc.reviewer)}.")
    return Rendered(tuple(lines), decision_buttons(uc), uc.id)


def route_line(uc: UseCaseView, resubmitted: bool = False) -> str:
    """Where a use case went and why, as the submitter reads it."""
    if uc.route is Route.SELF_SERVE:
        return f"{ref(uc)} can go ahead self-serve ({label(uc.risk_tier).lower()} risk)."
    verb = "is back with" if resubmitted else "went to"
    tail = f", assigned to {who(uc.reviewer)}." if uc.reviewer else ". The hub is picking a reviewer."
    return f"{ref(uc)} {verb} hub review ({label(uc.risk_tier)} risk){tail}"


def next_steps(uc: UseCaseView) -> list[str]:
    if uc.route is Route.SELF_SERVE:
        return [
            "Next steps:",
            "1. Start experimenting; the hub channel has been told, so ask there for help.",
            f"2. Record progress: /usecase stage {uc.id} experimentation",
            f"3. Measure what you promised: {clean(uc.success_metric)}",
        ]
    return [
        "Next steps: you will get a DM with the decision. You can start ideation and experimentation now; "
        f"production engineering waits for the go-ahead. Check any time with /usecase status {uc.id}"
    ]


def render_receipt(notice: Receipt, zone: Zone) -> Rendered:
    """The submitter's DM: saved, where it went, why, what next."""
    uc = notice.use_case
    first = "Resubmitted" if notice.resubmitted else "Saved"
    return Rendered((f"{first}. {route_line(uc, notice.resubmitted)}", why(uc), *next_steps(uc)), use_case_id=uc.id)


def render_self_serve(notice: SelfServeNotice, zone: Zone) -> Rendered:
    """Tells the hub channel what went ahead without review."""
    uc = notice.use_case
    head = (
        f"Self-serve: {ref(uc)} from {clean(uc.department)} is going ahead "
        f"({label(uc.risk_tier).lower()} risk), submitted by {who(uc.submitter)}."
    )
    return Rendered((head, f"Problem: {clean(uc.problem)}", *facts(uc), why(uc)), use_case_id=uc.id)


def render_outcome(notice: Outcome, zone: Zone) -> Rendered:
    """The submitter's DM with the hub's decision and the reason."""
    uc = notice.use_case
    review = uc.review
    assert review is not None and review.decision is not None
    by = who(review.decided_by, "the hub")
    reason = quoted(review.reason)
    if review.decision is Decision.APPROVE:
        lines = [
            f"{ref(uc)} was approved by {by}.",
            *reason,
            f"Next steps: move it along its lifecycle as you go: /usecase stage {uc.id} experimentation, then "
            f"production engineering, deployment and monitoring. Measure: {clean(uc.success_metric)}",
        ]
        return Rendered(tuple(lines), use_case_id=uc.id)
    if review.decision is Decision.REJECT:
        lines = [f"{ref(uc)} was rejected by {by}.", *reason, "Questions? Ask in the hub channel, or talk to them."]
        return Rendered(tuple(lines), use_case_id=uc.id)
    lines = [
        f"{by} asked for changes on {ref(uc)}:",
        *reason,
        "It goes back to the same reviewer, who will see what you changed.",
    ]
    edit = Button("Edit and resubmit", ButtonAction.EDIT_RESUBMIT, uc.id, review.round)
    return Rendered(tuple(lines), (edit,), uc.id)


def render_nudge(notice: ReviewNudge, zone: Zone) -> Rendered:
    """A reminder to the reviewer, or an escalation to the hub channel, about a waiting review."""
    uc = notice.use_case
    hours = int(notice.waited_hours)
    waited = f"{hours // 24} days" if hours >= 48 else f"{hours} hours"
    if notice.escalation:
        leads = ", ".join(who(p) for p in notice.leads) or "Hub leads"
        waiting = f"for {who(uc.reviewer)}'s review" if uc.reviewer else "and nobody is assigned to review it"
        head = f"{ref(uc)} has waited {waited} {waiting}. {leads}: please decide or reassign."
    else:
        head = f"{ref(uc)} has waited {waited} for your review."
    return Rendered((head, *facts(uc)), decision_buttons(uc), uc.id)


def render_bus_factor(notice: BusFactorNotice, zone: Zone) -> Rendered:
    """Tells the hub that a topic people ask about rests on one person."""
    return Rendered(
        (
            f"Bus factor of one: only {who(notice.expert)} has real evidence on {clean(notice.topic)}, and people are "
            "asking about it. Consider a showcase, pairing, or a second reviewer with this skill.",
        )
    )


def render_refusal(notice: Refusal, zone: Zone) -> Rendered:
    """Why a click changed nothing."""
    return Rendered((clean(notice.text) + (f" ({when(notice.at, zone)})" if notice.at else ""),))


RENDER: dict[type, Callable[[Any, Zone], Rendered]] = {
    ReviewCard: render_review_card,
    SelfServeNotice: render_self_serve,
    Receipt: render_receipt,
    Outcome: render_outcome,
    ReviewNudge: render_nudge,
    BusFactorNotice: render_bus_factor,
    Refusal: render_refusal,
}


def render_notice(notice: Notice, zone: Zone = UTC) -> Rendered:
    """Any notice as console text."""
    return RENDER[type(notice)](notice, zone)


def people_in(notice: Notice) -> list[PersonView]:
    """Everyone a notice names, to find a recipient's time zone without asking the database."""
    if isinstance(notice, BusFactorNotice):
        return [notice.expert]
    if isinstance(notice, Refusal):
        return []
    uc = notice.use_case
    people = [uc.submitter, *([uc.reviewer] if uc.reviewer else [])]
    if uc.review and uc.review.decided_by:
        people.append(uc.review.decided_by)
    if isinstance(notice, ReviewNudge):
        people += notice.leads
    return people
