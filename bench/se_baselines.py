"""The three baselines the data's README names, implemented directly (not through Hubspoke's index).

BM25 is SQLite FTS5's bm25() (Okapi BM25, k1 = 1.2, b = 0.75) over an in-memory table with the same
tokenizer as the index (porter unicode61), so the baselines and the index see the same words. Queries
use the same terms as the index (stop words dropped, first 64 distinct words).
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable

from bench.se_android import Item
from bot.expertise.scoring import STOP_WORDS
from bot.expertise.taxonomy import words

WEIGHTS: dict[str, Callable[[int], float]] = {
    "score": lambda s: float(s),
    "1+ln(score)": lambda s: 1.0 + math.log(max(s, 1)),
    "1": lambda s: 1.0,
}


def match(query: str) -> str:
    """The FTS5 query for `query`: its terms as the index takes them, OR-ed."""
    terms = [w for w in dict.fromkeys(words(query)) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())][:64]
    return " OR ".join(f'"{t}"' for t in terms)


class Baselines:
    """BM25 over profiles, BM25 over items summed per person (weighted by answer score), popularity."""

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE items USING fts5(body, tokenize='porter unicode61')")
        self.db.executemany(
            "INSERT INTO items(rowid, body) VALUES (?, ?)",
            [(i, f"{it.text}\n{' '.join(it.tags)}") for i, it in enumerate(items)],
        )
        self.db.execute("CREATE VIRTUAL TABLE profiles USING fts5(person UNINDEXED, body, tokenize='porter unicode61')")
        profiles: dict[str, list[str]] = defaultdict(list)
        for it in items:
            profiles[it.person].append(f"{it.text}\n{' '.join(it.tags)}")
        self.db.executemany("INSERT INTO profiles VALUES (?, ?)", [(p, "\n".join(t)) for p, t in profiles.items()])

    def _past(self, before: dt.datetime | None) -> Callable[[int], bool]:
        return lambda i: before is None or self.items[i].at <= before

    def summed(self, query: str, weight: str = "score", before: dt.datetime | None = None) -> list[str]:
        """Sum of each item's BM25 score times its weight, per person."""
        m, w, ok = match(query), WEIGHTS[weight], self._past(before)
        totals: Counter[str] = Counter()
        if m:
            for rowid, score in self.db.execute("SELECT rowid, -bm25(items) FROM items WHERE items MATCH ?", (m,)):
                if ok(rowid):
                    it = self.items[rowid]
                    totals[it.person] += score * w(it.score)
        return [p for p, _ in totals.most_common()]

    def profile(self, query: str) -> list[str]:
        """BM25 of one document per person: everything they answered."""
        m = match(query)
        if not m:
            return []
        rows = self.db.execute(
            "SELECT person, -bm25(profiles) AS s FROM profiles WHERE profiles MATCH ? ORDER BY s DESC", (m,)
        )
        return [p for p, _ in rows]

    def popularity(self, before: dt.datetime | None = None) -> list[str]:
        """Most evidence items first."""
        counts = Counter(it.person for it in self.items if before is None or it.at <= before)
        return [p for p, _ in counts.most_common()]
