"""The rituals' words, decided once for every platform: retro prompts, lessons, showcase invitations and agendas."""

from __future__ import annotations

from intake.notices import (
    Break,
    Command,
    Digest,
    Mention,
    Message,
    Moment,
    Paragraph,
    Part,
    Parts,
    Plain,
    Quote,
    RetroPrompt,
    ShowcaseAgenda,
    ShowcaseInvitation,
    Strong,
    Tone,
    UseCaseRef,
)
from intake.read_models import Lesson

MET = {"met": "met its target", "partly": "partly met its target", "not_met": "missed its target"}
MET["too_early"] = "too early to tell"


def compose_retro_prompt(notice: RetroPrompt) -> Message:
    uc = notice.use_case
    summary: Parts = (Plain(f"Retro time for #{uc.id} "), Plain(uc.title))
    opening: Parts = (Plain("A reminder, once: "),) if notice.reminder else ()
    lead = Paragraph(
        (
            *opening,
            UseCaseRef(uc.id, uc.title),
            Plain(f": now that {notice.why}, would you run a short blameless retro? What worked, what didn't, "),
            Plain("what we'd do differently, and what the success metric showed."),
        ),
        tone=Tone.REMINDER,
    )
    rest: list[Paragraph] = []
    if uc.success_metric.strip():
        rest.append(Paragraph((Strong("Success metric set at intake:"), Plain(" " + uc.success_metric))))
    prompt = Paragraph(
        (
            Plain("It becomes a lesson others find through "),
            Command("/whoknows"),
            Plain(" and on its status. Write it with the button or "),
            Command(f"/usecase retro {uc.id}"),
            Plain("; a hub lead can waive it."),
        ),
        small=True,
    )
    return Message(summary, lead, tuple(rest), prompt=prompt)


def lesson_paragraphs(lesson: Lesson) -> list[Paragraph]:
    """A written retro as a status shows it."""
    head: list[Part] = [Strong("Retro"), Plain(" by "), Mention(lesson.by, "its owner"), Plain(" on ")]
    head += [Moment(lesson.at)]
    if lesson.metric_met:
        head += [Plain(f": the success metric {MET.get(lesson.metric_met, lesson.metric_met)}")]
    body: list[Part] = []
    for name, text in (
        ("What worked", lesson.worked),
        ("What didn't", lesson.didnt),
        ("What we'd do differently", lesson.differently),
        ("The success metric showed", lesson.metric_result),
    ):
        if text.strip():
            body += [Break(), Strong(name), Quote(text)]
    return [Paragraph((*head, *body), tone=Tone.GO)]


def lesson_line(lesson: Lesson) -> Parts:
    """One lesson in a digest: the use case, who wrote it, and how its metric did."""
    met = f" ({MET[lesson.metric_met]})" if lesson.metric_met in MET else ""
    return (UseCaseRef(lesson.use_case_id, lesson.title), Plain(" by "), Mention(lesson.by, "its owner"), Plain(met))


def compose_showcase_invitation(notice: ShowcaseInvitation) -> Message:
    what: Parts = (UseCaseRef(notice.use_case_id, notice.title or ""),) if notice.use_case_id else (Plain("your work"),)
    summary: Parts = (Plain("Would you present at the showcase on "), Moment(notice.at), Plain("?"))
    asked: Parts = (Mention(notice.nominated_by), Plain(" nominated you. ")) if notice.nominated_by else ()
    lead = Paragraph(
        (
            *asked,
            Plain("Would you present "),
            *what,
            Plain(" at the hub's showcase on "),
            Moment(notice.at),
            Plain("? Ten minutes on what you built, what worked and what you learned helps the next team."),
        ),
        tone=Tone.INBOX,
    )
    prompt = Paragraph(
        (
            Plain("Not you? Nominate a colleague: "),
            Command(f"/hub showcase nominate {notice.invite_id} @colleague"),
            Plain("."),
        ),
        small=True,
    )
    return Message(summary, lead, prompt=prompt)


def compose_showcase_agenda(notice: ShowcaseAgenda) -> Message:
    when: Parts = (Plain("today at "),) if notice.day_of else (Plain("on "),)
    summary: Parts = (Plain("Showcase "), *when, Moment(notice.at))
    lead = Paragraph(
        (Strong("Showcase " + ("today" if notice.day_of else "next week")), Plain(": "), Moment(notice.at))
    )
    if not notice.presenters:
        body = Paragraph(
            (
                Plain("Nobody has said yes yet: a hub lead can invite presenters with "),
                Command("/hub showcase invite @person"),
                Plain("."),
            )
        )
        return Message(summary, lead, (body,))
    lines: list[Part] = [Strong("Agenda")]
    for i, p in enumerate(notice.presenters, 1):
        lines += [Break(), Plain(f"{i}. "), Mention(p.person)]
        if p.use_case_id:
            lines += [Plain(": "), UseCaseRef(p.use_case_id, p.title or "")]
        if p.department:
            lines += [Plain(f" ({p.department})")]
    return Message(summary, lead, (Paragraph(tuple(lines)),))


def _list(title: str, lines: list[Parts], more: int = 0) -> Paragraph:
    parts: list[Part] = [Strong(title)]
    for line in lines:
        parts += [Break(), Plain("• "), *line]
    if more:
        parts += [Break(), Plain(f"… and {more} more")]
    return Paragraph(tuple(parts))


SHOWN = 8  # lines of a digest's list; the rest are counted, and the Home tab has them all


def digest_news(notice: Digest) -> list[Paragraph]:
    """What a digest adds to the portfolio: what shipped and who to thank, new lessons, upcoming showcases."""
    out: list[Paragraph] = []
    if notice.shipped:
        lines: list[Parts] = [
            (UseCaseRef(s.use_case_id, s.title), Plain(f" ({s.department}): thanks, "), Mention(s.owner, "its team"))
            for s in notice.shipped[:SHOWN]
        ]
        out.append(_list("Shipped", lines, len(notice.shipped) - len(lines)))
    if notice.lessons:
        lessons = [lesson_line(lesson) for lesson in notice.lessons[:SHOWN]]
        out.append(_list("New lessons from retros", lessons, len(notice.lessons) - len(lessons)))
    for showcase in notice.showcases[:2]:
        names: list[Part] = []
        for i, p in enumerate(showcase.presenters):
            names += [Plain(", ") if i else Plain(": "), Mention(p.person)]
            if p.title:
                names += [Plain(f" on {p.title}")]
        if not names:
            names = [Plain(": presenters are being invited")]
        out.append(Paragraph((Strong("Upcoming showcase"), Plain(" "), Moment(showcase.at), *names)))
    if notice.quiet:
        out.insert(0, Paragraph((Plain("Quiet since the last digest; where the portfolio stands:"),), small=True))
    return out
