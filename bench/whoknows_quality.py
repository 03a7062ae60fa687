"""Quality of `hubspoke whoknows` on android.stackexchange expert finding, beside three baselines.

    python bench/whoknows_quality.py            # tune on the training questions, then test once
    python bench/whoknows_quality.py --folds 0  # skip tuning, test with the recorded choice (CHOSEN)

Evidence: one item per answer to a non-test question (title, body and tags; weight 1 + ln(answer score);
time from the answer's post id). Hubspoke's index is the real one: a SQLite file migrated like
production, filled by `hubspoke expertise import`, queried by `hubspoke whoknows --batch`, each query
asked as of the time its question was posted (so evidence from later posts does not exist yet).
Tuning uses only non-test questions: 5-fold cross-validation, each fold answered from the other four.
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
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.se_android import Item, Metrics, Question, evidence, load, post_time, weight
from bench.se_baselines import WEIGHTS, Baselines
from bot.cli import main as hubspoke
from bot.expertise.importer import import_evidence
from bot.expertise.index import ExpertiseIndex
from bot.expertise.ranking import RankingConfig
from bot.expertise.scoring import AnalyzedQuery, Scorer
from storage.db import UnitOfWork, make_engine, make_session_factory, upgrade
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


def build(path: Path, items: list[Item]) -> str:
    """A migrated SQLite file at `path` holding `items` (imported by the real importer)."""
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        import_evidence(uow, jsonl(items).splitlines(), now=post_time(218_276))
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
    url: str, qs: list[Question], config: dict[str, object], *, timed: bool = True, memo: Remembering | None = None
) -> list[list[str]]:
    """Rank people for each question with the index in-process (the function `whoknows` calls)."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    index = ExpertiseIndex(config=RankingConfig.model_validate({**FIXED, **config}))
    if memo is not None:
        index.scorers = [(memo, 1.0)]
    out = []
    for q in qs:
        now = post_time(q.id) if timed else post_time(218_276)
        with UnitOfWork(factory) as uow:
            result = index.find_experts(uow, q.query, top=TOP, record_asks=False, now=now)
        out.append([e.slack_user_id[2:] for e in result.experts if e.slack_user_id])
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
    return [[e["slack_user_id"][2:] for e in r["experts"]] for r in rows]


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds for tuning (0: use CHOSEN)")
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
    print(f"runtime {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
