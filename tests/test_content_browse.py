"""/services: what's near her, by category, paged, with distances in miles."""

from __future__ import annotations

from bot.sandbox.fake_api import FakeTelegram
from bot.services.local_info.content import Service
from tests.content_support import load_sample_into_bot, sample_content
from tests.factories import COLCHESTER_POSTCODE, new_resident_user, onboard
from tests.harness import BotHarness


async def test_services_shows_the_categories_with_something_near_her(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await load_sample_into_bot(bot)

    [menu] = await bot.send(user, "/services")

    assert "Local services near you" in menu.plain_text
    assert menu.button_texts() == [
        "Midwife clinics",
        "Support for your wellbeing",
        "Antenatal classes",
        "Family hubs",
        "Feeding support",
        "Baby groups",
    ]


async def test_a_category_lists_services_nearest_first_with_miles(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, area=COLCHESTER_POSTCODE)
    await load_sample_into_bot(bot)
    [menu] = await bot.send(user, "/services")

    await bot.press(user, "Antenatal classes", menu)

    page = fake.messages(user.id)[-1]
    assert "Antenatal classes near you" in page.plain_text
    assert "Colchester Hospital" in page.plain_text
    assert "miles from your neighbourhood" in page.plain_text
    assert "Broomfield" not in page.plain_text


async def test_long_lists_are_paged(bot: BotHarness, fake: FakeTelegram) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await load_sample_into_bot(bot)
    content = sample_content()
    groups = tuple(
        Service(
            id=f"TEST-{i}",
            name=f"Test baby group {i}",
            category="baby_group",
            area_codes=("E07000070",),
            area_label="Chelmsford",
            phone="01632 960999",
        )
        for i in range(6)
    )
    bot.app.bot_data.content = content.model_copy(update={"services": content.services + groups})
    [menu] = await bot.send(user, "/services")

    await bot.press(user, "Baby groups", menu)
    first = fake.messages(user.id)[-1].plain_text
    await bot.press(user, "More ▶", menu)
    second = fake.messages(user.id)[-1].plain_text

    assert "(1–4 of 7)" in first
    assert "(5–7 of 7)" in second
    assert "For everyone in Chelmsford" in second


async def test_a_made_up_category_or_page_shows_the_latest_list(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await load_sample_into_bot(bot)
    [menu] = await bot.send(user, "/services")

    for data in ("sv:c:knitting:0", "sv:c:baby_group:9"):
        changed, again = await bot.forge(user, menu, data)
        assert "That list has changed" in changed.plain_text
        assert "Baby groups" in again.button_texts()


async def test_services_before_she_has_a_neighbourhood_explains_kindly(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    await load_sample_into_bot(bot)

    [sent] = await bot.send(new_resident_user(fake), "/services")

    assert "neighbourhood" in sent.plain_text


async def test_services_before_content_is_loaded_says_it_is_not_ready(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)

    [sent] = await bot.send(user, "/services")

    assert "isn't ready yet" in sent.plain_text
