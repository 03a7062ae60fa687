"""Pacing posts to a workspace-wide rate: a loopback fake Slack that answers 429 above its limits, and an outbox
that paces itself under them, losing nothing and sending nothing twice either way."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.outbox import OutboxWorker, deliver_due
from bot.outbox.pacing import PostRate, post_rates
from bot.settings import Settings
from handlers.slack.app import build_client
from handlers.slack.chat import SlackChat
from intake.notices import BusFactorNotice
from intake.read_models import PersonView, jsonable
from storage import repo
from storage.db import UnitOfWork
from storage.models import DeliveryPause, OutboxMessage
from storage.types import utcnow
from tests.fakes.slack_api import FakeSlack, PostLimit

RATE = 10.0  # posts a second the fake allows the workspace; the tests pace to it
CHANNELS = 30


@pytest.fixture
def limited() -> Iterator[FakeSlack]:
    """A fake Slack allowing one post a second to a channel, and RATE a second (after a burst of 3) in all."""
    api = FakeSlack(channel_limit=PostLimit(1.0), workspace_limit=PostLimit(RATE, burst=3)).start()
    try:
        yield api
    finally:
        api.stop()
        assert not api.invalid, api.invalid


def queue(sf: sessionmaker[Session], channels: int) -> set[tuple[str, str]]:
    """One notice to each of `channels` channels; the (channel, fallback text) each should arrive as."""
    expert = PersonView(id=1, name="Rita")
    with UnitOfWork(sf) as u:
        for c in range(channels):
            notice = BusFactorNotice(topic=f"topic {c}", expert=expert)
            repo.enqueue(u.session, jsonable(notice), channel=f"C{c:03d}", at=utcnow())
        u.commit()
    return {(f"C{c:03d}", f"Bus factor of one: topic {c}") for c in range(channels)}


def accepted(api: FakeSlack) -> Counter[tuple[str, str]]:
    """How often the fake accepted each (channel, text)."""
    return Counter((str(c.params["channel"]), str(c.params["text"])) for c in api.of("chat.postMessage"))


def chat_for(api: FakeSlack) -> SlackChat:
    return SlackChat(build_client("xoxb-test", api.base_url), "C_HUB", post_interval=1.0)


def drain(sf: sessionmaker[Session], worker: OutboxWorker, timeout: float = 60) -> list[OutboxMessage]:
    """Run `worker` until every row is delivered (or failed, or `timeout`); the rows."""
    worker.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with sf() as s:
                rows = list(s.scalars(select(OutboxMessage)))
            if all(r.delivered_at is not None or r.failed_at is not None for r in rows):
                return rows
            time.sleep(0.05)
        return rows
    finally:
        worker.stop()


def test_the_fake_refuses_a_second_post_to_a_channel_within_a_second_with_a_whole_second_retry_after(
    limited: FakeSlack,
) -> None:
    client = build_client("xoxb-test", limited.base_url)
    client.chat_postMessage(channel="C1", text="first")
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C1", text="second")
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"] == "1"
    client.chat_postMessage(channel="C2", text="another channel")  # a refused post cost the workspace nothing
    assert [c.params["text"] for c in limited.of("chat.postMessage")] == ["first", "another channel"]
    assert [c.params["text"] for c in limited.of("chat.postMessage:429")] == ["second"]


def test_the_fake_refuses_posts_over_the_workspace_rate_after_its_burst(limited: FakeSlack) -> None:
    client = build_client("xoxb-test", limited.base_url)
    answers = []
    for c in range(6):  # far quicker than RATE a second: the burst of 3 goes, then at most one more
        try:
            client.chat_postMessage(channel=f"C{c}", text=str(c))
            answers.append(200)
        except SlackApiError as exc:
            answers.append(exc.response.status_code)
    assert answers[:3] == [200, 200, 200]
    assert answers.count(429) >= 2
    assert len(limited.of("chat.postMessage")) == answers.count(200)


def test_a_worker_pacing_itself_to_the_workspace_rate_meets_no_429_and_sends_each_message_once(
    session_factory: sessionmaker[Session], limited: FakeSlack
) -> None:
    sf = session_factory
    expected = queue(sf, CHANNELS)
    worker = OutboxWorker(sf, chat_for(limited), concurrency=8, interval=0.1, post_rates={"slack": RATE})
    rows = drain(sf, worker)

    # The fake refuses anything over RATE a second (beyond a burst of 3): none refused is the rate held.
    assert limited.of("chat.postMessage:429") == []
    assert accepted(limited) == Counter(dict.fromkeys(expected, 1))
    assert all(r.delivered_at is not None and r.attempts == 0 for r in rows)
    assert worker.counts == {"delivered": CHANNELS}
    with sf() as s:
        assert s.scalars(select(DeliveryPause)).all() == []


def test_a_worker_reacting_to_429s_alone_pauses_and_still_loses_nothing_and_repeats_nothing(
    session_factory: sessionmaker[Session], limited: FakeSlack
) -> None:
    sf = session_factory
    expected = queue(sf, 8)
    worker = OutboxWorker(sf, chat_for(limited), concurrency=8, interval=0.1)  # no SLACK_WORKSPACE_RATE
    rows = drain(sf, worker)

    refused = limited.of("chat.postMessage:429")
    assert refused  # eight senders at once outrun a burst of 3
    assert worker.counts == {"delivered": 8, "paused": len(refused)}
    assert accepted(limited) == Counter(dict.fromkeys(expected, 1))  # every refused post went again, once
    assert all(r.delivered_at is not None and r.failed_at is None and r.attempts == 0 for r in rows)
    with sf() as s:
        assert s.scalars(select(DeliveryPause.bucket)).one() == "slack:chat.postMessage"


def test_a_single_pass_paces_its_posts_too(session_factory: sessionmaker[Session], limited: FakeSlack) -> None:
    sf = session_factory
    expected = queue(sf, 8)
    assert deliver_due(sf, chat_for(limited), post_rates={"slack": RATE, "teams": None}) == {"delivered": 8}
    assert limited.of("chat.postMessage:429") == []
    assert accepted(limited) == Counter(dict.fromkeys(expected, 1))


def test_slack_workspace_rate_is_unset_by_default_and_a_positive_number_of_posts_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings(_env_file=None).slack_workspace_rate is None
    monkeypatch.setenv("SLACK_WORKSPACE_RATE", "2.5")
    assert Settings(_env_file=None).slack_workspace_rate == 2.5
    monkeypatch.setenv("SLACK_WORKSPACE_RATE", "0")
    with pytest.raises(ValueError):
        Settings(_env_file=None)
    # Only a platform given a rate gets a limiter; the rest are not limited here.
    assert list(post_rates({"slack": 2.5, "teams": None})) == ["slack"]
    with pytest.raises(ValueError):
        PostRate(0)
