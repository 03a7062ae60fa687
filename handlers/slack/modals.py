"""Pure Block Kit builders for modals, and parsing their submitted state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from handlers.slack.blocks import Blocks, context, next_steps, paragraph_text, route_line, section
from handlers.slack.ids import INPUT_ACTION, Block, View
from handlers.slack.mrkdwn import clip, escape, quote
from intake import notices
from intake.closing import MAX_REASON
from intake.forms import (
    INTAKE_FIELDS,
    NO_ONE_ELSE,
    REASON_PROMPTS,
    Choice,
    Draft,
    FormField,
    Kind,
    ReasonForm,
    parse_submission,
)
from intake.read_models import PersonView, SubmitResult
from intake.retros import RetroForm
from intake.schema import Decision, Submission


class ModalContext(BaseModel):
    """What a modal needs to remember between opening and submission (its private_metadata)."""

    use_case_id: int | None = None
    round: int | None = None
    decision: Decision | None = None
    channel_id: str | None = None

    def dump(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def load(cls, raw: str | None) -> ModalContext:
        """The context a modal carries; an unreadable one (forged or from an old version) loads empty."""
        try:
            return cls.model_validate_json(raw) if raw else cls()
        except ValueError:
            return cls()


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(choice: Choice) -> dict[str, Any]:
    return {"text": _plain(clip(choice.label, 75)), "value": choice.value}


def _input(
    block: Block, title: str, element: dict[str, Any], *, optional: bool = False, hint: str | None = None
) -> dict[str, Any]:
    element["action_id"] = INPUT_ACTION
    out: dict[str, Any] = {
        "type": "input",
        "block_id": block,
        "label": _plain(title),
        "element": element,
        "optional": optional,
    }
    if hint:
        out["hint"] = _plain(hint)
    return out


def _text(
    initial: str, *, multiline: bool = False, max_length: int | None = None, placeholder: str | None = None
) -> dict[str, Any]:
    el: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline}
    if initial:
        el["initial_value"] = initial[:3000]
    if max_length:
        el["max_length"] = max_length
    if placeholder:
        el["placeholder"] = _plain(placeholder)
    return el


def _choice(kind: str, options: list[Choice], initial: str | None, placeholder: str | None) -> dict[str, Any]:
    el: dict[str, Any] = {"type": kind, "options": [_option(c) for c in options]}
    if placeholder and kind == "static_select":
        el["placeholder"] = _plain(placeholder)
    if chosen := next((c for c in options if c.value == initial), None):
        el["initial_option"] = _option(chosen)
    return el


def _element(field: FormField, initial: Any, departments: list[str]) -> dict[str, Any]:
    """The Block Kit input for one question of the form spec."""
    raw = initial.value if isinstance(initial, StrEnum) else initial
    if field.kind is Kind.DATE:
        return {"type": "datepicker", **({"initial_date": initial.isoformat()} if initial else {})}
    if options := field.options(departments[:100]):
        kind = "radio_buttons" if field.kind is Kind.RADIO else "static_select"
        return _choice(kind, options, raw, field.choose)
    multiline = field.kind is Kind.LONG_TEXT
    return _text(raw or "", multiline=multiline, max_length=field.max_length, placeholder=field.placeholder)


def build_intake_fields(draft: Draft, departments: list[str]) -> Blocks:
    """One input block per question of `INTAKE_FIELDS`, pre-filled from `draft`."""
    return [
        _input(
            Block(field.name),
            field.label,
            _element(field, getattr(draft, field.name), departments),
            optional=field.optional,
            hint=field.hint,
        )
        for field in INTAKE_FIELDS
    ]


def build_intake_modal(
    draft: Draft, departments: list[str], *, ctx: ModalContext, note: str | None = None, edit: bool = False
) -> dict[str, Any]:
    """The intake form; with `ctx.use_case_id` it edits a use case: to resubmit it, or (`edit`) to save changes."""
    editing = ctx.use_case_id is not None
    blocks: Blocks = [section(note)] if note else []
    blocks += build_intake_fields(draft, departments)
    callback = (View.EDIT if edit else View.RESUBMIT) if editing else View.INTAKE
    return {
        "type": "modal",
        "callback_id": callback,
        "private_metadata": ctx.dump(),
        "title": _plain(f"Edit use case #{ctx.use_case_id}" if editing else "New AI use case"),
        "submit": _plain("Save" if edit else "Resubmit" if editing else "Submit"),
        "close": _plain("Cancel"),
        "blocks": blocks,
    }


def _value(state: dict[str, Any], block: Block) -> Any:
    element = state.get(block, {}).get(INPUT_ACTION, {})
    kind = element.get("type")
    if kind in ("static_select", "radio_buttons"):
        option = element.get("selected_option")
        return option["value"] if option else None
    if kind == "datepicker":
        return element.get("selected_date")
    if kind == "users_select":
        return element.get("selected_user")
    return element.get("value")


def parse_intake(
    state_values: dict[str, Any], *, departments: Sequence[str] = (), today: dt.date | None = None
) -> tuple[Submission | None, dict[str, str]]:
    """The Submission from a modal's state, or the form's messages keyed by the block each belongs on."""
    answers = {field.name: _value(state_values, Block(field.name)) for field in INTAKE_FIELDS}
    sub, errors = parse_submission(answers, departments=departments, today=today)
    known = {b.value for b in Block}
    return sub, {(name if name in known else Block.TITLE.value): message for name, message in errors.items()}


def build_submitted_view(result: SubmitResult) -> dict[str, Any]:
    """What the modal turns into once the use case is saved."""
    uc = result.use_case
    if result.edited:
        saved = notices.edit_paragraph(uc, result.changes, result.back_to_review)
        blocks = [section(paragraph_text(saved)), context("*Why:* " + escape(" · ".join(uc.triage_reasons)))]
        if result.back_to_review:
            blocks.append(context("A copy of this is in your DMs from Hubspoke."))
        return {"type": "modal", "title": _plain("Use case saved"), "close": _plain("Done"), "blocks": blocks}
    first = "Resubmitted" if result.resubmitted else "Saved"
    return {
        "type": "modal",
        "title": _plain("Use case saved"),
        "close": _plain("Done"),
        "blocks": [
            section(f"{first}. {route_line(uc, result.resubmitted)}"),
            context("*Why:* " + escape(" · ".join(uc.triage_reasons))),
            *(
                section(paragraph_text(p))
                for p in (notices.duplicates_paragraph(result.duplicates), notices.wip_paragraph(result.over_wip))
                if p is not None
            ),
            section(next_steps(uc)),
            context("A copy of this is in your DMs from Hubspoke."),
        ],
    }


def build_reason_modal(decision: Decision, use_case_id: int, round_: int, title: str) -> dict[str, Any]:
    """Asks the reviewer why, for reject and request changes."""
    verb = "Reject" if decision is Decision.REJECT else "Request changes"
    prompt = REASON_PROMPTS[decision]
    return {
        "type": "modal",
        "callback_id": View.REASON,
        "private_metadata": ModalContext(use_case_id=use_case_id, round=round_, decision=decision).dump(),
        "title": _plain(clip(f"{verb} #{use_case_id}", 24)),
        "submit": _plain(verb if len(verb) <= 24 else "Send"),
        "close": _plain("Cancel"),
        "blocks": [
            section(f"#{use_case_id} *{clip(escape(title), 200)}*"),
            _input(
                Block.REASON,
                prompt,
                _text("", multiline=True, max_length=2000),
                hint="The submitter sees this in their DM.",
            ),
        ],
    }


def _reviewer_option(person: PersonView) -> dict[str, Any]:
    facts = [", ".join(person.skills) or "no skills", f"{person.open_reviews or 0} open"]
    return {"text": _plain(clip(f"{person.name} · {' · '.join(facts)}", 75)), "value": str(person.id)}


def build_reassign_modal(use_case_id: int, round_: int, title: str, reviewers: Sequence[PersonView]) -> dict[str, Any]:
    """Asks which reviewer should take the review over, offering only those who can (`reviewers`)."""
    head = section(f"#{use_case_id} *{clip(escape(title), 200)}*")
    if not reviewers:
        return {
            "type": "modal",
            "title": _plain(clip(f"Reassign #{use_case_id}", 24)),
            "close": _plain("Close"),
            "blocks": [head, section(NO_ONE_ELSE)],
        }
    picker = {
        "type": "static_select",
        "placeholder": _plain("Choose a hub reviewer"),
        "options": [_reviewer_option(p) for p in reviewers[:100]],
    }
    return {
        "type": "modal",
        "callback_id": View.REASSIGN,
        "private_metadata": ModalContext(use_case_id=use_case_id, round=round_).dump(),
        "title": _plain(clip(f"Reassign #{use_case_id}", 24)),
        "submit": _plain("Reassign"),
        "close": _plain("Cancel"),
        "blocks": [
            head,
            _input(Block.REVIEWER, "New reviewer", picker, hint="Reviewers who are away, or hold it, are not listed."),
            _input(Block.NOTE, "Note for them", _text("", multiline=True, max_length=500), optional=True),
        ],
    }


def build_different_modal(ctx: ModalContext, other_id: int) -> dict[str, Any]:
    """Asks the submitter what makes their use case different from another department's."""
    return {
        "type": "modal",
        "callback_id": View.DIFFERENT,
        "private_metadata": ctx.dump(),
        "title": _plain(clip(f"Not like #{other_id}", 24)),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "blocks": [
            _input(
                Block.REASON,
                f"What makes it different from #{other_id}?",
                _text("", multiline=True, max_length=1000),
                hint="The reviewer reads it beside the two use cases.",
            )
        ],
    }


def build_reason_form_modal(
    form: ReasonForm, callback: View, use_case_id: int, round_: int | None = None
) -> dict[str, Any]:
    """A reason form from the core (closing, reopening) as a modal: its submit button is the confirmation."""
    return {
        "type": "modal",
        "callback_id": callback,
        "private_metadata": ModalContext(use_case_id=use_case_id, round=round_).dump(),
        "title": _plain(clip(form.title, 24)),
        "submit": _plain(clip(form.submit, 24)),
        "close": _plain("Cancel"),
        "blocks": [
            section(escape(form.intro)),
            _input(
                Block.REASON,
                form.prompt,
                _text(form.initial, multiline=True, max_length=MAX_REASON),
                hint=form.hint,
            ),
        ],
    }


def build_retro_modal(form: RetroForm) -> dict[str, Any]:
    """The core's retro form as a modal: one input per question, each with its own block id."""
    fields = [
        _input(Block(f.name), f.label, _element(f, form.initial.get(f.name), []), optional=f.optional, hint=f.hint)
        for f in form.fields
    ]
    return {
        "type": "modal",
        "callback_id": View.RETRO,
        "private_metadata": ModalContext(use_case_id=form.use_case_id).dump(),
        "title": _plain(clip(form.title, 24)),
        "submit": _plain("Save the retro"),
        "close": _plain("Cancel"),
        "blocks": [section(escape(form.intro)), *fields],
    }


def parse_retro_state(state_values: dict[str, Any], form_fields: Sequence[FormField]) -> dict[str, Any]:
    """The retro form's answers from a modal's state, by question name."""
    return {f.name: _value(state_values, Block(f.name)) for f in form_fields}


def changes_note(reason: str | None, reviewer: str) -> str:
    """The reviewer's request, shown at the top of the edit modal."""
    return f":pencil2: *{escape(reviewer)} asked for changes:*\n{quote(reason or '')}"


def value_of(state_values: dict[str, Any], block: Block) -> Any:
    """One input's value from a modal's state."""
    return _value(state_values, block)
