"""Editing, withdrawing, reopening, closing and reassigning: the same dialog on Slack and in the console ends the same.

A spoke submits two use cases, edits the self-serve one so it needs review, withdraws the other while it waits;
a lead reopens the withdrawn one (back to review) and closes the edited one with a reason; the reviewer hands the
reopened review to a colleague, who is the only one offered.
"""

from __future__ import annotations

import io
import json
from typing import Any

from bot.core import Core
from bot.settings import Settings
from handlers.console.repl import run_console
from handlers.slack.ids import Action
from storage.db import make_engine, make_session_factory, upgrade
from tests.conftest import NOW, Scenario
from tests.factories import intake_values
from tests.fakes.signed import select as pick
from tests.fakes.signed import text_input
from tests.test_parity import outcomes

REOPEN = "The data owner signed up"
CLOSE = "Merged into #1."
NOTE = "He knows the ERP"


def slack_dialog(sc: Scenario) -> dict[str, Any]:
    lee, sam, rita = (sc.user(u, n) for u, n in (("ULEAD", "lee"), ("USAM", "sam"), ("URITA", "rita")))
    sc.user("UOMAR", "omar")

    def ok(r: Any) -> str:
        assert r.status_code == 200, r.text
        return json.dumps(r.json()) if r.text else ""

    def view(n: int) -> dict[str, Any]:
        raw = sc.api.wait_for("views.open", n)[n - 1].params["view"]
        return json.loads(raw) if isinstance(raw, str) else raw

    ok(sc.slack.command(lee, "/hub", "department add Finance"))
    ok(sc.slack.command(lee, "/hub", "reviewer add <@URITA|rita> forecasting"))
    ok(sc.slack.command(lee, "/hub", "reviewer add <@UOMAR|omar> documents"))
    ok(sc.slack.command(sam, "/usecase", "Forecast invoice volumes"))
    ok(sc.slack.submit_view(sam, view(1), intake_values()))
    ok(sc.slack.command(sam, "/usecase", "Summarise support tickets"))
    low = intake_values(
        title=text_input("Summarise support tickets"), data_sensitivity=pick("internal", "radio_buttons")
    )
    ok(sc.slack.submit_view(sam, view(2), low))

    ok(sc.slack.command(sam, "/usecase", "edit 2"))
    edit = view(3)
    assert edit["callback_id"] == "hubspoke_edit" and edit["submit"]["text"] == "Save"
    saved = ok(sc.slack.submit_view(sam, edit, {**low, "data_sensitivity": pick("personal", "radio_buttons")}))
    assert "so it went to hub review" in saved or "hub review" in saved

    sc.slack.click(sam, Action.WITHDRAW, "1:1", channel="DSAM")
    assert "was *withdrawn*" in sc.api.wait_for_hook("withdrawn")

    ok(sc.slack.command(lee, "/usecase", f"reopen 1 {REOPEN}"))
    reopen = view(4)
    assert reopen["callback_id"] == "hubspoke_reopen"
    ok(sc.slack.submit_view(lee, reopen, {"reason": text_input(REOPEN)}))

    ok(sc.slack.command(lee, "/usecase", "close 2"))
    close = view(5)
    assert close["callback_id"] == "hubspoke_close" and close["submit"]["text"] == "Close it"
    refused = ok(sc.slack.submit_view(lee, close, {"reason": text_input(" ")}))
    assert '"reason": "Say why in a sentence' in refused  # on the field, nothing closed yet
    ok(sc.slack.submit_view(lee, close, {"reason": text_input(CLOSE)}))

    sc.slack.click(rita, Action.REASSIGN, "1:2")
    reassign = view(6)
    select = next(b for b in reassign["blocks"] if b.get("block_id") == "reviewer")["element"]
    offered = [o["text"]["text"] for o in select["options"]]
    assert offered == ["omar · documents · 0 open"]
    omar = select["options"][0]["value"]
    ok(sc.slack.submit_view(rita, reassign, {"reviewer": pick(omar), "note": text_input(NOTE)}))
    return outcomes(sc.app.core.session_factory)


def console_dialog(core: Core) -> tuple[str, dict[str, Any]]:
    submit = (
        "/usecase {title}\n\n"
        "Finance guesses monthly invoice volumes by hand and staffs the team wrong.\n"
        "1\nRight-sized team, fewer late payments\nLate payments down 30% by Q3\nERP invoice history\n"
        "1\n{sensitivity}\n1\n1\n\n\n"
    )
    script = (
        "/hub department add Finance\n/hub reviewer add @rita forecasting\n/hub reviewer add @omar documents\n"
        "/as sam\n"
        + submit.format(title="Forecast invoice volumes", sensitivity=3)
        + submit.format(title="Summarise support tickets", sensitivity=2)
        + "/usecase edit 2\n" + "\n" * 7 + "3\n" + "\n" * 4
        + "/usecase status 1\n2\ny\n"  # Edit, Withdraw: withdraw, and confirm
        + f"/as lee\n/usecase reopen 1 {REOPEN}\n\n"  # Enter keeps the reason typed with the command
        + f"/usecase close 2\n\n{CLOSE}\ny\n"  # no reason: asked again
        + f"/as rita\n/usecase status 1\n4\n@omar\n{NOTE}\n"
    )
    out = io.StringIO()
    assert run_console(core, io.StringIO(script), out, name="lee", interactive=False) == 0
    return out.getvalue(), outcomes(core.session_factory)


def test_governance_dialog_ends_the_same_on_slack_and_in_the_console(scenario: Scenario, tmp_path: Any) -> None:
    on_slack = slack_dialog(scenario)

    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(_env_file=None, database_url=url)
    core = Core(settings=settings, session_factory=make_session_factory(engine), clock=lambda: NOW)
    shown, in_console = console_dialog(core)
    engine.dispose()

    assert "Why close it? \n  ! Say why in a sentence" in shown
    assert "Who can take it: @omar (0 open)." in shown
    assert in_console["use_cases"] == [
        (1, "Forecast invoice volumes", in_console["use_cases"][0][2], "in_review", "ideation", "medium",
         "hub_review", "omar"),
        (2, "Summarise support tickets", in_console["use_cases"][1][2], "withdrawn", "closed", "medium",
         "hub_review", "omar"),
    ]
    assert in_console["reviews"] == [
        (1, 1, "withdrawn", None, "sam"),
        (1, 2, None, None, None),
        (2, 1, "withdrawn", CLOSE, "lee"),
    ]
    assert [a for a in in_console["audit"] if a[2]] == [
        ("submitted", "sam", 1), ("submitted", "sam", 2), ("edited", "sam", 2), ("withdrawn", "sam", 1),
        ("reopened", "lee", 1), ("closed", "lee", 2), ("assigned", "rita", 1),
    ]
    for key in ("use_cases", "reviews", "audit", "roles"):
        assert on_slack[key] == in_console[key], f"{key} differ between Slack and the console"
