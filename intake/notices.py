"""Outbound notices: platform-neutral messages the outbox carries, and the words each one says.

`compose(notice)` decides every notice's wording once, as neutral parts (plain text, emphasis, a person, a use
case, a command, a time, a quote of user text); each platform's renderer only formats the parts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from bot.expertise.models import ExpertResult  # plain read models, no services
from intake.lifecycle import allowed_moves
from intake.portfolio import Portfolio, WeekFigure
from intake.read_models import Duplicate, Lesson, PersonView, Relation, UseCaseView
from intake.schema import Decision, Route, Stage, Status, label


class ReviewCard(BaseModel):
    """The card a hub reviewer acts on; posted to the hub channel and the reviewer's DM."""

    kind: Literal["review_card"] = "review_card"
    use_case: UseCaseView
    matched_skills: list[str] = []
    note: str | None = None  # e.g. "Reassigned by Ana: she knows the data"
    duplicates: list[Duplicate] = []  # likely duplicates in other departments, and what the submitter said


class SelfServeNotice(BaseModel):
    """Tells the hub channel a use case went ahead self-serve, so the hub still sees it."""

    kind: Literal["self_serve"] = "self_serve"
    use_case: UseCaseView


class Receipt(BaseModel):
    """Tells the submitter where their use case went and why."""

    kind: Literal["receipt"] = "receipt"
    use_case: UseCaseView
    resubmitted: bool = False
    duplicates: list[Duplicate] = []  # likely duplicates in other departments: who to talk to
    over_wip: str | None = None  # the hub is over its work-in-progress limit: said at intake


class DuplicatesFound(BaseModel):
    """Tells a submitter of use cases in other departments found like theirs by meaning after the receipt went
    (intake.semantic): the same Same / Related / Different… answers as the receipt's."""

    kind: Literal["duplicates_found"] = "duplicates_found"
    use_case: UseCaseView
    duplicates: list[Duplicate]


class ExpertsAnswer(BaseModel):
    """The answer to "who knows X" asked where the answer must wait for the question's embedding (Slack's
    /whoknows with an endpoint): sent privately to the asker when it is ready."""

    kind: Literal["experts_answer"] = "experts_answer"
    result: ExpertResult


class Outcome(BaseModel):
    """Tells the submitter the hub's decision and the reason."""

    kind: Literal["outcome"] = "outcome"
    use_case: UseCaseView


class ReviewNudge(BaseModel):
    """Reminds a reviewer of a review that has waited, or escalates it to the hub."""

    kind: Literal["review_nudge"] = "review_nudge"
    use_case: UseCaseView
    waited_hours: float
    escalation: bool = False
    leads: list[PersonView] = []


class BusFactorNotice(BaseModel):
    """Tells the hub that a topic people ask about rests on one person."""

    kind: Literal["bus_factor"] = "bus_factor"
    topic: str
    expert: PersonView


class StageMoved(BaseModel):
    """Tells the hub a use case reached production engineering or deployment, or its owner that a lead moved it."""

    kind: Literal["stage_moved"] = "stage_moved"
    use_case: UseCaseView
    from_stage: Stage
    moved_by: PersonView
    reason: str | None = None  # why it was closed


class Withdrawn(BaseModel):
    """Tells a reviewer that the use case waiting for their review left it: its owner withdrew it, or it was closed."""

    kind: Literal["withdrawn"] = "withdrawn"
    use_case: UseCaseView
    by: PersonView
    reason: str | None = None


class Reopened(BaseModel):
    """Tells the owner that a lead reopened their use case: where it went back to, and why."""

    kind: Literal["reopened"] = "reopened"
    use_case: UseCaseView
    by: PersonView
    reason: str | None = None


class Refusal(BaseModel):
    """Tells the person who clicked why their click changed nothing (already decided, not allowed...)."""

    kind: Literal["refusal"] = "refusal"
    text: str
    at: dt.datetime | None = None  # when what it refers to happened (who decided first, and when)
    # Another reviewer holds the review: offered to take it over (use case id, round), then decide.
    take_over: tuple[int, int] | None = None


class DuplicateFlagged(BaseModel):
    """Tells a use case's owner that a submitter in another department says theirs is the same: talk to them."""

    kind: Literal["duplicate_flagged"] = "duplicate_flagged"
    use_case: UseCaseView  # the new one
    other: Duplicate  # the owner's own use case
    by: PersonView


class SharedProblem(BaseModel):
    """Tells the hub channel that three or more departments work on one problem (once per cluster)."""

    kind: Literal["shared_problem"] = "shared_problem"
    departments: list[str]
    use_cases: list[Duplicate]


class PortfolioChart(BaseModel):
    """The portfolio as a picture, sent to the person who asked: each surface draws the same figures its own way
    (a PNG uploaded to Slack, a file saved by the console). Its text is the chart's alt text."""

    kind: Literal["portfolio_chart"] = "portfolio_chart"
    title: str
    at: dt.datetime
    pipeline: dict[str, dict[Stage, int]]  # department -> stage -> live use cases
    trend: list[WeekFigure]
    alt: str


class Attachment(BaseModel):
    """A file sent with a message (a CSV export): its name, media type and text."""

    name: str
    media_type: str = "text/csv"
    content: str


class RetroPrompt(BaseModel):
    """Asks a use case's owner for a blameless retro (once more, at most, as a reminder)."""

    kind: Literal["retro_prompt"] = "retro_prompt"
    use_case: UseCaseView
    trigger: str
    why: str  # "it was deployed"
    reminder: bool = False


class Presenter(BaseModel):
    """Someone presenting at a showcase, and what about."""

    person: PersonView
    use_case_id: int | None = None
    title: str | None = None
    department: str | None = None


class ShowcaseInvitation(BaseModel):
    """Asks the owner of a use case that shipped (or had a retro) to present it at the next showcase."""

    kind: Literal["showcase_invitation"] = "showcase_invitation"
    invite_id: int
    at: dt.datetime  # when the showcase is
    use_case_id: int | None = None
    title: str | None = None
    nominated_by: PersonView | None = None


class ShowcaseAgenda(BaseModel):
    """The showcase's agenda, posted to its channel a week ahead and on the day."""

    kind: Literal["showcase_agenda"] = "showcase_agenda"
    at: dt.datetime
    presenters: list[Presenter]
    day_of: bool = False


class Shipped(BaseModel):
    """A use case that reached deployment in a digest's window, and the person it credits."""

    use_case_id: int
    title: str
    department: str
    owner: PersonView | None = None


class UpcomingShowcase(BaseModel):
    at: dt.datetime
    presenters: list[Presenter] = []


class Digest(BaseModel):
    """The portfolio digest a schedule posts to a channel: what happened since the last one, and where it stands."""

    kind: Literal["digest"] = "digest"
    title: str
    since: dt.datetime
    at: dt.datetime
    new: int
    decided: int
    moved: int
    view: Portfolio
    department: str | None = None  # a spoke's own digest
    shipped: list[Shipped] = []
    lessons: list[Lesson] = []
    showcases: list[UpcomingShowcase] = []
    summary: str | None = None  # two sentences from the LLM over the figures below, when one is configured

    @property
    def quiet(self) -> bool:
        """Nothing new since the last one: no submission, decision, stage move, shipped use case or lesson."""
        return not (self.new or self.decided or self.moved or self.shipped or self.lessons)


class DraftReady(BaseModel):
    """Tells someone the intake form is filled in from what they wrote, to check, correct and submit."""

    kind: Literal["draft_ready"] = "draft_ready"
    draft_id: int
    answers: dict[str, Any]
    questions: list[str] = []
    from_model: bool = False
    departments: list[str] = []  # the form's choices when it was filled (Teams draws the form in the message)


class BudgetSpent(BaseModel):
    """Tells the hub's leads, once a day, that the LLM's daily token budget is spent: features use their
    non-LLM paths until tomorrow."""

    kind: Literal["budget_spent"] = "budget_spent"
    budget: int
    leads: list[PersonView] = []


class Unreachable(BaseModel):
    """Tells the hub's leads, once, that messages to someone cannot reach them on a platform yet."""

    kind: Literal["unreachable"] = "unreachable"
    person: PersonView
    platform: str
    why: str
    leads: list[PersonView] = []


class Files(BaseModel):
    """Files for the person who asked for them (`/hub export`), with a line saying what they are."""

    kind: Literal["files"] = "files"
    text: str
    files: list[Attachment]


Notice = Annotated[
    ReviewCard
    | SelfServeNotice
    | Receipt
    | DuplicatesFound
    | ExpertsAnswer
    | Outcome
    | ReviewNudge
    | BusFactorNotice
    | StageMoved
    | Withdrawn
    | Reopened
    | DuplicateFlagged
    | SharedProblem
    | Digest
    | PortfolioChart
    | Files
    | Refusal
    | RetroPrompt
    | ShowcaseInvitation
    | ShowcaseAgenda
    | Unreachable
    | DraftReady
    | BudgetSpent,
    Field(discriminator="kind"),
]
NOTICE = TypeAdapter(Notice)

HUB = "hub"  # outbox destination meaning "the hub channel", resolved by each platform


def card_key(use_case_id: int, round_: int) -> str:
    """The key under which every copy of a review card is remembered, for in-place updates."""
    return f"uc:{use_case_id}:r{round_}:card"


# --- Wording -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plain:
    """Words shown as they are (ours, or user text inline)."""

    text: str


@dataclass(frozen=True)
class Strong:
    """Words to stress (bold where the platform has it)."""

    text: str


@dataclass(frozen=True)
class Em:
    """User words set apart inline (italic where the platform has it)."""

    text: str


@dataclass(frozen=True)
class Mention:
    """A person, drawn as a mention on platforms where they have an id; `fallback` when there is nobody."""

    person: PersonView | None
    fallback: str = "someone"


@dataclass(frozen=True)
class UseCaseRef:
    """`#12 Title`."""

    id: int
    title: str


@dataclass(frozen=True)
class Command:
    """Something to type, e.g. `/usecase status 12`."""

    text: str


@dataclass(frozen=True)
class Moment:
    """A time, shown in the reader's zone."""

    at: dt.datetime


@dataclass(frozen=True)
class Quote:
    """User text quoted on lines of its own."""

    text: str


@dataclass(frozen=True)
class Break:
    """A line break inside a paragraph."""


Part = Plain | Strong | Em | Mention | UseCaseRef | Command | Moment | Quote | Break
Parts = tuple[Part, ...]


class Tone(StrEnum):
    """What kind of news a paragraph is; platforms with icons show one."""

    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES = "changes"
    WARNING = "warning"
    REMINDER = "reminder"
    INBOX = "inbox"
    GO = "go"
    ENDED = "ended"  # closed or withdrawn


@dataclass(frozen=True)
class Paragraph:
    parts: Parts
    small: bool = False  # small print (a Slack context block)
    tone: Tone | None = None


@dataclass(frozen=True)
class Message:
    """A notice's words: a one-line summary (a notification's text), an optional title, then paragraphs.

    Renderers place the use case's own answers (facts, triage reasons) after `lead`, and the actions
    (with `prompt` beside them) last.
    """

    summary: Parts
    lead: Paragraph | None = None
    rest: tuple[Paragraph, ...] = ()
    title: Parts | None = None
    prompt: Paragraph | None = None


DECISION_TONE = {
    Decision.APPROVE: Tone.APPROVED,
    Decision.REJECT: Tone.REJECTED,
    Decision.REQUEST_CHANGES: Tone.CHANGES,
    Decision.WITHDRAWN: Tone.ENDED,
}


def plain(parts: Iterable[Part]) -> str:
    """The parts as unformatted text (names for people, UTC for times): for titles and comparisons."""
    out: list[str] = []
    for p in parts:
        if isinstance(p, Plain | Strong | Em | Command):
            out.append(p.text)
        elif isinstance(p, Mention):
            out.append(p.person.name if p.person else p.fallback)
        elif isinstance(p, UseCaseRef):
            out.append(f"#{p.id} {p.title}")
        elif isinstance(p, Moment):
            out.append(p.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
        elif isinstance(p, Quote):
            out.append(("\n" if out else "") + "\n".join(f"> {line}" for line in p.text.splitlines()))
        else:
            out.append("\n")
    return "".join(out)


def _ref(uc: UseCaseView) -> UseCaseRef:
    return UseCaseRef(uc.id, uc.title)


def _quote(text: str | None) -> Parts:
    return (Quote(text),) if text and text.strip() else ()


def _round(uc: UseCaseView) -> int:
    return uc.review.round if uc.review else 1


def decision_paragraph(uc: UseCaseView) -> Paragraph | None:
    """`Approved by Rita on <time>` and the reason, once the current round is decided."""
    review = uc.review
    if review is None or review.decision is None:
        return None
    parts: list[Part] = [Strong(label(review.decision)), Plain(" by "), Mention(review.decided_by)]
    if review.decided_at:
        parts += [Plain(" on "), Moment(review.decided_at)]
    return Paragraph((*parts, *_quote(review.reason)), tone=DECISION_TONE[review.decision])


def closure_paragraph(uc: UseCaseView) -> Paragraph | None:
    """`Closed by Lee on <time>` (or withdrawn) and the reason, on a closed use case's status."""
    closed = uc.closed
    if closed is None:
        return None
    parts: Parts = (
        Strong("Withdrawn" if closed.withdrawn else "Closed"),
        Plain(" by "),
        Mention(closed.by, "the hub"),
        Plain(" on "),
        Moment(closed.at),
        *_quote(closed.reason),
    )
    return Paragraph(parts, tone=Tone.ENDED)


def risk_view_paragraph(uc: UseCaseView) -> Paragraph | None:
    """The LLM's view of the risk tier beside the rules' (a disagreement stands out); the rules' tier stands."""
    ai = uc.risk_suggestion
    if ai is None:
        return None
    if ai.tier is uc.risk_tier:
        parts: Parts = (Strong("AI's view:"), Plain(f" {label(ai.tier)} risk too. "), Em(ai.rationale))
        return Paragraph(parts, small=True)
    parts = (
        Strong("AI's view differs:"),
        Plain(f" {label(ai.tier)} risk, where the rules say {label(uc.risk_tier)}. "),
        Em(ai.rationale),
        Plain(" The rules' tier stands; the reviewer decides."),
    )
    return Paragraph(parts, tone=Tone.WARNING)


def status_paragraphs(uc: UseCaseView) -> list[Paragraph]:
    """What a status shows of the hub's review and of the use case's end: the decision, then the closure."""
    decided = decision_paragraph(uc)
    closed = closure_paragraph(uc)
    if closed is not None and uc.review is not None and uc.review.decision is Decision.WITHDRAWN:
        decided = None  # the closure says the same, with the reason
    out = [p for p in (risk_view_paragraph(uc), decided, closed) if p]
    for lesson in uc.lessons:
        out += _ritual_words().lesson_paragraphs(lesson)
    if uc.retro_waiting:
        parts: Parts = (
            Plain(f"A retro is asked now that {uc.retro_waiting}: "),
            Command(f"/usecase retro {uc.id}"),
            Plain("."),
        )
        out.append(Paragraph(parts, small=True))
    return out


def moves_paragraph(uc: UseCaseView) -> Paragraph | None:
    """`Can move to: experimentation, closed (/usecase stage 12 experimentation)`, if it can move at all."""
    moves = allowed_moves(uc.stage, uc.status)
    if not moves:
        return None
    names = ", ".join(label(m).lower() for m in moves)
    example = f"/usecase stage {uc.id} {moves[0].value.replace('_', ' ')}"
    return Paragraph((Plain(f"Can move to: {names} ("), Command(example), Plain(")")), small=True)


def note_paragraph(card: ReviewCard) -> Paragraph | None:
    return Paragraph((Plain(card.note),), small=True) if card.note else None


def route_parts(uc: UseCaseView, resubmitted: bool = False) -> Parts:
    """Where a use case went and why, as the submitter reads it."""
    if uc.route is Route.SELF_SERVE:
        return (
            _ref(uc),
            Plain(" can go ahead "),
            Strong("self-serve"),
            Plain(f" ({label(uc.risk_tier).lower()} risk)."),
        )
    verb = "is back with" if resubmitted else "went to"
    head = (_ref(uc), Plain(f" {verb} hub review ({label(uc.risk_tier)} risk)"))
    if uc.reviewer:
        return (*head, Plain(", assigned to "), Mention(uc.reviewer), Plain("."))
    return (*head, Plain(". The hub is picking a reviewer."))


def route_tone(uc: UseCaseView) -> Tone:
    return Tone.GO if uc.route is Route.SELF_SERVE else Tone.INBOX


def next_steps(uc: UseCaseView) -> Paragraph:
    """What the submitter does next, self-serve or in review."""
    if uc.route is Route.SELF_SERVE:
        parts: Parts = (
            Strong("Next steps"),
            Break(),
            Plain("1. Start experimenting; the hub channel has been told, so ask there for help."),
            Break(),
            Plain("2. Record progress: "),
            Command(f"/usecase stage {uc.id} experimentation"),
            Plain("."),
            Break(),
            Plain("3. Measure what you promised: "),
            Em(uc.success_metric),
            Plain("."),
        )
        return Paragraph(parts)
    return Paragraph(
        (
            Strong("Next steps"),
            Break(),
            Plain(
                "You will get a DM with the decision. You can start ideation and experimentation now; "
                "production engineering waits for the go-ahead. Check any time with "
            ),
            Command(f"/usecase status {uc.id}"),
            Plain("."),
        )
    )


def card_title(uc: UseCaseView) -> Parts:
    round_ = _round(uc)
    return (Plain(f"Review #{uc.id}" + (f" (round {round_})" if round_ > 1 else "") + ": "), Plain(uc.title))


def compose_review_card(card: ReviewCard) -> Message:
    uc = card.use_case
    review = uc.review
    decided = decision_paragraph(uc)
    summary: Parts = (Plain(f"Review #{uc.id}: "), Plain(uc.title))
    if review and review.decision:
        summary += (Plain(f" ({label(review.decision)})"),)
    rest: list[Paragraph] = []
    if review and review.changes:
        since = f"round {review.round - 1}" if review.round > 1 else "it went ahead self-serve"
        parts: list[Part] = [Strong(f"Changed since {since}:")]
        for c in review.changes:
            parts += [Break(), Plain("• "), Strong(c.field), Plain(f": {c.before} → {c.after}")]
        rest.append(Paragraph(tuple(parts)))
    rest += [p for p in (note_paragraph(card), duplicates_paragraph(card.duplicates, for_reviewer=True)) if p]
    if (ai := risk_view_paragraph(uc)) is not None and decided is None:
        rest.append(ai)
    rest += [decided] if decided else []
    prompt = None
    if decided is None and uc.reviewer is None:
        no_one = (Plain("No reviewer is available for this one. "), Strong("Hub, pick a reviewer."))
        prompt = Paragraph(no_one, tone=Tone.WARNING)
    return Message(summary, None, tuple(rest), title=card_title(uc), prompt=prompt)


def compose_self_serve(notice: SelfServeNotice) -> Message:
    uc = notice.use_case
    lead = (
        Strong("Self-serve:"),
        Plain(" "),
        _ref(uc),
        Plain(f" from {uc.department} is going ahead ({label(uc.risk_tier).lower()} risk), submitted by "),
        Mention(uc.submitter),
        Plain("."),
    )
    return Message((Plain(f"Self-serve: #{uc.id} "), Plain(uc.title)), Paragraph(lead, tone=Tone.GO))


def compose_receipt(notice: Receipt) -> Message:
    uc = notice.use_case
    first = "Resubmitted" if notice.resubmitted else "Saved"
    lead = Paragraph((Plain(f"{first}. "), *route_parts(uc, notice.resubmitted)), tone=route_tone(uc))
    rest = [p for p in (duplicates_paragraph(notice.duplicates), wip_paragraph(notice.over_wip)) if p]
    return Message((Plain(f"{first}: #{uc.id} "), Plain(uc.title)), lead, (*rest, next_steps(uc)))


def compose_duplicates_found(notice: DuplicatesFound) -> Message:
    uc = notice.use_case
    lead = (
        Plain("Since you submitted "),
        _ref(uc),
        Plain(", Hubspoke found more like it in other departments, alike in meaning where the words differ."),
    )
    rest = [p for p in (duplicates_paragraph(notice.duplicates),) if p]
    summary = (Plain(f"More like your #{uc.id} "), Plain(uc.title))
    return Message(summary, Paragraph(lead, tone=Tone.WARNING), tuple(rest))


def compose_experts_answer(notice: ExpertsAnswer) -> Message:
    r = notice.result
    if not r.experts:
        lead: Parts = (Plain("Nobody with evidence about "), Strong(r.query), Plain(" yet."))
    else:
        names: list[Part] = []
        for i, e in enumerate(r.experts):
            names += [Plain(", " if i else ""), Plain(e.name)]
        lead = (Plain("Who knows "), Strong(r.query), Plain(": "), *names, Plain("."))
    return Message((Plain("Who knows "), Plain(r.query)), Paragraph(lead))


RELATION_WORDS = {
    Relation.SAME: "the same, says the submitter",
    Relation.RELATED: "related, says the submitter",
    Relation.DIFFERENT: "different, says the submitter",
}


def duplicate_line(d: Duplicate, *, for_reviewer: bool = False) -> Parts:
    """`#3 Forecast invoice volumes (Finance, production engineering): talk to @Ana · 82% alike`."""
    where = f" ({d.department}, {label(d.stage).lower()}"
    where += ", rejected)" if d.status is Status.REJECTED else ")"
    talk: Parts = (Plain(": talk to "), Mention(d.owner)) if d.owner else (Plain(": nobody owns it yet"),)
    parts: Parts = (UseCaseRef(d.id, d.title), Plain(where), *talk, Plain(f" · {d.score:.0%} alike"))
    if d.relation is not Relation.LIKELY and (for_reviewer or d.relation is Relation.DIFFERENT):
        parts += (Plain(" · "), Em(RELATION_WORDS[d.relation]))
        if d.reason:
            parts += (Plain(": "), Plain(d.reason))
    return parts


def duplicates_paragraph(duplicates: list[Duplicate], *, for_reviewer: bool = False) -> Paragraph | None:
    """Likely duplicates in other departments, with who to talk to; the reviewer also reads what was said."""
    if not duplicates:
        return None
    head = "Likely duplicates in other departments" if for_reviewer else "Other departments have something like it"
    parts: list[Part] = [Strong(head + ":")]
    for d in duplicates:
        parts += [Break(), Plain("• "), *duplicate_line(d, for_reviewer=for_reviewer)]
    if not for_reviewer:
        parts += [Break(), Plain("Say whether each is the same (its owner is told), related or different.")]
    return Paragraph(tuple(parts), tone=Tone.WARNING)


def wip_paragraph(over: str | None) -> Paragraph | None:
    """The hub is over its work-in-progress limit: said to a submitter, so a wait does not surprise them."""
    return Paragraph((Plain(over),), tone=Tone.WARNING, small=True) if over else None


def compose_duplicate_flagged(notice: DuplicateFlagged) -> Message:
    uc, other = notice.use_case, notice.other
    lead = (
        Mention(notice.by),
        Plain(f" ({uc.department}) says "),
        _ref(uc),
        Plain(" is the same as your "),
        UseCaseRef(other.id, other.title),
        Plain(". Worth a conversation before two teams build it twice."),
    )
    summary = (Plain(f"#{uc.id} "), Plain(uc.title), Plain(f" is like your #{other.id}"))
    return Message(summary, Paragraph(lead, tone=Tone.INBOX))


def compose_shared_problem(notice: SharedProblem) -> Message:
    n = len(notice.departments)
    lead = (
        Strong(f"{n} departments"),
        Plain(f" work on one problem ({', '.join(notice.departments)}): a candidate for a shared platform."),
    )
    parts: list[Part] = []
    for d in notice.use_cases:
        parts += [Plain("• "), *duplicate_line(d), Break()]
    summary = (Plain(f"{n} departments work on one problem: "), Plain(notice.use_cases[0].title))
    return Message(summary, Paragraph(lead, tone=Tone.WARNING), (Paragraph(tuple(parts[:-1])),))


def compose_outcome(notice: Outcome) -> Message:
    uc = notice.use_case
    review = uc.review
    assert review is not None and review.decision is not None
    by = Mention(review.decided_by, "the hub")
    reason = _quote(review.reason)
    summary = (Plain(f"#{uc.id} "), Plain(uc.title), Plain(f": {label(review.decision).lower()}"))
    tone = DECISION_TONE[review.decision]
    if review.decision is Decision.APPROVE:
        lead = Paragraph(
            (_ref(uc), Plain(" was "), Strong("approved"), Plain(" by "), by, Plain("."), *reason), tone=tone
        )
        steps = (
            Strong("Next steps"),
            Break(),
            Plain("Move it along its lifecycle as you go: "),
            Command(f"/usecase stage {uc.id} experimentation"),
            Plain(", then production engineering, deployment and monitoring. Measure: "),
            Em(uc.success_metric),
            Plain("."),
        )
        return Message(summary, lead, (Paragraph(steps),))
    if review.decision is Decision.WITHDRAWN:
        lead = Paragraph(
            (_ref(uc), Plain(" was "), Strong("withdrawn"), Plain(" by "), by, Plain("."), *reason), tone=tone
        )
        return Message(summary, lead)
    if review.decision is Decision.REJECT:
        lead = Paragraph(
            (_ref(uc), Plain(" was "), Strong("rejected"), Plain(" by "), by, Plain("."), *reason), tone=tone
        )
        ask = (Plain("Questions? Ask in the hub channel, or talk to "), Mention(review.decided_by, "the reviewer"))
        return Message(summary, lead, (Paragraph((*ask, Plain(".")), small=True),))
    lead = Paragraph(
        (by, Plain(" "), Strong("asked for changes"), Plain(" on "), _ref(uc), Plain(":"), *reason), tone=tone
    )
    back = Paragraph((Plain("It goes back to the same reviewer, who will see what you changed."),), small=True)
    return Message(summary, lead, (back,))


def waited(hours: float) -> str:
    whole = int(hours)
    return f"{whole // 24} days" if whole >= 48 else f"{whole} hours"


def compose_nudge(notice: ReviewNudge) -> Message:
    uc = notice.use_case
    summary = (Plain(f"Waiting for review: #{uc.id} "), Plain(uc.title))
    how_long = waited(notice.waited_hours)
    if not notice.escalation:
        return Message(
            summary, Paragraph((_ref(uc), Plain(f" has waited {how_long} for your review.")), tone=Tone.REMINDER)
        )
    leads: list[Part] = []
    for i, person in enumerate(notice.leads):
        leads += [Plain(", "), Mention(person)] if i else [Mention(person)]
    who = tuple(leads) or (Plain("Hub leads"),)
    if uc.reviewer is None:
        parts: Parts = (
            _ref(uc),
            Plain(f" has waited {how_long} and has no reviewer yet. "),
            *who,
            Plain(": please pick one."),
        )
    elif uc.reviewer.away:
        parts = (
            _ref(uc),
            Plain(f" has waited {how_long} for "),
            Mention(uc.reviewer),
            Plain(", who is away. "),
            *who,
            Plain(": please reassign it."),
        )
    else:
        parts = (
            _ref(uc),
            Plain(f" has waited {how_long} for "),
            Mention(uc.reviewer),
            Plain("'s review. "),
            *who,
            Plain(": please decide or reassign."),
        )
    return Message(summary, Paragraph(parts, tone=Tone.WARNING))


def compose_bus_factor(notice: BusFactorNotice) -> Message:
    lead = (
        Strong("Bus factor of one:"),
        Plain(" only "),
        Mention(notice.expert),
        Plain(" has real evidence on "),
        Strong(notice.topic),
        Plain(", and people are asking about it. Consider a showcase, pairing, or a second reviewer with this skill."),
    )
    return Message((Plain("Bus factor of one: "), Plain(notice.topic)), Paragraph(lead, tone=Tone.WARNING))


def compose_stage_moved(notice: StageMoved) -> Message:
    uc = notice.use_case
    to = label(uc.stage).lower()
    if uc.stage is Stage.CLOSED:
        closed = (
            _ref(uc),
            Plain(" was "),
            Strong("closed"),
            Plain(" by "),
            Mention(notice.moved_by),
            Plain(f" (it was in {label(notice.from_stage).lower()})."),
            *_quote(notice.reason),
        )
        return Message((Plain(f"#{uc.id} "), Plain(uc.title), Plain(" was closed")), Paragraph(closed, tone=Tone.ENDED))
    lead = (
        _ref(uc),
        Plain(" moved from "),
        Plain(label(notice.from_stage).lower()),
        Plain(" to "),
        Strong(to),
        Plain(", by "),
        Mention(notice.moved_by),
        Plain("."),
    )
    summary = (Plain(f"#{uc.id} "), Plain(uc.title), Plain(f" is now in {to}"))
    return Message(summary, Paragraph(lead, tone=Tone.GO))


def compose_withdrawn(notice: Withdrawn) -> Message:
    uc = notice.use_case
    withdrew = notice.by.id == uc.submitter.id
    lead = (
        Mention(notice.by),
        Plain(" withdrew " if withdrew else " closed "),
        _ref(uc),
        Plain(", which was waiting for your review: there is nothing left to decide."),
        *_quote(notice.reason),
    )
    summary = (Plain(f"#{uc.id} "), Plain(uc.title), Plain(" was withdrawn" if withdrew else " was closed"))
    return Message(summary, Paragraph(lead, tone=Tone.ENDED))


def compose_reopened(notice: Reopened) -> Message:
    uc = notice.use_case
    lead = (
        _ref(uc),
        Plain(" was "),
        Strong("reopened"),
        Plain(" by "),
        Mention(notice.by),
        Plain(f": it is back in {label(uc.stage).lower()}."),
        *_quote(notice.reason),
    )
    rest: list[Paragraph] = []
    if uc.review is not None and uc.review.decision is None:
        if uc.reviewer:
            review: Parts = (Plain("It is back in hub review, with "), Mention(uc.reviewer), Plain("."))
        else:
            review = (Plain("It is back in hub review; the hub is picking a reviewer."),)
        rest.append(Paragraph(review, tone=Tone.INBOX))
    summary = (Plain(f"#{uc.id} "), Plain(uc.title), Plain(" was reopened"))
    return Message(summary, Paragraph(lead, tone=Tone.GO), tuple(rest))


def edit_paragraph(uc: UseCaseView, changes: Iterable[Any], back_to_review: bool) -> Paragraph:
    """What the person who edited a use case reads: what changed, and whether it went back to hub review."""
    fields = ", ".join(c.field for c in changes) or "nothing"
    if back_to_review:
        parts: Parts = (
            Plain(f"Saved ({fields} changed). The risk tier rose to "),
            Strong(label(uc.risk_tier)),
            Plain(", so "),
            *route_parts(uc, resubmitted=True),
        )
        return Paragraph(parts, tone=Tone.INBOX)
    still = label(uc.status).lower()
    parts = (Plain(f"Saved ({fields} changed) on "), _ref(uc), Plain(f". It is still {still}."))
    if uc.review is not None and uc.review.decision is None:
        parts += (Plain(" Its review card shows the change."),)
    return Paragraph(parts)


def compose_digest(notice: Digest) -> Message:
    from intake.portfolio_words import compose_portfolio  # the portfolio's words build on these notices

    portfolio = compose_portfolio(notice.view, in_channel=True)
    counts = (
        f"{notice.new} new submission{'s' if notice.new != 1 else ''}, {notice.decided} decision"
        f"{'s' if notice.decided != 1 else ''}, {notice.moved} stage move{'s' if notice.moved != 1 else ''}"
    )
    lead = Paragraph((Strong(notice.title), Plain(f": {counts} since "), Moment(notice.since), Plain(".")))
    if notice.summary:
        summary = Paragraph(
            (Strong("In short"), Plain(" (the hub's language model, from the figures below): "), Em(notice.summary)),
        )
        lead = Paragraph((*lead.parts, Break(), *summary.parts))
    rest = tuple(p for p in (*_ritual_words().digest_news(notice), portfolio.lead, *portfolio.rest) if p is not None)
    return Message((Plain(f"{notice.title}: {counts}"),), lead, rest)


def compose_portfolio_chart(notice: PortfolioChart) -> Message:
    summary: Parts = (Plain(notice.title),)
    return Message(summary, Paragraph((Strong(notice.title), Plain(": "), Plain(notice.alt))))


def compose_files(notice: Files) -> Message:
    names = ", ".join(f.name for f in notice.files)
    summary: Parts = (Plain(notice.text),)
    return Message(summary, Paragraph((Plain(notice.text), Plain(f" ({names})"))))


PLATFORM_NAMES = {"slack": "Slack", "teams": "Teams", "console": "the console"}


def compose_unreachable(notice: Unreachable) -> Message:
    where = PLATFORM_NAMES.get(notice.platform, notice.platform)
    who: list[Part] = []
    for i, person in enumerate(notice.leads):
        who += [Plain(", "), Mention(person)] if i else [Mention(person)]
    lead = Paragraph(
        (
            *(who or [Plain("Hub leads")]),
            Plain(": messages to "),
            Mention(notice.person),
            Plain(f" cannot reach them on {where} yet ({notice.why}). Ask them to open a chat with the bot"),
            Plain(", or to install the app for themselves." if notice.platform == "teams" else "."),
            Plain(" Until then they miss receipts, outcomes and reminders there; this is said once."),
        ),
        tone=Tone.WARNING,
    )
    summary: Parts = (Plain(f"{notice.person.name} cannot be reached on {where}"),)
    return Message(summary, lead)


def compose_budget_spent(notice: BudgetSpent) -> Message:
    who: list[Part] = []
    for i, person in enumerate(notice.leads):
        who += [Plain(", "), Mention(person)] if i else [Mention(person)]
    lead = Paragraph(
        (
            *(who or [Plain("Hub leads")]),
            Plain(f": today's LLM budget ({notice.budget:,} tokens, LLM_DAILY_TOKEN_BUDGET) is spent. Until "),
            Plain("midnight UTC, forms open with today's pre-fill and no risk views or digest summaries are "),
            Plain("added; nothing else changes. "),
            Command("hubspoke llm usage"),
            Plain(" shows what used it."),
        ),
        tone=Tone.WARNING,
    )
    return Message((Plain("Today's LLM budget is spent"),), lead)


def compose_draft_ready(notice: DraftReady) -> Message:
    title = str(notice.answers.get("title") or "your idea")
    how = "with the help of the hub's language model" if notice.from_model else "from your first sentence"
    lead = Paragraph(
        (
            Plain("Your intake form for "),
            Strong(title),
            Plain(f" is filled in {how}. Check and correct every field, then submit it: nothing is submitted "),
            Plain("until you do."),
        ),
        tone=Tone.INBOX,
    )
    rest: list[Paragraph] = []
    if notice.questions:
        parts: list[Part] = [Strong("Worth adding:")]
        for q in notice.questions:
            parts += [Break(), Plain("• "), Em(q)]
        rest.append(Paragraph(tuple(parts)))
    filled = [name.replace("_", " ") for name, value in notice.answers.items() if value not in (None, "", [])]
    rest.append(Paragraph((Plain("Filled in: " + ", ".join(filled) + "."),), small=True))
    return Message((Plain(f"Your form for {title} is ready to check"),), lead, tuple(rest))


def compose_refusal(notice: Refusal) -> Message:
    parts: Parts = (Plain(notice.text),)
    if notice.at:
        parts += (Plain(" ("), Moment(notice.at), Plain(")"))
    return Message(parts, Paragraph(parts))


COMPOSE: dict[type, Callable[[Any], Message]] = {
    ReviewCard: compose_review_card,
    SelfServeNotice: compose_self_serve,
    Receipt: compose_receipt,
    DuplicatesFound: compose_duplicates_found,
    ExpertsAnswer: compose_experts_answer,
    Outcome: compose_outcome,
    ReviewNudge: compose_nudge,
    BusFactorNotice: compose_bus_factor,
    StageMoved: compose_stage_moved,
    Withdrawn: compose_withdrawn,
    Reopened: compose_reopened,
    DuplicateFlagged: compose_duplicate_flagged,
    SharedProblem: compose_shared_problem,
    Digest: compose_digest,
    PortfolioChart: compose_portfolio_chart,
    Files: compose_files,
    Refusal: compose_refusal,
    Unreachable: compose_unreachable,
    DraftReady: compose_draft_ready,
    BudgetSpent: compose_budget_spent,
    RetroPrompt: lambda n: _ritual_words().compose_retro_prompt(n),
    ShowcaseInvitation: lambda n: _ritual_words().compose_showcase_invitation(n),
    ShowcaseAgenda: lambda n: _ritual_words().compose_showcase_agenda(n),
}


def _ritual_words() -> Any:
    from intake import ritual_words  # the rituals' words build on these notices

    return ritual_words


def compose(notice: Notice) -> Message:
    """A notice's words, decided once for every platform."""
    return COMPOSE[type(notice)](notice)
