"""The portfolio where people use it (issue 12, items 1, 2 and 5): `/hub portfolio` with its chart, the lead's
Home, `/usecase search`, `/hub export` and `hubspoke portfolio`, in the console and over Slack's signed HTTP."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.conversation import grammar as g
from bot.core import Core
from bot.demo import seed_demo
from bot.settings import Settings
from handlers.console.repl import run_console
from intake import hub
from intake.errors import HubError
from intake.portfolio import PortfolioFilter
from intake.portfolio_words import CHART_SENT
from intake.schema import RiskTier, Stage
from storage.db import make_engine, make_session_factory, upgrade
from tests.conftest import NOW, Scenario
from tests.factories import slack_actor
from tests.fakes.signed import SlackUser
from tests.test_cli import hubspoke

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", PortfolioFilter()),
        ("department Customer Service stage deployment", PortfolioFilter("Customer Service", Stage.DEPLOYMENT)),
        ("waiting risk HIGH", PortfolioFilter(risk=RiskTier.HIGH, waiting=True)),
        ("stage production engineering waiting", PortfolioFilter(stage=Stage.PRODUCTION_ENGINEERING, waiting=True)),
    ],
)
def test_portfolio_filters_read_as_typed(text: str, expected: PortfolioFilter) -> None:
    assert g.parse(g.HUB, f"portfolio {text}") == g.ShowPortfolio(expected)


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("stage orbit", "orbit is not a stage: ideation, experimentation"),
        ("risk huge", "huge is not a risk tier: low, medium or high."),
        ("finance", "finance is not a filter. Usage: /hub portfolio [department NAME]"),
        ("department", "department needs a value."),
        ("waiting waiting", "waiting is given twice."),
    ],
)
def test_a_wrong_filter_says_what_was_wrong(text: str, told: str) -> None:
    with pytest.raises(HubError) as refused:
        g.parse(g.HUB, f"portfolio {text}")
    assert told in refused.value.message


@pytest.fixture
def demo_core(tmp_path: Path) -> Iterator[Core]:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    upgrade(url)
    engine = make_engine(url)
    core = Core(settings=Settings(_env_file=None, database_url=url), session_factory=make_session_factory(engine),
                clock=lambda: NOW)
    assert seed_demo(core)
    yield core
    engine.dispose()


def console(core: Core, script: str, name: str, files: Path) -> str:
    out = io.StringIO()
    assert run_console(core, io.StringIO(script), out, name=name, interactive=False, files_dir=files) == 0
    return out.getvalue()


def test_in_the_console_a_lead_reads_the_portfolio_and_gets_its_chart_and_the_export_as_files(
    demo_core: Core, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    out = console(demo_core, "/hub portfolio department Finance\n/hub export\n/home\n", "lee", files)

    assert "[only you] Portfolio (department Finance)\n    3 use cases (department Finance): 3 in flight" in out
    assert "• #8 Read receipts from expense photos (Finance): waiting" in out
    assert f"    {CHART_SENT}\n" in out
    chart = next(files.glob("hubspoke-portfolio-department-finance-*.png"))
    assert chart.read_bytes().startswith(PNG)
    assert f"Chart saved: {chart}" in out
    assert "Live use cases by department and stage: Finance: 1 ideation, 1 experimentation, 1 deployment" in out

    use_cases = list(csv.DictReader(next(files.glob("hubspoke-use-cases-*.csv")).open(encoding="utf-8")))
    assert len(use_cases) == 8 and "Forecast invoice volumes" in {r["title"] for r in use_cases}
    audit = list(csv.DictReader(next(files.glob("hubspoke-audit-*.csv")).open(encoding="utf-8")))
    assert {"submitted", "decision:approve"} <= {r["action"] for r in audit}
    assert all(r["at_utc"].endswith("Z") for r in audit)
    # The lead's Home is the portfolio too.
    home = out[out.index("Lee (lead)> /home"):]
    assert "8 use cases: 6 in flight, 2 waiting for review, 1 stale" in home


def test_only_leads_export_and_anyone_searches_across_departments(demo_core: Core, tmp_path: Path) -> None:
    out = console(demo_core, "/hub export\n/usecase search forecast invoice volumes\n", "dana", tmp_path / "files")
    assert "Only hub leads can export the hub's records." in out
    assert not (tmp_path / "files").exists()
    found = "Use cases like forecast invoice volumes:\n    • #1 Forecast invoice volumes · Finance · experimentation"
    assert found in out


def test_the_cli_prints_the_portfolio_as_json_and_writes_its_chart(tmp_path: Path) -> None:
    db = {"DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}"}
    assert hubspoke(tmp_path, "demo", "--as", "lee", **db).returncode == 0  # seeds, then stdin ends
    done = hubspoke(tmp_path, "portfolio", "--json", "--chart", str(tmp_path / "p.png"), **db)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["total"], data["in_flight"], data["waiting_total"]) == (8, 6, 2)
    assert data["by_department"]["Finance"] == 3
    assert (tmp_path / "p.png").read_bytes().startswith(PNG)
    refused = hubspoke(tmp_path, "portfolio", "--stage", "orbit", **db)
    assert refused.returncode == 2 and "orbit is not a stage" in refused.stderr


def _slack_hub(sc: Scenario) -> tuple[SlackUser, SlackUser]:
    lee, sam = sc.user("ULEAD", "lee"), sc.user("USAM", "sam")
    core = sc.app.core
    lead = slack_actor(core, "ULEAD", "lee")[0]
    core.run(hub.add_department, lead, "Finance")
    sc.slack.command(sam, "/usecase", "Forecast invoice volumes")
    return lee, sam


def test_on_slack_hub_portfolio_answers_privately_and_uploads_the_chart_to_the_askers_dm(scenario: Scenario) -> None:
    sc = scenario
    lee, _ = _slack_hub(sc)
    r = sc.slack.command(lee, "/hub", "portfolio waiting")
    body = r.json()
    assert r.status_code == 200 and body["response_type"] == "ephemeral"
    shown = json.dumps(body["blocks"])
    assert body["blocks"][0]["type"] == "header" and "Portfolio (waiting)" in shown
    assert CHART_SENT in shown  # the same words the console says
    done = sc.api.wait_for("files.completeUploadExternal", 1)
    assert done, "the chart was never uploaded"
    assert str(done[0].params.get("channel_id", "")).startswith("D")
    uploaded = list(sc.api.uploads.values())
    assert uploaded and uploaded[0].startswith(PNG)


def test_on_slack_a_leads_home_has_the_portfolio_and_a_spokes_does_not(scenario: Scenario) -> None:
    sc = scenario
    lee, sam = _slack_hub(sc)

    def home(user: Any) -> str:
        before = len(sc.api.of("views.publish"))
        sc.slack.event({"type": "app_home_opened", "user": user.id, "tab": "home"})
        published = sc.api.wait_for("views.publish", before + 1)
        return json.dumps(published[-1].params["view"])

    assert "The hub's portfolio" in home(lee)
    assert "The hub's portfolio" not in home(sam)


def test_on_slack_hub_export_sends_a_lead_both_csvs_and_search_answers_anyone(scenario: Scenario) -> None:
    sc = scenario
    lee, sam = _slack_hub(sc)
    refused = sc.slack.command(sam, "/hub", "export").json()
    assert "Only hub leads can export the hub's records." in refused["text"]
    told = sc.slack.command(lee, "/hub", "export").json()
    assert "on their way to your DM, as CSV files" in told["text"]
    done = sc.api.wait_for("files.completeUploadExternal", 1)
    assert done and str(done[0].params.get("channel_id", "")).startswith("D")
    contents = [raw.decode("utf-8") for raw in sc.api.uploads.values()]
    assert any(text.startswith("id,action,actor") for text in contents)  # the audit trail
    assert any("department_added" in text for text in contents)
    found = sc.slack.command(sam, "/usecase", "search invoice").json()
    assert found["response_type"] == "ephemeral" and "No use case in the hub is like *invoice* yet." in found["text"]
