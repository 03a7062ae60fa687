"""Safe mrkdwn: escape user text, mention people, and show times in each reader's time zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit

from intake.notices import Command, Em, Mention, Moment, Part, Plain, Quote, Strong, UseCaseRef
from intake.people import SLACK


def escape(text: str | None) -> str:
    """Escape &, < and > so user text can never ping a channel, mention a user or forge a link."""
    if not text:
        return ""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(slack_user_id: str | None, fallback: str) -> str:
    """A user mention when the Slack id is known, else the escaped name."""
    return f"<@{slack_user_id}>" if slack_user_id else escape(fallback)


def when(moment: dt.datetime) -> str:
    """A time Slack renders in each reader's own time zone, with a UTC fallback."""
    epoch = int(moment.timestamp())
    fallback = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def clip(text: str, limit: int) -> str:
    """Shorten (escaped) text to fit a Block Kit limit, marking the cut and never splitting an entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def quote(text: str | None) -> str:
    """User text as an escaped mrkdwn block quote."""
    return "\n".join(f"> {line}" if line else ">" for line in escape(text).splitlines())


def link(url: str, label: str | None = None) -> str:
    """A mrkdwn link labelled by its host (or `label`); characters that would end or split it are encoded.

    Labelling by host means a link can never show one address and open another.
    """
    safe_url = url_quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    host = urlsplit(url).hostname or "link"
    return f"<{escape(safe_url)}|{escape(label or host)}>"


def mrkdwn(parts: Iterable[Part]) -> str:
    """Composed words as mrkdwn: every piece of text escaped, people mentioned, times in the reader's zone."""
    out: list[str] = []
    for p in parts:
        if isinstance(p, Plain):
            out.append(escape(p.text))
        elif isinstance(p, Strong):
            out.append(f"*{escape(p.text)}*" if p.text.strip() else escape(p.text))
        elif isinstance(p, Em):
            out.append(f"_{clip(escape(p.text), 300)}_" if p.text.strip() else "")
        elif isinstance(p, Mention):
            out.append(mention(p.person.handle(SLACK), p.person.name) if p.person else escape(p.fallback))
        elif isinstance(p, UseCaseRef):
            out.append(f"#{p.id} *{clip(escape(p.title), 200)}*")
        elif isinstance(p, Command):
            out.append(f"`{escape(p.text)}`")
        elif isinstance(p, Moment):
            out.append(when(p.at))
        elif isinstance(p, Quote):
            out.append(("\n" if out else "") + quote(p.text))
        else:
            out.append("\n")
    return "".join(out)
