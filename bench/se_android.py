"""The android.stackexchange expert-finding data (shared/data/expert-finding-stackexchange-android), as evidence.

Helpers for bench/whoknows_quality.py (evidence items, queries, ground truth, metrics) and a source of
realistic vocabulary for bench/whoknows_speed.py.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "expert-finding-stackexchange-android"

# Post ids are handed out in order, so they order questions and answers in time. The dump has no dates,
# so a post's time is interpolated linearly between the site's launch and the dump (an approximation:
# only the order is exact; half-lives below are in these interpolated days).
_FIRST = dt.datetime(2010, 7, 13, tzinfo=dt.UTC)
_DUMP = dt.datetime(2019, 9, 1, tzinfo=dt.UTC)
_LAST_ID = 218_276


def post_time(post_id: str | int) -> dt.datetime:
    """The interpolated time of a post (question or answer) from its id."""
    return _FIRST + (_DUMP - _FIRST) * (int(post_id) / _LAST_ID)


@dataclass(frozen=True)
class Question:
    """A question with its answers (answerer, answer id, answer score)."""

    id: str
    title: str
    body: str
    tags: tuple[str, ...]
    answers: tuple[tuple[str, str, int], ...]  # (answerer id, answer id, answer score)
    accepted: str | None

    @property
    def answerers(self) -> set[str]:
        return {a for a, _, _ in self.answers}

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}"

    @property
    def query(self) -> str:
        """What is asked: the title, the body and the tags."""
        return f"{self.title}\n{self.body}\n{' '.join(self.tags)}"


def _by_id(name: str) -> dict[str, str]:
    out = {}
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        qid, _, rest = line.partition(" ")
        out[qid] = rest
    return out


def load() -> tuple[dict[str, Question], list[str]]:
    """All questions by id, and the ids of the 88 test questions (in test.txt order)."""
    titles, bodies = _by_id("Q_title.txt"), _by_id("Q_content.txt")
    scores: dict[str, int] = {}
    for line in (DATA / "q_answer_ids_score.txt").read_text().splitlines()[1:]:
        parts = line.split()
        for i in range(1, len(parts) - 1, 2):
            scores[parts[i]] = int(parts[i + 1])
    questions = {}
    for line in (DATA / "Record_All.json").read_text().splitlines():
        r = json.loads(line)
        answers = tuple((a, aid, scores[aid]) for a, aid in r["AnswererAnswerTuples"])
        qid = r["QuestionId"]
        questions[qid] = Question(
            qid, titles[qid], bodies[qid], tuple(r["Tags"]), answers, r.get("AcceptedAnswererId") or None
        )
    # test.txt: asker, question, accepted answerer, then ids; the question's answerers are taken from
    # Record_All.json (the tail of each test.txt line equals its AnswererIdList).
    test = [line.split()[1] for line in (DATA / "test.txt").read_text().splitlines() if line.strip()]
    return questions, test


@dataclass(frozen=True)
class Item:
    """One piece of evidence: `person` answered the question behind `text` at `at`, with answer `score`."""

    person: str
    text: str
    tags: tuple[str, ...]
    score: int
    at: dt.datetime


def evidence(questions: dict[str, Question], ids: list[str]) -> list[Item]:
    """An item per answer to each of the questions `ids` (titles, bodies and tags; answer scores)."""
    return [
        Item(person, q.text, q.tags, score, post_time(aid))
        for q in (questions[i] for i in ids)
        for person, aid, score in q.answers
    ]


def weight(score: int) -> float:
    """Evidence weight from an answer score (all are at least 4 here): grows with the log of the score."""
    return 1.0 + math.log(max(score, 1))


@dataclass
class Metrics:
    """MRR and nDCG@10 of the real answerers, hit@5 of the accepted one, summed over questions."""

    mrr: float = 0.0
    ndcg10: float = 0.0
    hit5: float = 0.0
    n: int = 0

    def add(self, ranked: list[str], q: Question) -> None:
        relevant = q.answerers
        self.mrr += next((1 / (i + 1) for i, p in enumerate(ranked) if p in relevant), 0.0)
        dcg = sum(1 / math.log2(i + 2) for i, p in enumerate(ranked[:10]) if p in relevant)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
        self.ndcg10 += dcg / ideal
        self.hit5 += 1.0 if q.accepted is not None and q.accepted in ranked[:5] else 0.0
        self.n += 1

    def row(self) -> tuple[float, float, float]:
        n = max(self.n, 1)
        return self.mrr / n, self.ndcg10 / n, self.hit5 / n
