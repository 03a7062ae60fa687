"""Forgetting a person (`hubspoke forget`): their personal data goes, the portfolio's history stays whole."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from intake import decisions, forget, hub, people, submission
from intake.errors import HubError, NotAllowed, NotFound
from intake.people import SYSTEM, PersonRef
from intake.schema import Decision, Submission
from storage.db import UnitOfWork
from storage.models import (
    AuditEvent,
    Evidence,
    ExpertAsk,
    Identity,
    OutboxMessage,
    Person,
    PersonSkill,
    Review,
    UseCase,
)
from tests.conftest import NOW
from tests.factories import ANSWERS, slack
from tests.test_audit_export import run_cli

PROBLEM = "Invoices wait days. Ask Rita Mora (rita@example.org) or <@URITA>; Margarita Moran runs the ERP."
KEPT_LINK = "https://wiki.example/invoices"
# Rita as the hub knows her: name, e-mail, Slack id, console name. None of them may be left anywhere.
TRACES = re.compile(r"\b(rita mora|rita@example\.org|urita|ritam)\b", re.IGNORECASE)


@pytest.fixture
def hub_people(session_factory: sessionmaker[Session]) -> dict[str, Any]:
    """Lee leads; Rita reviews (on Slack and the console, with an e-mail); Sam submitted two use cases that went
    to Rita: she asked for changes on the first (which names her), and holds the second."""
    sf = session_factory
    with UnitOfWork(sf) as u:
        lee = people.resolve_actor(u, slack("ULEE", "Lee"), leads=frozenset({"ULEE"}), now=NOW)[0]
    with UnitOfWork(sf) as u:
        hub.add_department(u, SYSTEM, "Support", now=NOW)
    with UnitOfWork(sf) as u:
        rita_id = hub.add_reviewer(u, SYSTEM, slack("URITA", "Rita"), skills=["nlp", "forecasting"], now=NOW).id
    with UnitOfWork(sf) as u:
        people.apply_profile(u, rita_id, "Rita Mora", "Europe/Madrid", "rita@example.org")
    with UnitOfWork(sf) as u:
        people.resolve_actor(u, PersonRef("console", "ritam"), now=NOW)
    with UnitOfWork(sf) as u:
        people.link_people(u, SYSTEM, slack("URITA"), PersonRef("console", "ritam"), now=NOW)
    with UnitOfWork(sf) as u:
        sam = people.resolve_actor(u, slack("USAM", "Sam"), now=NOW)[0]
    with UnitOfWork(sf) as u:
        rita = people.resolve_actor(u, slack("URITA"), now=NOW)[0]
    named = Submission.model_validate(
        {
            **ANSWERS,
            "title": "Invoice routing",
            "data_sensitivity": "personal",
            "problem": PROBLEM,
            "links": f"https://wiki.example/~ritam/notes {KEPT_LINK}",
        }
    )
    with UnitOfWork(sf) as u:
        first = submission.submit_use_case(u, sam, named, now=NOW).use_case.id
    with UnitOfWork(sf) as u:
        reason = "Rita Mora: needs a DPIA first."
        decisions.decide(u, rita, first, Decision.REQUEST_CHANGES, reason=reason, now=NOW)
    with UnitOfWork(sf) as u:
        second = submission.submit_use_case(
            u, sam, Submission.model_validate({**ANSWERS, "data_sensitivity": "personal"}), now=NOW
        )
    with UnitOfWork(sf) as u:
        u.session.add(ExpertAsk(person_id=rita.person_id, asker_id=sam.person_id, query="nlp", at=NOW))
        u.session.add(
            ExpertAsk(person_id=sam.person_id, asker_id=lee.person_id, query="who worked with Rita Mora", at=NOW)
        )
        sent = u.session.scalars(
            select(OutboxMessage).where(OutboxMessage.person_id == rita.person_id).order_by(OutboxMessage.id)
        ).first()
        assert sent is not None
        sent.delivered_at = NOW
        u.commit()
    assert rita.person_id == rita_id
    return {"lee": lee, "rita": rita, "sam": sam, "first": first, "second": second.use_case.id, "sent": sent.id}


def stored(sf: sessionmaker[Session]) -> dict[str, Any]:
    """Everything stored that could name Rita, as plain data."""
    with UnitOfWork(sf) as u:
        s = u.session
        return {
            "people": [(p.id, p.name, p.email, p.tz, p.is_reviewer, p.is_lead) for p in s.scalars(select(Person))],
            "identities": [(i.person_id, i.platform, i.external_id) for i in s.scalars(select(Identity))],
            "skills": [(k.person_id, k.skill) for k in s.scalars(select(PersonSkill))],
            "evidence": [(e.person_id, e.kind, e.text) for e in s.scalars(select(Evidence).order_by(Evidence.id))],
            "asks": [(a.person_id, a.query) for a in s.scalars(select(ExpertAsk).order_by(ExpertAsk.id))],
            "use_cases": [
                (c.title, c.problem, c.links, c.extra, c.triage_reasons)
                for c in s.scalars(select(UseCase).order_by(UseCase.id))
            ],
            "reviews": [(r.reason, r.submission, r.changes) for r in s.scalars(select(Review).order_by(Review.id))],
            "audit": [
                (a.action, a.actor_id, a.before, a.after) for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
            ],
            "outbox": [
                (m.id, m.person_id, m.payload, m.delivered_at, m.failed_at, m.last_error)
                for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            ],
        }


def traces(data: Any) -> list[str]:
    return TRACES.findall(json.dumps(data, ensure_ascii=False, default=str))


def test_a_forgotten_person_keeps_their_id_and_nothing_else_and_history_stays_whole(
    session_factory: sessionmaker[Session], hub_people: dict[str, Any]
) -> None:
    sf, who = session_factory, hub_people
    rita = who["rita"].person_id
    before = stored(sf)
    assert traces(before)  # she is named all over: the check below can fail
    queued = [m[0] for m in before["outbox"] if m[1] == rita and m[3] is None]
    assert len(queued) == 2

    with UnitOfWork(sf) as u:
        report = forget.forget_person(u, who["lee"], "rita@example.org", now=NOW)

    after = stored(sf)
    placeholder = f"Former member {rita}"
    assert (rita, placeholder, None, None, False, False) in after["people"]
    assert ("Sam" in {p[1] for p in after["people"]}) and len(after["people"]) == len(before["people"])
    assert [i for i in after["identities"] if i[0] == rita] == []
    assert [k for k in after["skills"] if k[0] == rita] == []
    assert [e for e in after["evidence"] if e[0] == rita] == []
    assert after["asks"] == [(who["sam"].person_id, f"who worked with {placeholder}")]
    assert traces(after) == []

    title, problem, links, _, _ = after["use_cases"][0]
    assert title == "Invoice routing"
    assert problem == (
        f"Invoices wait days. Ask {placeholder} ({placeholder}) or {placeholder}; Margarita Moran runs the ERP."
    )
    assert links == [KEPT_LINK]
    assert after["reviews"][0][0] == f"{placeholder}: needs a DPIA first."
    submitted = next(a for a in after["audit"] if a[0] == "submitted")
    assert submitted[3]["reviewer"]["id"] == rita
    assert (submitted[3]["reviewer"]["name"], submitted[3]["reviewer"]["handles"]) == (placeholder, {})
    assert submitted[3]["submitter"]["handles"] == {"slack": "USAM"}  # only she is forgotten
    assert [a[:3] for a in after["audit"]][:-1] == [a[:3] for a in before["audit"]]  # every event still there

    outbox = {m[0]: m for m in after["outbox"]}
    assert [(outbox[i][4], outbox[i][5]) for i in queued] == [(NOW, forget.FORGOTTEN)] * 2
    assert (outbox[who["sent"]][3], outbox[who["sent"]][4]) == (NOW, None)  # what was delivered stays delivered
    assert all(m[4] is None for m in after["outbox"] if m[1] != rita)

    forgotten = after["audit"][-1]
    assert forgotten[:3] == ("person_forgotten", who["lee"].person_id, None)
    assert forgotten[3] == {
        "person": rita,
        "removed": {"email": 1, "identities": 2, "skills": 2, "evidence": 3, "expert_asks": 1, "links": 1},
        "outbox_failed": 2,
        "rewritten": report.rewritten,
    }
    assert report.rewritten["use_cases"] == 1 and report.rewritten["reviews"] == 1
    assert report.rewritten["evidence"] == 1  # Sam's evidence quotes the use case that named her
    assert report.open_reviews == 1
    with UnitOfWork(sf) as u:
        assert hub.list_reviewers(u) == []  # nobody routes to her again


def test_a_dry_run_reports_the_same_and_writes_nothing(
    session_factory: sessionmaker[Session], hub_people: dict[str, Any]
) -> None:
    before = stored(session_factory)
    with UnitOfWork(session_factory) as u:
        preview = forget.forget_person(u, None, "slack:URITA", dry_run=True, now=NOW)
    assert stored(session_factory) == before
    assert preview.terms == ["rita@example.org", "Rita Mora", "URITA", "ritam"]

    with UnitOfWork(session_factory) as u:
        done = forget.forget_person(u, None, hub_people["rita"].person_id, now=NOW)
    assert dataclasses.replace(preview, dry_run=False) == done
    with UnitOfWork(session_factory) as u:
        forgotten = u.session.scalars(select(AuditEvent).where(AuditEvent.action == "person_forgotten")).one()
        actor_id = forgotten.actor_id
    assert actor_id is None  # the hub itself (the CLI)


def test_only_leads_forget_and_never_the_last_lead_nor_one_in_hub_leads(
    session_factory: sessionmaker[Session], hub_people: dict[str, Any]
) -> None:
    sf, who = session_factory, hub_people
    before = stored(sf)
    with UnitOfWork(sf) as u, pytest.raises(NotAllowed, match=r"Only hub leads can forget people\."):
        forget.forget_person(u, who["sam"], "slack:URITA", now=NOW)
    with UnitOfWork(sf) as u, pytest.raises(HubError) as last:
        forget.forget_person(u, who["lee"], "slack:ULEE", now=NOW)
    assert last.value.message == forget.LAST_LEAD
    with UnitOfWork(sf) as u, pytest.raises(HubError) as configured:
        forget.forget_person(u, None, "slack:URITA", configured=frozenset({"URITA"}), now=NOW)
    assert configured.value.message == forget.CONFIGURED_LEAD
    with UnitOfWork(sf) as u, pytest.raises(NotFound, match=r"Nobody has the e-mail nobody@example\.org\."):
        forget.forget_person(u, None, "Nobody@Example.org", now=NOW)
    assert stored(sf) == before


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("12", 12),
        (" Rita@Example.org ", forget.Email("rita@example.org")),
        ("slack:U123", PersonRef("slack", "U123")),
        ("teams:29:1ab", PersonRef("teams", "29:1ab")),
        ("console:42", PersonRef("console", "42")),
        ("U123", PersonRef("slack", "U123")),
    ],
)
def test_a_person_is_named_by_id_e_mail_or_platform_id(text: str, target: forget.Target) -> None:
    assert forget.target_from_text(text) == target


def test_cli_asks_first_then_prints_what_was_removed(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    database_url: str,
    session_factory: sessionmaker[Session],
    hub_people: dict[str, Any],
) -> None:
    rita = hub_people["rita"].person_id
    placeholder = f"Former member {rita}"
    before = stored(session_factory)
    assert run_cli(monkeypatch, tmp_path, database_url, "forget", "slack:URITA", stdin="n\n") == 1
    shown = capsys.readouterr()
    assert shown.out == ""
    assert shown.err.splitlines() == [
        f"Forgetting person {rita} does this, and cannot be undone:",
        f"  text matching 'rita@example.org', 'Rita Mora', 'URITA', 'ritam' becomes '{placeholder}'",
        "  removed: their e-mail, 2 platform ids, 2 declared skills, 3 evidence rows, 1 expert suggestion",
        "  2 queued messages to them marked failed",
        f"  their name, e-mail and platform ids replaced with '{placeholder}' in 4 audit events, 1 use case, "
        "1 review, 1 evidence row of others, 1 expert search, 8 messages",
        "  1 link naming them removed from use cases",
        "  1 open review still assigned to them: a lead reassigns them from the cards",
        "Go ahead? [y/N] Nothing was changed.",
    ]
    assert stored(session_factory) == before

    assert run_cli(monkeypatch, tmp_path, database_url, "forget", "rita@example.org", stdin="yes\n") == 0
    shown = capsys.readouterr()
    assert shown.out.splitlines() == [
        f"Forgot person {rita}: they are now '{placeholder}'.",
        "removed: their e-mail, 2 platform ids, 2 declared skills, 3 evidence rows, 1 expert suggestion",
        "2 queued messages to them marked failed",
        f"their name, e-mail and platform ids replaced with '{placeholder}' in 4 audit events, 1 use case, "
        "1 review, 1 evidence row of others, 1 expert search, 8 messages",
        "1 link naming them removed from use cases",
        "1 open review still assigned to them: a lead reassigns them from the cards",
    ]
    assert traces(stored(session_factory)) == []

    assert run_cli(monkeypatch, tmp_path, database_url, "forget", str(rita), "--yes") == 0
    assert capsys.readouterr().out.splitlines() == [
        f"Forgot person {rita}: they are now '{placeholder}'.",
        "removed: nothing (no personal data was left)",
        "1 open review still assigned to them: a lead reassigns them from the cards",
    ]


@pytest.mark.parametrize(
    ("person", "said", "status"),
    [
        ("slack:UNOBODY", "hubspoke: Nobody is known as slack:UNOBODY.", 2),
        ("999", "hubspoke: There is no person 999.", 2),
        ("slack:ULEE", f"hubspoke: {forget.LAST_LEAD}", 1),
    ],
)
def test_cli_refuses_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    database_url: str,
    session_factory: sessionmaker[Session],
    hub_people: dict[str, Any],
    person: str,
    said: str,
    status: int,
) -> None:
    before = stored(session_factory)
    assert run_cli(monkeypatch, tmp_path, database_url, "forget", person, "--yes") == status
    shown = capsys.readouterr()
    assert (shown.out, shown.err) == ("", said + "\n")
    assert stored(session_factory) == before
