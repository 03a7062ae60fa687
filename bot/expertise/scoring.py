"""Query analysis and scorers: each scorer finds evidence relevant to a query and scores it.

A scorer is anything with `hits(session, query, before=..., limit=...)`; the index sums the hits of all
its scorers, each times its weight. Full-text search (with taxonomy expansion) is always there; with an
embeddings endpoint, `SemanticScorer` adds the evidence nearest the question in meaning (its vector is asked
for by the index, once, before any transaction: a scorer never calls the endpoint).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.expertise.taxonomy import Taxonomy, term_key, words
from storage import vectors
from storage.models import Evidence
from storage.search import TextHit, text_search_for

_STOP = """
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having he
her here hers him his how i if in into is it its itself just me more most my no nor not now of off on once
only or other our ours out over own same she should so some such than that the their theirs them then there
these they this those through to too under until up very was we were what when where which while who whom
why will with would you your yours know knows anyone someone somebody expert experts help need want get got
using use used
"""
STOP_WORDS = frozenset(_STOP.split())


@dataclass(frozen=True)
class AnalyzedQuery:
    """A query as the scorers see it: its own terms, and what the taxonomy adds."""

    text: str
    terms: tuple[str, ...]
    concepts: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    equivalents: tuple[str, ...] = ()  # the terms among `terms` meaning exactly what the query said, in other words
    vector: Any = field(default=None, compare=False, hash=False)  # the question's embedding, when there is one


def analyze(text: str, taxonomy: Taxonomy, max_terms: int = 64) -> AnalyzedQuery:
    """Split a query into search terms (stop words dropped, first `max_terms` kept) and expand it.

    Words naming a group of same-meaning terms (`nlp`, `natural language processing`) become the whole
    group, each term searched as the query's own: either way of asking is the same query.
    """
    all_words = words(text)
    expansion = taxonomy.expand(all_words)
    starts = {span.start: span for span in expansion.spans}
    covered = {i for span in expansion.spans for i in range(span.start, span.stop)}
    found: list[str] = []
    said: set[tuple[str, ...]] = set()
    for i, word in enumerate(all_words):
        if (span := starts.get(i)) is not None:
            found.extend(span.terms)
            said.add(term_key(" ".join(all_words[span.start : span.stop])))
        elif i not in covered and word not in STOP_WORDS and (len(word) > 1 or word.isdigit()):
            found.append(word)
    terms = tuple(list(dict.fromkeys(found))[:max_terms])
    return AnalyzedQuery(
        text=text,
        terms=terms,
        concepts=expansion.concepts,
        synonyms=expansion.synonyms,
        related=expansion.related,
        equivalents=tuple(t for span in expansion.spans for t in span.terms if t in terms and term_key(t) not in said),
    )


def direct(query: AnalyzedQuery) -> AnalyzedQuery:
    """The query without its taxonomy expansion: its own terms and their exact equivalents only."""
    return replace(query, synonyms=(), related=())


class Scorer(Protocol):
    """Finds evidence relevant to a query; higher scores are more relevant."""

    def hits(self, session: Session, query: AnalyzedQuery, *, before: dt.datetime, limit: int) -> list[TextHit]: ...


@dataclass(frozen=True)
class TextScorer:
    """Full-text search (FTS5 or PostgreSQL) over the query's terms, its synonyms and related terms."""

    tag_weight: float = 3.0
    synonym_weight: float = 0.8
    related_weight: float = 0.3

    def hits(self, session: Session, query: AnalyzedQuery, *, before: dt.datetime, limit: int) -> list[TextHit]:
        """Search the query's terms, synonyms and related terms; sum each row's weighted scores."""
        backend = text_search_for(session)
        groups = ((query.terms, 1.0), (query.synonyms, self.synonym_weight), (query.related, self.related_weight))
        used = [(terms, weight) for terms, weight in groups if terms and weight > 0]
        if len(used) == 1 and used[0][1] == 1.0:
            return backend.search(session, used[0][0], before=before, limit=limit, tag_weight=self.tag_weight)
        merged: dict[int, TextHit] = {}
        for terms, weight in used:
            for hit in backend.search(session, terms, before=before, limit=limit, tag_weight=self.tag_weight):
                seen = merged.get(hit.evidence_id)
                merged[hit.evidence_id] = replace(hit, score=hit.score * weight + (seen.score if seen else 0.0))
        return sorted(merged.values(), key=lambda h: -h.score)[:limit]


@dataclass
class SemanticScorer:
    """The evidence nearest the question's embedding (cosine over the stored vectors of `model`), each scored by
    how far its cosine clears `floor`, 0..1. Without a vector on the query it finds nothing."""

    model: str
    floor: float = 0.35
    pool: int = 200  # nearest items kept, after those dated later than the question are left out
    index: vectors.VectorIndex = field(default_factory=lambda: vectors.INDEX)

    def hits(self, session: Session, query: AnalyzedQuery, *, before: dt.datetime, limit: int) -> list[TextHit]:
        if query.vector is None:
            return []
        wanted = min(limit, self.pool)
        near = self.index.nearest(session, vectors.EVIDENCE, self.model, query.vector, top=4 * wanted)
        score = {n.ref_id: (n.cosine - self.floor) / (1.0 - self.floor) for n in near if n.cosine > self.floor}
        if not score:
            return []
        rows = session.execute(
            select(
                Evidence.id, Evidence.person_id, Evidence.kind, Evidence.weight, Evidence.at, Evidence.use_case_id
            ).where(Evidence.id.in_(list(score)), Evidence.at <= before)
        ).all()
        found = [TextHit(r.id, r.person_id, r.kind, r.weight, r.at, r.use_case_id, score[r.id]) for r in rows]
        found.sort(key=lambda h: (-h.score, h.evidence_id))
        return found[:wanted]
