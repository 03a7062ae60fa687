"""The answer to each request of the command language, carried out once and worded once.

`answer` calls the service a request means and returns either `Said` (lines of the neutral parts
notices are worded in, intake.notices, which each surface formats its own way) or, where a surface draws
something richer than text, the data to draw: a form to open, a list of use cases, one use case,
the people who know a topic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.conversation import grammar as g
from bot.core import Core
from bot.expertise import skills
from bot.expertise.ask import ask_who_knows
from bot.expertise.models import ExpertResult
from intake import (
    calendar,
    closing,
    drafting,
    duplicates,
    editing,
    guidelines,
    holidays_admin,
    hub,
    portfolio_views,
    queries,
    stages,
)
from intake.actions import Action
from intake.editing import EditTarget
from intake.errors import HubError
from intake.forms import Draft, ReasonForm, close_form, draft_from_text, reopen_form
from intake.lifecycle import ENDED
from intake.notices import Command, Mention, Message, Notice, Part, Parts, Plain, Strong, UseCaseRef, compose, plain
from intake.portfolio_words import compose_portfolio
from intake.read_models import Actor, PersonView, Relation, UseCaseView
from intake.retros import RetroForm
from intake.schema import Stage as UseCaseStage
from intake.schema import Status as UseCaseStatus
from intake.schema import label
from intake.similar import SimilarUseCase


def who(person: Any) -> Mention:
    """A person (anything with an id or person_id, name and handles) as a mention part."""
    pid: int = getattr(person, "id", None) or getattr(person, "person_id", None) or 0
    return Mention(PersonView(id=pid, name=person.name, handles=dict(getattr(person, "handles", {}) or {})))


Line = Parts


@dataclass(frozen=True)
class Said:
    """Neutral text: the first line is the headline (what a notification shows)."""

    lines: tuple[Line, ...]
    ok: bool = True  # False: the person's request was not carried out

    def plain(self) -> str:
        return "\n".join(plain(line) for line in self.lines)


@dataclass(frozen=True)
class Form:
    """Open the intake form; with `edit`, pre-filled to edit that use case."""

    draft: Draft
    edit: EditTarget | None = None


@dataclass(frozen=True)
class AskReason:
    """Ask why (and, where the form says so, to confirm) before carrying out `action` on a use case."""

    action: Action
    use_case_id: int
    form: ReasonForm


@dataclass(frozen=True)
class UseCaseList:
    title: str
    items: list[UseCaseView]
    empty: Said


@dataclass(frozen=True)
class Status:
    use_case: UseCaseView


@dataclass(frozen=True)
class PortfolioAnswer:
    """The portfolio in words; its chart follows in the asker's DM (`chart_sent`)."""

    message: Message
    chart_sent: bool


@dataclass(frozen=True)
class DraftLater:
    """A description long enough to draft the form from: the LLM drafts it after the answer, and the form comes
    to the writer to check (the console, with no deadline to answer by, drafts it at once)."""

    text: str


@dataclass(frozen=True)
class ExpertsLater:
    """ "Who knows X" to be answered by meaning as well as words: the question is embedded after the answer (a
    surface with a deadline records it as durable work and says it is looking; the console answers at once)."""

    topic: str
    offset: int = 0


@dataclass(frozen=True)
class AskRetro:
    """Open the retro form of a use case (every surface draws `form.fields`)."""

    form: RetroForm


Answer = (
    Said
    | Form
    | AskReason
    | UseCaseList
    | Status
    | ExpertResult
    | PortfolioAnswer
    | AskRetro
    | DraftLater
    | ExpertsLater
)
LOOKING = "Looking for people who know about that… the answer follows here in a moment."


def _said(*lines: tuple[Part | str, ...]) -> Said:
    """Lines of parts; bare strings are plain words."""
    return Said(tuple(tuple(Plain(p) if isinstance(p, str) else p for p in line) for line in lines))


said = _said


def helps(command: str) -> Said:
    """The help of one command, from the grammar's table."""
    intro, usages = g.HELP[command]
    return _said((Strong(intro),), *(("• ", Command(u.example), f": {u.does}") for u in usages))


def answer(core: Core, actor: Actor, request: g.Request) -> Answer:
    """Carry out one request as `actor` and say how it went."""
    match request:
        case g.Help(command):
            return helps(command)
        case g.OpenForm(text):
            if text and core.llm is not None and core.llm.enabled and drafting.wants_drafting(text):
                return DraftLater(text)
            return Form(draft_from_text(text) if text else Draft())
        case g.ListMine():
            mine = core.read(queries.my_use_cases, actor)
            return UseCaseList("Your use cases", mine, _said(("None yet: ", Command("/usecase"), " to submit one.")))
        case g.ShowStatus(use_case_id):
            return Status(core.read(queries.get_use_case, use_case_id))
        case g.MoveStage(use_case_id, stage):
            uc = core.run(stages.move_stage, actor, use_case_id, stage)
            return _said((f"#{uc.id} ", uc.title, " is now in ", Strong(label(uc.stage).lower()), "."))
        case g.EditUseCase(use_case_id):
            target = core.read(editing.use_case_for_edit, actor, use_case_id)
            return Form(Draft.of_answers(target.use_case.answers()), edit=target)
        case g.CloseUseCase(use_case_id, reason):
            return ask_reason(core, actor, Action.CLOSE, use_case_id, reason)
        case g.ReopenUseCase(use_case_id, reason):
            return ask_reason(core, actor, Action.REOPEN, use_case_id, reason)
        case g.WithdrawUseCase(use_case_id, reason):
            return carry_out(core, actor, Action.WITHDRAW, use_case_id, reason)
        case g.SearchUseCases(text):
            return _matches(text, core.read(portfolio_views.search_use_cases, text))
        case g.ShowPortfolio(filt):
            hub_view = core.run(portfolio_views.show_portfolio, actor, filt, chart=bool(actor.person_id))
            return PortfolioAnswer(compose_portfolio(hub_view), chart_sent=bool(actor.person_id))
        case g.ScheduleRequest():
            return schedule_answer(core, actor, request)
        case g.HolidayRequest() | g.ShowHours() | g.SetHours():
            return calendar_answer(core, actor, request)
        case g.ExportHub():
            core.run(portfolio_views.request_export, actor)
            return _said(("The use cases and the audit trail are on their way to your DM, as CSV files.",))
        case g.AddReviewer(person, wanted):
            view = core.run(hub.add_reviewer, actor, person, skills=list(wanted))
            shown = ", ".join(view.skills) or "no skills yet"
            return _said((who(view), f" is a hub reviewer ({shown})."))
        case g.RemoveReviewer(person):
            removed, still_open = core.run(hub.remove_reviewer, actor, person)
            tail = f" They still hold {still_open} open review(s): reassign them from the cards." if still_open else ""
            return _said((who(removed), f" is no longer a hub reviewer.{tail}"))
        case g.ListReviewers():
            return _reviewers(core)
        case g.ChangeLead(True, person):
            new_lead = core.run(hub.add_lead, actor, person)
            return _said((who(new_lead), " is a hub lead: they may set the hub up, decide and reassign."))
        case g.ChangeLead(False, person):
            removed_lead = core.run(hub.remove_lead, actor, person, configured=core.settings.hub_leads)
            return _said((who(removed_lead), " is no longer a hub lead."))
        case g.ListLeads():
            leads = core.read(hub.list_leads)
            if not leads:
                return _said(("The hub has no lead yet. Set HUB_LEADS, or ", Command("hubspoke hub lead add ID"), "."))
            return _said((Strong("Hub leads"),), *(("• ", who(p)) for p in leads))
        case g.ChangeSkills(add, listed, person):
            return _change_skills(core, actor, add, list(listed), person)
        case g.ListSkills(person):
            declared = core.read(skills.list_skills, actor, target=person)
            if declared.skills:
                return _said((Strong("Skills of "), who(declared), ": ", ", ".join(declared.skills)))
            hint = Command("/hub skills add forecasting, nlp")
            return _said((Strong("Skills of "), who(declared), ": none yet: ", hint))
        case g.AddDepartment(name):
            added = core.run(hub.add_department, actor, name)
            return _said(("Department ", Strong(added), " added."))
        case g.ListDepartments():
            departments = core.read(hub.list_departments)
            if not departments:
                return _said((Strong("Departments"),), ("None yet: ", Command("/hub department add NAME"), "."))
            return _said((Strong("Departments"),), *((f"• {n}",) for n in departments))
        case g.SetAway(away, person):
            marked = core.run(hub.set_away, actor, person, away)
            status = "away: new reviews skip them" if marked.away else "back: reviews route to them again"
            return _said((who(marked), f" is {status}."))
        case g.ShowGuidelines():
            return _guidelines(core)
        case g.SetGuideline(key, value):
            core.run(guidelines.set_guideline, actor, key, value)
            return _guidelines(core)
        case g.WriteRetro() | g.WaiveRetro() | g.ShowcaseRequest() | g.SetDepartmentChannel():
            from bot.conversation.ritual_answers import ritual_answer  # it builds on this module's answers

            return ritual_answer(core, actor, request)
        case g.WhoKnows(topic, offset):
            index = core.expertise
            if not index.semantic:
                return core.run(ask_who_knows, index, actor, topic, offset=offset)
            if (u := index.cached_understanding(topic)) is not None:  # asked lately: no call to make
                return core.run(
                    ask_who_knows, index, actor, topic, offset=offset, vector=u.vector, expansion=u.expansion
                )
            if not topic.strip():
                raise HubError("Say what you need someone to know about, e.g. `who knows forecasting`.")
            return ExpertsLater(topic, offset)
    raise HubError("I did not understand that. Try /usecase help or /hub help.")


def who_knows_now(core: Core, actor: Actor, topic: str, offset: int = 0) -> ExpertResult:
    """Answer "who knows X" at once, its question embedded and read by the model first (outside any transaction)
    when there is an endpoint: for surfaces with no deadline to answer by, and for the durable task of the others."""
    u = core.expertise.understand(topic)
    return core.run(ask_who_knows, core.expertise, actor, topic, offset=offset, vector=u.vector, expansion=u.expansion)


def ask_reason(core: Core, actor: Actor, action: Action, use_case_id: int, reason: str = "") -> AskReason:
    """The reason form for closing or reopening, once `actor` may do it (a refusal comes before any typing)."""
    if action is Action.CLOSE:
        uc = core.read(closing.check_close, actor, use_case_id)
        waiting = uc.review is not None and uc.review.decision is None and uc.status is UseCaseStatus.IN_REVIEW
        return AskReason(action, uc.id, close_form(uc.id, uc.title, ends_review=waiting, initial=reason))
    uc = core.read(closing.check_reopen, actor, use_case_id)
    again = uc.status in ENDED
    return AskReason(action, uc.id, reopen_form(uc.id, uc.title, back_to_review=again, initial=reason))


def carry_out(core: Core, actor: Actor, action: Action, use_case_id: int, reason: str | None) -> Said:
    """Close, reopen or withdraw a use case, and say what came of it."""
    if action is Action.CLOSE:
        uc = core.run(closing.close_use_case, actor, use_case_id, reason)
        ended = " Its reviewer was told." if uc.status is UseCaseStatus.WITHDRAWN else ""
        return _said((f"#{uc.id} ", uc.title, " was ", Strong("closed"), f".{ended} A hub lead can reopen it."))
    if action is Action.REOPEN:
        uc = core.run(closing.reopen_use_case, actor, use_case_id, reason)
        where: tuple[Part | str, ...] = (f"#{uc.id} ", uc.title, " was ", Strong("reopened"), ": back in ")
        where += (label(uc.stage).lower(),)
        if uc.review is not None and uc.review.decision is None:
            where += (", and in hub review with ", who(uc.reviewer)) if uc.reviewer else (", and in hub review",)
        return _said((*where, "."))
    if action is Action.WITHDRAW:
        uc = core.run(closing.withdraw_use_case, actor, use_case_id, reason)
        told: tuple[Part | str, ...] = (" ", who(uc.reviewer), " was told.") if uc.reviewer else ()
        return _said((f"#{uc.id} ", uc.title, " was ", Strong("withdrawn"), ".", *told, " A hub lead can reopen it."))
    raise HubError(f"{action.value} is not something that asks why.")


def _matches(text: str, rows: list[SimilarUseCase]) -> Said:
    """`/usecase search`: the use cases like the text, in every department, with who to talk to."""
    asked = text if len(text) <= 60 else text[:59] + "…"
    if not rows:
        return _said(("No use case in the hub is like ", Strong(asked), " yet."))
    lines: list[tuple[Part | str, ...]] = [("Use cases like ", Strong(asked), ":")]
    for row in rows:
        state = f"{label(UseCaseStage(row.stage)).lower()}, {label(UseCaseStatus(row.status)).lower()}"
        lines.append(
            ("• ", UseCaseRef(row.id, row.title), f" · {row.department} · {state} · {row.owner_name} · {row.score:.0%}")
        )
    return _said(*lines)


def schedule_answer(core: Core, actor: Actor, request: g.ScheduleRequest) -> Said:
    """Manage the hub's schedules, and say where each stands (next run in the asker's time zone, last outcome)."""
    from bot.rituals import schedules  # rituals need the core; the grammar does not

    zone = core.zone_of(actor.tz)
    now = core.now()

    def line(s: Any) -> tuple[Part | str, ...]:
        upcoming = schedules.next_run(s, now)
        when = f"next {upcoming.astimezone(zone):%a %d %b %H:%M %Z}" if upcoming and not s.paused else "paused"
        last = f"; last: {s.last_outcome}" if s.last_outcome else "; not run yet"
        where = s.channel or "the hub channel"
        skips = f", skipping {s.holidays} holidays" if s.holidays else ""
        return ("• ", Strong(s.name), f": {s.rule} ({s.tz}{skips}) to {where}, {when}{last}")

    if request.verb == "list":
        found = core.read(schedules.list_schedules)
        if not found:
            return _said(
                ("No schedules yet. A lead adds one: ", Command("/hub schedule add digest weekly monday 09:00"))
            )
        return _said(("The hub's schedules:",), *(line(s) for s in found))
    if request.verb == "add":
        tz = request.tz or core.settings.hub_timezone
        added = core.run(
            schedules.add_schedule, actor, request.name, request.rule, request.channel, tz, holidays=request.holidays
        )
        return _said(("Scheduled ", *line(added)[1:]))
    if request.verb in ("pause", "resume"):
        changed = core.run(schedules.set_paused, actor, request.name, request.verb == "pause")
        return _said(line(changed))
    if request.verb == "remove":
        removed = core.run(schedules.remove_schedule, actor, request.name)
        return _said((f"Removed the {removed} schedule.",))
    schedule = core.read(schedules.find_schedule, request.name)  # preview: what would be sent now, privately
    notice = preview_notice(core, schedule, now)
    if notice is None:
        return _said(("Nothing to send yet: the hub has no use cases, or no showcase is coming up.",))
    message = compose(notice)
    lines: list[tuple[Part | str, ...]] = [tuple(message.lead.parts)] if message.lead else []
    lines += [tuple(p.parts) for p in message.rest]
    return _said(*lines)


def calendar_answer(core: Core, actor: Actor, request: g.HolidayRequest | g.ShowHours | g.SetHours) -> Said:
    """The hub's holidays (`/hub holiday`), and when a person works (`/hub hours`)."""
    hub_now = core.read(calendar.hub_defaults, core.settings)
    if isinstance(request, g.ShowHours | g.SetHours):
        if isinstance(request, g.SetHours):
            view = core.run(
                holidays_admin.set_hours, actor, request.person, request.hours, request.holidays, hub=hub_now
            )
        else:
            view = core.run(holidays_admin.show_hours, actor, request.person, hub=hub_now)
        hub_s = " (the hub's)"
        keeps = f"{view.holidays} public holidays" if view.holidays else "no public holidays"
        mine = view.person.id == actor.person_id
        lines: list[tuple[Part | str, ...]] = [
            (
                *(("You work ",) if mine else (who(view.person), " works ")),
                Strong(view.hours),
                f"{'' if view.own_hours else hub_s} Monday to Friday, {view.tz}{'' if view.own_tz else hub_s}, ",
                f"keeping {keeps}{'' if view.own_holidays else hub_s}. ",
                f"Messages to {'you' if mine else 'them'} arrive in those hours.",
            )
        ]
        if view.next_holiday is not None:
            lines.append((f"Next holiday: {view.next_holiday.date:%a %d %b %Y}, {view.next_holiday.name}.",))
        if not (view.own_hours and view.own_holidays):
            lines.append(("Change with ", Command("/hub hours 08:00-16:00 holidays US-CA"), "."))
        return _said(*lines)
    if request.verb == "add" and request.day is not None:
        added = core.run(holidays_admin.add_holiday, actor, request.day, request.name)
        when = Strong(f"{added.date:%a %d %b %Y}")
        return _said(
            ("Hub holiday added: ", when, f", {added.name}. Schedules skip it; review reminders do not count it.")
        )
    if request.verb == "remove" and request.day is not None:
        removed = core.run(holidays_admin.remove_holiday, actor, request.day)
        return _said((f"Removed the hub holiday on {removed.date:%a %d %b %Y} ({removed.name}).",))
    today = core.now().astimezone(hub_now.zone).date()
    found = core.read(holidays_admin.list_holidays, hub_now.calendar, today)
    code = hub_now.calendar.holidays
    public = (
        f"and {code} public holidays in the next 90 days" if code else "(no public ones: HUB_HOLIDAYS, e.g. GB-ENG)"
    )
    head = (Strong("Holidays ahead"), f": the hub's own {public}")
    if not found:
        return _said(head, ("None. A lead adds a day with ", Command("/hub holiday add 2026-12-24 Office closed"), "."))
    tag = {holidays_admin.HUB: " (the hub's)", holidays_admin.PUBLIC: ""}
    return _said(head, *((f"• {h.date:%a %d %b %Y}: {h.name}{tag[h.source]}",) for h in found))


def preview_notice(core: Core, schedule: Any, now: dt.datetime) -> Notice | None:
    """What a schedule would send now: the digest (a department's: the first with a channel), or the agenda."""
    from bot.rituals import digest, showcase_job

    if schedule.job == "showcase":
        return core.read(showcase_job.preview, schedule, now=now)
    since = now - dt.timedelta(days=7)
    department = None
    if schedule.job == "department-digest":
        channels = core.read(hub.department_channels)
        department = channels[0][0] if channels else None
    title = "Preview: " + (f"{department} digest" if department else schedule.name)
    return core.read(digest.digest_notice, since=since, now=now, title=title, department=department)


DRAFTING = "Reading what you wrote to fill in the form: it comes to you in a moment to check and submit."


def draft_now(core: Core, actor: Actor, text: str) -> tuple[Draft, list[str], bool]:
    """The form drafted from `text` now (the console, or the durable task): the model's, or today's pre-fill."""
    from bot.llm import load_prompt

    departments = core.read(hub.list_departments)
    answer = None
    if core.llm is not None and core.llm.enabled:
        values = {"text": text[: drafting.MAX_TEXT], "departments": ", ".join(departments) or "(none yet)"}
        answer = core.llm.structured(load_prompt("intake_draft"), values, drafting.DraftAnswer)
    draft, questions = drafting.draft_of(answer, text, departments)
    return draft, questions, answer is not None


RELATIONS = {Action.SAME_AS: Relation.SAME, Action.RELATED: Relation.RELATED, Action.DIFFERENT: Relation.DIFFERENT}


def answer_duplicate(
    core: Core, actor: Actor, action: Action, use_case_id: int, other_id: int, reason: str | None = None
) -> Said:
    """Record what the submitter says of a likely duplicate, and say what came of it."""
    d = core.run(duplicates.answer_duplicate, actor, use_case_id, other_id, RELATIONS[action], reason)
    ref = UseCaseRef(d.id, d.title)
    if d.relation is Relation.SAME:
        told: tuple[Part | str, ...] = (" ", who(d.owner), " was told, so you can talk.") if d.owner else ()
        return _said(("Noted: #", str(use_case_id), " is the same as ", ref, f" ({d.department}).", *told))
    if d.relation is Relation.RELATED:
        return _said(("Noted: ", ref, f" ({d.department}) is related to #{use_case_id}. The reviewer sees it."))
    return _said(("Noted: ", ref, f" is different from #{use_case_id}. The reviewer reads why."))


def _reviewers(core: Core) -> Said:
    people = core.read(hub.list_reviewers)
    if not people:
        return _said(
            ("No reviewers yet. A lead adds them with ", Command("/hub reviewer add @person skill, skill"), ".")
        )
    lines: list[tuple[Part | str, ...]] = [(Strong("Hub reviewers"),)]
    for p in people:
        facts = f": {', '.join(p.skills) or 'no skills'} · {p.open_reviews} open" + (" · away" if p.away else "")
        lines.append(("• ", who(p), facts))
    return _said(*lines)


def _change_skills(core: Core, actor: Actor, add: bool, names: list[str], person: Any) -> Said:
    if add:
        view = core.run(skills.add_skills, actor, names, target=person)
        return _said((who(view), " now lists: ", ", ".join(view.skills), "."))
    view = core.run(skills.remove_skills, actor, names, target=person)
    left = ", ".join(view.skills) or "no skills"
    return _said((f"Removed {', '.join(view.removed)}. ", who(view), f" now lists: {left}."))


def _guidelines(core: Core) -> Said:
    rules = core.read(guidelines.get_guidelines)
    return _said(
        (Strong("Self-serve guidelines"), " (low-risk use cases meeting these go ahead without review)"),
        ("• ", Command("self_serve"), f": {'on' if rules.self_serve else 'off'}"),
        ("• ", Command("self_serve_sensitivity"), ": " + ", ".join(s.value for s in rules.self_serve_sensitivity)),
        (
            "• ",
            Command("self_serve_requires_available_data"),
            f": {'on' if rules.self_serve_requires_available_data else 'off'}",
        ),
        (
            "• ",
            Command("any_reviewer_decides"),
            f": {'on' if rules.any_reviewer_decides else 'off'} (off: the assigned reviewer or a lead decides)",
        ),
        (
            "• ",
            Command("wip_limit"),
            f": {rules.wip_limit or 'none'} (use cases in active stages the hub takes on at once; 0: no limit)",
        ),
        (
            "• ",
            Command("innovation_band"),
            f": {rules.innovation_band[0]}-{rules.innovation_band[1]}% (target share still experimental)",
        ),
        ("Change with ", Command("/hub guidelines set KEY VALUE"), "."),
    )
