"""Offline neighbourhood lookup: postcodes, postcode districts and shared locations to wards."""

from __future__ import annotations

import ast
import csv
import io
import math
import random
from collections import defaultdict
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.places import geo
from bot.services.places.geo import (
    ChoosePlace,
    ChooseWard,
    Gazetteer,
    NotRecognised,
    OutsideArea,
    Ward,
    WardFound,
    default_gazetteer,
)

CHELMSFORD = "E07000070"
MOULSHAM_AND_CENTRAL = "E05015473"


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return default_gazetteer()


def _csv(name: str) -> list[dict[str, str]]:
    text = (files("bot") / "data" / "geo" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.fixture(scope="module")
def postcode_rows() -> list[dict[str, str]]:
    return _csv("essex_postcodes_nspl_may2025.csv")


def _found(result: object) -> Ward:
    assert isinstance(result, WardFound), result
    return result.ward


# --- districts and wards -------------------------------------------------------------------


def test_districts_are_the_fourteen_authorities_sorted_by_name(gazetteer: Gazetteer) -> None:
    districts = gazetteer.districts()
    names = [d.name for d in districts]
    assert len(districts) == 14
    assert names == sorted(names)
    outside_county = {d.name for d in districts if not d.in_essex_county_council}
    assert outside_county == {"Southend-on-Sea", "Thurrock"}


def test_district_lookup_by_code(gazetteer: Gazetteer) -> None:
    chelmsford = gazetteer.district(CHELMSFORD)
    assert chelmsford is not None
    assert chelmsford.name == "Chelmsford"
    assert chelmsford.in_essex_county_council
    assert gazetteer.district("E10000012") is None  # the county itself is not a district
    assert gazetteer.district("nonsense") is None


def test_every_ward_has_a_proper_district_name(gazetteer: Gazetteer) -> None:
    wards = [w for d in gazetteer.districts() for w in gazetteer.wards_in(d.code)]
    assert len(wards) == 257
    for ward in wards:
        district = gazetteer.district(ward.district_code)
        assert district is not None
        assert ward.district_name == district.name
        assert not ward.district_name.startswith("E0")


def test_district_names_written_as_codes_are_repaired(monkeypatch: pytest.MonkeyPatch) -> None:
    real_rows = geo._rows

    def rows_with_a_coded_name(name: str) -> Iterator[dict[str, str]]:
        for row in real_rows(name):
            if name == "essex_wards_2025.csv" and row["lad_code"] == "E07000068":
                row = {**row, "lad_name": "E07000068"}
            yield row

    def no_postcodes(name: str, columns: tuple[str, ...]) -> Iterator[list[str]]:
        return iter(())  # not needed here, and the slowest part of a load

    monkeypatch.setattr(geo, "_rows", rows_with_a_coded_name)
    monkeypatch.setattr(geo, "_records", no_postcodes)
    brentwood = Gazetteer.load().wards_in("E07000068")
    assert brentwood
    assert {w.district_name for w in brentwood} == {"Brentwood"}


def test_wards_in_a_district_are_sorted_by_name(gazetteer: Gazetteer) -> None:
    wards = gazetteer.wards_in(CHELMSFORD)
    listed = [r for r in _csv("essex_wards_2025.csv") if r["lad_code"] == CHELMSFORD]
    assert len(wards) == len(listed) == 24
    assert [w.name for w in wards] == sorted(w.name for w in wards)
    assert {w.district_code for w in wards} == {CHELMSFORD}
    assert gazetteer.wards_in("nonsense") == []


def test_ward_lookup_by_code(gazetteer: Gazetteer) -> None:
    ward = gazetteer.ward(MOULSHAM_AND_CENTRAL)
    assert ward is not None
    assert ward.name == "Moulsham and Central"
    assert ward.district_name == "Chelmsford"
    assert gazetteer.ward("nonsense") is None


def test_default_gazetteer_is_loaded_once() -> None:
    assert default_gazetteer() is default_gazetteer()


# --- typed postcodes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["CM1 1AA", "cm1 1aa", "CM11AA", "cm11aa", "  Cm1   1aA ", "CM1 1AA.", "\tcm1\u00a01aa\n"],
)
def test_full_essex_postcode_resolves_to_its_ward(gazetteer: Gazetteer, text: str) -> None:
    result = gazetteer.resolve_text(text)
    assert result == WardFound(_found(result), "postcode")
    assert _found(result).code == MOULSHAM_AND_CENTRAL
    assert _found(result).district_name == "Chelmsford"


@pytest.mark.parametrize(
    ("text", "ward_code"),
    [
        ("CM13 1WH", "E05015653"),  # four-character outcode, stored without a space
        ("cm131wh", "E05015653"),
        ("E4 7BF", "E05015740"),  # a London district whose edge is in Epping Forest
        ("SS1 1AA", "E05002225"),  # Southend-on-Sea, outside the county council
    ],
)
def test_other_postcode_shapes_resolve(gazetteer: Gazetteer, text: str, ward_code: str) -> None:
    assert _found(gazetteer.resolve_text(text)).code == ward_code


def test_every_packaged_postcode_resolves_to_its_own_ward(
    gazetteer: Gazetteer, postcode_rows: list[dict[str, str]]
) -> None:
    for row in postcode_rows:
        result = gazetteer.resolve_text(row["postcode"])
        assert isinstance(result, WardFound), row
        assert result.ward.code == row["ward_code"], row


@pytest.mark.parametrize("text", ["CM1", "cm1", "cm 1", " CM1 ", "CM1.", "CM1,"])
def test_postcode_district_offers_the_wards_it_covers(
    gazetteer: Gazetteer, postcode_rows: list[dict[str, str]], text: str
) -> None:
    result = gazetteer.resolve_text(text)
    assert isinstance(result, ChooseWard)
    assert result.outcode == "CM1"
    expected = {r["ward_code"] for r in postcode_rows if r["postcode"].split()[0] == "CM1"}
    assert {w.code for w in result.wards} == expected
    assert len(result.wards) == len(expected)
    assert MOULSHAM_AND_CENTRAL in expected
    assert result.wards[0].district_name == "Chelmsford"


def test_district_wards_come_most_lived_in_first(
    gazetteer: Gazetteer, postcode_rows: list[dict[str, str]]
) -> None:
    points: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in postcode_rows:
        if row["postcode"].split()[0] == "CO1":
            points[row["ward_code"]].add((row["latitude"], row["longitude"]))
    result = gazetteer.resolve_text("CO1")
    assert isinstance(result, ChooseWard)
    counts = [len(points[w.code]) for w in result.wards]
    assert counts == sorted(counts, reverse=True)
    assert result.wards[0].name == "Castle"
    # 209 PO-box postcodes stacked on one point near Tiptree must not rank it second.
    names = [w.name for w in result.wards]
    assert names.index("Tiptree") > names.index("Greenstead")


def test_district_barely_in_the_area_still_offers_its_wards(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve_text("CB1")  # 17 of 2,787 postcodes, all in Ashdon
    assert isinstance(result, ChooseWard)
    assert [w.name for w in result.wards] == ["Ashdon"]


def test_new_postcode_in_a_mostly_covered_district_offers_its_wards(
    gazetteer: Gazetteer, postcode_rows: list[dict[str, str]]
) -> None:
    assert not any(r["postcode"] == "CM2 9ZZ" for r in postcode_rows)
    result = gazetteer.resolve_text("CM2 9ZZ")
    district = gazetteer.resolve_text("CM2")
    assert isinstance(result, ChooseWard)
    assert isinstance(district, ChooseWard)
    assert result == district


def test_unlisted_postcode_in_a_mostly_uncovered_district_is_outside(
    gazetteer: Gazetteer,
) -> None:
    result = gazetteer.resolve_text("CB1 2AB")  # central Cambridge
    assert isinstance(result, OutsideArea)
    assert result.nearest.district_name == "Uttlesford"
    assert 5 < result.distance_km < 40


@pytest.mark.parametrize(
    ("text", "outcode"),
    [("SW1A 1AA", "SW1A"), ("sw1a1aa", "SW1A"), ("SW1A", "SW1A"), ("E1 6AN", "E1")],
)
def test_london_postcode_is_outside_the_area_with_nearest_ward(
    gazetteer: Gazetteer, text: str, outcode: str
) -> None:
    result = gazetteer.resolve_text(text)
    assert isinstance(result, OutsideArea)
    centre = next(r for r in _csv("uk_outcodes_nspl_may2025.csv") if r["outcode"] == outcode)
    lat, lon = float(centre["latitude"]), float(centre["longitude"])
    [(nearest, km)] = gazetteer.nearest_wards(lat, lon, limit=1)
    assert result == OutsideArea(nearest, km)
    assert 5 < result.distance_km < 40


def test_northern_ireland_postcode_is_outside_the_area(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve_text("BT1 1AA")
    assert isinstance(result, OutsideArea)
    assert result.distance_km > 400


@pytest.mark.parametrize("text", ["ZE9 1AA", "ZE9", "CM97", "CM97 1AA"])
def test_well_formed_postcode_in_no_real_district_is_unknown(
    gazetteer: Gazetteer, text: str
) -> None:
    assert gazetteer.resolve_text(text) == NotRecognised("unknown_postcode")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "12345",
        "CM1 1AAA",
        "CM1 1",  # truncated, not CM11
        "C M1 1AA",
        "CM1 1 AA",
        "QM1 1AA",  # Q never starts a postcode
        "CM1 1CA",  # C never appears in an inward code
        "\u00df1 1AA",  # would upper-case to SS1 1AA
        "my postcode is CM1 1AA",
        "CM1 1AA" * 10,
    ],
)
def test_text_that_is_not_a_postcode_is_a_format_problem(gazetteer: Gazetteer, text: str) -> None:
    assert gazetteer.resolve_text(text) == NotRecognised("format")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_resolving_any_text_never_raises(text: str) -> None:
    result = default_gazetteer().resolve_text(text)
    assert isinstance(result, WardFound | ChooseWard | OutsideArea | NotRecognised)


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"[A-Z]{1,2}[0-9]{1,2} ?[0-9][A-Z]{2}", fullmatch=True))
def test_resolving_postcode_shaped_text_never_raises(text: str) -> None:
    result = default_gazetteer().resolve_text(text)
    assert isinstance(result, WardFound | ChooseWard | OutsideArea | NotRecognised)


# --- shared locations -----------------------------------------------------------------------


def test_location_in_chelmsford_resolves_to_a_chelmsford_ward(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve_point(51.7356, 0.4685)  # Chelmsford city centre
    assert isinstance(result, WardFound)
    assert result.via == "location"
    assert result.ward.district_name == "Chelmsford"


def test_location_at_a_postcode_resolves_to_that_postcodes_ward(
    gazetteer: Gazetteer, postcode_rows: list[dict[str, str]]
) -> None:
    sample = random.Random(7).sample(postcode_rows, 200)
    wards_at: dict[tuple[str, str], set[str]] = {
        (r["latitude"], r["longitude"]): set() for r in sample
    }
    for row in postcode_rows:
        # Several postcodes can share a point, so any of their wards is right.
        wards_at.get((row["latitude"], row["longitude"]), set()).add(row["ward_code"])
    for row in sample:
        point = (float(row["latitude"]), float(row["longitude"]))
        assert (
            _found(gazetteer.resolve_point(*point)).code
            in wards_at[row["latitude"], row["longitude"]]
        )


def test_location_far_from_any_postcode_is_outside_with_nearest_ward(
    gazetteer: Gazetteer,
) -> None:
    result = gazetteer.resolve_point(51.5074, -0.1278)  # Trafalgar Square
    assert isinstance(result, OutsideArea)
    [(nearest, km)] = gazetteer.nearest_wards(51.5074, -0.1278, limit=1)
    assert result == OutsideArea(nearest, km)
    assert 10 < result.distance_km < 30


@pytest.mark.parametrize(
    ("lat", "lon"), [(48.0, 2.0), (-33.87, 151.21), (90.0, 0.0), (-90.0, 180.0)]
)
def test_location_outside_great_britain_is_outside_too(
    gazetteer: Gazetteer, lat: float, lon: float
) -> None:
    result = gazetteer.resolve_point(lat, lon)
    assert isinstance(result, OutsideArea)
    assert result.distance_km > 300


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (math.nan, 0.5),
        (51.7, math.nan),
        (math.inf, 0.5),
        (51.7, -math.inf),
        (91.0, 0.5),
        (51.7, 181.0),
    ],
)
def test_impossible_coordinates_are_not_recognised(
    gazetteer: Gazetteer, lat: float, lon: float
) -> None:
    assert gazetteer.resolve_point(lat, lon) == NotRecognised("format")


@settings(max_examples=150, deadline=None)
@given(st.floats(), st.floats())
def test_resolving_any_floats_never_raises(lat: float, lon: float) -> None:
    result = default_gazetteer().resolve_point(lat, lon)
    assert isinstance(result, WardFound | ChooseWard | OutsideArea | NotRecognised)


# --- distances ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lon"), [(51.7356, 0.4685), (51.5074, -0.1278), (52.2, 0.12), (48.0, 2.0), (0.0, 0.0)]
)
def test_nearest_wards_match_a_brute_force_geodesic_search(
    gazetteer: Gazetteer, lat: float, lon: float
) -> None:
    wards = [w for d in gazetteer.districts() for w in gazetteer.wards_in(d.code)]
    brute = sorted((geodesic((lat, lon), (w.latitude, w.longitude)).km, w.code) for w in wards)
    got = gazetteer.nearest_wards(lat, lon, limit=5)
    assert [w.code for w, _ in got] == [code for _, code in brute[:5]]
    assert [km for _, km in got] == pytest.approx([km for km, _ in brute[:5]])


def test_nearest_wards_are_sorted_and_limited(gazetteer: Gazetteer) -> None:
    got = gazetteer.nearest_wards(51.7356, 0.4685, limit=3)
    assert len(got) == 3
    assert [km for _, km in got] == sorted(km for _, km in got)
    assert gazetteer.nearest_wards(51.7356, 0.4685, limit=0) == []
    assert gazetteer.nearest_wards(math.nan, 0.4685) == []


def test_distance_between_wards(gazetteer: Gazetteer) -> None:
    moulsham = gazetteer.ward(MOULSHAM_AND_CENTRAL)
    southend_victoria = gazetteer.ward("E05002225")
    assert moulsham is not None and southend_victoria is not None
    assert gazetteer.distance_km(moulsham, moulsham) == 0
    there = gazetteer.distance_km(moulsham, southend_victoria)
    assert there == pytest.approx(gazetteer.distance_km(southend_victoria, moulsham))
    assert 25 < there < 35  # Chelmsford to Southend is about 30 km


def test_geo_service_does_not_touch_telegram() -> None:
    tree = ast.parse(Path(geo.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert "telegram" not in imported


@pytest.mark.parametrize(
    "typed", ["Tiptree", "tiptree", "TIPTREE", " Tiptree. ", "Tiptre", "tiptree"]
)
def test_a_ward_name_resolves_offline_whatever_the_case_or_a_small_typo(
    gazetteer: Gazetteer, typed: str
) -> None:
    found = gazetteer.resolve_place(typed)
    assert isinstance(found, WardFound) and found.via == "place"
    assert found.ward.name == "Tiptree"


@pytest.mark.parametrize(
    "typed", ["Moulsham and Central", "moulsham & central", "Moulsham-and-Central"]
)
def test_ampersands_and_hyphens_do_not_matter_in_ward_names(
    gazetteer: Gazetteer, typed: str
) -> None:
    found = gazetteer.resolve_place(typed)
    assert isinstance(found, WardFound) and found.ward.code == MOULSHAM_AND_CENTRAL


def test_a_district_name_offers_its_wards_with_the_whole_district_behind_a_button(
    gazetteer: Gazetteer,
) -> None:
    found = gazetteer.resolve_place("Braintree")
    assert isinstance(found, ChoosePlace)
    assert found.district is not None and found.district.name == "Braintree"
    assert [w.name for w in found.wards] == [
        "Braintree Central & Beckers Green",
        "Braintree South",
        "Braintree West",
    ]


def test_a_district_known_by_its_first_word_is_found(gazetteer: Gazetteer) -> None:
    found = gazetteer.resolve_place("southend")
    assert isinstance(found, ChoosePlace)
    assert found.district is not None and found.district.name == "Southend-on-Sea"


def test_a_town_that_starts_several_ward_names_offers_them(gazetteer: Gazetteer) -> None:
    found = gazetteer.resolve_place("Witham")
    assert isinstance(found, ChoosePlace) and found.district is None
    assert [w.name for w in found.wards] == [
        "Witham Central",
        "Witham North",
        "Witham South",
        "Witham West",
    ]


def test_a_ward_name_two_districts_share_offers_both(gazetteer: Gazetteer) -> None:
    found = gazetteer.resolve_place("Trinity")
    assert isinstance(found, ChoosePlace)
    assert {(w.name, w.district_name) for w in found.wards} >= {
        ("Trinity", "Chelmsford"),
        ("Trinity", "Rochford"),
    }


@pytest.mark.parametrize(
    "typed", ["", "ab", "hello there", "Chelmsford town centre", "CM1", "x" * 500, "🤰", "London"]
)
def test_anything_not_a_ward_or_district_name_is_not_recognised(
    gazetteer: Gazetteer, typed: str
) -> None:
    assert gazetteer.resolve_place(typed) == NotRecognised("format")


def test_every_ward_and_district_can_be_found_by_its_own_name(gazetteer: Gazetteer) -> None:
    for district in gazetteer.districts():
        found = gazetteer.resolve_place(district.name)
        assert isinstance(found, ChoosePlace) and found.district == district, district.name
        for ward in gazetteer.wards_in(district.code):
            found = gazetteer.resolve_place(ward.name)
            if isinstance(found, WardFound):
                assert found.ward == ward
            else:
                assert isinstance(found, ChoosePlace) and ward in found.wards, ward.name


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_resolving_any_place_text_never_raises(text: str) -> None:
    found = default_gazetteer().resolve_place(text)
    assert isinstance(found, WardFound | ChoosePlace | NotRecognised)
