"""Validate an Adaptive Card as Teams takes it: Microsoft's 1.5 JSON schema, then what a schema cannot say.

`validate_card(card)` raises an AssertionError listing every problem with its JSON path. Beyond the schema it
checks that the card's `version` is one Teams renders (1.5 or lower) and that nothing in it needs a newer one,
that every `Action.Execute` has a `verb` (the bot routes invokes by verb), that ids (inputs' above all) are
unique in the whole card, its `Action.ShowCard` cards included, as the Adaptive Cards SDK's own validation
requires, and Teams' own `msteams` property, which the schema does not know.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft6Validator
from jsonschema.exceptions import ValidationError, best_match

SCHEMA_FILE = Path(__file__).with_name("schemas") / "adaptive-card-1.5.json"
TEAMS_VERSION = (1, 5)
# Types Teams' 1.5 renderer does not know: later Adaptive Cards versions, and Teams' newer preview elements.
NEWER_TYPES = frozenset(
    {
        "Input.Rating",
        "Rating",
        "Icon",
        "Badge",
        "Carousel",
        "CarouselPage",
        "CompoundButton",
        "CodeBlock",
        "ProgressBar",
        "ProgressRing",
        "Action.ResetInputs",
        "Action.Popover",
    }
)
SKIPPED = frozenset({"data", "msteams"})  # the bot's own payload, and Teams' extension: no card elements inside

JsonPath = tuple[str | int, ...]


def validate_card(card: Mapping[str, Any]) -> None:
    """Raise AssertionError naming every way `card` is not a valid Adaptive Card for Teams (schema 1.5)."""
    problems = card_problems(card)
    if problems:
        listed = "\n".join(f"  {p}" for p in problems)
        raise AssertionError(f"not a valid Adaptive Card 1.5 for Teams ({len(problems)} problem(s)):\n{listed}")


def card_problems(card: Mapping[str, Any]) -> list[str]:
    """Every problem with `card`, as "$.json.path: what is wrong", schema errors first."""
    found: list[tuple[JsonPath, str]] = []
    found += _schema_problems(card)
    found += _version_problems(card)
    found += _verb_problems(card)
    found += _duplicate_ids(card)
    found += _msteams_problems(card)
    unique = dict.fromkeys(f"{json_path(p)}: {m}" for p, m in found)
    return list(unique)


def json_path(path: JsonPath) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    styles = loaded["definitions"]["ChoiceInputStyle"]["anyOf"][0]["enum"]
    if "filtered" not in styles:  # in upstream's current 1.5.0 file; the vendored copy predates it
        styles.append("filtered")
    return loaded


@cache
def _validator() -> Draft6Validator:
    return Draft6Validator(schema(), format_checker=Draft6Validator.FORMAT_CHECKER)


def _definitions() -> dict[str, Any]:
    definitions: dict[str, Any] = schema()["definitions"]
    return definitions


# --- the schema, its errors explained at the element they are about ------------------------------------


def _schema_problems(card: Mapping[str, Any]) -> list[tuple[JsonPath, str]]:
    without_msteams = {k: v for k, v in card.items() if k != "msteams"}  # checked on its own below
    out: list[tuple[JsonPath, str]] = []
    for error in _validator().iter_errors(without_msteams):
        out += _explain(error)
    return out


def _ref_name(branch: Any) -> str | None:
    """`TextBlock` for a union branch `{"required": ["type"], "allOf": [{"$ref": "#/definitions/TextBlock"}]}`."""
    if not isinstance(branch, dict) or branch.get("required") != ["type"]:
        return None
    refs = [part.get("$ref", "") for part in branch.get("allOf", [])]
    return refs[0].rsplit("/", 1)[-1] if len(refs) == 1 and refs[0] else None


def _explain(error: ValidationError) -> Iterator[tuple[JsonPath, str]]:
    """The error as a person fixing the card needs it: for a union, the errors of the branch that was meant."""
    path: JsonPath = tuple(error.absolute_path)
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        yield path, error.message
        return
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    options: list[Any] = list(error.validator_value)
    names = [_ref_name(b) for b in options]
    instance = error.instance
    if all(names) and isinstance(instance, dict):  # a union of typed things (ImplementationsOf.*)
        yield from _explain_typed(path, instance, [n for n in names if n], branches)
        return
    # Forget "or null" branches: `null` is never what was meant.
    meant = {
        i: errs
        for i, errs in branches.items()
        if not (len(errs) == 1 and errs[0].validator == "type" and errs[0].validator_value == "null")
    }
    if len(meant) == 1:
        for sub in next(iter(meant.values())):
            yield from _explain(sub)
        return
    best = best_match([e for errs in meant.values() for e in errs])
    yield path, f"{_short(instance)} is not valid here: {best.message}" if best else error.message


def _explain_typed(
    path: JsonPath, instance: dict[str, Any], allowed: list[str], branches: dict[int, list[ValidationError]]
) -> Iterator[tuple[JsonPath, str]]:
    kind = instance.get("type")
    if kind is None:
        yield path, f"has no 'type' (one of: {', '.join(allowed)})"
    elif not isinstance(kind, str):
        yield (*path, "type"), f"must be a string (got {_short(kind)})"
    elif kind in allowed:
        for sub in branches.get(allowed.index(kind), []):
            yield from _explain(sub)
    elif kind in NEWER_TYPES:
        yield path, f"unknown element type {kind!r}: it is newer than Adaptive Cards 1.5, the version Teams renders"
    elif kind in _definitions():
        yield path, f"{kind!r} is not allowed here (allowed: {', '.join(allowed)})"
    else:
        yield path, f"unknown element type {kind!r} (Adaptive Cards 1.5 has: {', '.join(allowed)})"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


# --- what the schema cannot say -------------------------------------------------------------------------


def _typed_nodes(node: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, dict[str, Any]]]:
    """Every object with a string `type` in the card (not inside action data or `msteams`), outermost first."""
    if isinstance(node, Mapping):
        if isinstance(node.get("type"), str):
            yield path, dict(node)
        for key, value in node.items():
            if key not in SKIPPED:
                yield from _typed_nodes(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _typed_nodes(value, (*path, i))


def _parse_version(value: Any) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d+)\.(\d+)", value) if isinstance(value, str) else None
    return (int(match[1]), int(match[2])) if match else None


def _show(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _version_problems(card: Mapping[str, Any]) -> Iterator[tuple[JsonPath, str]]:
    if card.get("type") != "AdaptiveCard":
        yield ("type",), f"must be 'AdaptiveCard' (got {_short(card.get('type'))})"
    if "version" not in card:
        yield (), "has no 'version': Teams needs it on the card it is sent (1.5 or lower)"
    declared = _parse_version(card.get("version"))
    for path, node in _typed_nodes(card):
        if node["type"] == "AdaptiveCard" and "version" in node:
            own = _parse_version(node["version"])
            if own is None:
                yield (*path, "version"), f"must be a version string like '1.5' (got {_short(node['version'])})"
            elif own > TEAMS_VERSION:
                yield (*path, "version"), f"{_show(own)} is newer than 1.5, the version Teams renders"
    if declared is None or declared > TEAMS_VERSION:
        return
    for path, node in _typed_nodes(card):
        yield from _needs_newer(path, node, declared)


def _needs_newer(path: JsonPath, node: dict[str, Any], declared: tuple[int, int]) -> Iterator[tuple[JsonPath, str]]:
    """What in this element needs a newer version than the card declares (a client that old drops it)."""
    definition = _definitions().get(node["type"])
    if definition is None or "properties" not in definition:
        return
    kind = node["type"]
    needs = _parse_version(definition.get("version"))
    if needs and needs > declared:
        yield path, f"{kind} needs Adaptive Cards {_show(needs)}; the card declares {_show(declared)}"
    versions = _property_versions(kind)
    for key in node:
        needs = versions.get(key)
        if needs and needs > declared:
            yield (*path, key), f"{kind}.{key} needs Adaptive Cards {_show(needs)}; the card declares {_show(declared)}"


@cache
def _property_versions(name: str) -> dict[str, tuple[int, int]]:
    """The version each property of a definition needs, its bases' (allOf) included."""
    definition = _definitions()[name]
    out: dict[str, tuple[int, int]] = {}
    for base in definition.get("allOf", []):
        if "$ref" in base:
            out.update(_property_versions(base["$ref"].rsplit("/", 1)[-1]))
    for key, prop in definition.get("properties", {}).items():
        found = [v for v in (_parse_version(prop.get("version")), _ref_version(prop)) if v]
        if found:
            out[key] = max(found)
    return out


def _ref_version(prop: dict[str, Any]) -> tuple[int, int] | None:
    """The version of what a property refers to (`style` → ActionStyle 1.2), directly or as "X or null"."""
    refs = [prop["$ref"]] if "$ref" in prop else []
    options = prop.get("anyOf", [])
    if options and all("$ref" in o or o == {"type": "null"} for o in options):
        refs += [o["$ref"] for o in options if "$ref" in o]
    versions = [_parse_version(_definitions().get(r.rsplit("/", 1)[-1], {}).get("version")) for r in refs]
    return max((v for v in versions if v), default=None)


def _verb_problems(card: Mapping[str, Any]) -> Iterator[tuple[JsonPath, str]]:
    for path, node in _typed_nodes(card):
        verb = node.get("verb")
        if node["type"] == "Action.Execute" and not (isinstance(verb, str) and verb.strip()):
            yield path, "Action.Execute has no 'verb': the bot routes the invoke by it"


def _duplicate_ids(card: Mapping[str, Any]) -> Iterator[tuple[JsonPath, str]]:
    """Ids are unique in the whole card, Action.ShowCard cards included (the Adaptive Cards SDK's DuplicateId)."""
    first: dict[str, tuple[JsonPath, str]] = {}
    for path, node in _typed_nodes(card):
        item_id = node.get("id")
        if not isinstance(item_id, str) or not item_id or node["type"] in ("AdaptiveCard", "TokenExchangeResource"):
            continue
        if item_id not in first:
            first[item_id] = path, node["type"]
            continue
        where, other = first[item_id]
        said = f"id {item_id!r} is already used at {json_path(where)}"
        if not (_is_input(other) and _is_input(node["type"])):
            yield (*path, "id"), f"{said} ({other}): ids must be unique in the card"
        elif _gathered_together(where, path):
            why = "one Action.Execute sends both, and Teams keys inputs by id, so one answer would overwrite the other"
            yield (*path, "id"), f"input {said}: {why}"
        else:
            why = "ids must be unique in the whole card, its Action.ShowCard cards included (the SDK's DuplicateId)"
            yield (*path, "id"), f"input {said}: {why}"


def _is_input(kind: str) -> bool:
    return kind.startswith("Input.") and kind != "Input.Choice"


def _card_of(path: JsonPath) -> JsonPath:
    """The path of the (Action.ShowCard) card an element is in; () for the card itself."""
    cards = [i for i, key in enumerate(path) if key == "card"]
    return path[: cards[-1] + 1] if cards else ()


def _gathered_together(a: JsonPath, b: JsonPath) -> bool:
    """An action sends the inputs of its own card and the cards it sits in: do a's and b's ever travel together?"""
    ca, cb = _card_of(a), _card_of(b)
    return ca == cb[: len(ca)] or cb == ca[: len(cb)]


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            if key not in SKIPPED:
                yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _msteams_problems(card: Mapping[str, Any]) -> Iterator[tuple[JsonPath, str]]:
    """Teams' `msteams` extension: full width, and `<at>` mentions that the card's text really carries."""
    if "msteams" not in card:
        return
    msteams = card["msteams"]
    if not isinstance(msteams, Mapping):
        yield ("msteams",), "must be an object"
        return
    for key in set(msteams) - {"width", "entities"}:
        yield ("msteams", key), "is not a property Teams reads in msteams (width, entities)"
    if "width" in msteams and msteams["width"] != "Full":
        yield ("msteams", "width"), f"must be 'Full' (got {_short(msteams['width'])})"
    entities = msteams.get("entities", [])
    if not isinstance(entities, list):
        yield ("msteams", "entities"), "must be a list"
        return
    texts = list(_strings(card))
    for i, entity in enumerate(entities):
        where: JsonPath = ("msteams", "entities", i)
        if not isinstance(entity, Mapping) or entity.get("type") != "mention":
            yield where, "must be a mention: {type: 'mention', text: '<at>…</at>', mentioned: {id, name}}"
            continue
        mentioned = entity.get("mentioned")
        if not (isinstance(mentioned, Mapping) and isinstance(mentioned.get("id"), str) and mentioned.get("name")):
            yield (*where, "mentioned"), "must name the person: {id, name}"
        text = entity.get("text")
        if not (isinstance(text, str) and text.startswith("<at>") and text.endswith("</at>")):
            yield (*where, "text"), f"must be the '<at>…</at>' tag (got {_short(text)})"
        elif not any(text in t for t in texts):
            yield (*where, "text"), f"{text!r} is not in the card's text, so Teams shows no mention"
