"""Charts and exports reach Slack as files: uploaded (files_upload_v2) into the person's DM or the channel,
with the notice's words as the comment, and every failure a DeliveryError the outbox knows how to handle."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.charts import draw_portfolio
from bot.chat import DeliveryError, Posted, Recipient
from bot.outbox import deliver_due
from handlers.slack.chat import SlackChat, render
from intake.notices import HUB, Attachment, Files, PortfolioChart
from intake.portfolio import WeekFigure
from intake.read_models import jsonable
from intake.schema import Stage
from storage import repo
from storage.db import UnitOfWork
from tests.conftest import NOW, make_actor
from tests.fakes.slack_api import FakeSlack

SAM = Recipient(person_id=1, name="Sam", handles={"slack": "USAM"})
CSV = 'id,title,department\n12,"Invoice triage, phase 2",Finance\n13,Café rota <draft>,Operations\n'
AUDIT = "at,who,what\n2026-11-02T09:30:00Z,Rita,approved #12\n"


def chart(alt: str = "Finance: 2 ideation, 1 deployment; decisions: none yet") -> PortfolioChart:
    return PortfolioChart(
        title="Portfolio (Finance & <Ops>) on 2026-11-02",
        at=NOW,
        pipeline={"Finance": {Stage.IDEATION: 2, Stage.DEPLOYMENT: 1}, "Operations": {Stage.EXPERIMENTATION: 3}},
        trend=[WeekFigure(week=dt.date(2026, 10, 26), decisions=2, median_days=3.5)],
        alt=alt,
    )


def export() -> Files:
    return Files(
        text="Your export of 2 use cases and the audit trail",
        files=[
            Attachment(name="hubspoke-use-cases-2026-11-02.csv", content=CSV),
            Attachment(name="hubspoke-audit-2026-11-02.csv", content=AUDIT),
        ],
    )


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    api = FakeSlack().start()
    try:
        yield api
    finally:
        api.stop()
        assert not api.invalid, api.invalid


@pytest.fixture
def chat(fake: FakeSlack) -> SlackChat:
    return SlackChat(WebClient(base_url=fake.base_url, token="xoxb-test"), "C_HUB", post_interval=0)


def test_a_chart_for_a_person_is_a_png_uploaded_into_their_dm_with_title_and_alt_text(
    fake: FakeSlack, chat: SlackChat
) -> None:
    notice = chart()
    posted = chat.post(notice, to=SAM)

    assert [c.params["users"] for c in fake.of("conversations.open")] == ["USAM"]
    [(shared, png)] = fake.files_in("DSAM")
    assert posted == Posted(channel="DSAM", ts=shared["id"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert shared["title"] == notice.title  # a title is plain text: not escaped
    [url_call] = fake.of("files.getUploadURLExternal")
    assert url_call.params["alt_txt"] == notice.alt
    assert url_call.params["filename"] == draw_portfolio(notice).filename
    [complete] = fake.of("files.completeUploadExternal")
    comment = complete.params["initial_comment"]
    assert comment == f"*Portfolio (Finance &amp; &lt;Ops&gt;) on 2026-11-02*: {notice.alt}"
    assert not fake.of("chat.postMessage")  # the comment is the message: nothing is posted beside it


def test_a_chart_alt_text_is_clipped_to_slacks_1000_characters(fake: FakeSlack, chat: SlackChat) -> None:
    long_alt = "Finance: 2 ideation; " * 80  # 1680 characters
    chat.post(chart(alt=long_alt), to=SAM)

    alt = fake.of("files.getUploadURLExternal")[0].params["alt_txt"]
    assert len(alt) == 1000
    assert alt == long_alt[:999] + "…"


def test_an_export_uploads_every_csv_with_its_exact_content_in_one_share(fake: FakeSlack, chat: SlackChat) -> None:
    notice = export()
    posted = chat.post(notice, channel=HUB)

    shared = fake.files_in("C_HUB")
    assert [(f["title"], content) for f, content in shared] == [
        ("hubspoke-use-cases-2026-11-02.csv", CSV.encode()),
        ("hubspoke-audit-2026-11-02.csv", AUDIT.encode()),
    ]
    assert posted == Posted(channel="C_HUB", ts=shared[0][0]["id"])
    assert [c.params["filename"] for c in fake.of("files.getUploadURLExternal")] == [f.name for f in notice.files]
    [complete] = fake.of("files.completeUploadExternal")  # both files, one message
    assert complete.params["initial_comment"] == (
        "Your export of 2 use cases and the audit trail "
        "(hubspoke-use-cases-2026-11-02.csv, hubspoke-audit-2026-11-02.csv)"
    )
    assert not fake.of("conversations.open")  # a channel is already a conversation


def test_an_export_to_a_person_opens_their_dm_first(fake: FakeSlack, chat: SlackChat) -> None:
    posted = chat.post(export(), to=SAM)

    assert posted.channel == "DSAM"
    assert [f["title"] for f, _ in fake.files_in("DSAM")] == [f.name for f in export().files]


def test_the_fake_refuses_to_share_a_file_with_a_user_id_as_slack_does(fake: FakeSlack) -> None:
    client = WebClient(base_url=fake.base_url, token="xoxb-test")
    with pytest.raises(SlackApiError) as raised:
        client.files_upload_v2(content="a,b\n", filename="x.csv", channel="USAM")
    assert raised.value.response["error"] == "invalid_channel"


def test_a_429_on_complete_upload_is_a_delivery_error_with_slacks_retry_after(fake: FakeSlack, chat: SlackChat) -> None:
    fake.rate_limited["files.completeUploadExternal"] = 1

    with pytest.raises(DeliveryError) as raised:
        chat.post(export(), to=SAM)
    assert raised.value.retry_after == 7
    assert not raised.value.permanent
    assert fake.of("files.completeUploadExternal:429")

    chat.post(export(), to=SAM)  # the retry uploads again, with new upload URLs
    assert len(fake.files_in("DSAM")) == 2


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (503, False), (413, True)])
def test_a_failed_post_to_the_upload_url_is_a_delivery_error(
    fake: FakeSlack, chat: SlackChat, status: int, permanent: bool
) -> None:
    fake.upload_status = status

    with pytest.raises(DeliveryError) as raised:
        chat.post(chart(), channel=HUB)
    assert raised.value.permanent is permanent
    assert str(status) in str(raised.value)
    assert not fake.of("files.completeUploadExternal")  # nothing shared half-uploaded


def test_a_rate_limited_upload_url_gives_its_retry_after(fake: FakeSlack, chat: SlackChat) -> None:
    fake.upload_status = 429

    with pytest.raises(DeliveryError) as raised:
        chat.post(chart(), channel=HUB)
    assert raised.value.retry_after == 30  # it sent no Retry-After: Slack's usual pause
    assert not raised.value.permanent


def test_a_person_without_slack_gets_no_file_and_it_is_not_retried(fake: FakeSlack, chat: SlackChat) -> None:
    with pytest.raises(DeliveryError) as raised:
        chat.post(export(), to=Recipient(person_id=9, name="Vic"))
    assert raised.value.permanent
    assert not fake.of("files.getUploadURLExternal")


def test_an_upload_cannot_be_edited_later(chat: SlackChat) -> None:
    with pytest.raises(DeliveryError) as raised:
        chat.update(Posted(channel="DSAM", ts="F0001"), export())
    assert raised.value.permanent


def test_both_notices_render_as_valid_block_kit_for_surfaces_without_files() -> None:
    from tests.fakes.slack_api import validate_blocks

    for notice in (chart(), export()):
        text, body = render(notice)
        assert text.strip()
        assert body and not validate_blocks(body)
    assert "&lt;Ops&gt;" in render(chart())[1][0]["text"]["text"]


def test_the_outbox_delivers_an_export_to_a_person_as_files_in_their_dm(
    session_factory: sessionmaker[Session], fake: FakeSlack, chat: SlackChat
) -> None:
    sf = session_factory
    sam = make_actor(sf, "USAM", "Sam")
    with UnitOfWork(sf) as u:
        repo.enqueue(u.session, jsonable(export()), person_id=sam.person_id, at=NOW)
        u.commit()

    outcome = deliver_due(sf, chat, now=NOW)

    assert outcome == {"delivered": 2}  # the export, and reading Sam's Slack profile (queued when first seen)
    shared = fake.files_in("DSAM")
    assert [content for _, content in shared] == [CSV.encode(), AUDIT.encode()]
    assert json.loads(fake.of("files.completeUploadExternal")[0].params["files"])[0]["id"] == shared[0][0]["id"]
