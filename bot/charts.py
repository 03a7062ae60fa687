"""The portfolio as a picture: the pipeline by stage and department, and time to decision week by week.

Drawn once here as a PNG with matplotlib (object API and the Agg canvas: no pyplot global state, safe on
any thread) and shown by each surface its own way: uploaded to Slack, saved to a file in the console.
Every chart carries alt text that states the same numbers, for screen readers and for anyone who would
rather read than look.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from intake.notices import PortfolioChart
from intake.portfolio_words import top_departments, trend_unit
from intake.schema import Stage, label

# Okabe-Ito: distinguishable with every common colour-vision deficiency, in lifecycle order.
STAGE_COLOURS = {
    Stage.IDEATION: "#E69F00",
    Stage.EXPERIMENTATION: "#56B4E9",
    Stage.PRODUCTION_ENGINEERING: "#009E73",
    Stage.DEPLOYMENT: "#0072B2",
    Stage.MONITORING: "#CC79A7",
    Stage.CLOSED: "#999999",
}


@dataclass(frozen=True)
class Chart:
    """A rendered picture: PNG bytes, a file name, a title and alt text with the same numbers."""

    png: bytes
    filename: str
    title: str
    alt: str


def draw_portfolio(notice: PortfolioChart) -> Chart:
    """Two panels: live use cases by department and stage (stacked bars), and median time to decision by week."""
    pipeline = top_departments(notice.pipeline)
    trend = notice.trend
    figure = Figure(figsize=(10, 4.8 + 0.18 * len(pipeline)), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, width_ratios=(3, 2))

    departments = list(pipeline)[::-1]  # the busiest at the top
    offsets = [0] * len(departments)
    stages = [st for st in Stage if any(pipeline[d].get(st) for d in departments)]
    for stage in stages:
        counts = [pipeline[d].get(stage, 0) for d in departments]
        left.barh(departments, counts, left=offsets, color=STAGE_COLOURS[stage], label=label(stage))
        offsets = [o + c for o, c in zip(offsets, counts, strict=True)]
    left.set_title("Live use cases by department and stage")
    left.set_xlabel("Use cases")
    left.set_ylabel("Department")
    if stages:  # below the bars, never over them
        left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize="small", frameon=False)
    else:
        left.text(0.5, 0.5, "No live use cases", ha="center", va="center", transform=left.transAxes)
    left.xaxis.get_major_locator().set_params(integer=True)

    weeks = [w.week.strftime("%d %b") for w in trend]
    unit, per_day = trend_unit(trend)
    medians = [w.median_days * per_day if w.median_days is not None else 0.0 for w in trend]
    bars = right.bar(weeks, medians, color="#0072B2")
    for bar, week in zip(bars, trend, strict=True):
        if week.decisions:
            right.annotate(
                f"{week.decisions}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize="x-small",
            )
    right.set_title(f"Median {unit} to decision, by week\n(number of decisions above each bar)")
    right.set_xlabel("Week starting")
    right.set_ylabel(f"{unit.capitalize()} from submission")
    right.tick_params(axis="x", labelrotation=60, labelsize="small")

    figure.suptitle(notice.title, fontsize="large")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    slug = re.sub(r"[^a-z0-9]+", "-", notice.title.lower()).strip("-")[:80]  # "portfolio-department-finance-on-…"
    name = f"hubspoke-{slug}-{notice.at.strftime('%H%M%S')}.png"
    return Chart(png=buffer.getvalue(), filename=name, title=notice.title, alt=notice.alt)
