"""The portfolio on Slack: the lead's view as Block Kit (a command's answer, the lead's Home tab)."""

from __future__ import annotations

from typing import Any

from handlers.slack.blocks import Blocks, context, paragraph_block, section
from handlers.slack.mrkdwn import clip, mrkdwn
from intake.notices import Message, plain
from intake.portfolio_words import CHART_SENT


def message_blocks(message: Message) -> Blocks:
    """A composed message's paragraphs as sections (small print as context), within Slack's limits."""
    paragraphs = [p for p in (message.lead, *message.rest) if p is not None]
    return [paragraph_block(p) for p in paragraphs][:45]


def build_portfolio(message: Message, *, chart_sent: bool) -> tuple[str, Blocks]:
    """`/hub portfolio`: the fallback text and the blocks."""
    title = plain(message.title or message.summary)
    header = {"type": "header", "text": {"type": "plain_text", "text": clip(title, 150), "emoji": True}}
    drawn: Blocks = [header, *message_blocks(message)]
    if chart_sent:
        drawn.append(context(CHART_SENT))
    return mrkdwn(message.summary), drawn


def home_portfolio(message: Message) -> list[dict[str, Any]]:
    """The lead's part of the Home tab: the portfolio, and how to narrow it or get its chart."""
    return [
        {"type": "divider"},
        section("*The hub's portfolio*"),
        *message_blocks(message),
        context("`/hub portfolio` posts it with a chart; add `department`, `stage`, `risk` or `waiting` to narrow it."),
    ]
