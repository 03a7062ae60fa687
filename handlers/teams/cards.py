"""Pure Adaptive Card builders for Teams (schema 1.5): notices, answers and forms, drawn from the core's words.

Every piece of user text is escaped for Teams' markdown; people are `<at>` mentions backed by the card's
`msteams.entities`; times use the card's DATE/TIME functions, so Teams shows them in each reader's own zone.
Buttons are `Action.Execute` with the core's action as the verb and what it acts on as data; an action that
needs a reason carries its input on an `Action.ShowCard`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from bot.expertise.models import ExpertResult
from intake.actions import LABELS, ON_DUPLICATE, Action, Viewer, card_actions, notice_actions
from intake.forms import INTAKE_FIELDS, REASON_PROMPTS, FormField, Kind
from intake.notices import (
    Break,
    Command,
    DraftReady,
    DuplicatesFound,
    Em,
    ExpertsAnswer,
    Mention,
    Moment,
    Notice,
    Paragraph,
    Part,
    Plain,
    Quote,
    Receipt,
    ReviewCard,
    ReviewNudge,
    SelfServeNotice,
    ShowcaseInvitation,
    Strong,
    Tone,
    UseCaseRef,
    compose,
    plain,
)
from intake.people import TEAMS
from intake.read_models import PersonView, Relation, UseCaseView
from intake.schema import Decision, Route, label

Card = dict[str, Any]
VERSION = "1.5"  # the Adaptive Card schema Teams supports
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
TONE_ICON = {
    Tone.APPROVED: "✅",
    Tone.REJECTED: "❌",
    Tone.CHANGES: "✏️",
    Tone.WARNING: "⚠️",
    Tone.REMINDER: "⏰",
    Tone.INBOX: "📥",
    Tone.GO: "🟢",
    Tone.ENDED: "🚫",
}
# What a reason-taking action asks, on the card itself: the core's questions.
REASONS = {
    Action.REJECT: REASON_PROMPTS[Decision.REJECT],
    Action.REQUEST_CHANGES: REASON_PROMPTS[Decision.REQUEST_CHANGES],
}
REFRESH_VERB = "refresh"  # Universal Actions: each viewer's client asks for the card as they may use it
REASON_INPUT = "reason"  # a reason typed on a card: "<verb>_reason" where one card asks for several
_MARKDOWN = re.compile(r"([\\`*_\[\]<>~{}])")


def escape(text: str | None) -> str:
    """User text safe in a TextBlock: markdown, `<at>` tags and `{{DATE()}}` functions all shown as typed."""
    return _MARKDOWN.sub(r"\\\1", text or "")


def when(moment: dt.datetime) -> str:
    """A time Teams draws in the reader's own zone and language."""
    stamp = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{{{{DATE({stamp}, SHORT)}}}} {{{{TIME({stamp})}}}}"


class Writer:
    """Composes parts into Teams markdown, collecting the mention entities the card must carry."""

    def __init__(self) -> None:
        self.entities: list[dict[str, Any]] = []

    def mention(self, person: PersonView | None, fallback: str) -> str:
        teams_id = person.handle(TEAMS) if person else None
        name = escape(person.name if person else fallback)
        if not teams_id or person is None:
            return name
        tag = f"<at>{name}</at>"
        entity = {"type": "mention", "text": tag, "mentioned": {"id": teams_id, "name": person.name}}
        if entity not in self.entities:
            self.entities.append(entity)
        return tag

    def text(self, parts: Iterable[Part]) -> str:
        out: list[str] = []
        for p in parts:
            if isinstance(p, Plain):
                out.append(escape(p.text))
            elif isinstance(p, Strong):
                out.append(
                    f"**{escape(p.text.strip())}**" + (" " if p.text.endswith(" ") else "")
                    if p.text.strip()
                    else escape(p.text)
                )
            elif isinstance(p, Em):
                out.append(f"_{escape(p.text[:300])}_" if p.text.strip() else "")
            elif isinstance(p, Mention):
                out.append(self.mention(p.person, p.fallback))
            elif isinstance(p, UseCaseRef):
                out.append(f"#{p.id} **{escape(p.title[:200])}**")
            elif isinstance(p, Command):  # a code span shows its text as is: only a backtick could end it
                out.append("`" + p.text.replace("`", "'") + "`")
            elif isinstance(p, Moment):
                out.append(when(p.at))
            elif isinstance(p, Quote):
                quoted = "\n\n".join(f"_{escape(line)}_" for line in p.text.splitlines() if line.strip())
                out.append(("\n\n" if out else "") + quoted)
            elif isinstance(p, Break):
                out.append("\n\n")
        return "".join(out)

    def paragraph(self, p: Paragraph) -> Card:
        icon = f"{TONE_ICON[p.tone]} " if p.tone else ""
        block: Card = {"type": "TextBlock", "text": icon + self.text(p.parts), "wrap": True}
        if p.small:
            block.update(size="Small", isSubtle=True)
        return block


def text_block(text: str, **extra: Any) -> Card:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def card(body: list[Card], actions: Sequence[Card] = (), writer: Writer | None = None) -> Card:
    """An Adaptive Card 1.5 with its mentions, full width in Teams."""
    out: Card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}
    if actions:
        out["actions"] = list(actions)
    msteams: dict[str, Any] = {"width": "Full"}
    if writer is not None and writer.entities:
        msteams["entities"] = writer.entities
    out["msteams"] = msteams
    return out


def execute(title: str, verb: str, data: dict[str, Any], *, style: str | None = None) -> Card:
    action: Card = {"type": "Action.Execute", "title": title, "verb": verb, "data": data}
    if style:
        action["style"] = style
    return action


def facts(uc: UseCaseView, writer: Writer, matched: list[str] | None = None) -> Card:
    """The answers that matter for a decision, as a FactSet."""
    reviewer = writer.mention(uc.reviewer, "nobody yet") if uc.reviewer else "nobody yet"
    if uc.reviewer and matched:
        reviewer += f" (knows {escape(', '.join(matched))})"
    rows = [
        ("Department", escape(uc.department)),
        ("Submitted by", writer.mention(uc.submitter, uc.submitter.name)),
        ("Risk", label(uc.risk_tier)),
        (
            "Reviewer" if uc.route is Route.HUB_REVIEW else "Route",
            reviewer if uc.route is Route.HUB_REVIEW else "self-serve",
        ),
        ("Success metric", escape(uc.success_metric)),
        ("Expected benefit", escape(uc.benefit)),
        ("Data", f"{label(uc.data_sensitivity)} · {label(uc.data_availability).lower()}"),
        ("People · autonomy", f"{label(uc.people_affected)} · {label(uc.autonomy)}"),
    ]
    if uc.target_date:
        rows.append(("Target date", uc.target_date.isoformat()))
    return {"type": "FactSet", "facts": [{"title": t, "value": v or "—"} for t, v in rows]}


def use_case_actions(uc: UseCaseView, actions: Iterable[Action]) -> list[Card]:
    """The core's actions on a use case as Execute buttons; reasons are asked on the card (ShowCard)."""
    data = {"use_case_id": uc.id, "round": uc.review.round if uc.review else 1}
    out: list[Card] = []
    for a in actions:
        if a in REASONS:
            ask = {
                "type": "Input.Text",
                "id": f"{a.value}_{REASON_INPUT}",  # ids are unique across a card's ShowCards
                "label": REASONS[a],
                "isMultiline": True,
                "isRequired": True,
                "errorMessage": "Please say why.",
                "maxLength": 3000,
            }
            inner = card(
                [ask], [execute(LABELS[a], a.value, data, style="destructive" if a is Action.REJECT else None)]
            )
            inner.pop("$schema", None)
            inner.pop("msteams", None)
            out.append({"type": "Action.ShowCard", "title": LABELS[a] + "…", "card": inner})
        elif a in (
            Action.APPROVE,
            Action.REASSIGN,
            Action.PICK_REVIEWER,
            Action.TAKE_OVER,
            Action.WRITE_RETRO,
            Action.EDIT,
            Action.EDIT_RESUBMIT,
        ):
            out.append(execute(LABELS[a], a.value, data, style="positive" if a is Action.APPROVE else None))
    return out


def build_experts(result: ExpertResult) -> Card:
    """The answer to "who knows X": the people, and the evidence that says why."""
    writer = Writer()
    body = [text_block(f"**Who knows {escape(result.query)}**", size="Medium")]
    if not result.experts:
        body.append(text_block("Nobody with evidence about that yet."))
    for i, expert in enumerate(result.experts, 1):
        person = PersonView(id=expert.person_id, name=expert.name, handles=dict(expert.handles))
        head = writer.text((Plain(f"{i}. "), Mention(person)))
        evidence = "\n\n".join(f"- {escape(e.label)}" for e in expert.evidence[:3])
        body.append(text_block(head + ("\n\n" + evidence if evidence else "")))
    return card(body, (), writer)


def build_notice(notice: Notice, viewer: Viewer | None = None) -> Card:
    """Any notice as a card: its words from the core, the use case's facts where a decision needs them.

    A review card offers what its audience may do (the hub: decide, reassign) and asks Teams to refresh it
    for each viewer, who then gets only what they may do (`viewer`: the card drawn for one of them).
    """
    if isinstance(notice, ExpertsAnswer):
        return build_experts(notice.result)
    if isinstance(notice, DraftReady):  # the form itself, filled in, in the message
        message = compose(notice)
        intro = " ".join(plain(p.parts) for p in (message.lead, *message.rest) if p is not None)
        return build_form(
            "New AI use case",
            INTAKE_FIELDS,
            notice.answers,
            verb="submit_intake",
            submit="Submit",
            departments=notice.departments,
            intro=intro,
        )
    message = compose(notice)
    writer = Writer()
    body: list[Card] = []
    if message.title:
        body.append(text_block(writer.text(message.title), weight="Bolder", size="Medium"))
    if message.lead:
        body.append(writer.paragraph(message.lead))
    uc = getattr(notice, "use_case", None)
    if isinstance(notice, ReviewCard | SelfServeNotice | ReviewNudge) and uc is not None:
        if isinstance(notice, ReviewCard | SelfServeNotice):
            body.append(text_block(f"**Problem**\n\n{escape(uc.problem[:1500])}"))
        body.append(facts(uc, writer, getattr(notice, "matched_skills", None)))
        body.append(text_block("**Why:** " + escape(" · ".join(uc.triage_reasons)), size="Small", isSubtle=True))
    body += [writer.paragraph(p) for p in message.rest]
    if message.prompt:
        body.append(writer.paragraph(message.prompt))
    actions: list[Card] = []
    if uc is not None:
        allowed = card_actions(uc, viewer) if viewer is not None and isinstance(notice, ReviewCard) else None
        actions = use_case_actions(uc, allowed if allowed is not None else notice_actions(notice))
    if isinstance(notice, ShowcaseInvitation):
        data = {"invite_id": notice.invite_id}
        actions = [
            execute(LABELS[Action.PRESENT], Action.PRESENT.value, data, style="positive"),
            execute(LABELS[Action.NOT_THIS_TIME], Action.NOT_THIS_TIME.value, data),
        ]
    if isinstance(notice, Receipt | DuplicatesFound):
        body += duplicate_answers(notice)
    out = card(body, actions, writer)
    if isinstance(notice, ReviewCard) and uc is not None and uc.review is not None and uc.review.decision is None:
        data = {"use_case_id": uc.id, "round": uc.review.round}
        out["refresh"] = {"action": execute("Refresh", REFRESH_VERB, data)}
    return out


def duplicate_answers(notice: Receipt | DuplicatesFound) -> list[Card]:
    """One row of Same / Related / Different… per likely duplicate not answered yet."""
    out: list[Card] = []
    for d in [d for d in notice.duplicates if d.relation is Relation.LIKELY][:5]:
        data = {"use_case_id": notice.use_case.id, "other_id": d.id}
        out.append(text_block(f"Is #{d.id} **{escape(d.title)}** ({escape(d.department)}) the same as yours?"))
        buttons: list[Card] = [execute(LABELS[a], a.value, data) for a in ON_DUPLICATE if a is not Action.DIFFERENT]
        why = {
            "type": "Input.Text",
            "id": f"different_{d.id}_{REASON_INPUT}",
            "label": f"What makes it different from #{d.id}?",
            "isMultiline": True,
            "isRequired": True,
            "errorMessage": "Please say why.",
            "maxLength": 1000,
        }
        inner = {
            "type": "AdaptiveCard",
            "version": VERSION,
            "body": [why],
            "actions": [execute("Save", Action.DIFFERENT.value, data)],
        }
        buttons.append({"type": "Action.ShowCard", "title": LABELS[Action.DIFFERENT], "card": inner})
        out.append({"type": "ActionSet", "actions": buttons})
    return out


def build_said(lines: Sequence[Sequence[Part]]) -> Card:
    """A neutral answer (bot.conversation.answers.Said) as a card: its first line the headline."""
    writer = Writer()
    body = [
        text_block(writer.text(line), **({"weight": "Bolder"} if i == 0 and len(lines) > 1 else {}))
        for i, line in enumerate(lines)
    ]
    return card(body, (), writer)


# --- forms --------------------------------------------------------------------------------------------------


def _value(value: Any) -> str:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def form_input(field: FormField, initial: Any, departments: Sequence[str], error: str | None) -> list[Card]:
    """One question of a core form spec as Adaptive Card inputs, with its error beside it when it has one."""
    base: Card = {"id": field.name, "label": field.label, "isRequired": field.required}
    if field.required:
        base["errorMessage"] = "Please fill this in."
    value = _value(initial)
    if field.kind is Kind.DATE:
        element: Card = {"type": "Input.Date", **base}
    elif options := field.options(list(departments)[:100]):
        style = "expanded" if field.kind is Kind.RADIO else "compact"
        element = {
            "type": "Input.ChoiceSet",
            **base,
            "style": style,
            "choices": [{"title": c.label[:75], "value": c.value} for c in options],
        }
        if field.choose:
            element["placeholder"] = field.choose
    else:
        element = {"type": "Input.Text", **base, "isMultiline": field.kind is Kind.LONG_TEXT}
        if field.max_length:
            element["maxLength"] = field.max_length
        if field.placeholder:
            element["placeholder"] = field.placeholder
    if value:
        element["value"] = value
    out = [element]
    if field.hint:
        out.insert(0, text_block(escape(field.hint), size="Small", isSubtle=True, spacing="Medium"))
    if error:
        out.append(text_block(f"⚠️ {escape(error)}", color="Attention", size="Small", spacing="None"))
    return out


def build_form(
    title: str,
    fields: Sequence[FormField],
    answers: dict[str, Any],
    *,
    verb: str,
    submit: str,
    data: dict[str, Any] | None = None,
    departments: Sequence[str] = (),
    errors: dict[str, str] | None = None,
    intro: str | None = None,
) -> Card:
    """A core form (the intake, a retro) as a card; refreshed in place with each refused answer beside it."""
    errors = errors or {}
    body: list[Card] = [text_block(f"**{escape(title)}**", size="Medium")]
    if intro:
        body.append(text_block(escape(intro)))
    if errors:
        n = len(errors)
        body.append(
            text_block(
                f"⚠️ {n} answer{'s' if n != 1 else ''} need{'s' if n == 1 else ''} another look: see below.",
                color="Attention",
            )
        )
    for field in fields:
        body += form_input(field, answers.get(field.name), departments, errors.get(field.name))
    return card(body, [execute(submit, verb, dict(data or {}), style="positive")])


def build_done(title: str, said_card: Card) -> Card:
    """A form's card after it was carried out: what came of it, with no inputs left to type into."""
    said_card["body"].insert(0, text_block(f"**{escape(title)}**", size="Medium"))
    return said_card


def refused(text: str) -> Card:
    """A refused click or command, told to the person who did it."""
    return card([text_block(f"⚠️ {escape(text)}", color="Attention")])
