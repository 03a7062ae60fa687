"""Pure Block Kit builders for messages: review cards, receipts, outcomes, lists and status."""

from __future__ import annotations

from typing import Any

from handlers.slack.ids import Action
from handlers.slack.mrkdwn import clip, escape, link, mention, quote, when
from intake.lifecycle import ORDER, allowed_moves
from intake.notices import Outcome, Receipt, Refusal, ReviewCard, ReviewNudge, SelfServeNotice
from intake.read_models import PersonView, UseCaseView
from intake.schema import Decision, RiskTier, Route, Stage, Status, label

Blocks = list[dict[str, Any]]

TIER_ICON = {
    RiskTier.LOW: ":large_green_circle:",
    RiskTier.MEDIUM: ":large_orange_circle:",
    RiskTier.HIGH: ":red_circle:",
}
DECISION_ICON = {Decision.APPROVE: ":white_check_mark:", Decision.REJECT: ":x:", Decision.REQUEST_CHANGES: ":pencil2:"}


def _md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _md(clip(text, 3000))}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_md(clip(text, 3000))]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, 75), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    return b


def who(person: PersonView | None, nobody: str = "_nobody yet_") -> str:
    return mention(person.slack_user_id, person.name) if person else nobody


def mention_of(person: Any) -> str:
    """A mention of anything with `slack_user_id` and `name`."""
    return mention(getattr(person, "slack_user_id", None), getattr(person, "name", "someone"))


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


def decision_line(uc: UseCaseView) -> str | None:
    """`✅ Approved by @ana on <date>` plus the reason, when the current round is decided."""
    review = uc.review
    if review is None or review.decision is None:
        return None
    line = f"{DECISION_ICON[review.decision]} *{label(review.decision)}* by {who(review.decided_by, 'someone')}"
    if review.decided_at:
        line += f" on {when(review.decided_at)}"
    if review.reason:
        line += "\n" + quote(review.reason)
    return line


def build_review_card(card: ReviewCard) -> tuple[str, Blocks]:
    """The card reviewers decide on; after a decision it shows who decided, when and why."""
    uc = card.use_case
    review = uc.review
    round_ = review.round if review else 1
    head = f"Review #{uc.id}" + (f" (round {round_})" if round_ > 1 else "")
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(f"{head}: {uc.title}", 150)}},
        section(f"*Problem*\n{clip(escape(uc.problem), 1500)}"),
        _facts(uc, card.matched_skills),
        _reasons(uc),
    ]
    if review and review.changes:
        lines = [
            f"• *{escape(c.field)}*: {clip(escape(c.before), 150)} → {clip(escape(c.after), 150)}"
            for c in review.changes
        ]
        blocks.append(section(f"*Changed since round {round_ - 1}:*\n" + "\n".join(lines)))
    if card.note:
        blocks.append(context(escape(card.note)))
    decided = decision_line(uc)
    value = f"{uc.id}:{round_}"
    if decided:
        blocks.append(section(decided))
    elif uc.reviewer is None:
        blocks.append(
            {
                "type": "section",
                "block_id": "pick_reviewer",
                "text": _md(":warning: No reviewer is available for this one. *Hub, pick a reviewer:*"),
                "accessory": {
                    "type": "users_select",
                    "action_id": Action.PICK_REVIEWER,
                    "placeholder": {"type": "plain_text", "text": "Choose a reviewer"},
                },
            }
        )
        blocks.append({"type": "actions", "block_id": f"review:{value}", "elements": _decision_buttons(value)})
    else:
        blocks.append({"type": "actions", "block_id": f"review:{value}", "elements": _decision_buttons(value, True)})
    text = f"Review #{uc.id}: {escape(uc.title)}" + (
        f" ({label(uc.review.decision)})" if uc.review and uc.review.decision else ""
    )
    return text, blocks


def _decision_buttons(value: str, reassign: bool = False) -> Blocks:
    buttons = [
        button("Approve", Action.APPROVE, value, "primary"),
        button("Request changes", Action.REQUEST_CHANGES, value),
        button("Reject", Action.REJECT, value, "danger"),
    ]
    if reassign:
        buttons.append(button("Reassign", Action.REASSIGN, value))
    return buttons


def route_line(uc: UseCaseView, resubmitted: bool = False) -> str:
    """Where a use case went and why, as the submitter reads it."""
    if uc.route is Route.SELF_SERVE:
        return f":large_green_circle: {ref(uc)} can go ahead *self-serve* ({label(uc.risk_tier).lower()} risk)."
    verb = "is back with" if resubmitted else "went to"
    if uc.reviewer:
        return f":inbox_tray: {ref(uc)} {verb} hub review ({tier(uc)} risk), assigned to {who(uc.reviewer)}."
    return f":inbox_tray: {ref(uc)} {verb} hub review ({tier(uc)} risk). The hub is picking a reviewer."


def next_steps(uc: UseCaseView) -> str:
    if uc.route is Route.SELF_SERVE:
        return (
            "*Next steps*\n1. Start experimenting; the hub channel has been told, so ask there for help.\n"
            f"2. Record progress: `/usecase stage {uc.id} experimentation`.\n"
            f"3. Measure what you promised: _{clip(escape(uc.success_metric), 300)}_."
        )
    return (
        "*Next steps*\nYou will get a DM with the decision. You can start ideation and experimentation now; "
        f"production engineering waits for the go-ahead. Check any time with `/usecase status {uc.id}`."
    )


def build_receipt(notice: Receipt) -> tuple[str, Blocks]:
    """The submitter's DM receipt: saved, where it went, why, what next."""
    uc = notice.use_case
    first = "Resubmitted" if notice.resubmitted else "Saved"
    blocks = [section(f"{first}. {route_line(uc, notice.resubmitted)}"), _reasons(uc), section(next_steps(uc))]
    return f"{first}: #{uc.id} {escape(uc.title)}", blocks


def build_self_serve_notice(notice: SelfServeNotice) -> tuple[str, Blocks]:
    """Tells the hub channel what went ahead without review."""
    uc = notice.use_case
    blocks = [
        section(
            f":large_green_circle: *Self-serve:* {ref(uc)} from {escape(uc.department)} is going ahead "
            f"({label(uc.risk_tier).lower()} risk), submitted by {who(uc.submitter)}."
        ),
        section(clip(escape(uc.problem), 1200)),
        _facts(uc),
        _reasons(uc),
    ]
    return f"Self-serve: #{uc.id} {escape(uc.title)}", blocks


def build_outcome(notice: Outcome) -> tuple[str, Blocks]:
    """The submitter's DM with the hub's decision and reason."""
    uc = notice.use_case
    review = uc.review
    assert review is not None and review.decision is not None
    by = who(review.decided_by, "the hub")
    reason = f"\n{quote(review.reason)}" if review.reason else ""
    blocks: Blocks
    if review.decision is Decision.APPROVE:
        blocks = [
            section(f":white_check_mark: {ref(uc)} was *approved* by {by}.{reason}"),
            section(
                f"*Next steps*\nMove it along its lifecycle as you go: `/usecase stage {uc.id} experimentation`, "
                f"then production engineering, deployment and monitoring. Measure: "
                f"_{clip(escape(uc.success_metric), 300)}_."
            ),
        ]
    elif review.decision is Decision.REJECT:
        blocks = [
            section(f":x: {ref(uc)} was *rejected* by {by}.{reason}"),
            context("Questions? Reply in the hub channel, or talk to the reviewer."),
        ]
    else:
        blocks = [
            section(f":pencil2: {by} *asked for changes* on {ref(uc)}:{reason}"),
            {"type": "actions", "elements": [button("Edit and resubmit", Action.EDIT_RESUBMIT, str(uc.id), "primary")]},
            context("It goes back to the same reviewer, who will see what you changed."),
        ]
    return f"#{uc.id} {escape(uc.title)}: {label(review.decision).lower()}", blocks


def build_nudge(notice: ReviewNudge) -> tuple[str, Blocks]:
    """A reminder to the reviewer, or an escalation to the hub channel, about a waiting review."""
    uc = notice.use_case
    hours = int(notice.waited_hours)
    waited = f"{hours // 24} days" if hours >= 48 else f"{hours} hours"
    if notice.escalation:
        leads = " ".join(who(p) for p in notice.leads) or "Hub leads"
        if uc.reviewer is None:
            text = f":warning: {ref(uc)} has waited {waited} and has no reviewer yet. {leads}: please pick one."
        elif uc.reviewer.away:
            text = (
                f":warning: {ref(uc)} has waited {waited} for {who(uc.reviewer)}, who is away. "
                f"{leads}: please reassign it."
            )
        else:
            text = (
                f":warning: {ref(uc)} has waited {waited} for {who(uc.reviewer)}'s review. "
                f"{leads}: please decide or reassign."
            )
    else:
        text = f":alarm_clock: {ref(uc)} has waited {waited} for your review."
    value = f"{uc.id}:{uc.review.round if uc.review else 1}"
    blocks = [section(text), _facts(uc), {"type": "actions", "elements": _decision_buttons(value, True)}]
    return f"Waiting for review: #{uc.id} {escape(uc.title)}", blocks


def status_line(uc: UseCaseView) -> str:
    return f"{ref(uc)}: {label(uc.status)} · {label(uc.stage)} · {tier(uc)} risk"


def build_use_case_list(items: list[UseCaseView], title: str, empty: str) -> Blocks:
    """A short list of use cases, one line each, for ephemeral replies and the Home tab."""
    if not items:
        return [section(f"*{title}*\n{empty}")]
    lines = [status_line(uc) for uc in items[:40]]
    more = f"\n_…and {len(items) - 40} more_" if len(items) > 40 else ""
    return [section(clip(f"*{title}*\n" + "\n".join(lines), 2900) + more)]


def build_status(uc: UseCaseView) -> Blocks:
    """Everything about one use case: answers, triage, review, lifecycle and allowed moves."""
    stages = " → ".join(f"*{label(s)}*" if s is uc.stage else label(s) for s in ORDER)
    if uc.stage is Stage.CLOSED:
        stages += " · *Closed*"
    moves = allowed_moves(uc.stage, uc.status)
    blocks = [*_summary(uc), _reasons(uc), section(f"*Hub:* {label(uc.status)}\n*Lifecycle:* {stages}")]
    if decided := decision_line(uc):
        blocks.append(section(decided))
    if moves:
        example = f"`/usecase stage {uc.id} {moves[0].value.replace('_', ' ')}`"
        blocks.append(context(f"Can move to: {', '.join(label(m).lower() for m in moves)} ({example})"))
    if uc.status is Status.CHANGES_REQUESTED:
        blocks.append(
            {"type": "actions", "elements": [button("Edit and resubmit", Action.EDIT_RESUBMIT, str(uc.id), "primary")]}
        )
    blocks.append(context(f"Submitted {when(uc.created_at)} · updated {when(uc.updated_at)}"))
    return blocks


def build_home(mine: list[UseCaseView], queue: list[UseCaseView] | None) -> dict[str, Any]:
    """The App Home tab: my use cases and, for reviewers, my review queue."""
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Hubspoke"}},
        section(
            "Bring your AI use cases to the hub: submit one, follow its review, and move it through its lifecycle."
        ),
        {"type": "actions", "elements": [button("New use case", Action.NEW_USE_CASE, "home", "primary")]},
        {"type": "divider"},
        *build_use_case_list(mine, "Your use cases", "None yet. Submit one with the button above or `/usecase`."),
    ]
    if queue is not None:
        blocks.append({"type": "divider"})
        blocks.extend(build_use_case_list(queue, "Waiting for your review", "Nothing waiting. :tada:"))
        for uc in queue[:10]:
            value = f"{uc.id}:{uc.review.round if uc.review else 1}"
            blocks.append(
                context(
                    f"#{uc.id} · {escape(uc.department)} · from {who(uc.submitter)} · "
                    f"since {when(uc.review.assigned_at or uc.created_at) if uc.review else ''}"
                )
            )
            blocks.append({"type": "actions", "elements": _decision_buttons(value, True)})
    return {"type": "home", "blocks": blocks[:100]}


def build_refusal(notice: Refusal) -> tuple[str, Blocks]:
    """Why a click changed nothing, told only to the person who clicked."""
    text = escape(notice.text) + (f" ({when(notice.at)})" if notice.at else "")
    return text, []
