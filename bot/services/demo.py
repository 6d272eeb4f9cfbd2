"""`bumpbuddies demo`: a year of synthetic use, played through the bot's own services.

Residents sign up with their consents recorded as the bot records them, change their minds in
/privacy, say hello to suggestions and answer requests, rate the service; midwives make join
links; broadcasters send broadcasts; the daily plan queues week messages, and a pretend Telegram
takes (nearly) every message. Each step happens at its own moment, oldest first, so the
database looks like a year of real use and reports, charts and staff tools have data to show.
Only the sending itself is pretend; the plans come from `bot/services/synthetic.py`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import create_engine, create_sessionmaker
from bot.delivery import queue
from bot.services import feedback
from bot.services.local_info import planning
from bot.services.local_info.content import ContentSet, store_content
from bot.services.matching import introductions as matching_introductions
from bot.services.matching import suggestions as matching
from bot.services.matching.rules import MatchRules, WardNeighbours, ward_neighbours
from bot.services.places.geo import Gazetteer
from bot.services.residents import profile as residents
from bot.services.residents.consent import ConsentContext, Controller, current_consents
from bot.services.residents.safeguarding import SafeguardingKey
from bot.services.staff import accounts as staff
from bot.services.staff import broadcasts, join_links
from bot.services.synthetic import FeedbackPlan, ResidentPlan, plan_population
from bot.texts import catalogue
from models import (
    OPTIONAL_PURPOSES,
    BroadcastPurpose,
    ConsentPurpose,
    DeliveryStatus,
    FeedbackMoment,
    IntroductionStatus,
    MatchIntroduction,
    Resident,
    StaffMember,
    StaffRole,
)

Sessions = async_sessionmaker[AsyncSession]
# Staff who are not the admin are made-up people: ids no real Telegram account is given to us.
STAFF_IDS = {"broadcaster": 8_000_000_101, "midwife_1": 8_000_000_102, "midwife_2": 8_000_000_103}
MODERATOR_ID = 8_000_000_104
CLINICS = (
    ("Chelmsford Community Midwives", "E07000070", "midwife_1"),
    ("Colchester Hospital Antenatal Clinic", "E07000071", "midwife_1"),
    ("Basildon Birth Centre", "E07000066", "midwife_2"),
    ("Southend Community Midwives", "E06000033", "midwife_2"),
)
# (days after the start, kind, districts or None for everyone, text)
BROADCASTS = (
    (40, BroadcastPurpose.LOCAL_INFO, None, "Free antenatal yoga at family hubs this month."),
    (95, BroadcastPurpose.LOCAL_INFO, ("E07000070",), "New baby café at Chelmsford library."),
    (150, BroadcastPurpose.SERVICE, None, "We've updated our privacy notice: see /privacy."),
    (210, BroadcastPurpose.LOCAL_INFO, None, "Flu jabs are free in pregnancy: ask your GP."),
    (265, BroadcastPurpose.LOCAL_INFO, ("E07000071", "E07000066"), "Infant feeding drop-ins."),
    (320, BroadcastPurpose.LOCAL_INFO, None, "Winter wellbeing walks for mums-to-be."),
)  # fmt: skip
FAILED_SHARE = 0.01  # of sends, Telegram times out and the engine gives up after its retries
LEASE = dt.timedelta(minutes=5)


@dataclass
class DemoSummary:
    """What the demo made, for the command line to say."""

    residents: int = 0
    consent_changes: int = 0
    suggestions: int = 0
    introductions: Counter[str] = field(default_factory=Counter)
    ratings: int = 0
    comments: int = 0
    broadcasts: int = 0
    sent: int = 0
    failed: int = 0
    staff: int = 0
    join_links: int = 0


@dataclass(frozen=True)
class _World:
    sessions: Sessions
    gazetteer: Gazetteer
    content: ContentSet
    zone: ZoneInfo
    rules: MatchRules
    neighbours: WardNeighbours
    notice_version: str
    rng: random.Random
    summary: DemoSummary
    key: SafeguardingKey
    council: str

    @property
    def controller(self) -> Controller:
        """The council as its consent receipts name it (demo residents never see a notice URL)."""
        return Controller(name=self.council, contact="", notice_url="")


Step = Callable[[AsyncSession], Awaitable[None]]


class _Timeline:
    """Steps in time order; a step may add later ones (an answer to a request, say)."""

    def __init__(self, end: dt.datetime) -> None:
        self.end = end
        self._heap: list[tuple[dt.datetime, int, Step]] = []
        self._order = 0

    def at(self, when: dt.datetime, step: Step) -> None:
        if when < self.end:
            self._order += 1
            heapq.heappush(self._heap, (when, self._order, step))

    async def run(self, sessions: Sessions, zone: ZoneInfo) -> None:
        """Each day's steps in one transaction: a year is a few hundred commits, not thousands."""
        while self._heap:
            day = self._heap[0][0].astimezone(zone).date()
            async with sessions() as session, session.begin():
                while self._heap and self._heap[0][0].astimezone(zone).date() == day:
                    _, _, step = heapq.heappop(self._heap)
                    await step(session)


def _local(day: dt.date, hour: int, minute: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), zone).astimezone(dt.UTC)


def _evidence(
    world: _World, at: dt.datetime, key: str, method: str, source: str | None
) -> ConsentContext:
    return ConsentContext(
        notice_version=world.notice_version,
        shown_text=catalogue("en").raw(key),
        method=method,
        source=source,
        now=at,
        language="en",
        controller=world.controller,
    )


async def _deliver(world: _World, session: AsyncSession, now: dt.datetime) -> None:
    """The pretend Telegram: every due message is taken, but for the odd timeout."""
    claimed = await queue.claim(session, "demo", now, 1_000_000, LEASE)
    failed = [c.id for c in claimed if world.rng.random() < FAILED_SHARE]
    sent = [(c.id, 1000 + c.id) for c in claimed if c.id not in failed]
    await queue.record_sent(session, sent, now)
    await queue.settle(session, failed, DeliveryStatus.FAILED, now, error="Timed out (demo)")
    world.summary.sent += len(sent)
    world.summary.failed += len(failed)


async def _make_staff(
    session: AsyncSession, now: dt.datetime, admin_telegram_id: int | None
) -> dict[str, StaffMember]:
    members = {
        name: await staff.add_staff(session, telegram_id, role, now)
        for name, telegram_id, role in (
            ("broadcaster", STAFF_IDS["broadcaster"], StaffRole.BROADCASTER),
            ("midwife_1", STAFF_IDS["midwife_1"], StaffRole.MIDWIFE),
            ("midwife_2", STAFF_IDS["midwife_2"], StaffRole.MIDWIFE),
            ("moderator", MODERATOR_ID, StaffRole.MODERATOR),
        )
    }
    if admin_telegram_id is not None:
        members["admin"] = await staff.add_staff(session, admin_telegram_id, StaffRole.ADMIN, now)
    return members


def _signup(world: _World, plan: ResidentPlan, source: str | None, timeline: _Timeline) -> Step:
    async def step(session: AsyncSession) -> None:
        at, tg = plan.joined_at, plan.telegram_user_id
        evidence = _evidence(world, at, "consent.health", "button:ob:consent:health:yes", source)
        await residents.start_signup(session, tg, "en", evidence, world.key)
        for purpose in OPTIONAL_PURPOSES:
            granted = plan.consents[purpose]
            method = f"button:ob:consent:{purpose.value}:{'yes' if granted else 'no'}"
            shown = f"consent.{purpose.value}"
            await residents.set_consent(
                session, tg, purpose, granted, _evidence(world, at, shown, method, source)
            )
        await residents.set_due_date(session, tg, plan.due_date, at)
        ward = plan.ward
        await residents.set_ward(session, tg, ward.code, ward.district_code, at)
        await residents.set_display_name(session, tg, plan.display_name, at)
        assert await residents.complete_signup(session, tg, at)
        world.summary.residents += 1

    for when, purpose, granted in plan.changes:
        timeline.at(when, _consent_change(world, plan, when, purpose, granted))
    for answer in plan.feedback:
        timeline.at(answer.at, _feedback(world, plan, answer))
    if plan.says_hello_at is not None:
        timeline.at(plan.says_hello_at, _hello(world, plan, plan.says_hello_at, timeline))
    if plan.blocks_bot_at is not None:
        blocked = plan.blocks_bot_at

        async def block(session: AsyncSession) -> None:
            await queue.mark_unreachable(session, plan.telegram_user_id, blocked)

        timeline.at(blocked, block)
    return step


def _consent_change(
    world: _World, plan: ResidentPlan, at: dt.datetime, purpose: ConsentPurpose, granted: bool
) -> Step:
    async def step(session: AsyncSession) -> None:
        method = f"button:pv:{purpose.value}:{'on' if granted else 'off'}"
        evidence = _evidence(world, at, "privacy.choices", method, "privacy")
        if await residents.set_consent(session, plan.telegram_user_id, purpose, granted, evidence):
            world.summary.consent_changes += 1

    return step


def _feedback(world: _World, plan: ResidentPlan, answer: FeedbackPlan) -> Step:
    async def step(session: AsyncSession) -> None:
        tg = plan.telegram_user_id
        if answer.moment is FeedbackMoment.TWO_WEEKS:
            resident = await residents.find_resident(session, tg)
            assert resident is not None
            consents = await current_consents(session, resident.person_ref)
            if not consents.get(ConsentPurpose.FEEDBACK):
                return  # she turned the questions off before we would have asked
        today = answer.at.astimezone(world.zone).date()
        services = world.content.services
        rated = answer.service is not None and bool(services)
        about = services[(answer.service or 0) % len(services)].id if rated else None
        response = await feedback.record_rating(
            session,
            tg,
            answer.rating,
            now=answer.at,
            today=today,
            moment=answer.moment,
            service_ref=about,
        )
        world.summary.ratings += 1
        if answer.loneliness is not None:
            await feedback.record_loneliness(session, tg, response, answer.loneliness)
        if answer.comment is not None:
            await feedback.record_comment(session, tg, answer.comment, now=answer.at)
            world.summary.comments += 1

    return step


def _hello(world: _World, plan: ResidentPlan, at: dt.datetime, timeline: _Timeline) -> Step:
    async def step(session: AsyncSession) -> None:
        resident = await residents.find_resident(session, plan.telegram_user_id)
        assert resident is not None
        shown = await matching.suggest(session, resident.id, at, world.rules, world.neighbours)
        world.summary.suggestions += len(shown)
        if not shown:
            return
        card = shown[0].suggestion_id
        hello = await matching_introductions.say_hello(
            session, plan.telegram_user_id, card, at, world.rules, world.neighbours
        )
        intro = hello.introduction
        if intro is None or intro.status is not IntroductionStatus.REQUESTED:
            return
        choice = world.rng.choices(("yes", "no", "ignore"), weights=(6, 2, 2))[0]
        if choice == "ignore":
            return  # the daily expiry ends it after the reply days
        answered = at + dt.timedelta(hours=world.rng.randrange(1, 24 * world.rules.reply_days))

        async def reply(session: AsyncSession) -> None:
            await matching_introductions.answer_request(
                session, intro.recipient.telegram_user_id, intro.id, choice == "yes", answered
            )

        timeline.at(answered, reply)

    return step


def _broadcast(
    world: _World,
    author: StaffMember,
    at: dt.datetime,
    purpose: BroadcastPurpose,
    districts: tuple[str, ...] | None,
    text: str,
) -> Step:
    async def step(session: AsyncSession) -> None:
        composed = at - dt.timedelta(minutes=20)
        draft = await broadcasts.create_draft(session, author, text, composed, paid=False)
        audience = (
            broadcasts.Audience("districts", districts) if districts else broadcasts.Audience()
        )
        broadcasts.revise(draft, composed, purpose=purpose, audience=audience.as_json())
        today = at.astimezone(world.zone).date()
        shown = await broadcasts.count_recipients(session, audience, purpose, today)
        await broadcasts.schedule(session, author, draft, at, composed, shown)
        await broadcasts.release_due(
            session, at, today, only=draft.id, texts=catalogue("en"), council=world.council
        )
        await _deliver(world, session, at)
        await broadcasts.finish(session, draft.id, at + dt.timedelta(minutes=5))
        world.summary.broadcasts += 1

    return step


def _daily(world: _World, day: dt.date) -> list[tuple[dt.datetime, Step]]:
    """What the bot's jobs do each day: expire requests, plan local information, send it."""
    planned_at = _local(day, 9, 30, world.zone)

    async def expire(session: AsyncSession) -> None:
        await matching_introductions.expire_requests(session, planned_at, limit=10_000)

    async def plan(session: AsyncSession) -> None:
        await planning.plan_day(session, planned_at, world.zone)

    async def send(session: AsyncSession) -> None:
        await _deliver(world, session, planned_at + dt.timedelta(minutes=1))

    return [(planned_at, expire), (planned_at, plan), (planned_at + dt.timedelta(minutes=1), send)]


async def fill_demo(
    sessions: Sessions,
    gazetteer: Gazetteer,
    content: ContentSet,
    *,
    end: dt.datetime,
    zone: ZoneInfo,
    rules: MatchRules,
    notice_version: str,
    count: int = 1200,
    days: int = 365,
    seed: int = 1,
    admin_telegram_id: int | None = None,
    key: SafeguardingKey,
    council: str,
) -> DemoSummary:
    """Play `count` synthetic residents' year up to `end` into an empty, migrated database."""
    population = plan_population(
        gazetteer, count=count, end=end, days=days, seed=seed, links=len(CLINICS), zone=zone
    )
    start = population.start
    summary = DemoSummary()
    world = _World(
        sessions,
        gazetteer,
        content,
        zone,
        rules,
        ward_neighbours(gazetteer, rules.distance_km),
        notice_version,
        random.Random(seed + 1),
        summary,
        key,
        council,
    )
    async with sessions() as session, session.begin():
        await store_content(session, content, gazetteer, start)
        members = await _make_staff(session, start, admin_telegram_id)
        codes = []
        for clinic, district, midwife in CLINICS:
            link = await join_links.create_join_link(
                session, clinic, district, start, created_by=members[midwife]
            )
            codes.append(link.code)
    summary.staff, summary.join_links = len(members), len(codes)

    timeline = _Timeline(end)
    for plan in population.residents:
        source = codes[plan.link] if plan.link is not None else None
        timeline.at(plan.joined_at, _signup(world, plan, source, timeline))
    for offset, purpose, districts, words in BROADCASTS:
        at = _local((start + dt.timedelta(days=offset)).date(), 10, 0, zone)
        timeline.at(at, _broadcast(world, members["broadcaster"], at, purpose, districts, words))
    for offset in range(1, days + 1):
        for when, step in _daily(world, (start + dt.timedelta(days=offset)).date()):
            timeline.at(when, step)
    await timeline.run(sessions, zone)
    summary.introductions = await _introductions(sessions)
    return summary


async def _introductions(sessions: Sessions) -> Counter[str]:
    async with sessions() as session:
        rows = await session.execute(
            select(MatchIntroduction.status, func.count()).group_by(MatchIntroduction.status)
        )
        return Counter({IntroductionStatus(status).value: n for status, n in rows})


# --- What `bumpbuddies demo` does, each on an engine of its own ------------------------------


async def has_residents(database_url: str) -> bool:
    """Whether anyone is in this database (the demo fills only an empty one)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return bool(await connection.scalar(select(func.count()).select_from(Resident)))
    finally:
        await engine.dispose()


async def empty_database(database_url: str) -> None:
    """Drop everything (SQLite: the file), so the demo starts again from nothing."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database:
            await asyncio.to_thread(Path(url.database).unlink, missing_ok=True)
        return
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def fill_demo_database(database_url: str, *args: Any, **kwargs: Any) -> DemoSummary:
    """`fill_demo` on a migrated database given by its URL."""
    engine = create_engine(database_url)
    try:
        return await fill_demo(create_sessionmaker(engine), *args, **kwargs)
    finally:
        await engine.dispose()
