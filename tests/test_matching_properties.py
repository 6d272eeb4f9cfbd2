"""Properties of the matching rules, checked on generated populations and conversations."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import aliased

from bot.clock import FixedClock
from bot.db import create_engine, create_sessionmaker
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.services.matching.rules import PoolMember, eligible, pair
from bot.services.matching.suggestions import find_candidates, pool_member, suggest
from bot.services.residents.data_rights import forget_resident
from bot.services.residents.profile import set_consent
from models import (
    ConsentPurpose,
    IntroductionStatus,
    MatchBlock,
    MatchIntroduction,
    MatchReport,
    Resident,
    ResidentStatus,
)
from tests.conftest import DEFAULT_NOW
from tests.database import fresh_database
from tests.factories import TEST_KEY, consent_evidence
from tests.harness import BotHarness
from tests.test_matching_support import (
    CASTLE,
    CENTRAL,
    DUE,
    RULES,
    ST_ANDREWS,
    TRINITY,
    Sessions,
    cards,
    join,
    knows_contact_of,
    mum,
    neighbours,
    requests,
    run_matching_job,
)

NOW = DEFAULT_NOW
WARDS = (CENTRAL, TRINITY, ST_ANDREWS, CASTLE)
SLOW = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

members = st.builds(
    PoolMember,
    id=st.integers(1, 40),
    active=st.booleans(),
    matching_consent=st.booleans(),
    ward_code=st.sampled_from((*WARDS, None)),
    due_date=st.one_of(st.none(), st.dates(DUE - dt.timedelta(days=60), DUE + dt.timedelta(60))),
)


@settings(deadline=None)
@given(members, members, st.sets(st.tuples(st.integers(1, 40), st.integers(1, 40)), max_size=5))
def test_eligibility_is_the_same_both_ways_round(
    a: PoolMember, b: PoolMember, barred_pairs: set[tuple[int, int]]
) -> None:
    barred = {pair(x, y) for x, y in barred_pairs}
    assert eligible(a, b, RULES, neighbours(), barred) == eligible(
        b, a, RULES, neighbours(), barred
    )


@dataclasses.dataclass(frozen=True)
class Person:
    """A generated resident."""

    ward: str
    due_offset: int
    consent: bool
    active: bool


# Mostly people who can be matched, so the rules that keep them apart are what gets tested.
mostly = st.sampled_from((True, True, True, False))
people = st.lists(
    st.builds(
        Person,
        ward=st.sampled_from((CENTRAL, CENTRAL, TRINITY, ST_ANDREWS, CASTLE)),
        due_offset=st.integers(-35, 35),
        consent=mostly,
        active=mostly,
    ),
    min_size=3,
    max_size=8,
)
# (kind, who, whom): pair history and actions over the generated people, by index.
actions = st.lists(
    st.tuples(
        st.sampled_from(
            (
                "block",
                "report",
                "withdraw",
                "regrant",
                "erase",
                *(s.value for s in IntroductionStatus),
            )
        ),
        st.integers(0, 8),
        st.integers(0, 8),
    ),
    max_size=10,
)


async def _populate(sessions: Sessions, crowd: list[Person]) -> list[Resident]:
    made = []
    for person in crowd:
        made.append(
            await mum(
                sessions,
                NOW,
                ward=person.ward,
                due=DUE + dt.timedelta(days=person.due_offset),
                consents=person.consent,
                status=ResidentStatus.ACTIVE if person.active else ResidentStatus.ONBOARDING,
            )
        )
    return made


async def _act(
    sessions: Sessions, made: list[Resident], steps: list[tuple[str, int, int]]
) -> set[int]:
    """Apply the generated history; returns the ids erased along the way."""
    erased: set[int] = set()
    evidence = consent_evidence(NOW, "property", "privacy")
    for kind, i, j in steps:
        who, whom = made[i % len(made)], made[j % len(made)]
        if who.id in erased or whom.id in erased:
            continue
        async with sessions() as session, session.begin():
            if kind in ("withdraw", "regrant"):
                await set_consent(
                    session,
                    who.telegram_user_id,
                    ConsentPurpose.MATCHING,
                    kind == "regrant",
                    evidence,
                )
            elif kind == "erase":
                await forget_resident(session, who.telegram_user_id, TEST_KEY, NOW)
                erased.add(who.id)
            elif who.id == whom.id:
                continue
            elif kind == "block":
                if await session.get(MatchBlock, (who.id, whom.id)) is None:
                    session.add(MatchBlock(blocker_id=who.id, blocked_id=whom.id, created_at=NOW))
            elif kind == "report":
                session.add(MatchReport(reporter_id=who.id, reported_id=whom.id, created_at=NOW))
            else:
                low, high = sorted((who.id, whom.id))
                key = f"{low}:{high}"
                exists = await session.scalar(
                    select(MatchIntroduction.id).where(MatchIntroduction.pair_key == key)
                )
                if exists is None:
                    session.add(
                        MatchIntroduction(
                            requester_id=who.id,
                            recipient_id=whom.id,
                            pair_key=key,
                            status=IntroductionStatus(kind),
                            created_at=NOW,
                            expires_at=NOW + dt.timedelta(days=7),
                        )
                    )
    return erased


async def _barred(sessions: Sessions) -> set[frozenset[int]]:
    async with sessions() as session:
        blocks = await session.execute(select(MatchBlock.blocker_id, MatchBlock.blocked_id))
        reports = await session.execute(select(MatchReport.reporter_id, MatchReport.reported_id))
        intros = await session.execute(
            select(MatchIntroduction.requester_id, MatchIntroduction.recipient_id).where(
                MatchIntroduction.status != IntroductionStatus.CANCELLED
            )
        )
        return {pair(a, b) for a, b in [*blocks, *reports, *intros]}


def _in_fresh_database(template: str, folder: Path, scenario: object) -> None:
    async def run() -> None:
        url = await fresh_database(template, folder)
        engine = create_engine(url)
        try:
            await scenario(create_sessionmaker(engine))  # type: ignore[operator]
        finally:
            await engine.dispose()

    asyncio.run(run())


@SLOW
@given(crowd=people, history=actions)
def test_the_database_finds_exactly_the_eligible_and_never_the_withdrawn_blocked_or_erased(
    database_template: str,
    tmp_path_factory: pytest.TempPathFactory,
    crowd: list[Person],
    history: list[tuple[str, int, int]],
) -> None:
    async def scenario(sessions: Sessions) -> None:
        made = await _populate(sessions, crowd)
        erased = await _act(sessions, made, history)
        barred = await _barred(sessions)
        async with sessions() as session:
            rows = {r.id: r for r in await session.scalars(select(Resident))}
        facts = {rid: pool_member(r) for rid, r in rows.items()}
        found: dict[int, set[int]] = {}
        for rid in rows:
            async with sessions() as session, session.begin():
                everyone = await find_candidates(session, rid, NOW, RULES, neighbours(), fair=False)
                shown = await suggest(session, rid, NOW, RULES, neighbours())
            found[rid] = {c.resident_id for c in everyone}
            expected = {
                other
                for other in rows
                if eligible(facts[rid], facts[other], RULES, neighbours(), barred)
            }
            assert found[rid] == expected
            for suggestion in shown:
                candidate = facts[suggestion.candidate.resident_id]
                assert candidate.in_pool and candidate.id not in erased
                assert pair(rid, candidate.id) not in barred
        for a, others in found.items():
            for b in others:
                assert a in found[b], "eligibility must be symmetric in the database too"
        assert not erased & set(rows)

    _in_fresh_database(database_template, tmp_path_factory.mktemp("prop"), scenario)


# A conversation step: (action, who, which message).
steps = st.lists(
    st.tuples(
        st.sampled_from(("match", "hello", "yes", "no", "block", "withdraw", "regrant", "wait")),
        st.integers(0, 2),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=12,
)


async def _step(
    bot: BotHarness, fake: FakeTelegram, users: list[FakeUser], step: tuple[str, int, int]
) -> None:
    kind, who, which = step
    user = users[who]
    if kind == "match":
        await bot.send(user, "/match")
    elif kind in ("hello", "yes", "no", "block"):
        messages = cards(fake, user) if kind == "hello" else requests(fake, user)
        if kind == "block":
            messages = cards(fake, user) + requests(fake, user)
        button = {
            "hello": "👋 Say hello",
            "yes": "✅ Yes, introduce us",
            "no": "No thanks",
            "block": "🚫 Block",
        }[kind]
        usable = [m for m in messages if button in m.button_texts()]
        if not usable and kind == "hello":
            # A hello needs a card: ask for suggestions first, as she would.
            await bot.send(user, "/match")
            usable = [m for m in cards(fake, user) if button in m.button_texts()]
        if usable:
            await bot.press(user, button, message=usable[-1 - which % len(usable)])
    elif kind in ("withdraw", "regrant"):
        await bot.send(user, "/privacy")
        label = (
            "Turn off: meeting other mums" if kind == "withdraw" else "Turn on: meeting other mums"
        )
        if label in bot.last(user).button_texts():
            await bot.press(user, label)
            if kind == "regrant":
                # Turning matching on shows its explanation first.
                await bot.press(user, "Yes please")
    else:
        bot.clock.advance(dt.timedelta(days=2 + which))
        await run_matching_job(bot)


@SLOW
@given(script=steps)
def test_no_contact_detail_is_ever_sent_before_both_have_said_yes(
    database_template: str,
    tmp_path_factory: pytest.TempPathFactory,
    script: list[tuple[str, int, int]],
) -> None:
    folder = tmp_path_factory.mktemp("contacts")

    async def run() -> None:
        url = await fresh_database(database_template, folder)
        fake = FakeTelegram()
        async with BotHarness.start(fake, url, FixedClock(NOW)) as bot:
            users = [
                await join(bot, fake, name, username=f"{name.lower()}_tg")
                for name in ("Ada", "Bo", "Cy")
            ]
            ever_introduced: set[frozenset[int]] = set()
            for step in script:
                await _step(bot, fake, users, step)
                asker, asked = aliased(Resident), aliased(Resident)
                async with bot.session() as session:
                    made = await session.execute(
                        select(asker.telegram_user_id, asked.telegram_user_id)
                        .select_from(MatchIntroduction)
                        .join(asker, asker.id == MatchIntroduction.requester_id)
                        .join(asked, asked.id == MatchIntroduction.recipient_id)
                        .where(MatchIntroduction.status == IntroductionStatus.INTRODUCED)
                    )
                    ever_introduced |= {frozenset(both) for both in made}
                for viewer in users:
                    for other in users:
                        if viewer is other:
                            continue
                        if knows_contact_of(fake, viewer, other):
                            assert frozenset((viewer.id, other.id)) in ever_introduced, step
        assert fake.violations == []

    asyncio.run(run())
