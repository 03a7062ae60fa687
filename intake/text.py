"""Text a person typed, made safe to store on every backend: no NUL or control bytes, no lone surrogates."""

from __future__ import annotations

import re
from typing import Any

# C0 controls other than tab, newline and carriage return, DEL, and UTF-16 halves with no partner.
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` without control characters (PostgreSQL refuses NUL) and with lone surrogates replaced."""
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(lambda m: "" if m.group() < "\ud800" else "\ufffd", text)


def clean_tree(value: Any, *, max_depth: int = 64) -> Any:
    """Every string in a JSON-like tree cleaned; ValueError past `max_depth` levels (no platform nests that deep)."""

    def walk(node: Any, depth: int) -> Any:
        if depth > max_depth:
            raise ValueError(f"nested deeper than {max_depth} levels")
        if isinstance(node, str):
            return clean_text(node)
        if isinstance(node, dict):
            return {clean_text(str(k)): walk(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, depth + 1) for v in node]
        return node

    return walk(value, 0)
