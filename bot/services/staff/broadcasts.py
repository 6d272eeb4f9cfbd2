"""Council broadcasts: drafts, audiences that respect consent, scheduling, sending, cancelling.

Which consent covers what (also in the README):
- a *service announcement* is about Bump Buddies itself (a change to the service or to our privacy
  notice, an outage, the service ending). It goes to everyone signed up, under the consent she
  gave to use the service at all;
- *local information* (classes, clinics, groups, campaigns) is optional: it only goes to residents
  whose latest choice about local information is yes.
Either way only residents who finished signing up and whom Telegram can still reach are included.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.clock import Clock
from bot.config import Settings
from bot.delivery import queue, render
from bot.delivery.engine import DeliveryEngine
from bot.delivery.queue import BatchProgress, NewDelivery
from bot.services.places.geo import Gazetteer
from bot.services.staff.audit import Actor, record
from bot.texts import Catalogue, Html, catalogue
from models import (
    Broadcast,
    BroadcastPurpose,
    BroadcastStatus,
    ConsentEvent,
    ConsentPurpose,
    DeliveryStatus,
    Resident,
    ResidentStatus,
    StaffMember,
    StaffRole,
)

TEXT_MAX = 3500
BUTTON_TEXT_MAX = 40
BUTTON_URL_MAX = 300
_ENQUEUE_CHUNK = 2000
DAYS_OF_PREGNANCY = 280
# Trimesters by days still to go until the due date: the first runs to 12 weeks + 6 days,
# the second to 27 weeks + 6 days, the third to the due date.
_TRIMESTER_DAYS_TO_GO: dict[int, tuple[int, int]] = {
    1: (DAYS_OF_PREGNANCY - 13 * 7 + 1, DAYS_OF_PREGNANCY),
    2: (DAYS_OF_PREGNANCY - 28 * 7 + 1, DAYS_OF_PREGNANCY - 13 * 7),
    3: (0, DAYS_OF_PREGNANCY - 28 * 7),
}
# Links residents get must be encrypted: phones and Telegram flag plain http:// as not secure,
# and a council message must never send her somewhere that can be tampered with on the way.
LINK_SCHEME = "https://"
_INSECURE_LINK = re.compile(r"http://[^\s\"'<>]*", re.IGNORECASE)
AUDIENCE_KINDS = ("everyone", "districts", "wards", "due_dates", "trimester", "postnatal")


@dataclass(frozen=True)
class Audience:
    """Who a broadcast is for, before consent and reachability are applied."""

    kind: str = "everyone"
    codes: tuple[str, ...] = ()
    first: dt.date | None = None
    last: dt.date | None = None
    trimester: int | None = None

    def as_json(self) -> dict[str, Any]:
        """For the broadcasts.audience column."""
        data: dict[str, Any] = {"kind": self.kind}
        if self.codes:
            data["codes"] = list(self.codes)
        if self.first is not None and self.last is not None:
            data["first"], data["last"] = self.first.isoformat(), self.last.isoformat()
        if self.trimester is not None:
            data["trimester"] = self.trimester
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        """Back from the column."""
        first, last = data.get("first"), data.get("last")
        return cls(
            kind=str(data.get("kind", "everyone")),
            codes=tuple(data.get("codes", ())),
            first=dt.date.fromisoformat(first) if first else None,
            last=dt.date.fromisoformat(last) if last else None,
            trimester=data.get("trimester"),
        )


# Every broadcast's delivery rows carry this and its id as their batch; nothing else does.
BATCH_PREFIX = "broadcast:"


def batch_of(broadcast_id: int) -> str:
    """The delivery batch (and content key) of a broadcast."""
    return f"{BATCH_PREFIX}{broadcast_id}"


def insecure_link(text: str) -> str | None:
    """The first plain http:// link in a message or button address, if any (the rule is https)."""
    match = _INSECURE_LINK.search(text)
    return match.group(0) if match else None


def resident_text(texts: Catalogue, broadcast: Broadcast, council: str) -> Html:
    """What each resident gets: who it is from, the message, and why she gets it.

    The last line is true to the consent it is sent under: local information says how to stop
    it (/privacy); a service announcement goes to everyone signed up, so it says so and how to
    leave altogether (/forget).
    """
    heading = texts("broadcast.resident_heading", council=council)
    footer = texts(f"broadcast.resident_footer_{broadcast.purpose.value}", council=council)
    return Html(f"{heading}\n\n{broadcast.text}\n\n{footer}")


def _actor(member: StaffMember) -> Actor:
    return Actor(member.telegram_user_id, member.role.value)


def _consents_to_local_info() -> ColumnElement[bool]:
    latest = aliased(ConsentEvent)
    newer = aliased(ConsentEvent)
    # Her latest local-information choice is a yes: a yes with no later choice after it.
    return exists(
        select(latest.id).where(
            latest.person_ref == Resident.person_ref,
            latest.purpose == ConsentPurpose.LOCAL_INFO,
            latest.granted.is_(True),
            ~exists(
                select(newer.id).where(
                    newer.person_ref == latest.person_ref,
                    newer.purpose == ConsentPurpose.LOCAL_INFO,
                    newer.id > latest.id,
                )
            ),
        )
    )


def audience_conditions(
    audience: Audience, purpose: BroadcastPurpose, today: dt.date
) -> list[ColumnElement[bool]]:
    """SQL conditions on residents for this audience, consent and reachability included."""
    conditions: list[ColumnElement[bool]] = [
        Resident.status == ResidentStatus.ACTIVE,
        Resident.unreachable_since.is_(None),
    ]
    if purpose is BroadcastPurpose.LOCAL_INFO:
        conditions.append(_consents_to_local_info())
    if audience.kind == "districts":
        conditions.append(Resident.district_code.in_(audience.codes))
    elif audience.kind == "wards":
        conditions.append(Resident.ward_code.in_(audience.codes))
    elif audience.kind == "due_dates" and audience.first and audience.last:
        conditions.append(Resident.due_date.between(audience.first, audience.last))
    elif audience.kind == "trimester" and audience.trimester in _TRIMESTER_DAYS_TO_GO:
        soonest, latest = _TRIMESTER_DAYS_TO_GO[audience.trimester]
        conditions.append(
            Resident.due_date.between(
                today + dt.timedelta(days=soonest), today + dt.timedelta(days=latest)
            )
        )
    elif audience.kind == "postnatal":
        conditions.append(Resident.due_date < today)
    elif audience.kind != "everyone":
        raise ValueError(f"incomplete audience: {audience}")
    return conditions


async def count_recipients(
    session: AsyncSession, audience: Audience, purpose: BroadcastPurpose, today: dt.date
) -> int:
    """Exactly how many residents this would reach today."""
    count = await session.scalar(
        select(func.count(Resident.id)).where(*audience_conditions(audience, purpose, today))
    )
    return int(count or 0)


async def create_draft(
    session: AsyncSession, member: StaffMember, text: str, now: dt.datetime, *, paid: bool
) -> Broadcast:
    """A new draft with its text; local information to everyone until she chooses."""
    broadcast = Broadcast(
        created_by_id=member.id,
        status=BroadcastStatus.DRAFT,
        purpose=BroadcastPurpose.LOCAL_INFO,
        text=text,
        audience=Audience().as_json(),
        paid=paid,
        revision=1,
        created_at=now,
        updated_at=now,
    )
    session.add(broadcast)
    await session.flush()
    record(session, now, _actor(member), "broadcast.draft", f"broadcast:{broadcast.id}", "ok")
    return broadcast


async def own_broadcast(
    session: AsyncSession, member: StaffMember, broadcast_id: int
) -> Broadcast | None:
    """Her broadcast, locked for this unit of work; None if it isn't hers (or doesn't exist)."""
    return await session.scalar(
        select(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.created_by_id == member.id)
        .with_for_update()
    )


def revise(broadcast: Broadcast, now: dt.datetime, **changes: Any) -> None:
    """Change a draft; every change makes earlier previews' buttons stale."""
    if broadcast.status is not BroadcastStatus.DRAFT:
        raise ValueError("only drafts can change")
    for name, value in changes.items():
        setattr(broadcast, name, value)
    broadcast.revision += 1
    broadcast.updated_at = now


_TRANSLATION = re.compile(r"\s*([A-Za-z]{2,3})\s*:\s*(.+)", re.DOTALL)


def translation_of(text: str, languages: tuple[str, ...]) -> tuple[str, str] | None:
    """ "pl: Dzień dobry…" read as (language, text); None unless it names an offered language
    other than English (English is the broadcast's own text)."""
    match = _TRANSLATION.fullmatch(text)
    if match is None:
        return None
    code, words = match.group(1).lower(), match.group(2).strip()
    if code == "en" or code not in languages or not words or len(words) > TEXT_MAX:
        return None
    return code, words


def with_translation(broadcast: Broadcast, language: str, text: str) -> dict[str, str]:
    """Its translations with this one added (or replaced)."""
    return {**(broadcast.translations or {}), language: text}


def buttons_of(broadcast: Broadcast) -> list[list[dict[str, Any]]] | None:
    """The link button residents get, as delivery rows store it."""
    if broadcast.button_text and broadcast.button_url:
        return [[{"text": broadcast.button_text, "url": broadcast.button_url}]]
    return None


async def schedule(
    session: AsyncSession,
    member: StaffMember,
    broadcast: Broadcast,
    send_at: dt.datetime,
    now: dt.datetime,
    recipients_shown: int,
) -> None:
    """Confirmed: it goes at `send_at` (now, or later; stored, so a restart keeps it)."""
    broadcast.status = BroadcastStatus.SCHEDULED
    broadcast.send_at = send_at
    broadcast.updated_at = now
    broadcast.revision += 1
    detail = (
        f"{broadcast.purpose.value}; {broadcast.audience.get('kind')}; "
        f"{recipients_shown} shown; at {send_at.isoformat()}"
    )
    record(session, now, _actor(member), "broadcast.confirm", batch_of(broadcast.id), "ok", detail)


async def release_due(
    session: AsyncSession,
    now: dt.datetime,
    today: dt.date,
    only: int | None = None,
    *,
    texts: Catalogue,
    council: str,
) -> list[Broadcast]:
    """Queue the messages of every scheduled broadcast whose time has come.

    The audience is worked out now, at sending time, so consent withdrawn since the broadcast
    was confirmed is respected. Safe to run in two processes at once: rows are locked (SKIP
    LOCKED) and queueing twice is harmless anyway.
    """
    statement = (
        select(Broadcast)
        .where(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.send_at <= now)
        .order_by(Broadcast.id)
        .with_for_update(skip_locked=True)
    )
    if only is not None:
        statement = statement.where(Broadcast.id == only)
    released = list(await session.scalars(statement))
    for broadcast in released:
        audience = Audience.from_json(broadcast.audience)
        ids = await session.scalars(
            select(Resident.id)
            .where(*audience_conditions(audience, broadcast.purpose, today))
            .order_by(Resident.id)
        )
        batch = batch_of(broadcast.id)
        text = resident_text(texts, broadcast, council)
        items = [
            NewDelivery(
                resident_id,
                batch,
                batch,
                "broadcast",
                text,
                now,
                buttons=buttons_of(broadcast),
                paid=broadcast.paid,
                # Worded when sent: her language's translation if staff gave one, else English.
                template=f"{render.BROADCAST}{broadcast.id}",
                params={"council": council},
            )
            for resident_id in ids
        ]
        queued = 0
        for start in range(0, len(items), _ENQUEUE_CHUNK):
            queued += await queue.enqueue(session, items[start : start + _ENQUEUE_CHUNK], now)
        broadcast.status = BroadcastStatus.SENDING
        broadcast.recipients = queued
        broadcast.started_at = now
        broadcast.updated_at = now
        record(session, now, Actor(None, "scheduler"), "broadcast.start", batch, "ok", str(queued))
    return released


async def stoppable_broadcast(
    session: AsyncSession, member: StaffMember, broadcast_id: int
) -> Broadcast | None:
    """A broadcast she may stop, locked: her own, or (for an admin) anyone's; None otherwise."""
    statement = select(Broadcast).where(Broadcast.id == broadcast_id)
    if member.role is not StaffRole.ADMIN:
        statement = statement.where(Broadcast.created_by_id == member.id)
    return await session.scalar(statement.with_for_update())


async def scheduled_broadcasts(session: AsyncSession, member: StaffMember) -> list[Broadcast]:
    """Broadcasts waiting for their time that she may cancel, soonest first."""
    statement = select(Broadcast).where(Broadcast.status == BroadcastStatus.SCHEDULED)
    if member.role is not StaffRole.ADMIN:
        statement = statement.where(Broadcast.created_by_id == member.id)
    return list(await session.scalars(statement.order_by(Broadcast.send_at, Broadcast.id)))


async def cancel(
    session: AsyncSession, member: StaffMember, broadcast: Broadcast, now: dt.datetime
) -> int:
    """Stop it: scheduled ones never go; sending ones stop. Returns messages not sent."""
    stopped = await queue.cancel_open(session, batch=batch_of(broadcast.id))
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.finished_at = now
    broadcast.updated_at = now
    broadcast.revision += 1
    record(
        session, now, _actor(member), "broadcast.cancel", batch_of(broadcast.id), "ok", str(stopped)
    )
    return stopped


async def discard(
    session: AsyncSession, member: StaffMember, broadcast: Broadcast, now: dt.datetime
) -> None:
    """Throw a draft away; nothing was queued for it, so nothing else changes."""
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.revision += 1
    broadcast.updated_at = now
    record(session, now, _actor(member), "broadcast.discard", f"broadcast:{broadcast.id}", "ok")


async def finish(session: AsyncSession, broadcast_id: int, now: dt.datetime) -> Broadcast | None:
    """Mark a sending broadcast done once nothing is left; None while it is still going."""
    broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
    if broadcast is None or broadcast.status is not BroadcastStatus.SENDING:
        return None
    progress = await queue.batch_progress(session, batch_of(broadcast_id))
    if progress.left:
        return None
    broadcast.status = BroadcastStatus.DONE
    broadcast.finished_at = now
    broadcast.updated_at = now
    sent = progress.counts.get(DeliveryStatus.SENT, 0)
    record(
        session,
        now,
        Actor(None, "scheduler"),
        "broadcast.done",
        batch_of(broadcast_id),
        "ok",
        f"{sent} sent of {progress.total}",
    )
    return broadcast


async def sending_broadcasts(session: AsyncSession) -> list[Broadcast]:
    """Broadcasts still going (after a restart their progress message is picked up again)."""
    return list(
        await session.scalars(select(Broadcast).where(Broadcast.status == BroadcastStatus.SENDING))
    )


async def set_progress_message(
    session: AsyncSession, broadcast_id: int, chat_id: int, message_id: int
) -> None:
    """Remember the message that shows its progress, so any process can keep it current."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is not None:
        broadcast.progress_chat_id = chat_id
        broadcast.progress_message_id = message_id


# --- Units of work for the bot ------------------------------------------------------------------
# The /broadcast conversation, the release job and start-up call these; each opens its own
# session, so no handler holds one. Telegram stays on the bot's side of `ProgressMessage`.

Sessions = async_sessionmaker[AsyncSession]


class ProgressMessage(Protocol):
    """The sender's progress message, which the bot posts and edits."""

    async def announce(self, broadcast: Broadcast, chat_id: int) -> tuple[int, int] | None:
        """A scheduled broadcast has started: post its progress message; (chat, message) ids."""

    async def update(self, broadcast: Broadcast, progress: BatchProgress, rate: float) -> None:
        """Show how it is going (`rate`, messages a second, gives the time still to go)."""

    async def final(self, broadcast: Broadcast, progress: BatchProgress) -> None:
        """Replace the progress message with the final report."""


@dataclass(frozen=True)
class Desk:
    """What the broadcast rules need from the running bot."""

    sessions: Sessions
    clock: Clock
    settings: Settings
    gazetteer: Gazetteer
    # None where nothing sends (a process without the delivery engine).
    engine: DeliveryEngine | None

    def now(self) -> dt.datetime:
        """The current UTC time."""
        return self.clock.now()

    def today(self) -> dt.date:
        """Today in the council's time zone."""
        return self.clock.now().astimezone(self.settings.zone).date()

    def may_send_at(self, when: dt.datetime) -> bool:
        """A time from a button: still in the future and outside quiet hours."""
        return when > self.now() and not self.settings.quiet_hours.contains(when)


def complete(audience: Audience) -> bool:
    """Whether the audience names everything it needs (districts chosen, both dates…)."""
    if audience.kind in ("districts", "wards"):
        return bool(audience.codes)
    if audience.kind == "due_dates":
        return audience.first is not None and audience.last is not None
    return True


async def recipients_now(desk: Desk, broadcast: Broadcast) -> int:
    """How many residents it would reach today (0 while the audience is incomplete)."""
    audience = Audience.from_json(broadcast.audience)
    if not complete(audience):
        return 0
    return await recipients_confirmed(desk, broadcast)


async def recipients_confirmed(desk: Desk, broadcast: Broadcast) -> int:
    """The count she confirms against: the audience as it stands."""
    async with desk.sessions() as session:
        return await count_recipients(
            session, Audience.from_json(broadcast.audience), broadcast.purpose, desk.today()
        )


async def start_draft(desk: Desk, member: StaffMember, text: str) -> Broadcast:
    """Her message becomes a new draft (paid or not as the council's settings say)."""
    async with desk.sessions() as session, session.begin():
        return await create_draft(
            session, member, text, desk.now(), paid=desk.settings.broadcast_paid
        )


async def pending_draft(desk: Desk, member: StaffMember, broadcast_id: int) -> Broadcast | None:
    """Her broadcast if it is still a draft; None otherwise."""
    async with desk.sessions() as session:
        broadcast = await own_broadcast(session, member, broadcast_id)
    if broadcast is None or broadcast.status is not BroadcastStatus.DRAFT:
        return None
    return broadcast


async def revise_draft(
    desk: Desk, member: StaffMember, broadcast_id: int, **changes: Any
) -> Broadcast | None:
    """Change her draft; None if it is no longer one (sent, discarded, someone else's)."""
    async with desk.sessions() as session, session.begin():
        current = await own_broadcast(session, member, broadcast_id)
        if current is None or current.status is not BroadcastStatus.DRAFT:
            return None
        revise(current, desk.now(), **changes)
    return current


async def list_scheduled(desk: Desk, member: StaffMember) -> list[Broadcast]:
    """Broadcasts waiting for their time that she may cancel; looking is audited."""
    async with desk.sessions() as session, session.begin():
        waiting = await scheduled_broadcasts(session, member)
        record(session, desk.now(), _actor(member), "broadcast.list", None, "ok", str(len(waiting)))
    return waiting


@dataclass(frozen=True)
class Step:
    """What a button did, for the conversation to show: a view's name and its argument."""

    view: str
    argument: str = ""


@dataclass(frozen=True)
class Pressed:
    """A button's result: the broadcast it named if hers and current, and the step it took."""

    broadcast: Broadcast | None
    # None: the button makes no sense in this state (or was made up).
    step: Step | None


# Buttons that only ask her to type something next.
PROMPT_ACTIONS = ("due", "btn", "when", "tr")


async def press(
    desk: Desk, member: StaffMember, broadcast_id: int, revision: int, action: str, argument: str
) -> Pressed:
    """One broadcast button, in one unit of work: checked to be hers and current first.

    Stopping is allowed to admins for anyone's broadcast; everything else only to its author.
    A card from before a change names an older revision, so it does nothing.
    """
    step: Step | None = None
    async with desk.sessions() as session, session.begin():
        find = stoppable_broadcast if action == "stop" else own_broadcast
        broadcast = await find(session, member, broadcast_id)
        if broadcast is None or broadcast.revision != revision:
            return Pressed(None, None)
        step = await _apply(desk, session, member, broadcast, action, argument)
    if step is not None and step.view == "stopped" and desk.engine is not None:
        # The queued rows are cancelled in the database; this stops the ones this process holds.
        desk.engine.cancel(batch_of(broadcast.id))
    return Pressed(broadcast, step)


def _toggle(codes: tuple[str, ...], code: str) -> tuple[str, ...]:
    return tuple(c for c in codes if c != code) if code in codes else (*codes, code)


async def _apply(
    desk: Desk,
    session: AsyncSession,
    member: StaffMember,
    broadcast: Broadcast,
    action: str,
    argument: str,
) -> Step | None:
    """Apply one button inside the unit of work; None if it makes no sense in this state."""
    now = desk.now()
    if action == "stop":
        if broadcast.status not in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING):
            return None
        started = broadcast.status is BroadcastStatus.SENDING
        stopped = await cancel(session, member, broadcast, now)
        # Nothing is queued before its time, so a scheduled one is simply called off.
        return Step("stopped" if started else "called_off", argument=str(stopped))
    if broadcast.status is not BroadcastStatus.DRAFT:
        return None
    audience = Audience.from_json(broadcast.audience)
    gazetteer = desk.gazetteer
    if action == "kind" and argument in BroadcastPurpose.__members__.values():
        revise(broadcast, now, purpose=BroadcastPurpose(argument))
        # The kind decides the last line residents see, so she sees the preview again.
        return Step("preview")
    if action == "aud" and argument in ("everyone", "postnatal"):
        revise(broadcast, now, audience=Audience(argument).as_json())
        return Step("card")
    if action == "aud" and argument in ("districts", "wards", "trimester"):
        return Step(argument)
    if action == "dt" and gazetteer.district(argument) is not None:
        codes = audience.codes if audience.kind == "districts" else ()
        chosen = Audience("districts", codes=_toggle(codes, argument))
        revise(broadcast, now, audience=chosen.as_json())
        return Step("districts")
    if action == "wd" and gazetteer.district(argument) is not None:
        return Step("wards_of", argument=argument)
    if action == "wt" and (ward := gazetteer.ward(argument)) is not None:
        codes = audience.codes if audience.kind == "wards" else ()
        chosen = Audience("wards", codes=_toggle(codes, argument))
        revise(broadcast, now, audience=chosen.as_json())
        return Step("wards_of", argument=ward.district_code)
    if action == "tri" and argument in ("1", "2", "3"):
        chosen = Audience("trimester", trimester=int(argument))
        revise(broadcast, now, audience=chosen.as_json())
        return Step("card")
    if action in PROMPT_ACTIONS:
        return Step("prompt", argument=action)
    if action == "nobtn":
        revise(broadcast, now, button_text=None, button_url=None)
        return Step("preview")
    if action == "discard":
        await discard(session, member, broadcast, now)
        return Step(action)
    if action in ("card", "now"):
        return Step(action)
    if action == "tmrw" and argument.isdigit():
        when = dt.datetime.fromtimestamp(int(argument), dt.UTC)
        return Step("confirm_at", argument=argument) if desk.may_send_at(when) else None
    if action == "go" and argument.isdigit():
        return await _go(desk, session, member, broadcast, int(argument))
    return None


async def _go(
    desk: Desk, session: AsyncSession, member: StaffMember, broadcast: Broadcast, epoch: int
) -> Step | None:
    """Confirmed: schedule it, or (epoch 0) queue it now for the engine."""
    now = desk.now()
    audience = Audience.from_json(broadcast.audience)
    if not complete(audience):
        return None
    count = await count_recipients(session, audience, broadcast.purpose, desk.today())
    if count == 0:
        return Step("nobody")
    when = now if epoch == 0 else dt.datetime.fromtimestamp(epoch, dt.UTC)
    if epoch and not desk.may_send_at(when):
        return None
    await schedule(session, member, broadcast, when, now, count)
    if epoch:
        return Step("scheduled")
    await release_due(
        session,
        now,
        desk.today(),
        only=broadcast.id,
        texts=catalogue(),
        council=desk.settings.council_name,
    )
    return Step("sending")


async def _remember_progress_message(
    desk: Desk, broadcast: Broadcast, chat_id: int, message_id: int
) -> None:
    async with desk.sessions() as session, session.begin():
        await set_progress_message(session, broadcast.id, chat_id, message_id)
    broadcast.progress_chat_id = chat_id
    broadcast.progress_message_id = message_id


async def sending(
    desk: Desk, broadcast: Broadcast, shown_at: tuple[int, int] | None, screen: ProgressMessage
) -> None:
    """It was queued to go now: its progress shows in the message at `shown_at`, and it goes."""
    if shown_at is not None:
        await _remember_progress_message(desk, broadcast, *shown_at)
    watch(desk, broadcast, screen)
    if desk.engine is not None:
        desk.engine.wake()


def watch(desk: Desk, broadcast: Broadcast, screen: ProgressMessage) -> None:
    """Keep the broadcast's progress message current while the engine sends it, then finish it."""
    engine = desk.engine
    if engine is None:
        return
    if broadcast.progress_chat_id is None or broadcast.progress_message_id is None:
        return
    settings = desk.settings
    rate = (
        settings.delivery_paid_max_per_second
        if broadcast.paid
        else settings.delivery_max_per_second
    )

    async def update_message(progress: BatchProgress) -> None:
        async with desk.sessions() as session, session.begin():
            current = await session.get(Broadcast, broadcast.id)
            if current is None or current.status is not BroadcastStatus.SENDING:
                # Stopped meanwhile: the "stopped" message stays as it is.
                return
            done = progress.left == 0
            if done and await finish(session, broadcast.id, desk.now()) is None:
                return
        if done:
            await screen.final(current, progress)
        else:
            await screen.update(current, progress, rate)

    engine.add_progress_listener(batch_of(broadcast.id), update_message)


async def release_and_watch(desk: Desk, screen: ProgressMessage) -> list[Broadcast]:
    """Queue the broadcasts whose time has come and watch them: the job's and start-up's work.

    A scheduled broadcast's sender gets a progress message when it starts.
    """
    now = desk.now()
    async with desk.sessions() as session, session.begin():
        released = await release_due(
            session, now, desk.today(), texts=catalogue(), council=desk.settings.council_name
        )
        senders = {b.id: await session.get(StaffMember, b.created_by_id) for b in released}
    for broadcast in released:
        member = senders[broadcast.id]
        if member is not None and broadcast.progress_message_id is None:
            shown_at = await screen.announce(broadcast, member.telegram_user_id)
            if shown_at is not None:
                await _remember_progress_message(desk, broadcast, *shown_at)
        watch(desk, broadcast, screen)
    if released and desk.engine is not None:
        desk.engine.wake()
    return released


async def resume(desk: Desk, screen: ProgressMessage) -> None:
    """At start-up: keep watching broadcasts that were sending, and release any now due."""
    async with desk.sessions() as session:
        going = await sending_broadcasts(session)
    for broadcast in going:
        watch(desk, broadcast, screen)
    await release_and_watch(desk, screen)
