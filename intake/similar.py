"""Duplicates across departments: the use cases most like a text, scored 0..1, behind one interface.

`Similarity` is what callers use (the CLI, intake, the portfolio); `LexicalSimilarity` is the default
and needs no model: the full-text index (storage.usecase_search) proposes candidates, and each is
scored by two measures, combined:

- text: the BM25 score of the candidate for the query's words, divided by the score the query would
  get against itself (so 1.0 is "as good a match as the same text"); word weights are their idf among
  all use cases, the title counts twice (BM25F), words are Snowball-stemmed. Backend-neutral: SQLite
  and PostgreSQL rank candidates their own way, but the score is the same on both.
- title: rapidfuzz's token_set_ratio of the two titles, averaged with token_sort_ratio (see
  `title_similarity`), which catches short titles sharing the words that matter ("Mobile Fortify")
  where full text under-ranks them. Used when a title is given, or when the text itself is short enough
  to be one (SHORT_TEXT words or fewer).

score = (1 - TITLE_WEIGHT) x text + TITLE_WEIGHT x title, or the text score alone without a title.

At LIKELY_DUPLICATE (0.55) or above a match is flagged a likely duplicate. Chosen with bench/portfolio.py
on the 2025 federal inventory (title and description asked, other departments only): 90% of use cases
with a same-name twin elsewhere have it first at 0.55 or above, while the first match of 300 use cases
without one reaches 0.55 in 4% of cases (an upper bound on false alarms: some are unlabelled
near-duplicates); at 0.5 it is 92% and 10%, at 0.6 80% and 2%. A description alone rarely scores that high
(differently worded texts share few rare words): without a title the flag is conservative.

Closed and rejected use cases are included and ranked like any other, flagged `closed`: a rejected
duplicate is worth as much to a new submitter (and to a reviewer) as a live one, with the reason the
hub already gave. An embeddings backend (the LLM issue) implements `Similarity` itself, or reuses this
one's candidates and blends its own score in; callers see the same `SimilarUseCase` rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import snowballstemmer
from rapidfuzz import fuzz
from rapidfuzz.utils import default_process
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from intake.schema import Stage, Status
from storage import repo
from storage.db import UnitOfWork
from storage.models import Department, Person, UseCase
from storage.usecase_search import UseCaseSearch, query_terms, use_case_search_for, words

LIKELY_DUPLICATE = 0.55  # see the module docstring and bench/portfolio.py
LIKELY_DUPLICATE_SHORT = 0.75  # for a few words alone (a title typed at the CLI)
TITLE_WEIGHT = 0.5
SHORT_TEXT = 8  # a text of this many words or fewer is read as a title too
MAX_TERMS = 64  # words of a long text taken into account (in order)
SEARCH_TERMS = 32  # of those, the rarest in the hub are searched for
POOL = 60  # candidates scored from the full-text search (more when asked for more)
TITLE_POOL = 20  # and from a search of titles alone, when there is a title
# Field weights (BM25F): the title counts twice, the benefit and data sources half.
FIELDS = {"title": 2.0, "problem": 1.0, "benefit": 0.5, "data_sources": 0.5, "topic_area": 1.0}
K1, B = 1.2, 0.75
WHY = 6  # matched words shown, rarest first
CLOSED = frozenset({Stage.CLOSED.value, Status.REJECTED.value})


@dataclass(frozen=True)
class SimilarUseCase:
    """A use case like the one asked about: who owns it, where it is, how alike (0..1) and on which words."""

    id: int
    source_id: str | None
    title: str
    department: str
    stage: str
    status: str
    owner_name: str
    score: float
    why: tuple[str, ...]
    likely_duplicate: bool
    closed: bool  # closed, or rejected by the hub


class Similarity(Protocol):
    """Finds the use cases most like a text (a new, edited or imported use case), best first."""

    def similar(
        self,
        source: Session | UnitOfWork,
        text: str,
        *,
        title: str | None = None,
        exclude_id: int | None = None,
        other_departments_than: str | None = None,
        top: int = 5,
    ) -> list[SimilarUseCase]: ...


_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def stems(value: str | None) -> list[str]:
    """Every word of `value` (stop words and single letters dropped), stemmed, in order."""
    if not value:
        return []
    return [stem(w) for w in words(value)]


def idf(rows: int, df: int) -> float:
    """BM25's idf, never negative: ln(1 + (N - n + 0.5) / (n + 0.5))."""
    return math.log1p((max(rows, df) - df + 0.5) / (df + 0.5))


def weighted_tf(fields: Iterable[tuple[str | None, float]]) -> dict[str, float]:
    """Stem -> its count over the fields, each occurrence counted at its field's weight (BM25F)."""
    tf: defaultdict[str, float] = defaultdict(float)
    for value, weight in fields:
        for s in stems(value):
            tf[s] += weight
    return dict(tf)


def _bm25(query: dict[str, float], tf: dict[str, float], length: float, avgdl: float) -> float:
    norm = K1 * (1 - B + B * length / avgdl)
    return sum(w * f * (K1 + 1) / (f + norm) for s, w in query.items() if (f := tf.get(s, 0.0)))


def title_similarity(a: str, b: str) -> float:
    """How alike two titles are, 0..1: the mean of rapidfuzz's token_set_ratio and token_sort_ratio.

    token_set_ratio ignores word order and repeats, but scores any title whose words are a subset of the
    other's 1.0 ("Chatbot" against "HR Chatbot"); token_sort_ratio still sees the words left over, so the
    same name ranks above a longer one that contains it.
    """
    return (
        fuzz.token_set_ratio(a, b, processor=default_process) + fuzz.token_sort_ratio(a, b, processor=default_process)
    ) / 200.0


@dataclass
class _Row:
    id: int
    source_id: str | None
    title: str
    department: str
    stage: str
    status: str
    owner_name: str
    tf: dict[str, float]
    length: float

    def match(self, score: float, why: tuple[str, ...], likely: bool) -> SimilarUseCase:
        return SimilarUseCase(
            id=self.id,
            source_id=self.source_id,
            title=self.title,
            department=self.department,
            stage=self.stage,
            status=self.status,
            owner_name=self.owner_name,
            score=round(score, 4),
            why=why,
            likely_duplicate=likely,
            closed=self.stage in CLOSED or self.status in CLOSED,
        )


class LexicalSimilarity:
    """Full-text candidates, scored by self-normalised BM25 and title token-set similarity (no model needed)."""

    def __init__(
        self,
        search: UseCaseSearch | None = None,
        *,
        threshold: float = LIKELY_DUPLICATE,
        short_threshold: float = LIKELY_DUPLICATE_SHORT,
        title_weight: float = TITLE_WEIGHT,
        pool: int = POOL,
    ) -> None:
        self.search = search
        self.threshold = threshold
        self.short_threshold = short_threshold
        self.title_weight = title_weight
        self.pool = pool

    def similar(
        self,
        source: Session | UnitOfWork,
        text: str,
        *,
        title: str | None = None,
        exclude_id: int | None = None,
        other_departments_than: str | None = None,
        top: int = 5,
    ) -> list[SimilarUseCase]:
        session = source.session if isinstance(source, UnitOfWork) else source
        search = self.search or use_case_search_for(session)
        title = (title or "").strip() or None
        text = text.strip()
        short = title is None and len(text.split()) <= SHORT_TEXT
        if short:
            title = text or None  # a few words are a title, and compared as one
        threshold = self.short_threshold if short else self.threshold
        terms = query_terms(f"{title or ''} {text}", limit=MAX_TERMS)
        if not terms or top <= 0:
            return []
        rows, dfs = search.frequencies(session, terms)
        weight = {t: idf(rows, dfs.get(t, 0)) for t in terms}
        found = sorted((t for t in terms if dfs.get(t)), key=lambda t: -weight[t])[:SEARCH_TERMS]
        if not found:
            return []
        department_id = None
        if other_departments_than and (dept := repo.find_department(session, other_departments_than)):
            department_id = dept.id

        def matching(words: list[str], limit: int, title_only: bool) -> list[int]:
            hits = search.candidates(
                session,
                words,
                limit=limit,
                title_only=title_only,
                exclude_id=exclude_id,
                exclude_department_id=department_id,
            )
            return [c.use_case_id for c in hits]

        ids = matching(found, max(self.pool, 4 * top), False)
        if title and (title_terms := [t for t in query_terms(title) if dfs.get(t)]):
            ids += matching(title_terms, TITLE_POOL, True)
        candidates = _load(session, list(dict.fromkeys(ids)))
        if not candidates:
            return []

        # The query as BM25 sees it: each stem weighted by its word's idf (the rarest word of a stem wins).
        query_weight: dict[str, float] = {}
        word_of: dict[str, str] = {}
        for t in terms:
            s = stem(t)
            if weight[t] > query_weight.get(s, -1.0):
                query_weight[s], word_of[s] = weight[t], t
        q_tf = weighted_tf([(title, FIELDS["title"]), (text, FIELDS["problem"])])
        q_len = sum(q_tf.values()) or 1.0
        avgdl = sum(c.length for c in candidates) / len(candidates) or 1.0
        self_score = _bm25(query_weight, q_tf, q_len, avgdl) or 1.0

        scored: list[tuple[float, SimilarUseCase]] = []
        for c in candidates:
            text_score = min(1.0, _bm25(query_weight, c.tf, c.length, avgdl) / self_score)
            if title:
                score = (1 - self.title_weight) * text_score + self.title_weight * title_similarity(title, c.title)
            else:
                score = text_score
            matched = sorted((s for s in query_weight if s in c.tf), key=lambda s: -query_weight[s])
            why = tuple(word_of[s] for s in matched[:WHY])
            scored.append((score, c.match(score, why, score >= threshold)))
        scored.sort(key=lambda pair: (-pair[0], pair[1].id))
        return [s for _, s in scored[:top]]


def _load(session: Session, ids: list[int]) -> list[_Row]:
    """The candidates' fields, stemmed and weighted for scoring (one query, no ORM objects)."""
    if not ids:
        return []
    owner = aliased(Person)
    stmt = (
        select(
            UseCase.id,
            UseCase.source_id,
            UseCase.title,
            UseCase.problem,
            UseCase.benefit,
            UseCase.data_sources,
            UseCase.topic_area,
            UseCase.stage,
            UseCase.status,
            Department.name.label("department"),
            owner.name.label("owner_name"),
        )
        .join(Department, Department.id == UseCase.department_id)
        .join(owner, owner.id == UseCase.submitter_id)
        .where(UseCase.id.in_(ids))
    )
    out = []
    for r in session.execute(stmt):
        tf = weighted_tf((getattr(r, field), w) for field, w in FIELDS.items())
        out.append(
            _Row(r.id, r.source_id, r.title, r.department, r.stage, r.status, r.owner_name, tf, sum(tf.values()) or 1.0)
        )
    return out


def default_similarity() -> Similarity:
    """The similarity the hub uses: lexical until an embeddings backend is configured (the LLM issue)."""
    return LexicalSimilarity()
