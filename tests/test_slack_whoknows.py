""""Who knows X" in Slack: the command, mentions, DMs, show more, skills, and the bus-factor notice."""

from __future__ import annotations

import json
from typing import Any

from handlers.slack.ids import Action
from handlers.slack.whoknows import topic_of
from intake import decisions, hub, submission
from intake.schema import Decision, Submission
from tests.conftest import HUB_CHANNEL, Scenario
from tests.factories import slack, slack_actor
from tests.fakes.slack_api import blocks_text


def proposal(title: str, problem: str) -> Submission:
    return Submission(
        title=title, problem=problem, department="Finance", benefit="Less manual work",
        success_metric="Hours saved per week", data_availability="available", data_sensitivity="personal",
        people_affected="internal", autonomy="assistive",
    )


def seed(sc: Scenario) -> int:
    """Rita reviews a forecasting use case Sam submitted; Omar declares computer vision."""
    core = sc.app.core
    lead, _ = slack_actor(core, "ULEAD", "lee")
    core.run(hub.add_department, lead, "Finance")
    core.run(hub.add_reviewer, lead, slack("UREV", "rita"), skills=["forecasting"])
    core.run(hub.add_reviewer, lead, slack("UOMAR", "omar"), skills=["computer vision"])
    sam, _ = slack_actor(core, "USAM", "sam")
    result = core.run(submission.submit_use_case, sam,
                      proposal("Forecast invoice volumes", "We forecast invoice volumes by hand each month"))
    rita, _ = slack_actor(core, "UREV", "rita")
    core.run(decisions.decide, rita, result.use_case.id, Decision.APPROVE)
    return result.use_case.id


def test_topic_of_understands_how_people_ask() -> None:
    assert topic_of("<@UBOT> who knows about demand forecasting?") == "demand forecasting"
    assert topic_of("does anyone know RAG") == "RAG"
    assert topic_of("Who is an expert in OCR?") == "OCR"
    assert topic_of("hello there") is None


def test_whoknows_command_answers_with_people_and_reasons(scenario: Scenario) -> None:
    sc = scenario
    use_case_id = seed(sc)
    asker = sc.user("UASK", "ada")
    r = sc.slack.command(asker, "/whoknows", "time series")  # a synonym: the taxonomy maps it to forecasting
    body = r.json()
    assert r.status_code == 200 and body["response_type"] == "ephemeral"
    shown = json.dumps(body["blocks"])
    assert "*1.* <@UREV>" in shown
    assert f"Reviewed use case #{use_case_id}: Forecast invoice volumes" in shown
    assert "Declared skill: forecasting" in shown
    assert "Related use cases" in shown and f"#{use_case_id} *Forecast invoice volumes*" in shown
    assert "<@UOMAR>" not in shown  # no evidence about forecasting


def test_mention_and_dm_get_answers_in_place(scenario: Scenario) -> None:
    sc = scenario
    seed(sc)
    sc.user("UASK", "ada")
    sc.slack.event({"type": "app_mention", "user": "UASK", "text": "<@UBOT> who knows about forecasting?",
                    "ts": "1700000000.000100", "channel": "C_SPOKE"})
    [answer] = sc.api.wait_for("chat.postMessage", 1, channel="C_SPOKE")
    assert answer.params["thread_ts"] == "1700000000.000100"
    assert "<@UREV>" in blocks_text(answer)

    sc.slack.event({"type": "message", "channel_type": "im", "user": "UASK", "text": "computer vision",
                    "ts": "1700000000.000200", "channel": "DASK"})
    [dm] = sc.api.wait_for("chat.postMessage", 1, channel="DASK")
    assert "<@UOMAR>" in blocks_text(dm) and "Declared skill: computer vision" in blocks_text(dm)

    # A bot's own message in the DM, and channel chatter, are not questions.
    sc.slack.event({"type": "message", "channel_type": "im", "bot_id": "BBOT", "text": "x", "ts": "1.3",
                    "channel": "DASK"})
    sc.slack.event({"type": "message", "channel_type": "channel", "user": "UASK", "text": "who knows nlp",
                    "ts": "1.4", "channel": "C_SPOKE"})
    answers = [c for c in sc.api.wait_for("chat.postMessage", 99, timeout=1.0)
               if c.params["channel"] in ("C_SPOKE", "DASK")]
    assert len(answers) == 2  # the two answers above, nothing else


def test_show_more_pages_through_everyone(scenario: Scenario) -> None:
    sc = scenario
    core = sc.app.core
    lead, _ = slack_actor(core, "ULEAD", "lee")
    for i in range(7):
        core.run(hub.add_reviewer, lead, slack(f"UNLP{i}", f"nlp{i}"), skills=["nlp"])
    asker = sc.user("UASK", "ada")
    first = sc.slack.command(asker, "/whoknows", "natural language processing").json()
    shown = json.dumps(first["blocks"])
    assert shown.count("<@UNLP") == 5 and "Show more" in shown
    more = next(b for b in first["blocks"] if b["type"] == "actions")["elements"][0]
    sc.slack.click(asker, Action.WHOKNOWS_MORE, more["value"], channel="C_SPOKE")
    assert sc.api.wait_for_hook("Who knows natural language processing"), "the second page never arrived"
    [page_two] = [c for c in sc.api.calls if c.method.startswith("response_url:")]
    shown = blocks_text(page_two)
    assert "(people 6 to 7 of 7)" in shown and shown.count("<@UNLP") == 2 and "Show more" not in shown


def test_single_expert_topic_tells_the_hub_once(scenario: Scenario) -> None:
    """Only Omar has worked on computer vision; the hub hears it once two different people have asked."""
    sc = scenario
    seed(sc)
    omar, _ = slack_actor(sc.app.core, "UOMAR", "omar")
    sc.app.core.run(submission.submit_use_case, omar,
                    proposal("Read meter photos", "Computer vision reads gas meter photos sent by customers"))
    ada, bo = sc.user("UASK", "ada"), sc.user("UOTHER", "bo")
    first = json.dumps(sc.slack.command(ada, "/whoknows", "computer vision").json())
    assert "<@UOMAR>" in first and "the hub has been told" not in first  # one asker is not yet a pattern
    for asker in (bo, ada):
        r = sc.slack.command(asker, "/whoknows", "computer vision")
        assert "the hub has been told" in json.dumps(r.json())
    # The hub channel also has the seed's review card: wait for the notice itself, then make sure
    # the third question added no other.
    assert "Bus factor of one" in sc.api.wait_for_text("chat.postMessage", "Bus factor of one")
    posts = sc.api.wait_for("chat.postMessage", 99, channel=HUB_CHANNEL, timeout=1.0)
    notices = [p for p in posts if "Bus factor of one" in blocks_text(p)]
    assert len(notices) == 1 and "<@UOMAR>" in blocks_text(notices[0])


def test_skills_are_declared_and_shown(scenario: Scenario) -> None:
    sc = scenario
    ada = sc.user("UASK", "ada")
    r = sc.slack.command(ada, "/hub", "skills add Time Series, RAG")
    assert "now lists: rag, time series" in r.json()["text"]
    r = sc.slack.command(ada, "/hub", "skills remove rag")
    assert "Removed rag" in r.json()["text"] and "now lists: time series" in r.json()["text"]
    r = sc.slack.command(ada, "/hub", "skills add <@UOTHER|bo> nlp")
    assert "lead" in r.json()["text"].lower()  # only leads set skills for others
    other: Any = sc.user("UOTHER", "bo")
    r = sc.slack.command(other, "/whoknows", "time series")
    assert "<@UASK>" in json.dumps(r.json()["blocks"]) and "Declared skill: time series" in json.dumps(r.json())
