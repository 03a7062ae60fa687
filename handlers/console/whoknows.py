"""`/whoknows TOPIC` in the console: the same answer as in Slack, as text."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.conversation import grammar as g
from bot.conversation.answers import ExpertsLater, Said, answer, who_knows_now
from bot.expertise.models import ExpertResult
from handlers.console.admin import render
from handlers.console.render import Rendered, clean
from handlers.console.session import ConsoleSession
from handlers.slack.experts import FRESHNESS, ago
from intake.schema import Stage, Status, label


def render_experts(result: ExpertResult, now: dt.datetime) -> Rendered:
    """People who know the topic, why, how fresh, where they are; then related use cases."""
    if not result.experts:
        return Rendered(
            (
                f"I found nobody with evidence about {clean(result.query)} yet.",
                "Try other words, or declare your own skills with /hub skills add.",
            )
        )
    page = f" (from #{result.offset + 1} of {result.total})" if result.offset else ""
    lines = [f"Who knows {clean(result.query)}{page}"]
    if result.expanded_terms:
        lines.append("Also searched: " + ", ".join(result.expanded_terms[:12]))
    for e in result.experts:
        facts = " · ".join(f for f in (e.department or "", _local(e.tz, now) or "", "away" if e.away else "") if f)
        spread = " (asked less often: worth a try)" if e.spread_pick else ""
        lines.append(f"{e.rank}. {e.name}{spread}" + (f": {facts}" if facts else ""))
        lines += [f"   - {clean(item.label)}, {ago(item.at, now)}" for item in e.evidence]
        if e.latest_at:
            lines.append(f"   newest evidence {ago(e.latest_at, now)} ({FRESHNESS[e.freshness]})")
    if result.single_expert and not result.offset:
        lines.append("Only one person has real evidence on this topic; the hub has been told.")
    if result.related_use_cases:
        lines.append("Related use cases:")
        lines += [
            f"   #{uc.id} {clean(uc.title)}: {label(Stage(uc.stage))} · {label(Status(uc.status))}"
            for uc in result.related_use_cases
        ]
    if result.next_offset is not None:
        lines.append(f"More: /whoknows {clean(result.query)} --from {result.next_offset + 1}")
    return Rendered(tuple(lines))


def _local(tz: str | None, now: dt.datetime) -> str | None:
    try:
        return f"{now.astimezone(ZoneInfo(tz)):%H:%M} their time" if tz else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def handle_whoknows(session: ConsoleSession, text: str) -> None:
    """Answer "who knows X"; `--from N` shows the people from the Nth on."""
    core = session.core
    result = answer(core, session.me(), g.parse(g.WHOKNOWS, text))
    if isinstance(result, ExpertsLater):  # no deadline to answer by here: the question is embedded at once
        result = who_knows_now(core, session.me(), result.topic, result.offset)
    if isinstance(result, ExpertResult):
        session.reply(render_experts(result, core.now()))
        session.deliver()
    elif isinstance(result, Said):
        session.reply(render(result, session.zone()))
