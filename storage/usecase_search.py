"""Full-text search over use cases: SQLite FTS5 by default, PostgreSQL full-text at scale, one interface.

A query is a list of words (`query_terms`): any of them may match (OR), and candidates come back
best first by the backend's own ranking, the title weighted above the problem, benefit, data sources
and topic area: FTS5's bm25() with column weights, or ts_rank_cd over the weighted tsvector. The
backend also counts in how many use cases each word occurs, so a caller can weigh words by rarity
(intake.similar does). Migration 0006 creates the search objects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

# PostgreSQL's 'english' stop words (Snowball's list; single letters are dropped anyway). FTS5 keeps every
# word, so they are dropped here, which also keeps a query of them from matching every row.
_STOP = (
    "about above after again against all am an and any are as at be because been before being below "
    "between both but by can did do does doing don down during each few for from further had has have "
    "having he her here hers herself him himself his how if in into is it its itself just me more most my "
    "myself no nor not now of off on once only or other our ours ourselves out over own same she should "
    "so some such than that the their theirs them themselves then there these they this those through to "
    "too under until up very was we were what when where which while who whom why will with you your "
    "yours yourself yourselves"
)
STOP_WORDS = frozenset(_STOP.split())
_WORD = re.compile(r"[^\W_]+")
# FTS5 column weights for bm25(), in the table's column order (title, problem, benefit, data_sources, topic_area).
SQLITE_WEIGHTS = (4.0, 1.0, 0.5, 0.5, 1.0)
# ts_rank_cd weights, {D, C, B, A}: data sources, benefit and topic area, problem, title.
POSTGRES_WEIGHTS = (0.1, 0.25, 0.4, 1.0)


def words(value: str) -> list[str]:
    """Every word of `value` worth matching, in order: case-folded, no stop words, no single letters."""
    return [w for w in _WORD.findall(value.casefold()) if len(w) > 1 and w not in STOP_WORDS]


def query_terms(value: str, *, limit: int | None = None) -> list[str]:
    """The distinct words of `value` worth searching for, in order of first appearance."""
    found = list(dict.fromkeys(words(value)))
    return found if limit is None else found[:limit]


@dataclass(frozen=True)
class Candidate:
    """A use case that matched, with the backend's score (higher is better; its scale is the backend's own)."""

    use_case_id: int
    score: float


class UseCaseSearch(Protocol):
    """Finds use cases matching any of a text's words, and tells how common each word is."""

    def candidates(
        self,
        session: Session,
        terms: Sequence[str],
        *,
        limit: int,
        title_only: bool = False,
        exclude_id: int | None = None,
        exclude_department_id: int | None = None,
    ) -> list[Candidate]:
        """The `limit` best matches of any of `terms` (in the title alone with `title_only`), best first."""
        ...

    def frequencies(self, session: Session, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        """How many use cases there are, and in how many of them each of `terms` occurs."""
        ...


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _filters(exclude_id: int | None, exclude_department_id: int | None) -> tuple[str, dict[str, Any]]:
    where, params = "", {}
    if exclude_id is not None:
        where += " AND u.id <> :exclude_id"
        params["exclude_id"] = exclude_id
    if exclude_department_id is not None:
        where += " AND u.department_id <> :exclude_department_id"
        params["exclude_department_id"] = exclude_department_id
    return where, params


class SqliteUseCaseSearch:
    """FTS5 over `use_cases_fts` (external content, porter stemming), ranked by bm25() with column weights."""

    def candidates(
        self,
        session: Session,
        terms: Sequence[str],
        *,
        limit: int,
        title_only: bool = False,
        exclude_id: int | None = None,
        exclude_department_id: int | None = None,
    ) -> list[Candidate]:
        if not terms:
            return []
        match = " OR ".join(_phrase(t) for t in dict.fromkeys(terms))
        if title_only:
            match = "{title} : (" + match + ")"
        where, params = _filters(exclude_id, exclude_department_id)
        weights = ", ".join(str(w) for w in SQLITE_WEIGHTS)
        stmt = text(
            f"SELECT f.rowid AS id, -bm25(use_cases_fts, {weights}) AS score FROM use_cases_fts f "
            f"JOIN use_cases u ON u.id = f.rowid WHERE use_cases_fts MATCH :m{where} "
            "ORDER BY score DESC LIMIT :limit"
        )
        rows = session.execute(stmt, {"m": match, "limit": limit, **params})
        return [Candidate(int(r.id), float(r.score)) for r in rows]

    def frequencies(self, session: Session, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        rows = int(session.execute(text("SELECT count(*) FROM use_cases")).scalar_one())
        stmt = text("SELECT count(*) FROM use_cases_fts WHERE use_cases_fts MATCH :m")
        return rows, {t: int(session.execute(stmt, {"m": _phrase(t)}).scalar_one()) for t in dict.fromkeys(terms)}


class PostgresUseCaseSearch:
    """A generated tsvector (title A, problem B, benefit and topic C, data sources D) under a GIN index."""

    def candidates(
        self,
        session: Session,
        terms: Sequence[str],
        *,
        limit: int,
        title_only: bool = False,
        exclude_id: int | None = None,
        exclude_department_id: int | None = None,
    ) -> list[Candidate]:
        wanted = [t for t in dict.fromkeys(terms) if _WORD.fullmatch(t)]
        if not wanted:
            return []
        where, params = _filters(exclude_id, exclude_department_id)
        # Words are letters and digits only (query_terms), so they are safe in to_tsquery's syntax; `:A`
        # keeps a word to the title's lexemes. A stop word becomes an empty query and matches nothing.
        label = ":A" if title_only else ""
        params["q"] = " | ".join(f"{t}{label}" for t in wanted)
        weights = "{" + ",".join(str(w) for w in POSTGRES_WEIGHTS) + "}"
        stmt = text(
            f"SELECT u.id, ts_rank_cd(CAST('{weights}' AS float4[]), u.search_vector, q.q) AS score "
            "FROM use_cases u, to_tsquery('english', :q) AS q(q) "
            f"WHERE u.search_vector @@ q.q{where} ORDER BY score DESC, u.id LIMIT :limit"
        )
        rows = session.execute(stmt, {"limit": limit, **params})
        return [Candidate(int(r.id), float(r.score)) for r in rows]

    def frequencies(self, session: Session, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        wanted = list(dict.fromkeys(terms))
        rows = int(session.execute(text("SELECT count(*) FROM use_cases")).scalar_one())
        if not wanted:
            return rows, {}
        params = {f"t{i}": t for i, t in enumerate(wanted)}
        queries = ", ".join(f"plainto_tsquery('english', :t{i}) AS q{i}" for i in range(len(wanted)))
        counts = ", ".join(f"count(*) FILTER (WHERE u.search_vector @@ q.q{i})" for i in range(len(wanted)))
        any_q = " || ".join(f"q.q{i}" for i in range(len(wanted)))
        stmt = text(f"SELECT {counts} FROM use_cases u, (SELECT {queries}) AS q WHERE u.search_vector @@ ({any_q})")
        found = session.execute(stmt, params).one()
        return rows, {t: int(n) for t, n in zip(wanted, found, strict=True)}


def use_case_search_for(session: Session) -> UseCaseSearch:
    """The backend for the session's database: PostgreSQL full-text, or FTS5 everywhere else."""
    if session.get_bind().dialect.name == "postgresql":
        return PostgresUseCaseSearch()
    return SqliteUseCaseSearch()
