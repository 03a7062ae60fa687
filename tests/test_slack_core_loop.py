"""The core loop over real HTTP: submit, route, decide, request changes, resubmit, approve, move on."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from handlers.slack.ids import Action, View
from storage.db import UnitOfWork
from storage.models import AuditEvent, Review, UseCase
from tests.conftest import HUB_CHANNEL, Scenario
from tests.factories import intake_values
from tests.fakes.signed import select as pick
from tests.fakes.signed import text_input
from tests.fakes.slack_api import blocks_text


def opened_view(sc: Scenario, n: int) -> dict[str, Any]:
    """The n-th modal the bot opened (waiting for it: listeners open modals after acking)."""
    calls = sc.api.wait_for("views.open", n)
    assert len(calls) >= n, f"expected {n} modals, the bot opened {len(calls)}"
    view = calls[n - 1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def count(sc: Scenario, model: Any, *where: Any) -> int:
    with UnitOfWork(sc.app.core.session_factory) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_submit_review_request_changes_resubmit_approve(scenario: Scenario) -> None:
    sc = scenario
    lead, spoke, rita, outsider = (
        sc.user("ULEAD", "lee"),
        sc.user("USPOKE", "sam"),
        sc.user("UREV", "rita"),
        sc.user("UOTHER", "otto"),
    )

    r = sc.slack.command(lead, "/hub", "department add Finance")
    assert r.status_code == 200 and "Department *Finance* added" in r.json()["text"]
    r = sc.slack.command(lead, "/hub", "reviewer add <@UREV|rita> forecasting, NLP")
    assert "<@UREV> is a hub reviewer (forecasting, nlp)" in r.json()["text"]

    # A spoke types /usecase with free text: the form opens pre-filled.
    r = sc.slack.command(spoke, "/usecase", "Forecast invoice volumes. We guess them by hand every month.")
    assert r.status_code == 200
    view = opened_view(sc, 1)
    assert view["callback_id"] == View.INTAKE
    title_block = next(b for b in view["blocks"] if b.get("block_id") == "title")
    assert title_block["element"]["initial_value"] == "Forecast invoice volumes"

    # A vague success metric comes back on its own field, and nothing is saved.
    r = sc.slack.submit_view(spoke, view, intake_values(success_metric=text_input("TBD")))
    assert r.json()["response_action"] == "errors"
    assert "business metric" in r.json()["errors"]["success_metric"]
    assert count(sc, UseCase) == 0

    r = sc.slack.submit_view(spoke, view, intake_values())
    body = r.json()
    assert body["response_action"] == "update"
    saved = json.dumps(body["view"])
    assert "went to hub review" in saved and "<@UREV>" in saved and "uses personal data" in saved
    assert count(sc, UseCase) == 1
    with UnitOfWork(sc.app.core.session_factory) as uow:
        uc = uow.session.scalars(select(UseCase)).one()
        use_case_id = uc.id
        assert (uc.status, uc.stage, uc.risk_tier, uc.success_metric) == (
            "in_review",
            "ideation",
            "medium",
            "Late payments down 30% by Q3",
        )

    # The reviewer's card lands in the hub channel and in their DM; the submitter gets a receipt.
    cards = sc.api.wait_for("chat.postMessage", 3)
    by_channel = {c.params["channel"]: c for c in cards}
    assert {HUB_CHANNEL, "UREV", "USPOKE"} <= set(by_channel)
    hub_card = blocks_text(by_channel[HUB_CHANNEL])
    assert "Forecast invoice volumes" in hub_card and "Approve" in hub_card and "knows forecasting" in hub_card
    assert "went to hub review" in blocks_text(by_channel["USPOKE"])

    # Someone who is not a reviewer clicks Approve: told privately, nothing changes.
    value = f"{use_case_id}:1"
    r = sc.slack.click(outsider, Action.APPROVE, value)
    assert r.status_code == 200
    assert "Only hub reviewers can decide" in sc.api.wait_for_hook("Only hub reviewers can decide")
    assert count(sc, Review, Review.decision.is_not(None)) == 0

    # The reviewer asks for changes: a reason is required.
    sc.slack.click(rita, Action.REQUEST_CHANGES, value)
    reason_view = opened_view(sc, 2)
    assert reason_view["callback_id"] == View.REASON
    r = sc.slack.submit_view(rita, reason_view, {"reason": text_input("")})
    assert r.json()["response_action"] == "errors" and "reason" in r.json()["errors"]
    r = sc.slack.submit_view(rita, reason_view, {"reason": text_input("Can we do it without personal data?")})
    assert r.status_code == 200

    updates = sc.api.wait_for("chat.update", 2)
    assert {c.params["channel"] for c in updates} == {HUB_CHANNEL, "DREV"}
    assert all("Changes requested" in blocks_text(c) and "<@UREV>" in blocks_text(c) for c in updates)
    outcome = sc.api.wait_for("chat.postMessage", 2, channel="USPOKE")  # receipt, then the outcome
    outcome_text = "\n".join(blocks_text(c) for c in outcome)
    assert "asked for changes" in outcome_text and "without personal data" in outcome_text
    assert "Edit and resubmit" in outcome_text

    # The submitter edits the pre-filled form and resubmits to the same reviewer.
    sc.slack.click(spoke, Action.EDIT_RESUBMIT, str(use_case_id), channel="DSPOKE")
    edit_view = opened_view(sc, 3)
    assert edit_view["callback_id"] == View.RESUBMIT
    assert "without personal data" in json.dumps(edit_view)
    r = sc.slack.submit_view(spoke, edit_view, intake_values(data_sensitivity=pick("internal", "radio_buttons")))
    assert r.json()["response_action"] == "update"
    second = sc.api.wait_for("chat.postMessage", 2, channel="UREV")
    assert "Changed since round 1" in blocks_text(second[-1]) and "personal → internal" in blocks_text(second[-1])

    # Approve round 2: every copy of the card shows who decided; the submitter hears the outcome.
    sc.slack.click(rita, Action.APPROVE, f"{use_case_id}:2")
    updates = sc.api.wait_for("chat.update", 4)
    assert sum("Approved" in blocks_text(c) for c in updates) == 2
    approved = sc.api.wait_for("chat.postMessage", 4, channel="USPOKE")  # receipt, changes, receipt, outcome
    assert "was *approved* by <@UREV>" in blocks_text(approved[-1])

    # A second click is told who decided first.
    sc.slack.click(rita, Action.APPROVE, f"{use_case_id}:2")
    assert "rita already approved this one" in sc.api.wait_for_hook("already approved")

    # The owner moves it along the lifecycle; invalid moves are explained.
    r = sc.slack.command(spoke, "/usecase", f"stage {use_case_id} experimentation")
    assert "is now in *experimentation*" in json.dumps(r.json())
    r = sc.slack.command(spoke, "/usecase", f"stage {use_case_id} monitoring")
    assert "From experimentation it can move to" in r.json()["text"]
    assert count(sc, AuditEvent, AuditEvent.use_case_id == use_case_id) >= 5
