"""The "who knows X" service: scorers find evidence, ranking orders people, the result says why."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from bot.expertise.models import (
    KIND_LABELS,
    EvidenceView,
    Expert,
    ExpertResult,
    Freshness,
    RelatedUseCase,
)
from bot.expertise.ranking import Candidate, RankingConfig, rank
from bot.expertise.scoring import AnalyzedQuery, Scorer, SemanticScorer, TextScorer, analyze, direct
from bot.expertise.taxonomy import Taxonomy, load_taxonomy
from intake.errors import HubError
from storage.db import UnitOfWork
from storage.evidence import Kind
from storage.models import Department, Evidence, ExpertAsk, Person, UseCase
from storage.search import TextHit
from storage.usecase_search import use_case_search_for
from storage.vectors import normalised

QUERY_CACHE = 512  # questions whose embeddings a process keeps
EVIDENCE_SHOWN = 3
RELATED_SHOWN = 5
SNIPPET = 200


@dataclass
class ExpertiseIndex:
    """Everything a query needs: the taxonomy, the ranking config and the scorers (with their weights)."""

    taxonomy: Taxonomy = field(default_factory=load_taxonomy)
    config: RankingConfig = field(default_factory=RankingConfig)
    scorers: list[tuple[Scorer, float]] = field(default_factory=list)  # empty: full-text search alone
    embedder: Any = None  # the LLM port (bot.llm), when questions are embedded and read (with_embeddings)
    _vectors: OrderedDict[str, Any] = field(default_factory=OrderedDict, repr=False)
    _expansions: OrderedDict[str, QueryExpansion | None] = field(default_factory=OrderedDict, repr=False)

    def __post_init__(self) -> None:
        if not self.scorers:
            c = self.config
            self.scorers = [(TextScorer(c.tag_weight, c.synonym_weight, c.related_weight), 1.0)]

    def understand(self, query: str) -> Understanding:
        """What the LLM adds to a question: its embedding and the taxonomy concepts and synonyms it means (each
        cached per question); nothing without an endpoint. Call it outside any transaction: it waits on it."""
        return Understanding(vector=self.query_vector(query), expansion=self.expansion(query))

    def cached_understanding(self, query: str) -> Understanding | None:
        """The question's understanding if this process has all of it at hand, else None (no call is made)."""
        vector = self.cached_vector(query)
        expansion = self._expansions.get(_key(query), _MISSING)
        if (self.semantic and vector is None) or expansion is _MISSING:
            return None
        return Understanding(vector=vector, expansion=expansion)  # type: ignore[arg-type]

    def expansion(self, query: str) -> QueryExpansion | None:
        """The taxonomy concepts and other words the model reads in `query` (validated: only the taxonomy's own
        concepts, and short plain phrases), or None without an answer."""
        key = _key(query)
        if key in self._expansions:
            self._expansions.move_to_end(key)
            return self._expansions[key]
        found = None
        if self.semantic and query.strip() and hasattr(self.embedder, "structured"):
            from bot.llm import load_prompt

            concepts = "\n".join(
                f"{name}: {', '.join(c.terms[:6])}" for name, c in sorted(self.taxonomy.concepts.items())
            )
            answer = self.embedder.structured(
                load_prompt("query_expand"), {"concepts": concepts, "question": query.strip()}, QueryExpansion
            )
            found = answer.checked(set(self.taxonomy.concepts)) if answer is not None else None
        self._expansions[key] = found
        while len(self._expansions) > QUERY_CACHE:
            self._expansions.popitem(last=False)
        return found

    def with_embeddings(self, embedder: Any) -> ExpertiseIndex:
        """Add the semantic scorer: questions are embedded (`query_vector`) and matched against evidence vectors."""
        c = self.config
        self.embedder = embedder
        self.scorers.append((SemanticScorer(embedder.embedding_model, floor=c.semantic_floor), c.semantic_weight))
        return self

    @property
    def semantic(self) -> bool:
        return self.embedder is not None and bool(getattr(self.embedder, "enabled", False))

    def cached_vector(self, query: str) -> Any:
        """The question's embedding if this process asked for it lately, else None (no call is made)."""
        key = _key(query)
        found = self._vectors.get(key)
        if found is not None:
            self._vectors.move_to_end(key)
        return found

    def query_vector(self, query: str) -> Any:
        """The question's embedding (cached for the last QUERY_CACHE questions), or None: no endpoint, or it did not
        answer (then "who knows" ranks on words alone). Call it outside any transaction: it waits on the endpoint."""
        if not self.semantic or not query.strip():
            return None
        if (found := self.cached_vector(query)) is not None:
            return found
        got = self.embedder.embed([query.strip()], purpose="embed_question")
        if not got:
            return None
        vector = normalised(got[0])
        self._vectors[_key(query)] = vector
        while len(self._vectors) > QUERY_CACHE:
            self._vectors.popitem(last=False)
        return vector

    @classmethod
    def from_settings(cls, settings: Any) -> ExpertiseIndex:
        """The index Settings configure: the hub's extra taxonomy file, the half-life, ranking overrides."""
        extra: Path | None = getattr(settings, "expertise_taxonomy_file", None)
        overrides = {"half_life_days": getattr(settings, "expertise_half_life_days", 365.0)}
        overrides.update(getattr(settings, "expertise_ranking", {}) or {})
        return cls(taxonomy=load_taxonomy(extra), config=RankingConfig.model_validate(overrides))

    def analyze(self, text: str) -> AnalyzedQuery:
        """The query as scorers see it: its terms, and what the taxonomy adds."""
        return analyze(text, self.taxonomy)

    def find_experts(
        self,
        uow: UnitOfWork,
        query: str,
        *,
        top: int = 5,
        offset: int = 0,
        asker_id: int | None = None,
        exclude: set[int] | None = None,
        record_asks: bool = True,
        vector: Any = None,
        expansion: QueryExpansion | None = None,
        now: dt.datetime,
    ) -> ExpertResult:
        """The people who know about `query`, best first (a page of `top` from `offset`), and why.

        Evidence dated after `now` is not counted. With `record_asks`, the people on this page are
        recorded as suggested (ExpertAsk rows), so people suggested often are ranked down a little. `vector` is the
        question's embedding (`query_vector`): with it, evidence alike in meaning counts beside the words;
        `expansion` the model's reading of it (`expansion`): its concepts' terms and synonyms are searched too.
        """
        if not query.strip():
            raise HubError("Say what you need someone to know about, e.g. `who knows forecasting`.")
        if top < 1 or offset < 0:
            raise HubError("Ask for at least one person, from an offset of 0 or more.")
        s = uow.session
        analyzed = replace(self.analyze(query), vector=vector)
        if expansion is not None:
            analyzed = self._expanded(analyzed, expansion)
        hits = self._hits(s, analyzed, now)
        ranking = rank(s, hits, self.config, now=now, top=top, exclude=exclude or set())
        page = ranking.candidates[offset : offset + top]
        experts = _experts(s, page, offset, now)
        if record_asks and page:
            for c in page:
                s.add(ExpertAsk(person_id=c.person_id, asker_id=asker_id, query=query[:500], at=now))
            uow.commit()
        total = len(ranking.candidates)
        sole = ranking.sole if ranking.sole and self._holds(s, analyzed, ranking.sole, now) else None
        return ExpertResult(
            query=query,
            as_of=now,
            concepts=list(analyzed.concepts),
            expanded_terms=list(dict.fromkeys([*analyzed.equivalents, *analyzed.synonyms, *analyzed.related])),
            experts=experts,
            offset=offset,
            total=total,
            next_offset=offset + top if offset + top < total else None,
            bus_factor=ranking.bus_factor,
            single_expert=sole is not None,
            sole_expert_id=sole.person_id if sole else None,
            related_use_cases=_related(s, hits, analyzed, now) if offset == 0 else [],
        )

    def _expanded(self, analyzed: AnalyzedQuery, expansion: QueryExpansion) -> AnalyzedQuery:
        """The query with the model's concepts' terms and its synonyms searched as synonyms (weighed as such)."""
        have = {*analyzed.terms, *analyzed.synonyms}
        extra = [t for name in expansion.concepts for t in self.taxonomy.concepts[name].terms]
        extra += expansion.synonyms
        added = tuple(t for t in dict.fromkeys(x.lower() for x in extra) if t not in have)
        concepts = tuple(dict.fromkeys([*analyzed.concepts, *expansion.concepts]))
        return replace(analyzed, synonyms=(*analyzed.synonyms, *added), concepts=concepts)

    def _holds(self, session: Session, query: AnalyzedQuery, sole: Candidate, now: dt.datetime) -> bool:
        """Whether the topic's one substantial person really holds it: evidence beyond declared skills, and
        evidence matching the query itself rather than only its synonyms and related terms."""
        if all(h.kind == Kind.DECLARED_SKILL.value for h, _ in sole.hits):
            return False
        if not (query.synonyms or query.related):
            return True  # every hit matched the query's own terms
        own = direct(query)
        return any(
            h.person_id == sole.person_id
            for scorer, _ in self.scorers
            for h in scorer.hits(session, own, before=now, limit=self.config.hit_limit)
        )

    def _hits(self, session: Session, query: AnalyzedQuery, now: dt.datetime) -> list[TextHit]:
        if len(self.scorers) == 1 and self.scorers[0][1] == 1.0:
            return self.scorers[0][0].hits(session, query, before=now, limit=self.config.hit_limit)
        merged: dict[int, TextHit] = {}
        for scorer, weight in self.scorers:
            for h in scorer.hits(session, query, before=now, limit=self.config.hit_limit):
                prev = merged.get(h.evidence_id)
                total = h.score * weight + (prev.score if prev else 0.0)
                merged[h.evidence_id] = replace(h, score=total)
        return list(merged.values())


class QueryExpansion(BaseModel):
    """The model's reading of a "who knows" question: the taxonomy concepts it is about, and other words for it."""

    concepts: list[str] = PydanticField(max_length=3)
    synonyms: list[str] = PydanticField(max_length=6)

    def checked(self, known: set[str]) -> QueryExpansion:
        """Only the taxonomy's concepts, and synonyms of one to three plain words (the rest is dropped)."""
        plain = [s.strip() for s in self.synonyms if PHRASE.fullmatch(s.strip()) and len(s.split()) <= 3]
        return QueryExpansion(concepts=[c for c in self.concepts if c in known][:3], synonyms=plain[:6])


@dataclass(frozen=True)
class Understanding:
    """What the LLM adds to a question before it is answered (None parts: nothing to add)."""

    vector: Any = None
    expansion: QueryExpansion | None = None


PHRASE = re.compile(r"[\w][\w .+#/-]{0,39}")
_MISSING: Any = object()


def _key(query: str) -> str:
    return " ".join(query.lower().split())


def freshness(age_days: float) -> Freshness:
    """Fresh within 90 days, recent within a year, stale after."""
    if age_days <= 90:
        return Freshness.FRESH
    return Freshness.RECENT if age_days <= 365 else Freshness.STALE


def _label(kind: str, uc: UseCase | None, text: str) -> str:
    base = KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())
    if uc is not None:
        return f"{base} use case #{uc.id}: {uc.title}"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{base}: {first[:80]}" if first else base


def _experts(session: Session, page: list[Candidate], offset: int, now: dt.datetime) -> list[Expert]:
    if not page:
        return []
    ids = [c.person_id for c in page]
    load = select(Person).options(lazyload(Person.skills)).where(Person.id.in_(ids))
    people = {p.id: p for p in session.scalars(load)}
    shown = {c.person_id: sorted(c.hits, key=lambda hc: -hc[1])[:EVIDENCE_SHOWN] for c in page}
    ev_ids = [h.evidence_id for hits in shown.values() for h, _ in hits]
    rows = {e.id: e for e in session.scalars(select(Evidence).where(Evidence.id.in_(ev_ids)))}
    uc_ids = {e.use_case_id for e in rows.values() if e.use_case_id}
    use_cases = {u.id: u for u in session.scalars(select(UseCase).where(UseCase.id.in_(uc_ids)))} if uc_ids else {}
    fallback_dept = _newest_departments(session, [i for i in ids if people[i].department is None])
    out = []
    for i, c in enumerate(page):
        person = people[c.person_id]
        views = []
        for hit, value in shown[c.person_id]:
            row = rows[hit.evidence_id]
            uc = use_cases.get(row.use_case_id) if row.use_case_id else None
            age = (now - row.at).total_seconds() / 86400
            views.append(
                EvidenceView(
                    id=row.id,
                    kind=row.kind,
                    label=_label(row.kind, uc, row.text),
                    text=row.text[:SNIPPET],
                    tags=[str(t) for t in row.tags],
                    at=row.at,
                    age_days=max(int(age), 0),
                    use_case_id=row.use_case_id,
                    use_case_title=uc.title if uc else None,
                    url=row.url,
                    score=round(value, 6),
                )
            )
        latest = max(h.at for h, _ in c.hits)
        out.append(
            Expert(
                rank=offset + i + 1,
                person_id=person.id,
                name=person.name,
                handles=person.handles,
                department=person.department.name if person.department else fallback_dept.get(person.id),
                tz=person.tz,
                away=person.away,
                score=round(c.score, 6),
                evidence=views,
                evidence_count=len(c.hits),
                kinds=dict(Counter(h.kind for h, _ in c.hits)),
                latest_at=latest,
                freshness=freshness((now - latest).total_seconds() / 86400),
                recent_asks=c.recent_asks,
                spread_pick=c.spread_pick,
            )
        )
    return out


def _newest_departments(session: Session, person_ids: list[int]) -> dict[int, str]:
    """For people with no department of their own: that of the use case they submitted most recently."""
    if not person_ids:
        return {}
    out: dict[int, str] = {}
    stmt = (
        select(UseCase.submitter_id, Department.name)
        .join(Department, Department.id == UseCase.department_id)
        .where(UseCase.submitter_id.in_(person_ids))
        .order_by(UseCase.created_at.desc())
    )
    for pid, name in session.execute(stmt):
        out.setdefault(pid, name)
    return out


def _related(session: Session, hits: list[TextHit], query: AnalyzedQuery, now: dt.datetime) -> list[RelatedUseCase]:
    """Use cases the matching evidence is about, best first; then other use cases of the whole register whose
    own text matches (imported ones nobody can be asked about have no evidence), as the use-case index ranks them."""
    by_uc: dict[int, float] = defaultdict(float)
    for h in hits:
        if h.use_case_id is not None:
            by_uc[h.use_case_id] += h.score
    best = sorted(by_uc, key=lambda u: (-by_uc[u], u))[:RELATED_SHOWN]
    rows: dict[int, UseCase] = {}
    if best:
        rows = {u.id: u for u in session.scalars(select(UseCase).where(UseCase.id.in_(best)))}
    if len(best) < RELATED_SHOWN:
        found = use_case_search_for(session).candidates(
            session, [*query.terms, *query.synonyms], limit=RELATED_SHOWN + len(by_uc)
        )
        more = [c.use_case_id for c in found if c.use_case_id not in by_uc]
        if more:
            known = select(UseCase).where(UseCase.id.in_(more), UseCase.created_at <= now)
            rows.update((u.id, u) for u in session.scalars(known))
            best.extend(i for i in more if i in rows)
    best = best[:RELATED_SHOWN]
    return [
        RelatedUseCase(
            id=u.id,
            title=u.title,
            stage=u.stage,
            status=u.status,
            department=u.department.name if u.department else None,
            owner_person_id=u.submitter_id,
            owner_name=u.submitter.name,
        )
        for u in (rows[i] for i in best if i in rows)
    ]
