"""Pure Block Kit builders for "who knows X": people, why, how fresh, where they are; and the bus-factor notice."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.expertise.models import Expert, ExpertResult, Freshness
from handlers.slack.blocks import Blocks, button, context, section
from handlers.slack.ids import Action
from handlers.slack.mrkdwn import clip, escape, link, mention
from intake.people import SLACK
from intake.schema import Stage, Status, label

FRESHNESS = {Freshness.FRESH: "fresh", Freshness.RECENT: "within a year", Freshness.STALE: "older than a year"}


def ago(moment: dt.datetime, now: dt.datetime) -> str:
    """`today`, `3 days ago`, `5 weeks ago`, `2 years ago`."""
    days = max(0, (now - moment).days)
    if days == 0:
        return "today"
    if days < 14:
        return f"{days} day{'s' if days > 1 else ''} ago"
    if days < 60:
        return f"{days // 7} weeks ago"
    if days < 730:
        return f"{days // 30} months ago"
    return f"{days // 365} years ago"


def local_time(tz: str | None, now: dt.datetime) -> str | None:
    """The person's own local time now, e.g. `14:05 in Europe/Berlin`."""
    if not tz:
        return None
    try:
        return f"{now.astimezone(ZoneInfo(tz)):%H:%M} their time ({tz})"
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _expert(e: Expert, now: dt.datetime) -> list[dict[str, Any]]:
    facts = [escape(e.department) if e.department else None, local_time(e.tz, now)]
    if e.away:
        facts.append(":palm_tree: away")
    head = f"*{e.rank}.* {mention(e.handles.get(SLACK), e.name)}"
    if e.spread_pick:
        head += " _(asked less often: worth a try)_"
    reasons = []
    for item in e.evidence:
        line = f"• {escape(item.label)}"
        if item.url:
            line += f" ({link(item.url)})"
        reasons.append(f"{line}, {ago(item.at, now)}")
    more = e.evidence_count - len(e.evidence)
    if more > 0:
        reasons.append(f"• …and {more} more")
    fresh = f"newest evidence {ago(e.latest_at, now)} ({FRESHNESS[e.freshness]})" if e.latest_at else ""
    line = " · ".join(f for f in facts if f)
    return [
        section(clip("\n".join(part for part in (head, line, *reasons) if part), 3000)),
        context(fresh or "no dated evidence"),
    ]


def show_more_value(query: str, offset: int) -> str:
    """The "show more" button's value: the query and where the next page starts."""
    return json.dumps({"q": query[:300], "o": offset})


def build_experts(result: ExpertResult, now: dt.datetime) -> tuple[str, Blocks]:
    """The answer to "who knows X": the people, why, and related use cases, within Slack's limits."""
    topic = escape(result.query)
    if not result.experts:
        text = f"I found nobody with evidence about *{clip(topic, 200)}* yet."
        tip = "Try other words, or declare your own skills with `/hub skills add`."
        return f"Nobody found for {clip(topic, 200)}", [section(text), context(tip)]
    first = result.offset + 1
    last = result.offset + len(result.experts)
    head = f"*Who knows {clip(topic, 200)}*"
    if result.offset:
        head += f" (people {first} to {last} of {result.total})"
    blocks: Blocks = [section(head)]
    if result.expanded_terms:
        blocks.append(context("Also searched: " + escape(", ".join(result.expanded_terms[:12]))))
    for expert in result.experts:
        blocks.extend(_expert(expert, now))
    if result.single_expert and not result.offset:
        blocks.append(context(":warning: Only one person has real evidence on this topic; the hub has been told."))
    if result.related_use_cases:
        lines = [
            f"• #{uc.id} *{clip(escape(uc.title), 150)}*: {escape(uc.department or '')} · "
            f"{label(Stage(uc.stage))} · {label(Status(uc.status))} · {escape(uc.owner_name)}"
            for uc in result.related_use_cases
        ]
        blocks.append(section("*Related use cases*\n" + "\n".join(lines)))
    if result.next_offset is not None:
        value = show_more_value(result.query, result.next_offset)
        blocks.append({"type": "actions", "elements": [button("Show more", Action.WHOKNOWS_MORE, value)]})
    names = ", ".join(e.name for e in result.experts)
    return f"Who knows {clip(topic, 200)}: {escape(names)}", blocks[:50]
