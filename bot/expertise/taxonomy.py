"""The skills taxonomy: synonyms and related terms, shipped as taxonomy.toml and extensible by the hub."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case words of `text` (letters and digits)."""
    return _WORD.findall(text.lower())


def _key(word: str) -> str:
    # Plural-insensitive matching ("recommenders" names "recommender") without a full stemmer.
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _phrase(term: str) -> str:
    return " ".join(words(term))


def term_key(term: str) -> tuple[str, ...]:
    """How a term is matched: its words, plural-insensitive."""
    return tuple(_key(w) for w in words(term))


@dataclass
class Concept:
    """One skill: the terms that name it, groups of terms that mean exactly the same, and related terms."""

    name: str
    terms: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    same: list[list[str]] = field(default_factory=list)  # e.g. [["nlp", "natural language processing"]]


@dataclass(frozen=True)
class Span:
    """Query words [start, stop) that name a group of same-meaning terms: searched as the whole group."""

    start: int
    stop: int
    concept: str
    terms: tuple[str, ...]  # the group, in taxonomy order, whichever of them the query used


@dataclass(frozen=True)
class Expansion:
    """What a query named in the taxonomy: the concepts, their synonyms, related terms, same-meaning spans."""

    concepts: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    spans: tuple[Span, ...] = ()


class Taxonomy:
    """Concepts by name, with a phrase index for finding the ones a query mentions."""

    def __init__(self, concepts: dict[str, Concept]) -> None:
        self.concepts = concepts
        self._phrases: dict[tuple[str, ...], set[str]] = {}
        self._same: dict[tuple[str, ...], tuple[str, tuple[str, ...]]] = {}  # a group's term -> (concept, group)
        for concept in concepts.values():
            for group in concept.same:
                concept.terms.extend(t for t in group if t not in concept.terms)  # a group's terms name the concept
            for term in concept.terms:
                key = term_key(term)
                if key:
                    self._phrases.setdefault(key, set()).add(concept.name)
        for name in sorted(concepts):
            for group in concepts[name].same:
                phrases = tuple(dict.fromkeys(p for p in (_phrase(t) for t in group) if p))
                for term in group:
                    if key := term_key(term):
                        self._same.setdefault(key, (name, phrases))
        self._longest = max((len(k) for k in self._phrases), default=0)

    @classmethod
    def from_toml(cls, text: str) -> Taxonomy:
        """Parse the taxonomy file format (see taxonomy.toml)."""
        data = tomllib.loads(text).get("concepts", {})
        concepts = {
            name: Concept(
                name,
                [str(t) for t in body.get("terms", [])],
                [str(t) for t in body.get("related", [])],
                [[str(t) for t in group] for group in body.get("same", [])],
            )
            for name, body in data.items()
        }
        return cls(concepts)

    def merged(self, other: Taxonomy) -> Taxonomy:
        """This taxonomy with `other`'s concepts added; concepts with the same name take both term lists."""
        out = {
            n: Concept(n, list(c.terms), list(c.related), [list(g) for g in c.same]) for n, c in self.concepts.items()
        }
        for name, concept in other.concepts.items():
            mine = out.setdefault(name, Concept(name))
            mine.terms = list(dict.fromkeys([*mine.terms, *concept.terms]))
            mine.related = list(dict.fromkeys([*mine.related, *concept.related]))
            mine.same = [*mine.same, *(list(g) for g in concept.same if list(g) not in mine.same)]
        return Taxonomy(out)

    def expand(self, query_words: list[str]) -> Expansion:
        """The concepts named in `query_words` (as whole phrases), with their other terms and related terms.

        Words naming a group of same-meaning terms (an abbreviation, its expansion) stand for the whole
        group, so what follows does not depend on which of them the query used.
        """
        keys = [_key(w) for w in query_words]
        spans = self._spans(keys)
        covered = {i for span in spans for i in range(span.start, span.stop)}
        segments: list[tuple[int, list[str], set[tuple[str, ...]]]] = []
        query_keys = {k for i, k in enumerate(keys) if i not in covered}
        for span in spans:
            group = {term_key(t) for t in span.terms}
            segments.append((span.start, [span.concept], group))
            query_keys.update(k for key in group for k in key)
        start = 0
        while start < len(keys):  # each run of words outside the spans, on its own
            if start in covered:
                start += 1
                continue
            stop = start
            while stop < len(keys) and stop not in covered:
                stop += 1
            segments.append((start, *self._mentions(keys[start:stop])))
            start = stop
        found: list[str] = []
        mentioned: set[tuple[str, ...]] = set()
        for _, names, phrases in sorted(segments, key=lambda seg: seg[0]):
            found.extend(n for n in names if n not in found)
            mentioned |= phrases
        synonyms: list[str] = []
        related: list[str] = []
        for name in found:
            concept = self.concepts[name]
            for term in concept.terms:
                key = term_key(term)
                if key not in mentioned and not set(key) <= query_keys:
                    synonyms.append(_phrase(term))
            related.extend(_phrase(t) for t in concept.related)
        synonyms = list(dict.fromkeys(synonyms))
        related = [r for r in dict.fromkeys(related) if r and r not in synonyms]
        return Expansion(tuple(found), tuple(synonyms), tuple(related), tuple(sorted(spans, key=lambda s: s.start)))

    def _spans(self, keys: list[str]) -> list[Span]:
        """The query's phrases that are terms of a same-meaning group, longest first, never overlapping."""
        spans: list[Span] = []
        taken: set[int] = set()
        for size in range(min(self._longest, len(keys)), 0, -1):
            for i in range(len(keys) - size + 1):
                if taken.intersection(range(i, i + size)):
                    continue
                hit = self._same.get(tuple(keys[i : i + size]))
                if hit is not None:
                    spans.append(Span(i, i + size, hit[0], hit[1]))
                    taken.update(range(i, i + size))
        return spans

    def _mentions(self, keys: list[str]) -> tuple[list[str], set[tuple[str, ...]]]:
        """The concepts whose terms appear in `keys` as whole phrases (longest first), and those phrases."""
        found: list[str] = []
        mentioned: set[tuple[str, ...]] = set()
        for size in range(min(self._longest, len(keys)), 0, -1):
            for i in range(len(keys) - size + 1):
                phrase = tuple(keys[i : i + size])
                for name in sorted(self._phrases.get(phrase, ())):
                    mentioned.add(phrase)
                    if name not in found:
                        found.append(name)
        return found, mentioned


@lru_cache(maxsize=8)
def load_taxonomy(extra: Path | None = None) -> Taxonomy:
    """The shipped taxonomy, merged with the hub's own file when one is configured."""
    shipped = Taxonomy.from_toml(resources.files("bot.expertise").joinpath("taxonomy.toml").read_text("utf-8"))
    if extra is None:
        return shipped
    return shipped.merged(Taxonomy.from_toml(Path(extra).read_text("utf-8")))
