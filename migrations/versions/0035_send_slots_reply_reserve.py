"""Replies' reserve only while residents are writing: send_slots.reply and a new take_send_slot.

Bulk sends left a fixed 6 of Telegram's 30 places a second to replies, so a broadcast nobody was
replying during went at 24 a second. Now the whole reserve is kept while replies were taken in
the last few seconds, and only one place otherwise.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOCK_KEY = 0x736C6F74
_OLD = (
    "take_send_slot(bigint, double precision, boolean, integer, "
    "double precision, double precision, double precision)"
)

# bot/delivery/send_limits.py explains the rules; LocalSendLimits is the same in Python.
_TAKE = f"""
CREATE FUNCTION take_send_slot(
    p_chat bigint, p_now double precision, p_kind text, p_places integer, p_reserve integer,
    p_idle_reserve integer, p_recent double precision, p_window double precision,
    p_gap double precision, p_stale double precision,
    OUT slot bigint, OUT wait double precision, OUT chat_busy boolean
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_free double precision;
    v_count integer;
    v_places integer := p_places;
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
    IF p_kind = 'bulk' THEN
        -- Bulk sends leave the whole reserve to replies while residents are writing.
        IF EXISTS (SELECT 1 FROM send_slots
                    WHERE NOT paid AND reply AND taken_at > p_now - p_recent) THEN
            v_places := greatest(1, p_places - p_reserve);
        ELSE
            v_places := greatest(1, p_places - p_idle_reserve);
        END IF;
    END IF;
    -- Places overall (replies and bulk sends; paid broadcasts have their own allowance).
    IF p_kind <> 'paid' THEN
        SELECT count(*) INTO v_count FROM send_slots
         WHERE NOT paid AND taken_at > p_now - p_stale - p_window
           AND coalesce(answered_at, taken_at + p_stale) + p_window > p_now;
        IF v_count >= v_places THEN
            -- Free once enough of the oldest have left the window.
            SELECT e + p_window - p_now INTO wait FROM (
                SELECT least(coalesce(answered_at, taken_at + p_stale), p_now) AS e
                  FROM send_slots
                 WHERE NOT paid AND taken_at > p_now - p_stale - p_window
                   AND coalesce(answered_at, taken_at + p_stale) + p_window > p_now
                 ORDER BY 1 OFFSET v_count - v_places LIMIT 1
            ) AS leaving;
            RETURN;
        END IF;
    END IF;
    INSERT INTO send_slots (chat_id, paid, reply, taken_at)
        VALUES (p_chat, p_kind = 'paid', p_kind = 'reply', p_now)
        RETURNING id INTO slot;
    -- Now and then, forget what no longer counts (cheap: the table holds seconds of sends).
    IF slot % 200 = 0 THEN
        DELETE FROM send_slots
         WHERE coalesce(answered_at, taken_at + p_stale) + greatest(p_window, p_gap, p_recent)
               <= p_now;
    END IF;
END
$$
"""


def upgrade() -> None:
    op.add_column(
        "send_slots",
        sa.Column("reply", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {_OLD}")
        op.execute(_TAKE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION take_send_slot(bigint, double precision, text, integer, integer, "
            "integer, double precision, double precision, double precision, double precision)"
        )
    with op.batch_alter_table("send_slots") as batch:
        batch.drop_column("reply")
    # The function of 0033 comes back with it.
    if op.get_bind().dialect.name == "postgresql":
        import importlib.util
        from pathlib import Path

        path = Path(__file__).with_name("0033_send_slots.py")
        spec = importlib.util.spec_from_file_location("send_slots_0033", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        op.execute(module._TAKE)
