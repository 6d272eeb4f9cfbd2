"""Telegram's flood limits shared by every worker: send_slots, and take_send_slot on PostgreSQL.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# "slot" in ASCII: the advisory lock every worker's takes queue on, apart from other features'.
_LOCK_KEY = 0x736C6F74

# One statement per take (bot/delivery/send_limits.py explains the rules; LocalSendLimits is the
# same in Python). VOLATILE: each query inside sees what was committed before it, so once the
# lock is held every slot another worker took is counted.
_TAKE = f"""
CREATE FUNCTION take_send_slot(
    p_chat bigint, p_now double precision, p_paid boolean, p_places integer,
    p_window double precision, p_gap double precision, p_stale double precision,
    OUT slot bigint, OUT wait double precision, OUT chat_busy boolean
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_free double precision;
    v_count integer;
BEGIN
    PERFORM pg_advisory_xact_lock({_LOCK_KEY});
    chat_busy := false;
    -- The chat's own second; an unanswered message ends no earlier than now.
    SELECT max(least(coalesce(answered_at, taken_at + p_stale), p_now) + p_gap) INTO v_free
      FROM send_slots
     WHERE chat_id = p_chat AND taken_at > p_now - p_stale - p_gap
       AND coalesce(answered_at, taken_at + p_stale) + p_gap > p_now;
    IF v_free IS NOT NULL THEN
        chat_busy := true;
        wait := v_free - p_now;
        RETURN;
    END IF;
    -- Places overall (replies and bulk sends; paid broadcasts have their own allowance).
    IF p_places > 0 THEN
        SELECT count(*) INTO v_count FROM send_slots
         WHERE NOT paid AND taken_at > p_now - p_stale - p_window
           AND coalesce(answered_at, taken_at + p_stale) + p_window > p_now;
        IF v_count >= p_places THEN
            -- Free once enough of the oldest have left the window.
            SELECT e + p_window - p_now INTO wait FROM (
                SELECT least(coalesce(answered_at, taken_at + p_stale), p_now) AS e
                  FROM send_slots
                 WHERE NOT paid AND taken_at > p_now - p_stale - p_window
                   AND coalesce(answered_at, taken_at + p_stale) + p_window > p_now
                 ORDER BY 1 OFFSET v_count - p_places LIMIT 1
            ) AS leaving;
            RETURN;
        END IF;
    END IF;
    INSERT INTO send_slots (chat_id, paid, taken_at) VALUES (p_chat, p_paid, p_now)
        RETURNING id INTO slot;
    -- Now and then, forget what no longer counts (cheap: the table holds seconds of sends).
    IF slot % 200 = 0 THEN
        DELETE FROM send_slots
         WHERE coalesce(answered_at, taken_at + p_stale) + greatest(p_window, p_gap) <= p_now;
    END IF;
END
$$
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "send_slots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("taken_at", sa.Float(), nullable=False),
        sa.Column("answered_at", sa.Float(), nullable=True),
        # Seconds of sends that a crash may lose without harm: no write-ahead log for them.
        prefixes=["UNLOGGED"] if postgres else [],
    )
    op.create_index("ix_send_slots_chat_taken", "send_slots", ["chat_id", "taken_at"])
    op.create_index("ix_send_slots_paid_taken", "send_slots", ["paid", "taken_at"])
    if postgres:
        op.execute(_TAKE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION take_send_slot(bigint, double precision, boolean, integer, "
            "double precision, double precision, double precision)"
        )
    op.drop_table("send_slots")
