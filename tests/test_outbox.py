"""Outbox delivery: delivered rows are marked, platform back-off is honoured, permanent errors stop,
card updates wait for the card, and Slack's 429 with Retry-After is retried after the time it asked for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.chat import DeliveryError, FakeChat
from bot.outbox import WAIT_FOR_POST, deliver_due
from handlers.slack.app import build_client
from handlers.slack.chat import SlackChat
from intake import hub, services
from intake.notices import HUB, card_key
from intake.schema import Decision, Submission
from storage.db import UnitOfWork
from storage.models import MessageRef, OutboxMessage
from tests.conftest import NOW, make_actor
from tests.fakes.slack_api import FakeSlack, blocks_text

SUBMISSION = Submission.model_validate({
    "title": "Forecast invoice volumes", "problem": "Finance guesses monthly invoice volumes by hand.",
    "department": "Finance", "benefit": "Right-sized team", "success_metric": "Late payments -30%",
    "data_availability": "available", "data_sensitivity": "personal", "people_affected": "internal",
    "autonomy": "assistive",
})


def submit(sf: sessionmaker[Session], now: dt.datetime = NOW) -> int:
    """A use case in review with Rita: queues the hub card, Rita's copy and Sam's receipt, in that order."""
    with UnitOfWork(sf) as u:
        hub.add_reviewer(u, hub.SYSTEM, "UREV", skills=["forecasting"], name="Rita", now=now)
    spoke = make_actor(sf, "USAM", "Sam")
    with UnitOfWork(sf) as u:
        return services.submit_use_case(u, spoke, SUBMISSION, now=now).use_case.id


def rows(sf: sessionmaker[Session]) -> list[OutboxMessage]:
    with sf() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_delivered_messages_are_marked_delivered(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    use_case_id = submit(sf)
    chat = FakeChat()
    assert deliver_due(sf, chat, now=NOW) == {"delivered": 3}
    assert [(s.operation, s.destination, s.notice.kind) for s in chat.transcript] == [
        ("post", HUB, "review_card"), ("post", "dm:Rita", "review_card"), ("post", "dm:Sam", "receipt"),
    ]
    assert all(r.delivered_at == NOW and r.attempts == 0 and r.locked_until is None for r in rows(sf))
    with sf() as s:
        refs = s.scalars(select(MessageRef).order_by(MessageRef.id)).all()
        assert [(r.ref_key, r.channel) for r in refs] == [(card_key(use_case_id, 1), HUB),
                                                          (card_key(use_case_id, 1), "dm:Rita")]
    # Nothing is sent twice.
    assert deliver_due(sf, chat, now=NOW + dt.timedelta(hours=1)) == {}
    assert len(chat.transcript) == 3


def test_retry_after_sets_the_next_attempt(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    submit(sf)
    chat = FakeChat(fail_next=[DeliveryError("rate limited", retry_after=7)])
    assert deliver_due(sf, chat, now=NOW) == {"retry": 1, "delivered": 2}
    card = rows(sf)[0]
    assert (card.attempts, card.next_attempt_at, card.delivered_at, card.failed_at) == (
        1, NOW + dt.timedelta(seconds=7), None, None)
    assert card.last_error == "rate limited" and card.locked_until is None

    assert deliver_due(sf, chat, now=NOW + dt.timedelta(seconds=6)) == {}
    assert deliver_due(sf, chat, now=NOW + dt.timedelta(seconds=7)) == {"delivered": 1}
    card = rows(sf)[0]
    assert card.delivered_at == NOW + dt.timedelta(seconds=7) and card.attempts == 1
    assert [s.destination for s in chat.transcript] == ["dm:Rita", "dm:Sam", HUB]


def test_errors_without_retry_after_back_off(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    submit(sf)
    chat = FakeChat(fail_next=[DeliveryError("Slack unreachable")])
    deliver_due(sf, chat, now=NOW)
    assert rows(sf)[0].next_attempt_at == NOW + dt.timedelta(seconds=5)  # back-off starts at 5 s
    chat.fail_next.append(DeliveryError("Slack unreachable"))
    assert deliver_due(sf, chat, now=NOW + dt.timedelta(seconds=5)) == {"retry": 1}
    card = rows(sf)[0]
    assert card.attempts == 2 and card.next_attempt_at == NOW + dt.timedelta(seconds=15)  # then 10 s


def test_permanent_errors_mark_failed(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    submit(sf)
    chat = FakeChat(fail_next=[DeliveryError("Slack said channel_not_found", permanent=True)])
    assert deliver_due(sf, chat, now=NOW) == {"failed": 1, "delivered": 2}
    card = rows(sf)[0]
    assert (card.failed_at, card.delivered_at, card.attempts) == (NOW, None, 1)
    assert card.last_error == "Slack said channel_not_found"
    # A failed message is never tried again.
    assert deliver_due(sf, chat, now=NOW + dt.timedelta(days=1)) == {}
    assert HUB not in [s.destination for s in chat.transcript]


def test_card_update_waits_for_the_card_post(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    use_case_id = submit(sf)
    chat = FakeChat(fail_next=[DeliveryError("rate limited", retry_after=60)])
    assert deliver_due(sf, chat, now=NOW) == {"retry": 1, "delivered": 2}  # the hub card is held back

    rita = make_actor(sf, "UREV", "Rita")
    later = NOW + dt.timedelta(seconds=10)
    with UnitOfWork(sf) as u:
        services.decide(u, rita, use_case_id, Decision.APPROVE, now=later)
    update = next(r for r in rows(sf) if r.operation == "update")
    assert update.ref_key == card_key(use_case_id, 1)

    # The update would edit only Rita's copy and miss the hub's: it waits for the hub card instead.
    assert deliver_due(sf, chat, now=later) == {"waiting": 1, "delivered": 1}  # the update; the outcome
    waiting = next(r for r in rows(sf) if r.id == update.id)
    assert waiting.delivered_at is None and waiting.attempts == 0
    assert waiting.next_attempt_at == later + WAIT_FOR_POST
    assert [s.operation for s in chat.transcript].count("update") == 0

    # Once the card is posted, the update edits every copy of it.
    assert deliver_due(sf, chat, now=NOW + dt.timedelta(seconds=60)) == {"delivered": 2}
    posted, *updates = chat.transcript[-3:]
    assert (posted.operation, posted.destination) == ("post", HUB)
    assert sorted((s.operation, s.destination) for s in updates) == [("update", "dm:Rita"), ("update", HUB)]
    assert all(s.notice.use_case.review.decision is Decision.APPROVE  # type: ignore[union-attr]
               for s in chat.transcript if s.operation == "update")


@pytest.fixture
def slack_api() -> Iterator[FakeSlack]:
    api = FakeSlack().start()
    try:
        yield api
    finally:
        api.stop()
        assert not api.invalid, api.invalid


def test_slack_rate_limit_is_retried_after_retry_after(session_factory: sessionmaker[Session],
                                                       slack_api: FakeSlack) -> None:
    sf = session_factory
    chat = SlackChat(build_client("xoxb-test", slack_api.base_url), "C_HUB")
    submit(sf)
    slack_api.rate_limit_next = 1

    assert deliver_due(sf, chat, now=NOW) == {"retry": 1, "delivered": 2}
    card = rows(sf)[0]
    assert card.attempts == 1 and "rate limited" in (card.last_error or "")
    assert card.next_attempt_at == NOW + dt.timedelta(seconds=1)  # Slack's Retry-After: 1
    assert deliver_due(sf, chat, now=NOW + dt.timedelta(milliseconds=999)) == {}
    assert deliver_due(sf, chat, now=NOW + dt.timedelta(seconds=1)) == {"delivered": 1}

    calls = [(c.method, c.params.get("channel")) for c in slack_api.calls if c.method.startswith("chat.")]
    assert calls == [("chat.postMessage:429", "C_HUB"), ("chat.postMessage", "UREV"), ("chat.postMessage", "USAM"),
                     ("chat.postMessage", "C_HUB")]
    assert "Forecast invoice volumes" in blocks_text(slack_api.of("chat.postMessage")[-1])
    assert all(r.delivered_at is not None for r in rows(sf))
    with sf() as s:
        assert {r.channel for r in s.scalars(select(MessageRef))} == {"C_HUB", "DREV"}
