"""What a Teams message or card click does: the one conversation core, answered as Adaptive Cards.

Plain, synchronous functions run on a worker thread by handlers.teams.app: a message is a command in the one
grammar (`usecase`, `hub …`, `whoknows …`, with or without a leading `/`, the bot's @mention stripped); a click
is an `Action.Execute` whose verb is the core's action. Every click is checked against the clicker's role as
stored now, by the same services Slack and the console call; the answer to a click is the refreshed card.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from bot.conversation import grammar as g
from bot.conversation import ritual_answers
from bot.conversation.answers import (
    DRAFTING,
    LOOKING,
    AskReason,
    AskRetro,
    DraftLater,
    ExpertsLater,
    Form,
    PortfolioAnswer,
    Said,
    Status,
    UseCaseList,
    answer,
    answer_duplicate,
    carry_out,
)
from bot.core import Core
from bot.expertise.models import ExpertResult
from bot.tasks import ReplyTo, request_who_knows
from handlers.teams import cards
from handlers.teams.chat import TeamsChat
from intake import conversations, decisions, drafting, editing, hub, people, queries, retros, submission
from intake.actions import Action, Viewer, available_actions
from intake.errors import AlreadyDecided, FieldErrors, HeldByAnother, HubError, NotAllowed
from intake.events import claim_event
from intake.forms import INTAKE_FIELDS, Draft, parse_submission
from intake.notices import (
    Command,
    Message,
    Plain,
    ReviewCard,
    Strong,
    UseCaseRef,
    status_paragraphs,
)
from intake.people import TEAMS, PersonRef
from intake.read_models import Actor, UseCaseView
from intake.reviews import duplicates_of
from intake.schema import Decision, label

log = logging.getLogger(__name__)
COMMANDS = {"usecase": g.USECASE, "hub": g.HUB, "whoknows": g.WHOKNOWS}
AT = re.compile(r"<at>([^<]*)</at>")
CARD_REPLY = "application/vnd.microsoft.card.adaptive"
MESSAGE_REPLY = "application/vnd.microsoft.activity.message"
INTAKE_VERB = "submit_intake"
RETRO_VERB = "submit_retro"
ASSIGN_VERB = "assign"
REASON_VERBS = {"close": Action.CLOSE, "reopen": Action.REOPEN}
DECISIONS = {
    Action.APPROVE: Decision.APPROVE,
    Action.REJECT: Decision.REJECT,
    Action.REQUEST_CHANGES: Decision.REQUEST_CHANGES,
}


@dataclass(frozen=True)
class Turn:
    """What one activity says about where it came from and who sent it."""

    service_url: str
    conversation_id: str
    conversation_type: str  # personal | channel | groupChat
    tenant_id: str | None
    user_id: str
    user_name: str
    bot_id: str
    activity_id: str | None = None
    text: str = ""
    mentions: tuple[tuple[str, str], ...] = ()  # (teams id, name) of everyone @mentioned
    members_added: tuple[str, ...] = ()
    value: dict[str, Any] = field(default_factory=dict)
    tz: str | None = None  # the sender's time zone, as their Teams client says
    thread_id: str | None = None  # where a channel message was written (its thread), for the answer

    @property
    def address(self) -> dict[str, str]:
        """Where an answer to this turn goes: the thread it was asked in."""
        return {"service_url": self.service_url, "conversation_id": self.thread_id or self.conversation_id}


def card_reply(content: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "type": CARD_REPLY, "value": content}


def message_reply(text: str) -> dict[str, Any]:
    return {"statusCode": 200, "type": MESSAGE_REPLY, "value": text[:1000]}


class Dialogs:
    """Teams turns carried out on the core; `chat` answers messages and opens forms in the conversation."""

    def __init__(self, core: Core, chat: TeamsChat, leads: frozenset[str]) -> None:
        self.core = core
        self.chat = chat
        self.leads = leads

    # --- who and where -------------------------------------------------------------------------------

    def actor(self, turn: Turn) -> Actor:
        """The person behind a turn, as stored now; the first time, their e-mail may make them one with their
        Slack self (then the merged person is the one returned), and their chat is saved as theirs."""
        ref = PersonRef(TEAMS, turn.user_id, turn.user_name or None)
        actor, first = self.core.actor(ref, leads=self.leads)
        if first and self._learn_email(turn, actor):
            actor = self.core.actor(ref, leads=self.leads)[0]
        if turn.tz and actor.person_id and actor.tz != turn.tz:
            with self.core.uow() as uow:
                people.apply_profile(uow, actor.person_id, None, turn.tz)
            self.core.forget_actor(ref)
        self.core.run(
            conversations.remember,
            TEAMS,
            turn.conversation_id,
            turn.conversation_type or "personal",
            turn.service_url,
            turn.tenant_id,
            person_id=actor.person_id,
        )
        return actor

    def _learn_email(self, turn: Turn, actor: Actor) -> bool:
        """Their AAD e-mail, from the roster: the same e-mail on Slack makes them one person. True when stored."""
        member = self.chat.member(turn.service_url, turn.conversation_id, turn.user_id)
        email = (member or {}).get("email") or (member or {}).get("userPrincipalName")
        if not (email and actor.person_id):
            return False
        with self.core.uow() as uow:
            people.apply_profile(uow, actor.person_id, turn.user_name or None, turn.tz, str(email))
        self.core.forget_actor(PersonRef(TEAMS, turn.user_id))
        return True

    def installed(self, turn: Turn) -> None:
        """The app was added to a chat, team or channel: remember where it is, for proactive messages.

        In a personal chat that is the person's own chat with the bot; anywhere else, the conversation.
        """
        kind = turn.conversation_type or "personal"
        if kind == "personal":
            self.actor(turn)  # saves the chat as theirs
        else:
            self.core.run(conversations.remember, TEAMS, turn.conversation_id, kind, turn.service_url, turn.tenant_id)

    # --- messages -----------------------------------------------------------------------------------

    def mentions(self, turn: Turn) -> g.MentionSyntax:
        by_name = {name: teams_id for teams_id, name in turn.mentions if teams_id != turn.bot_id}

        def ref(match: re.Match[str]) -> PersonRef:
            name = match.group(1)
            return PersonRef(TEAMS, by_name.get(name, ""), name)

        names = [re.escape(n) for n in by_name]
        pattern = re.compile(r"<at>(" + "|".join(names) + r")</at>") if names else re.compile(r"(?!)")
        return g.MentionSyntax(pattern, ref)

    def command_of(self, turn: Turn) -> tuple[str, str]:
        """(command, its text) from a message: the bot's own mention dropped, a leading `/` optional."""
        bot_names = {name for teams_id, name in turn.mentions if teams_id == turn.bot_id}
        text = turn.text
        for name in bot_names:
            text = text.replace(f"<at>{name}</at>", " ")
        words = text.strip().split(maxsplit=1)
        head = words[0].lstrip("/").lower() if words else "help"
        rest = words[1] if len(words) > 1 else ""
        if head in COMMANDS:
            return COMMANDS[head], rest
        if head in ("help", "?", ""):
            return "help", ""
        return "help", ""

    def on_message(self, turn: Turn) -> dict[str, Any]:
        """A command typed to the bot: the answer (a card, or a form) in the same conversation.

        Teams sends an activity again when it did not hear back in time; its id is claimed first, so a
        command runs once however often it arrives.
        """
        if turn.activity_id and not self.core.run(claim_event, f"teams:{turn.activity_id}"[:64]):
            log.info("teams: activity %s arrived again and was ignored", turn.activity_id[:40])
            return {}
        actor = self.actor(turn)
        command, text = self.command_of(turn)
        if command == "help" or (command == g.WHOKNOWS and text == "help"):
            content = cards.build_said(help_lines())
        elif command == g.HUB and " ".join(text.lower().split()) == "channel here":
            content = self.hub_channel_here(actor, turn)
        else:
            try:
                result = answer(self.core, actor, g.parse(command, text, self.mentions(turn)))
                if isinstance(result, ExpertsLater):  # durable: the answer follows in this conversation
                    target = ReplyTo(platform=TEAMS, address=json.dumps(turn.address))
                    self.core.run(request_who_knows, actor, result.topic, result.offset, reply_to=target)
                    result = Said(((Plain(LOOKING),),))
                content = self.render(result, actor)
            except HubError as exc:
                content = cards.refused(exc.message)
        self.chat.answer(turn.address, content)
        return content

    def hub_channel_here(self, actor: Actor, turn: Turn) -> dict[str, Any]:
        try:
            self.core.run(
                conversations.set_hub_channel,
                actor,
                TEAMS,
                turn.conversation_id,
                turn.conversation_type,
                turn.service_url,
                turn.tenant_id,
            )
        except HubError as exc:
            return cards.refused(exc.message)
        return cards.build_said(
            ((Plain("This channel is the hub channel now: review cards and hub posts come here."),),)
        )

    # --- rendering answers --------------------------------------------------------------------------------

    def render(self, result: Any, actor: Actor) -> dict[str, Any]:
        if isinstance(result, Said):
            return cards.build_said(result.lines)
        if isinstance(result, Form):
            return self.intake_form(
                result.draft, edit=result.edit is not None, use_case_id=result.edit.use_case.id if result.edit else None
            )
        if isinstance(result, DraftLater):  # durable: the filled form comes as its own message
            self.core.run(drafting.request_draft, actor, result.text)
            return cards.build_said(((Plain(DRAFTING),),))
        if isinstance(result, AskRetro):
            f = result.form
            return cards.build_form(
                f.title,
                f.fields,
                f.initial,
                verb=RETRO_VERB,
                submit="Save the retro",
                data={"use_case_id": f.use_case_id},
                intro=f.intro,
            )
        if isinstance(result, AskReason):
            return reason_card(result)
        if isinstance(result, Status):
            return status_card(result.use_case, Viewer.of(actor))
        if isinstance(result, UseCaseList):
            return use_case_list(result)
        if isinstance(result, PortfolioAnswer):
            return message_card(result.message)
        if isinstance(result, ExpertResult):
            return cards.build_experts(result)
        return cards.refused("Try `help`.")

    def intake_form(
        self,
        draft: Draft,
        *,
        edit: bool = False,
        use_case_id: int | None = None,
        errors: dict[str, str] | None = None,
        answers: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        departments = self.core.read(hub.list_departments)
        values = answers if answers is not None else draft.model_dump()
        title = f"Edit use case #{use_case_id}" if use_case_id else "New AI use case"
        data: dict[str, Any] = {"use_case_id": use_case_id, "edit": edit} if use_case_id else {}
        return cards.build_form(
            title,
            INTAKE_FIELDS,
            values,
            verb=INTAKE_VERB,
            submit="Save" if edit else "Submit",
            data=data,
            departments=departments,
            errors=errors,
        )

    def on_file_consent(self, turn: Turn) -> dict[str, Any]:
        """Allow (upload the file to their OneDrive, then show it) or Decline, on a file the bot offered."""
        actor = self.actor(turn)
        value = turn.value
        offer = int((value.get("context") or {}).get("offer_id") or 0)
        if value.get("action") != "accept":
            self.chat.answer(turn.address, cards.build_said(((Plain("Not sent: the file stays with the hub."),),)))
            return {}
        problem = self.chat.upload(actor.person_id or 0, offer, dict(value.get("uploadInfo") or {}), turn.address)
        if problem:
            self.chat.answer(turn.address, cards.refused(problem))
        return {}

    # --- clicks -------------------------------------------------------------------------------------

    def on_action(self, turn: Turn) -> dict[str, Any]:
        """An Action.Execute click: the refreshed card in the response, or a message saying why nothing changed."""
        action = turn.value.get("action") or {}
        verb = str(action.get("verb") or "")
        data = action.get("data") or {}
        actor = self.actor(turn)
        try:
            return self._act(actor, verb, data, turn)
        except FieldErrors as exc:
            return message_reply(" ".join(exc.errors.values()))
        except HeldByAnother as exc:
            return message_reply(exc.message)
        except (AlreadyDecided, NotAllowed, HubError) as exc:
            return message_reply(exc.message)

    def _act(self, actor: Actor, verb: str, data: dict[str, Any], turn: Turn) -> dict[str, Any]:
        if verb == INTAKE_VERB:
            return self.submit_intake(actor, data)
        if verb == RETRO_VERB:
            return self.submit_retro(actor, data)
        if verb == ASSIGN_VERB:
            use_case_id, person_id = int(data["use_case_id"]), int(data.get("reviewer") or 0)
            if not person_id:
                return message_reply("Pick a reviewer first.")
            self.core.run(decisions.assign_reviewer, actor, use_case_id, person_id)
            return card_reply(self.review_card(use_case_id))
        if verb == cards.REFRESH_VERB:  # Teams asks for the card as this viewer may use it
            return card_reply(self.review_card(int(data.get("use_case_id") or 0), viewer=Viewer.of(actor)))
        try:
            act = Action(verb)
        except ValueError:
            log.info("teams: an unknown card action %r was ignored", verb[:40])
            return message_reply("That button is out of date.")
        use_case_id = int(data.get("use_case_id") or 0)
        if act in DECISIONS:
            if not actor.can_decide:
                return message_reply(decisions.REVIEWERS_ONLY)
            typed = data.get(f"{verb}_{cards.REASON_INPUT}") or data.get(cards.REASON_INPUT)
            reason = str(typed or "").strip() or None
            self.core.run(
                decisions.decide,
                actor,
                use_case_id,
                DECISIONS[act],
                reason=reason,
                round_=int(data.get("round") or 0) or None,
            )
            return card_reply(self.review_card(use_case_id))
        if act in (Action.REASSIGN, Action.PICK_REVIEWER):
            if not actor.can_decide:
                return message_reply(decisions.HANDING_ON_ONLY)
            return card_reply(self.reviewer_picker(use_case_id))
        if act is Action.TAKE_OVER:
            self.core.run(decisions.assign_reviewer, actor, use_case_id, actor.person_id)
            return card_reply(self.review_card(use_case_id))
        if act in (Action.SAME_AS, Action.RELATED, Action.DIFFERENT):
            other = int(data.get("other_id") or 0)
            reason = str(data.get(f"different_{other}_{cards.REASON_INPUT}") or "").strip() or None
            done = answer_duplicate(self.core, actor, act, use_case_id, other, reason)
            return message_reply(done.plain())
        if act in (Action.EDIT, Action.EDIT_RESUBMIT):
            target = self.core.read(editing.use_case_for_edit, actor, use_case_id)
            answers = Draft.of_answers(target.use_case.answers()).model_dump()
            return card_reply(
                self.intake_form(Draft(), edit=not target.resubmit, use_case_id=use_case_id, answers=answers)
            )
        if act is Action.WRITE_RETRO:
            form = self.core.read(retros.open_retro, actor, use_case_id)
            return card_reply(
                cards.build_form(
                    form.title,
                    form.fields,
                    form.initial,
                    verb=RETRO_VERB,
                    submit="Save the retro",
                    data={"use_case_id": use_case_id},
                    intro=form.intro,
                )
            )
        if act in (Action.PRESENT, Action.NOT_THIS_TIME):
            done = ritual_answers.answer_invitation(
                self.core, actor, int(data.get("invite_id") or 0), act is Action.PRESENT
            )
            return message_reply(done.plain())
        if act in (Action.CLOSE, Action.REOPEN, Action.WITHDRAW):
            reason = str(data.get(cards.REASON_INPUT) or "").strip() or None
            done = carry_out(self.core, actor, act, use_case_id, reason)
            return card_reply(cards.build_said(done.lines))
        return message_reply("That button is out of date.")

    def submit_intake(self, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        """The intake card's answers: refused ones shown beside their field on the same card, or saved."""
        departments = self.core.read(hub.list_departments)
        answers = {f.name: data.get(f.name) for f in INTAKE_FIELDS}
        sub, errors = parse_submission(answers, departments=departments, today=self.core.now().date())
        use_case_id = data.get("use_case_id")
        if sub is not None:
            try:
                if use_case_id:
                    target = self.core.read(editing.use_case_for_edit, actor, int(use_case_id))
                    if not target.resubmit:
                        self.core.run(editing.edit_use_case, actor, int(use_case_id), sub)
                        return card_reply(cards.build_said(((Plain(f"Saved your changes to #{use_case_id}."),),)))
                    result = self.core.run(submission.resubmit_use_case, actor, int(use_case_id), sub)
                else:
                    result = self.core.run(submission.submit_use_case, actor, sub)
            except FieldErrors as exc:
                errors = exc.errors
            else:
                uc = result.use_case
                where = "went to hub review" if uc.review is not None else "can go ahead self-serve"
                lines = (
                    (Strong("Saved"), Plain(": "), UseCaseRef(uc.id, uc.title), Plain(f" {where}.")),
                    (
                        Plain("The details are in your chat with the bot. Check any time with "),
                        Command(f"usecase status {uc.id}"),
                        Plain("."),
                    ),
                )
                return card_reply(cards.build_said(lines))
        form = self.intake_form(
            Draft(), errors=errors, answers=answers, use_case_id=int(use_case_id) if use_case_id else None
        )
        return card_reply(form)

    def submit_retro(self, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        use_case_id = int(data.get("use_case_id") or 0)
        form = self.core.read(retros.open_retro, actor, use_case_id)
        answers = {f.name: data.get(f.name) for f in form.fields}
        parsed, errors = retros.parse_retro(answers)
        if parsed is None:
            return card_reply(
                cards.build_form(
                    form.title,
                    form.fields,
                    answers,
                    verb=RETRO_VERB,
                    submit="Save the retro",
                    data={"use_case_id": use_case_id},
                    intro=form.intro,
                    errors=errors,
                )
            )
        done = ritual_answers.save_retro(self.core, actor, use_case_id, parsed)
        return card_reply(cards.build_said(done.lines))

    def review_card(self, use_case_id: int, viewer: Viewer | None = None) -> dict[str, Any]:
        """The review card as it stands now (what every copy is updated to); with `viewer`, their actions only."""
        notice = self.core.read(_review_notice, use_case_id)
        return cards.build_notice(notice, viewer=viewer)

    def reviewer_picker(self, use_case_id: int) -> dict[str, Any]:
        """Who can take the review, as a choice on the card; Assign hands it to them."""
        reviewers = self.core.read(decisions.reviewers_for, use_case_id)
        notice = self.core.read(_review_notice, use_case_id)
        content = cards.build_notice(notice)
        if not reviewers:
            content["body"].append(cards.text_block("⚠️ No other reviewer can take it now.", color="Attention"))
            return content
        round_ = notice.use_case.review.round if notice.use_case.review else 1
        content["body"].append(
            {
                "type": "Input.ChoiceSet",
                "id": "reviewer",
                "label": "Hand it to",
                "style": "compact",
                "isRequired": True,
                "errorMessage": "Pick a reviewer.",
                "choices": [
                    {"title": f"{p.name} ({', '.join(p.skills) or 'no skills yet'})", "value": str(p.id)}
                    for p in reviewers
                ][:100],
            }
        )
        content["actions"] = [
            cards.execute("Assign", ASSIGN_VERB, {"use_case_id": use_case_id, "round": round_}, style="positive")
        ]
        return content


# --- units of work -----------------------------------------------------------------------------------


def _review_notice(uow: Any, use_case_id: int) -> ReviewCard:
    view = queries.get_use_case(uow, use_case_id)
    return ReviewCard(use_case=view, duplicates=duplicates_of(uow.session, view.id))


# --- cards for answers -----------------------------------------------------------------------------------


def help_lines() -> tuple[tuple[Any, ...], ...]:
    lines: list[tuple[Any, ...]] = [(Strong("Hubspoke in Teams: type a command, with or without /"),)]
    for intro, usages in g.HELP.values():
        lines.append((Strong(intro),))
        lines += [(Plain("• "), Command(u.example.lstrip("/")), Plain(f": {u.does}")) for u in usages]
    return tuple(lines)


def message_card(message: Message) -> dict[str, Any]:
    writer = cards.Writer()
    body = [writer.paragraph(p) for p in (message.lead, *message.rest) if p is not None]
    return cards.card(body, (), writer)


def status_card(uc: UseCaseView, viewer: Viewer) -> dict[str, Any]:
    writer = cards.Writer()
    body: list[dict[str, Any]] = [
        cards.text_block(f"#{uc.id} **{cards.escape(uc.title)}**", size="Medium"),
        cards.text_block(cards.escape(uc.problem[:1500])),
        cards.facts(uc, writer),
        cards.text_block(f"**Hub:** {label(uc.status)} · **Lifecycle:** {label(uc.stage)}"),
    ]
    body += [writer.paragraph(p) for p in status_paragraphs(uc)]
    actions = cards.use_case_actions(uc, available_actions(uc, viewer))
    return cards.card(body, actions, writer)


def use_case_list(result: UseCaseList) -> dict[str, Any]:
    if not result.items:
        return cards.build_said(result.empty.lines)
    writer = cards.Writer()
    body = [cards.text_block(f"**{cards.escape(result.title)}**", size="Medium")]
    for uc in result.items[:30]:
        line = (
            UseCaseRef(uc.id, uc.title),
            Plain(f": {label(uc.status)} · {label(uc.stage)} · {label(uc.risk_tier)} risk"),
        )
        body.append(cards.text_block(writer.text(line)))
    return cards.card(body, (), writer)


def reason_card(asked: AskReason) -> dict[str, Any]:
    form = asked.form
    ask = {
        "type": "Input.Text",
        "id": cards.REASON_INPUT,
        "label": form.prompt,
        "isMultiline": True,
        "isRequired": True,
        "errorMessage": "Please say why.",
        "maxLength": 3000,
        "value": form.initial or None,
    }
    ask = {k: v for k, v in ask.items() if v is not None}
    body = [
        cards.text_block(f"**{cards.escape(form.title)}**", size="Medium"),
        cards.text_block(cards.escape(form.intro)),
        ask,
        cards.text_block(cards.escape(form.hint), size="Small", isSubtle=True),
    ]
    return cards.card(
        body,
        [
            cards.execute(
                form.submit,
                asked.action.value,
                {"use_case_id": asked.use_case_id},
                style="destructive" if asked.action is Action.CLOSE else "positive",
            )
        ],
    )
