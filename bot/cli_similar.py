"""`hubspoke similar`: the use cases most like a text, to spot duplicates across departments."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from intake.similar import LIKELY_DUPLICATE, Similarity, SimilarUseCase, default_similarity

TITLE_WIDTH = 70
DEPARTMENT_WIDTH = 32


def match_json(m: SimilarUseCase) -> dict[str, Any]:
    """One match as `similar --json` and `--batch` print it."""
    return {
        "id": m.id,
        "source_id": m.source_id,
        "title": m.title,
        "department": m.department,
        "stage": m.stage,
        "status": m.status,
        "score": m.score,
        "likely_duplicate": m.likely_duplicate,
        "closed": m.closed,
        "why": list(m.why),
    }


def _cut(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def format_table(matches: list[SimilarUseCase]) -> str:
    """The matches as a table a person reads: id, department, stage, score, title; likely duplicates starred."""
    if not matches:
        return "no similar use cases"
    rows = [("id", "department", "stage", "score", "title")]
    for m in matches:
        stage = m.stage.replace("_", " ") + (" (rejected)" if m.status == "rejected" else "")
        star = "*" if m.likely_duplicate else " "
        department, title = _cut(m.department, DEPARTMENT_WIDTH), _cut(m.title, TITLE_WIDTH)
        rows.append((f"#{m.id}", department, stage, f"{m.score:.2f}{star}", title))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join([*(r[i].ljust(widths[i]) for i in range(4)), r[4]]).rstrip() for r in rows]
    if any(m.likely_duplicate for m in matches):
        lines.append(f"* likely duplicate (score {LIKELY_DUPLICATE:.2f} or more)")
    return "\n".join(lines)


def _texts(path: Path) -> Iterator[str]:
    """Each non-blank line of a batch file, in order."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield line.strip()


def _fail(message: str) -> int:
    print(f"hubspoke: {message}", file=sys.stderr)
    return 2


def cmd_similar(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the use cases most like a text, or like each line of a batch file (one JSON line each, in order)."""
    from bot.cli import _core, _settings

    out = out or sys.stdout
    text = " ".join(args.text).strip()
    if args.scan:
        if text or args.batch:
            return _fail("--scan compares every use case: give no text or --batch with it")
        from intake.duplicates import scan_all

        checked, linked, clusters = _core(_settings()).run(scan_all)
        out.write(
            f"{checked} use cases compared with other departments'; {linked} have a likely duplicate; "
            f"{clusters} look like one problem in three or more departments. Their cards, receipts and the "
            "portfolio show them; nobody was notified.\n"
        )
        return 0
    if args.batch and text:
        return _fail("give a text or --batch FILE, not both")
    if not args.batch and not text:
        return _fail('say what to compare: hubspoke similar "TEXT"')
    if args.top < 1:
        return _fail("--top must be 1 or more")
    if args.batch and not Path(args.batch).is_file():
        return _fail(f"no such file: {args.batch}")
    core = _core(_settings())
    similarity: Similarity = default_similarity()
    if core.llm is not None and core.llm.enabled:  # by meaning too: no request waits on this command
        from intake.semantic import SemanticSimilarity

        similarity = SemanticSimilarity.from_settings(core.llm, core.settings)
    if args.batch:
        try:
            texts = list(_texts(Path(args.batch)))
        except (OSError, UnicodeDecodeError) as exc:
            return _fail(f"cannot read {args.batch}: {exc}")
        for line in texts:
            matches = core.read(similarity.similar, line, top=args.top)
            row = {"text": line, "matches": [match_json(m) for m in matches]}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return 0
    matches = core.read(similarity.similar, text, title=args.title, top=args.top)
    if args.json:
        out.write(json.dumps([match_json(m) for m in matches], indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(format_table(matches) + "\n")
    return 0


def add_commands(sub: Any) -> None:
    """Register `similar` on the `hubspoke` parser's subcommands."""
    sim = sub.add_parser("similar", help="use cases like a text (duplicates across departments)")
    sim.add_argument("text", nargs="*", help="a title or a description, e.g. invoice triage")
    sim.add_argument("--title", help="the title of the use case the text describes (compared with titles)")
    sim.add_argument("--top", type=int, default=5, help="how many use cases (default 5)")
    sim.add_argument("--json", action="store_true", help="print a JSON array")
    sim.add_argument("--batch", metavar="FILE", help="one text a line; one JSON line per text, in order")
    sim.add_argument(
        "--scan", action="store_true", help="record every use case's likely duplicates (after an import); no notices"
    )
    sim.set_defaults(func=cmd_similar)
