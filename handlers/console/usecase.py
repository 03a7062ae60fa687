"""`/usecase` in the console: the intake form, list, status, stage and help, as in Slack."""

from __future__ import annotations

from bot.conversation import grammar as g
from bot.conversation.answers import Form, Said, Status, UseCaseList, answer
from handlers.console.admin import MENTIONS, render
from handlers.console.forms import fill_intake
from handlers.console.replies import render_list, render_status, render_submitted
from handlers.console.session import ConsoleSession
from intake import queries, submission
from intake.actions import Viewer
from intake.forms import Draft


def submit(session: ConsoleSession, draft: Draft) -> None:
    """Ask the intake form and save the use case as the current person."""
    actor = session.me()
    result = fill_intake(
        session, draft, lambda sub: session.core.run(submission.submit_use_case, actor, sub), heading="New AI use case"
    )
    if result is not None:
        session.reply(render_submitted(result))


def show_status(session: ConsoleSession, use_case_id: int) -> None:
    """Everything about one use case, with the buttons this person may click on it."""
    actor = session.me()
    uc = session.core.read(queries.get_use_case, use_case_id)
    session.reply(render_status(uc, session.zone(), viewer=Viewer.of(actor)))


def handle_usecase_command(session: ConsoleSession, text: str) -> None:
    """Open the intake form, or answer list, status, stage and help."""
    result = answer(session.core, session.me(), g.parse(g.USECASE, text, MENTIONS))
    if isinstance(result, Form):
        submit(session, result.draft)
    elif isinstance(result, UseCaseList):
        session.reply(render_list(result.items, result.title, render(result.empty, session.zone())))
    elif isinstance(result, Status):
        show_status(session, result.use_case.id)
    elif isinstance(result, Said):
        session.reply(render(result, session.zone()))
