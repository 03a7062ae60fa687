"""outbox leases and destinations, shared rate-limit pauses, idempotent submissions, one ref per message

- outbox.destination (the conversation a row goes to) and outbox.lease_owner (the worker holding its
  claim), backfilled for rows already there;
- message_refs: unique per message (platform, channel, ts) instead of per (ref_key, channel), so a card
  posted twice to the same DM keeps both copies (and both are updated);
- delivery_pauses: a platform's 429 pauses that method for every worker;
- request_keys: a modal submission already carried out, so a replay stores nothing new.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BACKFILL = (
    "UPDATE outbox SET destination = CASE "
    "WHEN operation = 'update' THEN 'ref:' || ref_key "
    "WHEN person_id IS NOT NULL THEN 'person:' || CAST(person_id AS VARCHAR(20)) "
    "WHEN channel = 'hub' THEN 'hub' "
    "ELSE 'channel:' || coalesce(channel, '') END"
)


# Workers LISTEN on this channel; a NOTIFY per statement that inserts into the outbox wakes them when its
# transaction commits (PostgreSQL folds repeats within a transaction into one).
NOTIFY_UP = [
    "CREATE FUNCTION hubspoke_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN PERFORM pg_notify('hubspoke_outbox', ''); RETURN NULL; END $$",
    "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION hubspoke_outbox_notify()",
]
NOTIFY_DOWN = ["DROP TRIGGER outbox_notify ON outbox", "DROP FUNCTION hubspoke_outbox_notify()"]


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("destination", sa.String(length=160), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
    op.execute(BACKFILL)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("destination", server_default=None)
        batch_op.create_index("ix_outbox_destination", ["destination", "delivered_at"], unique=False)
    # The queue: undelivered rows in order, and per destination (partial, so the size of the backlog).
    undelivered = sa.text("delivered_at IS NULL AND failed_at IS NULL")
    for name, columns in (("ix_outbox_queue", ["id"]), ("ix_outbox_queue_destination", ["destination", "id"])):
        op.create_index(name, "outbox", columns, sqlite_where=undelivered, postgresql_where=undelivered)

    with op.batch_alter_table("message_refs", schema=None) as batch_op:
        batch_op.drop_constraint("uq_message_refs_ref_key", type_="unique")
        batch_op.create_unique_constraint(op.f("uq_message_refs_platform"), ["platform", "channel", "ts"])

    if op.get_bind().dialect.name == "postgresql":
        for statement in NOTIFY_UP:
            op.execute(statement)

    op.create_table(
        "delivery_pauses",
        sa.Column("bucket", sa.String(length=120), nullable=False),
        sa.Column("until", storage.types.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_delivery_pauses")),
    )
    op.create_table(
        "request_keys",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("use_case_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["use_case_id"], ["use_cases.id"], name=op.f("fk_request_keys_use_case_id_use_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_request_keys")),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in NOTIFY_DOWN:
            op.execute(statement)
    op.drop_table("request_keys")
    op.drop_table("delivery_pauses")
    # Several copies of one card in one channel cannot all stay under the old (ref_key, channel) key.
    op.execute("DELETE FROM message_refs WHERE id NOT IN (SELECT max(id) FROM message_refs GROUP BY ref_key, channel)")
    with op.batch_alter_table("message_refs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_message_refs_platform"), type_="unique")
        batch_op.create_unique_constraint("uq_message_refs_ref_key", ["ref_key", "channel"])
    op.drop_index("ix_outbox_queue_destination", table_name="outbox")
    op.drop_index("ix_outbox_queue", table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_destination")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("destination")
