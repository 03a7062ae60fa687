"""Imported use cases are expertise too: their owners own them (`owned` evidence), rebuilt like the rest."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.expertise.index import ExpertiseIndex
from bot.expertise.models import ExpertResult
from handlers.console.whoknows import render_experts
from intake import stages
from intake.register import IMPORTER_NAME, build_mapping, import_register, read_table
from intake.schema import Stage
from storage import evidence
from storage.db import UnitOfWork
from storage.models import Evidence, Person, UseCase
from tests.conftest import NOW, make_actor

UowFactory = Callable[[], UnitOfWork]

HEADER = ["Ref", "Name", "Team", "Phase", "Why"]
MAP = ["title=Name", "department=Team", "stage=Phase", "problem=Why"]
FLOOD = ["R-1", "Flood risk model", "Environment", "deployment", "Predict river flooding from rainfall gauges"]
CHURN = ["R-2", "Churn prediction", "Customer Care", "Pilot", "Spot customers likely to leave"]
DROUGHT = ["R-3", "Drought risk alerts", "Environment", "Pilot", "Warn farmers of flood and drought risk"]


def import_rows(uow: UowFactory, tmp_path: Path, *rows: list[str]) -> dict[str, int]:
    """Import a register as `hubspoke import usecases` does; its use case ids by register id."""
    path = tmp_path / "register.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    mapping = build_mapping(None, MAP, id_column="Ref", default_source="register")
    with uow() as u:
        import_register(u, read_table(path), mapping, now=NOW, file_name=path.name)
    with uow() as u:
        return {uc.source_id or "": uc.id for uc in u.session.scalars(select(UseCase))}


def hand_to(uow: UowFactory, use_case_id: int, person_id: int) -> None:
    """The register's owner column names this person (what the importer will store as the submitter)."""
    with uow() as u:
        u.session.execute(update(UseCase).where(UseCase.id == use_case_id).values(submitter_id=person_id))
        u.commit()


def own(uow: UowFactory, ids: list[int]) -> int:
    with uow() as u:
        written = evidence.for_imported(u.session, ids, NOW)
        u.commit()
    return written


def rows(uow: UowFactory) -> list[tuple[str, int, int | None]]:
    """(kind, person, use case) of every evidence row, in key order."""
    with uow() as u:
        found = u.session.scalars(select(Evidence).order_by(Evidence.source_key))
        return [(e.kind, e.person_id, e.use_case_id) for e in found]


def ask(uow: UowFactory, query: str) -> ExpertResult:
    with uow() as u:
        return ExpertiseIndex().find_experts(u, query, record_asks=False, now=NOW)


def test_the_owner_of_an_imported_use_case_is_found_for_its_words(
    uow: UowFactory, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ids = import_rows(uow, tmp_path, FLOOD, CHURN)
    ana = make_actor(session_factory, "UANA", "Ana")
    hand_to(uow, ids["R-1"], ana.person_id)
    assert own(uow, list(ids.values())) == 1  # the churn model is still the stand-in's: nobody to ask
    result = ask(uow, "flood risk")
    [expert] = result.experts
    assert (expert.name, expert.kinds) == ("Ana", {"owned": 1})
    assert expert.evidence[0].label == f"Owns use case #{ids['R-1']}: Flood risk model"
    assert ask(uow, "churn").experts == []


def test_owning_counts_like_building_once_built_and_like_submitting_before(
    uow: UowFactory, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ids = import_rows(uow, tmp_path, FLOOD, DROUGHT)
    ana = make_actor(session_factory, "UANA", "Ana")  # owns the flood model, in deployment
    cho = make_actor(session_factory, "UCHO", "Cho")  # owns the drought alerts, a pilot
    hand_to(uow, ids["R-1"], ana.person_id)
    hand_to(uow, ids["R-3"], cho.person_id)
    own(uow, [ids["R-1"], ids["R-3"]])
    builder = make_actor(session_factory, "UBOB", "Bob")
    proposer = make_actor(session_factory, "UPIA", "Pia")
    with uow() as u:  # the same words, built by Bob and proposed by Pia
        for person, kind, uc_id in ((builder, "built", ids["R-1"]), (proposer, "submitted", ids["R-3"])):
            uc = u.session.get(UseCase, uc_id)
            assert uc is not None
            evidence.record(
                u.session,
                person_id=person.person_id,
                kind=kind,
                text=evidence.use_case_text(uc),
                tags=[uc.department.name],
                source_key=f"t:{kind}",
                at=NOW,
            )
        u.commit()

    def scores(query: str) -> dict[str, float]:
        return {e.name: round(e.evidence[0].score, 6) for e in ask(uow, query).experts}

    flood = scores("flood model rainfall gauges")
    assert flood["Ana"] == flood["Bob"] > 0
    drought = scores("drought alerts farmers")
    assert drought["Cho"] == drought["Pia"] > 0

    with uow() as u:  # Cho's pilot reaches production engineering: now she has built it
        stages.move_stage(
            u, make_actor(session_factory, "UCHO", "Cho"), ids["R-3"], Stage.PRODUCTION_ENGINEERING, now=NOW
        )
    assert [r for r in rows(uow) if r[1] == cho.person_id] == [("owned", cho.person_id, ids["R-3"])]
    drought = scores("drought alerts farmers")
    assert drought["Cho"] > drought["Pia"]
    assert drought["Cho"] / drought["Pia"] == pytest.approx(1.5 / 1.0, rel=1e-4)  # built's weight over submitted's


def test_never_for_the_stand_in_and_writing_again_changes_nothing(
    uow: UowFactory, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ids = import_rows(uow, tmp_path, FLOOD)
    with uow() as u:
        uc = u.session.get(UseCase, ids["R-1"])
        assert uc is not None and uc.submitter.name == IMPORTER_NAME
    assert own(uow, [ids["R-1"]]) == 0
    assert rows(uow) == []

    ana = make_actor(session_factory, "UANA", "Ana")
    hand_to(uow, ids["R-1"], ana.person_id)
    assert own(uow, [ids["R-1"], ids["R-1"], 999_999]) == 1  # repeats and unknown ids are ignored
    assert own(uow, [ids["R-1"]]) == 0
    assert rows(uow) == [("owned", ana.person_id, ids["R-1"])]

    ben = make_actor(session_factory, "UBEN", "Ben")  # the register now names Ben as the owner
    hand_to(uow, ids["R-1"], ben.person_id)
    assert own(uow, [ids["R-1"]]) == 2  # Ana's row removed, Ben's written
    assert rows(uow) == [("owned", ben.person_id, ids["R-1"])]
    assert [e.name for e in ask(uow, "flood risk").experts] == ["Ben"]


def test_rebuilding_derives_owned_evidence_for_imported_use_cases(
    uow: UowFactory, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ids = import_rows(uow, tmp_path, FLOOD, CHURN)
    ana = make_actor(session_factory, "UANA", "Ana")
    hand_to(uow, ids["R-1"], ana.person_id)
    with uow() as u:
        stand_in = u.session.scalar(select(Person.id).where(Person.name == IMPORTER_NAME))
    for _ in range(2):
        with uow() as u:
            evidence.rederive(u.session, NOW)
            u.commit()
        assert rows(uow) == [("owned", ana.person_id, ids["R-1"])]  # nothing for the stand-in's churn model
    assert stand_in is not None and stand_in not in {r[1] for r in rows(uow)}


def test_related_use_cases_come_from_the_whole_register(
    uow: UowFactory, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ids = import_rows(uow, tmp_path, FLOOD, DROUGHT, CHURN)
    ana = make_actor(session_factory, "UANA", "Ana")
    hand_to(uow, ids["R-1"], ana.person_id)  # the drought alerts stay with the stand-in: nobody to ask
    own(uow, list(ids.values()))
    result = ask(uow, "flood risk")
    assert [e.name for e in result.experts] == ["Ana"]
    assert [(r.id, r.owner_name) for r in result.related_use_cases] == [
        (ids["R-1"], "Ana"),
        (ids["R-3"], IMPORTER_NAME),
    ]
    shown = render_experts(result, NOW).lines
    assert f"   #{ids['R-1']} Flood risk model: Deployment · Approved" in shown
    assert f"   #{ids['R-3']} Drought risk alerts: Experimentation · Approved" in shown
    assert not any("Churn" in line for line in shown)
