"""One intake form: the spec in `intake.forms` is what Slack's modal and the console ask, and what they say back."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from bot.settings import Settings
from handlers.console.chat import ConsoleChat, Screen
from handlers.console.forms import fill_intake
from handlers.console.session import ConsoleSession, LineReader
from handlers.slack.modals import ModalContext, build_intake_modal, parse_intake
from intake.forms import INTAKE_FIELDS, Draft, FormField, field_errors, parse_submission
from intake.read_models import SubmitResult
from intake.schema import Submission
from storage.db import UnitOfWork
from storage.models import UseCase
from tests.conftest import NOW
from tests.factories import ANSWERS, intake_values
from tests.fakes.signed import date, text_input
from tests.fakes.slack_api import validate_view
from tests.test_console import console, in_order

DEPARTMENTS = "/hub department add Finance\n/hub department add Accounts Payable\n"

# One good console answer per question, in the form's order (numbers pick the first choice).
GOOD = {
    "title": "Forecast invoice volumes",
    "problem": "Finance guesses monthly invoice volumes by hand and staffs the team wrong.",
    "department": "1",
    "benefit": "Right-sized team",
    "success_metric": "Late payments down 30% by Q3",
    "data_sources": "ERP invoice history",
    "data_availability": "1",
    "data_sensitivity": "1",
    "people_affected": "1",
    "autonomy": "1",
    "target_date": "",
    "links": "",
}


@pytest.fixture
def core(database_url: str, session_factory: sessionmaker[Session]) -> Core:
    settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    return Core(settings=settings, session_factory=session_factory, clock=lambda: NOW)


class Saved(Exception):
    """The console form handed a Submission to the service."""

    def __init__(self, sub: Submission) -> None:
        self.sub = sub


def save(sub: Submission) -> SubmitResult:
    raise Saved(sub)


def console_form(core: Core, script: str) -> tuple[str, Submission | None]:
    """Ask the intake form in the console as a person typing `script`; what they saw, and what it would save."""
    out = io.StringIO()
    screen = Screen(out)
    reader = LineReader(io.StringIO(script), screen, interactive=False)
    session = ConsoleSession(core, screen, reader, ConsoleChat(screen, core.zone_of))
    try:
        fill_intake(session, Draft(), save, heading="New AI use case")
    except Saved as saved:
        return out.getvalue(), saved.sub
    return out.getvalue(), None


def script(**answers: str) -> str:
    """The console answers for the whole form, with `answers` typed in place of the good ones."""
    return "".join(answers.get(name, GOOD[name]) + "\n" for name in GOOD)


# --- the department: matched like the service matches it, and stored as the hub spells it ------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("finance", "Finance"), ("FINANCE", "Finance"), ("accounts   payable", "Accounts Payable")],
)
def test_the_console_accepts_a_department_in_any_case_and_keeps_the_hubs_spelling(
    core: Core, typed: str, stored: str
) -> None:
    console(core, DEPARTMENTS)
    shown, sub = console_form(core, script(department=typed))
    in_order(shown, "Department:\n  [1] Accounts Payable\n  [2] Finance\n", f"Choose 1-2: {typed}\nExpected benefit: ")
    assert "Unknown department" not in shown
    assert sub is not None and sub.department == stored


def test_the_console_stores_the_hubs_spelling_of_a_department_typed_in_lower_case(core: Core) -> None:
    out = console(core, DEPARTMENTS + "/usecase\n" + script(department="finance"))
    in_order(out, "Choose 1-2: finance\nExpected benefit: ", "[only you] Saved. #1 Forecast invoice volumes")
    with UnitOfWork(core.session_factory) as uow:
        assert [uc.department.name for uc in uow.session.scalars(select(UseCase))] == ["Finance"]


def test_an_unknown_department_is_refused_with_the_hubs_list(core: Core) -> None:
    console(core, DEPARTMENTS)
    shown, sub = console_form(core, script(department="Legal\n2"))
    in_order(
        shown,
        "Choose 1-2: Legal\n  ! Unknown department 'Legal'. Choose one of: Accounts Payable, Finance.\nChoose 1-2: 2\n",
    )
    assert sub is not None and sub.department == "Finance"


def test_one_validation_function_matches_departments_ignoring_case() -> None:
    answers = ANSWERS | {"department": "  support "}
    assert field_errors(answers, departments=["Finance", "Support"]) == {}
    sub, _ = parse_submission(answers, departments=["Finance", "Support"])
    assert sub is not None and sub.department == "Support"
    assert field_errors(answers | {"department": "Sales"}, departments=["Finance", "Support"]) == {
        "department": "Unknown department 'Sales'. Choose one of: Finance, Support."
    }


# --- every question, as the spec words it, on every surface ------------------------------------


def test_the_spec_agrees_with_the_submission_model() -> None:
    assert [f.name for f in INTAKE_FIELDS] == list(Submission.model_fields)
    for field in INTAKE_FIELDS:
        assert field.required == Submission.model_fields[field.name].is_required(), field.name
    limits = {f.name: f.max_length for f in INTAKE_FIELDS}
    assert (limits["title"], limits["success_metric"], limits["department"]) == (120, 500, 80)


def _text(obj: dict[str, Any] | None) -> str | None:
    return obj["text"] if obj else None


@pytest.mark.parametrize("ctx", [ModalContext(), ModalContext(use_case_id=12)], ids=["new", "edit"])
def test_every_field_of_the_spec_is_in_the_slack_modal_as_the_spec_words_it(ctx: ModalContext) -> None:
    view = build_intake_modal(Draft(), ["Finance", "HR"], ctx=ctx, note="Rita asked for changes")
    assert validate_view(view) == []
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == [f.name for f in INTAKE_FIELDS]
    for field, block in zip(INTAKE_FIELDS, inputs, strict=True):
        element = block["element"]
        assert _text(block["label"]) == field.label
        assert _text(block.get("hint")) == field.hint
        assert block["optional"] is field.optional
        assert element["action_id"] == "value"
        options = field.options(["Finance", "HR"])
        assert [_text(o["text"]) for o in element.get("options", [])] == [c.label for c in options]
        assert [o["value"] for o in element.get("options", [])] == [c.value for c in options]
        if element["type"] == "plain_text_input":
            assert element.get("max_length") == field.max_length
            assert _text(element.get("placeholder")) == field.placeholder


def test_the_modal_words_every_question_as_a_person_reads_it() -> None:
    view = build_intake_modal(Draft(), [], ctx=ModalContext())
    shown = {b["block_id"]: (b["label"]["text"], _text(b.get("hint"))) for b in view["blocks"]}
    assert shown["links"] == ("Links", "Docs, tickets, prototypes; separate several with spaces or commas.")
    assert shown["data_availability"] == ("Data availability", "Is the data it would use available today?")
    dept = next(b for b in view["blocks"] if b["block_id"] == "department")
    assert dept["element"]["placeholder"]["text"] == "e.g. Finance"  # no departments yet: type one


def _console_heading(field: FormField) -> str:
    head = field.label + (" (optional)" if field.optional else "")
    hint = f"  ({field.hint})\n" if field.hint else ""
    if field.choices is not None or field.hub_choices:
        return hint + (head if head.endswith("?") else f"{head}:") + "\n"
    return hint + head


def test_every_field_of_the_spec_is_asked_in_the_console_as_the_spec_words_it(core: Core) -> None:
    console(core, DEPARTMENTS)
    shown, sub = console_form(core, script())
    assert sub is not None
    in_order(shown, *(_console_heading(f) for f in INTAKE_FIELDS))
    for field in INTAKE_FIELDS:
        for i, choice in enumerate(field.options(["Accounts Payable", "Finance"]), 1):
            assert f"  [{i}] {choice.label}\n" in shown
    in_order(
        shown,
        "Title (e.g. Invoice triage assistant): ",
        "  (Is the data it would use available today?)\nData availability:\n  [1] Available now\n",
        "  (Docs, tickets, prototypes; separate several with spaces or commas.)\nLinks (optional): ",
    )


# --- a bad answer gets the same message beside the same field everywhere ------------------------


@pytest.mark.parametrize(
    ("field", "slack_value", "typed", "message"),
    [
        ("title", text_input("AB"), "AB", "Please write at least 3 characters."),
        (
            "success_metric",
            text_input("TBD"),
            "TBD",
            "Name the business metric this should move, e.g. 'handling time -20%'.",
        ),
        (
            "links",
            text_input("intranet/page"),
            "intranet/page",
            '"intranet/page" is not a web link: links start with https://',
        ),
        # "Not is not a web link": the word typed was capitalised and read as part of the sentence.
        ("links", text_input("not yet"), "not yet", '"not" is not a web link: links start with https://'),
        ("target_date", date("2026-01-01"), "2026-01-01", "The target date is in the past."),
    ],
)
def test_a_bad_answer_gets_the_same_message_on_its_field_in_slack_and_the_console(
    core: Core, field: str, slack_value: dict[str, Any], typed: str, message: str
) -> None:
    _, slack_errors = parse_intake(intake_values(**{field: slack_value}), today=core.now().date())
    assert slack_errors == {field: message}  # the block id Slack shows it under is the field's name

    console(core, DEPARTMENTS)
    shown, sub = console_form(core, script(**{field: f"{typed}\n{GOOD[field]}"}))
    assert f"{typed}\n  ! {message}\n" in shown
    assert sub is not None
