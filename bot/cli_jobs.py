"""`hubspoke jobs list` and `hubspoke jobs run NAME [--period KEY]`: any job now, through the clock's own path."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from intake.errors import HubError


def cmd_jobs_list(args: argparse.Namespace) -> int:
    from bot.cli import _core, _settings
    from bot.rituals import schedules

    core = _core(_settings())
    now = core.now()
    print("remind_reviews: hourly at :05, reviews waiting past REVIEW_REMINDER_HOURS working hours (built in)")
    print("retros: hourly at :35, follow-up retros RETRO_FOLLOWUP_WEEKS after deployment, reminders (built in)")
    for s in core.read(schedules.list_schedules):
        upcoming = schedules.next_run(s, now)
        when = "paused" if s.paused else f"next {upcoming:%Y-%m-%d %H:%M} UTC" if upcoming else "no next run"
        print(
            f"{s.name}: {s.job}, {s.rule} ({s.tz}) to {s.channel or 'the hub channel'}; {when}; "
            f"last: {s.last_outcome or 'not run yet'}"
        )
    return 0


def cmd_jobs_run(args: argparse.Namespace) -> int:
    from bot.cli import _core, _settings
    from bot.clock import ask_retros, remind_reviews
    from bot.rituals.digest import run_schedule

    built_in = {"remind_reviews": remind_reviews, "retros": ask_retros}
    core = _core(_settings())
    try:
        if args.name in built_in:
            done = built_in[args.name](core)
            print("already ran this hour" if done is None else f"{args.name}: {done}")
            return 0
        print(f"{args.name}: {run_schedule(core, args.name, args.period)}")
    except HubError as exc:
        print(f"hubspoke: {exc.message}", file=sys.stderr)
        return 2
    return 0


def add_commands(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="scheduled jobs: list them, or run one now").add_subparsers(
        dest="what", required=True
    )
    jobs.add_parser("list", help="every job: its schedule, next run and last outcome").set_defaults(func=cmd_jobs_list)
    run = jobs.add_parser("run", help="run a job now, claimed like the clock claims it (never twice a period)")
    run.add_argument("name", help="remind_reviews, retros, or a schedule's name (e.g. digest)")
    run.add_argument("--period", help="the period to run it for (default: now); a period already run is not sent again")
    run.set_defaults(func=cmd_jobs_run)
