"""The optional place-name geocoder: off by default, used only for text that is not a postcode."""

from __future__ import annotations

from sqlalchemy import select

from bot.sandbox.fake_api import FakeTelegram
from bot.services.places.search import NominatimPlaceSearch, create_place_search
from models import Resident
from tests.factories import new_resident_user, onboard
from tests.harness import BotHarness


class PretendGeocoder:
    """Knows one place; remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def locate(self, place: str) -> tuple[float, float] | None:
        self.asked.append(place)
        return (51.7356, 0.4685) if place.lower() == "chelmsford town centre" else None

    async def close(self) -> None:
        return None


def test_place_search_is_off_unless_the_council_switches_it_on() -> None:
    assert create_place_search("none", "ua") is None
    assert isinstance(create_place_search("nominatim", "ua"), NominatimPlaceSearch)


async def test_bot_has_no_place_search_by_default(bot: BotHarness) -> None:
    assert bot.app.bot_data.place_search is None


async def test_a_place_name_is_looked_up_when_enabled_but_postcodes_never_are(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    geocoder = PretendGeocoder()
    bot.app.bot_data.place_search = geocoder
    first, second = new_resident_user(fake), new_resident_user(fake)

    await onboard(bot, first, area="Chelmsford town centre")
    await onboard(bot, second, area="CM1 1AA")

    assert geocoder.asked == ["Chelmsford town centre"]
    async with bot.session() as session:
        wards = set(await session.scalars(select(Resident.district_code)))
    assert wards == {"E07000070"}
