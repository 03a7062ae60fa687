"""Blameless retros (issue 11): asked when a use case is deployed, rejected or closed and some weeks after
deployment; reminded once, never nagged; written once as a lesson on its status and in "who knows"; waived by leads;
and, like every message addressed to a person, delivered in the owner's working hours."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.core import Core
from bot.settings import Settings
from handlers.console.people import console_ref
from handlers.console.repl import run_console
from intake import decisions, hub, retros, stages, submission
from intake.errors import HubError, NotAllowed
from intake.people import apply_profile, resolve_actor
from intake.read_models import Actor
from intake.schema import Decision, Stage, Submission
from storage.db import UnitOfWork, configure_calendar, make_engine, make_session_factory
from storage.models import Evidence, OutboxMessage, Retro

NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)  # a Wednesday, 10:00 in London
SUBMISSION = {
    "title": "Invoice triage assistant",
    "problem": "Finance routes supplier invoices by hand.",
    "department": "Finance",
    "benefit": "Faster payment runs",
    "success_metric": "invoice routing time down 50%",
    "data_availability": "available",
    "data_sensitivity": "internal",
    "people_affected": "internal",
    "autonomy": "assistive",
}


@pytest.fixture
def hub_core(database_url: str, migrate: Callable[[str], None]) -> Iterator[tuple[Core, list[dt.datetime]]]:
    yield from new_hub(database_url, migrate)


def new_hub(database_url: str, migrate: Callable[[str], None]) -> Iterator[tuple[Core, list[dt.datetime]]]:
    """An empty hub on a migrated database, and the clock its core reads (set it to move time)."""
    migrate(database_url)
    engine = make_engine(database_url)
    clock = [NOW]
    settings = Settings(_env_file=None, database_url=database_url, hub_timezone="Europe/London")
    factory = make_session_factory(engine)
    core = Core(settings=settings, session_factory=factory, clock=lambda: clock[0])
    yield core, clock
    engine.dispose()


def person(core: Core, name: str, **kw: Any) -> Actor:
    return core.run(resolve_actor, console_ref(name), **kw)[0]


def setup_hub(core: Core) -> tuple[Actor, Actor, Actor]:
    lee = person(core, "Lee", first_is_lead=True)
    core.run(hub.add_department, lee, "Finance")
    core.run(hub.add_reviewer, lee, console_ref("Rita"), skills=["invoices"])
    return lee, person(core, "Rita"), person(core, "Sam")


def submitted(core: Core, sam: Actor, **over: Any) -> int:
    sub = Submission.model_validate({**SUBMISSION, **over, "data_sensitivity": "personal"})  # hub review
    return int(core.run(submission.submit_use_case, sam, sub).use_case.id)


@dataclass(frozen=True)
class Queued:
    person_id: int | None
    payload: dict[str, Any]
    created_at: dt.datetime
    next_attempt_at: dt.datetime


def prompts(core: Core) -> list[Queued]:
    """The retro prompts in the outbox, oldest first, as stored."""
    with UnitOfWork(core.session_factory) as u:
        rows = u.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [
            Queued(m.person_id, m.payload, m.created_at, m.next_attempt_at)
            for m in rows
            if m.payload.get("kind") == "retro_prompt"
        ]


def deployed(core: Core, sam: Actor, rita: Actor) -> int:
    use_case_id = submitted(core, sam)
    core.run(decisions.decide, rita, use_case_id, Decision.APPROVE)
    for stage in (Stage.EXPERIMENTATION, Stage.PRODUCTION_ENGINEERING, Stage.DEPLOYMENT):
        core.run(stages.move_stage, sam, use_case_id, stage)
    return use_case_id


def test_deploying_asks_the_owner_once_and_the_written_retro_is_a_lesson_on_status_and_in_who_knows(
    hub_core: tuple[Core, list[dt.datetime]], tmp_path: Path
) -> None:
    core, clock = hub_core
    _, rita, sam = setup_hub(core)
    use_case_id = deployed(core, sam, rita)
    asked = prompts(core)
    assert [(m.person_id, m.payload["trigger"], m.payload["why"]) for m in asked] == [
        (sam.person_id, "deployed", "it was deployed")
    ]
    core.run(stages.move_stage, sam, use_case_id, Stage.MONITORING)
    assert len(prompts(core)) == 1  # one retro waits: not asked again

    clock[0] = NOW + dt.timedelta(days=1)
    script = (
        f"/usecase retro {use_case_id}\n"
        "Routing rules from the ERP's vendor master caught most invoices.\n"
        "\n"  # what didn't: empty, refused, asked again
        "Scanned PDFs from two suppliers defeated the OCR.\n"
        "Start the supplier onboarding survey in week one.\n"
        "routing time down 41%\n"
        "2\n"  # partly met its target
        f"/usecase status {use_case_id}\n"
        f"/usecase retro {use_case_id}\n"
        "/whoknows scanned pdf ocr\n"
    )
    out = io.StringIO()
    assert run_console(core, io.StringIO(script), out, name="Sam", interactive=False, files_dir=tmp_path) == 0
    text = out.getvalue()
    assert "A blameless retro on #1 Invoice triage assistant, now that it was deployed" in text
    assert "(Set at intake: invoice routing time down 50%)" in text
    assert "! Please fill this in." in text
    assert "Thank you: the retro on #1 Invoice triage assistant is saved as a lesson." in text
    assert "Retro by Sam on Thu 3 Dec 2026" in text and "the success metric partly met its target" in text
    assert "What didn't" in text and "> Scanned PDFs from two suppliers defeated the OCR." in text
    assert "#1's retro was already written by Sam on 03 Dec 2026" in text

    with UnitOfWork(core.session_factory) as u:
        retro = u.session.scalar(select(Retro))
        assert retro is not None and retro.metric_met == "partly" and retro.done_by_id == sam.person_id
        kinds = {(e.person_id, e.kind) for e in u.session.scalars(select(Evidence).where(Evidence.kind == "retro"))}
    assert kinds == {(sam.person_id, "retro"), (rita.person_id, "retro")}  # the owner and the reviewer who decided
    who_knows = text.rpartition("/whoknows")[2] if "/whoknows" in text else text.rpartition("already written")[2]
    assert "Sam" in who_knows and "Retro" in who_knows, who_knows


def test_a_retro_is_reminded_once_and_followed_up_weeks_after_deployment(
    hub_core: tuple[Core, list[dt.datetime]],
) -> None:
    core, clock = hub_core
    _, rita, sam = setup_hub(core)
    deployed(core, sam, rita)
    remind = {"followup_after": dt.timedelta(weeks=6), "remind_after": dt.timedelta(days=7)}
    clock[0] = NOW + dt.timedelta(days=3)
    assert core.run(retros.remind, **remind) == {"followups": 0, "reminded": 0}
    clock[0] = NOW + dt.timedelta(days=8)
    assert core.run(retros.remind, **remind) == {"followups": 0, "reminded": 1}
    assert core.run(retros.remind, **remind) == {"followups": 0, "reminded": 0}  # never nagged
    assert [m.payload["reminder"] for m in prompts(core)] == [False, True]

    clock[0] = NOW + dt.timedelta(weeks=7)  # the first was never written: the follow-up waits for it
    assert core.run(retros.remind, **remind) == {"followups": 0, "reminded": 0}
    with UnitOfWork(core.session_factory) as u:
        first = u.session.scalar(select(Retro))
        assert first is not None
        first.waived_at = clock[0]
        u.commit()
    assert core.run(retros.remind, **remind) == {"followups": 1, "reminded": 0}
    assert [m.payload["trigger"] for m in prompts(core)] == ["deployed", "deployed", "followup"]
    assert prompts(core)[-1].payload["why"] == "it has been in use for a while"


def test_rejection_and_closing_ask_for_a_retro_and_only_a_lead_may_waive_one(
    hub_core: tuple[Core, list[dt.datetime]],
) -> None:
    core, _ = hub_core
    lee, rita, sam = setup_hub(core)
    rejected = submitted(core, sam)
    core.run(decisions.decide, rita, rejected, Decision.REJECT, reason="The ERP vendor ships this next quarter.")
    assert [m.payload["trigger"] for m in prompts(core)] == ["rejected"]
    with pytest.raises(NotAllowed, match="Only a hub lead can waive a retro"):
        core.run(retros.waive_retro, sam, rejected, "")
    core.run(retros.waive_retro, lee, rejected, "Nothing built: nothing to learn from.")
    with pytest.raises(HubError, match="No retro is waiting on #1"):
        core.run(retros.waive_retro, lee, rejected, "")
    with pytest.raises(HubError, match="No retro is asked of #1 now"):
        core.read(retros.open_retro, sam, rejected)

    from intake import closing

    waiting = submitted(core, sam, title="Supplier email classifier")
    core.run(closing.close_use_case, sam, waiting, "Procurement took it on.")
    assert [m.payload["trigger"] for m in prompts(core)] == ["rejected"]  # nothing was tried: nothing to learn yet
    other = submitted(core, sam, title="Contract clause finder")
    core.run(decisions.decide, rita, other, Decision.APPROVE)
    core.run(stages.move_stage, sam, other, Stage.EXPERIMENTATION)
    core.run(closing.close_use_case, sam, other, "Legal bought a tool instead.")
    assert [m.payload["trigger"] for m in prompts(core)] == ["rejected", "closed"]
    with pytest.raises(NotAllowed, match="Only the owner of #3 \\(Sam\\) or a hub lead can write its retro"):
        core.read(retros.open_retro, rita, other)


def test_a_retro_prompt_waits_for_the_owners_working_hours_in_their_own_time_zone(
    hub_core: tuple[Core, list[dt.datetime]],
) -> None:
    core, clock = hub_core
    configure_calendar(core.session_factory, core.settings)
    _, rita, sam = setup_hub(core)
    with UnitOfWork(core.session_factory) as u:
        apply_profile(u, sam.person_id, "Sam", "America/New_York")  # as Slack's profile says
    use_case_id = submitted(core, sam)
    clock[0] = dt.datetime(2026, 12, 2, 22, 0, tzinfo=dt.UTC)  # 17:00 in New York: after Sam's working day
    core.run(decisions.decide, rita, use_case_id, Decision.REJECT, reason="Not this year.")
    (prompt,) = prompts(core)
    assert prompt.created_at == clock[0]
    assert prompt.next_attempt_at == dt.datetime(2026, 12, 3, 14, 0, tzinfo=dt.UTC)  # Thursday 09:00 in New York


def test_an_imported_use_case_is_not_asked_for_a_retro(hub_core: tuple[Core, list[dt.datetime]]) -> None:
    core, _ = hub_core
    setup_hub(core)
    with UnitOfWork(core.session_factory) as u:
        from storage.models import UseCase

        uc_id = submitted(core, person(core, "Ana"))
        uc = u.session.get(UseCase, uc_id)
        assert uc is not None
        uc.source_id, uc.source = "DOC:42", "omb-2025"  # as a register import leaves it
        u.commit()
    before = len(prompts(core))
    core.run(decisions.decide, person(core, "Rita"), uc_id, Decision.REJECT, reason="Duplicate of the ERP module.")
    assert len(prompts(core)) == before
