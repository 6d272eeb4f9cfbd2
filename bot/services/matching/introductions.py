"""Saying hello, answering, and the introduction itself: nothing identifying until both say yes.

Every change of state is one conditional UPDATE or INSERT (`... WHERE status = 'requested'`),
so double taps, two people saying hello to each other at the same moment, and old buttons
pressed after a withdrawal all end in one consistent state on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.services.feedback import note_feedback_moment
from bot.services.matching.outbox import owe, take_back_request
from bot.services.matching.rules import MatchRules, WardNeighbours, eligible, pair
from bot.services.matching.suggestions import in_pool_clause, pool_member
from models import (
    FeedbackMoment,
    IntroductionStatus,
    MatchBlock,
    MatchIntroduction,
    MatchReport,
    MatchSuggestion,
    OutboxKind,
    Resident,
    SuggestionStatus,
)


class HelloResult(enum.StrEnum):
    """What pressing 'Say hello' did."""

    REQUESTED = "requested"
    # She had already said hello to me: my hello is her yes.
    INTRODUCED = "introduced"
    ALREADY_REQUESTED = "already_requested"
    ALREADY_INTRODUCED = "already_introduced"
    UNAVAILABLE = "unavailable"
    EXPIRED = "expired"
    NOT_YOURS = "not_yours"
    NOT_IN_POOL = "not_in_pool"


class AnswerResult(enum.StrEnum):
    """What answering a request did."""

    INTRODUCED = "introduced"
    DECLINED = "declined"
    ALREADY_INTRODUCED = "already_introduced"
    ALREADY_ANSWERED = "already_answered"
    EXPIRED = "expired"
    UNAVAILABLE = "unavailable"
    NOT_YOURS = "not_yours"
    NOT_IN_POOL = "not_in_pool"


@dataclass(frozen=True)
class Person:
    """One side of an introduction, as the handler needs it to write to her."""

    resident_id: int
    telegram_user_id: int
    display_name: str
    ward_code: str | None
    due_date: dt.date | None
    language_code: str


@dataclass(frozen=True)
class Introduction:
    """A request (or a made introduction) and the two people in it."""

    id: int
    requester: Person
    recipient: Person
    status: IntroductionStatus
    # When this request was made: a pair asked again after a cancellation keeps its row id.
    created_at: dt.datetime

    def other(self, resident_id: int) -> Person:
        """The person who is not her."""
        return self.recipient if self.requester.resident_id == resident_id else self.requester


@dataclass(frozen=True)
class Hello:
    """The outcome of a 'Say hello' and, when something happened, the introduction."""

    result: HelloResult
    introduction: Introduction | None = None


@dataclass(frozen=True)
class Answer:
    """The outcome of a yes or no and, when something happened, the introduction."""

    result: AnswerResult
    introduction: Introduction | None = None


def _person(resident: Resident) -> Person:
    return Person(
        resident_id=resident.id,
        telegram_user_id=resident.telegram_user_id,
        display_name=resident.display_name or "",
        ward_code=resident.ward_code,
        due_date=resident.due_date,
        language_code=resident.language_code,
    )


def pair_key(a: int, b: int) -> str:
    """The unique key of a pair of residents, whichever way round."""
    low, high = sorted((a, b))
    return f"{low}:{high}"


async def by_telegram(session: AsyncSession, telegram_user_id: int) -> Resident | None:
    """Her resident row, if she has one."""
    result = await session.scalars(
        select(Resident).where(Resident.telegram_user_id == telegram_user_id)
    )
    return result.one_or_none()


async def _view(session: AsyncSession, intro_id: int) -> Introduction:
    intro = await session.get(MatchIntroduction, intro_id, populate_existing=True)
    assert intro is not None
    requester = await session.get(Resident, intro.requester_id)
    recipient = await session.get(Resident, intro.recipient_id)
    assert requester is not None and recipient is not None
    return Introduction(
        intro.id, _person(requester), _person(recipient), intro.status, intro.created_at
    )


async def _pair_row(session: AsyncSession, a: int, b: int) -> MatchIntroduction | None:
    result = await session.scalars(
        select(MatchIntroduction)
        .where(MatchIntroduction.pair_key == pair_key(a, b))
        .execution_options(populate_existing=True)
    )
    return result.one_or_none()


async def _barred_by_safety(session: AsyncSession, a: int, b: int) -> bool:
    """Either blocked or reported the other."""
    both = (a, b)
    blocked = await session.scalar(
        select(exists().where(MatchBlock.blocker_id.in_(both), MatchBlock.blocked_id.in_(both)))
    )
    reported = await session.scalar(
        select(exists().where(MatchReport.reporter_id.in_(both), MatchReport.reported_id.in_(both)))
    )
    return bool(blocked or reported)


def _both_in_pool() -> Any:
    requester, recipient = aliased(Resident), aliased(Resident)
    return and_(
        exists()
        .where(requester.id == MatchIntroduction.requester_id)
        .where(in_pool_clause(requester)),
        exists()
        .where(recipient.id == MatchIntroduction.recipient_id)
        .where(in_pool_clause(recipient)),
    )


async def _accept(
    session: AsyncSession, intro_id: int, recipient_id: int, now: dt.datetime
) -> bool:
    """requested → introduced, only if still open and both still want matching."""
    introduced = await session.execute(
        update(MatchIntroduction)
        .where(
            MatchIntroduction.id == intro_id,
            MatchIntroduction.recipient_id == recipient_id,
            MatchIntroduction.status == IntroductionStatus.REQUESTED,
            MatchIntroduction.expires_at > now,
            _both_in_pool(),
        )
        .values(status=IntroductionStatus.INTRODUCED, decided_at=now)
        .returning(MatchIntroduction.requester_id)
    )
    requester_id = introduced.scalar_one_or_none()
    if requester_id is None:
        return False
    # A week on, each of them may be asked how it went (only with the feedback consent).
    for resident_id in (requester_id, recipient_id):
        await note_feedback_moment(session, resident_id, FeedbackMoment.AFTER_INTRODUCTION, now)
    return True


def _insert_ignoring_conflict(session: AsyncSession, values: dict[str, Any]) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return (
            postgresql.insert(MatchIntroduction)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["pair_key"])
        )
    if dialect == "sqlite":
        return (
            sqlite.insert(MatchIntroduction)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["pair_key"])
        )
    return insert(MatchIntroduction).values(**values)  # pragma: no cover - other databases


async def _open_request(
    session: AsyncSession, me: int, other: int, now: dt.datetime, rules: MatchRules
) -> int | None:
    """A new request from me to her; None if a row for the pair appeared meanwhile."""
    values: dict[str, Any] = {
        "requester_id": me,
        "recipient_id": other,
        "pair_key": pair_key(me, other),
        "status": IntroductionStatus.REQUESTED,
        "created_at": now,
        "expires_at": now + dt.timedelta(days=rules.reply_days),
        "decided_at": None,
        "request_message_id": None,
        "requester_intro_message_id": None,
        "recipient_intro_message_id": None,
    }
    inserted = await session.execute(
        _insert_ignoring_conflict(session, values).returning(MatchIntroduction.id)
    )
    created = inserted.scalar_one_or_none()
    if created is not None:
        return int(created)
    # A pair whose earlier request was cancelled (a withdrawal since undone) may try again.
    revived = await session.execute(
        update(MatchIntroduction)
        .where(
            MatchIntroduction.pair_key == values["pair_key"],
            MatchIntroduction.status == IntroductionStatus.CANCELLED,
        )
        .values(**values)
        .returning(MatchIntroduction.id)
    )
    found = revived.scalar_one_or_none()
    return int(found) if found is not None else None


async def _settle(
    session: AsyncSession, me: int, row: MatchIntroduction, now: dt.datetime
) -> Hello | None:
    """What a hello means for a pair that already has a live row; None if it has none."""
    if row.status is IntroductionStatus.CANCELLED:
        return None
    if row.status is IntroductionStatus.INTRODUCED:
        return Hello(HelloResult.ALREADY_INTRODUCED, await _view(session, row.id))
    if row.status is IntroductionStatus.REQUESTED and row.expires_at > now:
        if row.requester_id == me:
            return Hello(HelloResult.ALREADY_REQUESTED, await _view(session, row.id))
        if await _accept(session, row.id, me, now):
            return Hello(HelloResult.INTRODUCED, await _view(session, row.id))
    return Hello(HelloResult.UNAVAILABLE)


async def _close_suggestion(
    session: AsyncSession, suggestion_id: int, status: SuggestionStatus
) -> None:
    await session.execute(
        update(MatchSuggestion)
        .where(MatchSuggestion.id == suggestion_id, MatchSuggestion.status == SuggestionStatus.OPEN)
        .values(status=status)
    )


async def say_hello(
    session: AsyncSession,
    telegram_user_id: int,
    suggestion_id: int,
    now: dt.datetime,
    rules: MatchRules,
    neighbours: WardNeighbours,
) -> Hello:
    """She pressed 'Say hello' on a suggestion card."""
    me = await by_telegram(session, telegram_user_id)
    suggestion = await session.get(MatchSuggestion, suggestion_id)
    if me is None or suggestion is None or suggestion.viewer_id != me.id:
        return Hello(HelloResult.NOT_YOURS)
    if not pool_member(me).in_pool:
        return Hello(HelloResult.NOT_IN_POOL)
    other = await session.get(Resident, suggestion.candidate_id)
    assert other is not None  # the card goes with her row
    row = await _pair_row(session, me.id, other.id)
    if suggestion.status is SuggestionStatus.TAKEN and row is not None:
        settled = await _settle(session, me.id, row, now)
        return settled or Hello(HelloResult.UNAVAILABLE)
    if suggestion.status is SuggestionStatus.WITHDRAWN:
        return Hello(HelloResult.UNAVAILABLE)
    if suggestion.status is not SuggestionStatus.OPEN or suggestion.expires_at <= now:
        return Hello(HelloResult.EXPIRED)
    await session.execute(update(Resident).where(Resident.id == me.id).values(last_active_at=now))
    if row is not None:
        settled = await _settle(session, me.id, row, now)
        if settled is not None:
            unavailable = settled.result is HelloResult.UNAVAILABLE
            closed = SuggestionStatus.WITHDRAWN if unavailable else SuggestionStatus.TAKEN
            await _close_suggestion(session, suggestion.id, closed)
            return settled
    barred = {pair(me.id, other.id)} if await _barred_by_safety(session, me.id, other.id) else set()
    if not eligible(pool_member(me), pool_member(other), rules, neighbours, barred):
        await _close_suggestion(session, suggestion.id, SuggestionStatus.WITHDRAWN)
        return Hello(HelloResult.UNAVAILABLE)
    created = await _open_request(session, me.id, other.id, now, rules)
    await _close_suggestion(session, suggestion.id, SuggestionStatus.TAKEN)
    if created is None:
        # She said hello to me at the same moment: one row won, and this hello settles on it.
        row = await _pair_row(session, me.id, other.id)
        assert row is not None
        return await _settle(session, me.id, row, now) or Hello(HelloResult.UNAVAILABLE)
    return Hello(HelloResult.REQUESTED, await _view(session, created))


async def answer_request(
    session: AsyncSession, telegram_user_id: int, intro_id: int, accept: bool, now: dt.datetime
) -> Answer:
    """She answered a request addressed to her."""
    me = await by_telegram(session, telegram_user_id)
    intro = await session.get(MatchIntroduction, intro_id)
    if me is None or intro is None or intro.recipient_id != me.id:
        return Answer(AnswerResult.NOT_YOURS)
    if accept and not pool_member(me).in_pool:
        return Answer(AnswerResult.NOT_IN_POOL)
    await session.execute(update(Resident).where(Resident.id == me.id).values(last_active_at=now))
    if accept:
        if await _accept(session, intro.id, me.id, now):
            return Answer(AnswerResult.INTRODUCED, await _view(session, intro.id))
    else:
        declined = await session.execute(
            update(MatchIntroduction)
            .where(
                MatchIntroduction.id == intro.id,
                MatchIntroduction.status == IntroductionStatus.REQUESTED,
                MatchIntroduction.expires_at > now,
            )
            .values(status=IntroductionStatus.DECLINED, decided_at=now)
            .returning(MatchIntroduction.requester_id)
        )
        requester_id = declined.scalar_one_or_none()
        if requester_id is not None:
            owe(session, requester_id, OutboxKind.NOT_THIS_TIME)
            return Answer(AnswerResult.DECLINED, await _view(session, intro.id))
    current = await session.get(MatchIntroduction, intro.id, populate_existing=True)
    assert current is not None
    if current.status is IntroductionStatus.INTRODUCED:
        return Answer(AnswerResult.ALREADY_INTRODUCED, await _view(session, intro.id))
    if current.status is IntroductionStatus.DECLINED:
        return Answer(AnswerResult.ALREADY_ANSWERED)
    if current.status is IntroductionStatus.REQUESTED and current.expires_at <= now:
        return Answer(AnswerResult.EXPIRED)
    if current.status is IntroductionStatus.EXPIRED:
        return Answer(AnswerResult.EXPIRED)
    return Answer(AnswerResult.UNAVAILABLE)


async def record_request_message(session: AsyncSession, intro_id: int, message_id: int) -> None:
    """Where the request was shown, so it can be taken back if the requester leaves."""
    await session.execute(
        update(MatchIntroduction)
        .where(MatchIntroduction.id == intro_id)
        .values(request_message_id=message_id)
    )


async def record_introduction_messages(
    session: AsyncSession,
    intro_id: int,
    requester_message: int | None,
    recipient_message: int | None,
) -> None:
    """Where each side got the other's contact, so it can be taken back on erasure."""
    await session.execute(
        update(MatchIntroduction)
        .where(MatchIntroduction.id == intro_id)
        .values(
            requester_intro_message_id=requester_message,
            recipient_intro_message_id=recipient_message,
        )
    )


async def expire_requests(session: AsyncSession, now: dt.datetime, limit: int = 200) -> int:
    """Unanswered requests past their time end; the requester hears 'not this time'."""
    due = list(
        await session.scalars(
            select(MatchIntroduction.id)
            .where(
                MatchIntroduction.status == IntroductionStatus.REQUESTED,
                MatchIntroduction.expires_at <= now,
            )
            .order_by(MatchIntroduction.expires_at)
            .limit(limit)
        )
    )
    if not due:
        return 0
    expired = await session.execute(
        update(MatchIntroduction)
        .where(
            MatchIntroduction.id.in_(due),
            MatchIntroduction.status == IntroductionStatus.REQUESTED,
        )
        .values(status=IntroductionStatus.EXPIRED, decided_at=now)
        .returning(
            MatchIntroduction.id,
            MatchIntroduction.created_at,
            MatchIntroduction.requester_id,
            MatchIntroduction.recipient_id,
            MatchIntroduction.request_message_id,
        )
    )
    count = 0
    for intro_id, created_at, requester_id, recipient_id, message_id in expired.all():
        owe(session, requester_id, OutboxKind.NOT_THIS_TIME)
        await take_back_request(session, recipient_id, intro_id, created_at, message_id)
        count += 1
    return count


@dataclass(frozen=True)
class MyMatches:
    """Her introductions and what is still open, each with the other person's details."""

    introduced: list[Introduction]
    waiting_for_them: list[Introduction]
    waiting_for_her: list[Introduction]


async def my_matches(session: AsyncSession, resident_id: int, now: dt.datetime) -> MyMatches:
    """/mymatches: introductions first, then requests still waiting on either side."""
    mine = or_(
        MatchIntroduction.requester_id == resident_id,
        MatchIntroduction.recipient_id == resident_id,
    )
    ended_by_her = select(MatchBlock.blocked_id).where(MatchBlock.blocker_id == resident_id)
    rows = await session.scalars(
        select(MatchIntroduction)
        .where(
            mine,
            or_(
                MatchIntroduction.status == IntroductionStatus.INTRODUCED,
                (MatchIntroduction.status == IntroductionStatus.REQUESTED)
                & (MatchIntroduction.expires_at > now),
            ),
            MatchIntroduction.requester_id.not_in(ended_by_her),
            MatchIntroduction.recipient_id.not_in(ended_by_her),
        )
        .order_by(MatchIntroduction.id.desc())
    )
    found = MyMatches([], [], [])
    for row in rows.all():
        view = await _view(session, row.id)
        if row.status is IntroductionStatus.INTRODUCED:
            found.introduced.append(view)
        elif row.requester_id == resident_id:
            found.waiting_for_them.append(view)
        else:
            found.waiting_for_her.append(view)
    return found
