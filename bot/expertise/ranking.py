"""Ranking people from scored evidence: kind weights, recency decay, activity, load spreading, bus factor."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.evidence import BUILT_STAGES, Kind
from storage.models import ExpertAsk, UseCase
from storage.search import TextHit

DEFAULT_KIND_WEIGHTS = {
    "declared_skill": 0.5,  # saying so is weaker evidence than doing it
    "submitted": 1.0,
    "reviewed": 0.8,
    "built": 1.5,
    "showcase": 1.3,
    "retro": 1.0,
    "imported": 1.0,
    "owned": 1.0,  # owning an imported use case counts as submitting it...
    "owned_built": 1.5,  # ...and as building it once it is past experimentation (storage.evidence.BUILT_STAGES)
}
OWNED_BUILT = "owned_built"  # the weight of `owned` evidence on a use case in a built stage


class RankingConfig(BaseModel):
    """The knobs of the ranking; the defaults suit a hub, the benchmark reports its own."""

    model_config = ConfigDict(extra="forbid")  # a misspelt EXPERTISE_RANKING key fails loudly

    half_life_days: float = Field(default=365.0, gt=0)  # evidence counts half after this long
    kind_weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS))
    tag_weight: float = Field(default=3.0, ge=0)  # a word in the tags counts this many times one in the text
    synonym_weight: float = Field(default=0.8, ge=0)  # taxonomy synonyms of the query's terms
    related_weight: float = Field(default=0.3, ge=0)  # taxonomy related terms
    relevance_power: float = Field(default=1.0, ge=0)  # 1: sum text scores; 0: count matching items
    activity_weight: float = Field(default=0.3, ge=0)  # for breadth: how much matching evidence, however well
    hit_limit: int = Field(default=300, gt=0)  # evidence rows each scorer returns
    # With embeddings (bot.expertise.scoring.SemanticScorer): a nearest item's 0..1 likeness counts this many
    # full-text score points (a strong text match scores 20 to 30); cosines at or below the floor are no likeness.
    # Chosen with bench/whoknows_quality.py --embeddings (time on), where any weight did about as well.
    semantic_weight: float = Field(default=1.0, ge=0)
    semantic_floor: float = Field(default=0.35, ge=-1, lt=1)
    ask_window_days: float = Field(default=30.0, gt=0)
    ask_penalty: float = Field(default=0.05, ge=0)  # score lost per recent suggestion...
    max_ask_penalty: float = Field(default=0.3, ge=0, le=1)  # ...up to this share
    spread: bool = True  # the first page always shows someone beyond the page's worth of most-asked people
    usual_min_asks: int = Field(default=2, ge=1)  # asks within the window that make someone a usual name
    spread_min_share: float = Field(default=0.25, ge=0)  # a spread pick's relevance, as a share of the top's
    expert_share: float = Field(default=0.25, gt=0)  # counts toward the bus factor at this share of the top


def decay(age_days: float, half_life_days: float) -> float:
    """The weight of evidence `age_days` old: 1 when new, halving every half-life."""
    return 0.5 ** (max(age_days, 0.0) / half_life_days)


@dataclass
class Candidate:
    """A person with matching evidence, their contributions and their final score."""

    person_id: int
    relevance: float = 0.0  # how well their evidence matches: text score x kind x weight x recency, summed
    activity: float = 0.0  # how much of it there is: kind x weight x recency, summed
    score: float = 0.0
    hits: list[tuple[TextHit, float]] = field(default_factory=list)  # (hit, contribution)
    recent_asks: int = 0
    spread_pick: bool = False


@dataclass
class Ranking:
    """Everyone who matched, best first, with the bus factor of the topic (counted before anyone is left out)."""

    candidates: list[Candidate]
    bus_factor: int
    sole: Candidate | None = None  # the one person with substantial evidence, when the bus factor is one


def _built(session: Session, hits: list[TextHit]) -> set[int]:
    """The use cases behind `owned` hits that are in a built stage (looked up now: stages move)."""
    ids = {h.use_case_id for h in hits if h.kind == Kind.OWNED.value and h.use_case_id is not None}
    if not ids:
        return set()
    stmt = select(UseCase.id).where(UseCase.id.in_(ids), UseCase.stage.in_(BUILT_STAGES))
    return set(session.scalars(stmt))


def _kind_weight(hit: TextHit, config: RankingConfig, built: set[int]) -> float:
    if hit.kind == Kind.OWNED.value and hit.use_case_id in built:
        return config.kind_weights.get(OWNED_BUILT, 1.0)
    return config.kind_weights.get(hit.kind, 1.0)


def _contributions(
    hits: list[TextHit], config: RankingConfig, now: dt.datetime, built: set[int]
) -> dict[int, Candidate]:
    people: dict[int, Candidate] = {}
    for hit in hits:
        age = (now - hit.at).total_seconds() / 86400
        base = _kind_weight(hit, config, built) * max(hit.weight, 0.0) * decay(age, config.half_life_days)
        value = max(hit.score, 0.0) ** config.relevance_power * base
        if value <= 0:
            continue
        cand = people.setdefault(hit.person_id, Candidate(hit.person_id))
        cand.relevance += value
        cand.activity += base
        cand.hits.append((hit, value))
    return people


def ask_counts(session: Session, since: dt.datetime) -> dict[int, int]:
    """Times each person was suggested since `since`, most-asked first (a window's asks are few)."""
    stmt = select(ExpertAsk.person_id, func.count()).where(ExpertAsk.at >= since).group_by(ExpertAsk.person_id)
    stmt = stmt.order_by(func.count().desc(), ExpertAsk.person_id)
    return {pid: int(n) for pid, n in session.execute(stmt)}


def rank(
    session: Session, hits: list[TextHit], config: RankingConfig, *, now: dt.datetime, top: int, exclude: set[int]
) -> Ranking:
    """Order the people behind `hits`; the first `top` include someone beyond the most-asked when evidence allows.

    The bus factor counts everyone, `exclude` too: an asker who knows the topic still knows it.
    """
    everyone = _contributions(hits, config, now, _built(session, hits))
    if not everyone:
        return Ranking([], 0)
    top_relevance = max(c.relevance for c in everyone.values())
    experts = [c for c in everyone.values() if c.relevance >= config.expert_share * top_relevance]
    bus_factor, sole = len(experts), experts[0] if len(experts) == 1 else None
    people = {p: c for p, c in everyone.items() if p not in exclude}
    if not people:
        return Ranking([], bus_factor, sole)
    best = max(c.relevance for c in people.values())
    ordered = sorted(people.values(), key=lambda c: (-c.relevance, c.person_id))
    top_activity = math.log1p(max(c.activity for c in ordered)) or 1.0
    since = now - dt.timedelta(days=config.ask_window_days)
    asks = ask_counts(session, since)
    for c in ordered:
        c.score = c.relevance / best + config.activity_weight * math.log1p(c.activity) / top_activity
        c.recent_asks = asks.get(c.person_id, 0)
        c.score *= 1.0 - min(config.max_ask_penalty, config.ask_penalty * c.recent_asks)
    ordered.sort(key=lambda c: (-c.score, c.person_id))
    _spread(ordered, config, asks, top, best)
    return Ranking(ordered, bus_factor, sole)


def _spread(ordered: list[Candidate], config: RankingConfig, asks: dict[int, int], top: int, best: float) -> None:
    """If the first `top` are all among the `top` most-asked people, move the best other match into the last slot."""
    if not config.spread or top <= 0 or len(ordered) <= top:
        return
    if any(c.recent_asks < config.usual_min_asks for c in ordered[:top]):
        return  # someone on the page is not a usual name already
    usual = {p for p, n in list(asks.items())[:top] if n >= config.usual_min_asks}
    if not all(c.person_id in usual for c in ordered[:top]):
        return
    for i in range(top, len(ordered)):
        cand = ordered[i]
        if cand.person_id not in usual and cand.relevance >= config.spread_min_share * best:
            ordered.insert(top - 1, ordered.pop(i))
            cand.spread_pick = True
            return
