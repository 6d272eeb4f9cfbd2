"""Conversation state, flow notes and the per-chat update inbox, read and written per update.

Plain functions on a session (no telegram): bot/ordered.py calls them around every update, so
where a resident is in a flow lives in the database and any worker can take her next message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import String, and_, delete, exists, literal, or_, select, text, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from models import ConversationNotes, ConversationState, UpdateInbox

# Handled updates are remembered this long, so one Telegram delivers again is not handled twice.
REMEMBER_HANDLED = dt.timedelta(days=1)


class Turn(Enum):
    """What a worker holding a chat's lock does with its update."""

    GO = "go"  # the oldest update of this chat not yet handled: handle it now
    WAIT = "wait"  # an older one, which another task or worker holds, goes first
    SKIP = "skip"  # already handled (a delivery again): nothing to do


@dataclass(frozen=True)
class Saved:
    """What the database holds for one person in one chat."""

    states: dict[str, Any]
    notes: dict[str, Any]


def lock_key(chat_id: int) -> int:
    """A signed 64-bit advisory-lock key for a chat, apart from other features' keys."""
    digest = hashlib.blake2b(f"chat:{chat_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def arrive(
    connection: AsyncConnection, update_id: int, chat_id: int, now: dt.datetime
) -> bool:
    """Note that an update reached a worker (on an autocommit connection: one statement,
    committed before it waits for its turn, so other workers see it).

    True if it had reached one before: Telegram delivers an update again when its first
    handling failed part-way (a 503 while the database restarted, a worker killed), and what
    that handling committed stays done.
    """
    values = {"update_id": update_id, "chat_id": chat_id, "received_at": now}
    noted = await connection.execute(
        _insert(connection.dialect.name)(UpdateInbox)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["update_id"])
    )
    return noted.rowcount == 0


async def take_chat(session: AsyncSession, chat_id: int) -> None:
    """Hold this chat's lock until the transaction ends (PostgreSQL; SQLite is one process)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(chat_id)}
        )


async def turn(
    session: AsyncSession, update_id: int, chat_id: int, now: dt.datetime, patience: dt.timedelta
) -> Turn:
    """Whether this update's turn has come (the caller holds the chat's lock).

    An older update still waiting goes first, unless it arrived longer than `patience` ago:
    then the worker holding it has died, and Telegram will deliver it again.
    """
    # One statement: it runs for every update (after the lock, so it sees what the lock's
    # last holder committed).
    row = (
        await session.execute(
            select(
                exists().where(
                    UpdateInbox.update_id == update_id, UpdateInbox.handled_at.is_not(None)
                ),
                exists().where(
                    UpdateInbox.chat_id == chat_id,
                    UpdateInbox.update_id < update_id,
                    UpdateInbox.handled_at.is_(None),
                    UpdateInbox.received_at > now - patience,
                ),
            )
        )
    ).one()
    handled, older = row
    if handled:
        return Turn.SKIP
    return Turn.WAIT if older else Turn.GO


async def load(session: AsyncSession, chat_id: int, user_id: int, now: dt.datetime) -> Saved:
    """Her running conversations in this chat (none that timed out) and her flow notes."""
    # One statement for both: states under their names, her notes under no name (NULL).
    states = select(ConversationState.name, ConversationState.state).where(
        ConversationState.chat_id == chat_id,
        ConversationState.user_id == user_id,
        or_(ConversationState.expires_at.is_(None), ConversationState.expires_at > now),
    )
    notes = select(literal(None, String).label("name"), ConversationNotes.notes).where(
        ConversationNotes.user_id == user_id
    )
    found: dict[str, Any] = {}
    saved_notes: dict[str, Any] = {}
    for name, value in await session.execute(union_all(states, notes)):
        if name is None:
            saved_notes = dict(value or {})
        else:
            found[name] = value
    return Saved(states=found, notes=saved_notes)


async def save(
    session: AsyncSession,
    chat_id: int,
    user_id: int,
    states: Mapping[str, tuple[Any, dt.datetime | None]],
    notes: dict[str, Any] | None,
    now: dt.datetime,
) -> None:
    """Write what changed: a state per conversation (None: it ended) and, if given, her notes.

    One statement per change (an upsert, or a delete for what ended), run for most updates.
    """
    insert = _insert(session.bind.dialect.name if session.bind is not None else "")
    for name, (state, expires_at) in states.items():
        if state is None:
            await session.execute(
                delete(ConversationState).where(
                    ConversationState.chat_id == chat_id,
                    ConversationState.user_id == user_id,
                    ConversationState.name == name,
                )
            )
            continue
        values = {"state": state, "expires_at": expires_at, "updated_at": now}
        statement = insert(ConversationState).values(
            chat_id=chat_id, user_id=user_id, name=name, **values
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["chat_id", "user_id", "name"], set_=values
            )
        )
    if notes is not None and not notes:
        await session.execute(delete(ConversationNotes).where(ConversationNotes.user_id == user_id))
    elif notes is not None:
        values = {"notes": notes, "updated_at": now}
        statement = insert(ConversationNotes).values(user_id=user_id, **values)
        await session.execute(
            statement.on_conflict_do_update(index_elements=["user_id"], set_=values)
        )


async def handled(session: AsyncSession, update_id: int, chat_id: int, now: dt.datetime) -> None:
    """Mark the update handled (the daily prune forgets it after REMEMBER_HANDLED)."""
    await session.execute(
        update(UpdateInbox).where(UpdateInbox.update_id == update_id).values(handled_at=now)
    )


async def forget(session: AsyncSession, telegram_user_id: int) -> None:
    """Erase everything kept here about her (/forget): her flows, notes and her chat's updates."""
    await session.execute(
        delete(ConversationState).where(
            or_(
                ConversationState.user_id == telegram_user_id,
                ConversationState.chat_id == telegram_user_id,
            )
        )
    )
    await session.execute(
        delete(ConversationNotes).where(ConversationNotes.user_id == telegram_user_id)
    )
    await session.execute(delete(UpdateInbox).where(UpdateInbox.chat_id == telegram_user_id))


async def prune(session: AsyncSession, now: dt.datetime) -> int:
    """Drop handled updates older than a day, and timed-out conversations (the daily job)."""
    gone = await session.execute(
        delete(UpdateInbox).where(
            and_(
                UpdateInbox.handled_at.is_not(None), UpdateInbox.handled_at < now - REMEMBER_HANDLED
            )
        )
    )
    await session.execute(delete(ConversationState).where(ConversationState.expires_at < now))
    return int(gone.rowcount)  # type: ignore[attr-defined]
