"""The portfolio's wording, decided once as notice parts; Slack, the console (and Teams) only format them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from intake.notices import (
    Break,
    Command,
    Message,
    Moment,
    Paragraph,
    Part,
    Plain,
    PortfolioChart,
    Strong,
    Tone,
    UseCaseRef,
)
from intake.portfolio import (
    TYPICAL_WEEKS,
    DigestSummaryNote,
    DuplicatePair,
    Limits,
    Portfolio,
    PortfolioItem,
    ServiceFigures,
    WeekFigure,
)
from intake.schema import Stage, label

TOP_DEPARTMENTS = 8
CHART_SENT = "The chart (the pipeline by stage and department, time to decision by week) follows in your DM."
MAX_DEPARTMENTS = 12  # in the chart: the busiest ones; the rest are summed as "Other departments"


def span(delta: dt.timedelta) -> str:
    """A duration as people say it: "14 hours", "5 days", "3 weeks"."""
    hours = delta.total_seconds() / 3600
    if hours < 48:
        whole = max(int(hours), 0)
        return f"{whole} hour" if whole == 1 else f"{whole} hours"
    days = int(hours // 24)
    if days < 21:
        return f"{days} days"
    return f"{days // 7} weeks"


def _counts(pairs: Iterable[tuple[str, int]]) -> str:
    return " · ".join(f"{name} {n}" for name, n in pairs)


def _use_cases(n: int) -> str:
    return f"{n} use case" if n == 1 else f"{n} use cases"


def _waiting_line(item: PortfolioItem) -> tuple[Part, ...]:
    who = f", with {item.reviewer}" if item.reviewer else ", no reviewer yet"
    return (UseCaseRef(item.id, item.title), Plain(f" ({item.department}): waiting {span(item.age)}{who}"))


def _stale_line(item: PortfolioItem) -> tuple[Part, ...]:
    low, high = TYPICAL_WEEKS[item.stage]
    return (
        UseCaseRef(item.id, item.title),
        Plain(
            f" ({item.department}, {item.owner}): in {label(item.stage).lower()} for {span(item.age)},"
            f" typically {low}-{high} weeks"
        ),
    )


def _lines(title: str, lines: list[tuple[Part, ...]], total: int, empty: str) -> Paragraph:
    if not lines:
        return Paragraph((Strong(title), Plain(": "), Plain(empty)))
    parts: list[Part] = [Strong(title)]
    for line in lines:
        parts += [Break(), Plain("• "), *line]
    if total > len(lines):
        parts += [Break(), Plain(f"… and {total - len(lines)} more")]
    return Paragraph(tuple(parts))


def _duplicate_line(pair: DuplicatePair) -> tuple[Part, ...]:
    said = " · the same, says its submitter" if pair.relation == "same" else ""
    return (
        UseCaseRef(pair.id, pair.title),
        Plain(f" ({pair.department}) and "),
        UseCaseRef(pair.other_id, pair.other_title),
        Plain(f" ({pair.other_department}) · {pair.score:.0%} alike{said}"),
    )


def _figure(what: str, value: dt.timedelta | None, measured: int) -> str:
    return f"{what} {span(value)} (median of {measured})" if value is not None else f"{what}: not measured yet"


def service_paragraph(figures: ServiceFigures) -> Paragraph:
    """The hub's own service figures, over recent chat submissions."""
    days = figures.window.days
    if not figures.submitted:
        return Paragraph((Strong("Service"), Plain(f": no submissions in chat in the last {days} days.")), small=True)
    share = figures.self_serve_share or 0.0
    words = "; ".join(
        [
            _figure("first review", figures.to_first_review, figures.reviews_measured),
            _figure("decision", figures.to_decision, figures.decisions_measured),
            _figure("idea to production", figures.idea_to_production, figures.production_measured),
            f"{share:.0%} went ahead self-serve",
        ]
    )
    head = f" ({_use_cases(figures.submitted)} submitted in chat): "
    return Paragraph((Strong(f"Service over the last {days} days"), Plain(f"{head}{words}.")), small=True)


def limits_paragraph(limits: Limits) -> Paragraph:
    """Work in progress against the hub's limit, and the share of experimental work against its target band."""
    if limits.wip_limit:
        over = " — over the limit" if limits.over_wip else ""
        wip = f"{limits.in_progress} in active stages, limit {limits.wip_limit}{over}"
    else:
        wip = f"{limits.in_progress} in active stages (no limit set: /hub guidelines set wip_limit 30)"
    low, high = limits.band
    share = limits.innovation_share
    if share is None:
        innovation = f"no live use cases yet (target {low}-{high}% experimental)"
    else:
        outside = " — outside the target" if limits.innovation_outside_band else ""
        innovation = f"{share:.0%} of {_use_cases(limits.live)} live still experimental (target {low}-{high}%){outside}"
    tone = Tone.WARNING if limits.over_wip or limits.innovation_outside_band else None
    parts = (Strong("Limits"), Plain(f": work in progress {wip}"), Break(), Plain(f"Innovation: {innovation}."))
    return Paragraph(parts, tone=tone)


def over_wip_text(limits: Limits) -> str | None:
    """What a submitter is told when the hub has taken on more than its limit (None when it has not)."""
    if not limits.over_wip:
        return None
    return (
        f"The hub has {limits.in_progress} use cases in active stages, over its limit of {limits.wip_limit}: "
        "its reviews and support may take longer than usual."
    )


def compose_portfolio(view: Portfolio, *, in_channel: bool = False) -> Message:
    """A lead's portfolio as a message: headline counts, breakdowns, what waits, what is stuck, how the hub does."""
    narrowed = view.filter.describe()
    where = f" ({', '.join(narrowed)})" if narrowed else ""
    headline = (
        f"{_use_cases(view.total)}{where}: {view.in_flight} in flight, "
        f"{view.waiting_total} waiting for review, {view.stale_total} stale"
    )
    summary: tuple[Part, ...] = (Plain(f"Portfolio: {headline}"),)
    if not view.total:
        lead = Paragraph((Plain(f"No use cases{where} yet."),))
        hint = Paragraph((Plain("Spokes submit with "), Command("/usecase"), Plain(".")), small=True)
        return Message(summary, lead, (hint,), title=(Plain("Portfolio" + where),))

    departments = list(view.by_department.items())
    shown = departments[:TOP_DEPARTMENTS]
    more = f" · and {len(departments) - len(shown)} more" if len(departments) > len(shown) else ""
    breakdown = Paragraph(
        (
            Strong("By stage"),
            Plain(": " + _counts((label(st), n) for st, n in view.by_stage.items())),
            Break(),
            Strong("By status"),
            Plain(": " + _counts((label(st), n) for st, n in view.by_status.items())),
            Break(),
            Strong("By risk"),
            Plain(": " + _counts((label(r), n) for r, n in view.by_risk.items())),
            Break(),
            Strong("By department"),
            Plain(": " + _counts(shown) + more),
        )
    )
    waiting = _lines(
        "Oldest waiting reviews",
        [_waiting_line(i) for i in view.waiting],
        view.waiting_total,
        "none, the queue is empty.",
    )
    stale = _lines(
        "Stale: longer in their stage than it typically takes",
        [_stale_line(i) for i in view.stale],
        view.stale_total,
        "none.",
    )
    dupes = _lines(
        "Likely duplicates across departments",
        [_duplicate_line(p) for p in view.duplicates],
        view.duplicates_total,
        "none found.",
    )
    rest = [breakdown, waiting, stale, dupes, service_paragraph(view.figures)]
    if view.limits is not None:
        rest.insert(3, limits_paragraph(view.limits))
    if view.summary is not None and not in_channel:  # a digest carries its own
        rest[:0] = summary_paragraphs(view.summary)
    if in_channel:  # a digest: the lists are cut short, the Home tab and the command have them all
        rest.append(
            Paragraph(
                (
                    Plain("Every use case and the full lists: Hubspoke's Home tab, or "),
                    Command(
                        "/hub portfolio" + (f" department {view.filter.department}" if view.filter.department else "")
                    ),
                    Plain("."),
                ),
                small=True,
            )
        )
    elif view.filter.empty:
        rest.append(
            Paragraph(
                (
                    Plain("Narrow it: "),
                    Command("/hub portfolio department Finance"),
                    Plain(", "),
                    Command("stage deployment"),
                    Plain(", "),
                    Command("risk high"),
                    Plain(", "),
                    Command("waiting"),
                    Plain("."),
                ),
                small=True,
            )
        )
    tone = Tone.WARNING if view.stale_total or view.waiting_total else None
    lead = Paragraph((Strong(headline[0].upper() + headline[1:]),), tone=tone)
    return Message(summary, lead, tuple(rest), title=(Plain("Portfolio" + where),))


def summary_paragraphs(note: DigestSummaryNote) -> list[Paragraph]:
    """The last digest's summary from the model, marked as such, with the figures it was written from."""
    return [
        Paragraph((Strong("Summary of the last digest"), Plain(" ("), Moment(note.at), Plain("): "), Plain(note.text))),
        Paragraph(
            (Plain("Written by the AI from these figures only: " + note.figures.replace("\n", "; ")),), small=True
        ),
    ]


def chart_notice(view: Portfolio, trend: list[WeekFigure]) -> PortfolioChart:
    """The portfolio's picture, to send to the person who asked: the same figures as its words."""
    narrowed = view.filter.describe()
    where = f" ({', '.join(narrowed)})" if narrowed else ""
    title = f"Portfolio{where} on {view.at.date().isoformat()}"
    pipeline = {d: dict(stages) for d, stages in view.pipeline.items()}
    return PortfolioChart(
        title=title, at=view.at, pipeline=pipeline, trend=trend, alt=portfolio_alt_text(pipeline, trend)
    )


def portfolio_alt_text(pipeline: dict[str, dict[Stage, int]], trend: list[WeekFigure]) -> str:
    """The chart in words, with the same numbers."""
    parts = []
    for department, stages in top_departments(pipeline).items():
        counts = ", ".join(f"{n} {label(st).lower()}" for st, n in stages.items())
        parts.append(f"{department}: {counts}")
    live = "; ".join(parts) if parts else "none"
    decided = [w for w in trend if w.decisions]
    if decided:
        unit, per_day = trend_unit(trend)
        weekly = "; ".join(
            f"week of {w.week.strftime('%d %b')}: {w.median_days * per_day:.1f} {unit} over {w.decisions}"
            + (" decision" if w.decisions == 1 else " decisions")
            for w in decided
            if w.median_days is not None
        )
    else:
        weekly = f"no decisions in the last {len(trend)} weeks"
    return f"Live use cases by department and stage: {live}. Median time to decision by week: {weekly}."


def trend_unit(trend: list[WeekFigure]) -> tuple[str, float]:
    """Hours when every weekly median is under two days (a fast hub), else days; and how many make a day."""
    longest = max((w.median_days for w in trend if w.median_days is not None), default=0.0)
    return ("hours", 24.0) if longest < 2 else ("days", 1.0)


def top_departments(pipeline: dict[str, dict[Stage, int]]) -> dict[str, dict[Stage, int]]:
    ranked = sorted(pipeline.items(), key=lambda kv: (-sum(kv[1].values()), kv[0].lower()))
    top = dict(ranked[:MAX_DEPARTMENTS])
    rest = ranked[MAX_DEPARTMENTS:]
    if rest:
        other: dict[Stage, int] = {}
        for _, stages in rest:
            for stage, n in stages.items():
                other[stage] = other.get(stage, 0) + n
        top[f"Other departments ({len(rest)})"] = {st: other[st] for st in Stage if st in other}
    return top
