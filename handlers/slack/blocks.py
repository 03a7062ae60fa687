"""Pure Block Kit builders for messages: review cards, receipts, outcomes, lists and status."""

from __future__ import annotations

from typing import Any

from handlers.slack import ids
from handlers.slack.mrkdwn import clip, escape, link, mention, mrkdwn, when
from intake import notices
from intake.actions import (
    BUTTONS,
    HUB_AUDIENCE,
    LABELS,
    ON_DUPLICATE,
    Action,
    Viewer,
    available_actions,
    card_actions,
    notice_actions,
)
from intake.forms import withdraw_confirm
from intake.lifecycle import ORDER
from intake.notices import (
    BudgetSpent,
    BusFactorNotice,
    Digest,
    DraftReady,
    DuplicateFlagged,
    DuplicatesFound,
    Files,
    Outcome,
    Paragraph,
    PortfolioChart,
    Receipt,
    Refusal,
    Reopened,
    RetroPrompt,
    ReviewCard,
    ReviewNudge,
    SelfServeNotice,
    SharedProblem,
    ShowcaseAgenda,
    ShowcaseInvitation,
    StageMoved,
    Tone,
    Unreachable,
    Withdrawn,
    compose,
)
from intake.people import SLACK
from intake.read_models import Duplicate, PersonView, Relation, UseCaseView
from intake.schema import RiskTier, Route, Stage, label

Blocks = list[dict[str, Any]]

TIER_ICON = {
    RiskTier.LOW: ":large_green_circle:",
    RiskTier.MEDIUM: ":large_orange_circle:",
    RiskTier.HIGH: ":red_circle:",
}
TONE_ICON = {
    Tone.APPROVED: ":white_check_mark:",
    Tone.REJECTED: ":x:",
    Tone.CHANGES: ":pencil2:",
    Tone.WARNING: ":warning:",
    Tone.REMINDER: ":alarm_clock:",
    Tone.INBOX: ":inbox_tray:",
    Tone.GO: ":large_green_circle:",
    Tone.ENDED: ":no_entry_sign:",
}
# The one table from the action vocabulary to Slack's action ids; listeners register on the ids.
ACTION_IDS = {
    Action.APPROVE: ids.Action.APPROVE,
    Action.REQUEST_CHANGES: ids.Action.REQUEST_CHANGES,
    Action.REJECT: ids.Action.REJECT,
    Action.REASSIGN: ids.Action.REASSIGN,
    Action.PICK_REVIEWER: ids.Action.PICK_REVIEWER,
    Action.EDIT_RESUBMIT: ids.Action.EDIT_RESUBMIT,
    Action.EDIT: ids.Action.EDIT,
    Action.WITHDRAW: ids.Action.WITHDRAW,
    Action.CLOSE: ids.Action.CLOSE,
    Action.REOPEN: ids.Action.REOPEN,
    Action.TAKE_OVER: ids.Action.TAKE_OVER,
    Action.SAME_AS: ids.Action.SAME_AS,
    Action.RELATED: ids.Action.RELATED,
    Action.DIFFERENT: ids.Action.DIFFERENT,
    Action.WRITE_RETRO: ids.Action.WRITE_RETRO,
    Action.PRESENT: ids.Action.PRESENT,
    Action.NOT_THIS_TIME: ids.Action.NOT_THIS_TIME,
    Action.NOMINATE: ids.Action.NOMINATE,
    Action.OPEN_DRAFT: ids.Action.OPEN_DRAFT,
}
STYLE = {
    Action.APPROVE: "primary",
    Action.REJECT: "danger",
    Action.EDIT_RESUBMIT: "primary",
    Action.WRITE_RETRO: "primary",
    Action.PRESENT: "primary",
}


def _md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _md(clip(text, 3000))}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_md(clip(text, 3000))]}


def button(
    text: str, action_id: str, value: str, style: str | None = None, confirm: dict[str, Any] | None = None
) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, 75), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    if confirm:
        b["confirm"] = confirm
    return b


def _confirm_withdraw(uc: UseCaseView) -> dict[str, Any]:
    """Slack's own "are you sure?" on Withdraw: one click takes the use case out of review."""
    asked = withdraw_confirm(uc.id, uc.title, uc.reviewer.name if uc.reviewer else None)
    return {
        "title": {"type": "plain_text", "text": "Withdraw it?"},
        "text": {"type": "plain_text", "text": clip(asked, 300)},
        "confirm": {"type": "plain_text", "text": "Withdraw"},
        "deny": {"type": "plain_text", "text": "Keep it"},
    }


def who(person: PersonView | None, nobody: str = "_nobody yet_") -> str:
    return mention(person.handle(SLACK), person.name) if person else nobody


def mention_of(person: Any) -> str:
    """A mention of anything with `handles` and `name`: `<@U123>` for a Slack user, else their name."""
    handles = getattr(person, "handles", None) or {}
    return mention(handles.get(SLACK), getattr(person, "name", "someone"))


def ref(uc: UseCaseView) -> str:
    """`#12 *Title*`, escaped."""
    return f"#{uc.id} *{clip(escape(uc.title), 200)}*"


def tier(uc: UseCaseView) -> str:
    return f"{TIER_ICON[uc.risk_tier]} {label(uc.risk_tier)}"


def _facts(uc: UseCaseView, matched: list[str] | None = None) -> dict[str, Any]:
    reviewer = who(uc.reviewer)
    if uc.reviewer and matched:
        reviewer += f" (knows {escape(', '.join(matched))})"
    data = f"{label(uc.data_sensitivity)} · {label(uc.data_availability).lower()}"
    if uc.data_sources:
        data += f"\n{clip(escape(uc.data_sources), 300)}"
    fields = [
        f"*Department*\n{escape(uc.department)}",
        f"*Submitted by*\n{who(uc.submitter)}",
        f"*Risk tier*\n{tier(uc)}",
        f"*Reviewer*\n{reviewer}" if uc.route is Route.HUB_REVIEW else "*Route*\nSelf-serve",
        f"*Success metric*\n{clip(escape(uc.success_metric), 500)}",
        f"*Expected benefit*\n{clip(escape(uc.benefit), 500)}",
        f"*Data*\n{data}",
        f"*People affected · autonomy*\n{label(uc.people_affected)} · {label(uc.autonomy)}",
    ]
    if uc.target_date:
        fields.append(f"*Target date*\n{uc.target_date.isoformat()}")
    if uc.links:
        fields.append("*Links*\n" + "\n".join(link(u) for u in uc.links[:5]))
    return {"type": "section", "fields": [_md(clip(f, 2000)) for f in fields[:10]]}


def _summary(uc: UseCaseView) -> Blocks:
    return [
        section(f"{ref(uc)}\n{clip(escape(uc.problem), 1200)}"),
        _facts(uc),
    ]


def _reasons(uc: UseCaseView) -> dict[str, Any]:
    return context("*Why:* " + escape(" · ".join(uc.triage_reasons)))


def paragraph_text(p: Paragraph) -> str:
    """A composed paragraph as mrkdwn, with its tone's icon in front."""
    text = mrkdwn(p.parts)
    return f"{TONE_ICON[p.tone]} {text}" if p.tone else text


def paragraph_block(p: Paragraph) -> dict[str, Any]:
    return context(paragraph_text(p)) if p.small else section(paragraph_text(p))


def decision_line(uc: UseCaseView) -> str | None:
    """`✅ Approved by @ana on <date>` plus the reason, when the current round is decided."""
    p = notices.decision_paragraph(uc)
    return paragraph_text(p) if p else None


def action_blocks(uc: UseCaseView, actions: tuple[Action, ...], prompt: Paragraph | None = None) -> Blocks:
    """The actions given, drawn: a reviewer picker (with the prompt) and a row of buttons."""
    value = f"{uc.id}:{uc.review.round if uc.review else 1}"
    out: Blocks = []
    if Action.PICK_REVIEWER in actions:
        text = paragraph_text(prompt) if prompt else f"*{LABELS[Action.PICK_REVIEWER]}:*"
        picker = {
            "type": "users_select",
            "action_id": ACTION_IDS[Action.PICK_REVIEWER],
            "placeholder": {"type": "plain_text", "text": LABELS[Action.PICK_REVIEWER]},
        }
        out.append({"type": "section", "block_id": "pick_reviewer", "text": _md(text), "accessory": picker})
    elif prompt:
        out.append(paragraph_block(prompt))
    elements = [
        button(
            LABELS[a],
            ACTION_IDS[a],
            str(uc.id) if a is Action.EDIT_RESUBMIT else value,
            STYLE.get(a),
            _confirm_withdraw(uc) if a is Action.WITHDRAW else None,
        )
        for a in actions
        if a in BUTTONS and a is not Action.PICK_REVIEWER
    ]
    if elements:  # the picker's listener finds the use case in this block's id
        out.append({"type": "actions", "block_id": f"review:{value}", "elements": elements})
    return out


def build_review_card(card: ReviewCard) -> tuple[str, Blocks]:
    """The card reviewers decide on; after a decision it shows who decided, when and why."""
    uc = card.use_case
    message = compose(card)
    title = notices.plain(message.title or message.summary)
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(title, 150)}},
        section(f"*Problem*\n{clip(escape(uc.problem), 1500)}"),
        _facts(uc, card.matched_skills),
        _reasons(uc),
        *(paragraph_block(p) for p in message.rest),
        *action_blocks(uc, notice_actions(card), message.prompt),
    ]
    return mrkdwn(message.summary), blocks


def route_line(uc: UseCaseView, resubmitted: bool = False) -> str:
    """Where a use case went and why, as the submitter reads it."""
    return f"{TONE_ICON[notices.route_tone(uc)]} {mrkdwn(notices.route_parts(uc, resubmitted))}"


def next_steps(uc: UseCaseView) -> str:
    return paragraph_text(notices.next_steps(uc))


def _lead(
    notice: Receipt
    | SelfServeNotice
    | Outcome
    | ReviewNudge
    | BusFactorNotice
    | StageMoved
    | Withdrawn
    | Reopened
    | PortfolioChart
    | Files
    | DuplicateFlagged
    | SharedProblem
    | Digest
    | RetroPrompt
    | ShowcaseInvitation
    | ShowcaseAgenda
    | Unreachable
    | DraftReady
    | BudgetSpent
    | DuplicatesFound,
) -> tuple[str, Blocks, Blocks]:
    """The fallback text, the lead section and the rest of a composed notice."""
    message = compose(notice)
    lead = [section(paragraph_text(message.lead))] if message.lead else []
    return mrkdwn(message.summary), lead, [paragraph_block(p) for p in message.rest]


def build_receipt(notice: Receipt) -> tuple[str, Blocks]:
    """The submitter's DM receipt: saved, where it went, why, what next; and, for each likely duplicate in
    another department, whether it is the same, related or different."""
    text, lead, rest = _lead(notice)
    return text, [*lead, _reasons(notice.use_case), *rest, *duplicate_answers(notice.use_case.id, notice.duplicates)]


def build_duplicates_found(notice: DuplicatesFound) -> tuple[str, Blocks]:
    """The submitter's DM when duplicates by meaning turn up after the receipt: who to talk to, and Same / Related /
    Different… for each."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest, *duplicate_answers(notice.use_case.id, notice.duplicates)]


def duplicate_answers(use_case_id: int, duplicates: list[Duplicate]) -> Blocks:
    """One row of Same / Related / Different… per likely duplicate not answered yet."""
    out: Blocks = []
    for d in [d for d in duplicates if d.relation is Relation.LIKELY][:5]:
        out.append(context(f"Is #{d.id} {clip(escape(d.title), 150)} ({escape(d.department)}) the same as yours?"))
        value = f"{use_case_id}:{d.id}"
        buttons = [button(LABELS[a], ACTION_IDS[a], value) for a in ON_DUPLICATE]
        out.append({"type": "actions", "block_id": f"duplicate:{value}", "elements": buttons})
    return out


def build_self_serve_notice(notice: SelfServeNotice) -> tuple[str, Blocks]:
    """Tells the hub channel what went ahead without review."""
    uc = notice.use_case
    text, lead, rest = _lead(notice)
    return text, [*lead, section(clip(escape(uc.problem), 1200)), _facts(uc), _reasons(uc), *rest]


def build_outcome(notice: Outcome) -> tuple[str, Blocks]:
    """The submitter's DM with the hub's decision and reason."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest, *action_blocks(notice.use_case, notice_actions(notice))]


def build_nudge(notice: ReviewNudge) -> tuple[str, Blocks]:
    """A reminder to the reviewer, or an escalation to the hub channel, about a waiting review."""
    uc = notice.use_case
    text, lead, rest = _lead(notice)
    return text, [*lead, _facts(uc), *rest, *action_blocks(uc, notice_actions(notice))]


def build_bus_factor(notice: BusFactorNotice) -> tuple[str, Blocks]:
    """Tells the hub that a topic people ask about rests on one person."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest]


def status_line(uc: UseCaseView) -> str:
    return f"{ref(uc)}: {label(uc.status)} · {label(uc.stage)} · {tier(uc)} risk"


def build_use_case_list(items: list[UseCaseView], title: str, empty: str) -> Blocks:
    """A short list of use cases, one line each, for ephemeral replies and the Home tab."""
    if not items:
        return [section(f"*{title}*\n{empty}")]
    lines = [status_line(uc) for uc in items[:40]]
    more = f"\n_…and {len(items) - 40} more_" if len(items) > 40 else ""
    return [section(clip(f"*{title}*\n" + "\n".join(lines), 2900) + more)]


def build_status(uc: UseCaseView, viewer: Viewer | None = None) -> Blocks:
    """Everything about one use case: answers, triage, review, lifecycle, and what `viewer` may do with it.

    Without a viewer it is drawn as its owner sees it (the service still refuses anyone else's click).
    """
    actions = available_actions(uc, viewer or Viewer.of(uc.submitter))
    stages = " → ".join(f"*{label(s)}*" if s is uc.stage else label(s) for s in ORDER)
    if uc.stage is Stage.CLOSED:
        stages += " · *Closed*"
    blocks = [*_summary(uc), _reasons(uc), section(f"*Hub:* {label(uc.status)}\n*Lifecycle:* {stages}")]
    blocks += [section(paragraph_text(p)) for p in notices.status_paragraphs(uc)]
    if Action.MOVE_STAGE in actions and (moves := notices.moves_paragraph(uc)):
        blocks.append(paragraph_block(moves))
    blocks += action_blocks(uc, actions)
    blocks.append(context(f"Submitted {when(uc.created_at)} · updated {when(uc.updated_at)}"))
    return blocks


def build_home(
    mine: list[UseCaseView], queue: list[UseCaseView] | None, viewer: Viewer = HUB_AUDIENCE
) -> dict[str, Any]:
    """The App Home tab: my use cases and, for reviewers (`viewer`), my review queue and what they may do."""
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Hubspoke"}},
        section(
            "Bring your AI use cases to the hub: submit one, follow its review, and move it through its lifecycle."
        ),
        {"type": "actions", "elements": [button("New use case", ids.Action.NEW_USE_CASE, "home", "primary")]},
        {"type": "divider"},
        *build_use_case_list(mine, "Your use cases", "None yet. Submit one with the button above or `/usecase`."),
    ]
    if queue is not None:
        blocks.append({"type": "divider"})
        blocks.extend(build_use_case_list(queue, "Waiting for your review", "Nothing waiting. :tada:"))
        for uc in queue[:10]:
            blocks.append(
                context(
                    f"#{uc.id} · {escape(uc.department)} · from {who(uc.submitter)} · "
                    f"since {when(uc.review.assigned_at or uc.created_at) if uc.review else ''}"
                )
            )
            blocks += action_blocks(uc, card_actions(uc, viewer))
    return {"type": "home", "blocks": blocks[:100]}


def build_stage_moved(notice: StageMoved) -> tuple[str, Blocks]:
    """A use case reached a stage the hub watches, or a lead moved the owner's use case."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest]


def build_withdrawn(notice: Withdrawn) -> tuple[str, Blocks]:
    """Tells a reviewer the use case waiting for them left review."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest]


def build_reopened(notice: Reopened) -> tuple[str, Blocks]:
    """Tells the owner a lead reopened their use case."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest]


def build_portfolio_chart(notice: PortfolioChart) -> tuple[str, Blocks]:
    """The chart in words: the comment on its uploaded PNG, and what a surface that cannot show files reads."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest]


def build_files(notice: Files) -> tuple[str, Blocks]:
    """What the files are: the comment on their upload, and what a surface that cannot show files reads."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest]


def build_duplicate_flagged(notice: DuplicateFlagged) -> tuple[str, Blocks]:
    """Tells an owner that a submitter elsewhere says their use case is the same."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest]


def build_shared_problem(notice: SharedProblem) -> tuple[str, Blocks]:
    """Tells the hub channel that three or more departments work on one problem."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest]


def build_digest(notice: Digest) -> tuple[str, Blocks]:
    """The portfolio digest a schedule posts to a channel."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest][:50]


def build_retro_prompt(notice: RetroPrompt) -> tuple[str, Blocks]:
    """Asks a use case's owner for a blameless retro, with the button that opens its form."""
    text, lead, rest = _lead(notice)
    prompt = compose(notice).prompt
    return text, [*lead, *rest, *action_blocks(notice.use_case, notice_actions(notice), prompt)]


def build_showcase_invitation(notice: ShowcaseInvitation) -> tuple[str, Blocks]:
    """Invites someone to present: Yes / Not this time, or a colleague picked to present instead."""
    text, lead, rest = _lead(notice)
    value = str(notice.invite_id)
    picker = {
        "type": "users_select",
        "action_id": ACTION_IDS[Action.NOMINATE],
        "placeholder": {"type": "plain_text", "text": LABELS[Action.NOMINATE].rstrip("…")},
    }
    answers = [button(LABELS[a], ACTION_IDS[a], value, STYLE.get(a)) for a in (Action.PRESENT, Action.NOT_THIS_TIME)]
    return text, [
        *lead,
        *rest,
        {"type": "actions", "block_id": f"invite:{value}", "elements": answers},
        {
            "type": "section",
            "block_id": f"nominate:{value}",
            "text": _md("Not you? Pick who should present it instead:"),
            "accessory": picker,
        },
    ]


def build_showcase_agenda(notice: ShowcaseAgenda) -> tuple[str, Blocks]:
    """The showcase's agenda, a week ahead and on the day."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest]


def build_draft_ready(notice: DraftReady) -> tuple[str, Blocks]:
    """The form filled in from what someone wrote, with the button that opens it to check and submit."""
    text, lead, rest = _lead(notice)
    check = button(LABELS[Action.OPEN_DRAFT], ACTION_IDS[Action.OPEN_DRAFT], str(notice.draft_id), "primary")
    return text, [*lead, *rest, {"type": "actions", "block_id": f"draft:{notice.draft_id}", "elements": [check]}]


def build_budget_spent(notice: BudgetSpent) -> tuple[str, Blocks]:
    """Tells the hub's leads, once a day, that the LLM budget is spent."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest]


def build_unreachable(notice: Unreachable) -> tuple[str, Blocks]:
    """Tells the hub's leads, once, that someone cannot be reached on a platform yet."""
    text, lead, rest = _lead(notice)
    return text, [*lead, *rest]


def build_refusal(notice: Refusal) -> tuple[str, Blocks]:
    """Why a click changed nothing, told only to the person who clicked; with the offer to take the review over."""
    text = mrkdwn(compose(notice).summary)
    if notice.take_over is None:
        return text, []
    use_case_id, round_ = notice.take_over
    offer = button(LABELS[Action.TAKE_OVER], ids.Action.TAKE_OVER, f"{use_case_id}:{round_}", "primary")
    return text, [section(text), {"type": "actions", "elements": [offer]}]
