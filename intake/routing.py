"""Routing: the reviewer whose skills match best, then the lightest load, then round-robin."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import snowballstemmer

_WORD = re.compile(r"[a-z0-9]+")
_STEMMER = snowballstemmer.stemmer("english")


def terms(text: str) -> set[str]:
    """Lower-cased, stemmed words of `text` ("invoices", "invoicing" and "invoice" all match)."""
    return set(_STEMMER.stemWords(_WORD.findall(text.lower())))


@dataclass(frozen=True)
class Candidate:
    """A reviewer who could take the review."""

    person_id: int
    skills: tuple[str, ...]
    open_reviews: int
    last_assigned_at: dt.datetime | None


def matched_skills(skills: tuple[str, ...], text_terms: set[str]) -> list[str]:
    """The skills all of whose words occur in the use case."""
    return [s for s in skills if (words := terms(s)) and words <= text_terms]


def pick_reviewer(candidates: list[Candidate], use_case_text: str) -> tuple[Candidate, list[str]] | None:
    """The best candidate and the skills that matched, or None when nobody is available."""
    if not candidates:
        return None
    text_terms = terms(use_case_text)
    never = dt.datetime.min.replace(tzinfo=dt.UTC)

    def key(c: Candidate) -> tuple[int, int, dt.datetime, int]:
        return (
            -len(matched_skills(c.skills, text_terms)),
            c.open_reviews,
            c.last_assigned_at or never,
            c.person_id,
        )

    best = min(candidates, key=key)
    return best, matched_skills(best.skills, text_terms)
