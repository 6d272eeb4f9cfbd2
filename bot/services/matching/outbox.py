"""Messages owed to one resident because of what another did, stored with the change itself.

A withdrawal, a block or an erasure happens in one transaction; telling (or tidying) the other
people's chats happens after it commits, from this table, so nothing is lost if sending fails and
nothing is sent for a change that rolled back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import kinds
from models import Delivery, DeliveryStatus, MatchMention, MatchOutbox, OutboxKind, Resident

RETRACTIONS = (
    OutboxKind.RETRACT_CARD,
    OutboxKind.RETRACT_REQUEST,
    OutboxKind.RETRACT_INTRODUCTION,
    OutboxKind.RETRACT_LIST,
)


@dataclass(frozen=True)
class OutboxItem:
    """One thing to do in one resident's chat."""

    id: int
    kind: OutboxKind
    resident_id: int
    telegram_user_id: int
    language_code: str
    message_id: int | None


def owe(
    session: AsyncSession, recipient_id: int, kind: OutboxKind, message_id: int | None = None
) -> None:
    """Note something to do in her chat once this transaction commits."""
    if kind in RETRACTIONS and message_id is None:
        # The message was never recorded (sending failed): there is nothing to take back.
        return
    session.add(MatchOutbox(recipient_id=recipient_id, kind=kind, message_id=message_id))


def request_key(intro_id: int, created_at: dt.datetime) -> str:
    """The queued request's content key: one per request, even for a pair that asks again."""
    return f"{kinds.MATCH_REQUEST}:{intro_id}:{int(created_at.timestamp())}"


def introduction_key(intro_id: int) -> str:
    """The queued introduction's content key (each side's row is her own)."""
    return f"{kinds.MATCH_INTRODUCTION}:{intro_id}"


async def take_back(
    session: AsyncSession,
    recipient_id: int,
    kind: OutboxKind,
    message_id: int | None,
    content_key: str,
) -> None:
    """Take a message back from her chat, whether it was sent at once or queued.

    Still queued: it is cancelled, and never sent. Sent by the engine: its Telegram id is on the
    delivery row, and the chat is tidied like any other. Either way our copy of its words goes,
    since they name someone who has left or withdrawn.
    """
    delivery = await session.scalar(
        select(Delivery).where(
            Delivery.resident_id == recipient_id, Delivery.content_key == content_key
        )
    )
    if delivery is not None:
        if delivery.status is DeliveryStatus.QUEUED:
            delivery.status = DeliveryStatus.CANCELLED
        message_id = message_id or delivery.telegram_message_id
        # Taken back once: a second withdrawal or /forget finds nothing left to retract.
        delivery.telegram_message_id = None
        delivery.text = ""
        delivery.buttons = None
        # The words to render it again from (her name, her area) are our copy too.
        delivery.template = None
        delivery.params = None
    owe(session, recipient_id, kind, message_id)


async def take_back_request(
    session: AsyncSession,
    recipient_id: int,
    intro_id: int,
    created_at: dt.datetime,
    message_id: int | None,
) -> None:
    """Take a request to say hello back from the chat of the one who was asked."""
    await take_back(
        session,
        recipient_id,
        OutboxKind.RETRACT_REQUEST,
        message_id,
        request_key(intro_id, created_at),
    )


def mention(
    session: AsyncSession,
    viewer_id: int,
    subject_ids: Iterable[int],
    kind: OutboxKind,
    message_id: int,
) -> None:
    """A message in her chat names these people; it is taken back if one of them leaves."""
    session.add_all(
        MatchMention(viewer_id=viewer_id, subject_id=subject, kind=kind, message_id=message_id)
        for subject in set(subject_ids)
    )


async def owe_mentions_of(
    session: AsyncSession, subject_id: int, kinds: tuple[OutboxKind, ...]
) -> None:
    """Take back, from everyone's chats, the messages of these kinds that name her."""
    mentions = await session.execute(
        delete(MatchMention)
        .where(MatchMention.subject_id == subject_id, MatchMention.kind.in_(kinds))
        .returning(MatchMention.viewer_id, MatchMention.kind, MatchMention.message_id)
    )
    for viewer_id, kind, message_id in mentions.all():
        owe(session, viewer_id, kind, message_id)


async def owed(
    session: AsyncSession, kinds: tuple[OutboxKind, ...], limit: int = 200
) -> list[OutboxItem]:
    """The oldest things still to do, of these kinds."""
    rows = await session.execute(
        select(
            MatchOutbox.id,
            MatchOutbox.kind,
            MatchOutbox.recipient_id,
            Resident.telegram_user_id,
            Resident.language_code,
            MatchOutbox.message_id,
        )
        .join(Resident, Resident.id == MatchOutbox.recipient_id)
        .where(MatchOutbox.kind.in_(kinds))
        .order_by(MatchOutbox.id)
        .limit(limit)
    )
    return [OutboxItem(*row) for row in rows]


async def done(session: AsyncSession, item_id: int) -> bool:
    """Mark one item done; False if someone else already did it (two drains at once)."""
    result = await session.execute(delete(MatchOutbox).where(MatchOutbox.id == item_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]
