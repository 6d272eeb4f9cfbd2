"""The one synthetic-resident generator: its knobs do what they say, and its bulk rows load."""

from __future__ import annotations

import dataclasses

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.population import load
from bot.services.places.geo import default_gazetteer
from bot.services.staff.broadcasts import Audience, count_recipients
from bot.services.synthetic import Mix, Window, synthetic_residents
from models import BroadcastPurpose, ConsentPurpose
from tests.conftest import DEFAULT_NOW

GAZETTEER = default_gazetteer()
CHELMSFORD_WARDS = ("E05015473", "E05004096")
MIX = Mix(
    count=400,
    now=DEFAULT_NOW,
    seed=3,
    wards=CHELMSFORD_WARDS,
    due=Window(10, 20),
    born_share=0.1,
    consents={ConsentPurpose.LOCAL_INFO: 0.5},
    second_thoughts={ConsentPurpose.LOCAL_INFO: 0.5},
    active_share=0.9,
    blocked_share=0.2,
)


def test_the_same_knobs_give_the_same_residents_and_another_seed_others() -> None:
    again = list(synthetic_residents(GAZETTEER, MIX))
    assert again == list(synthetic_residents(GAZETTEER, MIX))
    assert again != list(synthetic_residents(GAZETTEER, dataclasses.replace(MIX, seed=4)))


def test_every_knob_shapes_the_residents() -> None:
    residents = list(synthetic_residents(GAZETTEER, MIX))
    today = DEFAULT_NOW.date()

    assert len(residents) == 400
    assert {r.ward.code for r in residents} == set(CHELMSFORD_WARDS)
    expecting = [r for r in residents if not r.born]
    assert all(10 <= (r.due_date - today).days < 20 for r in expecting)
    assert all(-300 <= (r.due_date - today).days <= 0 for r in residents if r.born)
    assert 20 <= sum(r.born for r in residents) <= 60
    assert not any(r.consents[ConsentPurpose.MATCHING] for r in residents)
    assert 150 <= sum(r.consents[ConsentPurpose.LOCAL_INFO] for r in residents) <= 250
    assert 340 <= sum(r.active for r in residents) <= 390
    assert 50 <= sum(r.unreachable_at(DEFAULT_NOW) is not None for r in residents) <= 110
    assert len({r.telegram_user_id for r in residents}) == 400


async def test_bulk_loaded_residents_are_the_ones_a_broadcast_counts(
    owner_database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await load(owner_database_url, GAZETTEER, MIX)

    # Local information reaches the active, reachable ones whose latest choice is yes.
    wanted = [
        r
        for r in synthetic_residents(GAZETTEER, MIX)
        if r.active and r.unreachable_at(DEFAULT_NOW) is None
    ]
    async with sessions() as session:
        everyone = await count_recipients(
            session, Audience(), BroadcastPurpose.SERVICE, DEFAULT_NOW.date()
        )
        local_info = await count_recipients(
            session, Audience(), BroadcastPurpose.LOCAL_INFO, DEFAULT_NOW.date()
        )
    assert everyone == len(wanted)
    assert local_info == sum(r.consents[ConsentPurpose.LOCAL_INFO] for r in wanted)
