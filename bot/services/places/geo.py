"""Offline neighbourhood lookup: postcodes and shared locations to Essex wards, no network."""

from __future__ import annotations

import csv
import difflib
import functools
import io
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

from geopy.distance import geodesic

_AUTHORITIES_CSV = "essex_local_authorities_mysociety.csv"
_WARDS_CSV = "essex_wards_2025.csv"
_POSTCODES_CSV = "essex_postcodes_nspl_may2025.csv"
_OUTCODES_CSV = "essex_outcode_to_lad.csv"
_GB_OUTCODES_CSV = "uk_outcodes_nspl_may2025.csv"

# A shared location counts as "in" the area only if a real postcode point is this close;
# Essex postcode points are dense enough that anywhere lived-in is well within it.
LOCATION_MATCH_KM = 1.5

# A full postcode missing from the Essex file is either brand new (newer than May 2025) or not in
# the covered wards. The file holds every postcode in or within 200 m of those wards, so when most
# of its district lies outside the area (CB1, CB9, CM23, CO10 ...) "outside" is the likely truth;
# when most lies inside, a new postcode is most likely inside too, so she is offered the wards.
MOSTLY_COVERED_SHARE = 0.5

# Postcode areas the GB lookup cannot place (Northern Ireland's is excluded by its licence; the
# Crown Dependencies are not in the NSPL). She is real but outside the area, and saying so needs
# only a rough centre: the distance may be off by tens of km out of several hundred.
_NON_GB_AREA_CENTRES: dict[str, tuple[float, float]] = {
    "BT": (54.60, -5.93),
    "IM": (54.15, -4.48),
    "JE": (49.19, -2.11),
    "GY": (49.45, -2.54),
}

_GSS_CODE = re.compile(r"E\d{8}")

# Royal Mail rules: outward codes A9, A99, A9A, AA9, AA99, AA9A with the letters each position
# may take; inward codes never use C, I, K, M, O or V.
_OUTWARD = (
    r"(?:[A-PR-UWYZ][0-9][0-9]?"
    r"|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"
)
_INWARD = r"[0-9][ABD-HJLNP-UW-Z]{2}"
_FULL_POSTCODE = re.compile(rf"(?P<outward>{_OUTWARD})(?P<inward>{_INWARD})")
_OUTCODE = re.compile(_OUTWARD)
# Where people put spaces: between the halves, and sometimes after the letters ("CM 1"). A space
# anywhere else means a mistyped postcode, not a different one ("CM1 1" is not CM11).
_SPACED_FULL = re.compile(r"[A-Z]{1,2} ?[0-9][A-Z0-9]? ?[0-9][A-Z]{2}")
_SPACED_OUTCODE = re.compile(r"[A-Z]{1,2} ?[0-9][A-Z0-9]?")
_EDGE_PUNCTUATION = ".,;:!?\"'()"

# Grid cells must be at least LOCATION_MATCH_KM across so the 3x3 block around a point holds every
# postcode within reach: 0.015 deg of latitude is 1.67 km, and 0.025 deg of longitude is still
# 1.71 km at 52.1 deg N, the northern edge of the postcode points (it only widens further south).
_CELL_LAT = 0.015
_CELL_LON = 0.025

_EARTH_RADIUS_KM = 6371.0088
_KM_PER_DEG_LAT = 111.2


def _estimate_slack_km(estimate_km: float) -> float:
    """How far the quick estimate may be from the geodesic, as far as ranking is concerned."""
    # The sphere is within 0.5% of the ellipsoid, so 1% of the distance covers it nearby. Far
    # away, the candidates are all in one small county, so their errors nearly cancel and a
    # couple of km is ample (checked against brute force over random points worldwide).
    return min(estimate_km * 0.01, 2.0) + 0.01


@dataclass(frozen=True)
class Ward:
    """An electoral ward (the bot's neighbourhood) and its centroid."""

    code: str
    name: str
    district_code: str
    district_name: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class District:
    """One of the 14 local authorities covered: 12 ECC districts, Southend-on-Sea and Thurrock."""

    code: str
    name: str
    in_essex_county_council: bool


@dataclass(frozen=True)
class WardFound:
    """Her neighbourhood is known."""

    ward: Ward
    via: Literal["postcode", "location", "place"]


@dataclass(frozen=True)
class ChooseWard:
    """Only a postcode district is known: the wards it covers, most populous first."""

    outcode: str
    wards: tuple[Ward, ...]


@dataclass(frozen=True)
class ChoosePlace:
    """A place name that fits several wards, or names a whole district: she picks her ward."""

    place: str
    # Wards whose name fits, best first; may be empty when the name is a district's alone.
    wards: tuple[Ward, ...]
    # Set when the name is a district's: "another neighbourhood in ..." opens its full list.
    district: District | None


@dataclass(frozen=True)
class OutsideArea:
    """A real place, but outside the covered area."""

    nearest: Ward
    distance_km: float


@dataclass(frozen=True)
class NotRecognised:
    """Not a postcode, or a postcode that does not exist."""

    reason: Literal["format", "unknown_postcode"]


Resolution = WardFound | ChooseWard | ChoosePlace | OutsideArea | NotRecognised

# Typos this close to a ward's or district's name still find it ("Chelmsfrod", "braintre");
# difflib's ratio, so short names need a near-exact spelling.
PLACE_MATCH_CUTOFF = 0.84
_PLACE_MIN_LENGTH = 3
_PLACE_MAX_LENGTH = 60


def place_key(name: str) -> str:
    """A place name as compared: case, accents, "&"/"and", apostrophes and hyphens ignored."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    plain = plain.replace("&", " and ").replace("\u2019", "").replace("'", "")
    words = re.sub(r"[^0-9a-z]+", " ", plain).split()
    return " ".join(words)


@dataclass(frozen=True)
class _OutcodeInfo:
    wards: tuple[Ward, ...]
    covered_share: float


def _rows(name: str) -> Iterator[dict[str, str]]:
    text = (files("bot") / "data" / "geo" / name).read_text(encoding="utf-8")
    yield from csv.DictReader(io.StringIO(text, newline=""))


def _records(name: str, columns: tuple[str, ...]) -> Iterator[list[str]]:
    """Rows as plain lists, for the big file where DictReader's overhead shows."""
    text = (files("bot") / "data" / "geo" / name).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = tuple(next(reader))
    if header != columns:
        raise ValueError(f"{name}: expected columns {columns}, found {header}")
    yield from reader


def _cell(latitude: float, longitude: float) -> tuple[int, int]:
    return math.floor(latitude / _CELL_LAT), math.floor(longitude / _CELL_LON)


def _estimate_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on a sphere: cheap, and close enough to rank candidates."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _geodesic_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return float(geodesic((lat1, lon1), (lat2, lon2)).km)


def _valid_point(latitude: float, longitude: float) -> bool:
    return (
        math.isfinite(latitude)
        and math.isfinite(longitude)
        and -90.0 <= latitude <= 90.0
        and -180.0 <= longitude <= 180.0
    )


class Gazetteer:
    """Essex wards, their postcodes and GB postcode districts, held in memory for lookups."""

    def __init__(
        self,
        districts: dict[str, District],
        wards: dict[str, Ward],
        postcode_wards: dict[str, Ward],
        essex_outcodes: dict[str, _OutcodeInfo],
        gb_outcodes: dict[str, tuple[float, float]],
        grid: dict[tuple[int, int], list[tuple[float, float, Ward]]],
    ) -> None:
        self._districts = districts
        self._wards = wards
        self._postcode_wards = postcode_wards
        self._essex_outcodes = essex_outcodes
        self._gb_outcodes = gb_outcodes
        self._grid = grid
        self._wards_by_district: dict[str, list[Ward]] = defaultdict(list)
        self._wards_by_key: dict[str, list[Ward]] = defaultdict(list)
        for ward in sorted(wards.values(), key=lambda w: (w.name, w.code)):
            self._wards_by_district[ward.district_code].append(ward)
            self._wards_by_key[place_key(ward.name)].append(ward)
        self._districts_by_key = {place_key(d.name): d for d in districts.values()}
        self._place_keys = sorted(set(self._wards_by_key) | set(self._districts_by_key))

    @classmethod
    def load(cls) -> Gazetteer:
        """Read the packaged CSVs."""
        districts: dict[str, District] = {}
        for row in _rows(_AUTHORITIES_CSV):
            if row["type"] == "County":
                continue
            districts[row["gss_code"]] = District(
                code=row["gss_code"],
                name=row["nice_name"],
                in_essex_county_council=row["county_la"] == "ESS",
            )

        wards: dict[str, Ward] = {}
        for row in _rows(_WARDS_CSV):
            district_name = row["lad_name"]
            # Some source rows carry the authority's code where its name should be.
            if (not district_name or _GSS_CODE.fullmatch(district_name)) and (
                row["lad_code"] in districts
            ):
                district_name = districts[row["lad_code"]].name
            wards[row["ward_code"]] = Ward(
                code=row["ward_code"],
                name=row["ward_name"],
                district_code=row["lad_code"],
                district_name=district_name,
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
            )

        postcode_wards: dict[str, Ward] = {}
        # Counted by distinct postcode points, not postcodes: PO-box and large-user postcodes
        # stack hundreds on one spot (209 CO1 postcodes on one point in Tiptree, 304 CM1 ones on
        # 23 points in Chelmer Village), which would put wards where few people live at the top.
        outcode_points: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
        outcode_postcodes: Counter[tuple[str, str]] = Counter()
        point_wards: dict[tuple[str, str], str] = {}
        for postcode, latitude, longitude, ward_code in _records(
            _POSTCODES_CSV, ("postcode", "latitude", "longitude", "ward_code")
        ):
            # NSPL's 7-character form drops the space for four-character outcodes ("CM131WH").
            postcode = postcode.replace(" ", "")
            postcode_wards[postcode] = wards[ward_code]
            key = (postcode[:-3], ward_code)
            point = (latitude, longitude)
            outcode_points[key].add(point)
            outcode_postcodes[key] += 1
            point_wards.setdefault(point, ward_code)

        grid: dict[tuple[int, int], list[tuple[float, float, Ward]]] = defaultdict(list)
        for (lat_text, lon_text), ward_code in point_wards.items():
            lat, lon = float(lat_text), float(lon_text)
            grid[_cell(lat, lon)].append((lat, lon, wards[ward_code]))

        shares = {
            row["outcode"]: float(row["share_of_outcode_in_covered_area"])
            for row in _rows(_OUTCODES_CSV)
        }
        # Ward lists come from the postcodes rather than top_wards, which names only five wards
        # per district and by name, and ward names repeat (two "Trinity" wards).
        by_outcode: dict[str, list[str]] = defaultdict(list)
        for outcode, ward_code in outcode_points:
            by_outcode[outcode].append(ward_code)
        essex_outcodes: dict[str, _OutcodeInfo] = {}
        for outcode, codes in by_outcode.items():
            codes.sort(
                key=lambda c: (
                    -len(outcode_points[outcode, c]),
                    -outcode_postcodes[outcode, c],
                    wards[c].name,
                    c,
                )
            )
            essex_outcodes[outcode] = _OutcodeInfo(
                tuple(wards[c] for c in codes), shares.get(outcode, 1.0)
            )

        gb_outcodes = {
            row["outcode"]: (float(row["latitude"]), float(row["longitude"]))
            for row in _rows(_GB_OUTCODES_CSV)
            if row["latitude"] and row["longitude"]
        }
        return cls(districts, wards, postcode_wards, essex_outcodes, gb_outcodes, dict(grid))

    def districts(self) -> list[District]:
        """All covered local authorities, sorted by name."""
        return sorted(self._districts.values(), key=lambda d: d.name)

    def district(self, code: str) -> District | None:
        """The local authority with this GSS code, if covered."""
        return self._districts.get(code)

    def wards_in(self, district_code: str) -> list[Ward]:
        """The wards of one local authority, sorted by name."""
        return list(self._wards_by_district.get(district_code, ()))

    def ward(self, code: str) -> Ward | None:
        """The ward with this GSS code, if covered."""
        return self._wards.get(code)

    def resolve_text(self, text: str) -> Resolution:
        """Resolve a typed full postcode or postcode district."""
        if not isinstance(text, str) or len(text) > 40:
            return NotRecognised("format")
        spaced = " ".join(text.split()).strip(_EDGE_PUNCTUATION).strip()
        # Checked before upper-casing, which can turn other letters into ASCII ("ß" to "SS").
        if not spaced.isascii():
            return NotRecognised("format")
        spaced = spaced.upper()
        compact = spaced.replace(" ", "")

        full = _FULL_POSTCODE.fullmatch(compact)
        if full is not None and _SPACED_FULL.fullmatch(spaced):
            ward = self._postcode_wards.get(compact)
            if ward is not None:
                return WardFound(ward, "postcode")
            outcode = full["outward"]
            info = self._essex_outcodes.get(outcode)
            if info is not None and info.covered_share >= MOSTLY_COVERED_SHARE:
                return ChooseWard(outcode, info.wards)
            return self._outside_outcode(outcode)

        if _OUTCODE.fullmatch(compact) is None or not _SPACED_OUTCODE.fullmatch(spaced):
            return NotRecognised("format")
        info = self._essex_outcodes.get(compact)
        # Offered even when the covered part is tiny (CB1: 17 of 2,787 postcodes, all in Ashdon):
        # people using an Essex council's bot are mostly Essex residents, the picker lets her say
        # "none of these", and turning away someone who does live there would be the worse error.
        if info is not None and info.wards:
            return ChooseWard(compact, info.wards)
        return self._outside_outcode(compact)

    def resolve_place(self, text: str) -> WardFound | ChoosePlace | NotRecognised:
        """Resolve a ward's or district's name (or a town that starts ward names), offline."""
        if not isinstance(text, str) or len(text) > _PLACE_MAX_LENGTH:
            return NotRecognised("format")
        key = place_key(text)
        if len(key) < _PLACE_MIN_LENGTH:
            return NotRecognised("format")
        found = self._place(key)
        if found is not None:
            return found
        close = difflib.get_close_matches(key, self._place_keys, n=1, cutoff=PLACE_MATCH_CUTOFF)
        if close:
            found = self._place(close[0])
        return found if found is not None else NotRecognised("format")

    def _place(self, key: str) -> WardFound | ChoosePlace | None:
        exact = self._wards_by_key.get(key, [])
        district = self._districts_by_key.get(key)
        if district is None:
            # "Southend" for Southend-on-Sea: a district whose name starts with hers.
            starting = [d for k, d in self._districts_by_key.items() if k.startswith(key + " ")]
            district = starting[0] if len(starting) == 1 else None
        # A town's name usually starts its wards' names ("Witham" -> "Witham North" ...).
        pattern = re.compile(rf"(?:^| ){re.escape(key)}(?: |$)")
        within = [
            w
            for k, wards in self._wards_by_key.items()
            if k != key and pattern.search(k)
            for w in wards
        ]
        if len(exact) == 1 and district is None and not within:
            return WardFound(exact[0], "place")
        wards = tuple(exact) + tuple(sorted(within, key=lambda w: (w.name, w.code)))
        if not wards and district is None:
            return None
        name = district.name if district is not None and not exact else text_name(wards, key)
        return ChoosePlace(name, wards, district)

    def resolve_point(self, latitude: float, longitude: float) -> Resolution:
        """Resolve a shared location to the ward of the nearest postcode, if one is close."""
        try:
            lat, lon = float(latitude), float(longitude)
        except (TypeError, ValueError, OverflowError):
            return NotRecognised("format")
        if not _valid_point(lat, lon):
            return NotRecognised("format")
        found = self._nearest_postcode_ward(lat, lon)
        if found is not None:
            return WardFound(found, "location")
        nearest = self.nearest_wards(lat, lon, limit=1)
        if not nearest:
            return NotRecognised("format")
        ward, km = nearest[0]
        return OutsideArea(ward, km)

    def nearest_wards(
        self, latitude: float, longitude: float, limit: int = 3
    ) -> list[tuple[Ward, float]]:
        """The closest ward centroids with geodesic distances in km, nearest first."""
        if limit <= 0 or not _valid_point(latitude, longitude):
            return []
        ranked = sorted(
            (_estimate_km(latitude, longitude, w.latitude, w.longitude), w.code, w)
            for w in self._wards.values()
        )
        kth = ranked[min(limit, len(ranked)) - 1][0]
        cutoff = kth + _estimate_slack_km(kth)
        exact = sorted(
            (_geodesic_km(latitude, longitude, w.latitude, w.longitude), code, w)
            for estimate, code, w in ranked
            if estimate <= cutoff
        )
        return [(w, km) for km, _, w in exact[:limit]]

    def distance_km(self, a: Ward, b: Ward) -> float:
        """Geodesic distance between two ward centroids."""
        return _geodesic_km(a.latitude, a.longitude, b.latitude, b.longitude)

    def _nearest_postcode_ward(self, latitude: float, longitude: float) -> Ward | None:
        row, col = _cell(latitude, longitude)
        # A flat projection is exact enough within a 3x3 block of cells to shortlist candidates.
        km_per_deg_lon = _KM_PER_DEG_LAT * math.cos(math.radians(latitude))
        scored: list[tuple[float, float, float, Ward]] = []
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                for plat, plon, ward in self._grid.get((row + dr, col + dc), ()):
                    dy = (plat - latitude) * _KM_PER_DEG_LAT
                    dx = (plon - longitude) * km_per_deg_lon
                    scored.append((dx * dx + dy * dy, plat, plon, ward))
        if not scored:
            return None
        best = math.sqrt(min(scored, key=lambda s: s[0])[0])
        if best > LOCATION_MATCH_KM + _estimate_slack_km(LOCATION_MATCH_KM):
            return None
        cutoff = (best + _estimate_slack_km(best)) ** 2
        km, ward = min(
            (
                (_geodesic_km(latitude, longitude, plat, plon), ward)
                for squared, plat, plon, ward in scored
                if squared <= cutoff
            ),
            key=lambda pair: pair[0],
        )
        return ward if km <= LOCATION_MATCH_KM else None

    def _outside_outcode(self, outcode: str) -> Resolution:
        centre = self._gb_outcodes.get(outcode)
        if centre is None:
            area = re.match(r"[A-Z]+", outcode)
            centre = _NON_GB_AREA_CENTRES.get(area.group() if area else "")
        if centre is None:
            return NotRecognised("unknown_postcode")
        nearest = self.nearest_wards(*centre, limit=1)
        if not nearest:
            return NotRecognised("unknown_postcode")
        ward, km = nearest[0]
        return OutsideArea(ward, km)


def text_name(wards: tuple[Ward, ...], key: str) -> str:
    """The place as the data spells it: the matching ward's name, else her words tidied."""
    for ward in wards:
        if place_key(ward.name) == key:
            return ward.name
    return key.title()


@functools.cache
def default_gazetteer() -> Gazetteer:
    """The packaged gazetteer, loaded once per process."""
    return Gazetteer.load()
