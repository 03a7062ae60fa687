"""`/usecase` in the console: the intake form, list, status, stage and help, as in Slack."""

from __future__ import annotations

from handlers.console.forms import fill_intake
from handlers.console.replies import render_list, render_status, render_submitted
from handlers.console.session import ConsoleSession
from intake import services
from intake.errors import HubError
from intake.forms import Draft, draft_from_text
from intake.schema import Stage, label, parse_stage

USECASE_HELP = (
    "/usecase opens the intake form. Other uses:\n"
    "/usecase <what you want to do>: the form, pre-filled from your words\n"
    "/usecase list: your use cases\n"
    "/usecase status 12: everything about #12\n"
    "/usecase stage 12 experimentation: move #12 along "
    + " → ".join(label(s).lower() for s in Stage if s is not Stage.CLOSED)
    + ", or closed"
)


def submit(session: ConsoleSession, draft: Draft) -> None:
    """Ask the intake form and save the use case as the current person."""
    actor = session.me()
    result = fill_intake(
        session, draft, lambda sub: session.core.run(services.submit_use_case, actor, sub), heading="New AI use case"
    )
    if result is not None:
        session.reply(render_submitted(result))


def show_status(session: ConsoleSession, use_case_id: int) -> None:
    """Everything about one use case, with the buttons this person may click on it."""
    actor = session.me()
    uc = session.core.read(services.get_use_case, use_case_id)
    session.reply(
        render_status(uc, session.zone(), can_decide=actor.can_decide, is_submitter=uc.submitter.id == actor.person_id)
    )


def handle_usecase_command(session: ConsoleSession, text: str) -> None:
    """Open the intake form, or answer list, status, stage and help."""
    core = session.core
    verb, _, rest = text.strip().partition(" ")
    verb = verb.lower()
    if verb in ("help", "?"):
        session.reply(USECASE_HELP)
    elif verb == "list":
        mine = core.read(services.my_use_cases, session.me())
        session.reply(render_list(mine, "Your use cases", "None yet: /usecase to submit one."))
    elif verb == "status":
        if not rest.strip():
            raise HubError("Which one? /usecase status 12")
        show_status(session, services.parse_id(rest))
    elif verb == "stage":
        ident, _, stage_text = rest.strip().partition(" ")
        target = parse_stage(stage_text)
        if not ident or target is None:
            stages = ", ".join(s.value.replace("_", " ") for s in Stage)
            raise HubError(f"Usage: /usecase stage 12 experimentation. Stages: {stages}.")
        uc = core.run(services.move_stage, session.me(), services.parse_id(ident), target)
        session.reply(f"#{uc.id} {uc.title} is now in {label(uc.stage).lower()}.")
    else:
        submit(session, draft_from_text(text) if text.strip() else Draft())
