"""The append-only audit trail of staff actions, and its export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEvent

COLUMNS = (
    "id",
    "at",
    "actor_telegram_id",
    "actor_role",
    "action",
    "target",
    "outcome",
    "detail",
    "via",
)
# Where an action was taken: in the bot (Telegram), the web console, or the server's command line.
VIA_BOT = "bot"
VIA_CONSOLE = "console"
VIA_CLI = "cli"


@dataclass(frozen=True)
class Actor:
    """Who acted: a member's Telegram id and role, or None and "cli" for the server's shell."""

    telegram_user_id: int | None
    role: str


def record(
    session: AsyncSession,
    now: dt.datetime,
    who: Actor,
    action: str,
    target: str | None,
    outcome: str,
    detail: str | None = None,
) -> AuditEvent:
    """Append one event. Targets name residents only by pseudonymous reference, never by name."""
    event = AuditEvent(
        at=now,
        actor_telegram_id=who.telegram_user_id,
        actor_role=who.role[:20],
        action=action[:40],
        target=target[:80] if target else None,
        outcome=outcome[:20],
        detail=detail[:200] if detail else None,
        # The console's sessions mark their events "console" as they are written (console/web.py).
        via=VIA_CLI if who.telegram_user_id is None else VIA_BOT,
    )
    session.add(event)
    return event


async def audit_events(session: AsyncSession, since: dt.datetime | None = None) -> list[AuditEvent]:
    """The trail, oldest first."""
    statement = select(AuditEvent).order_by(AuditEvent.id)
    if since is not None:
        statement = statement.where(AuditEvent.at >= since)
    return list(await session.scalars(statement))


def via_of(event: AuditEvent) -> str:
    """Where it was done; events from before this was recorded are the bot's or the shell's."""
    if event.via:
        return event.via
    return VIA_CLI if event.actor_telegram_id is None else VIA_BOT


def audit_csv(events: list[AuditEvent]) -> str:
    """The trail as CSV, one row per event, times in UTC ISO 8601."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for event in events:
        writer.writerow(
            [
                event.id,
                event.at.isoformat(),
                event.actor_telegram_id if event.actor_telegram_id is not None else "",
                event.actor_role or "",
                event.action,
                event.target or "",
                event.outcome,
                event.detail or "",
                via_of(event),
            ]
        )
    return out.getvalue()
