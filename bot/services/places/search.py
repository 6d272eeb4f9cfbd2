"""Optional place-name lookup through a geopy geocoder; off unless the council switches it on."""

from __future__ import annotations

import asyncio
from typing import Protocol

from geopy.geocoders import Nominatim


class PlaceSearch(Protocol):
    """Turns a place name into a point; only ever given place names, never postcodes."""

    async def locate(self, place: str) -> tuple[float, float] | None:
        """The point of a place in Great Britain, or None."""
        ...

    async def close(self) -> None:
        """Release anything held open."""
        ...


class NominatimPlaceSearch:
    """OpenStreetMap's Nominatim through geopy, limited to Great Britain."""

    def __init__(self, user_agent: str) -> None:
        self._geocoder = Nominatim(user_agent=user_agent, timeout=5)
        # Nominatim's usage policy allows one request a second.
        self._lock = asyncio.Lock()

    async def locate(self, place: str) -> tuple[float, float] | None:
        """Look the place up, one request at a time."""
        async with self._lock:
            found = await asyncio.to_thread(
                self._geocoder.geocode, place[:100], exactly_one=True, country_codes="gb"
            )
        if found is None:
            return None
        return float(found.latitude), float(found.longitude)

    async def close(self) -> None:
        """Nothing is held open between requests."""


def create_place_search(kind: str, user_agent: str) -> PlaceSearch | None:
    """The configured place search, or None when it is off (the default)."""
    if kind == "nominatim":
        return NominatimPlaceSearch(user_agent)
    return None
