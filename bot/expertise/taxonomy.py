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


@dataclass
class Concept:
    """One skill: the terms that name it, and terms for related skills."""

    name: str
    terms: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Expansion:
    """What a query named in the taxonomy: the concepts, their synonyms, and related terms."""

    concepts: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    related: tuple[str, ...] = ()


class Taxonomy:
    """Concepts by name, with a phrase index for finding the ones a query mentions."""

    def __init__(self, concepts: dict[str, Concept]) -> None:
        self.concepts = concepts
        self._phrases: dict[tuple[str, ...], set[str]] = {}
        for concept in concepts.values():
            for term in concept.terms:
                key = tuple(_key(w) for w in words(term))
                if key:
                    self._phrases.setdefault(key, set()).add(concept.name)
        self._longest = max((len(k) for k in self._phrases), default=0)

    @classmethod
    def from_toml(cls, text: str) -> Taxonomy:
        """Parse the taxonomy file format (see taxonomy.toml)."""
        data = tomllib.loads(text).get("concepts", {})
        concepts = {
            name: Concept(name, [str(t) for t in body.get("terms", [])], [str(t) for t in body.get("related", [])])
            for name, body in data.items()
        }
        return cls(concepts)

    def merged(self, other: Taxonomy) -> Taxonomy:
        """This taxonomy with `other`'s concepts added; concepts with the same name take both term lists."""
        out = {n: Concept(n, list(c.terms), list(c.related)) for n, c in self.concepts.items()}
        for name, concept in other.concepts.items():
            mine = out.setdefault(name, Concept(name))
            mine.terms = list(dict.fromkeys([*mine.terms, *concept.terms]))
            mine.related = list(dict.fromkeys([*mine.related, *concept.related]))
        return Taxonomy(out)

    def expand(self, query_words: list[str]) -> Expansion:
        """The concepts named in `query_words` (as whole phrases), with their other terms and related terms."""
        keys = [_key(w) for w in query_words]
        found: list[str] = []
        mentioned: set[tuple[str, ...]] = set()
        for size in range(min(self._longest, len(keys)), 0, -1):
            for i in range(len(keys) - size + 1):
                phrase = tuple(keys[i : i + size])
                for name in sorted(self._phrases.get(phrase, ())):
                    mentioned.add(phrase)
                    if name not in found:
                        found.append(name)
        query_keys = set(keys)
        synonyms: list[str] = []
        related: list[str] = []
        for name in found:
            concept = self.concepts[name]
            for term in concept.terms:
                key = tuple(_key(w) for w in words(term))
                if key not in mentioned and not set(key) <= query_keys:
                    synonyms.append(" ".join(words(term)))
            related.extend(" ".join(words(t)) for t in concept.related)
        synonyms = list(dict.fromkeys(synonyms))
        related = [r for r in dict.fromkeys(related) if r and r not in synonyms]
        return Expansion(tuple(found), tuple(synonyms), tuple(related))


@lru_cache(maxsize=8)
def load_taxonomy(extra: Path | None = None) -> Taxonomy:
    """The shipped taxonomy, merged with the hub's own file when one is configured."""
    shipped = Taxonomy.from_toml(resources.files("bot.expertise").joinpath("taxonomy.toml").read_text("utf-8"))
    if extra is None:
        return shipped
    return shipped.merged(Taxonomy.from_toml(Path(extra).read_text("utf-8")))
