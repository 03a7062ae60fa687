"""`hubspoke export audit` and `hubspoke forget`: the audit trail for auditors, and a person's right to be forgotten."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import sys
from pathlib import Path
from typing import IO

from intake import audit, forget
from intake.errors import HubError, NotFound

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def since_of(text: str, zone: dt.tzinfo) -> dt.datetime:
    """The start of day YYYY-MM-DD in the hub's zone; ValueError for anything else."""
    if not DATE.fullmatch(text.strip()):
        raise ValueError(text)
    return dt.datetime.combine(dt.date.fromisoformat(text.strip()), dt.time(), tzinfo=zone)


def cmd_export_audit(args: argparse.Namespace) -> int:
    """Write the audit trail (from --since, in the hub's time zone) as CSV or JSONL, to a file or stdout."""
    from bot.cli import _core, _settings

    settings = _settings()
    since = None
    if args.since is not None:
        try:
            since = since_of(args.since, settings.zone)
        except ValueError:
            print(f"hubspoke: --since takes a day as YYYY-MM-DD (e.g. 2026-11-02), not {args.since!r}", file=sys.stderr)
            return 2
    suffix = Path(args.output).suffix.lower() if args.output else ""
    fmt = args.format or ("jsonl" if suffix in (".jsonl", ".ndjson") else "csv")
    rows = _core(settings).read(audit.audit_rows, since=since, zone=settings.zone)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                audit.write_audit(out, rows, fmt)
        except OSError as exc:
            print(f"hubspoke: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"exported {plural(len(rows), 'audit event')} to {args.output}", file=sys.stderr)
    else:
        stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            audit.write_audit(stdout, rows, fmt)
        finally:
            stdout.flush()
            stdout.detach()
    return 0


def plural(n: int, thing: str, things: str | None = None) -> str:
    """`1 review`, `2 reviews`."""
    return f"{n:,} {thing if n == 1 else things or thing + 's'}"


# What rewritten rows are, one and several (ForgetReport.rewritten's keys).
REWRITTEN = {
    "audit_events": ("audit event", "audit events"),
    "use_cases": ("use case", "use cases"),
    "reviews": ("review", "reviews"),
    "evidence": ("evidence row of others", "evidence rows of others"),
    "expert_searches": ("expert search", "expert searches"),
    "messages": ("message", "messages"),
}


def format_forget(report: forget.ForgetReport) -> list[str]:
    """What forgetting a person removed and rewrote (or would, on a dry run), a line per kind of change."""
    removed = [
        "their e-mail" if report.email else "",
        plural(report.identities, "platform id") if report.identities else "",
        plural(report.skills, "declared skill") if report.skills else "",
        plural(report.evidence, "evidence row") if report.evidence else "",
        plural(report.expert_asks, "expert suggestion") if report.expert_asks else "",
    ]
    lines = [f"removed: {', '.join(r for r in removed if r) or 'nothing (no personal data was left)'}"]
    if report.outbox_failed:
        lines.append(f"{plural(report.outbox_failed, 'queued message')} to them marked failed")
    if report.rewritten:
        where = ", ".join(plural(n, *REWRITTEN.get(kind, (kind, kind))) for kind, n in report.rewritten.items())
        lines.append(f"their name, e-mail and platform ids replaced with {report.placeholder!r} in {where}")
    if report.links:
        lines.append(f"{plural(report.links, 'link')} naming them removed from use cases")
    if report.open_reviews:
        lines.append(
            f"{plural(report.open_reviews, 'open review')} still assigned to them: a lead reassigns them from the cards"
        )
    return lines


def confirmed(report: forget.ForgetReport, answers: IO[str], prompt: IO[str]) -> bool:
    """Show what forgetting would do and ask; only y or yes goes ahead."""
    terms = ", ".join(repr(t) for t in report.terms) or "nothing"
    print(f"Forgetting person {report.person_id} does this, and cannot be undone:", file=prompt)
    print(f"  text matching {terms} becomes {report.placeholder!r}", file=prompt)
    for line in format_forget(report):
        print(f"  {line}", file=prompt)
    print("Go ahead? [y/N] ", end="", file=prompt, flush=True)
    return answers.readline().strip().lower() in ("y", "yes")


def cmd_forget(args: argparse.Namespace) -> int:
    """Forget a person (after a confirmation, unless --yes); print what was removed."""
    from bot.cli import _core, _settings

    try:
        target = forget.target_from_text(args.person)
    except HubError as exc:
        print(f"hubspoke: {exc.message}", file=sys.stderr)
        return 2
    core = _core(_settings())
    leads = core.settings.hub_leads
    try:
        if not args.yes:
            preview = core.run(forget.forget_person, None, target, configured=leads, dry_run=True)
            if not confirmed(preview, sys.stdin, sys.stderr):
                print("Nothing was changed.", file=sys.stderr)
                return 1
        report = core.run(forget.forget_person, None, target, configured=leads)
    except NotFound as exc:
        print(f"hubspoke: {exc.message}", file=sys.stderr)
        return 2
    except HubError as exc:
        print(f"hubspoke: {exc.message}", file=sys.stderr)
        return 1
    print(f"Forgot person {report.person_id}: they are now {report.placeholder!r}.")
    print("\n".join(format_forget(report)))
    return 0


def add_audit_export(export: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `audit` to `hubspoke export` (the subcommands cli_register's `export` parser holds)."""
    out = export.add_parser("audit", help="every audit event as CSV or JSONL: who, when, what, why")
    out.add_argument(
        "--since", metavar="YYYY-MM-DD", help="events from the start of this day in the hub's time zone (default: all)"
    )
    out.add_argument("--format", choices=audit.AUDIT_FORMATS, help="default: from --output's extension, else csv")
    out.add_argument("--output", "-o", help="a file to write (default: stdout)")
    out.set_defaults(func=cmd_export_audit)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `forget` to the `hubspoke` command."""
    forget_p = sub.add_parser(
        "forget",
        help="remove a person's personal data, keeping the portfolio's history",
        description="Rename a person to a placeholder, remove their e-mail, platform ids, skills and evidence, "
        "and take their name out of stored text (see intake/forget.py).",
    )
    forget_p.add_argument("person", help="a person id (12), an e-mail, or a platform id (slack:U123, teams:29:…)")
    forget_p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    forget_p.set_defaults(func=cmd_forget)
