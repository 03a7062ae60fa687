"""`hubspoke whoknows` and `hubspoke expertise ...`: ask the expertise index, import evidence, manage skills."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from bot.core import Core
from bot.expertise import skills
from bot.expertise.importer import import_evidence
from bot.expertise.models import ExpertResult
from intake.errors import HubError
from intake.people import SYSTEM, ref_from_handle
from storage import evidence


def _core() -> Core:
    from bot.cli import _core as core_of
    from bot.cli import _settings

    return core_of(_settings())


def _as_of(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise HubError(f"'{value}' is not an ISO-8601 time, e.g. 2026-11-02T09:30:00Z.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def result_json(result: ExpertResult) -> dict[str, Any]:
    """One query's answer as the JSON `whoknows --json` and `--batch` print."""
    return result.model_dump(mode="json")


def _batch_queries(path: Path) -> Iterator[tuple[int, str, dt.datetime | None, int | None]]:
    """(line, query, as_of, top) for each non-blank line: plain text, or {"query", "as_of"?, "top"?}."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            raw = line.strip()
            if not raw:
                continue
            if raw.startswith("{"):
                try:
                    item = json.loads(raw)
                    yield number, str(item["query"]), _as_of(item.get("as_of")), item.get("top")
                    continue
                except (json.JSONDecodeError, KeyError, TypeError):
                    pass  # not a query object: take the line as text
            yield number, raw, None, None


def cmd_whoknows(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Answer "who knows X" for one query, or for every line of a batch file (one JSON line each, in order)."""
    out = out or sys.stdout
    core = _core()
    index = core.expertise  # with an LLM endpoint, questions are embedded and read into the taxonomy too
    as_of = _as_of(args.as_of)

    def ask(query: str, when: dt.datetime | None, top: int) -> ExpertResult:
        """One answer, in its own unit of work (recording asks only with --record)."""
        u = index.understand(query)  # before the transaction: it may wait on the endpoint
        with core.uow() as uow:
            return index.find_experts(
                uow,
                query,
                top=top,
                offset=args.offset,
                record_asks=args.record,
                vector=u.vector,
                expansion=u.expansion,
                now=when or as_of or core.now(),
            )

    if args.batch:
        for number, query, when, top in _batch_queries(Path(args.batch)):
            try:
                row = {"line": number, **result_json(ask(query, when, int(top or args.top)))}
            except HubError as exc:
                row = {"line": number, "query": query, "error": exc.message, "experts": []}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return 0
    result = ask(" ".join(args.text), None, args.top)
    if args.json:
        out.write(json.dumps(result_json(result), indent=2, ensure_ascii=False) + "\n")
        return 0
    _print_result(result, out)
    return 0


def _print_result(result: ExpertResult, out: TextIO) -> None:
    if result.concepts:
        out.write(f"topic: {', '.join(result.concepts)} (also searched: {', '.join(result.expanded_terms[:8])})\n")
    if not result.experts:
        out.write("nobody has evidence for that yet\n")
    for e in result.experts:
        where = " · ".join(x for x in (e.department, e.tz, "away" if e.away else None) if x)
        extra = " (spreading the load)" if e.spread_pick else ""
        out.write(f"{e.rank}. {e.name} [{e.person_id}] score {e.score:.3f} · {e.freshness.value}{extra}\n")
        if where:
            out.write(f"   {where}\n")
        for ev in e.evidence:
            out.write(f"   - {ev.label} ({ev.at.date().isoformat()})\n")
    if result.single_expert:
        out.write("only one person has substantial evidence for this topic (bus factor of one)\n")
    for uc in result.related_use_cases:
        out.write(f"related: #{uc.id} {uc.title} ({uc.stage}, {uc.owner_name})\n")
    if result.next_offset is not None:
        out.write(f"more: --offset {result.next_offset} ({result.total} people in all)\n")


def cmd_import(args: argparse.Namespace) -> int:
    """Import evidence from a JSON Lines file."""
    core = _core()
    with Path(args.file).open(encoding="utf-8") as fh, core.uow() as uow:
        report = import_evidence(uow, fh, now=core.now())
    for problem in report.problems:
        print(f"{args.file}:{problem.line}: {problem.error}", file=sys.stderr)
    print(
        f"{report.created} created, {report.updated} updated, {report.people_created} people created, "
        f"{len(report.problems)} line(s) skipped"
    )
    return 1 if report.problems and not (report.created or report.updated) else 0


def cmd_rebuild(_: argparse.Namespace) -> int:
    """Derive evidence from the use cases (imported ones for their owners), decisions, stages and skills stored."""
    core = _core()
    with core.uow() as uow:
        touched = evidence.rederive(uow.session, core.now())
        uow.commit()
    print(f"{touched} evidence row(s) derived")
    return 0


def cmd_skills(args: argparse.Namespace) -> int:
    """Add, remove or list a person's declared skills, acting as a hub lead."""
    core = _core()
    names = skills.parse_skills(" ".join(args.skills or []))
    if args.action == "add":
        view = core.run(skills.add_skills, SYSTEM, names, target=ref_from_handle(args.user_id))
    elif args.action == "remove":
        view = core.run(skills.remove_skills, SYSTEM, names, target=ref_from_handle(args.user_id))
    else:
        view = core.read(skills.list_skills, SYSTEM, target=ref_from_handle(args.user_id))
    print(f"{view.name} ({args.user_id}): {', '.join(view.skills) or 'no skills'}")
    return 0


def add_commands(sub: Any) -> None:
    """Register `whoknows` and `expertise` on the `hubspoke` parser's subcommands."""
    who = sub.add_parser("whoknows", help="who knows about a topic (the expertise index)")
    who.add_argument("text", nargs="*", help="the topic, e.g. natural language processing")
    who.add_argument("--top", type=int, default=5, help="how many people (default 5)")
    who.add_argument("--offset", type=int, default=0, help="skip this many (show more)")
    who.add_argument("--json", action="store_true", help="print JSON")
    who.add_argument("--batch", metavar="FILE", help="one query a line; one JSON line per query, in order")
    who.add_argument("--as-of", help="answer as of this ISO-8601 time (evidence after it is ignored)")
    who.add_argument("--record", action="store_true", help="record the people shown as suggested")
    who.set_defaults(func=_whoknows)

    exp = sub.add_parser("expertise", help="the expertise index: import evidence, rebuild, skills")
    areas = exp.add_subparsers(dest="area", required=True)
    imp = areas.add_parser("import", help="import evidence from a JSON Lines file")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_import)
    areas.add_parser("rebuild", help="derive evidence from what is stored").set_defaults(func=cmd_rebuild)
    sk = areas.add_parser("skills", help="declared skills of a person")
    sk.add_argument("action", choices=["add", "remove", "list"])
    sk.add_argument("user_id", help="a Slack user id (U012ABCDEF), or platform:id (console:rita)")
    sk.add_argument("skills", nargs="*", help="comma-separated skills")
    sk.set_defaults(func=cmd_skills)


def _whoknows(args: argparse.Namespace) -> int:
    if not args.batch and not args.text:
        raise HubError("Say what to look for: hubspoke whoknows forecasting")
    return cmd_whoknows(args)
