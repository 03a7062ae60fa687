"""The console's "who knows X" answer reads as plain text: people, why, freshness, related use cases."""

from __future__ import annotations

import datetime as dt

from bot.expertise.models import EvidenceView, Expert, ExpertResult, Freshness, RelatedUseCase
from handlers.console.whoknows import render_experts

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


def expert(rank: int, name: str, **over: object) -> Expert:
    item = EvidenceView(
        id=rank,
        kind="reviewed",
        label="Reviewed use case #3: Forecast volumes",
        text="",
        at=NOW - dt.timedelta(days=21),
        age_days=21,
        score=1.0,
    )
    data: dict[str, object] = {
        "rank": rank,
        "person_id": rank,
        "name": name,
        "score": 1.0,
        "evidence": [item],
        "evidence_count": 1,
        "kinds": {"reviewed": 1},
        "latest_at": item.at,
        "freshness": Freshness.FRESH,
    }
    data.update(over)
    return Expert.model_validate(data)


def test_answer_lists_people_with_why_and_where() -> None:
    result = ExpertResult(
        query="time series",
        as_of=NOW,
        expanded_terms=["forecasting"],
        total=7,
        next_offset=2,
        bus_factor=2,
        single_expert=False,
        experts=[expert(1, "Rita", department="Finance", tz="Europe/Paris", away=True), expert(2, "Omar")],
        related_use_cases=[
            RelatedUseCase(
                id=3,
                title="Forecast volumes",
                stage="deployment",
                status="approved",
                owner_person_id=9,
                owner_name="Sam",
            )
        ],
    )
    text = render_experts(result, NOW).text()
    assert text.splitlines() == [
        "Who knows time series",
        "Also searched: forecasting",
        "1. Rita: Finance · 13:00 their time · away",
        "   - Reviewed use case #3: Forecast volumes, 3 weeks ago",
        "   newest evidence 3 weeks ago (fresh)",
        "2. Omar",
        "   - Reviewed use case #3: Forecast volumes, 3 weeks ago",
        "   newest evidence 3 weeks ago (fresh)",
        "Related use cases:",
        "   #3 Forecast volumes: Deployment · Approved",
        "More: /whoknows time series --from 3",
    ]


def test_nobody_found_says_what_to_do() -> None:
    result = ExpertResult(query="quantum", as_of=NOW, experts=[], total=0, bus_factor=0, single_expert=False)
    assert "nobody with evidence about quantum" in render_experts(result, NOW).text()
