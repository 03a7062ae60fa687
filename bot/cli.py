"""The `hubspoke` command: run the bot, the clock, migrations, and hub set-up from scripts."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot import (
    cli_audit,
    cli_console,
    cli_expertise,
    cli_jobs,
    cli_llm,
    cli_portfolio,
    cli_register,
    cli_similar,
    cli_teams,
    startup,
)
from bot.app import NotConfigured, create_app
from bot.core import Core
from bot.settings import Settings
from intake import guidelines, hub, people
from intake.errors import HubError
from intake.people import SYSTEM, ref_from_handle
from storage.db import upgrade

log = logging.getLogger("hubspoke")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"hubspoke: bad configuration: {problems}") from None


def _core(settings: Settings) -> Core:
    """The core, built by the one composition root (no listeners, no delivery: a CLI command only writes)."""
    return create_app(settings, deliver=False, listen=False).core


def cmd_run(args: argparse.Namespace) -> int:
    """Serve Slack over HTTP (or Socket Mode when SLACK_APP_TOKEN is set) plus /healthz."""
    import anyio.to_thread
    import uvicorn

    from bot.web import build_asgi

    settings = _settings()
    if cli_console.no_platform_credentials(settings) and not args.no_console:
        return cli_console.run_without_platform(settings, verbose=args.verbose)
    if problem := startup.missing_message(settings):
        hint = (
            "Register the bot and put its credentials in the environment or a .env file."
            if "Teams" in problem
            else "Create the Slack app from manifest.json, then put the tokens in the environment or a .env file."
        )
        print(f"hubspoke: {problem}\n{hint}", file=sys.stderr)
        return 2
    if startup.slack_asked(settings):
        startup.check_slack(settings)
    app = create_app(settings)
    if not settings.hub_leads and not app.core.read(hub.list_leads):
        log.warning(
            "the hub has no lead: nobody can run /hub set-up commands. Put your Slack member id (or Teams user "
            "id) in HUB_LEADS, or run `hubspoke hub lead add ID`"
        )
    asgi = build_asgi(app, serve_slack_http=not settings.socket_mode)
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        assert settings.slack_app_token is not None and app.slack is not None
        SocketModeHandler(app.slack, settings.slack_app_token.get_secret_value()).connect()
        log.info("connected to Slack over Socket Mode; /healthz on %s:%s", args.host, args.port)
    elif app.slack is not None:
        log.info("Slack requests at http://%s:%s/slack/events", args.host, args.port)
    if app.teams is not None:
        log.info("Teams requests at http://%s:%s/api/messages", args.host, args.port)
    if app.outbox is None:
        log.info("this process does not deliver the outbox: run `hubspoke worker` beside it (see README, 'At scale')")

    config = uvicorn.Config(asgi, host=args.host, port=args.port, log_level="info", access_log=False)
    server = uvicorn.Server(config)

    async def serve() -> None:
        # Bolt's dispatch holds a worker thread until the listener acks; allow enough of them.
        anyio.to_thread.current_default_thread_limiter().total_tokens = 100
        # Everything loaded so far lives as long as the process: keep it out of the collector's
        # generations, so full collections stay short and do not stall acks.
        gc.freeze()
        # Each request allocates thousands of short-lived objects (ORM rows, JSON); collect the
        # young generation every 20,000 allocations rather than 700, trading a little memory for fewer pauses.
        gc.set_threshold(20_000, 20, 20)
        await server.serve()

    anyio.run(serve)
    return 0


def cmd_clock(_: argparse.Namespace) -> int:
    """Run the scheduler (review reminders); what it sends goes to the outbox."""
    from bot.clock import run_clock

    settings = _settings()
    startup.check_slack(settings)  # what it schedules is sent with this token: refuse a bad one now
    run_clock(create_app(settings, deliver=False, listen=False))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Deliver the outbox until SIGTERM or Ctrl-C, then finish the sends in flight."""
    import signal
    import threading

    settings = _settings()
    missing = [name for name in settings.missing_for_slack() if name == "SLACK_BOT_TOKEN"]
    if missing:
        print("hubspoke: the worker sends to Slack: SLACK_BOT_TOKEN is not set.", file=sys.stderr)
        return 2
    startup.check_slack(settings)
    app = create_app(settings, deliver=True, listen=False)
    assert app.outbox is not None
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    app.outbox.start()
    done.wait()
    log.info("worker stopping: finishing %d send(s) in flight", app.outbox.busy())
    app.outbox.stop()
    return 0


def cmd_db_upgrade(_: argparse.Namespace) -> int:
    settings = _settings()
    upgrade(settings.database_url)
    print("database is up to date")
    return 0


def cmd_hub(args: argparse.Namespace) -> int:
    """Hub set-up from scripts, acting as a lead."""
    core = _core(_settings())
    actor = SYSTEM
    if args.area == "reviewer":
        if args.action == "add":
            skills = [s.strip() for s in (args.skills or "").split(",") if s.strip()]
            p = core.run(hub.add_reviewer, actor, ref_from_handle(args.user_id, args.name), skills=skills)
            print(f"{p.name} ({args.user_id}) is a hub reviewer; skills: {', '.join(p.skills) or 'none'}")
        elif args.action == "remove":
            p, still_open = core.run(hub.remove_reviewer, actor, ref_from_handle(args.user_id))
            print(f"{p.name} is no longer a reviewer; {still_open} open review(s) to reassign")
        else:
            rows = core.read(hub.list_reviewers)
            if args.json:
                print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
            for r in rows if not args.json else []:
                away = " (away)" if r.away else ""
                handles = ",".join(f"{k}:{v}" for k, v in r.handles.items()) or "-"
                print(f"{handles}\t{r.name}{away}\t{', '.join(r.skills)}\t{r.open_reviews} open")
    elif args.area == "lead":
        if args.action == "add":
            p = core.run(hub.add_lead, actor, ref_from_handle(args.user_id))
            print(f"{p.name} is a hub lead")
        elif args.action == "remove":
            p = core.run(hub.remove_lead, actor, ref_from_handle(args.user_id), configured=core.settings.hub_leads)
            print(f"{p.name} is no longer a hub lead")
        else:
            for p in core.read(hub.list_leads):
                print(f"{','.join(f'{k}:{v}' for k, v in p.handles.items()) or '-'}\t{p.name}")
    elif args.area == "department":
        if args.action == "add":
            print(f"added department {core.run(hub.add_department, actor, ' '.join(args.name))}")
        else:
            print("\n".join(core.read(hub.list_departments)))
    elif args.area == "away":
        p = core.run(hub.set_away, actor, ref_from_handle(args.user_id), args.state == "on")
        print(f"{p.name} is {'away' if p.away else 'back'}")
    elif args.area == "guidelines":
        if args.key:
            core.run(guidelines.set_guideline, actor, args.key, " ".join(args.value))
        print(core.read(guidelines.get_guidelines).model_dump_json(indent=2))
    return 0


HANDLE_HELP = "a Slack user id (U012ABCDEF), or platform:id (teams:29:1a2b…, console:rita)"


def cmd_people(args: argparse.Namespace) -> int:
    """Link two platform ids as one person, acting as a lead."""
    core = _core(_settings())
    person = core.run(people.link_people, SYSTEM, ref_from_handle(args.first), ref_from_handle(args.second))
    handles = ", ".join(f"{k}:{v}" for k, v in person.handles.items())
    print(f"{person.name} is one person: {handles}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubspoke", description="The chat bot that runs your AI hub and its spokes.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="serve Slack (HTTP or Socket Mode) and /healthz")
    run.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")), help="default $PORT or 3000")
    run.add_argument(
        "--no-console",
        action="store_true",
        help="without Slack credentials, exit naming them instead of opening the console (deployments)",
    )
    run.set_defaults(func=cmd_run)

    sub.add_parser("clock", help="run scheduled jobs (one process only)").set_defaults(func=cmd_clock)
    sub.add_parser("worker", help="deliver the outbox (as many processes as load needs)").set_defaults(func=cmd_worker)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    hub_p = sub.add_parser("hub", help="set up the hub from scripts")
    areas = hub_p.add_subparsers(dest="area", required=True)
    reviewer = areas.add_parser("reviewer", help="hub reviewers").add_subparsers(dest="action", required=True)
    add = reviewer.add_parser("add", help="make a Slack user a reviewer")
    add.add_argument("user_id", help=HANDLE_HELP)
    add.add_argument("--skills", help="comma-separated skills")
    add.add_argument("--name", help="display name until Slack's profile is read")
    reviewer.add_parser("remove").add_argument("user_id")
    reviewer.add_parser("list").add_argument("--json", action="store_true")
    lead = areas.add_parser("lead", help="hub leads (HUB_LEADS only bootstraps them)")
    lead_actions = lead.add_subparsers(dest="action", required=True)
    lead_actions.add_parser("add", help="make a person a hub lead").add_argument("user_id", help=HANDLE_HELP)
    lead_actions.add_parser("remove", help="take the lead role away").add_argument("user_id", help=HANDLE_HELP)
    lead_actions.add_parser("list", help="the hub's leads")
    dept = areas.add_parser("department", help="departments").add_subparsers(dest="action", required=True)
    dept.add_parser("add").add_argument("name", nargs="+")
    dept.add_parser("list")
    away = areas.add_parser("away", help="mark a person away or back")
    away.add_argument("user_id")
    away.add_argument("state", choices=["on", "off"])
    guide = areas.add_parser("guidelines", help="show, or set KEY VALUE")
    guide.add_argument("key", nargs="?")
    guide.add_argument("value", nargs="*")
    hub_p.set_defaults(func=cmd_hub)
    people_p = sub.add_parser("people", help="people across platforms")
    link = people_p.add_subparsers(dest="action", required=True).add_parser(
        "link", help="make two platform ids one person (e.g. a Slack and a Teams account)"
    )
    link.add_argument("first", help=HANDLE_HELP)
    link.add_argument("second", help=HANDLE_HELP)
    people_p.set_defaults(func=cmd_people)
    cli_console.add_commands(sub)
    cli_register.add_commands(sub)
    cli_audit.add_commands(sub)
    cli_expertise.add_commands(sub)
    cli_similar.add_commands(sub)
    cli_portfolio.add_commands(sub)
    cli_jobs.add_commands(sub)
    cli_teams.add_commands(sub)
    cli_llm.add_commands(sub)
    return parser


# Processes that run until stopped say what they do at INFO; one-off commands print their answer only.
SERVICES = frozenset({"run", "worker", "clock"})


def configure_logging(args: argparse.Namespace) -> None:
    """Quiet by default: warnings only for one-off commands, INFO for services; `--verbose` or LOG_LEVEL for more.

    Migrations, Slack's client and the HTTP stack log every step at INFO: that detail is for
    --verbose, never shown on a plain command.
    """
    chosen = os.environ.get("LOG_LEVEL", "").strip().upper()
    if args.verbose:
        level = logging.DEBUG
    elif chosen in logging.getLevelNamesMapping():
        level = logging.getLevelNamesMapping()[chosen]
    else:
        level = logging.INFO if args.command in SERVICES else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose and not chosen:
        for noisy in ("alembic", "slack_sdk", "slack_bolt", "httpx", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # e.g. `hubspoke export usecases | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except HubError as exc:
        print(f"hubspoke: {exc.message}", file=sys.stderr)
        return 1
    except NotConfigured as exc:
        print(f"hubspoke: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
