"""The matching rules as plain values and functions: who may meet whom, in what order."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from bot.services.places.geo import Gazetteer, Ward

_EARTH_RADIUS_KM = 6371.0088
# The haversine shortlist is within 0.5% of the geodesic; this margin keeps every true neighbour.
_SHORTLIST_MARGIN = 1.01


class MatchingSettings(Protocol):
    """The part of the bot's settings that matching reads."""

    matching_distance_km: float
    matching_window_weeks: int
    matching_reply_days: int
    matching_suggestion_days: int
    matching_max_open_per_person: int
    matching_newcomer_fanout: int
    matching_invite_hours: int


@dataclass(frozen=True)
class MatchRules:
    """How near, how close in due date, how long things stay open, and the fairness cap."""

    distance_km: float = 3.0
    window_days: int = 28
    reply_days: int = 7
    suggestion_days: int = 3
    max_open_per_person: int = 5
    newcomer_fanout: int = 30
    invite_hours: int = 24
    shown: int = 3

    @classmethod
    def from_settings(cls, settings: MatchingSettings) -> MatchRules:
        """The rules as configured."""
        return cls(
            distance_km=settings.matching_distance_km,
            window_days=settings.matching_window_weeks * 7,
            reply_days=settings.matching_reply_days,
            suggestion_days=settings.matching_suggestion_days,
            max_open_per_person=settings.matching_max_open_per_person,
            newcomer_fanout=settings.matching_newcomer_fanout,
            invite_hours=settings.matching_invite_hours,
        )


def _haversine_km(a: Ward, b: Ward) -> float:
    p1, p2 = math.radians(a.latitude), math.radians(b.latitude)
    dp, dl = p2 - p1, math.radians(b.longitude - a.longitude)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class WardNeighbours:
    """Every ward's neighbours: wards whose centroids lie within the distance, nearest first.

    Worked out once from the gazetteer (257 wards) rather than stored: the distance is a setting,
    and the table is small enough that the candidate search simply names the wards it wants.
    """

    def __init__(self, gazetteer: Gazetteer, max_km: float) -> None:
        wards = [w for d in gazetteer.districts() for w in gazetteer.wards_in(d.code)]
        self.max_km = max_km
        self._wards = {w.code: w for w in wards}
        near: dict[str, list[tuple[float, str]]] = {w.code: [(0.0, w.code)] for w in wards}
        ordered = sorted(wards, key=lambda w: w.code)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                if _haversine_km(a, b) > max_km * _SHORTLIST_MARGIN + 0.01:
                    continue
                # One geodesic per pair, used both ways, so "near" is exactly symmetric.
                km = gazetteer.distance_km(a, b)
                if km <= max_km:
                    near[a.code].append((km, b.code))
                    near[b.code].append((km, a.code))
        self._near = {code: tuple(sorted(pairs)) for code, pairs in near.items()}
        self._distance = {
            (code, other): km for code, pairs in self._near.items() for km, other in pairs
        }

    def around(self, ward_code: str) -> tuple[tuple[float, str], ...]:
        """(km, ward code) for her own ward (0 km) and every ward near it, nearest first."""
        return self._near.get(ward_code, ())

    def distance(self, a: str, b: str) -> float | None:
        """km between two ward centroids, or None when they are not near each other."""
        return self._distance.get((a, b))

    def ward(self, code: str) -> Ward | None:
        """The ward itself."""
        return self._wards.get(code)


@functools.lru_cache(maxsize=8)
def ward_neighbours(gazetteer: Gazetteer, max_km: float) -> WardNeighbours:
    """Neighbours for this gazetteer and distance, worked out once per process."""
    return WardNeighbours(gazetteer, max_km)


@dataclass(frozen=True)
class PoolMember:
    """What eligibility looks at for one resident."""

    id: int
    active: bool
    matching_consent: bool
    ward_code: str | None
    due_date: dt.date | None

    @property
    def in_pool(self) -> bool:
        """She can be matched at all: signed up, said yes to matching, ward and due date known."""
        return (
            self.active
            and self.matching_consent
            and self.ward_code is not None
            and self.due_date is not None
        )


def pair(a: int, b: int) -> frozenset[int]:
    """The unordered pair of two residents."""
    return frozenset((a, b))


def eligible(
    a: PoolMember,
    b: PoolMember,
    rules: MatchRules,
    neighbours: WardNeighbours,
    barred: Collection[frozenset[int]] = (),
) -> bool:
    """Whether a and b may be suggested to each other; the same answer both ways round.

    `barred` holds pairs already introduced, asked, declined, expired, blocked or reported.
    """
    if a.id == b.id or not (a.in_pool and b.in_pool):
        return False
    assert a.ward_code and b.ward_code and a.due_date and b.due_date
    if neighbours.distance(a.ward_code, b.ward_code) is None:
        return False
    if abs((a.due_date - b.due_date).days) > rules.window_days:
        return False
    return pair(a.id, b.id) not in barred


def rank_key(
    same_ward: bool, gap_days: int, distance_km: float, active_at: dt.datetime, resident_id: int
) -> tuple[bool, int, float, float, int]:
    """Same ward first, then due-date gap, then distance, then most recently active."""
    return (not same_ward, gap_days, distance_km, -active_at.timestamp(), resident_id)


def first_of_month(day: dt.date) -> dt.date:
    """The first day of the month a date falls in."""
    return day.replace(day=1)
