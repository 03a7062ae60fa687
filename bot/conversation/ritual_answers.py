"""Answers for the rituals' requests and clicks: retros, showcases, department channels. Worded once, as neutral
parts every surface renders; the services in intake.retros and intake.showcases decide."""

from __future__ import annotations

from typing import Any

from bot.conversation import grammar as g
from bot.conversation.answers import AskRetro, Said, said, who
from bot.core import Core
from intake import hub, retros, showcases
from intake.notices import Command, Moment, Part, Strong, UseCaseRef
from intake.people import PersonRef
from intake.read_models import Actor

ANSWERED = {showcases.YES: "yes", showcases.NO: "not this time", showcases.NOMINATED: "nominated"}


def ritual_answer(core: Core, actor: Actor, request: Any) -> AskRetro | Said:
    """Carry out one of the rituals' requests."""
    match request:
        case g.WriteRetro(use_case_id):
            return AskRetro(core.read(retros.open_retro, actor, use_case_id))
        case g.WaiveRetro(use_case_id, reason):
            uc = core.run(retros.waive_retro, actor, use_case_id, reason)
            return said(
                ("No retro needed for ", UseCaseRef(uc.id, uc.title), ": waived, and its owner is not asked again.")
            )
        case g.SetDepartmentChannel(name, channel):
            found = core.run(hub.set_department_channel, actor, name, channel)
            if not channel:
                return said((Strong(found), "'s digest goes nowhere now."))
            return said(
                (
                    Strong(found),
                    f"'s own digest goes to {channel} when a ",
                    Command("department-digest"),
                    " schedule runs (",
                    Command("/hub schedule add department-digest weekly monday 09:00"),
                    ").",
                ),
            )
        case g.ShowcaseRequest(verb="invite", person=person, use_case_id=use_case_id):
            assert person is not None
            view = core.run(showcases.lead_invite, actor, person, use_case_id)
            return said(("Invited them to the showcase on ", Moment(view.at), "; they answer from the invitation."))
        case g.ShowcaseRequest(verb="nominate", person=person, invite_id=invite_id):
            assert person is not None and invite_id is not None
            return nominate(core, actor, invite_id, person)
        case _:
            return showcase_status(core)


def showcase_status(core: Core) -> Said:
    """The next showcase, and everyone's answer to their invitation."""
    view = core.read(showcases.showcase_status, now=core.now())
    if view is None:
        return said(
            (
                "No showcase is coming up. A lead schedules them: ",
                Command("/hub schedule add showcase monthly first thursday 15:00 #ai-hub"),
                ".",
            ),
        )
    lines: list[tuple[Part | str, ...]] = [
        (Strong("Next showcase"), " ", Moment(view.at), f", in {view.channel or 'the hub channel'}")
    ]
    if not view.invites:
        lines.append(
            ("Nobody invited yet: invitations go out two weeks ahead. ", Command("/hub showcase invite @person"))
        )
    for invite in view.invites:
        what: tuple[Part | str, ...] = (
            (" on ", UseCaseRef(invite.use_case_id, invite.title or "")) if invite.use_case_id else ()
        )
        answer = ANSWERED.get(invite.answer or "", "no answer yet")
        nominee = (" → ", who(invite.nominee)) if invite.nominee else ()
        lines.append(("• ", who(invite.person), *what, f": {answer}", *nominee))
    lines.append((f"{len(view.presenters)} presenting so far.",))
    return said(*lines)


def answer_invitation(core: Core, actor: Actor, invite_id: int, yes: bool) -> Said:
    """Yes or Not this time, from the invitation."""
    view = core.run(showcases.answer_invitation, actor, invite_id, yes)
    if yes:
        return said(("Thank you: you are on the agenda for the showcase on ", Moment(view.at), "."))
    return said(("Noted: not this time. You may be asked again for a later showcase.",))


def nominate(core: Core, actor: Actor, invite_id: int, colleague: PersonRef) -> Said:
    """Hand the invitation to a colleague, who is asked in your place."""
    view, nominee = core.run(showcases.nominate, actor, invite_id, colleague)
    return said(("Thanks: ", who(nominee), " is invited to present at the showcase on ", Moment(view.at), " instead."))


def save_retro(core: Core, actor: Actor, use_case_id: int, answers: retros.RetroAnswers) -> Said:
    """Store a written retro as a lesson, and say where it can be found."""
    lesson = core.run(retros.save_retro, actor, use_case_id, answers)
    return said(
        ("Thank you: the retro on ", UseCaseRef(lesson.use_case_id, lesson.title), " is saved as a lesson."),
        (
            "It shows on ",
            Command(f"/usecase status {lesson.use_case_id}"),
            " and helps ",
            Command("/whoknows"),
            " find the people behind it.",
        ),
    )
