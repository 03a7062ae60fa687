"""Pure Block Kit builders for modals, and parsing their submitted state."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from handlers.slack.blocks import Blocks, context, next_steps, route_line, section
from handlers.slack.ids import INPUT_ACTION, Block, View
from handlers.slack.mrkdwn import clip, escape, quote
from intake.forms import REASON_PROMPTS, Draft, parse_submission
from intake.read_models import SubmitResult
from intake.schema import (
    MAX_TEXT,
    MAX_TITLE,
    Affected,
    Autonomy,
    DataAvailability,
    Decision,
    Sensitivity,
    Submission,
    label,
)


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


def _option(value: StrEnum) -> dict[str, Any]:
    return {"text": _plain(clip(label(value), 75)), "value": value.value}


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


def _choice(kind: str, choices: list[StrEnum], initial: StrEnum | None) -> dict[str, Any]:
    el: dict[str, Any] = {"type": kind, "options": [_option(c) for c in choices]}
    if initial is not None:
        el["initial_option"] = _option(initial)
    return el


def build_intake_modal(
    draft: Draft, departments: list[str], *, ctx: ModalContext, note: str | None = None
) -> dict[str, Any]:
    """The intake form; with `ctx.use_case_id` it edits a use case for resubmission."""
    editing = ctx.use_case_id is not None
    blocks: Blocks = []
    if note:
        blocks.append(section(note))
    if departments:
        dept: dict[str, Any] = {
            "type": "static_select",
            "placeholder": _plain("Choose your department"),
            "options": [{"text": _plain(clip(d, 75)), "value": d} for d in departments[:100]],
        }
        if draft.department in departments[:100]:
            dept["initial_option"] = {"text": _plain(clip(draft.department, 75)), "value": draft.department}
    else:
        dept = _text(draft.department, max_length=80, placeholder="e.g. Finance")
    blocks += [
        _input(
            Block.TITLE, "Title", _text(draft.title, max_length=MAX_TITLE, placeholder="e.g. Invoice triage assistant")
        ),
        _input(
            Block.PROBLEM,
            "Problem",
            _text(draft.problem, multiline=True, max_length=MAX_TEXT),
            hint="What is slow, costly or error-prone today, and for whom?",
        ),
        _input(Block.DEPARTMENT, "Department", dept),
        _input(Block.BENEFIT, "Expected benefit", _text(draft.benefit, multiline=True, max_length=MAX_TEXT)),
        _input(
            Block.SUCCESS_METRIC,
            "Success metric",
            _text(draft.success_metric, max_length=500, placeholder="e.g. average handling time down 20% by Q3"),
            hint="The business metric this should move. Set it now: it is how the hub will judge success.",
        ),
        _input(
            Block.DATA_SOURCES,
            "Data sources",
            _text(draft.data_sources, multiline=True, max_length=1000),
            optional=True,
            hint="Systems, files or datasets it would use.",
        ),
        _input(
            Block.DATA_AVAILABILITY,
            "Is that data available?",
            _choice("static_select", list(DataAvailability), draft.data_availability),
        ),
        _input(
            Block.DATA_SENSITIVITY,
            "Data sensitivity",
            _choice("radio_buttons", list(Sensitivity), draft.data_sensitivity),
        ),
        _input(
            Block.PEOPLE_AFFECTED, "People affected", _choice("radio_buttons", list(Affected), draft.people_affected)
        ),
        _input(Block.AUTONOMY, "Output and autonomy", _choice("radio_buttons", list(Autonomy), draft.autonomy)),
        _input(
            Block.TARGET_DATE,
            "Target date",
            {"type": "datepicker", **({"initial_date": draft.target_date.isoformat()} if draft.target_date else {})},
            optional=True,
        ),
        _input(
            Block.LINKS,
            "Links",
            _text(draft.links, multiline=True, max_length=2000),
            optional=True,
            hint="One per line: docs, tickets, prototypes.",
        ),
    ]
    return {
        "type": "modal",
        "callback_id": View.RESUBMIT if editing else View.INTAKE,
        "private_metadata": ctx.dump(),
        "title": _plain(f"Edit use case #{ctx.use_case_id}" if editing else "New AI use case"),
        "submit": _plain("Resubmit" if editing else "Submit"),
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


def parse_intake(state_values: dict[str, Any]) -> tuple[Submission | None, dict[str, str]]:
    """The Submission from a modal's state, or errors keyed by block id, in Slack's words."""
    return parse_submission({field: _value(state_values, Block(field)) for field in Submission.model_fields})


def build_submitted_view(result: SubmitResult) -> dict[str, Any]:
    """What the modal turns into once the use case is saved."""
    uc = result.use_case
    first = "Resubmitted" if result.resubmitted else "Saved"
    return {
        "type": "modal",
        "title": _plain("Use case saved"),
        "close": _plain("Done"),
        "blocks": [
            section(f"{first}. {route_line(uc, result.resubmitted)}"),
            context("*Why:* " + escape(" · ".join(uc.triage_reasons))),
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


def build_reassign_modal(use_case_id: int, round_: int, title: str) -> dict[str, Any]:
    """Asks which reviewer should take the review over."""
    return {
        "type": "modal",
        "callback_id": View.REASSIGN,
        "private_metadata": ModalContext(use_case_id=use_case_id, round=round_).dump(),
        "title": _plain(clip(f"Reassign #{use_case_id}", 24)),
        "submit": _plain("Reassign"),
        "close": _plain("Cancel"),
        "blocks": [
            section(f"#{use_case_id} *{clip(escape(title), 200)}*"),
            _input(
                Block.REVIEWER, "New reviewer", {"type": "users_select", "placeholder": _plain("Choose a hub reviewer")}
            ),
            _input(Block.NOTE, "Note for them", _text("", multiline=True, max_length=500), optional=True),
        ],
    }


def changes_note(reason: str | None, reviewer: str) -> str:
    """The reviewer's request, shown at the top of the edit modal."""
    return f":pencil2: *{escape(reviewer)} asked for changes:*\n{quote(reason or '')}"


def value_of(state_values: dict[str, Any], block: Block) -> Any:
    """One input's value from a modal's state."""
    return _value(state_values, block)
