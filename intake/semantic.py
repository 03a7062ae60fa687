"""Similarity by meaning: use cases as embeddings, fused with the lexical ranking, computed after the ack.

With an embeddings endpoint configured, every use case's text (the fields LLM_FIELDS allows) is embedded and
stored (storage.vectors), in the background: a new or edited use case as durable work queued with it, an
imported register and a changed embedding model by `sync` (the clock runs it hourly; `hubspoke embeddings sync`
at once). `SemanticSimilarity` is intake.similar's interface on top: the lexical candidates and the nearest
vectors, each scored by both measures and fused, so a paraphrase whose words differ is found, and one that
shares the words still is.

The duplicate check at submission stays lexical (it is in the request that Slack waits on); the semantic one
runs when the new use case's vector is stored, and the submitter hears of what it adds (`DuplicatesFound`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from intake import duplicates
from intake.notices import HUB, DuplicatesFound
from intake.read_models import UseCaseView, jsonable
from intake.similar import LexicalSimilarity, SimilarUseCase, _load
from storage import repo, vectors
from storage.db import UnitOfWork, background, read_only
from storage.models import Evidence, UseCase, UseCaseLink

log = logging.getLogger(__name__)

TASK = "embed"
FOUND = "duplicates_found_by_meaning"  # audit action: the submitter was told of these
PURPOSE_USE_CASE = "embed_use_case"
PURPOSE_EVIDENCE = "embed_evidence"
PURPOSE_QUERY = "embed_query"
BATCH = 256  # texts embedded and stored per transaction by `sync`
# Fusion, chosen with bench/similar.py (the 2025 federal inventory and hand-written paraphrases, all-MiniLM-L6-v2;
# see bench/README.md): meaning lifts a match by at most its weight, so a paraphrase sharing few words can rank
# first, while matches by name stay first and false alarms stay rare. SIMILARITY_TUNING overrides them: a
# stronger embedding model separates paraphrases from related texts better and may take a higher weight.
FUSION: Literal["max", "sum"] = "max"  # max(lexical, fused), or "sum": the fused score alone
SEMANTIC_WEIGHT = 0.7  # of the fused score; the lexical score has the rest
COSINE_FLOOR = 0.3  # a cosine at or below this is no likeness at all; 1.0 is the same text
LIKELY_DUPLICATE = 0.55  # fused score flagged a likely duplicate (the lexical threshold)
POOL = 60  # nearest vectors scored beside the lexical candidates...
LEXICAL_POOL = 20  # ...and the best lexical matches (the rest of the register scores 0 by words)
# The fields embedded, as the intake names them (LLM_FIELDS may narrow them).
FIELDS = ("title", "problem", "benefit", "topic_area")


class Embedder(Protocol):
    """What similarity needs of the LLM port (bot.llm): vectors for texts, and the model's name."""

    enabled: bool
    embedding_model: str

    def embed(self, texts: Sequence[str], *, purpose: str) -> list[list[float]] | None: ...


def use_case_text(uc: UseCase | Any, allowed: Iterable[str] = ()) -> str:
    """What of a use case is embedded: its title and descriptive fields that LLM_FIELDS allows (all when empty)."""
    allowed = set(allowed)
    parts = [str(getattr(uc, f) or "").strip() for f in FIELDS if not allowed or f in allowed]
    return "\n".join(p for p in parts if p)


def evidence_text(ev: Evidence) -> str:
    return evidence_text_of(ev.text, ev.tags or [])


def evidence_text_of(text: str, tags: Iterable[Any]) -> str:
    """What of an evidence item is embedded: its text, then its tags."""
    return f"{text}\n{' '.join(str(t) for t in tags)}".strip()


# ---------------------------------------------------------------------------------------------------- storing


@dataclass(frozen=True)
class Synced:
    use_cases: int
    evidence: int
    failed: bool  # the endpoint did not answer (or the budget is spent): the rest waits for the next run


def pending(
    session: Session, kind: str, model: str, ids: Iterable[int] | None = None, allowed: Iterable[str] = ()
) -> list[tuple[int, str]]:
    """(id, text) of the use cases or evidence items (all when `ids` is None) whose text has no vector of `model`."""
    wanted = None if ids is None else list(ids)
    have = vectors.stored_hashes(session, kind, model, wanted)
    if kind == vectors.USE_CASE:
        stmt = select(UseCase).order_by(UseCase.id)
        if wanted is not None:
            stmt = stmt.where(UseCase.id.in_(wanted))
        texts = ((uc.id, use_case_text(uc, allowed)) for uc in session.scalars(stmt))
    else:
        stmt_ev = select(Evidence).order_by(Evidence.id)
        if wanted is not None:
            stmt_ev = stmt_ev.where(Evidence.id.in_(wanted))
        # Evidence about a use case repeats its words: not sent when a lead keeps its description back.
        keep_back = bool(allowed) and "problem" not in set(allowed)
        texts = ((ev.id, evidence_text(ev)) for ev in session.scalars(stmt_ev) if not (keep_back and ev.use_case_id))
    return [(i, text) for i, text in texts if text and have.get(i) != vectors.text_hash(text)]


def store(uow: UnitOfWork, kind: str, model: str, rows: list[tuple[int, str, Sequence[float]]]) -> int:
    """Keep the vectors (replacing older ones of the same refs and model); committed on return."""
    count = vectors.put(uow.session, kind, model, rows)
    uow.commit()
    return count


def embed_pending(
    factory: sessionmaker[Session],
    embedder: Embedder,
    kind: str,
    ids: Iterable[int] | None = None,
    *,
    allowed: Iterable[str] = (),
) -> tuple[list[int], bool]:
    """Embed what has no current vector, a batch at a time: read, ask the endpoint with no transaction open (on
    SQLite a write transaction is the database's one writer), then store. Returns the ids embedded, and whether
    the endpoint failed on the way (the rest waits for the next run: nothing is half-written)."""
    model = embedder.embedding_model
    with UnitOfWork(read_only(factory)) as uow:
        todo = pending(uow.session, kind, model, ids, allowed)
    purpose = PURPOSE_USE_CASE if kind == vectors.USE_CASE else PURPOSE_EVIDENCE
    done: list[int] = []
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        found = embedder.embed([text for _, text in batch], purpose=purpose)
        if found is None or len(found) != len(batch):
            return done, True
        with UnitOfWork(background(factory)) as uow:
            store(uow, kind, model, [(i, t, v) for (i, t), v in zip(batch, found, strict=True)])
        done += [i for i, _ in batch]
    return done, False


def sync(factory: sessionmaker[Session], embedder: Embedder, *, allowed: Iterable[str] = ()) -> Synced:
    """Embed everything without a current vector: an imported register, new evidence, a new embedding model."""
    if not embedder.enabled:
        return Synced(0, 0, False)
    use_cases, failed = embed_pending(factory, embedder, vectors.USE_CASE, allowed=allowed)
    evidence: list[int] = []
    if not failed:
        evidence, failed = embed_pending(factory, embedder, vectors.EVIDENCE, allowed=allowed)
    return Synced(len(use_cases), len(evidence), failed)


def embed_later(uow: UnitOfWork, use_case_id: int, now: dt.datetime, *, check: bool = True) -> None:
    """Queue embedding a new or edited use case as durable work in the caller's transaction; with `check`, its
    duplicates by meaning are looked for once its vector is stored, and the submitter hears of new ones."""
    from bot.tasks import TASKS  # the outbox platform of durable work

    task = {"task": TASK, "use_case_id": use_case_id, "person_id": 0, "check": check}
    repo.enqueue(uow.session, task, operation="task", platform=TASKS, destination=f"embed:{use_case_id}", at=now)


# ------------------------------------------------------------------------------------------------- similarity


def meaning(cosine: float, floor: float = COSINE_FLOOR) -> float:
    """A cosine as a 0..1 likeness: 0 at or below `floor`, 1 for the same direction."""
    return float(min(1.0, max(0.0, (cosine - floor) / (1.0 - floor))))


class Tuning(BaseModel):
    """SIMILARITY_TUNING: how meaning and words are fused (a misspelt key fails loudly)."""

    model_config = ConfigDict(extra="forbid")

    fusion: Literal["max", "sum"] = FUSION
    weight: float = Field(default=SEMANTIC_WEIGHT, ge=0, le=1)
    floor: float = Field(default=COSINE_FLOOR, ge=-1, lt=1)
    threshold: float = Field(default=LIKELY_DUPLICATE, gt=0, le=1)


class SemanticSimilarity:
    """intake.similar's interface by meaning and words: lexical candidates and nearest vectors, scores fused.

    The query's vector is the stored one when the query is a stored use case asked with its own title and
    description (`exclude_id`; the background check after an embedding), else it is embedded now: use it after
    the ack, never inside a request Slack waits on.
    Without a vector (the endpoint failed) it is the lexical ranking as it is.
    """

    def __init__(
        self,
        embedder: Embedder,
        lexical: LexicalSimilarity | None = None,
        *,
        index: vectors.VectorIndex | None = None,
        weight: float = SEMANTIC_WEIGHT,
        floor: float = COSINE_FLOOR,
        threshold: float = LIKELY_DUPLICATE,
        pool: int = POOL,
        fusion: Literal["max", "sum"] = FUSION,
        allowed: Iterable[str] = (),
    ) -> None:
        self.embedder = embedder
        self.lexical = lexical or LexicalSimilarity()
        self.index = index or vectors.INDEX
        self.weight, self.floor, self.threshold, self.pool = weight, floor, threshold, pool
        self.fusion = fusion
        self.allowed = frozenset(allowed)

    @classmethod
    def from_settings(cls, embedder: Embedder, settings: Any) -> SemanticSimilarity:
        """The similarity Settings configure: SIMILARITY_TUNING's fusion, and the fields LLM_FIELDS allows."""
        t = Tuning.model_validate(getattr(settings, "similarity_tuning", {}) or {})
        allowed: frozenset[str] = getattr(settings, "llm_fields", frozenset())
        return cls(embedder, weight=t.weight, floor=t.floor, threshold=t.threshold, fusion=t.fusion, allowed=allowed)

    def query_vector(self, session: Session, text: str, title: str | None, exclude_id: int | None) -> Any:
        model = self.embedder.embedding_model
        uc = session.get(UseCase, exclude_id) if exclude_id is not None else None
        if uc is not None and (uc.title, uc.problem or "") == (title, text):  # asking with its own words
            own = use_case_text(uc, self.allowed)
            stored = vectors.stored_hashes(session, vectors.USE_CASE, model, [uc.id])
            if own and stored.get(uc.id) == vectors.text_hash(own):
                return vectors.vector_of(session, vectors.USE_CASE, model, uc.id)
        query = "\n".join(p for p in ((title or "").strip(), text.strip()) if p)
        found = self.embedder.embed([query], purpose=PURPOSE_QUERY) if query else None
        return np.asarray(found[0], dtype=np.float32) if found else None

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
        pool = max(self.pool, 4 * top)
        lexical = self.lexical.similar(
            session,
            text,
            title=title,
            exclude_id=exclude_id,
            other_departments_than=other_departments_than,
            top=max(LEXICAL_POOL, 4 * top),
        )
        vector = self.query_vector(session, text, title, exclude_id) if self.embedder.enabled else None
        if vector is None or top <= 0:
            return lexical[:top]
        model = self.embedder.embedding_model
        skip = [exclude_id] if exclude_id is not None else []
        near = self.index.nearest(session, vectors.USE_CASE, model, vector, top=pool, exclude=skip)
        cosine = {n.ref_id: n.cosine for n in near}
        by_id = {m.id: m for m in lexical}
        missing = [i for i in cosine if i not in by_id]
        cosine.update(
            self.index.cosines(session, vectors.USE_CASE, model, vector, [i for i in by_id if i not in cosine])
        )
        rows = {r.id: r for r in _load(session, missing)} if missing else {}
        fused: list[SimilarUseCase] = []
        for m in lexical:
            fused.append(self._fuse(m, m.score, cosine.get(m.id)))
        for i in missing:
            r = rows.get(i)
            if r is None or (other_departments_than and r.department == other_departments_than):
                continue
            fused.append(self._fuse(r.match(0.0, (), False), 0.0, cosine[i]))
        fused.sort(key=lambda m: (-m.score, m.id))
        return fused[:top]

    def _fuse(self, m: SimilarUseCase, lexical: float, cosine: float | None) -> SimilarUseCase:
        """(1 - w) x lexical + w x meaning ("sum"), or the larger of that and the lexical score ("max": meaning
        lifts a match and never lowers one found by words); a likely duplicate by words stays one."""
        if cosine is None:  # no vector yet (not embedded): its words are all there is to go on
            return m
        score = (1 - self.weight) * lexical + self.weight * meaning(cosine, self.floor)
        if self.fusion == "max":
            score = max(lexical, score)
        return replace(m, score=round(score, 4), likely_duplicate=m.likely_duplicate or score >= self.threshold)


# ------------------------------------------------------------------------------------------ after an embedding


def find_by_meaning(uow: UnitOfWork, use_case_id: int, similarity: SemanticSimilarity) -> list[SimilarUseCase]:
    """The likely duplicates of a stored use case in other departments, by meaning and words (a read)."""
    uc = uow.session.get(UseCase, use_case_id)
    if uc is None:
        return []
    found = similarity.similar(
        uow.session,
        uc.problem or "",
        title=uc.title,
        exclude_id=uc.id,
        other_departments_than=uc.department.name if uc.department else None,
        top=duplicates.SHOWN,
    )
    return [m for m in found if m.likely_duplicate]


def record_found(uow: UnitOfWork, use_case_id: int, found: list[SimilarUseCase], *, now: dt.datetime) -> list[int]:
    """Link the duplicates by meaning that the use case's receipt did not name, tell its submitter of them (and
    redraw a waiting review card, and tell the hub of a three-department cluster); committed on return."""
    s = uow.session
    uc = s.get(UseCase, use_case_id)
    if uc is None:
        uow.commit()
        return []
    before = set(s.scalars(select(UseCaseLink.other_id).where(UseCaseLink.use_case_id == uc.id)))
    # Ones told of before (an edit's lexical check drops unanswered links; they come back here, said once).
    told = {i for row in repo.audits_of(s, uc.id, (FOUND,)) for i in (row.after or {}).get("others", [])}
    added = [m for m in found if m.id not in before and s.get(UseCase, m.id) is not None]
    for m in added:
        s.add(UseCaseLink(use_case_id=uc.id, other_id=m.id, score=m.score, created_at=now))
    s.flush()
    ids = {m.id for m in added} - told
    new = [d for d in duplicates.duplicates_of(s, uc.id) if d.id in ids]
    if new:
        after = {"others": [d.id for d in new], "scores": [d.score for d in new]}
        repo.audit(s, action=FOUND, actor_id=None, use_case_id=uc.id, after=after, at=now)
        review = repo.current_review(s, uc.id)
        view = UseCaseView.of(uc, review)
        if not duplicates._stand_in(uc.submitter):
            repo.enqueue(s, jsonable(DuplicatesFound(use_case=view, duplicates=new)), person_id=uc.submitter_id, at=now)
        if review is not None and review.decision is None:
            from intake.reviews import update_card

            update_card(s, view, now)
        if (shared := duplicates.cluster_to_tell(s, uc, now)) is not None:
            repo.enqueue(s, jsonable(shared), channel=HUB, at=now)
    uow.commit()
    return [d.id for d in new]
