"""Stored embeddings and the nearest ones to a vector: one table, brute-force cosine over a cached matrix.

A hub's register (thousands of use cases, tens of thousands of evidence items) fits in memory as one float32
matrix per kind and model; a query is one matrix product (a few milliseconds for 10,000 x 1,536). Each process
keeps the matrix it loaded and reloads only what changed since: the table's row count and highest id for the
kind and model say whether anything did (a re-embedded row is replaced by a new one, so its id grows).
Vectors are stored normalised to unit length, so a dot product is their cosine.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.models import Embedding
from storage.types import utcnow

USE_CASE = "use_case"
EVIDENCE = "evidence"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalised(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm else array


def stored_hashes(session: Session, kind: str, model: str, ids: Iterable[int] | None = None) -> dict[int, str]:
    """ref id -> the hash of the text its stored vector was made from (for this kind and model)."""
    stmt = select(Embedding.ref_id, Embedding.text_hash).where(Embedding.kind == kind, Embedding.model == model)
    if ids is not None:
        wanted = list(ids)
        if not wanted:
            return {}
        stmt = stmt.where(Embedding.ref_id.in_(wanted))
    return {ref: h for ref, h in session.execute(stmt)}


def put(session: Session, kind: str, model: str, rows: Iterable[tuple[int, str, Sequence[float]]]) -> int:
    """Store (ref id, text, vector) rows for `model`, replacing any older vector of the same ref; returns how many."""
    batch = list(rows)
    if not batch:
        return 0
    refs = [ref for ref, _, _ in batch]
    session.execute(
        delete(Embedding).where(Embedding.kind == kind, Embedding.model == model, Embedding.ref_id.in_(refs))
    )
    now = utcnow()
    session.add_all(
        Embedding(kind=kind, ref_id=ref, model=model, text_hash=text_hash(text), vector=normalised(vec), at=now)
        for ref, text, vec in batch
    )
    session.flush()
    return len(batch)


def drop(session: Session, kind: str, ids: Iterable[int]) -> None:
    """Forget the vectors of these refs, for every model (the text is gone or rewritten)."""
    wanted = list(ids)
    if wanted:
        session.execute(delete(Embedding).where(Embedding.kind == kind, Embedding.ref_id.in_(wanted)))


def vector_of(session: Session, kind: str, model: str, ref_id: int) -> np.ndarray | None:
    found = session.scalar(
        select(Embedding.vector).where(Embedding.kind == kind, Embedding.model == model, Embedding.ref_id == ref_id)
    )
    return None if found is None else np.asarray(found, dtype=np.float32)


@dataclass(frozen=True)
class Neighbour:
    ref_id: int
    cosine: float


@dataclass
class _Matrix:
    count: int = 0
    max_id: int = 0
    row_ids: np.ndarray | None = None  # the table's ids, ascending
    refs: np.ndarray | None = None
    vectors: np.ndarray | None = None


class VectorIndex:
    """The stored vectors of one process, per database, kind and model, refreshed when the table changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._matrices: dict[tuple[Any, str, str], _Matrix] = {}

    def _matrix(self, session: Session, kind: str, model: str) -> _Matrix:
        bind = session.get_bind()
        key = (str(bind.engine.url), kind, model)
        where = (Embedding.kind == kind, Embedding.model == model)
        count, max_id = session.execute(
            select(func.count(), func.coalesce(func.max(Embedding.id), 0)).where(*where)
        ).one()
        with self._lock:
            cached = self._matrices.get(key)
            if cached is not None and (cached.count, cached.max_id) == (count, max_id):
                return cached
        if cached is not None and cached.refs is not None:
            # Rows added since: when every other row is still there, append them; else reload everything.
            new = session.execute(
                select(Embedding.id, Embedding.ref_id, Embedding.vector).where(*where, Embedding.id > cached.max_id)
            ).all()
            kept = np.isin(cached.refs, [r for _, r, _ in new], invert=True)
            if int(kept.sum()) + len(new) == count:  # a re-embedded ref replaces its old row
                matrix = _merge(cached, new, kept, count, max_id)
                with self._lock:
                    self._matrices[key] = matrix
                return matrix
        rows = session.execute(
            select(Embedding.id, Embedding.ref_id, Embedding.vector).where(*where).order_by(Embedding.id)
        ).all()
        matrix = _merge(_Matrix(), rows, None, count, max_id)
        with self._lock:
            self._matrices[key] = matrix
        return matrix

    def nearest(
        self, session: Session, kind: str, model: str, vector: np.ndarray, *, top: int, exclude: Iterable[int] = ()
    ) -> list[Neighbour]:
        """The `top` stored refs nearest `vector` (cosine, best first), leaving out `exclude`."""
        m = self._matrix(session, kind, model)
        if m.vectors is None or m.refs is None or not len(m.refs) or top <= 0:
            return []
        scores = m.vectors @ normalised(vector)
        skip = list(exclude)
        if skip:
            scores = np.where(np.isin(m.refs, skip), -2.0, scores)
        k = min(top, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [Neighbour(int(m.refs[i]), float(scores[i])) for i in best if scores[i] > -2.0]

    def cosines(
        self, session: Session, kind: str, model: str, vector: np.ndarray, refs: Iterable[int]
    ) -> dict[int, float]:
        """The cosine of `vector` with each of `refs` that has a stored vector."""
        m = self._matrix(session, kind, model)
        wanted = list(refs)
        if m.vectors is None or m.refs is None or not wanted:
            return {}
        rows = np.flatnonzero(np.isin(m.refs, wanted))
        scores = m.vectors[rows] @ normalised(vector)
        return {int(m.refs[i]): float(s) for i, s in zip(rows, scores, strict=True)}


def _merge(base: _Matrix, rows: Sequence[Any], kept: np.ndarray | None, count: int, max_id: int) -> _Matrix:
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    refs = np.array([r[1] for r in rows], dtype=np.int64)
    vectors = np.vstack([np.asarray(r[2], dtype=np.float32) for r in rows]) if rows else None
    if base.vectors is not None and base.refs is not None and base.row_ids is not None:
        mask = kept if kept is not None else np.ones(len(base.refs), dtype=bool)
        ids = np.concatenate([base.row_ids[mask], ids])
        refs = np.concatenate([base.refs[mask], refs])
        vectors = base.vectors[mask] if vectors is None else np.vstack([base.vectors[mask], vectors])
    return _Matrix(count=count, max_id=max_id, row_ids=ids, refs=refs, vectors=vectors)


INDEX = VectorIndex()  # the process's cache; tests and benches may make their own
