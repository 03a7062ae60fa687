"""SQLAlchemy 2.x typed models. Choices are stored as short strings (see intake.schema)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime, Vector, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(80), unique=True)  # case-folded name, for lookups
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    channel: Mapped[str | None] = mapped_column(String(120))  # where its own digest goes, if it has one


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    # Case-folded; people with the same e-mail on two platforms are one person.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    tz: Mapped[str | None] = mapped_column(String(64))
    is_reviewer: Mapped[bool] = mapped_column(Boolean, default=False)
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    last_assigned_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When messages to them may arrive ("08:00-16:00"; the hub's hours when unset), in `tz`, and whose
    # public holidays they keep ("US-CA", a `holidays` country or country-subdivision; the hub's when unset).
    working_hours: Mapped[str | None] = mapped_column(String(16))
    holidays: Mapped[str | None] = mapped_column(String(32))

    department: Mapped[Department | None] = relationship(lazy="joined")
    # Loaded on access: most reads of a person (cards, notices) never need their skills; the
    # queries that do (reviewer lists, routing) ask for them with selectinload.
    skills: Mapped[list[PersonSkill]] = relationship(
        cascade="all, delete-orphan", order_by="PersonSkill.skill", lazy="select"
    )

    # Every read of a person shows or addresses them somewhere, so their handles come along.
    identities: Mapped[list[Identity]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Identity.id", lazy="selectin"
    )

    @property
    def skill_names(self) -> list[str]:
        return [s.skill for s in self.skills]

    @property
    def handles(self) -> dict[str, str]:
        """Their id on each platform they use: {"slack": "U123", "console": "rita"}."""
        return {i.platform: i.external_id for i in self.identities}

    def handle(self, platform: str) -> str | None:
        return self.handles.get(platform)


class Identity(Base):
    """One way a person is known on a platform: a Slack user id, a Teams user id, a console name."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When the person last spoke to the bot through this identity: their DMs go where they are.
    last_seen_at: Mapped[dt.datetime | None]

    person: Mapped[Person] = relationship(back_populates="identities")


class PersonSkill(Base):
    __tablename__ = "person_skills"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    skill: Mapped[str] = mapped_column(String(80), primary_key=True)


class UseCase(Base):
    __tablename__ = "use_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    benefit: Mapped[str] = mapped_column(Text, default="")
    success_metric: Mapped[str] = mapped_column(Text, default="")
    data_sources: Mapped[str] = mapped_column(Text, default="")
    data_availability: Mapped[str] = mapped_column(String(32))
    data_sensitivity: Mapped[str] = mapped_column(String(32))
    people_affected: Mapped[str] = mapped_column(String(32))
    autonomy: Mapped[str] = mapped_column(String(32))
    target_date: Mapped[dt.date | None] = mapped_column(Date)
    links: Mapped[list[Any]] = mapped_column(default=list)
    risk_tier: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(16))
    triage_reasons: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(32), index=True)
    stage: Mapped[str] = mapped_column(String(32), index=True)
    submitter_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    source_id: Mapped[str | None] = mapped_column(String(200), unique=True)  # id in an imported register
    source: Mapped[str | None] = mapped_column(String(64))  # which register it came from, e.g. "omb-2025"
    topic_area: Mapped[str | None] = mapped_column(String(120))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # register columns with no field of their own
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    department: Mapped[Department] = relationship(lazy="joined")
    submitter: Mapped[Person] = relationship(foreign_keys=[submitter_id], lazy="joined")
    reviewer: Mapped[Person | None] = relationship(foreign_keys=[reviewer_id], lazy="joined")


class Review(Base):
    """One round of hub review; a resubmission after "request changes" opens the next round."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("use_case_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    assigned_at: Mapped[dt.datetime | None]
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submission: Mapped[dict[str, Any]] = mapped_column(default=dict)
    changes: Mapped[list[Any]] = mapped_column(default=list)
    decision: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]
    escalated_at: Mapped[dt.datetime | None]

    reviewer: Mapped[Person | None] = relationship(foreign_keys=[reviewer_id], lazy="joined")
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")


Index("ix_reviews_open", Review.reviewer_id, Review.decision)


class UseCaseLink(Base):
    """Two use cases in different departments that look alike, and what the submitter said of it.

    Written as `likely` when a submission is checked (with its score); the submitter answers `same` (the
    other owner is told), `related` or `different` (with why, for the reviewer). The hub hears once per
    cluster when three or more departments work on the same problem (`told_hub_at`).
    """

    __tablename__ = "use_case_links"
    __table_args__ = (UniqueConstraint("use_case_id", "other_id", name="uq_use_case_links_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"), index=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(String(16), default="likely")
    score: Mapped[float] = mapped_column(default=0.0)
    reason: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[dt.datetime | None]
    told_hub_at: Mapped[dt.datetime | None]


class AuditEvent(Base):
    """Every state change: who, when, what it was before and after."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    use_case_id: Mapped[int | None] = mapped_column(ForeignKey("use_cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class OutboxMessage(Base):
    """An outbound message (or a piece of durable work) written in the same transaction as its cause.

    Delivery claims a row with a lease (`locked_until`, `lease_owner`) that the worker renews while it
    sends and releases when it records the result, so two healthy workers never send the same row.
    `destination` names the conversation it goes to ("hub", "person:12", "channel:C1", "ref:<key>"):
    one message per destination is in flight at a time, in order, and posts to it are paced.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    platform: Mapped[str] = mapped_column(String(16), default="slack")
    # post: a new message (to a channel id, or a person's DM); update: edit the message behind `ref_key`;
    # profile: read a person's profile from their platform (durable work started by a request).
    operation: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    ref_key: Mapped[str | None] = mapped_column(String(120), index=True)
    destination: Mapped[str] = mapped_column(String(160), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    locked_until: Mapped[dt.datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[dt.datetime | None]
    failed_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


Index("ix_outbox_pending", OutboxMessage.delivered_at, OutboxMessage.failed_at, OutboxMessage.next_attempt_at)
Index("ix_outbox_destination", OutboxMessage.destination, OutboxMessage.delivered_at)
# The queue itself: rows not yet delivered or failed, in order; and per destination. Partial, so they stay
# the size of the backlog however long the table grows.
_UNDELIVERED = OutboxMessage.delivered_at.is_(None) & OutboxMessage.failed_at.is_(None)
Index("ix_outbox_queue", OutboxMessage.id, sqlite_where=_UNDELIVERED, postgresql_where=_UNDELIVERED)
Index(
    "ix_outbox_queue_destination",
    OutboxMessage.destination,
    OutboxMessage.id,
    sqlite_where=_UNDELIVERED,
    postgresql_where=_UNDELIVERED,
)


class MessageRef(Base):
    """Where a delivered message landed, so later updates can edit every copy in place."""

    __tablename__ = "message_refs"
    # One row per message: a review card posted twice to the same DM (A, then B, then A again) has two.
    __table_args__ = (UniqueConstraint("platform", "channel", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ref_key: Mapped[str] = mapped_column(String(120), index=True)
    platform: Mapped[str] = mapped_column(String(16), default="slack")
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(64))


class DeliveryPause(Base):
    """A platform asked us to slow down (HTTP 429): nothing in `bucket` is sent before `until`, by any worker."""

    __tablename__ = "delivery_pauses"

    bucket: Mapped[str] = mapped_column(String(120), primary_key=True)  # e.g. "slack:chat.postMessage"
    until: Mapped[dt.datetime]
    reason: Mapped[str | None] = mapped_column(Text)


class RequestKey(Base):
    """A request already carried out (a modal submission's view id and hash), so a replay changes nothing."""

    __tablename__ = "request_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    use_case_id: Mapped[int | None] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ProcessedEvent(Base):
    """Slack event ids already handled, so Slack's retries are processed once."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubSetting(Base):
    """Hub-wide settings leads change at run time (the self-serve guidelines)."""

    __tablename__ = "hub_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Schedule(Base):
    """A ritual on a schedule, managed by leads in chat (`/hub schedule`): what runs, when, where.

    `rule` is the cadence as typed ("weekly monday 09:00"), read by bot.rituals.schedules in `tz`; each run
    claims its `(name, period)` in job_runs first, so two clocks or a restart never send twice.
    """

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    job: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(200))
    tz: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(120))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_period: Mapped[str | None] = mapped_column(String(64))
    last_run_at: Mapped[dt.datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(200))
    holidays: Mapped[str | None] = mapped_column(String(32))  # a calendar whose holidays it skips ("GB-ENG")


class JobRun(Base):
    """A scheduled send claimed for one period; the unique key stops a second clock sending twice."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Evidence(Base):
    """One piece of evidence that a person knows something: a declared skill, a use case, a review, a talk."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    weight: Mapped[float] = mapped_column(default=1.0)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    use_case_id: Mapped[int | None] = mapped_column(ForeignKey("use_cases.id", ondelete="SET NULL"))
    url: Mapped[str | None] = mapped_column(String(500))
    # Stable key of what produced it (e.g. "uc:12:submitted", "import:<hash>"), so re-deriving or
    # re-importing updates instead of duplicating.
    source_key: Mapped[str | None] = mapped_column(String(200), unique=True)


Index("ix_evidence_person_at", Evidence.person_id, Evidence.at)


class ExpertAsk(Base):
    """Someone was suggested as an expert; recent suggestions rank a person down a little."""

    __tablename__ = "expert_asks"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    asker_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    query: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Retro(Base):
    """A blameless retro asked of a use case's owner when it is deployed, rejected or closed, and again some
    weeks after deployment (`trigger`); once written it is a lesson, linked to the use case."""

    __tablename__ = "retros"
    __table_args__ = (UniqueConstraint("use_case_id", "trigger", name="uq_retros_use_case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    trigger: Mapped[str] = mapped_column(String(16))  # deployed | rejected | closed | followup
    asked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reminded_at: Mapped[dt.datetime | None]
    done_at: Mapped[dt.datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    waived_at: Mapped[dt.datetime | None]
    waived_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    waived_reason: Mapped[str | None] = mapped_column(Text)
    worked: Mapped[str] = mapped_column(Text, default="")
    didnt: Mapped[str] = mapped_column(Text, default="")
    differently: Mapped[str] = mapped_column(Text, default="")
    metric_result: Mapped[str] = mapped_column(Text, default="")
    metric_met: Mapped[str | None] = mapped_column(String(16))  # met | partly | not_met | unknown


class Showcase(Base):
    """One showcase occurrence of a schedule: invitations go out two weeks ahead, the agenda a week ahead."""

    __tablename__ = "showcases"
    __table_args__ = (UniqueConstraint("schedule", "at", name="uq_showcases_schedule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime]
    channel: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[dt.datetime | None]  # when its presenters were recorded as showcase evidence
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ShowcaseInvite(Base):
    """Someone asked to present at a showcase, and their answer: yes, no, or a colleague nominated."""

    __tablename__ = "showcase_invites"
    __table_args__ = (UniqueConstraint("showcase_id", "person_id", name="uq_showcase_invites_showcase_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    showcase_id: Mapped[int] = mapped_column(ForeignKey("showcases.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    use_case_id: Mapped[int | None] = mapped_column(ForeignKey("use_cases.id", ondelete="SET NULL"))
    answer: Mapped[str | None] = mapped_column(String(16))  # yes | no | nominated
    nominee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    answered_at: Mapped[dt.datetime | None]
    presented: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConversationRef(Base):
    """Where the bot can reach a person (their personal chat) or a channel on a platform that needs one (Teams):
    saved when the bot is installed or first spoken to, used by the outbox for proactive messages."""

    __tablename__ = "conversation_refs"
    __table_args__ = (UniqueConstraint("platform", "conversation_id", name="uq_conversation_refs_platform"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))  # personal | channel | groupChat
    service_url: Mapped[str] = mapped_column(String(500))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))  # a channel's name, as Teams gave it
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LLMCall(Base):
    """One call to the LLM endpoint: which prompt and version, which model, how long, how many tokens, how it
    ended (ok, invalid, timeout, error, budget). Leads read them with `hubspoke llm usage`."""

    __tablename__ = "llm_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    prompt: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(120))
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(32))


class IntakeDraft(Base):
    """An intake form pre-filled from what someone wrote (by the LLM, or today's pre-fill without one), kept for
    them to open, check and submit; nothing in it is submitted by itself."""

    __tablename__ = "intake_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    questions: Mapped[list[Any]] = mapped_column(default=list)
    from_model: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FileOffer(Base):
    """A file offered to someone on Teams (an export), kept until they allow its upload to their OneDrive; a bot
    can only send files there through that consent."""

    __tablename__ = "file_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None]


class Embedding(Base):
    """A use case's or an evidence item's text as a vector of the embedding model named (storage.vectors). Kept per
    model, so a changed LLM_EMBEDDING_MODEL is re-computed beside the old vectors, never mixed with them; the hash
    of the text embedded tells a changed text from an unchanged one."""

    __tablename__ = "embeddings"
    __table_args__ = (
        UniqueConstraint("kind", "ref_id", "model", name="uq_embeddings_kind_ref_model"),
        Index("ix_embeddings_kind_model_id", "kind", "model", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # use_case | evidence
    ref_id: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(120))
    text_hash: Mapped[str] = mapped_column(String(64))
    vector: Mapped[Any] = mapped_column(Vector)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
