"""How a register's columns become use-case fields: the field vocabulary, value parsers and a column mapping."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlparse

from intake.errors import HubError
from intake.schema import (
    Affected,
    Autonomy,
    DataAvailability,
    RiskTier,
    Route,
    Sensitivity,
    Stage,
    Status,
    label,
)

E = TypeVar("E", bound=StrEnum)

# Fields a column can be mapped onto (`--map field=column`). `high_impact` is not stored: a yes in it
# makes the risk tier high.
FIELDS: dict[str, str] = {
    "title": "the use case's name (required)",
    "problem": "the problem it solves",
    "department": "department; created when new (required)",
    "benefit": "expected benefit",
    "success_metric": "success metric",
    "data_sources": "data used",
    "data_availability": "available, needs_access or not_yet_collected",
    "data_sensitivity": "none, internal, personal, regulated; or yes/no as in a PII column",
    "people_affected": "internal, customers or public",
    "autonomy": "assistive, human_in_the_loop or automated",
    "target_date": "YYYY-MM-DD",
    "links": "web links, separated by spaces, commas or semicolons",
    "topic_area": "topic area",
    "stage": "ideation ... closed, or Pre-deployment, Pilot, Deployed, Retired",
    "status": "approved (default), self_serve or rejected",
    "risk_tier": "low, medium or high (default: from high_impact and data_sensitivity)",
    "route": "self_serve (default) or hub_review",
    "triage_reasons": "a JSON list of reasons",
    "high_impact": "yes / High-impact makes the risk tier high",
    "owner": "the owner: an e-mail or a name, found or added (default: the register import)",
}
# Without a preset, a column is read into the field it is named like (case, spaces, hyphens and underscores
# aside): the field's own name first, then these, in order. `--map` overrides what the names found.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "title": ("name", "use case name"),
    "department": ("team", "unit", "business unit", "division"),
    "stage": ("phase", "lifecycle stage"),
    "owner": ("contact", "contact email", "owner email", "email"),
}
LIMITS = {"title": 200, "department": 80, "topic_area": 120}  # the columns' sizes in storage.models
MAX_SOURCE_ID = 200

# The register's own stage words, in the order its lifecycle runs (OMB's development_stage).
STAGE_WORDS = {
    "Pre-deployment": Stage.IDEATION,
    "Pilot": Stage.EXPERIMENTATION,
    "Deployed": Stage.MONITORING,
    "Retired": Stage.CLOSED,
}
PII_WORDS = {"yes": Sensitivity.PERSONAL, "no": Sensitivity.INTERNAL}
YES = {"yes", "y", "true", "1", "high", "high impact"}
NOT_REVIEWED = "From the {source} register: not reviewed by the hub"


class RowError(Exception):
    """A row that cannot be imported; the reason is shown beside its line number."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Record:
    """What one register row becomes: its key, its department's name, owner and the use case's column values."""

    key: str  # the source id, or "#12" for a use case submitted in this hub (from Hubspoke's own export)
    department: str
    values: dict[str, Any]
    notes: list[str] = dataclasses.field(default_factory=list)
    derived_key: bool = False  # made up by the importer (the row had no id): repeats are numbered, not skipped
    owner: Owner | None = None  # None: the register import owns it
    trail: dict[str, list[Any]] = dataclasses.field(default_factory=dict)  # kept in extra when it is inserted

    @property
    def native_id(self) -> int | None:
        return int(self.key[1:]) if self.key.startswith("#") else None


@dataclass(frozen=True)
class Owner:
    """The person a register names as a use case's owner: by e-mail (case-folded) when it gives one."""

    name: str
    email: str | None = None

    @property
    def key(self) -> str:
        return self.email or self.name.casefold()


EMAIL = re.compile(r"[\w.%+'-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
NAMED_EMAIL = re.compile(r"(?P<name>[^<>@,;]+?)\s*<\s*(?P<email>[^<>\s]+)\s*>")
MAX_NAME, MAX_EMAIL = 120, 254  # Person.name's and Person.email's sizes


def name_from_email(email: str) -> str:
    """A name from an address's local part: "jane.doe@x.gov" is Jane Doe (capitals kept, as in "AI")."""
    parts = re.split(r"[._+-]+", email.partition("@")[0])
    return " ".join(p[:1].upper() + p[1:] for p in parts if p)[:MAX_NAME] or email[:MAX_NAME]


def owner_of(text: str) -> Owner | None:
    """Who a cell names: the first e-mail in it (with the name before `<e-mail>`), or else the name it
    holds; None when blank or a web address (a contact page is not a person)."""
    text = " ".join(text.split())
    if not text or urlparse(text).scheme in ("http", "https") or text.casefold().startswith("www."):
        return None
    found = EMAIL.search(text)
    if found is None:
        return Owner(name=text[:MAX_NAME])
    email = found.group().lower()
    if len(email) > MAX_EMAIL:
        return Owner(name=text[:MAX_NAME])
    named = NAMED_EMAIL.match(text)
    name = named.group("name").strip(" \"'") if named and named.group("email").lower() == email else ""
    return Owner(name=name[:MAX_NAME] or name_from_email(found.group()), email=email)


def column_key(name: str) -> str:
    """A column's name as names are matched: without case, spaces, hyphens or underscores."""
    return re.sub(r"[\s_\-\u2013]+", "", name).casefold()


def match_columns(header: list[str]) -> dict[str, tuple[str, ...]]:
    """The fields the header has a column for, by the field's name or one of its SYNONYMS."""
    by_key: dict[str, str] = {}
    for column in header:
        by_key.setdefault(column_key(column), column)
    found: dict[str, tuple[str, ...]] = {}
    for field in FIELDS:
        names = (field, *SYNONYMS.get(field, ()))
        if match := next((by_key[k] for n in names if (k := column_key(n)) in by_key), None):
            found[field] = (match,)
    return found


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[_\-\u2013]", " ", text).split()).casefold()  # _ - and en dash are spaces


@functools.cache
def _vocabulary(enum: type[E], words: tuple[tuple[str, E], ...]) -> dict[str, E]:
    vocab: dict[str, E] = {_norm(v.value): v for v in enum}
    vocab.update({_norm(label(v)): v for v in enum if _norm(label(v)) not in vocab})
    vocab.update({_norm(w): v for w, v in words})
    return vocab


def choice(enum: type[E], text: str, column: str, words: dict[str, E] | None = None) -> E | None:
    """The choice `text` names (its value, its label, or one of `words`); None when blank."""
    if not text:
        return None
    try:
        return _vocabulary(enum, tuple((words or {}).items()))[_norm(text)]
    except KeyError:
        expected = [*(words or {}), *(v.value for v in enum)]
        raise RowError(f"unknown {column} '{text}' (expected one of: {', '.join(expected)})") from None


def is_yes(text: str) -> bool:
    """True for yes/true/High-impact; "Not High-impact" and "Presumed high-impact, but not" are no."""
    return _norm(text) in YES


def text_list(text: str) -> list[str]:
    """A JSON list as written by the export, or one item of plain text."""
    if not text:
        return []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            return [text]
        if isinstance(items, list):
            return [str(i) for i in items]
    return [text]


def links(text: str) -> list[str]:
    """The web links in a cell (a JSON list, or separated by spaces, commas or semicolons), at most 10."""
    parts = text_list(text) if text.startswith("[") else re.split(r"[\s,;|]+", text)
    found = [p for p in parts if urlparse(p).scheme in ("http", "https") and urlparse(p).netloc]
    return list(dict.fromkeys(found))[:10]


def date(text: str, column: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise RowError(f"{column} '{text}' is not a date (YYYY-MM-DD)") from None


def fit(value: str, field: str, column: str, extra: dict[str, str]) -> str:
    """`value` cut to the field's size; when cut, the whole value is kept in extra under its column."""
    limit = LIMITS[field]
    if len(value) <= limit:
        return value
    extra[column] = value
    return value[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Mapping:
    """Register columns onto use-case fields; rows become Records. Presets subclass it."""

    name: str
    source: str
    columns: dict[str, tuple[str, ...]]
    id_column: str = "id"
    keep_in_extra: frozenset[str] = frozenset()  # columns kept in extra even though a field reads them
    optional: frozenset[str] = frozenset()  # fields whose columns a file may lack (read as blank)
    match_names: bool = False  # read the fields `columns` lacks from columns named like them (no preset)

    def with_columns(self, overrides: dict[str, tuple[str, ...]]) -> Mapping:
        """This mapping with some fields read from other columns (`--map` on top of a preset)."""
        return dataclasses.replace(self, columns={**self.columns, **overrides}, optional=self.optional - set(overrides))

    def for_header(self, header: list[str]) -> Mapping:
        """This mapping for a file with these columns: fields not mapped are read from columns named like
        them, unless `--map` already reads that column; the id column's name is matched the same way."""
        if not self.match_names:
            return self
        id_column = self.id_column
        if id_column not in header:
            id_column = next((c for c in header if column_key(c) == column_key(id_column)), id_column)
        taken = {c for cols in self.columns.values() for c in cols} | {id_column}
        named = {f: cols for f, cols in match_columns(header).items() if f not in self.columns and cols[0] not in taken}
        return dataclasses.replace(self, columns={**named, **self.columns}, id_column=id_column, match_names=False)

    def reads(self, header: list[str]) -> dict[str, list[str]]:
        """What each column of the file is read into (its fields, or "id"), in the file's order; the
        columns left out are kept in extra only."""
        uses: dict[str, list[str]] = {c: [] for c in header}
        if self.id_column in uses:
            uses[self.id_column].append("id")
        for field, cols in self.columns.items():
            for c in cols:
                if c in uses:
                    uses[c].append(field)
        return {c: u for c, u in uses.items() if u}

    def required_columns(self) -> list[str]:
        """Columns the file must have: the id column and those of every field that is not optional."""
        fields = [cols for field, cols in self.columns.items() if field not in self.optional]
        return [self.id_column, *(c for cols in fields for c in cols)]

    def check(self, header: list[str], file_name: str) -> None:
        """Refuse a mapping that names columns the file does not have, before any row is read."""
        for needed in ("title", "department"):
            if needed not in self.columns and not self._derives(needed):
                names = ", ".join(dict.fromkeys((needed, *SYNONYMS.get(needed, ()))))
                raise HubError(f"Map a column onto {needed}: --map {needed}=COLUMN (no column is named {names}).")
        missing = [c for c in dict.fromkeys(self.required_columns()) if c not in header]
        if missing:
            raise HubError(
                f"{file_name} has no column {', '.join(repr(c) for c in missing)}. Its columns: {', '.join(header)}."
            )

    def _derives(self, field: str) -> bool:
        return False

    def column(self, field: str) -> str:
        """The column(s) a field is read from, for messages."""
        return "+".join(self.columns.get(field, (field,)))

    def cell(self, row: dict[str, str], field: str) -> str:
        """A field's text: its column's cell, or its columns' non-empty cells joined."""
        cols = self.columns.get(field, ())
        glue = " " if field == "links" else " / "
        return glue.join(v for c in cols if (v := row.get(c, "")))

    def key(self, row: dict[str, str]) -> str:
        found = row.get(self.id_column, "")
        if not found:
            raise RowError(f"missing id ({self.id_column})")
        if len(found) > MAX_SOURCE_ID:
            raise RowError(f"id longer than {MAX_SOURCE_ID} characters ({self.id_column})")
        return found

    def source_of(self, row: dict[str, str]) -> str | None:
        return self.source

    def department(self, row: dict[str, str]) -> str:
        return self.cell(row, "department")

    def owner_cell(self, row: dict[str, str]) -> tuple[str, str]:
        """The owner's cell and the column it is in."""
        return self.cell(row, "owner"), self.column("owner")

    def owner(self, row: dict[str, str], extra: dict[str, str], notes: list[str]) -> Owner | None:
        """The person a row names as its owner; a cell that says more than one name or address is kept
        whole in extra, and a web address (a contact page) leaves the row to the register import."""
        text, column = self.owner_cell(row)
        found = owner_of(text)
        if text and found is None:
            notes.append(f"a web address, not a person, in {column}: owned by the register import")
        if text and (found is None or text.casefold() not in (found.email, found.name.casefold())):
            extra[column] = text
        return found

    def extra(self, row: dict[str, str]) -> dict[str, str]:
        """The cells of columns no field reads (or that are kept anyway), blanks left out."""
        used = {c for cols in self.columns.values() for c in cols} | {self.id_column}
        return {k: v for k, v in row.items() if v and (k not in used or k in self.keep_in_extra)}

    def record(self, row: dict[str, str]) -> Record:
        """The use case a row describes, or RowError saying why it cannot be imported."""
        title = self.cell(row, "title")
        if not title:
            raise RowError(f"missing title ({self.column('title')})")
        key = self.key(row)
        department = " ".join(self.department(row).split())
        if not department:
            raise RowError(f"missing department ({self.column('department')})")
        extra = self.extra(row)
        notes: list[str] = []
        stage = choice(Stage, self.cell(row, "stage"), self.column("stage"), STAGE_WORDS)
        if stage is None:
            stage = Stage.IDEATION
            notes.append(f"no {self.column('stage')}: started in ideation")
        given = self.cell(row, "data_sensitivity")
        sensitivity = choice(Sensitivity, given, self.column("data_sensitivity"), PII_WORDS)
        tier, reasons = self.risk(row, sensitivity)
        topic = self.cell(row, "topic_area")
        values: dict[str, Any] = {
            "title": fit(title, "title", self.column("title"), extra),
            "problem": self.cell(row, "problem"),
            "benefit": self.cell(row, "benefit"),
            "success_metric": self.cell(row, "success_metric"),
            "data_sources": self.cell(row, "data_sources"),
            "data_availability": self._choice(DataAvailability, row, "data_availability", DataAvailability.AVAILABLE),
            "data_sensitivity": (sensitivity or Sensitivity.INTERNAL).value,
            "people_affected": self._choice(Affected, row, "people_affected", Affected.INTERNAL),
            "autonomy": self._choice(Autonomy, row, "autonomy", Autonomy.ASSISTIVE),
            "target_date": date(self.cell(row, "target_date"), self.column("target_date")),
            "links": links(self.cell(row, "links")),
            "topic_area": fit(topic, "topic_area", self.column("topic_area"), extra) if topic else None,
            "stage": stage.value,
            "status": self._choice(Status, row, "status", Status.APPROVED),
            "risk_tier": tier.value,
            "route": self._choice(Route, row, "route", Route.SELF_SERVE),
            "triage_reasons": reasons,
            "source": self.source_of(row),
            "extra": extra,
        }
        department = fit(department, "department", self.column("department"), extra)
        owner = self.owner(row, extra, notes)
        return Record(key=key, department=department, values=values, notes=notes, owner=owner)

    def _choice(self, enum: type[E], row: dict[str, str], field: str, default: E) -> str:
        return (choice(enum, self.cell(row, field), self.column(field)) or default).value

    def risk(self, row: dict[str, str], sensitivity: Sensitivity | None) -> tuple[RiskTier, list[str]]:
        """The tier the register gives, or high impact → high, personal data → medium, else low; with reasons."""
        given = self.cell(row, "risk_tier")
        tier = choice(RiskTier, given, self.column("risk_tier"))
        if tier is not None:
            stated = text_list(self.cell(row, "triage_reasons"))
            return tier, stated or [f"{label(tier)}: the register says so ({self.column('risk_tier')}: {given})"]
        reasons: list[str] = []
        tier = RiskTier.LOW
        flag = self.cell(row, "high_impact")
        if is_yes(flag):
            tier = RiskTier.HIGH
            reasons.append(f"High: the register marks it high-impact ({self.column('high_impact')}: {flag})")
        if sensitivity is Sensitivity.REGULATED:
            tier = RiskTier.HIGH
            reasons.append(f"High: the register says it uses regulated data ({self.column('data_sensitivity')})")
        elif sensitivity is Sensitivity.PERSONAL:
            tier = tier if tier is RiskTier.HIGH else RiskTier.MEDIUM
            pii = f"{self.column('data_sensitivity')}: {self.cell(row, 'data_sensitivity')}"
            reasons.append(f"Medium: the register says it uses personal data ({pii})")
        if not reasons:
            reasons.append("Low: the register flags neither high impact nor personal data")
        reasons.append(NOT_REVIEWED.format(source=self.source_of(row) or self.name))
        return tier, reasons
