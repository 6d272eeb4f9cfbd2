"""Finding mums-to-be near her and due around the same time, and showing them as suggestions."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    bindparam,
    func,
    literal_column,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.matching.rules import MatchRules, PoolMember, WardNeighbours, rank_key
from bot.services.matching.safety import withdraw_from_matching
from models import (
    IntroductionStatus,
    MatchBlock,
    MatchIntroduction,
    MatchReport,
    MatchSuggestion,
    Resident,
    ResidentStatus,
    SuggestionStatus,
    UTCDateTime,
)


@dataclass(frozen=True)
class Candidate:
    """Someone she could meet, with what ranked her; only display details leave the service."""

    resident_id: int
    display_name: str
    ward_code: str
    due_date: dt.date
    same_ward: bool
    gap_days: int
    distance_km: float
    active_at: dt.datetime

    def key(self) -> tuple[bool, int, float, float, int]:
        """Her place in the ranking."""
        return rank_key(
            self.same_ward, self.gap_days, self.distance_km, self.active_at, self.resident_id
        )


@dataclass(frozen=True)
class Suggested:
    """A candidate shown to her, and the suggestion row its buttons point at."""

    suggestion_id: int
    candidate: Candidate


def pool_member(resident: Resident) -> PoolMember:
    """The facts eligibility reads, from her row."""
    return PoolMember(
        id=resident.id,
        active=resident.status is ResidentStatus.ACTIVE,
        # Other mums see her by her chosen name: without one she isn't suggested yet.
        matching_consent=resident.matching_consent and resident.display_name is not None,
        ward_code=resident.ward_code,
        due_date=resident.due_date,
    )


def in_pool_clause(resident: Any = Resident) -> Any:
    """SQL for PoolMember.in_pool, for residents (or an alias of them) in a query."""
    return (
        (resident.matching_consent == True)  # noqa: E712  (an index column: `= true`, not IS)
        & (resident.status == ResidentStatus.ACTIVE)
        & resident.ward_code.is_not(None)
        & resident.due_date.is_not(None)
        & resident.display_name.is_not(None)
        & still_welcome(resident)
    )


def still_welcome(resident: Any = Resident) -> Any:
    """SQL: nothing (a suspension, her pregnancy ending) has taken her out of matching."""
    return resident.matching_paused_at.is_(None)


async def pause_matching(session: AsyncSession, resident_id: int, now: dt.datetime) -> None:
    """Take her out of every list and introduction, and end her open proposals."""
    await session.execute(
        update(Resident)
        .where(Resident.id == resident_id, Resident.matching_paused_at.is_(None))
        .values(matching_paused_at=now)
    )
    await withdraw_from_matching(session, resident_id, now)


def _barred_partners_query(me: Any) -> Any:
    """Everyone she must never be suggested to or with, whichever side acted."""
    intro = MatchIntroduction
    # A cancelled request (withdrawn consent, a block) does not bar; every other state does.
    barring = intro.status != IntroductionStatus.CANCELLED
    return union_all(
        select(intro.recipient_id.label("partner")).where(intro.requester_id == me, barring),
        select(intro.requester_id).where(intro.recipient_id == me, barring),
        select(MatchBlock.blocked_id).where(MatchBlock.blocker_id == me),
        select(MatchBlock.blocker_id).where(MatchBlock.blocked_id == me),
        select(MatchReport.reported_id).where(MatchReport.reporter_id == me),
        select(MatchReport.reporter_id).where(MatchReport.reported_id == me),
    )


def _activity() -> Any:
    return func.coalesce(Resident.last_active_at, Resident.created_at)


def _open_proposals() -> Any:
    """How many open suggestions and unanswered requests she is in right now."""
    now = bindparam("now", type_=UTCDateTime())
    shown = (
        select(func.count())
        .select_from(MatchSuggestion)
        .where(
            MatchSuggestion.candidate_id == Resident.id,
            MatchSuggestion.status == SuggestionStatus.OPEN,
            MatchSuggestion.expires_at > now,
        )
        .scalar_subquery()
    )
    asked = (
        select(func.count())
        .select_from(MatchIntroduction)
        .where(
            MatchIntroduction.recipient_id == Resident.id,
            MatchIntroduction.status == IntroductionStatus.REQUESTED,
            MatchIntroduction.expires_at > now,
        )
        .scalar_subquery()
    )
    return shown + asked


def _nearest_in_ward(
    index: int, later: bool, barred: Any, limit: int | None, fair: bool
) -> Select[Any]:
    """Ward-mates of ward number `index` due on or after (or before) her date, nearest first.

    Each part walks ix_residents_match_pool from her due date outwards and stops at the limit,
    so the work stays the same however many residents there are.
    """
    query = select(
        Resident.id,
        Resident.display_name,
        Resident.ward_code,
        Resident.due_date,
        _activity().label("active_at"),
    ).where(
        Resident.ward_code == bindparam(f"ward_{index}"),
        Resident.matching_consent == True,  # noqa: E712  (an index column: `= true`, not IS)
        Resident.status == ResidentStatus.ACTIVE,
        Resident.id != bindparam("me"),
        Resident.id.not_in(select(barred.c.partner)),
        still_welcome(),
    )
    if later:
        query = query.where(
            Resident.due_date >= bindparam("due"), Resident.due_date <= bindparam("latest")
        ).order_by(Resident.due_date.asc())
    else:
        query = query.where(
            Resident.due_date < bindparam("due"), Resident.due_date >= bindparam("earliest")
        ).order_by(Resident.due_date.desc())
    if fair:
        query = query.where(_open_proposals() < bindparam("cap"))
    query = query.order_by(_activity().desc(), Resident.id)
    # A literal LIMIT: PostgreSQL's cached generic plan for a prepared statement must know it is
    # small, or it sorts the whole window instead of walking the index and stopping early.
    return query.limit(literal_column(str(limit))) if limit is not None else query


@functools.lru_cache(maxsize=128)
def _candidate_statement(wards: int, limit: int | None, fair: bool) -> Any:
    """One round trip for `wards` wards, built once per shape and reused.

    Her barred partners are worked out once (a CTE used by every part), not once per ward.
    """
    barred = _barred_partners_query(bindparam("me")).cte("barred")
    parts = [
        _nearest_in_ward(index, later, barred, limit, fair).subquery()
        for index in range(wards)
        for later in (True, False)
    ]
    return union_all(*(select(*part.c) for part in parts))


async def _nearest(
    session: AsyncSession,
    member: PoolMember,
    wards: Sequence[tuple[float, str]],
    now: dt.datetime,
    rules: MatchRules,
    limit: int | None,
    fair: bool,
) -> list[Candidate]:
    assert member.ward_code is not None and member.due_date is not None
    window = dt.timedelta(days=rules.window_days)
    params: dict[str, Any] = {
        "me": member.id,
        "due": member.due_date,
        "earliest": member.due_date - window,
        "latest": member.due_date + window,
        "now": now,
        "cap": rules.max_open_per_person,
    }
    params.update({f"ward_{i}": code for i, (_, code) in enumerate(wards)})
    statement = _candidate_statement(len(wards), limit, fair)
    # Core, not ORM, execution: these are plain rows, and the ORM layer would add a third again.
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # asyncpg prepares statements, and after five runs PostgreSQL may switch to one generic
        # plan that cannot see the window is small: it then sorts every row in the window
        # (about 300 per ward at 1M residents) instead of walking the index and stopping at the
        # limit. Planning for the actual values costs about half a millisecond; the generic plan
        # cost three.
        await connection.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    rows = await connection.execute(statement, params)
    distances = {code: km for km, code in wards}
    return [
        Candidate(
            resident_id=row.id,
            display_name=row.display_name or "",
            ward_code=row.ward_code,
            due_date=row.due_date,
            same_ward=row.ward_code == member.ward_code,
            gap_days=abs((row.due_date - member.due_date).days),
            distance_km=distances[row.ward_code],
            active_at=_aware(row.active_at),
        )
        for row in rows
    ]


async def find_candidates(
    session: AsyncSession,
    resident_id: int,
    now: dt.datetime,
    rules: MatchRules,
    neighbours: WardNeighbours,
    *,
    limit: int | None = None,
    fair: bool = True,
) -> list[Candidate]:
    """The best `limit` people for her, best first; everyone eligible when limit is None.

    `fair` leaves out people already in as many open suggestions and requests as the cap allows.
    """
    me = (
        await (await session.connection()).execute(
            select(
                Resident.id,
                Resident.status,
                Resident.matching_consent,
                Resident.ward_code,
                Resident.due_date,
            ).where(Resident.id == resident_id, in_pool_clause())
        )
    ).one_or_none()
    if me is None:
        # Unknown or out of the pool (suspended, pregnancy ended, no consent): no suggestions.
        return []
    member = PoolMember(
        id=me.id,
        active=me.status is ResidentStatus.ACTIVE,
        matching_consent=me.matching_consent,
        ward_code=me.ward_code,
        due_date=me.due_date,
    )
    if not member.in_pool:
        return []
    assert member.ward_code is not None
    nearby = neighbours.around(member.ward_code)
    # The best `limit` overall are among the best `limit` of each ward in each direction, so
    # asking each ward for that many is enough to rank exactly. Her own ward ranks first, so
    # when it alone has enough, the wards around it need not be asked at all.
    own, others = nearby[:1], nearby[1:]
    found = await _nearest(session, member, own, now, rules, limit, fair)
    if others and (limit is None or len(found) < limit):
        found += await _nearest(session, member, others, now, rules, limit, fair)
    found.sort(key=Candidate.key)
    return found if limit is None else found[:limit]


def _aware(value: dt.datetime | str) -> dt.datetime:
    # coalesce() loses the column type, so SQLite hands back its stored text.
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


async def touch(session: AsyncSession, resident_id: int, now: dt.datetime) -> None:
    """She just used matching: equally good candidates who are active come first."""
    await session.execute(
        update(Resident).where(Resident.id == resident_id).values(last_active_at=now)
    )


async def shown_now(
    session: AsyncSession,
    resident_id: int,
    now: dt.datetime,
    rules: MatchRules,
    neighbours: WardNeighbours,
) -> list[Candidate]:
    """Who /match would show her right now: the one rule for "she will see them"."""
    return await find_candidates(session, resident_id, now, rules, neighbours, limit=rules.shown)


async def suggest(
    session: AsyncSession,
    resident_id: int,
    now: dt.datetime,
    rules: MatchRules,
    neighbours: WardNeighbours,
) -> list[Suggested]:
    """Fresh suggestions for her: earlier unanswered cards lapse, the best candidates are shown."""
    await session.execute(
        update(MatchSuggestion)
        .where(
            MatchSuggestion.viewer_id == resident_id,
            MatchSuggestion.status == SuggestionStatus.OPEN,
        )
        .values(status=SuggestionStatus.LAPSED)
    )
    await touch(session, resident_id, now)
    candidates = await shown_now(session, resident_id, now, rules, neighbours)
    rows = [
        MatchSuggestion(
            viewer_id=resident_id,
            candidate_id=c.resident_id,
            status=SuggestionStatus.OPEN,
            created_at=now,
            expires_at=now + dt.timedelta(days=rules.suggestion_days),
        )
        for c in candidates
    ]
    session.add_all(rows)
    await session.flush()
    return [Suggested(row.id, c) for row, c in zip(rows, candidates, strict=True)]


async def record_card(session: AsyncSession, suggestion_id: int, message_id: int) -> None:
    """Remember where a card was shown, so it can be taken back if the candidate leaves."""
    await session.execute(
        update(MatchSuggestion)
        .where(MatchSuggestion.id == suggestion_id)
        .values(card_message_id=message_id)
    )


async def set_matching_consent(
    session: AsyncSession, resident: Resident, granted: bool, now: dt.datetime
) -> None:
    """Keep the pool flag in step with her latest matching choice, in the same transaction.

    Withdrawing takes her out of every candidate list at once and ends what is still open.
    """
    resident.matching_consent = granted
    if granted:
        resident.last_active_at = now
    else:
        await session.flush()
        await withdraw_from_matching(session, resident.id, now)
