"""`hubspoke teams package`: the Teams app package (manifest.json and two icons, zipped) to upload to Teams.

The manifest's `id` and the bot's `botId` are the Azure bot's Microsoft App ID (TEAMS_APP_ID), as Teams
expects of a bot app; the command menu is drawn from the grammar's help, so Teams offers the same words
as every other surface.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import uuid
import zipfile
from collections.abc import Sequence
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from bot.conversation import grammar as g

MANIFEST_VERSION = "1.22"
MANIFEST_SCHEMA = (
    f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
)
ACCENT = "#1d3557"  # the Slack app's background colour (manifest.json)
DEFAULT_HOST = "https://example.com"
# Teams' documented limits for a bot's command menu (the schema itself allows longer strings).
MAX_COMMANDS, MAX_TITLE, MAX_DESCRIPTION = 10, 32, 128
MAX_SHORT_NAME = 30

# The menu for each scope, at most ten: in a personal chat what a person does for themselves; in a channel
# (and a group chat) what the hub does together, with its set-up commands in place of "your use cases".
PERSONAL = (
    "usecase",
    "usecase list",
    "usecase status",
    "usecase stage",
    "usecase search",
    "usecase retro",
    "whoknows",
    "hub portfolio",
    "hub showcase",
    "help",
)
TEAM = (
    "usecase",
    "usecase status",
    "usecase stage",
    "usecase search",
    "whoknows",
    "hub portfolio",
    "hub reviewer",
    "hub schedule",
    "hub showcase",
    "help",
)
HELP_DESCRIPTION = "what Hubspoke can do, and the words to ask it"

SHORT_DESCRIPTION = "Your AI hub and its spokes: use-case intake, hub review, experts, rituals"
FULL_DESCRIPTION = (
    "Hubspoke runs an AI Center of Excellence (the hub) and its department champions (the spokes). "
    "Anyone submits an AI use case with a short form; Hubspoke triages it (self-serve or hub review, with a "
    "risk tier and the reasons), routes it to a hub reviewer by skills and load, and tracks it from ideation "
    "through experimentation, production engineering and deployment to monitoring, with a blameless retro after. "
    "Reviewers approve, reject or ask for changes on the card; submitters hear the outcome in their chat. "
    "Ask who knows a topic and Hubspoke answers from real evidence, not self-assessment. The hub's rituals run "
    "themselves: portfolio digests, review reminders and showcases, on the hub's schedule and working days."
)


class PackageError(Exception):
    """A reason the package cannot be built, told to the operator as it is."""


def clip(text: str, limit: int) -> str:
    """`text` within `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def bot_app_id(value: str) -> str:
    """The Azure bot's Microsoft App ID as a GUID in canonical form (a Teams `28:` bot id is accepted too)."""
    raw = value.strip().removeprefix("28:")
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise PackageError(
            f"the app id must be the Azure bot's Microsoft App ID, a GUID like "
            f"00000000-0000-0000-0000-000000000000 (got {value!r})"
        ) from None


def site(host: str) -> tuple[str, str]:
    """The https base URL (no trailing slash) and its domain, from --host."""
    parts = urlsplit(host.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise PackageError(f"--host must be an https URL such as https://hubspoke.example.com (got {host!r})")
    return host.strip().rstrip("/"), parts.hostname


def command_help(title: str) -> str:
    """What a menu command does, in the grammar's own words: "<example>: <what it does>"."""
    if title == "help":
        return HELP_DESCRIPTION
    word = title.split()[0]
    intro, usages = g.HELP["/" + word]
    for usage in usages:
        example = usage.example.removeprefix("/")
        if example == title or example.startswith(title + " "):
            said = usage.does if example == title else f"{example}: {usage.does}"
            if title == word:  # what the bare command does is the first sentence of the grammar's intro
                opening = intro.split(". ")[0].rstrip(".:").removeprefix("/" + word).strip()
                said = f"{opening}; {said}"
            return said
    raise PackageError(f"the grammar's help has no usage for {title!r}")


def command_list(scopes: list[str], titles: Sequence[str]) -> dict[str, Any]:
    if len(titles) > MAX_COMMANDS:
        raise PackageError(f"Teams shows at most {MAX_COMMANDS} commands a scope; {scopes} has {len(titles)}")
    commands = [{"title": clip(t, MAX_TITLE), "description": clip(command_help(t), MAX_DESCRIPTION)} for t in titles]
    return {"scopes": scopes, "commands": commands}


def app_version() -> str:
    try:
        return metadata.version("hubspoke")
    except metadata.PackageNotFoundError:  # run from a tree that was never installed
        return "0.0.0"


def build_manifest(app_id: str, *, name: str = "Hubspoke", host: str = DEFAULT_HOST) -> dict[str, Any]:
    """The Teams app manifest (schema v1.22) for the bot whose Microsoft App ID is `app_id`."""
    bot_id = bot_app_id(app_id)
    base, domain = site(host)
    name = name.strip()
    if not name or len(name) > MAX_SHORT_NAME:
        raise PackageError(f"--name must be 1 to {MAX_SHORT_NAME} characters (Teams' short name); got {name!r}")
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": app_version(),
        "id": bot_id,
        "developer": {
            "name": name,
            "websiteUrl": base,
            "privacyUrl": f"{base}/privacy",
            "termsOfUseUrl": f"{base}/terms",
        },
        "name": {"short": name, "full": clip(f"{name}: your AI hub and its spokes", 100)},
        "description": {"short": clip(SHORT_DESCRIPTION, 80), "full": clip(FULL_DESCRIPTION, 4000)},
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": bot_id,
                "scopes": ["personal", "team", "groupChat"],
                "supportsFiles": True,  # exports arrive as files, through Teams' file consent
                "isNotificationOnly": False,
                "commandLists": [command_list(["personal"], PERSONAL), command_list(["team", "groupChat"], TEAM)],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [domain],
    }


# --- the icons: a hub and its spokes ------------------------------------------------------------------------


def _hub_and_spokes(size: int, fill: Any, hub_fill: Any, draw: Any) -> None:
    """Draw a hub with six spokes and their ends, scaled to a `size` square, with `draw` (a PIL ImageDraw)."""
    import math

    c, reach = size / 2, size * 0.34
    node, hub, line = size * 0.085, size * 0.15, max(1, round(size * 0.045))
    ends = [(c + reach * math.cos(math.radians(a)), c + reach * math.sin(math.radians(a))) for a in range(-90, 270, 60)]
    for x, y in ends:
        draw.line([(c, c), (x, y)], fill=fill, width=line)
    for x, y in ends:
        draw.ellipse([x - node, y - node, x + node, y + node], fill=fill)
    draw.ellipse([c - hub, c - hub, c + hub, c + hub], fill=hub_fill)


def draw_color_icon(size: int = 192) -> bytes:
    """The full-colour icon: light spokes round a red hub on the accent colour, as a PNG."""
    from PIL import Image, ImageDraw

    scale = 4  # drawn large and scaled down, for smooth edges
    big = Image.new("RGB", (size * scale, size * scale), ACCENT)
    symbol = size * scale * 0.62  # Teams crops the colour icon's corners: keep the symbol in the middle
    layer = Image.new("RGBA", (round(symbol), round(symbol)), (0, 0, 0, 0))
    _hub_and_spokes(round(symbol), "#f1faee", "#e63946", ImageDraw.Draw(layer))
    offset = round((size * scale - symbol) / 2)
    big.paste(layer, (offset, offset), layer)
    return _png(big.resize((size, size), Image.Resampling.LANCZOS))


def draw_outline_icon(size: int = 32) -> bytes:
    """The outline icon: the same symbol in white on transparent, as Teams requires, as a PNG."""
    from PIL import Image, ImageDraw

    scale = 8
    mask = Image.new("L", (size * scale, size * scale), 0)
    _hub_and_spokes(size * scale, 255, 255, ImageDraw.Draw(mask))
    icon = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    icon.putalpha(mask.resize((size, size), Image.Resampling.LANCZOS))
    return _png(icon)


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def build_package(manifest: dict[str, Any]) -> bytes:
    """The zip Teams takes: manifest.json and the two icons at its root (fixed times, so it is reproducible)."""
    files = {
        "manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
        manifest["icons"]["color"]: draw_color_icon(),
        manifest["icons"]["outline"]: draw_outline_icon(),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def cmd_teams_package(args: argparse.Namespace) -> int:
    """Write the Teams app package for the bot named by --app-id or TEAMS_APP_ID."""
    app_id = args.app_id
    if not app_id:
        from bot.cli import _settings

        app_id = _settings().teams_app_id
    if not app_id:
        print(
            "hubspoke: no bot to package: pass --app-id, or set TEAMS_APP_ID (the Azure bot's Microsoft App ID)",
            file=sys.stderr,
        )
        return 2
    try:
        manifest = build_manifest(app_id, name=args.name, host=args.host)
        package = build_package(manifest)
    except PackageError as exc:
        print(f"hubspoke: {exc}", file=sys.stderr)
        return 2
    if args.host == DEFAULT_HOST:
        print(f"hubspoke: the developer links point at {DEFAULT_HOST}: pass --host with your own", file=sys.stderr)
    try:
        with open(args.out, "wb") as out:
            out.write(package)
    except OSError as exc:
        print(f"hubspoke: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.out}: Teams app {manifest['name']['short']} {manifest['version']} for bot {manifest['id']} "
        f"(manifest {MANIFEST_VERSION}). Upload it in Teams (Apps > Manage your apps > Upload an app) "
        "or the Teams Developer Portal."
    )
    return 0


def add_commands(sub: Any) -> None:
    teams = sub.add_parser("teams", help="Microsoft Teams: the app package").add_subparsers(dest="what", required=True)
    package = teams.add_parser("package", help="write the Teams app package (manifest.json and icons) to upload")
    package.add_argument("--app-id", help="the Azure bot's Microsoft App ID (default: TEAMS_APP_ID)")
    package.add_argument("--out", default="hubspoke-teams.zip", help="where to write it (default hubspoke-teams.zip)")
    package.add_argument("--name", default="Hubspoke", help="the app's name in Teams (default Hubspoke)")
    package.add_argument(
        "--host", default=DEFAULT_HOST, help="https URL of your site: developer, privacy (/privacy) and terms (/terms)"
    )
    package.set_defaults(func=cmd_teams_package)
