"""Full-text search over evidence: SQLite FTS5 by default, PostgreSQL full-text at scale, one interface.

Both backends score a row as the sum over query terms of idf(term) x a saturating term frequency, the
tags weighted above the text: BM25's term part from FTS5's bm25() (one term at a time), or ts_rank on
PostgreSQL, and on both the non-negative BM25 idf ln(1 + (N - n + 0.5) / (n + 0.5)). FTS5's own idf is
floored at ~0 for a term in over half the rows, which in a small hub is most of its vocabulary.

A term found in more than DENSE rows (DENSE_POSTGRES there; e.g. "android" among android questions) has a low idf but
would cost a score for every row it is in; it contributes instead its newest matches, each with a
term part of 1 (one occurrence in a row of average length), and its row count is estimated from how
far back its DENSE-th newest match lies (SQLite), or from the lexeme frequencies ANALYZE keeps
(PostgreSQL). Migration 0003 creates the search objects.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from storage.types import UTCDateTime

# Objects migration 0003 creates outside the models; autogenerate and the model check skip them.
SEARCH_OBJECTS = frozenset({"evidence_fts", "search_vector", "ix_evidence_search_vector", "ix_use_cases_search_vector"})
DENSE = 2000  # a term in more rows than this is scored approximately (see above)
DENSE_POSTGRES = 500  # lower there: ranking a row means fetching it from the heap
DENSE_NEWEST = 50  # how many of a dense term's newest matches count
_CHUNK = 2000  # ids per IN (...) when fetching matched rows


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic `include_object` hook: leave the search index objects out of schema comparison."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(("evidence_fts", "use_cases_fts"))  # FTS5 tables and their shadows (0003, 0006)
    return name not in SEARCH_OBJECTS


@dataclass(frozen=True)
class TextHit:
    """One evidence row that matched, with what ranking needs to weigh it."""

    evidence_id: int
    person_id: int
    kind: str
    weight: float
    at: dt.datetime
    use_case_id: int | None
    score: float


class TextSearch(Protocol):
    """Finds the evidence rows best matching any of `terms` (words or phrases), dated no later than `before`."""

    def search(
        self, session: Session, terms: Sequence[str], *, before: dt.datetime, limit: int, tag_weight: float
    ) -> list[TextHit]: ...


def idf(rows: float, df: float) -> float:
    """BM25's idf, never negative: ln(1 + (N - n + 0.5) / (n + 0.5))."""
    return math.log1p((max(rows, df) - df + 0.5) / (df + 0.5))


def _top(session: Session, scores: dict[int, float], before: dt.datetime, limit: int) -> list[TextHit]:
    """The `limit` best-scoring evidence rows dated no later than `before`."""
    stmt = text(
        "SELECT id, person_id, kind, weight, at, use_case_id FROM evidence WHERE id IN :ids AND at <= :before"
    ).bindparams(bindparam("ids", expanding=True), bindparam("before", type_=UTCDateTime()))
    stmt = stmt.columns(at=UTCDateTime())  # type: ignore[assignment]
    best = sorted(scores, key=lambda i: -scores[i])
    out: list[TextHit] = []
    chunk = min(limit, _CHUNK)
    for start in range(0, len(best), chunk):
        ids = best[start : start + chunk]
        found = {r.id: r for r in session.execute(stmt, {"ids": ids, "before": before})}
        out.extend(
            TextHit(i, r.person_id, r.kind, float(r.weight), r.at, r.use_case_id, scores[i])
            for i in ids
            if (r := found.get(i)) is not None
        )
        if len(out) >= limit:
            break
    return out[:limit]


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class SqliteFts:
    """FTS5 over `evidence_fts` (external content, porter stemming): bm25() a term at a time, idf replaced."""

    def search(
        self, session: Session, terms: Sequence[str], *, before: dt.datetime, limit: int, tag_weight: float
    ) -> list[TextHit]:
        rows = session.execute(text("SELECT coalesce(max(id), 0) FROM evidence")).scalar_one()
        scores: dict[int, float] = defaultdict(float)
        rare: dict[str, int] = {}
        for term in dict.fromkeys(terms):
            df = self.count_upto(session, term, DENSE + 1)
            if 0 < df <= DENSE:
                rare[term] = df
            elif df > DENSE:
                back = self.nth_newest(session, term, DENSE)
                estimate = min(rows, DENSE * rows / max(rows - back, 1)) if back else rows
                for rowid in self.newest(session, term, min(limit, DENSE_NEWEST)):
                    scores[rowid] += idf(rows, estimate)
        if rare:
            for rowid, score in self.ranked(session, rare, rows, limit, tag_weight):
                scores[rowid] += score
        return _top(session, scores, before, limit)

    def count_upto(self, session: Session, term: str, cap: int) -> int:
        """How many rows match `term`, counting no further than `cap`."""
        stmt = text("SELECT count(*) FROM (SELECT rowid FROM evidence_fts WHERE evidence_fts MATCH :m LIMIT :cap)")
        return int(session.execute(stmt, {"m": _phrase(term), "cap": cap}).scalar_one())

    def nth_newest(self, session: Session, term: str, n: int) -> int | None:
        """The id of the `n`-th newest match of `term` (0-based), if there are that many."""
        stmt = text("SELECT rowid FROM evidence_fts WHERE evidence_fts MATCH :m ORDER BY rowid DESC LIMIT 1 OFFSET :n")
        return session.execute(stmt, {"m": _phrase(term), "n": n}).scalar()

    def newest(self, session: Session, term: str, limit: int) -> list[int]:
        """The ids of the newest `limit` matches of `term`."""
        stmt = text("SELECT rowid FROM evidence_fts WHERE evidence_fts MATCH :m ORDER BY rowid DESC LIMIT :limit")
        return list(session.execute(stmt, {"m": _phrase(term), "limit": limit}).scalars())

    def ranked(
        self, session: Session, dfs: dict[str, int], rows: int, limit: int, tag_weight: float
    ) -> list[tuple[int, float]]:
        """(rowid, score) of the best matches of each rare term: its BM25 with our idf."""
        stmt = text(
            "SELECT rowid, -bm25(evidence_fts, 1.0, :tag_weight) AS score FROM evidence_fts "
            "WHERE evidence_fts MATCH :m ORDER BY score DESC LIMIT :limit"
        )
        out: list[tuple[int, float]] = []
        for term, df in dfs.items():
            # FTS5's bm25() is its idf times the term part; swap its idf (floored at 1e-6) for ours.
            fts5_idf = max(math.log((max(rows, df) - df + 0.5) / (df + 0.5)), 1e-6)
            factor = idf(rows, df) / fts5_idf
            params = {"m": _phrase(term), "limit": limit, "tag_weight": tag_weight}
            out.extend((rowid, score * factor) for rowid, score in session.execute(stmt, params))
        return out


def _tsquery(term: str, param: str) -> str:
    fn = "phraseto_tsquery" if " " in term else "plainto_tsquery"
    return f"{fn}('english', :{param})"


_STATS_TTL = 300.0  # seconds a process keeps PostgreSQL's lexeme statistics
_stats_cache: dict[str, tuple[float, dict[str, float]]] = {}


class PostgresFts:
    """A generated tsvector (tags weight A, text D) under a GIN index; ts_rank per term x idf, summed.

    Which terms are dense comes from the statistics ANALYZE keeps on the column (its most common
    lexemes and their frequencies), so no query counts matches; autovacuum keeps them current. Without
    statistics (a table never analysed) every term is ranked in full.
    """

    def search(
        self, session: Session, terms: Sequence[str], *, before: dt.datetime, limit: int, tag_weight: float
    ) -> list[TextHit]:
        wanted = list(dict.fromkeys(terms))
        if not wanted:
            return []
        estimate = "SELECT reltuples FROM pg_class WHERE oid = 'evidence'::regclass"
        rows = session.execute(text(f"SELECT greatest(({estimate}), max(id), 0) FROM evidence")).scalar_one()
        freqs = _lexeme_stats(session)
        stems = text("SELECT t, tsvector_to_array(to_tsvector('english', t)) FROM unnest(CAST(:terms AS text[])) AS t")
        lexemes = {t: list(lex or []) for t, lex in session.execute(stems, {"terms": wanted})}
        dense: dict[str, float] = {}
        rare: list[str] = []
        for term in wanted:
            lex = lexemes.get(term) or []
            if not lex:
                continue  # only stop words
            if freqs and all(x in freqs for x in lex) and min(freqs[x] for x in lex) * rows > DENSE_POSTGRES:
                dense[term] = min(freqs[x] for x in lex) * rows
            else:
                rare.append(term)
        hits: dict[int, TextHit] = {}
        if rare:
            for hit in self._ranked(session, rare, float(rows), before, limit, tag_weight):
                hits[hit.evidence_id] = hit
        for term, df in dense.items():
            for hit in self._newest(session, term, before, min(limit, DENSE_NEWEST), idf(rows, df)):
                seen = hits.get(hit.evidence_id)
                hits[hit.evidence_id] = hit if seen is None else _add(seen, hit.score)
        return sorted(hits.values(), key=lambda h: -h.score)[:limit]

    def _newest(self, session: Session, term: str, before: dt.datetime, limit: int, weight: float) -> list[TextHit]:
        stmt = text(
            f"SELECT id, person_id, kind, weight, at, use_case_id, CAST(:w AS float8) AS score FROM evidence "
            f"WHERE search_vector @@ {_tsquery(term, 't')} AND at <= :before ORDER BY id DESC LIMIT :limit"
        ).bindparams(bindparam("before", type_=UTCDateTime()))
        stmt = stmt.columns(at=UTCDateTime())  # type: ignore[assignment]
        return _hits(session.execute(stmt, {"t": term, "w": weight, "before": before, "limit": limit}))

    def _ranked(
        self, session: Session, terms: list[str], rows: float, before: dt.datetime, limit: int, tag_weight: float
    ) -> list[TextHit]:
        # ts_rank takes weights in [0, 1] ({D, C, B, A}: text is D, tags A); scale down, then back up.
        scale = max(1.0, tag_weight)
        params: dict[str, Any] = {"before": before, "limit": limit, "n": rows, "scale": scale}
        params["weights"] = [1.0 / scale, 0.0, 0.0, tag_weight / scale]
        queries, ranks, flags, dfs, scores = [], [], [], [], []
        for i, term in enumerate(terms):
            params[f"t{i}"] = term
            queries.append(f"{_tsquery(term, f't{i}')} AS q{i}(q)")
            ranks.append(f"ts_rank(CAST(:weights AS float4[]), e.search_vector, q{i}.q, 1) AS r{i}")
            flags.append(f"(e.search_vector @@ q{i}.q) AS h{i}")
            dfs.append(f"count(*) FILTER (WHERE h{i}) OVER () AS d{i}")
            scores.append(f"r{i} * :scale * ln(1 + (greatest(:n, d{i}) - d{i} + 0.5) / (d{i} + 0.5))")
        any_q = " || ".join(f"q{i}.q" for i in range(len(terms)))
        stmt = text(
            f"WITH m AS (SELECT e.id, e.person_id, e.kind, e.weight, e.at, e.use_case_id, {', '.join(ranks)}, "
            f"{', '.join(flags)} FROM evidence e, {', '.join(queries)} "
            f"WHERE e.search_vector @@ ({any_q}) AND e.at <= :before), "
            f"s AS (SELECT m.*, {', '.join(dfs)} FROM m) "
            f"SELECT id, person_id, kind, weight, at, use_case_id, {' + '.join(scores)} AS score "
            f"FROM s ORDER BY score DESC LIMIT :limit"
        ).bindparams(bindparam("before", type_=UTCDateTime()))
        stmt = stmt.columns(at=UTCDateTime())  # type: ignore[assignment]
        return _hits(session.execute(stmt, params))


def _hits(rows: Any) -> list[TextHit]:
    return [TextHit(r.id, r.person_id, r.kind, float(r.weight), r.at, r.use_case_id, float(r.score)) for r in rows]


def _add(hit: TextHit, score: float) -> TextHit:
    return TextHit(hit.evidence_id, hit.person_id, hit.kind, hit.weight, hit.at, hit.use_case_id, hit.score + score)


def _lexeme_stats(session: Session) -> dict[str, float]:
    """Lexeme -> share of rows containing it, for the column's most common lexemes (cached a few minutes)."""
    key = str(session.connection().engine.url)
    cached = _stats_cache.get(key)
    if cached and time.monotonic() - cached[0] < _STATS_TTL:
        return cached[1]
    row = session.execute(
        text(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = 'evidence' AND attname = 'search_vector'"
        )
    ).first()
    stats: dict[str, float] = {}
    if row is not None and row[0] is not None:
        stats = dict(zip(row[0], row[1], strict=False))  # the freqs end with min, max and null share
    _stats_cache[key] = (time.monotonic(), stats)
    return stats


def text_search_for(session: Session) -> TextSearch:
    """The backend for the session's database: PostgreSQL full-text, or FTS5 everywhere else."""
    if session.get_bind().dialect.name == "postgresql":
        return PostgresFts()
    return SqliteFts()
