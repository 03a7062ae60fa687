"""Plain read models the expertise services return and the adapters render."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel


class Freshness(StrEnum):
    """How recent a person's newest matching evidence is."""

    FRESH = "fresh"  # within 90 days
    RECENT = "recent"  # within a year
    STALE = "stale"  # older


KIND_LABELS = {
    "declared_skill": "Declared skill",
    "submitted": "Submitted",
    "reviewed": "Reviewed",
    "built": "Built",
    "showcase": "Showcase",
    "retro": "Retro",
    "imported": "Imported",
    "owned": "Owns",
}


class EvidenceView(BaseModel):
    """One reason a person was suggested."""

    id: int
    kind: str
    label: str  # e.g. "Built use case #12: Invoice OCR", "Declared skill: nlp"
    text: str  # the start of the evidence text
    tags: list[str] = []
    at: dt.datetime
    age_days: int
    use_case_id: int | None = None
    use_case_title: str | None = None
    url: str | None = None
    score: float  # how much this item added to the person's score


class Expert(BaseModel):
    """A suggested person, with why, how fresh the evidence is, and where and whether they can help."""

    rank: int  # 1-based, across pages
    person_id: int
    name: str
    handles: dict[str, str] = {}  # their id on each platform they use
    department: str | None = None  # their own, else that of their newest use case
    tz: str | None = None
    away: bool = False
    score: float
    evidence: list[EvidenceView]  # strongest first
    evidence_count: int  # matching items in all
    kinds: dict[str, int]  # matching items per kind
    latest_at: dt.datetime | None = None
    freshness: Freshness
    recent_asks: int = 0  # times suggested within the ask window
    spread_pick: bool = False  # placed in the top to spread load beyond the most-asked people


class RelatedUseCase(BaseModel):
    """A use case whose evidence matched the topic."""

    id: int
    title: str
    stage: str
    status: str
    department: str | None = None
    owner_person_id: int
    owner_name: str


class ExpertResult(BaseModel):
    """The answer to "who knows X": one page of people, the topic's bus factor, related use cases."""

    query: str
    as_of: dt.datetime
    concepts: list[str] = []  # taxonomy concepts the query named
    expanded_terms: list[str] = []  # synonyms and related terms also searched
    experts: list[Expert]
    offset: int = 0
    total: int  # people with any matching evidence
    next_offset: int | None = None  # for "show more"; None on the last page
    bus_factor: int  # people whose evidence is substantial (a share of the top person's), the asker included
    # One person holds the topic: a bus factor of one, on evidence beyond declared skills that matched the
    # query itself (not only its taxonomy expansion). ask_who_knows sets it only once the hub has been told.
    single_expert: bool
    sole_expert_id: int | None = None  # that person (maybe the asker, who is never among `experts`)
    related_use_cases: list[RelatedUseCase] = []


class SkillsView(BaseModel):
    """A person's declared skills."""

    person_id: int
    name: str
    handles: dict[str, str] = {}
    skills: list[str]
    added: list[str] = []
    removed: list[str] = []


class ImportProblem(BaseModel):
    """A line of an import file that was skipped, and why."""

    line: int
    error: str


class ImportReport(BaseModel):
    """What an evidence import did."""

    lines: int
    created: int
    updated: int
    people_created: int
    problems: list[ImportProblem] = []
