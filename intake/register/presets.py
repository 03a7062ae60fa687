"""Presets for known register formats (OMB's federal AI use-case inventory, Hubspoke's own export) and
custom mappings from `--map field=column`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from intake.errors import HubError
from intake.register.mapping import FIELDS, MAX_SOURCE_ID, Mapping, Record, RowError

OMB_SOURCE = "omb-ai-inventory"

# Hubspoke's export: these columns in this order, then the register columns kept in extra as `extra.NAME`.
EXPORT_FIELDS = (
    "title",
    "problem",
    "department",
    "benefit",
    "success_metric",
    "data_sources",
    "data_availability",
    "data_sensitivity",
    "people_affected",
    "autonomy",
    "target_date",
    "links",
    "topic_area",
    "stage",
    "status",
    "risk_tier",
    "route",
    "triage_reasons",
)
# The decision trail (a dict per review round) and the stage history (a dict per move), as JSON in CSV.
TRAIL_COLUMNS = ("decisions", "stage_history")
EXPORT_COLUMNS = (
    "id",
    "source",
    "source_id",
    *EXPORT_FIELDS,
    "submitter",
    "submitter_email",
    "reviewer",
    "created_at",
    "updated_at",
    *TRAIL_COLUMNS,
)
EXTRA_PREFIX = "extra."
# Where a use case restored from another hub's export keeps that hub's trail (export shows it again).
TRAIL_EXTRA = {c: f"hubspoke.{c}" for c in TRAIL_COLUMNS}
PLACEHOLDER_IDS = {"tbd", "n/a", "na", "none", "unknown", "-"}  # read as no id at all
_SEPARATORS = " /-\u2013:,|"  # what may follow an agency's name at the start of a bureau (incl. en dash)


def omb_department(agency: str, agency_name: str, bureau: str) -> str:
    """`AGENCY / Bureau`, or the agency alone; a bureau that repeats the agency ("HHS/CDC") loses the repeat."""
    rest = bureau
    for prefix in sorted({agency, agency_name} - {""}, key=len, reverse=True):
        tail = rest[len(prefix) :]
        if rest.casefold().startswith(prefix.casefold()) and (not tail or tail[0] in _SEPARATORS):
            rest = tail.lstrip(_SEPARATORS)
            break
    return f"{agency} / {rest}" if rest else agency


@dataclass(frozen=True)
class OmbMapping(Mapping):
    """OMB's inventory: ids are unique within an agency, departments are agency / bureau."""

    def _derives(self, field: str) -> bool:
        return field == "department"

    def required_columns(self) -> list[str]:
        return ["agency", *super().required_columns()]

    def reads(self, header: list[str]) -> dict[str, list[str]]:
        uses = super().reads(header)
        if "department" not in self.columns:
            for column in ("agency", "agency_name", "agency_bureau"):
                if column in header:
                    uses.setdefault(column, []).append("department")
        if "agency" in uses:
            uses["agency"].insert(0, "id")
        return {c: uses[c] for c in header if c in uses}

    def key(self, row: dict[str, str]) -> str:
        """`AGENCY:id`; a row without an id gets `AGENCY:~` and a hash of its bureau and name (the
        second row with the same bureau and name gets `-2` after it, and so on)."""
        agency = row.get("agency", "")
        if not agency:
            raise RowError("missing agency")
        found = self._id(row)
        if not found:
            name = f"{row.get('agency_bureau', '')}\n{self.cell(row, 'title')}"
            found = "~" + hashlib.sha1(name.encode()).hexdigest()[:12]
        if len(found) + len(agency) + 1 > MAX_SOURCE_ID:
            raise RowError(f"id longer than {MAX_SOURCE_ID} characters ({self.id_column})")
        return f"{agency}:{found}"

    def record(self, row: dict[str, str]) -> Record:
        rec = super().record(row)
        rec.derived_key = not self._id(row)
        return rec

    def _id(self, row: dict[str, str]) -> str:
        found = row.get(self.id_column, "")
        return "" if found.casefold() in PLACEHOLDER_IDS else found

    def department(self, row: dict[str, str]) -> str:
        if "department" in self.columns:  # mapped with --map
            return super().department(row)
        return omb_department(row.get("agency", ""), row.get("agency_name", ""), row.get("agency_bureau", ""))


OMB = OmbMapping(
    name="omb",
    source=OMB_SOURCE,
    columns={
        "title": ("use_case_name",),
        "problem": ("problem_solved",),
        "benefit": ("benefits",),
        "data_sources": ("data_description",),
        "topic_area": ("topic_area",),
        "stage": ("development_stage",),
        "data_sensitivity": ("has_pii",),
        "high_impact": ("is_high_impact",),
        "links": ("link_to_data", "pia_url", "code_url"),
        "owner": ("contact_email",),
    },
    # Columns read into a field but not word for word: extra keeps the register's own value.
    keep_in_extra=frozenset(
        {
            "id",
            "development_stage",
            "has_pii",
            "is_high_impact",
            "link_to_data",
            "pia_url",
            "code_url",
            "contact_email",
        }
    ),
    # A file need only have agency, id and use_case_name; other columns missing are read as blank.
    optional=frozenset(
        {
            "problem",
            "benefit",
            "data_sources",
            "topic_area",
            "stage",
            "data_sensitivity",
            "high_impact",
            "links",
            "owner",
        }
    ),
)


@dataclass(frozen=True)
class HubspokeMapping(Mapping):
    """Hubspoke's own export: fields by name, `extra.*` back into extra, rows keyed by source_id (or #id)."""

    def required_columns(self) -> list[str]:
        return ["title", "department"]

    def check(self, header: list[str], file_name: str) -> None:
        super().check(header, file_name)
        if "source_id" not in header and "id" not in header:
            raise HubError(f"{file_name} has neither a source_id nor an id column.")

    def key(self, row: dict[str, str]) -> str:
        if found := row.get("source_id", ""):
            return found
        if row.get("id", "").isdigit():
            return f"#{row['id']}"
        raise RowError("no source_id, and no id of a use case in this hub")

    def source_of(self, row: dict[str, str]) -> str | None:
        return row.get("source") or None

    def owner_cell(self, row: dict[str, str]) -> tuple[str, str]:
        if found := row.get("submitter_email", ""):
            return found, "submitter_email"
        return row.get("submitter", ""), "submitter"

    def extra(self, row: dict[str, str]) -> dict[str, str]:
        return {
            k.removeprefix(EXTRA_PREFIX): v
            for k, v in row.items()
            if v and (k.startswith(EXTRA_PREFIX) or k not in EXPORT_COLUMNS)
        }

    def reads(self, header: list[str]) -> dict[str, list[str]]:
        uses = {c: [c] for c in header if c in EXPORT_COLUMNS}
        uses.update({"source_id": ["id"], "id": ["id"], "submitter": ["owner"], "submitter_email": ["owner"]})
        uses.update({c: ["extra"] for c in header if c.startswith(EXTRA_PREFIX) or c not in EXPORT_COLUMNS})
        # Who reviewed it and when it was written are this hub's own record: the trail carries them.
        unread = {"reviewer", "created_at", "updated_at"}
        return {c: uses[c] for c in header if c in uses and c not in unread}

    def record(self, row: dict[str, str]) -> Record:
        rec = super().record(row)
        rec.trail = {column: trail for column in TRAIL_COLUMNS if (trail := _trail(row.get(column, ""), column))}
        return rec


def _trail(text: str, column: str) -> list[Any]:
    """A trail column's JSON list of entries (blank: none)."""
    if not text:
        return []
    try:
        entries = json.loads(text)
    except json.JSONDecodeError:
        entries = None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RowError(f"{column} is not a JSON list of entries, as the export writes it")
    return entries


HUBSPOKE = HubspokeMapping(
    name="hubspoke",
    source="hubspoke",
    columns={f: (f,) for f in EXPORT_FIELDS},
    id_column="source_id",
    optional=frozenset(EXPORT_FIELDS) - {"title", "department"},
)

PRESETS: dict[str, Mapping] = {"omb": OMB, "hubspoke": HUBSPOKE}


def parse_map(pairs: list[str]) -> dict[str, tuple[str, ...]]:
    """`field=column` (or `field=col1,col2`) pairs as a field → columns dict; HubError on a bad pair."""
    columns: dict[str, tuple[str, ...]] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        field = field.strip()
        if not sep or not column.strip():
            raise HubError(f"--map takes FIELD=COLUMN, not '{pair}'.")
        if field not in FIELDS:
            raise HubError(f"Unknown field '{field}' in --map. Fields: {', '.join(FIELDS)}.")
        columns[field] = tuple(c.strip() for c in column.split(",") if c.strip())
    return columns


def build_mapping(
    preset: str | None,
    pairs: list[str],
    *,
    id_column: str | None = None,
    source: str | None = None,
    default_source: str,
) -> Mapping:
    """The mapping an import uses: a preset, a custom one from `--map`, or a preset with `--map` on top."""
    overrides = parse_map(pairs)
    if preset is None:
        mapping = Mapping(name="custom", source=default_source, columns=overrides, match_names=True)
    else:
        try:
            mapping = PRESETS[preset]
        except KeyError:
            raise HubError(f"Unknown preset '{preset}'. Presets: {', '.join(PRESETS)}.") from None
        mapping = mapping.with_columns(overrides) if overrides else mapping
    if id_column:
        mapping = dataclasses.replace(mapping, id_column=id_column)
    if source:
        mapping = dataclasses.replace(mapping, source=source[:64])
    return mapping
