"""Pure console renderers for notices: plain text lines plus the numbered buttons a card offers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from intake import notices
from intake.actions import BUTTONS, LABELS, ON_DUPLICATE, Action, notice_actions
from intake.notices import (
    BudgetSpent,
    BusFactorNotice,
    Command,
    Digest,
    DraftReady,
    DuplicateFlagged,
    DuplicatesFound,
    Em,
    ExpertsAnswer,
    Files,
    Mention,
    Message,
    Moment,
    Notice,
    Outcome,
    Paragraph,
    Part,
    Plain,
    PortfolioChart,
    Quote,
    Receipt,
    Refusal,
    Reopened,
    RetroPrompt,
    ReviewCard,
    ReviewNudge,
    SelfServeNotice,
    SharedProblem,
    ShowcaseAgenda,
    ShowcaseInvitation,
    StageMoved,
    Strong,
    Unreachable,
    UseCaseRef,
    Withdrawn,
    compose,
)
from intake.read_models import Duplicate, PersonView, Relation, UseCaseView
from intake.schema import Route, label

Zone = dt.tzinfo
UTC = ZoneInfo("UTC")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # everything but tab and newline: no terminal escapes


ButtonAction = Action  # the core's action vocabulary; the console draws each one as a numbered button


@dataclass(frozen=True)
class Button:
    """A button on a card; typing its number clicks it."""

    label: str
    action: ButtonAction
    use_case_id: int
    round: int = 1
    other: int | None = None  # the likely duplicate an answer is about


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


def text_of(parts: Iterable[Part], zone: Zone) -> str:
    """Composed words as console text: names for people, times in the reader's zone, quotes on their own lines."""
    out: list[str] = []
    for p in parts:
        if isinstance(p, Plain | Strong | Em | Command):
            out.append(_CONTROL.sub("", p.text))  # not clean(): the spaces between parts matter
        elif isinstance(p, Mention):
            out.append(who(p.person, p.fallback))
        elif isinstance(p, UseCaseRef):
            out.append(f"#{p.id} {clean(p.title)}")
        elif isinstance(p, Moment):
            out.append(when(p.at, zone))
        elif isinstance(p, Quote):
            out.append(("\n" if out else "") + "\n".join(quoted(p.text)))
        else:
            out.append("\n")
    return "".join(out)


def lines_of(paragraphs: Iterable[Paragraph | None], zone: Zone) -> list[str]:
    """Paragraphs as console lines (small print too: a terminal has one size)."""
    return [line for p in paragraphs if p for line in text_of(p.parts, zone).splitlines()]


def buttons_for(uc: UseCaseView, actions: Iterable[Action]) -> tuple[Button, ...]:
    """The actions given, as numbered buttons (moving a stage is a command, not a button)."""
    round_ = uc.review.round if uc.review else 1
    return tuple(Button(LABELS[a], a, uc.id, round_) for a in actions if a in BUTTONS)


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
    return lines_of([notices.decision_paragraph(uc)], zone)


def status_lines(uc: UseCaseView, zone: Zone) -> list[str]:
    """The decision and, once closed, who closed it, when and why (as a status shows them)."""
    return lines_of(notices.status_paragraphs(uc), zone)


def render_review_card(card: ReviewCard, zone: Zone) -> Rendered:
    """The card reviewers decide on; once decided it says who decided, when and why, and has no buttons."""
    uc = card.use_case
    message = compose(card)
    lines = [text_of(message.title or message.summary, zone), f"Problem: {clean(uc.problem)}"]
    lines += [*facts(uc, card.matched_skills), why(uc), *lines_of([*message.rest, message.prompt], zone)]
    decided = uc.review is not None and uc.review.decision is not None
    return Rendered(tuple(lines), buttons_for(uc, notice_actions(card)), uc.id, closes=decided)


def render_card_update(card: ReviewCard, zone: Zone) -> Rendered:
    """A card edited in place, shortened to what changed: the decision, or the new reviewer."""
    uc = card.use_case
    lines = [f"{text_of(notices.card_title(uc), zone)} (updated)", *lines_of([notices.note_paragraph(card)], zone)]
    decided = decision_lines(uc, zone)
    if decided:
        return Rendered(tuple(lines + decided), use_case_id=uc.id, closes=True)
    lines.append(f"Waiting for {who(uc.reviewer)}.")
    return Rendered(tuple(lines), buttons_for(uc, notice_actions(card)), uc.id)


def route_line(uc: UseCaseView, resubmitted: bool = False) -> str:
    """Where a use case went and why, as the submitter reads it."""
    return text_of(notices.route_parts(uc, resubmitted), UTC)


def next_steps(uc: UseCaseView) -> list[str]:
    return lines_of([notices.next_steps(uc)], UTC)


def _composed(message: Message, zone: Zone, *details: str) -> list[str]:
    """A composed notice's lines: the lead, the use case's details, the rest."""
    return [*lines_of([message.lead], zone), *details, *lines_of(message.rest, zone)]


def render_receipt(notice: Receipt, zone: Zone) -> Rendered:
    """The submitter's DM: saved, where it went, why, what next; Same / Related / Different… per likely duplicate."""
    uc = notice.use_case
    lines = _composed(compose(notice), zone, why(uc))
    return Rendered(tuple(lines), duplicate_buttons(uc.id, notice.duplicates), uc.id)


def render_duplicates_found(notice: DuplicatesFound, zone: Zone) -> Rendered:
    """Duplicates by meaning found after the receipt, with the receipt's Same / Related / Different… buttons."""
    uc = notice.use_case
    return Rendered(tuple(_composed(compose(notice), zone)), duplicate_buttons(uc.id, notice.duplicates), uc.id)


def duplicate_buttons(use_case_id: int, duplicates: Iterable[Duplicate]) -> tuple[Button, ...]:
    """`[1] Same as #3  [2] Related to #3  [3] Different from #3…` for each duplicate not answered yet."""
    words = {Action.SAME_AS: "Same as", Action.RELATED: "Related to", Action.DIFFERENT: "Different from"}
    return tuple(
        Button(f"{words[a]} #{d.id}" + ("…" if a is Action.DIFFERENT else ""), a, use_case_id, other=d.id)
        for d in duplicates
        if d.relation is Relation.LIKELY
        for a in ON_DUPLICATE
    )


def render_self_serve(notice: SelfServeNotice, zone: Zone) -> Rendered:
    """Tells the hub channel what went ahead without review."""
    uc = notice.use_case
    lines = _composed(compose(notice), zone, f"Problem: {clean(uc.problem)}", *facts(uc), why(uc))
    return Rendered(tuple(lines), use_case_id=uc.id)


def render_outcome(notice: Outcome, zone: Zone) -> Rendered:
    """The submitter's DM with the hub's decision and the reason."""
    uc = notice.use_case
    return Rendered(tuple(_composed(compose(notice), zone)), buttons_for(uc, notice_actions(notice)), uc.id)


def render_nudge(notice: ReviewNudge, zone: Zone) -> Rendered:
    """A reminder to the reviewer, or an escalation to the hub channel, about a waiting review."""
    uc = notice.use_case
    lines = _composed(compose(notice), zone, *facts(uc))
    return Rendered(tuple(lines), buttons_for(uc, notice_actions(notice)), uc.id)


def render_bus_factor(notice: BusFactorNotice, zone: Zone) -> Rendered:
    """Tells the hub that a topic people ask about rests on one person."""
    return Rendered(tuple(_composed(compose(notice), zone)))


def render_stage_moved(notice: StageMoved, zone: Zone) -> Rendered:
    """A use case reached a stage the hub watches, or a lead moved the owner's use case."""
    return Rendered(tuple(_composed(compose(notice), zone)))


def render_withdrawn(notice: Withdrawn, zone: Zone) -> Rendered:
    """Tells a reviewer the use case waiting for them left review."""
    return Rendered(tuple(_composed(compose(notice), zone)), use_case_id=notice.use_case.id)


def render_reopened(notice: Reopened, zone: Zone) -> Rendered:
    """Tells the owner a lead reopened their use case."""
    return Rendered(tuple(_composed(compose(notice), zone)), use_case_id=notice.use_case.id)


def render_portfolio_chart(notice: PortfolioChart, zone: Zone) -> Rendered:
    """The chart's title and its alt text (the console's chat saves the picture and adds where)."""
    return Rendered(tuple(_composed(compose(notice), zone)))


def render_files(notice: Files, zone: Zone) -> Rendered:
    """What the files are (the console's chat saves them and adds where)."""
    return Rendered(tuple(_composed(compose(notice), zone)))


def render_duplicate_flagged(notice: DuplicateFlagged, zone: Zone) -> Rendered:
    """Tells an owner that a submitter elsewhere says their use case is the same."""
    return Rendered(tuple(_composed(compose(notice), zone)), use_case_id=notice.use_case.id)


def render_shared_problem(notice: SharedProblem, zone: Zone) -> Rendered:
    """Tells the hub that three or more departments work on one problem."""
    return Rendered(tuple(_composed(compose(notice), zone)))


def render_digest(notice: Digest, zone: Zone) -> Rendered:
    """The portfolio digest a schedule posts to a channel."""
    return Rendered(tuple(_composed(compose(notice), zone)))


def render_refusal(notice: Refusal, zone: Zone) -> Rendered:
    """Why a click changed nothing; with the offer to take the review over when another reviewer holds it."""
    lines = tuple(_composed(compose(notice), zone))
    if notice.take_over is None:
        return Rendered(lines)
    use_case_id, round_ = notice.take_over
    return Rendered(lines, (Button(LABELS[Action.TAKE_OVER], Action.TAKE_OVER, use_case_id, round_),), use_case_id)


def render_retro_prompt(notice: RetroPrompt, zone: Zone) -> Rendered:
    """Asks a use case's owner for a blameless retro, with the button that opens its form."""
    uc = notice.use_case
    return Rendered(tuple(_composed(compose(notice), zone)), buttons_for(uc, notice_actions(notice)), uc.id)


def render_showcase_invitation(notice: ShowcaseInvitation, zone: Zone) -> Rendered:
    """Invites someone to present: Yes / Not this time / Nominate a colleague (who is asked for by name)."""
    buttons = tuple(
        Button(LABELS[a], a, notice.use_case_id or 0, other=notice.invite_id) for a in notice_actions(notice)
    )
    return Rendered(tuple(_composed(compose(notice), zone)), buttons, notice.use_case_id)


def render_showcase_agenda(notice: ShowcaseAgenda, zone: Zone) -> Rendered:
    """The showcase's agenda, a week ahead and on the day."""
    return Rendered(tuple(_composed(compose(notice), zone)))


def render_draft_ready(notice: DraftReady, zone: Zone) -> Rendered:
    """The form filled in from what someone wrote, with the button that opens it to check and submit."""
    button = Button(LABELS[Action.OPEN_DRAFT], Action.OPEN_DRAFT, 0, other=notice.draft_id)
    return Rendered(tuple(_composed(compose(notice), zone)), (button,))


def render_budget_spent(notice: BudgetSpent, zone: Zone) -> Rendered:
    """Tells the hub's leads, once a day, that the LLM budget is spent."""
    return Rendered(tuple(_composed(compose(notice), zone)))


def render_unreachable(notice: Unreachable, zone: Zone) -> Rendered:
    """Tells the hub's leads, once, that someone cannot be reached on a platform yet."""
    return Rendered(tuple(_composed(compose(notice), zone)))


RENDER: dict[type, Callable[[Any, Zone], Rendered]] = {
    ReviewCard: render_review_card,
    SelfServeNotice: render_self_serve,
    Receipt: render_receipt,
    DuplicatesFound: render_duplicates_found,
    ExpertsAnswer: lambda n, zone: _experts(n),
    Outcome: render_outcome,
    ReviewNudge: render_nudge,
    BusFactorNotice: render_bus_factor,
    StageMoved: render_stage_moved,
    Withdrawn: render_withdrawn,
    Reopened: render_reopened,
    DuplicateFlagged: render_duplicate_flagged,
    SharedProblem: render_shared_problem,
    PortfolioChart: render_portfolio_chart,
    Files: render_files,
    Digest: render_digest,
    RetroPrompt: render_retro_prompt,
    ShowcaseInvitation: render_showcase_invitation,
    ShowcaseAgenda: render_showcase_agenda,
    Unreachable: render_unreachable,
    DraftReady: render_draft_ready,
    BudgetSpent: render_budget_spent,
    Refusal: render_refusal,
}


def _experts(notice: ExpertsAnswer) -> Rendered:
    from handlers.console.whoknows import render_experts  # it builds on this module

    return render_experts(notice.result, notice.result.as_of)


def render_notice(notice: Notice, zone: Zone = UTC) -> Rendered:
    """Any notice as console text."""
    return RENDER[type(notice)](notice, zone)


def people_in(notice: Notice) -> list[PersonView]:
    """Everyone a notice names, to find a recipient's time zone without asking the database."""
    if isinstance(notice, BusFactorNotice):
        return [notice.expert]
    if isinstance(notice, Refusal | PortfolioChart | Files | Digest | DraftReady | ExpertsAnswer):
        return []
    if isinstance(notice, ShowcaseInvitation):
        return [notice.nominated_by] if notice.nominated_by else []
    if isinstance(notice, ShowcaseAgenda):
        return [p.person for p in notice.presenters]
    if isinstance(notice, Unreachable):
        return [notice.person, *notice.leads]
    if isinstance(notice, BudgetSpent):
        return list(notice.leads)
    if isinstance(notice, SharedProblem):
        return [d.owner for d in notice.use_cases if d.owner]
    uc = notice.use_case
    people = [uc.submitter, *([uc.reviewer] if uc.reviewer else [])]
    if uc.review and uc.review.decided_by:
        people.append(uc.review.decided_by)
    if isinstance(notice, ReviewNudge):
        people += notice.leads
    if isinstance(notice, StageMoved):
        people.append(notice.moved_by)
    if isinstance(notice, Withdrawn | Reopened | DuplicateFlagged):
        people.append(notice.by)
    return people
