"""Outbox delivery: leases per claim, one conversation at a time, shared rate-limit pauses, permanent errors,
card copies remembered per message, and several workers that never send a message twice."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.chat import DeliveryError, FakeChat, Profile
from bot.outbox import LEASE, MAX_ATTEMPTS, OutboxWorker, claims, deliver_due
from handlers.slack.app import build_client
from handlers.slack.chat import SlackChat
from intake import decisions, hub, people, submission
from intake.notices import HUB, BusFactorNotice, card_key
from intake.people import SYSTEM
from intake.read_models import PersonView, jsonable
from intake.schema import Decision, Submission
from storage import repo
from storage.db import UnitOfWork
from storage.models import DeliveryPause, MessageRef, OutboxMessage, Person
from tests.conftest import NOW, make_actor
from tests.factories import slack
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
        hub.add_reviewer(u, SYSTEM, slack("UREV", "Rita"), skills=["forecasting"], now=now)
    spoke = make_actor(sf, "USAM", "Sam")
    with UnitOfWork(sf) as u:
        return submission.submit_use_case(u, spoke, SUBMISSION, now=now).use_case.id


def notices(sf: sessionmaker[Session], channels: int, per_channel: int) -> None:
    """`per_channel` numbered notices to each of `channels` channels (topic "C<channel>#<n>")."""
    expert = PersonView(id=1, name="Rita")
    with UnitOfWork(sf) as u:
        for n in range(per_channel):
            for c in range(channels):
                payload = jsonable(BusFactorNotice(topic=f"C{c}#{n}", expert=expert))
                repo.enqueue(u.session, payload, channel=f"C{c}", at=NOW)
        u.commit()


def rows(sf: sessionmaker[Session]) -> list[OutboxMessage]:
    with sf() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def card_rows(sf: sessionmaker[Session]) -> list[OutboxMessage]:
    return [r for r in rows(sf) if r.operation in ("post", "update")]


def deliver_all(sf: sessionmaker[Session], chat: FakeChat, now: dt.datetime = NOW) -> dict[str, int]:
    return deliver_due(sf, chat, now=now)


def test_delivered_messages_are_marked_delivered(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    use_case_id = submit(sf)
    chat = FakeChat()
    # Three notices, and reading the two new people's Slack profiles (durable work, done by the same worker).
    assert deliver_all(sf, chat) == {"delivered": 5}
    assert [(s.operation, s.destination, s.notice.kind) for s in chat.transcript] == [
        ("post", HUB, "review_card"), ("post", "dm:Rita", "review_card"), ("post", "dm:Sam", "receipt"),
    ]
    assert all(r.delivered_at == NOW and r.attempts == 0 and r.locked_until is None and r.lease_owner is None
               for r in rows(sf))
    with sf() as s:
        refs = s.scalars(select(MessageRef).order_by(MessageRef.id)).all()
        assert [(r.ref_key, r.channel) for r in refs] == [(card_key(use_case_id, 1), HUB),
                                                          (card_key(use_case_id, 1), "dm:Rita")]
    # Nothing is sent twice.
    assert deliver_all(sf, chat, NOW + dt.timedelta(hours=1)) == {}
    assert len(chat.transcript) == 3


def test_a_429_pauses_that_method_for_every_message_until_retry_after(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    submit(sf)
    chat = FakeChat(fail_next=[DeliveryError("rate limited", retry_after=7)])
    # The hub card meets the 429; the other posts wait too (Slack punishes apps that keep calling), the
    # profile reads (another method) go on.
    assert deliver_all(sf, chat) == {"paused": 1, "delivered": 2}
    with sf() as s:
        pause = s.scalars(select(DeliveryPause)).one()
    assert (pause.bucket, pause.until) == ("slack:post", NOW + dt.timedelta(seconds=7))
    card = card_rows(sf)[0]
    assert (card.attempts, card.next_attempt_at, card.delivered_at, card.failed_at) == (
        0, NOW + dt.timedelta(seconds=7), None, None)  # a pause is not a failed attempt
    assert chat.transcript == []

    # A second deliverer (deliver_due takes a new lease owner each pass) respects the same pause.
    assert deliver_all(sf, chat, NOW + dt.timedelta(seconds=6)) == {}
    assert all(r.delivered_at is None and r.locked_until is None for r in card_rows(sf))
    assert deliver_all(sf, chat, NOW + dt.timedelta(seconds=7)) == {"delivered": 3}
    assert [s.destination for s in chat.transcript] == [HUB, "dm:Rita", "dm:Sam"]


def test_errors_without_retry_after_back_off(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    submit(sf)
    chat = FakeChat(fail_next=[DeliveryError("Slack unreachable")])
    assert deliver_all(sf, chat) == {"retry": 1, "delivered": 4}
    assert card_rows(sf)[0].next_attempt_at == NOW + dt.timedelta(seconds=5)  # back-off starts at 5 s
    chat.fail_next.append(DeliveryError("Slack unreachable"))
    assert deliver_all(sf, chat, NOW + dt.timedelta(seconds=5)) == {"retry": 1}
    card = card_rows(sf)[0]
    assert card.attempts == 2 and card.next_attempt_at == NOW + dt.timedelta(seconds=15)  # then 10 s


def test_permanent_errors_mark_failed(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    submit(sf)
    chat = FakeChat(fail_next=[DeliveryError("Slack said channel_not_found", permanent=True)])
    assert deliver_all(sf, chat) == {"failed": 1, "delivered": 4}
    card = card_rows(sf)[0]
    assert (card.failed_at, card.delivered_at, card.attempts) == (NOW, None, 1)
    assert card.last_error == "Slack said channel_not_found"
    # A failed message is never tried again.
    assert deliver_all(sf, chat, NOW + dt.timedelta(days=1)) == {}
    assert HUB not in [s.destination for s in chat.transcript]


def test_card_update_waits_for_the_card_post(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    use_case_id = submit(sf)
    chat = FakeChat(fail_next=[DeliveryError("Slack unreachable")])
    assert deliver_all(sf, chat) == {"retry": 1, "delivered": 4}  # the hub card is held back 5 s

    rita = make_actor(sf, "UREV", "Rita")
    later = NOW + dt.timedelta(seconds=2)
    with UnitOfWork(sf) as u:
        decisions.decide(u, rita, use_case_id, Decision.APPROVE, now=later)
    update = next(r for r in rows(sf) if r.operation == "update")
    assert update.ref_key == card_key(use_case_id, 1)

    # The update would edit only Rita's copy and miss the hub's: it is not even claimed until the card is out.
    assert deliver_all(sf, chat, later) == {"delivered": 1}  # the outcome
    assert next(r for r in rows(sf) if r.id == update.id).delivered_at is None
    assert [s.operation for s in chat.transcript].count("update") == 0

    # Once the card is posted, the update edits every copy of it.
    assert deliver_all(sf, chat, NOW + dt.timedelta(seconds=5)) == {"delivered": 2}
    posted, *updates = chat.transcript[-3:]
    assert (posted.operation, posted.destination) == ("post", HUB)
    assert sorted((s.operation, s.destination) for s in updates) == [("update", "dm:Rita"), ("update", HUB)]
    assert all(s.notice.use_case.review.decision is Decision.APPROVE  # type: ignore[union-attr]
               for s in chat.transcript if s.operation == "update")


def test_reassigning_back_to_an_earlier_reviewer_keeps_and_updates_every_copy(
    session_factory: sessionmaker[Session],
) -> None:
    sf = session_factory
    use_case_id = submit(sf)
    with UnitOfWork(sf) as u:
        hub.add_reviewer(u, SYSTEM, slack("UOMAR", "Omar"), skills=[], now=NOW)
    rita, omar = (hub_person(sf, "UREV"), hub_person(sf, "UOMAR"))
    lead = make_actor(sf, "ULEAD", "Lee")
    chat = FakeChat()
    deliver_all(sf, chat)
    for step, target in enumerate((omar, rita), start=1):  # Rita -> Omar -> Rita
        with UnitOfWork(sf) as u:
            decisions.assign_reviewer(u, lead, use_case_id, target, now=NOW + dt.timedelta(minutes=step))
        deliver_all(sf, chat, NOW + dt.timedelta(minutes=step))
    with UnitOfWork(sf) as u:
        decisions.decide(u, make_actor(sf, "UREV", "Rita"), use_case_id, Decision.APPROVE,
                        now=NOW + dt.timedelta(minutes=5))
    assert deliver_all(sf, chat, NOW + dt.timedelta(minutes=5)) == {"delivered": 2}  # update, outcome

    with sf() as s:
        refs = s.scalars(select(MessageRef).where(MessageRef.ref_key == card_key(use_case_id, 1))).all()
    assert Counter(r.channel for r in refs) == {HUB: 1, "dm:Rita": 2, "dm:Omar": 1}
    final = [s for s in chat.transcript if s.operation == "update"][-4:]
    assert Counter(s.destination for s in final) == {HUB: 1, "dm:Rita": 2, "dm:Omar": 1}
    assert all(s.notice.use_case.review.decision is Decision.APPROVE for s in final)  # type: ignore[union-attr]
    assert all(r.delivered_at is not None for r in rows(sf))  # nothing left to re-send, nothing failed
    # Each DM was sent once: Rita's first card, Omar's, Rita's second.
    dms = [s.destination for s in chat.transcript if s.operation == "post" and s.notice.kind == "review_card"]
    assert dms == [HUB, "dm:Rita", "dm:Omar", "dm:Rita"]


def hub_person(sf: sessionmaker[Session], slack_id: str) -> int:
    with UnitOfWork(sf) as u:
        person_id = people.person_id_for(u, slack(slack_id))
    assert person_id is not None
    return person_id


def test_a_failure_after_the_send_is_recorded_and_counts_toward_the_limit(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    sf = session_factory
    notices(sf, channels=1, per_channel=1)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("cannot store the result")

    monkeypatch.setattr(claims, "record_delivered", broken)
    chat = FakeChat()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        at = NOW + dt.timedelta(days=attempt)
        assert deliver_all(sf, chat, at) == {"failed" if attempt == MAX_ATTEMPTS else "retry": 1}
        assert rows(sf)[0].attempts == attempt
    assert rows(sf)[0].failed_at is not None and "recording failed" in (rows(sf)[0].last_error or "")
    assert deliver_all(sf, chat, NOW + dt.timedelta(days=60)) == {}  # never again: no endless re-sending
    assert len(chat.transcript) == MAX_ATTEMPTS


def test_a_claim_is_a_lease_taken_when_claimed_renewed_and_released(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    notices(sf, channels=2, per_channel=1)
    first, second = (r.id for r in rows(sf))
    t = NOW + dt.timedelta(minutes=3)
    assert claims.claim(sf, platform="slack", owner="a", now=t) == [(first, None)]
    assert rows(sf)[0].locked_until == t + LEASE and rows(sf)[0].lease_owner == "a"
    # Another worker, a moment before the lease ends, gets the other conversation's message, not this one.
    assert claims.claim(sf, platform="slack", owner="b", now=t + LEASE - dt.timedelta(seconds=1)) == [(second, None)]
    assert claims.claim(sf, platform="slack", owner="c", now=t + LEASE - dt.timedelta(seconds=1)) == []
    # The holder renews it; only the holder can record the result.
    assert claims.renew(sf, [first], "a", t + dt.timedelta(seconds=20)) == 1
    assert rows(sf)[0].locked_until == t + dt.timedelta(seconds=20) + LEASE
    assert claims.renew(sf, [first], "b", t + dt.timedelta(seconds=20)) == 0
    claims.record_delivered(sf, first, "b", t)  # not b's lease: nothing recorded
    assert rows(sf)[0].delivered_at is None
    claims.record_delivered(sf, first, "a", t + dt.timedelta(seconds=21))
    assert (rows(sf)[0].delivered_at, rows(sf)[0].locked_until, rows(sf)[0].lease_owner) == (
        t + dt.timedelta(seconds=21), None, None)


def test_one_conversation_gets_its_messages_in_order_and_paced(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    notices(sf, channels=1, per_channel=3)
    chat = FakeChat(post_interval=1.0)
    assert deliver_all(sf, chat) == {"delivered": 1}
    assert deliver_all(sf, chat, NOW + dt.timedelta(milliseconds=999)) == {}
    assert deliver_all(sf, chat, NOW + dt.timedelta(seconds=1)) == {"delivered": 1}
    assert deliver_all(sf, chat, NOW + dt.timedelta(seconds=2)) == {"delivered": 1}
    assert [s.notice.topic for s in chat.transcript] == ["C0#0", "C0#1", "C0#2"]  # type: ignore[union-attr]


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> dt.timedelta:
    """Leases of 0.6 s, so a test can hold sends longer than a lease."""
    lease = dt.timedelta(seconds=0.6)
    monkeypatch.setattr(claims, "LEASE", lease)
    return lease


def run_workers(sf: sessionmaker[Session], chat: FakeChat, count: int, concurrency: int, expect: int) -> None:
    workers = [OutboxWorker(sf, chat, concurrency=concurrency, interval=0.05) for _ in range(count)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and sum(r.delivered_at is not None for r in rows(sf)) < expect:
            time.sleep(0.05)
    finally:
        for w in workers:
            w.stop()


def test_two_workers_with_slow_sends_longer_than_a_lease_send_each_message_once(
    session_factory: sessionmaker[Session], short_lease: dt.timedelta
) -> None:
    sf = session_factory
    notices(sf, channels=6, per_channel=3)
    chat = FakeChat(delay=1.0)  # every send outlasts the 0.6 s lease: only renewal keeps it
    run_workers(sf, chat, count=2, concurrency=3, expect=18)
    sent = Counter(s.notice.topic for s in chat.transcript)  # type: ignore[union-attr]
    assert len(sent) == 18 and set(sent.values()) == {1}, f"duplicated: {[t for t, n in sent.items() if n > 1]}"
    assert all(r.delivered_at is not None and r.lease_owner is None for r in rows(sf))
    for c in range(6):  # and each channel in the order written
        order = [s.notice.topic for s in chat.transcript if s.destination == f"C{c}"]  # type: ignore[union-attr]
        assert order == [f"C{c}#0", f"C{c}#1", f"C{c}#2"]


def test_different_conversations_are_sent_concurrently(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    notices(sf, channels=8, per_channel=1)
    chat = FakeChat(delay=0.3)
    run_workers(sf, chat, count=1, concurrency=4, expect=8)
    assert len(chat.transcript) == 8 and chat.max_in_flight == 4


def test_a_new_persons_profile_is_read_as_durable_work(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    rita = make_actor(sf, "UREV", "rita")
    (task,) = rows(sf)
    assert (task.operation, task.person_id, task.delivered_at) == ("profile", rita.person_id, None)
    chat = FakeChat(profiles={rita.person_id: Profile(name="Rita Ng", tz="Europe/Berlin")})
    assert deliver_all(sf, chat) == {"delivered": 1}
    with sf() as s:
        person = s.get(Person, rita.person_id)
        assert person is not None and (person.name, person.tz) == ("Rita Ng", "Europe/Berlin")


@pytest.fixture
def slack_api() -> Iterator[FakeSlack]:
    api = FakeSlack().start()
    try:
        yield api
    finally:
        api.stop()
        assert not api.invalid, api.invalid


def test_slack_429_pauses_chat_post_message(session_factory: sessionmaker[Session], slack_api: FakeSlack) -> None:
    sf = session_factory
    chat = SlackChat(build_client("xoxb-test", slack_api.base_url), "C_HUB", post_interval=0)
    submit(sf)
    slack_api.rate_limit_next = 1

    assert deliver_due(sf, chat, now=NOW) == {"paused": 1, "delivered": 2}  # two users.info calls go on
    with sf() as s:
        assert s.scalars(select(DeliveryPause.bucket)).one() == "slack:chat.postMessage"
    assert card_rows(sf)[0].next_attempt_at == NOW + dt.timedelta(seconds=1)  # Slack's Retry-After: 1
    assert deliver_due(sf, chat, now=NOW + dt.timedelta(milliseconds=999)) == {}
    assert deliver_due(sf, chat, now=NOW + dt.timedelta(seconds=1)) == {"delivered": 3}

    calls = [(c.method, c.params.get("channel")) for c in slack_api.calls if c.method.startswith("chat.")]
    assert calls == [("chat.postMessage:429", "C_HUB"), ("chat.postMessage", "C_HUB"), ("chat.postMessage", "UREV"),
                     ("chat.postMessage", "USAM")]
    assert "Forecast invoice volumes" in blocks_text(slack_api.of("chat.postMessage")[0])
    assert all(r.delivered_at is not None for r in rows(sf))
    with sf() as s:
        assert {r.channel for r in s.scalars(select(MessageRef))} == {"C_HUB", "DREV"}
