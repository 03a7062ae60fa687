"""The command language every surface speaks: `/usecase`, `/hub`, `/whoknows`, parsed once into typed requests.

An adapter supplies only how a person is referred to on its platform (a `MentionSyntax`: `<@U123>`
in Slack, `@rita` in the console); the words, the requests they mean, their usage lines and help
come from here, so a command added once exists on every surface with its help.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.expertise.skills import parse_skills
from intake.errors import HubError
from intake.people import PersonRef
from intake.portfolio import PortfolioFilter
from intake.queries import parse_id
from intake.schema import RiskTier, Stage, label, parse_stage

USECASE = "/usecase"
HUB = "/hub"
WHOKNOWS = "/whoknows"


@dataclass(frozen=True)
class MentionSyntax:
    """How one platform writes a person into a command: the pattern, and the person a match names."""

    pattern: re.Pattern[str]
    ref: Callable[[re.Match[str]], PersonRef]

    def first(self, text: str) -> tuple[PersonRef | None, str]:
        """The first person mentioned in `text`, and the text with that mention taken out."""
        match = self.pattern.search(text)
        if match is None:
            return None, text
        return self.ref(match), (text[: match.start()] + " " + text[match.end() :]).strip()


# What each request means. Requests carry people as PersonRefs; the services resolve them.


@dataclass(frozen=True)
class Help:
    command: str


@dataclass(frozen=True)
class OpenForm:
    """Open the intake form, pre-filled from `text` when there is any."""

    text: str = ""


@dataclass(frozen=True)
class ListMine:
    pass


@dataclass(frozen=True)
class ShowStatus:
    use_case_id: int


@dataclass(frozen=True)
class MoveStage:
    use_case_id: int
    stage: Stage


@dataclass(frozen=True)
class EditUseCase:
    """Open the intake form pre-filled with the use case, to edit it."""

    use_case_id: int


@dataclass(frozen=True)
class CloseUseCase:
    """Close a use case; `reason` pre-fills the reason it is asked for."""

    use_case_id: int
    reason: str = ""


@dataclass(frozen=True)
class ReopenUseCase:
    use_case_id: int
    reason: str = ""


@dataclass(frozen=True)
class WithdrawUseCase:
    """Take one's own submission out of review."""

    use_case_id: int
    reason: str = ""


@dataclass(frozen=True)
class SearchUseCases:
    """Find use cases across the hub like a text (every department's)."""

    text: str


@dataclass(frozen=True)
class ShowPortfolio:
    """The hub's portfolio, narrowed by department, stage, risk tier or waiting reviews."""

    filter: PortfolioFilter


@dataclass(frozen=True)
class ScheduleRequest:
    """`/hub schedule list|add|pause|resume|remove|preview`: `args` are the rest of the words."""

    verb: str
    name: str = ""
    rule: str = ""
    channel: str = ""
    tz: str = ""
    holidays: str = ""


@dataclass(frozen=True)
class HolidayRequest:
    """`/hub holiday add DATE NAME | remove DATE | list`: the hub's own holidays, beside the public ones."""

    verb: str
    day: dt.date | None = None
    name: str = ""


@dataclass(frozen=True)
class ShowHours:
    """When a person works (`person` None: the one asking)."""

    person: PersonRef | None = None


@dataclass(frozen=True)
class SetHours:
    """Set working hours ("08:00-16:00") and/or whose public holidays a person keeps; None leaves one as it is."""

    hours: str | None
    holidays: str | None = None
    person: PersonRef | None = None


@dataclass(frozen=True)
class ExportHub:
    """Send the lead the use cases and the audit trail as files."""


@dataclass(frozen=True)
class AddReviewer:
    person: PersonRef
    skills: tuple[str, ...]


@dataclass(frozen=True)
class RemoveReviewer:
    person: PersonRef


@dataclass(frozen=True)
class ListReviewers:
    pass


@dataclass(frozen=True)
class ChangeLead:
    """Make someone a hub lead, or take it away."""

    add: bool
    person: PersonRef


@dataclass(frozen=True)
class ListLeads:
    pass


@dataclass(frozen=True)
class ChangeSkills:
    """Add or remove declared skills; `person` None is the one asking."""

    add: bool
    skills: tuple[str, ...]
    person: PersonRef | None = None


@dataclass(frozen=True)
class ListSkills:
    person: PersonRef | None = None


@dataclass(frozen=True)
class AddDepartment:
    name: str


@dataclass(frozen=True)
class ListDepartments:
    pass


@dataclass(frozen=True)
class SetAway:
    away: bool
    person: PersonRef | None = None


@dataclass(frozen=True)
class ShowGuidelines:
    pass


@dataclass(frozen=True)
class SetGuideline:
    key: str
    value: str


@dataclass(frozen=True)
class WhoKnows:
    topic: str
    offset: int = 0


@dataclass(frozen=True)
class WriteRetro:
    """Open the retro form of a use case (its owner, or a lead)."""

    use_case_id: int


@dataclass(frozen=True)
class WaiveRetro:
    """A lead says a use case needs no retro."""

    use_case_id: int
    reason: str = ""


@dataclass(frozen=True)
class ShowcaseRequest:
    """`/hub showcase` (the next one and its answers), `invite @person [12]`, `nominate INVITE @person`."""

    verb: str
    person: PersonRef | None = None
    invite_id: int | None = None
    use_case_id: int | None = None


@dataclass(frozen=True)
class SetDepartmentChannel:
    """Where a department's own digest goes (`off`: nowhere)."""

    name: str
    channel: str


Request = (
    Help
    | OpenForm
    | ListMine
    | ShowStatus
    | MoveStage
    | EditUseCase
    | CloseUseCase
    | ReopenUseCase
    | WithdrawUseCase
    | SearchUseCases
    | ShowPortfolio
    | ExportHub
    | ScheduleRequest
    | HolidayRequest
    | ShowHours
    | SetHours
    | AddReviewer
    | RemoveReviewer
    | ListReviewers
    | ChangeLead
    | ListLeads
    | ChangeSkills
    | ListSkills
    | AddDepartment
    | ListDepartments
    | SetAway
    | ShowGuidelines
    | SetGuideline
    | WhoKnows
    | WriteRetro
    | WaiveRetro
    | ShowcaseRequest
    | SetDepartmentChannel
)


@dataclass(frozen=True)
class Usage:
    """One line of help: what to type (with `@person` where a mention goes) and what it does."""

    example: str
    does: str


STAGES = " → ".join(label(s).lower() for s in Stage if s is not Stage.CLOSED)

HELP: dict[str, tuple[str, tuple[Usage, ...]]] = {
    USECASE: (
        "/usecase opens the intake form. Other uses:",
        (
            Usage("/usecase <what you want to do>", "the form, pre-filled from your words"),
            Usage("/usecase list", "your use cases"),
            Usage("/usecase status 12", "everything about #12"),
            Usage("/usecase stage 12 experimentation", f"move #12 along {STAGES}"),
            Usage("/usecase edit 12", "change #12's answers (its owner, or a lead)"),
            Usage("/usecase close 12", "close #12, saying why (its owner, or a lead)"),
            Usage("/usecase withdraw 12", "take your #12 out of review"),
            Usage("/usecase reopen 12", "bring a closed or rejected #12 back (leads)"),
            Usage("/usecase search invoice forecasting", "use cases like it, in every department"),
            Usage("/usecase retro 12", "write #12's blameless retro (its owner; leads: retro 12 waive why)"),
        ),
    ),
    HUB: (
        "/hub sets up the hub (leads only, except where noted):",
        (
            Usage("/hub reviewer add @person skill, skill", "make them a hub reviewer"),
            Usage("/hub reviewer remove @person", "take them off the rota"),
            Usage("/hub reviewer list", "reviewers, their skills and open reviews (anyone)"),
            Usage("/hub lead add @person", "make them a hub lead (they may set the hub up)"),
            Usage("/hub lead remove @person", "take the lead role away (never the last lead's)"),
            Usage("/hub lead list", "the hub's leads (anyone)"),
            Usage("/hub skills add forecasting, nlp", "declare your skills (leads add @person for others)"),
            Usage("/hub skills remove nlp", "take a skill off (leads: @person too)"),
            Usage("/hub skills list [@person]", "declared skills (anyone)"),
            Usage("/hub department add Finance", "a department spokes submit from"),
            Usage("/hub department list", "the departments (anyone)"),
            Usage("/hub department channel Finance #fin-ai", "where Finance's own digest goes (off: nowhere)"),
            Usage("/hub away on|off [@person]", "reviews skip you while away (leads: anyone)"),
            Usage("/hub guidelines", "what may go ahead self-serve (anyone)"),
            Usage("/hub guidelines set KEY VALUE", "change a guideline"),
            Usage("/hub portfolio [department X] [stage S] [risk R] [waiting]", "the portfolio, with a chart (anyone)"),
            Usage("/hub export", "the use cases and the audit trail, as CSV files in your DM"),
            Usage("/hub schedule add digest weekly monday 09:00 #ai-hub", "post the portfolio digest on a schedule"),
            Usage("/hub schedule list | pause NAME | resume NAME | remove NAME | preview NAME", "the schedules"),
            Usage("/hub schedule add showcase monthly first thursday 15:00 #ai-hub", "showcases, invitations and all"),
            Usage(
                "/hub schedule add department-digest weekly monday 09:00", "each department's digest, in its channel"
            ),
            Usage("/hub showcase", "the next showcase: who said yes, no, or nominated someone (anyone)"),
            Usage("/hub showcase invite @person [12]", "invite someone to present (#12)"),
            Usage(
                "/hub holiday add 2026-12-24 Office closed",
                "a day the whole hub keeps (schedules and reminders skip it)",
            ),
            Usage("/hub holiday remove 2026-12-24 | list", "take it off; the hub's holidays, public ones too (anyone)"),
            Usage(
                "/hub hours 08:00-16:00 [holidays US-CA] [@person]",
                "when messages reach you, in your time zone (anyone for themselves; leads: @person)",
            ),
            Usage("/hub hours [@person]", "working hours, time zone and holidays (anyone)"),
        ),
    ),
    WHOKNOWS: (
        "/whoknows finds people with real evidence about a topic:",
        (
            Usage("/whoknows demand forecasting", "who knows it, why, and how fresh that is"),
            Usage("/whoknows demand forecasting --from 6", "the next people"),
        ),
    ),
}

# Where a person can go wrong, the usage line that sets them right.
REVIEWER_ADD = "Mention the person: /hub reviewer add @person forecasting, nlp"
REVIEWER_REMOVE = "Mention the person: /hub reviewer remove @person"
LEAD_USAGE = "Mention the person: /hub lead add @person (or remove)"
STAGE_NAMES = ", ".join(s.value.replace("_", " ") for s in Stage)
STAGE_USAGE = "Usage: /usecase stage 12 experimentation. Stages: " + STAGE_NAMES
AWAY_USAGE = "Usage: /hub away on (or off) for yourself; leads add @person."
STATUS_USAGE = "Which one? /usecase status 12"
# The sub-commands that name one use case, and the usage each one is told without an id.
ONE_USE_CASE = {
    "status": STATUS_USAGE,
    "edit": "Which one? /usecase edit 12",
    "close": "Which one? /usecase close 12 (and why, if you like)",
    "reopen": "Which one? /usecase reopen 12 (and why, if you like)",
    "withdraw": "Which one? /usecase withdraw 12",
}
DEPARTMENT_USAGE = "Give the department a name: /hub department add Finance"
DEPARTMENT_CHANNEL_USAGE = "Usage: /hub department channel Finance #finance-ai (or off)"
RETRO_USAGE = "Which one? /usecase retro 12 (leads: /usecase retro 12 waive why)"
SHOWCASE_USAGE = "Usage: /hub showcase; /hub showcase invite @person [12]; /hub showcase nominate INVITE @person"
GUIDELINE_USAGE = "Usage: /hub guidelines set KEY VALUE (see /hub guidelines)"


NO_MENTIONS = MentionSyntax(re.compile(r"(?!)"), lambda m: PersonRef("", ""))


def parse(command: str, text: str, mentions: MentionSyntax = NO_MENTIONS) -> Request:
    """The request a command line means, or a HubError with the usage that would have worked.

    `mentions` is how the surface writes people; without it, no words name a person.
    """
    command = command.strip().lower()
    text = text.strip()
    if command == USECASE:
        return _usecase(text)
    if command == HUB:
        return _hub(text, mentions)
    if command == WHOKNOWS:
        return _whoknows(text)
    raise HubError(f"I don't know {command[:40]}. Try /usecase, /hub or /whoknows.")


# Words that read as a sub-command, not as an idea for the form: alone, or with what does not fit,
# they get the help (`/usecase edit`, `/usecase list all`).
SUB_COMMANDS = frozenset(
    {"help", "?", "list", "status", "stage", "edit", "close", "reopen", "withdraw", "show", "search", "retro"}
)
SEARCH_USAGE = "What should it look for? /usecase search invoice forecasting"
PORTFOLIO_USAGE = (
    "Usage: /hub portfolio [department NAME] [stage STAGE] [risk low|medium|high] [waiting], e.g. "
    "/hub portfolio department Finance stage deployment"
)
PORTFOLIO_WORDS = ("department", "stage", "risk", "waiting")


def _usecase(text: str) -> Request:
    verb, _, rest = text.partition(" ")
    verb, rest = verb.lower(), rest.strip()
    if verb in ("help", "?"):
        return Help(USECASE)
    if verb == "list":
        return ListMine() if not rest else Help(USECASE)
    if verb == "search":
        if not rest:
            raise HubError(SEARCH_USAGE)
        return SearchUseCases(rest[:2000])
    if verb == "retro":
        ident, _, words = rest.partition(" ")
        if not ident:
            raise HubError(RETRO_USAGE)
        use_case_id, words = parse_id(ident), words.strip()
        first, _, why = words.partition(" ")
        if first.lower() == "waive":
            return WaiveRetro(use_case_id, why.strip())
        return WriteRetro(use_case_id) if not words else Help(USECASE)
    if verb in ONE_USE_CASE:
        ident, _, words = rest.partition(" ")
        if not ident:
            raise HubError(ONE_USE_CASE[verb])
        use_case_id, words = parse_id(ident), words.strip()
        if verb == "status":
            return ShowStatus(use_case_id) if not words else Help(USECASE)
        if verb == "edit":
            return EditUseCase(use_case_id) if not words else Help(USECASE)
        if verb == "close":
            return CloseUseCase(use_case_id, words)
        if verb == "reopen":
            return ReopenUseCase(use_case_id, words)
        return WithdrawUseCase(use_case_id, words)
    if verb == "stage":
        ident, _, stage_text = rest.partition(" ")
        stage_text = stage_text.strip()
        if not ident or not stage_text:
            raise HubError(STAGE_USAGE)
        use_case_id = parse_id(ident)
        stage = parse_stage(stage_text)
        if stage is None:
            raise HubError(f"{stage_text[:40]} is not a stage: {STAGE_NAMES}.")
        return CloseUseCase(use_case_id) if stage is Stage.CLOSED else MoveStage(use_case_id, stage)
    if verb in SUB_COMMANDS:
        return Help(USECASE)  # a sub-command used wrongly, or one this version lacks, is not an idea for the form
    return OpenForm(text)


def _hub(text: str, mentions: MentionSyntax) -> Request:
    words = text.split(maxsplit=2)
    area = words[0].lower() if words else "help"
    action = words[1].lower() if len(words) > 1 else ""
    rest = words[2] if len(words) > 2 else ""
    if area == "reviewer" and action == "add":
        person, skills_text = mentions.first(rest)
        if person is None:
            raise HubError(REVIEWER_ADD)
        return AddReviewer(person, tuple(parse_skills(skills_text)))
    if area == "reviewer" and action == "remove":
        person, _ = mentions.first(rest)
        if person is None:
            raise HubError(REVIEWER_REMOVE)
        return RemoveReviewer(person)
    if area == "reviewer" and action in ("list", ""):
        return ListReviewers()
    if area == "lead" and action in ("add", "remove"):
        person, _ = mentions.first(rest)
        if person is None:
            raise HubError(LEAD_USAGE)
        return ChangeLead(action == "add", person)
    if area == "lead" and action in ("list", ""):
        return ListLeads()
    if area == "skills":
        person, listed = mentions.first(rest)
        if action in ("add", "remove"):
            return ChangeSkills(action == "add", tuple(parse_skills(listed)), person)
        if action in ("list", ""):
            return ListSkills(person)
    if area == "department" and action == "add":
        name = " ".join(rest.split())
        if not name:
            raise HubError(DEPARTMENT_USAGE)
        return AddDepartment(name)
    if area == "department" and action in ("list", ""):
        return ListDepartments()
    if area == "department" and action == "channel":
        return parse_department_channel(rest)
    if area == "showcase":
        return parse_showcase(action, rest, mentions)
    if area == "away":
        person, remaining = mentions.first(" ".join(words[1:]))
        state = {w.lower() for w in remaining.split()} & {"on", "off"}
        if len(state) != 1:
            raise HubError(AWAY_USAGE)
        return SetAway(state == {"on"}, person)
    if area == "guidelines" and action == "set":
        key, _, value = rest.partition(" ")
        if not key.strip():
            raise HubError(GUIDELINE_USAGE)
        return SetGuideline(key.strip(), value.strip())
    if area == "guidelines" and not action:
        return ShowGuidelines()
    if area == "portfolio":
        return ShowPortfolio(parse_portfolio_filter(" ".join(words[1:])))
    if area == "export" and not action:
        return ExportHub()
    if area == "schedule":
        return parse_schedule(action, rest)
    if area in ("holiday", "holidays"):
        return parse_holiday(action, rest)
    if area == "hours":
        return parse_hours_request(" ".join(words[1:]), mentions)
    return Help(HUB)


SCHEDULE_USAGE = "Usage: /hub schedule add digest weekly monday 09:00 #channel [tz Europe/London]; list; pause NAME"
CHANNEL = re.compile(r"<#(C[A-Z0-9]+)(?:\|[^>]*)?>|#([\w-]+)")


def parse_schedule(action: str, rest: str) -> Request:
    """`add JOB CADENCE [#channel] [tz ZONE]`, or `list`, or `pause|resume|remove|preview NAME`."""
    if action in ("", "list"):
        return ScheduleRequest("list")
    if action in ("pause", "resume", "remove", "preview"):
        name = rest.strip().split()[0] if rest.strip() else ""
        if not name:
            raise HubError(f"Which schedule? /hub schedule {action} digest")
        return ScheduleRequest(action, name=name)
    if action != "add":
        raise HubError(SCHEDULE_USAGE)
    job, _, words = rest.strip().partition(" ")
    if not job or not words.strip():
        raise HubError(SCHEDULE_USAGE)
    channel = ""
    if found := CHANNEL.search(words):
        channel = found.group(1) or f"#{found.group(2)}"
        words = words[: found.start()] + words[found.end() :]
    tz = ""
    rule_words = words.split()
    if "tz" in rule_words:
        at = rule_words.index("tz")
        tz = rule_words[at + 1] if at + 1 < len(rule_words) else ""
        rule_words = rule_words[:at] + rule_words[at + 2 :]
    holidays, rule_words = _take_holidays(rule_words)
    return ScheduleRequest(
        "add", name=job.lower(), rule=" ".join(rule_words), channel=channel, tz=tz, holidays=holidays or ""
    )


HOLIDAY_USAGE = "Usage: /hub holiday add 2026-12-24 Office closed; /hub holiday remove 2026-12-24; /hub holiday list"
HOURS_USAGE = "Usage: /hub hours 08:00-16:00 [holidays US-CA] [@person]; /hub hours alone shows yours."


def _take_holidays(words: list[str]) -> tuple[str | None, list[str]]:
    """`holidays CODE` taken out of `words`: (the code, or None when not given; the other words)."""
    lowered = [w.lower() for w in words]
    if "holidays" not in lowered:
        return None, words
    at = lowered.index("holidays")
    if at + 1 >= len(words):
        raise HubError("Which holidays? A calendar like GB-ENG, US-NY or DE-BY, e.g. holidays GB-ENG")
    return words[at + 1], words[:at] + words[at + 2 :]


def parse_holiday(action: str, rest: str) -> Request:
    """`add DATE NAME`, `remove DATE`, or `list` (also alone)."""
    if action in ("", "list"):
        return HolidayRequest("list")
    if action not in ("add", "remove"):
        raise HubError(HOLIDAY_USAGE)
    when, _, name = rest.strip().partition(" ")
    try:
        day = dt.date.fromisoformat(when)
    except ValueError:
        raise HubError(f"Say the date as YYYY-MM-DD: /hub holiday {action} 2026-12-24") from None
    return HolidayRequest(action, day, " ".join(name.split()) if action == "add" else "")


def parse_hours_request(text: str, mentions: MentionSyntax) -> Request:
    """`[HH:MM-HH:MM] [holidays CODE] [@person]`, in any order; with neither, whose hours to show."""
    person, remaining = mentions.first(text)
    holidays, words = _take_holidays(remaining.split())
    hours = "".join(words) or None  # "08:00 - 16:00" typed with spaces is the same hours
    if hours is not None and not re.fullmatch(r"[\d:\-]+|default|hub", hours.lower()):
        raise HubError(HOURS_USAGE)
    if hours is None and holidays is None:
        return ShowHours(person)
    return SetHours(hours, holidays, person)


def parse_department_channel(rest: str) -> SetDepartmentChannel:
    """`Finance #finance-ai` or `Finance off`: the department's name is everything before the channel."""
    words = rest.strip()
    if found := CHANNEL.search(words):
        name, channel = words[: found.start()], found.group(1) or f"#{found.group(2)}"
    elif words.lower().endswith(" off"):
        name, channel = words[:-4], ""
    else:
        raise HubError(DEPARTMENT_CHANNEL_USAGE)
    name = " ".join(name.split())
    if not name:
        raise HubError(DEPARTMENT_CHANNEL_USAGE)
    return SetDepartmentChannel(name, channel)


def parse_showcase(action: str, rest: str, mentions: MentionSyntax) -> ShowcaseRequest:
    """`/hub showcase [status]`, `invite @person [12]`, `nominate INVITE @person`."""
    if action in ("", "status", "next"):
        return ShowcaseRequest("status")
    person, remaining = mentions.first(rest)
    if action == "invite" and person is not None:
        ident = remaining.split()[0] if remaining.split() else ""
        return ShowcaseRequest("invite", person=person, use_case_id=parse_id(ident) if ident else None)
    if action == "nominate" and person is not None and remaining.strip().lstrip("#").isdigit():
        return ShowcaseRequest("nominate", person=person, invite_id=int(remaining.strip().lstrip("#")[:9]))
    raise HubError(SHOWCASE_USAGE)


def parse_portfolio_filter(text: str) -> PortfolioFilter:
    """`department Customer Service stage deployment risk high waiting`, in any order; a word left over is an error."""
    found: dict[str, str] = {}
    key: str | None = None
    for word in text.split():
        lowered = word.lower()
        if lowered in PORTFOLIO_WORDS and (key is None or found.get(key)):
            key = lowered
            if key in found:
                raise HubError(f"{key} is given twice. {PORTFOLIO_USAGE}")
            found[key] = ""
            if key == "waiting":
                key = None
            continue
        if key is None:
            raise HubError(f"{word[:40]} is not a filter. {PORTFOLIO_USAGE}")
        found[key] = f"{found[key]} {word}".strip()
    for needed in ("department", "stage", "risk"):
        if needed in found and not found[needed]:
            raise HubError(f"{needed} needs a value. {PORTFOLIO_USAGE}")
    stage = None
    if "stage" in found:
        stage = parse_stage(found["stage"])
        if stage is None:
            raise HubError(f"{found['stage'][:40]} is not a stage: {STAGE_NAMES}.")
    risk = None
    if "risk" in found:
        try:
            risk = RiskTier(found["risk"].lower())
        except ValueError:
            raise HubError(f"{found['risk'][:40]} is not a risk tier: low, medium or high.") from None
    return PortfolioFilter(
        department=found.get("department") or None, stage=stage, risk=risk, waiting="waiting" in found
    )


def _whoknows(text: str) -> Request:
    topic, _, start = text.partition("--from")
    topic = topic.strip()
    if not topic or topic.lower() in ("help", "?"):
        return Help(WHOKNOWS)
    start = start.strip()
    offset = int(start) - 1 if start.isascii() and start.isdigit() and 0 < int(start) < 10_000 else 0
    return WhoKnows(topic, offset)
