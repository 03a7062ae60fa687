"""`hubspoke teams package`: a zip Teams accepts, checked against Microsoft's manifest schema and Teams' limits."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, Draft6Validator, validators
from PIL import Image

from bot import cli_teams
from bot.cli import main
from bot.conversation import grammar as g

SCHEMA_FILE = Path(__file__).parent / "fakes" / "schemas" / "teams-manifest-1.22.json"
APP_ID = "6f1c2b3a-4d5e-4f60-8a9b-0c1d2e3f4a5b"
SCRIPT = Path(sys.executable).with_name("hubspoke")


@cache
def manifest_validator() -> Any:
    """Draft-04, as the schema declares, plus the `const` it uses for manifestVersion (a draft-06 keyword)."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    with_const = validators.extend(Draft4Validator, {"const": Draft6Validator.VALIDATORS["const"]})
    return with_const(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


def schema_errors(manifest: dict[str, Any]) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in manifest_validator().iter_errors(manifest)]


def package(tmp_path: Path, *args: str) -> zipfile.ZipFile:
    out = tmp_path / "hubspoke-teams.zip"
    assert main(["teams", "package", "--out", str(out), *args]) == 0
    return zipfile.ZipFile(out)


def read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(archive.read("manifest.json"))
    return manifest


def test_the_manifest_is_valid_against_the_teams_schema(tmp_path: Path) -> None:
    manifest = read_manifest(package(tmp_path, "--app-id", APP_ID, "--host", "https://hub.example.org/"))
    assert schema_errors(manifest) == []
    assert manifest["manifestVersion"] == "1.22"
    assert manifest["$schema"].endswith("/teams/v1.22/MicrosoftTeams.schema.json")


def test_the_schema_check_is_real() -> None:
    """A manifest the schema must refuse is refused: a wrong manifestVersion, a botId that is no GUID."""
    manifest = cli_teams.build_manifest(APP_ID, host="https://hub.example.org")
    manifest["manifestVersion"] = "1.21"
    manifest["bots"][0]["botId"] = "hubspoke"
    errors = schema_errors(manifest)
    assert any("manifestVersion" in e and "'1.22' was expected" in e for e in errors), errors
    assert any("botId" in e and "does not match" in e for e in errors), errors


def test_the_app_and_bot_are_the_azure_bots_app_id(tmp_path: Path) -> None:
    manifest = read_manifest(package(tmp_path, "--app-id", f"28:{APP_ID.upper()}", "--host", "https://hub.example.org"))
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
    bot = manifest["bots"][0]
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert bot["supportsFiles"] is True and bot["isNotificationOnly"] is False  # exports arrive as files
    assert manifest["permissions"] == ["identity", "messageTeamMembers"]


def test_developer_links_and_domain_come_from_the_host(tmp_path: Path) -> None:
    manifest = read_manifest(
        package(tmp_path, "--app-id", APP_ID, "--host", "https://hub.example.org/", "--name", "AI Hub")
    )
    assert manifest["developer"] == {
        "name": "AI Hub",
        "websiteUrl": "https://hub.example.org",
        "privacyUrl": "https://hub.example.org/privacy",
        "termsOfUseUrl": "https://hub.example.org/terms",
    }
    assert manifest["validDomains"] == ["hub.example.org"]
    assert manifest["name"]["short"] == "AI Hub"
    assert len(manifest["description"]["short"]) <= 80 and len(manifest["description"]["full"]) <= 4000
    assert "use-case intake" in manifest["description"]["short"] and "who knows" in manifest["description"]["full"]


def test_the_command_menus_keep_teams_limits_and_the_grammars_words(tmp_path: Path) -> None:
    manifest = read_manifest(package(tmp_path, "--app-id", APP_ID, "--host", "https://hub.example.org"))
    menus = {tuple(m["scopes"]): m["commands"] for m in manifest["bots"][0]["commandLists"]}
    assert set(menus) == {("personal",), ("team", "groupChat")}
    for commands in menus.values():
        assert len(commands) <= 10
        for c in commands:
            assert 0 < len(c["title"]) <= 32 and 0 < len(c["description"]) <= 128, c
    personal = {c["title"]: c["description"] for c in menus[("personal",)]}
    team = {c["title"]: c["description"] for c in menus[("team", "groupChat")]}
    wanted = {
        "usecase", "usecase list", "usecase status", "usecase stage", "usecase search", "usecase retro",
        "whoknows", "hub portfolio", "hub reviewer", "hub schedule", "hub showcase", "help",
    }  # fmt: skip
    assert set(personal) | set(team) == wanted
    assert {"usecase", "whoknows", "hub portfolio", "help"} <= set(personal) & set(team)
    does = {u.example: u.does for _, usages in g.HELP.values() for u in usages}
    assert personal["usecase status"] == f"usecase status 12: {does['/usecase status 12']}"
    assert personal["usecase list"] == does["/usecase list"]
    assert team["hub schedule"].startswith("hub schedule add digest weekly monday 09:00 #ai-hub: ")
    assert personal["usecase"].startswith("opens the intake form; ")


def test_limits_are_enforced_not_trusted() -> None:
    assert cli_teams.clip("x" * 200, 128) == "x" * 127 + "…"
    assert cli_teams.clip("short", 128) == "short"
    with pytest.raises(cli_teams.PackageError, match="at most 10 commands"):
        cli_teams.command_list(["personal"], [*cli_teams.PERSONAL, "hub reviewer"])


def test_the_zip_holds_exactly_the_manifest_and_two_icons_at_its_root(tmp_path: Path) -> None:
    archive = package(tmp_path, "--app-id", APP_ID, "--host", "https://hub.example.org")
    assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
    manifest = read_manifest(archive)
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_the_icons_are_the_sizes_and_colours_teams_requires(tmp_path: Path) -> None:
    archive = package(tmp_path, "--app-id", APP_ID, "--host", "https://hub.example.org")
    color = Image.open(io.BytesIO(archive.read("color.png")))
    assert color.format == "PNG" and color.size == (192, 192)
    rgba = color.convert("RGBA")
    assert rgba.getchannel("A").getextrema() == (255, 255)  # full colour, no transparency
    assert len(rgba.getcolors(maxcolors=192 * 192) or []) > 16  # a picture, not a flat square
    outline = Image.open(io.BytesIO(archive.read("outline.png")))
    assert outline.format == "PNG" and outline.size == (32, 32) and outline.mode == "RGBA"
    data = outline.tobytes()
    pixels = [tuple(data[i : i + 4]) for i in range(0, len(data), 4)]
    assert all(p[:3] == (255, 255, 255) for p in pixels if p[3] > 0)  # white only
    assert any(p[3] == 0 for p in pixels) and any(p[3] == 255 for p in pixels)  # on transparent


def test_the_same_bot_gets_the_same_package_byte_for_byte(tmp_path: Path) -> None:
    manifest = cli_teams.build_manifest(APP_ID, host="https://hub.example.org")
    assert cli_teams.build_package(manifest) == cli_teams.build_package(manifest)


def test_the_app_id_falls_back_to_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    assert main(["teams", "package", "--host", "https://hub.example.org"]) == 0
    assert read_manifest(zipfile.ZipFile(tmp_path / "hubspoke-teams.zip"))["id"] == APP_ID


def hubspoke(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed `hubspoke` script, without any TEAMS_ setting of the parent's."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TEAMS_")}
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_installed_command_writes_the_package(tmp_path: Path) -> None:
    done = hubspoke(tmp_path, "teams", "package", "--host", "https://hub.example.org", TEAMS_APP_ID=APP_ID)
    assert done.returncode == 0, done.stderr
    assert "wrote hubspoke-teams.zip: Teams app Hubspoke" in done.stdout and APP_ID in done.stdout
    assert read_manifest(zipfile.ZipFile(tmp_path / "hubspoke-teams.zip"))["bots"][0]["botId"] == APP_ID


def test_without_an_app_id_it_says_where_to_give_one(tmp_path: Path) -> None:
    done = hubspoke(tmp_path, "teams", "package")
    assert done.returncode == 2
    assert "--app-id" in done.stderr and "TEAMS_APP_ID" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "hubspoke-teams.zip").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--app-id", "hubspoke-bot"], "a GUID like 00000000-0000-0000-0000-000000000000 (got 'hubspoke-bot')"),
        (["--app-id", APP_ID, "--host", "http://hub.example.org"], "--host must be an https URL"),
        (["--app-id", APP_ID, "--host", "https://hub.example.org", "--name", "N" * 31], "--name must be 1 to 30"),
    ],
)
def test_a_bad_argument_is_named_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    out = tmp_path / "hubspoke-teams.zip"
    assert main(["teams", "package", "--out", str(out), *args]) == 2
    assert said in capsys.readouterr().err
    assert not out.exists()


def test_the_default_host_is_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package(tmp_path, "--app-id", APP_ID)
    assert "pass --host with your own" in capsys.readouterr().err


def test_the_teams_manifest_in_the_repository_is_what_the_package_command_writes() -> None:
    """teams/manifest.json is the README's example (placeholder app id and host); it must not drift."""
    import json
    from pathlib import Path

    from bot.cli_teams import build_manifest

    committed = json.loads((Path(__file__).resolve().parents[1] / "teams" / "manifest.json").read_text())
    expected = build_manifest("00000000-0000-0000-0000-000000000000", host="https://hubspoke.example.com")
    assert committed == json.loads(json.dumps(expected)), (
        "regenerate it: .venv/bin/python -c 'import json; from bot.cli_teams import build_manifest; "
        'print(json.dumps(build_manifest("00000000-0000-0000-0000-000000000000", '
        'host="https://hubspoke.example.com"), indent=2, ensure_ascii=False))\' > teams/manifest.json'
    )
