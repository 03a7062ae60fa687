"""Quality of `hubspoke whoknows` on android.stackexchange expert finding, beside three baselines.

    python bench/whoknows_quality.py              # tune on the training questions, then test once
    python bench/whoknows_quality.py --folds 0    # skip tuning, test with the recorded choice (CHOSEN)
    python bench/whoknows_quality.py --folds 0 --embeddings   # also with embeddings (a real model on loopback)

Evidence: one item per answer to a non-test question (title, body and tags; weight 1 + ln(answer score);
time from the answer's post id). Hubspoke's index is the real one: a SQLite file migrated like
production, filled by `hubspoke expertise import`, queried by `hubspoke whoknows --batch`, each query
asked as of the time its question was posted (so evidence from later posts does not exist yet).
Tuning uses only non-test questions: 5-fold cross-validation, each fold answered from the other four.

With --embeddings, a real embeddings endpoint runs on loopback (bench/embeddings: all-MiniLM-L6-v2 behind an
OpenAI-compatible server, in the bench's own environment), the evidence is embedded and stored as Hubspoke
stores it, and each question is embedded and matched against it (bot.expertise.scoring.SemanticScorer) beside
the full-text scores. Its weight and floor are chosen by the same cross-validation on the training questions.
Then, because 88 test questions are too few to tell a 10% gain from noise, every question is also asked by
k-fold over all of them (each fold's questions asked with their own answers removed from the evidence), with a
paired bootstrap 95% interval of the ratio to the best baseline.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import itertools
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.se_android import Item, Metrics, Question, evidence, load, post_time, weight
from bench.se_baselines import WEIGHTS, Baselines
from bot.cli import main as hubspoke
from bot.expertise.importer import import_evidence
from bot.expertise.index import ExpertiseIndex
from bot.expertise.ranking import RankingConfig, rank
from bot.expertise.scoring import AnalyzedQuery, Scorer, SemanticScorer, TextScorer
from intake import semantic
from storage import vectors
from storage.db import UnitOfWork, make_engine, make_session_factory, upgrade
from storage.models import Identity
from storage.search import TextHit

GRID = {
    "half_life_days": [30.0, 60.0, 120.0, 365.0],
    "relevance_power": [0.5, 1.0],
    "activity_weight": [0.0, 0.5, 1.0],
}
# The tuning run's choice, used by --folds 0; a tuning run prints its own.
CHOSEN = {"half_life_days": 60.0, "relevance_power": 0.5, "activity_weight": 1.0}
FIXED = {"hit_limit": 5000, "ask_penalty": 0.0, "spread": False}
TOP = 100


def jsonl(items: list[Item]) -> str:
    """The evidence as `hubspoke expertise import` reads it."""
    rows = (
        {
            "person": f"se{it.person}",
            "name": f"user {it.person}",
            "text": it.text,
            "tags": list(it.tags),
            "kind": "imported",
            "weight": round(weight(it.score), 6),
            "at": it.at.isoformat(),
        }
        for it in items
    )
    return "".join(json.dumps(r) + "\n" for r in rows)


class TextMemo:
    """The LLM port with every text's embedding remembered: folds share most of their evidence."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.enabled = True
        self.embedding_model = inner.embedding_model
        self.cache: dict[str, list[float]] = {}

    def embed(self, texts: Any, *, purpose: str) -> list[list[float]] | None:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            got = self.inner.embed(missing, purpose=purpose)
            if got is None:
                return None
            self.cache.update(zip(missing, got, strict=True))
        return [self.cache[t] for t in texts]


def build(path: Path, items: list[Item], embedder: TextMemo | None = None) -> str:
    """A migrated SQLite file at `path` holding `items` (imported by the real importer), their vectors stored."""
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with UnitOfWork(factory) as uow:
        import_evidence(uow, jsonl(items).splitlines(), now=post_time(218_276))
    if embedder is not None:
        _, failed = semantic.embed_pending(factory, embedder, vectors.EVIDENCE)
        assert not failed, "the embeddings server stopped answering"
    engine.dispose()
    return url


@dataclass
class Remembering:
    """A scorer that remembers another's hits: the grid re-ranks the same full-text hits many times."""

    inner: Scorer
    seen: dict[tuple[str, dt.datetime, int], list[TextHit]] = field(default_factory=dict)

    def hits(self, session: Session, query: AnalyzedQuery, *, before: dt.datetime, limit: int) -> list[TextHit]:
        key = (query.text, before, limit)
        if key not in self.seen:
            self.seen[key] = self.inner.hits(session, query, before=before, limit=limit)
        return self.seen[key]


def ask_all(
    url: str,
    qs: list[Question],
    config: dict[str, object],
    *,
    timed: bool = True,
    memo: Remembering | None = None,
    embedder: TextMemo | None = None,
    semantic_memo: Remembering | None = None,
    fast: bool = True,
) -> list[list[str]]:
    """Rank people for each question with the index in-process (the function `whoknows` calls); with `embedder`,
    each question is embedded and evidence alike in meaning counts too (the index's semantic scorer)."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    index = ExpertiseIndex(config=RankingConfig.model_validate({**FIXED, **config}))
    if embedder is not None:
        index.with_embeddings(embedder)
    if memo is not None:
        index.scorers[0] = (memo, 1.0)
    if semantic_memo is not None and embedder is not None:
        index.scorers[1] = (semantic_memo, index.scorers[1][1])
    out = []
    with UnitOfWork(factory) as uow:
        handle = {pid: ext[2:] for pid, ext in uow.session.execute(select(Identity.person_id, Identity.external_id))}
    for q in qs:
        now = post_time(q.id) if timed else post_time(218_276)
        vector = index.query_vector(q.query) if embedder is not None else None
        with UnitOfWork(factory) as uow:
            if fast:  # the ranking find_experts pages, without drawing each person's evidence
                hits = index._hits(uow.session, replace(index.analyze(q.query), vector=vector), now)
                ranking = rank(uow.session, hits, index.config, now=now, top=TOP, exclude=set())
                out.append([handle[c.person_id] for c in ranking.candidates[:TOP]])
                continue
            result = index.find_experts(uow, q.query, top=TOP, record_asks=False, vector=vector, now=now)
        out.append([e.handles["slack"][2:] for e in result.experts if e.handles.get("slack")])
    engine.dispose()
    return out


def via_cli(url: str, items: list[Item], qs: list[Question], config: dict[str, object], tmp: Path) -> list[list[str]]:
    """The test run through the `hubspoke` command itself: `expertise import`, then `whoknows --batch`."""
    (tmp / "evidence.jsonl").write_text(jsonl(items), encoding="utf-8")
    batch = "".join(json.dumps({"query": q.query, "as_of": post_time(q.id).isoformat()}) + "\n" for q in qs)
    (tmp / "queries.jsonl").write_text(batch, encoding="utf-8")
    os.environ["DATABASE_URL"] = url
    os.environ["EXPERTISE_RANKING"] = json.dumps({**FIXED, **config})
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        assert hubspoke(["expertise", "import", str(tmp / "evidence.jsonl")]) == 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert hubspoke(["whoknows", "--batch", str(tmp / "queries.jsonl"), "--top", str(TOP)]) == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["query"] for r in rows] == [q.query for q in qs], "batch output out of order"
    return [[e["handles"]["slack"][2:] for e in r["experts"] if e.get("handles", {}).get("slack")] for r in rows]


def score(ranked: list[list[str]], qs: list[Question]) -> tuple[float, float, float]:
    """MRR, nDCG@10 and hit@5 of rankings, one per question."""
    m = Metrics()
    for r, q in zip(ranked, qs, strict=True):
        m.add(r, q)
    return m.row()


def fmt(name: str, row: tuple[float, float, float]) -> str:
    return f"{name:<58} {row[0]:.4f}  {row[1]:.4f}  {row[2]:.4f}"


def tune(questions: dict[str, Question], train: list[str], k: int, tmp: Path) -> tuple[dict[str, object], str]:
    """k-fold cross-validation on the training questions; returns the best config and baseline weight."""
    ids = sorted(train, key=int)
    random.Random(0).shuffle(ids)
    folds = [ids[i::k] for i in range(k)]
    configs = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    ours: dict[int, list[list[str]]] = {i: [] for i in range(len(configs))}
    base: dict[str, list[list[str]]] = {w: [] for w in WEIGHTS}
    asked: list[Question] = []
    for f, fold in enumerate(folds):
        rest = [q for g, other in enumerate(folds) if g != f for q in other]
        items = evidence(questions, rest)
        url = build(tmp / f"fold{f}.db", items)
        qs = [questions[q] for q in fold]
        asked.extend(qs)
        memo = Remembering(ExpertiseIndex().scorers[0][0])
        for i, config in enumerate(configs):
            ours[i].extend(ask_all(url, qs, config, memo=memo))
        b = Baselines(items)
        for w in WEIGHTS:
            base[w].extend(b.summed(q.query, w) for q in qs)
    print(f"\ntuning: {k}-fold cross-validation over {len(asked)} training questions (test questions unseen)")
    print(f"{'':<58} {'MRR':>6}  {'nDCG10':>6}  {'hit@5':>6}")
    results = []
    for i, config in enumerate(configs):
        row = score(ours[i], asked)
        results.append((row[1], i))
        print(fmt("hubspoke " + " ".join(f"{k}={v:g}" for k, v in config.items()), row))  # type: ignore[str-format]
    for w in WEIGHTS:
        print(fmt(f"baseline BM25 summed, weight {w}", score(base[w], asked)))
    best = configs[max(results)[1]]
    best_weight = max(WEIGHTS, key=lambda w: score(base[w], asked)[1])
    print(f"chosen: {best}; baseline weight: {best_weight}")
    return best, best_weight


SEMANTIC_GRID = {
    "activity_weight": [0.0, 0.3, 1.0],
    "relevance_power": [0.5, 1.0],
    "semantic_weight": [0.0, 1.0, 4.0, 16.0],  # 0: words alone, with the same knobs
}
SEMANTIC_FLOOR = 0.35
UNTIMED = {"half_life_days": 1e9}
# The tuning run's choices (time on, time off, words alone time off), used by --semantic-folds 0; a tuning
# run prints its own.
SEMANTIC_CHOSEN = (
    {"activity_weight": 1.0, "relevance_power": 0.5, "semantic_weight": 1.0, "semantic_floor": SEMANTIC_FLOOR},
    {"activity_weight": 0.0, "relevance_power": 1.0, "semantic_weight": 4.0, "semantic_floor": SEMANTIC_FLOOR},
    {"activity_weight": 0.3, "relevance_power": 1.0, "semantic_weight": 0.0, "semantic_floor": SEMANTIC_FLOOR},
)


def folds_of(ids: list[str], k: int, seed: int) -> list[list[str]]:
    shuffled = sorted(ids, key=int)
    random.Random(seed).shuffle(shuffled)
    return [shuffled[i::k] for i in range(k)]


def tune_semantic(
    questions: dict[str, Question], train: list[str], k: int, tmp: Path, config: dict[str, object], embedder: TextMemo
) -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
    """The ranking knobs and the semantic scorer's weight, by k-fold cross-validation on the training questions,
    for time on and for time off apart; and the best with words alone (semantic weight 0) for time off."""
    configs: list[dict[str, object]] = [
        {**dict(zip(SEMANTIC_GRID, v, strict=True)), "semantic_floor": SEMANTIC_FLOOR}
        for v in itertools.product(*SEMANTIC_GRID.values())
    ]
    got: dict[tuple[int, bool], list[list[str]]] = {(i, t): [] for i in range(len(configs)) for t in (True, False)}
    asked: list[Question] = []
    folds = folds_of(train, k, 0)
    for f, fold in enumerate(folds):
        rest = [q for g, other in enumerate(folds) if g != f for q in other]
        url = build(tmp / f"sem{f}.db", evidence(questions, rest), embedder)
        qs = [questions[q] for q in fold]
        asked.extend(qs)
        text = Remembering(TextScorer())
        near = Remembering(SemanticScorer(embedder.embedding_model, floor=SEMANTIC_FLOOR))
        for i, c in enumerate(configs):
            for timed in (True, False):
                cfg = {**config, **c, **({} if timed else UNTIMED)}
                got[(i, timed)].extend(
                    ask_all(url, qs, cfg, timed=timed, memo=text, embedder=embedder, semantic_memo=near)
                )
        print(f"  tuning fold {f + 1}/{k} done", flush=True)
    print(f"\nsemantic tuning: {k}-fold over {len(asked)} training questions; nDCG@10 time on / time off")
    on = {i: score(got[(i, True)], asked)[1] for i in range(len(configs))}
    off = {i: score(got[(i, False)], asked)[1] for i in range(len(configs))}
    for i, c in enumerate(configs):
        knobs = ", ".join(f"{key} {c[key]}" for key in SEMANTIC_GRID)
        print(f"  {knobs}: {on[i]:.4f} / {off[i]:.4f}")
    best_on = configs[max(on, key=lambda i: (on[i], -i))]
    best_off = configs[max(off, key=lambda i: (off[i], -i))]
    words = [i for i, c in enumerate(configs) if c["semantic_weight"] == 0.0]
    words_off = configs[max(words, key=lambda i: (off[i], -i))]
    print(f"chosen, time on: {best_on}\nchosen, time off: {best_off}\nwords alone, time off: {words_off}")
    return best_on, best_off, words_off


def per_question(ranked: list[list[str]], qs: list[Question]) -> list[tuple[float, float, float]]:
    out = []
    for r, q in zip(ranked, qs, strict=True):
        m = Metrics()
        m.add(r, q)
        out.append(m.row())
    return out


def bootstrap(values: dict[str, list[tuple[float, float, float]]], ours: str, base: str, rounds: int = 2000) -> str:
    """The paired bootstrap 95% interval of nDCG@10 ours / base over questions."""
    a = [v[1] for v in values[ours]]
    b = [v[1] for v in values[base]]
    rng = random.Random(7)
    n = len(a)
    ratios = []
    for _ in range(rounds):
        idx = [rng.randrange(n) for _ in range(n)]
        sb = sum(b[i] for i in idx)
        ratios.append(sum(a[i] for i in idx) / sb if sb else float("inf"))
    ratios.sort()
    return f"{ratios[int(0.025 * rounds)]:.3f}x to {ratios[int(0.975 * rounds)]:.3f}x"


def kfold_all(
    questions: dict[str, Question],
    k: int,
    config: dict[str, object],
    sems: tuple[dict[str, object], dict[str, object], dict[str, object]],
    base_weight: str,
    embedder: TextMemo,
    tmp: Path,
) -> None:
    """Every question asked once, by k-fold over all of them (its fold's answers removed from the evidence)."""
    values: dict[str, list[tuple[float, float, float]]] = {}
    asked: list[Question] = []
    folds = folds_of(list(questions), k, 1)
    started = time.perf_counter()
    for f, fold in enumerate(folds):
        rest = [q for g, other in enumerate(folds) if g != f for q in other]
        items = evidence(questions, rest)
        url = build(tmp / f"all{f}.db", items, embedder)
        qs = [questions[q] for q in fold]
        asked.extend(qs)
        b = Baselines(items)
        text = Remembering(TextScorer())
        near = Remembering(SemanticScorer(embedder.embedding_model, floor=SEMANTIC_FLOOR))
        on, off, words_off = ({**config, **sem} for sem in sems)
        runs = {
            "time on, embeddings": ask_all(url, qs, on, memo=text, embedder=embedder, semantic_memo=near),
            "time on, words alone": ask_all(url, qs, config, memo=text),
            "time off, embeddings": ask_all(
                url, qs, {**off, **UNTIMED}, timed=False, memo=text, embedder=embedder, semantic_memo=near
            ),
            "time off, words alone (its own best knobs)": ask_all(
                url, qs, {**words_off, **UNTIMED}, timed=False, memo=text
            ),
            "baseline: BM25 over person profiles": [b.profile(q.query) for q in qs],
            f"baseline: BM25 over items summed, weight {base_weight}": [b.summed(q.query, base_weight) for q in qs],
            "baseline: popularity": [b.popularity() for _ in qs],
            "time-aware baseline: BM25 summed before the question": [
                b.summed(q.query, base_weight, post_time(q.id)) for q in qs
            ],
            "time-aware baseline: popularity before the question": [b.popularity(post_time(q.id)) for q in qs],
        }
        for name, ranked in runs.items():
            values.setdefault(name, []).extend(per_question(ranked, qs))
        print(f"  fold {f + 1}/{k}: {len(qs)} questions, {len(items)} items ({time.perf_counter() - started:.0f} s)")
    n = len(asked)
    print(f"\nall {n} questions by {k}-fold; MRR, nDCG@10 and hit@5, means over questions")
    print(f"{'':<58} {'MRR':>6}  {'nDCG10':>6}  {'hit@5':>6}")
    means = {name: tuple(sum(v[i] for v in rows) / n for i in range(3)) for name, rows in values.items()}
    for name, row in means.items():
        print(fmt(name, row))  # type: ignore[arg-type]
    plain = [name for name in means if name.startswith("baseline")]
    timed = plain + [name for name in means if name.startswith("time-aware")]
    best_off = max(plain, key=lambda name: means[name][1])
    best_on = max(timed, key=lambda name: means[name][1])
    for ours, best, target in (
        ("time off, embeddings", best_off, 1.10),
        ("time off, words alone (its own best knobs)", best_off, None),
        ("time on, embeddings", best_on, 1.20),
        ("time on, words alone", best_on, None),
    ):
        ratio = means[ours][1] / means[best][1]
        verdict = f"; target {target:.2f}x: {'met' if ratio >= target else 'not met'}" if target else ""
        print(
            f"nDCG@10 {ours}: {ratio:.3f}x {best.removeprefix('baseline: ').removeprefix('time-aware baseline: ')} "
            f"(95% CI {bootstrap(values, ours, best)}){verdict}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds for tuning (0: use CHOSEN)")
    parser.add_argument("--embeddings", action="store_true", help="also with embeddings (a real model on loopback)")
    parser.add_argument("--semantic-folds", type=int, default=5, help="folds tuning the semantic scorer (0: CHOSEN)")
    parser.add_argument("--all-folds", type=int, default=5, help="k of the k-fold over all questions (embeddings)")
    args = parser.parse_args()
    started = time.perf_counter()
    questions, test = load()
    test_set = set(test)
    train = [q for q in questions if q not in test_set]
    items = evidence(questions, train)
    print(
        f"data: {len(questions)} questions, {len(train)} for evidence ({len(items)} items, "
        f"{len({it.person for it in items})} people), {len(test)} test questions"
    )
    with tempfile.TemporaryDirectory(prefix="whoknows-quality-") as name:
        tmp = Path(name)
        config, base_weight = tune(questions, train, args.folds, tmp) if args.folds > 1 else (CHOSEN, "score")
        qs = [questions[q] for q in test]
        ranked = via_cli(f"sqlite:///{tmp / 'test.db'}", items, qs, config, tmp)
        untimed = ask_all(f"sqlite:///{tmp / 'test.db'}", qs, {**config, "half_life_days": 1e9}, timed=False)
    b = Baselines(items)
    print(f"\ntest: {len(qs)} questions; MRR and nDCG@10 of the real answerers, hit@5 of the accepted answerer")
    print(f"{'':<58} {'MRR':>6}  {'nDCG10':>6}  {'hit@5':>6}")
    rows = {
        "hubspoke whoknows (as of each question's time)": score(ranked, qs),
        "  ablation: no time (all evidence, no decay)": score(untimed, qs),
        "baseline: BM25 over person profiles": score([b.profile(q.query) for q in qs], qs),
        f"baseline: BM25 over items summed, weight {base_weight}": score(
            [b.summed(q.query, base_weight) for q in qs], qs
        ),
        "baseline: popularity (most evidence first)": score([b.popularity() for _ in qs], qs),
        "  time-aware baseline: BM25 summed, evidence before the question": score(
            [b.summed(q.query, base_weight, post_time(q.id)) for q in qs], qs
        ),
        "  time-aware baseline: popularity before the question": score([b.popularity(post_time(q.id)) for q in qs], qs),
    }
    for name, row in rows.items():
        print(fmt(name, row))
    best = max(row[1] for name, row in rows.items() if name.startswith("baseline"))
    ours = rows["hubspoke whoknows (as of each question's time)"][1]
    print(f"\nnDCG@10: hubspoke {ours:.4f} vs best baseline {best:.4f}: {100 * (ours / best - 1):+.1f}%")
    print(f"config: {json.dumps({**FIXED, **config})}")
    if args.embeddings:
        with_embeddings(questions, train, test, items, config, base_weight, args)
    print(f"runtime {time.perf_counter() - started:.0f} s")
    return 0


def with_embeddings(
    questions: dict[str, Question],
    train: list[str],
    test: list[str],
    items: list[Item],
    config: dict[str, object],
    base_weight: str,
    args: argparse.Namespace,
) -> None:
    from bench.embeddings import ensure_env, serve
    from bot.llm import OpenAILLM

    python = ensure_env()
    with serve(python) as base_url, tempfile.TemporaryDirectory(prefix="whoknows-embeddings-") as name:
        tmp = Path(name)
        calls = f"sqlite:///{tmp / 'llm_calls.db'}"
        upgrade(calls)
        llm = OpenAILLM(
            make_session_factory(make_engine(calls)), api_key="unused", base_url=base_url, chat_model="none",
            embedding_model="all-MiniLM-L6-v2", timeout=120, daily_budget=0,
        )  # fmt: skip
        embedder = TextMemo(llm)
        t0 = time.perf_counter()
        texts = sorted(
            {
                semantic.evidence_text_of(it.text, it.tags)
                for q in questions.values()
                for it in evidence(questions, [q.id])
            }
        )
        embedder.embed(texts, purpose="embed_evidence")
        took = time.perf_counter() - t0
        print(f"\nembedded {len(texts):,} distinct evidence texts in {took:.1f} s ({len(texts) / took:.0f} a second)")
        folds = args.semantic_folds
        if folds > 1:
            sem_on, sem_off, words_off = tune_semantic(questions, train, folds, tmp, config, embedder)
        else:
            sem_on, sem_off, words_off = SEMANTIC_CHOSEN
        qs = [questions[q] for q in test]
        url = build(tmp / "test-emb.db", items, embedder)
        on = ask_all(url, qs, {**config, **sem_on}, embedder=embedder)
        off = ask_all(url, qs, {**config, **sem_off, **UNTIMED}, timed=False, embedder=embedder)
        off_words = ask_all(url, qs, {**config, **words_off, **UNTIMED}, timed=False)
        print(f"\ntest: the same {len(qs)} questions with embeddings")
        print(fmt("hubspoke whoknows with embeddings (time on)", score(on, qs)))
        print(fmt("  with embeddings, no time (all evidence, no decay)", score(off, qs)))
        print(fmt("  words alone, no time, its own best knobs", score(off_words, qs)))
        kfold_all(questions, args.all_folds, config, (sem_on, sem_off, words_off), base_weight, embedder, tmp)


if __name__ == "__main__":
    sys.exit(main())
