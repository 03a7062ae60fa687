"""`hubspoke portfolio`: the lead's view in a terminal or a script, with its chart as a PNG file."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

from intake.errors import HubError
from intake.portfolio import Portfolio, decision_trend, portfolio
from intake.portfolio_words import chart_notice, compose_portfolio


def _jsonable(value: Any) -> Any:
    """The portfolio's dataclasses as JSON: enums by value, times as ISO 8601, durations in hours."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {(k.value if isinstance(k, Enum) else str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "total_seconds"):
        return round(value.total_seconds() / 3600, 2)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def portfolio_json(view: Portfolio) -> dict[str, Any]:
    """The portfolio as `portfolio --json` prints it (durations in hours)."""
    data: dict[str, Any] = _jsonable(view)
    data["in_flight"] = view.in_flight
    return data


def cmd_portfolio(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the portfolio (narrowed as asked), as text or JSON; with --chart, write its picture too."""
    from bot.charts import draw_portfolio
    from bot.cli import _core, _settings
    from bot.conversation.grammar import parse_portfolio_filter
    from handlers.console.admin import render_message

    out = out or sys.stdout
    words = []
    for key in ("department", "stage", "risk"):
        if getattr(args, key):
            words += [key, getattr(args, key)]
    if args.waiting:
        words.append("waiting")
    try:
        filt = parse_portfolio_filter(" ".join(words))
    except HubError as exc:
        print(f"hubspoke: {exc.message}", file=sys.stderr)
        return 2
    core = _core(_settings())
    now = core.now()
    view = core.read(portfolio, now=now, filt=filt)
    if args.json:
        out.write(json.dumps(portfolio_json(view), indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(render_message(compose_portfolio(view), core.zone_of(None)).text() + "\n")
    if args.chart:
        chart = draw_portfolio(chart_notice(view, core.read(decision_trend, now=now)))
        Path(args.chart).write_bytes(chart.png)
        print(f"chart written to {args.chart} ({chart.alt})", file=sys.stderr)
    return 0


def add_commands(sub: Any) -> None:
    """Register `portfolio` on the `hubspoke` parser's subcommands."""
    p = sub.add_parser("portfolio", help="the hub's portfolio: counts, waiting reviews, stale use cases, service")
    p.add_argument("--department", help="only this department")
    p.add_argument("--stage", help="only this stage (ideation ... monitoring, closed)")
    p.add_argument("--risk", help="only this risk tier (low, medium, high)")
    p.add_argument("--waiting", action="store_true", help="only use cases waiting for review")
    p.add_argument("--json", action="store_true", help="print JSON (durations in hours)")
    p.add_argument("--chart", metavar="FILE.png", help="also write the chart as a PNG")
    p.set_defaults(func=cmd_portfolio)
