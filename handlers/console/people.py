"""How the console knows people: by name, typed as `rita`, `@rita` or `Rita Ng`."""

from __future__ import annotations

import re

from intake.people import CONSOLE, PersonRef


def console_key(name: str) -> str:
    """The console id of a typed name or mention: `Rita Ng`, `@rita.ng` and `rita ng` are all `rita.ng`."""
    return re.sub(r"[^\w.-]+", ".", name.strip().lstrip("@").lower()).strip(".")[:64]


def console_name(name: str) -> str:
    """A display name for a console person: as typed, or capitalised when typed in lower case (`@rita` is Rita)."""
    typed = " ".join(name.strip().lstrip("@").split())
    if typed != typed.lower():
        return typed[:120]
    return " ".join(part.capitalize() for part in re.split(r"[\s._-]+", typed) if part)[:120]


def console_ref(name: str) -> PersonRef:
    """The person a console name or mention refers to."""
    return PersonRef(CONSOLE, console_key(name), console_name(name))
