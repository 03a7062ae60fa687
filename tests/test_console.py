"""The console as a person uses it: the real `hubspoke` process over pipes, and the REPL over StringIO."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from bot.demo import USE_CASES, seed_demo
from bot.settings import Settings
from handlers.console.people import console_key, console_name, console_ref
from handlers.console.repl import run_console
from intake import people
from intake.read_models import Actor
from storage.db import UnitOfWork, make_engine
from storage.models import AuditEvent, Person, Review, UseCase
from tests.conftest import NOW

# A lead sets the hub up, a newcomer submits (one answer refused), the reviewer rejects with a reason.
NEWCOMER_FLOW = """\
/hub department add Finance
/hub reviewer add @rita forecasting, nlp
/as sam
/usecase Forecast invoice volumes. We guess them by hand every month.


1
Right-sized team
TBD
Late payments down 30% by Q3
ERP invoice history
1
3
1
1


/as rita
3

Not a priority this year.
/quit
"""


def in_order(text: str, *parts: str) -> None:
    """Each part appears in `text`, after the one before it."""
    at = 0
    for part in parts:
        found = text.find(part, at)
        assert found >= 0, f"{part!r} not found after position {at} in:\n{text}"
        at = found + len(part)


def assert_newcomer_flow(out: str) -> None:
    in_order(
        out,
        "Lee (lead)> /hub department add Finance\n[only you] Department Finance added.",
        "[only you] Rita is a hub reviewer (forecasting, nlp).",
        "Sam> /usecase Forecast invoice volumes.",
        "Title [Forecast invoice volumes]: \n",
        "Department:\n  [1] Finance\nChoose 1: 1\n",
        "Success metric (e.g. average handling time down 20% by Q3): TBD\n"
        "  ! Name the business metric this should move, e.g. 'handling time -20%'.\n"
        "Success metric (e.g. average handling time down 20% by Q3): Late payments down 30% by Q3\n",
        "Data sensitivity:\n  [1] No sensitive data\n  [2] Internal business data\n  [3] Personal data\n",
        "[only you] Saved. #1 Forecast invoice volumes went to hub review (Medium risk), assigned to Rita.",
        "[#hub] Review #1: Forecast invoice volumes\n",
        "[DM to Rita] Review #1: Forecast invoice volumes (same as above)",
        "[DM to Sam] Saved. #1 Forecast invoice volumes went to hub review",
        "Sam> /as rita\n[only you] You are Rita (@rita): reviewer (forecasting, nlp).",
        "Waiting for your review\n    #1 Forecast invoice volumes · Finance · from Sam",
        "[only you] Review #1: Forecast invoice volumes\n",
        "    [1] Approve  [2] Request changes  [3] Reject  [4] Reassign\n",
        "Rita (reviewer)> 3\n[only you] Reject #1 Forecast invoice volumes",
        "Why is it rejected? \n  ! Give the submitter a reason, so they know what to do next.\n",
        "Why is it rejected? Not a priority this year.\n",
        "[#hub] Review #1: Forecast invoice volumes (updated)\n    Rejected by Rita on ",
        "[DM to Sam] #1 Forecast invoice volumes was rejected by Rita.\n    > Not a priority this year.\n",
        "Rita (reviewer)> /quit\nBye.\n",
    )


# --- the real process, as a person at a terminal would drive it ------------------------------


@dataclass
class Launched:
    """A `hubspoke` process started ahead of its test, waiting for what the person types."""

    process: subprocess.Popen[str]
    stdin: str
    cwd: Path

    def result(self) -> subprocess.CompletedProcess[str]:
        out, err = self.process.communicate(self.stdin, timeout=60)
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, out, err)


def launch(cwd: Path, *args: str, stdin: str = "/quit\n", **env: str) -> Launched:
    """Start the installed `hubspoke` in `cwd` on its own SQLite file, with no platform settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HUB_", "DATABASE_URL"))}
    clean.update({"DATABASE_URL": f"sqlite:///{cwd / 'hubspoke.db'}", **env})
    script = Path(sys.executable).with_name("hubspoke")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    process = subprocess.Popen(
        [*command, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=clean,
    )
    return Launched(process, stdin, cwd)


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Launched]]:
    """Every process these tests drive, started at once: each spends a second or two importing."""

    def cwd(name: str) -> Path:
        return tmp_path_factory.mktemp(name)

    started = {
        "newcomer": launch(cwd("newcomer"), "console", "--as", "lee", stdin=NEWCOMER_FLOW),
        "demo": launch(cwd("demo"), "console", "--demo", stdin="/as sam\n/usecase list\n"),
        "run": launch(cwd("run"), "run", stdin="/who\n"),
        "partial": launch(cwd("partial"), "run", SLACK_BOT_TOKEN="xoxb-only"),
    }
    yield started
    for each in started.values():
        if each.process.poll() is None:
            each.process.kill()
            each.process.communicate()


def test_a_newcomer_submits_and_the_reviewer_rejects_in_the_console_process(launched: dict[str, Launched]) -> None:
    done = launched["newcomer"].result()
    assert done.returncode == 0, done.stderr
    assert "You are the first person here, so you are a hub lead." in done.stdout
    assert_newcomer_flow(done.stdout)


def test_the_demo_seeds_once_and_demo_people_see_their_use_cases(launched: dict[str, Launched]) -> None:
    first = launched["demo"].result()
    assert first.returncode == 0, first.stderr
    in_order(
        first.stdout,
        "Seeded the demo hub.",
        "[only you] You are Lee (@lee): hub lead.",
        "Try: ",
        "Sam> /usecase list\n[only you] Your use cases\n",
        "#8 Read receipts from expense photos: In hub review · Ideation · Medium risk",
        "Bye.",
    )
    for title in ("Forecast invoice volumes", "Match supplier invoices to purchase orders"):
        assert f"{title}: " in first.stdout
    assert "[#hub]" not in first.stdout  # the seed's own messages are history, not replayed
    cwd = launched["demo"].cwd
    again = launch(cwd, "demo", stdin="/as sam\n/usecase list\n").result()
    assert "The database has a hub already." in again.stdout
    assert "Sam> /usecase list" in again.stdout
    engine = make_engine(f"sqlite:///{cwd / 'hubspoke.db'}")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(UseCase)) == len(USE_CASES)  # nothing duplicated
        assert conn.scalar(select(func.count()).select_from(Person).where(Person.is_lead)) == 1
    engine.dispose()


def test_run_without_any_platform_credentials_opens_the_console(launched: dict[str, Launched]) -> None:
    done = launched["run"].result()
    assert done.returncode == 0, done.stderr
    first, *rest = done.stdout.splitlines()
    assert "No Slack credentials are set" in first and "'Connect Slack'" in first
    assert any(line.endswith("> /who") for line in rest) and rest[-1] == "Bye."


def test_run_with_partial_slack_credentials_still_names_what_is_missing(launched: dict[str, Launched]) -> None:
    done = launched["partial"].result()
    assert done.returncode == 2
    assert "cannot connect to Slack: SLACK_SIGNING_SECRET not set" in done.stderr


# --- the REPL over StringIO: fast, and on PostgreSQL too when configured ---------------------


@pytest.fixture
def core(database_url: str, session_factory: sessionmaker[Session]) -> Core:
    settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    return Core(settings=settings, session_factory=session_factory, clock=lambda: NOW)


def console(core: Core, script: str, name: str = "lee") -> str:
    out = io.StringIO()
    assert run_console(core, io.StringIO(script), out, name=name, interactive=False) == 0
    return out.getvalue()


def count(core: Core, *where: ColumnElement[bool]) -> int:
    with UnitOfWork(core.session_factory) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(UseCase).where(*where)) or 0)


def test_the_repl_runs_the_newcomer_flow_and_records_it(core: Core) -> None:
    assert_newcomer_flow(console(core, NEWCOMER_FLOW))
    with UnitOfWork(core.session_factory) as uow:
        uc = uow.session.scalars(select(UseCase)).one()
        review = uow.session.scalars(select(Review)).one()
        assert (uc.status, review.decision, review.reason) == ("rejected", "reject", "Not a priority this year.")
        assert uc.submitter.handles == {"console": "sam"} and review.decided_by and review.decided_by.name == "Rita"
        actions = {a for a in uow.session.scalars(select(AuditEvent.action))}
        assert {"lead_added", "department_added", "reviewer_added", "submitted", "decision:reject"} <= actions


SETUP = "/hub department add Finance\n/hub reviewer add @rita forecasting\n/hub reviewer add @omar documents\n"
SUBMIT = "/usecase Forecast invoice volumes. We guess them by hand every month.\n\n\n1\nRight-sized team\n"
SUBMIT += "Late payments down 30% by Q3\nERP\n1\n3\n1\n1\n\n\n"  # personal data: it goes to review


def test_request_changes_then_edit_and_resubmit_from_the_dm(core: Core) -> None:
    script = SETUP + "/as sam\n" + SUBMIT + "/as rita\n2\nName the data owner.\n/as sam\n1\n"
    script += "\n" * 12 + "Finance guesses invoice volumes by hand; the data owner is the AP lead.\n" + "\n" * 10
    out = console(core, script)
    in_order(
        out,
        "Rita (reviewer)> 2\n[only you] Request changes on #1 Forecast invoice volumes",
        "What should the submitter change? Name the data owner.",
        "[DM to Sam] Rita asked for changes on #1 Forecast invoice volumes:\n    > Name the data owner.\n",
        "    [1] Edit and resubmit\n",
        "Sam> 1\n[only you] Edit use case #1\n    Rita asked for changes:\n    > Name the data owner.\n",
        "Links (optional): \n",
        "  ! Nothing changed. Edit the answers the reviewer asked about, then resubmit.\n",
        "Problem [Forecast invoice volumes. We guess them by hand every month.]: Finance guesses",
        "[only you] Resubmitted. #1 Forecast invoice volumes is back with hub review (Medium risk), assigned to Rita.",
        "[#hub] Review #1 (round 2): Forecast invoice volumes\n",
        "    Changed since round 1:\n    • Problem: Forecast invoice volumes. We guess them by hand every month. → ",
    )


def test_reassign_asks_for_a_reviewer_until_it_gets_one(core: Core) -> None:
    script = SETUP + "/as sam\n" + SUBMIT + "/as rita\n4\n@zed\n@sam\n@omar\nHe knows the ERP\n"
    out = console(core, script)
    in_order(
        out,
        # Only the reviewers who can take it are offered (not Rita, who holds it), with their load.
        "Rita (reviewer)> 4\n[only you] Reassign #1 Forecast invoice volumes. Who can take it: @omar (0 open).",
        "New reviewer (e.g. @rita): @zed\n  ! That person is not a hub reviewer",
        # A refused pick is told before a note is asked, so no note is written for the wrong person.
        "New reviewer (e.g. @rita): @sam\n  ! Pick a hub reviewer (a lead adds them with /hub reviewer add).",
        "New reviewer (e.g. @rita): @omar\nNote for them (optional): He knows the ERP\n",
        "[#hub] Review #1: Forecast invoice volumes (updated)\n",
        "    Reassigned from Rita to Omar by Rita: He knows the ERP\n",
        "[DM to Omar] Review #1: Forecast invoice volumes\n",
    )


def test_spokes_cannot_decide_or_set_the_hub_up(core: Core) -> None:
    out = console(core, SETUP + "/as sam\n" + SUBMIT + "1\n/hub reviewer add @sam nlp\n/hub away @rita on\n")
    in_order(
        out,
        "Sam> 1\n[only you] Only hub reviewers can decide on use cases. A hub lead can add you with /hub reviewer add.",
        "Sam> /hub reviewer add @sam nlp\n[only you] Only hub leads can change the hub's set-up.",
        "Sam> /hub away @rita on\n[only you] You can set yourself away; only hub leads can set others.",
    )
    assert count(core, UseCase.status == "in_review") == 1


def test_forms_guard_against_commands_and_can_be_cancelled_or_cut_short(core: Core) -> None:
    out = console(core, "/usecase\nAB\nA title\n/as rita\n/cancel\n7\n/usecase\nMy title\n")
    in_order(
        out,
        "Title (e.g. Invoice triage assistant): AB\n  ! Please write at least 3 characters.\n",
        "Problem: /as rita\n  ! You are in the middle of a form: answer it, or /cancel to stop.\n",
        "Problem: /cancel\n[only you] Not saved.\n",
        "Lee (lead)> 7\n[only you] Nothing to click: numbers pick a button on the last card shown.\n",
        "Problem: \n[only you] Not saved: the input ended before the form was finished.\nBye.\n",
    )
    assert count(core) == 0


def test_hub_set_up_away_guidelines_stages_and_help(core: Core) -> None:
    script = SETUP + "/hub department list\n/hub reviewer list\n/as rita\n/hub away on\n/who\n/as lee\n"
    script += "/hub reviewer remove @omar\n/hub guidelines set self_serve off\n/hub\n/usecase help\n/help\n/wat\nhi\n"
    script += "/as sam\n" + SUBMIT.replace("\n3\n", "\n2\n") + "/usecase stage 1 experimentation\n"
    script += "/usecase stage 1 deployment\n/usecase status 1\n/usecase status x\n"
    out = console(core, script)
    in_order(
        out,
        "[only you] Departments\n    • Finance\n",
        "[only you] Hub reviewers\n    • Omar: documents · 0 open\n    • Rita: forecasting · 0 open\n",
        "Rita (reviewer)> /hub away on\n[only you] Rita is away: new reviews skip them.",
        "[only you] You are Rita (@rita): reviewer (forecasting), away.",
        "[only you] Omar is no longer a hub reviewer.",
        "    • self_serve: off\n",
        "[only you] /hub sets up the hub",
        "[only you] /usecase opens the intake form.",
        "[only you] Type what you would type in Slack:\n    /usecase [idea]",
        "[only you] /wat is not a command here. /help lists them.",
        "[only you] Type a command (they start with /), or a number to click a button.",
        "[only you] Saved. #1 Forecast invoice volumes went to hub review (Low risk). The hub is picking a reviewer.",
        "[#hub] Review #1: Forecast invoice volumes\n",
        "    No reviewer is available for this one. Hub, pick a reviewer.\n",
        "[1] Approve  [2] Request changes  [3] Reject  [4] Pick a reviewer\n",
        "[only you] #1 Forecast invoice volumes is now in experimentation.",
        "[only you] Deployment needs the hub's go-ahead first (it is in hub review).",
        "    Lifecycle: Ideation → [Experimentation] → Production engineering",
        "[only you] 'x' is not a use case id; ids look like #12.",
    )


def test_console_people_and_who_leads(core: Core) -> None:
    def resolve(name: str) -> tuple[Actor, bool]:
        with UnitOfWork(core.session_factory) as uow:
            return people.resolve_actor(uow, console_ref(name), first_is_lead=True, now=NOW)

    first, created = resolve("Rita Ng")
    again, created_again = resolve("@rita.ng")
    second, _ = resolve("sam")
    assert created and not created_again and again.person_id == first.person_id
    assert (first.name, first.is_lead, first.handles) == ("Rita Ng", True, {"console": "rita.ng"})
    assert (second.name, second.is_lead) == ("Sam", False)
    assert console_key("  @Rita   Ng ") == "rita.ng" and console_name("@rita.ng") == "Rita Ng"


def test_the_demo_seed_covers_every_state_once(core: Core) -> None:
    assert seed_demo(core) is True
    assert seed_demo(core) is False
    with UnitOfWork(core.session_factory) as uow:
        s = uow.session
        statuses = {uc.status for uc in s.scalars(select(UseCase))}
        stages = {uc.stage for uc in s.scalars(select(UseCase))}
        assert statuses == {"self_serve", "in_review", "changes_requested", "approved", "rejected"}
        assert {"ideation", "experimentation", "deployment", "monitoring"} <= stages
        assert s.scalar(select(func.count()).select_from(UseCase)) == len(USE_CASES)
        people = {p.name: p for p in s.scalars(select(Person))}
        assert people["Lee"].is_lead and people["Priya"].away and people["Rita"].is_reviewer
        assert sum(p.is_reviewer for p in people.values()) == 3
