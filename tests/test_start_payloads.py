"""/start payloads: invitations are recognised however /start is typed, and only known join
links are ever stored with a resident or her consent record."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.sandbox.fake_api import FakeTelegram
from bot.services.residents.start_payload import start_payload
from models import ConsentEvent, Resident, StaffMember, StaffRole
from tests.factories import give_consents, make_staff
from tests.harness import BotHarness
from tests.test_staff import invitation


async def _stored_sources(bot: BotHarness) -> set[str | None]:
    async with bot.session() as session:
        residents = set(await session.scalars(select(Resident.signup_source)))
        consents = set(await session.scalars(select(ConsentEvent.source)))
    return residents | consents


@pytest.mark.parametrize("form", ["/start  {payload}", "/start@BumpBuddiesBot {payload}"])
async def test_an_invitation_typed_with_an_unusual_start_joins_staff_and_stores_no_token(
    bot: BotHarness, fake: FakeTelegram, form: str
) -> None:
    admin = fake.new_user("Admin", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), StaffRole.ADMIN, admin.id)
    payload = await invitation(bot, admin)
    newcomer = fake.new_user("Nadia")

    sent = await bot.send(newcomer, form.format(payload=payload))

    assert "Welcome to the Bump Buddies staff team" in sent[0].plain_text, sent[0].plain_text
    async with bot.session() as session:
        member = await session.scalar(
            select(StaffMember).where(StaffMember.telegram_user_id == newcomer.id)
        )
        resident = await session.scalar(
            select(Resident).where(Resident.telegram_user_id == newcomer.id)
        )
    assert member is not None and member.role is StaffRole.MIDWIFE
    assert resident is None
    assert not any(source and "staff" in source for source in await _stored_sources(bot))


async def test_an_unrecognised_payload_starts_sign_up_but_is_never_stored(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.new_user("Amira")

    await give_consents(bot, user, start="/start not_a_link_we_made")

    assert await _stored_sources(bot) == {None}


async def test_a_refusal_after_an_unrecognised_payload_stores_no_payload(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.new_user("Amira")
    await bot.send(user, "/start unknown_clinic_9")

    await bot.press(user, "No thanks")

    assert await _stored_sources(bot) == {None}


@pytest.mark.parametrize(
    ("text", "payload"),
    [
        ("/start", None),
        ("/start   ", None),
        ("/start abc", "abc"),
        ("/start  abc", "abc"),
        ("/start\tabc  def", "abc"),
        ("/start@BumpBuddiesBot abc", "abc"),
        ("/START abc", "abc"),
        ("/started abc", None),
        ("hello /start abc", None),
    ],
)
def test_the_start_payload_is_read_however_start_is_typed(text: str, payload: str | None) -> None:
    assert start_payload(text) == payload
