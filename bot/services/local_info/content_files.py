"""Reading and checking the council's content files; every problem names its file and line."""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.services.local_info.content import (
    POSTNATAL,
    PREGNANCY,
    SERIES_WEEKS,
    TRIAGE,
    Category,
    ContentSet,
    Helpline,
    Link,
    Service,
    SupportOrganisation,
    TriageUnit,
    UrgentGroup,
    WeekMessage,
    nearby_services_of,
    render_digest,
    render_week,
)
from bot.services.places.geo import Gazetteer, Ward, WardFound
from bot.services.urgent.defaults import built_in_group_ids, built_in_helpline_ids

WEEKS_FILE = "weeks.yaml"
CATEGORIES_FILE = "categories.yaml"
SERVICES_FILE = "services.csv"
URGENT_HELP_FILE = "urgent_help.yaml"
URGENT_WORDS_FILE = "urgent_keywords.yaml"
SUPPORT_FILE = "support.yaml"

TELEGRAM_TEXT_LIMIT = 4096
SERVICE_COLUMNS = ("id", "name", "category", "area", "address", "postcode", "phone", "url", "when")
_OPTIONAL_COLUMNS = ("latitude", "longitude")
_EVERYWHERE = {"all", "everywhere", "essex"}
_PHONE = re.compile(r"^[0-9+() -]{3,40}$")
_TAG = re.compile(r"<[^>]+>")
_LINE = "__line__"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ContentProblem:
    """One thing wrong with the content, where it is."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ContentInvalid(Exception):
    """The content has problems; nothing was loaded."""

    def __init__(self, problems: list[ContentProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the content files")
        self.problems = problems


class _LineLoader(yaml.SafeLoader):
    """Safe YAML that remembers the line every mapping starts on."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[_LINE] = node.start_mark.line + 1
        return mapping


# YAML 1.1 reads yes/no/on/off as true/false, so the negation "no" would become False; here only
# true and false are booleans and every other word stays a word.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def visible_length(text: str) -> int:
    """Length as Telegram counts it: tags removed, entities decoded, in UTF-16 code units."""
    return len(html.unescape(_TAG.sub("", text)).encode("utf-16-le")) // 2


@dataclass
class _Reader:
    folder: Path
    gazetteer: Gazetteer
    problems: list[ContentProblem] = field(default_factory=list)
    sample: bool = False
    # Files that could not be read at all: their sections are not reported missing as well.
    unreadable: set[str] = field(default_factory=set)
    sources: dict[str, list[str]] = field(default_factory=dict)
    # A translation (content/<lang>/): its files and sections may be missing (then English is
    # used), and its problems name the file as "pl/weeks.yaml".
    language: str = "en"

    @property
    def translating(self) -> bool:
        return self.language != "en"

    def problem(self, file: str, line: int, message: str) -> None:
        where = f"{self.language}/{file}" if self.translating else file
        self.problems.append(ContentProblem(where, line, message))

    def yaml_file(self, name: str) -> dict[str, Any]:
        path = self.folder / name
        if not path.is_file() and self.translating:
            self.unreadable.add(name)
            return {_LINE: 1}
        if not path.is_file():
            self.problem(name, 1, "file is missing")
            self.unreadable.add(name)
            return {_LINE: 1}
        source = path.read_text(encoding="utf-8")
        self.sources[name] = source.splitlines()
        try:
            data = yaml.load(source, Loader=_LineLoader)
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else 1
            self.problem(name, line, f"not valid YAML: {exc.problem}")
            self.unreadable.add(name)
            return {_LINE: 1}
        if not isinstance(data, dict):
            self.problem(name, 1, "expected a mapping of named sections at the top")
            self.unreadable.add(name)
            return {_LINE: 1}
        if data.get("sample") is True:
            self.sample = True
        return data

    def key_line(self, name: str, key: str, default: int = 1) -> int:
        """The line a top-level section starts on, for problems about the section as a whole."""
        for number, line in enumerate(self.sources.get(name, ()), start=1):
            if line.startswith(f"{key}:"):
                return number
        return default

    def entries(self, name: str, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = data.get(key)
        line = self.key_line(name, key, int(data.get(_LINE, 1)))
        if name in self.unreadable or (value is None and self.translating):
            return []
        if value is None:
            self.problem(name, line, f"missing section '{key}'")
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(name, line, f"'{key}' must be a list of entries")
            return []
        return value

    def strings(self, name: str, line: int, value: Any, what: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            self.problem(name, line, f"'{what}' must be a list of words or phrases")
            return ()
        return tuple(str(v).strip() for v in value if str(v).strip())

    def model(self, name: str, line: int, model: type[M], data: dict[str, Any]) -> M | None:
        try:
            return model.model_validate({k: v for k, v in data.items() if k != _LINE})
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"])
                if error["type"] == "missing":
                    self.problem(name, line, f"missing field '{where}'")
                elif error["type"] == "extra_forbidden":
                    self.problem(name, line, f"unknown field '{where}'")
                else:
                    self.problem(name, line, f"field '{where}': {error['msg']}")
            return None

    def area_codes(self, name: str, line: int, text: str) -> tuple[tuple[str, ...], str] | None:
        """Resolve "Chelmsford; Maldon", GSS codes or "Ward, District" to codes and a label."""
        codes: list[str] = []
        labels: list[str] = []
        for part in (p.strip() for p in text.split(";")):
            if not part:
                continue
            if part.lower() in _EVERYWHERE:
                return (), ""
            district = self.gazetteer.district(part) or next(
                (d for d in self.gazetteer.districts() if d.name.lower() == part.lower()), None
            )
            if district is not None:
                codes.append(district.code)
                labels.append(district.name)
                continue
            ward = self.gazetteer.ward(part) or self._ward_by_name(part)
            if ward is None:
                self.problem(name, line, f"unknown area '{part}'")
                return None
            codes.append(ward.code)
            labels.append(ward.name)
        if not codes:
            self.problem(name, line, "missing field 'area'")
            return None
        return tuple(codes), " and ".join(labels)

    def _ward_by_name(self, text: str) -> Ward | None:
        ward_name, _, district_name = (p.strip().lower() for p in text.partition(","))
        for district in self.gazetteer.districts():
            if district.name.lower() != district_name:
                continue
            for ward in self.gazetteer.wards_in(district.code):
                if ward.name.lower() == ward_name:
                    return ward
        return None


def _weeks(reader: _Reader) -> tuple[WeekMessage, ...]:
    data = reader.yaml_file(WEEKS_FILE)
    found: list[WeekMessage] = []
    for series in (PREGNANCY, POSTNATAL):
        low, high = SERIES_WEEKS[series]
        seen: set[int] = set()
        for entry in reader.entries(WEEKS_FILE, data, series):
            line = int(entry[_LINE])
            links = entry.get("links") or []
            if not isinstance(links, list):
                reader.problem(WEEKS_FILE, line, "'links' must be a list")
                continue
            checked = [
                reader.model(WEEKS_FILE, int(link.get(_LINE, line)), Link, link) for link in links
            ]
            message = reader.model(
                WEEKS_FILE,
                line,
                WeekMessage,
                {**entry, "series": series, "links": [c.model_dump() for c in checked if c]},
            )
            if message is None or None in checked:
                continue
            if not low <= message.week <= high:
                reader.problem(
                    WEEKS_FILE, line, f"{series} week {message.week} is out of range ({low}–{high})"
                )
                continue
            if message.week in seen:
                reader.problem(WEEKS_FILE, line, f"{series} week {message.week} appears twice")
                continue
            length = visible_length(render_week(message, reader.language))
            if length > TELEGRAM_TEXT_LIMIT:
                reader.problem(
                    WEEKS_FILE,
                    line,
                    f"text is {length} characters once formatted; Telegram allows "
                    f"{TELEGRAM_TEXT_LIMIT}",
                )
                continue
            seen.add(message.week)
            found.append(message)
    return tuple(found)


def _week_pair(reader: _Reader, line: int, value: Any, series: str) -> bool:
    if value is None:
        return True
    low, high = SERIES_WEEKS[series]
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) for v in value)
        or not low <= value[0] <= value[1] <= high
    ):
        reader.problem(
            CATEGORIES_FILE,
            line,
            f"{series}_weeks must be [first, last] with {low} ≤ first ≤ last ≤ {high}",
        )
        return False
    return True


def _categories(reader: _Reader) -> tuple[tuple[Category, ...], float, int]:
    data = reader.yaml_file(CATEGORIES_FILE)
    line = int(data.get(_LINE, 1))
    found: dict[str, Category] = {}
    for entry in reader.entries(CATEGORIES_FILE, data, "categories"):
        at = int(entry[_LINE])
        ok = _week_pair(reader, at, entry.get("pregnancy_weeks"), PREGNANCY)
        ok = _week_pair(reader, at, entry.get("postnatal_weeks"), POSTNATAL) and ok
        category = reader.model(CATEGORIES_FILE, at, Category, entry)
        if category is None or not ok:
            continue
        if category.code in found:
            reader.problem(CATEGORIES_FILE, at, f"category '{category.code}' appears twice")
            continue
        found[category.code] = category
    near_miles, per_message = data.get("near_miles", 10), data.get("per_message", 3)
    if not isinstance(near_miles, int | float) or not 0 < near_miles <= 50:
        reader.problem(CATEGORIES_FILE, line, "near_miles must be a number of miles up to 50")
        near_miles = 10
    if not isinstance(per_message, int) or not 1 <= per_message <= 10:
        reader.problem(CATEGORIES_FILE, line, "per_message must be a whole number from 1 to 10")
        per_message = 3
    return tuple(found.values()), float(near_miles), per_message


def _service_location(
    reader: _Reader, line: int, row: dict[str, str]
) -> tuple[float | None, float | None]:
    lat_text, lon_text = (row.get(c, "").strip() for c in _OPTIONAL_COLUMNS)
    if lat_text or lon_text:
        try:
            lat, lon = float(lat_text), float(lon_text)
        except ValueError:
            reader.problem(SERVICES_FILE, line, "latitude and longitude must both be numbers")
            return None, None
        if not (49 <= lat <= 61 and -9 <= lon <= 2):
            reader.problem(SERVICES_FILE, line, "latitude/longitude is not in Great Britain")
        return lat, lon
    postcode = row.get("postcode", "").strip()
    if not postcode:
        return None, None
    found = reader.gazetteer.resolve_text(postcode)
    if not isinstance(found, WardFound):
        reader.problem(SERVICES_FILE, line, f"postcode '{postcode}' is not in the covered area")
        return None, None
    # The ward centre stands in for the venue: close enough for "about 2 miles away".
    return found.ward.latitude, found.ward.longitude


def _services(reader: _Reader, categories: tuple[Category, ...]) -> tuple[Service, ...]:
    path = reader.folder / SERVICES_FILE
    if not path.is_file():
        reader.problem(SERVICES_FILE, 1, "file is missing")
        return ()
    rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
    header = [h.strip().lower() for h in next(rows, [])]
    missing = [c for c in SERVICE_COLUMNS if c not in header]
    if missing:
        reader.problem(SERVICES_FILE, 1, f"missing column(s): {', '.join(missing)}")
        return ()
    known = {c.code for c in categories}
    found: dict[str, Service] = {}
    line = rows.line_num + 1
    for values in rows:
        at, line = line, rows.line_num + 1
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            reader.problem(SERVICES_FILE, at, "more values than columns (a stray comma?)")
            continue
        row = {h: v.strip() for h, v in zip(header, values, strict=False)}
        blank = [c for c in ("id", "name", "category", "area") if not row.get(c)]
        if blank:
            reader.problem(SERVICES_FILE, at, f"missing field '{blank[0]}'")
            continue
        if not (row.get("phone") or row.get("url")):
            reader.problem(SERVICES_FILE, at, "give a phone number or a web address (or both)")
            continue
        if row["category"] not in known:
            reader.problem(SERVICES_FILE, at, f"unknown category '{row['category']}'")
            continue
        if row.get("phone") and not _PHONE.match(row["phone"]):
            reader.problem(SERVICES_FILE, at, f"phone '{row['phone']}' doesn't look like one")
            continue
        if row.get("url") and not row["url"].startswith("https://"):
            reader.problem(SERVICES_FILE, at, "url must start with https://")
            continue
        area = reader.area_codes(SERVICES_FILE, at, row["area"])
        latitude, longitude = _service_location(reader, at, row)
        if area is None:
            continue
        service = reader.model(
            SERVICES_FILE,
            at,
            Service,
            {
                **{c: row.get(c, "") for c in SERVICE_COLUMNS if c != "area"},
                "area_codes": area[0],
                "area_label": area[1],
                "latitude": latitude,
                "longitude": longitude,
            },
        )
        if service is None:
            continue
        if service.id in found:
            reader.problem(SERVICES_FILE, at, f"service id '{service.id}' appears twice")
            continue
        found[service.id] = service
    return tuple(found.values())


def _urgent_help(
    reader: _Reader,
) -> tuple[tuple[Helpline, ...], tuple[str, ...], tuple[TriageUnit, ...]]:
    data = reader.yaml_file(URGENT_HELP_FILE)
    helplines: dict[str, Helpline] = {}
    for entry in reader.entries(URGENT_HELP_FILE, data, "helplines"):
        helpline = reader.model(URGENT_HELP_FILE, int(entry[_LINE]), Helpline, entry)
        if helpline is not None:
            helplines[helpline.id] = helpline
    line = reader.key_line(URGENT_HELP_FILE, "help_shows")
    shows = reader.strings(URGENT_HELP_FILE, line, data.get("help_shows"), "help_shows")
    for unknown in [s for s in shows if s not in helplines]:
        reader.problem(URGENT_HELP_FILE, line, f"help_shows names unknown helpline '{unknown}'")
    units: list[TriageUnit] = []
    served: dict[str, str] = {}
    for entry in reader.entries(URGENT_HELP_FILE, data, "maternity_triage"):
        at = int(entry[_LINE])
        areas = reader.strings(URGENT_HELP_FILE, at, entry.get("areas"), "areas")
        resolved = reader.area_codes(URGENT_HELP_FILE, at, "; ".join(areas)) if areas else None
        if areas and resolved is not None and any(c.startswith("E05") for c in resolved[0]):
            reader.problem(URGENT_HELP_FILE, at, "triage areas must be districts, not wards")
            continue
        unit = reader.model(
            URGENT_HELP_FILE,
            at,
            TriageUnit,
            {k: v for k, v in entry.items() if k != "areas"}
            | {"districts": resolved[0] if resolved else ()},
        )
        if unit is None or resolved is None:
            continue
        for code in unit.districts:
            if code in served:
                reader.problem(
                    URGENT_HELP_FILE, at, f"{code} already has triage line '{served[code]}'"
                )
            served[code] = unit.name
        units.append(unit)
    triage_line = reader.key_line(URGENT_HELP_FILE, "maternity_triage")
    for district in reader.gazetteer.districts():
        if district.code not in served and URGENT_HELP_FILE not in reader.unreadable:
            reader.problem(
                URGENT_HELP_FILE, triage_line, f"no maternity triage line for {district.name}"
            )
    return tuple(helplines.values()), shows, tuple(units)


def _urgent_groups(
    reader: _Reader, helplines: tuple[Helpline, ...]
) -> tuple[tuple[str, ...], tuple[UrgentGroup, ...]]:
    data = reader.yaml_file(URGENT_WORDS_FILE)
    negations = reader.strings(
        URGENT_WORDS_FILE, int(data.get(_LINE, 1)), data.get("negations"), "negations"
    )
    callable_ids = {h.id for h in helplines} | {TRIAGE} | built_in_helpline_ids()
    groups: list[UrgentGroup] = []
    for entry in reader.entries(URGENT_WORDS_FILE, data, "groups"):
        at = int(entry[_LINE])
        group = reader.model(URGENT_WORDS_FILE, at, UrgentGroup, entry)
        if group is None:
            continue
        if group.id not in built_in_group_ids() and not (group.message and group.call):
            reader.problem(
                URGENT_WORDS_FILE, at, f"new group '{group.id}' needs a message and a call list"
            )
            continue
        unknown = [c for c in group.call if c not in callable_ids]
        if unknown:
            reader.problem(URGENT_WORDS_FILE, at, f"call names unknown helpline '{unknown[0]}'")
            continue
        if any(not p.replace("*", "").strip() for p in group.phrases):
            reader.problem(URGENT_WORDS_FILE, at, "a phrase needs at least one word")
            continue
        groups.append(group)
    return negations, tuple(groups)


def _support(reader: _Reader) -> tuple[str, tuple[SupportOrganisation, ...]]:
    data = reader.yaml_file(SUPPORT_FILE)
    section = data.get("pregnancy_loss")
    if not isinstance(section, dict):
        reader.problem(SUPPORT_FILE, int(data.get(_LINE, 1)), "missing section 'pregnancy_loss'")
        return "", ()
    at = int(section[_LINE])
    message = section.get("message")
    if not isinstance(message, str) or not message.strip():
        reader.problem(SUPPORT_FILE, at, "missing field 'message'")
        message = ""
    organisations = []
    for entry in reader.entries(SUPPORT_FILE, section, "organisations"):
        organisation = reader.model(SUPPORT_FILE, int(entry[_LINE]), SupportOrganisation, entry)
        if organisation is not None:
            organisations.append(organisation)
    return message.strip(), tuple(organisations)


def _check_digests(
    reader: _Reader,
    categories: tuple[Category, ...],
    services: tuple[Service, ...],
    near_miles: float,
    per_message: int,
) -> None:
    """Every "near you" message, for every ward, must fit in one Telegram message."""
    longest: dict[str, tuple[int, str]] = {}
    for district in reader.gazetteer.districts():
        for ward in reader.gazetteer.wards_in(district.code):
            for category in categories:
                nearby = [
                    n
                    for n in nearby_services_of(services, near_miles, ward)
                    if n.service.category == category.code
                ][:per_message]
                if nearby:
                    length = visible_length(render_digest(category, nearby))
                    if length > longest.get(category.code, (0, ""))[0]:
                        longest[category.code] = (length, ward.name)
    for code, (length, ward_name) in longest.items():
        if length > TELEGRAM_TEXT_LIMIT:
            reader.problem(
                CATEGORIES_FILE,
                reader.key_line(CATEGORIES_FILE, "per_message"),
                f"the '{code}' message for {ward_name} would be {length} characters; Telegram "
                f"allows {TELEGRAM_TEXT_LIMIT} (lower per_message or shorten those services)",
            )


def read_content(folder: Path, gazetteer: Gazetteer) -> ContentSet:
    """Read and check every content file; raises ContentInvalid listing all problems."""
    reader = _Reader(folder, gazetteer)
    weeks = _weeks(reader)
    categories, near_miles, per_message = _categories(reader)
    services = _services(reader, categories)
    helplines, help_shows, triage = _urgent_help(reader)
    negations, urgent = _urgent_groups(reader, helplines)
    loss_message, loss_support = _support(reader)
    if not reader.problems:
        _check_digests(reader, categories, services, near_miles, per_message)
    if reader.problems:
        raise ContentInvalid(reader.problems)
    english = ContentSet(
        sample=reader.sample,
        weeks=weeks,
        categories=categories,
        services=services,
        near_miles=near_miles,
        per_message=per_message,
        helplines=helplines,
        help_shows=help_shows,
        triage=triage,
        negations=negations,
        urgent=urgent,
        loss_message=loss_message,
        loss_support=loss_support,
    )
    translations: dict[str, ContentSet] = {}
    problems: list[ContentProblem] = []
    for language in translation_languages(folder):
        translated, found = _translation(folder, language, english, gazetteer)
        translations[language] = translated
        problems.extend(found)
    if problems:
        raise ContentInvalid(problems)
    return english.model_copy(update={"translations": translations})


# --- translations: content/<lang>/ beside the English files --------------------------------------

_LANGUAGE_FOLDER = re.compile(r"^[a-z]{2,3}$")
_CONTENT_FILES = (
    WEEKS_FILE,
    CATEGORIES_FILE,
    SERVICES_FILE,
    URGENT_HELP_FILE,
    URGENT_WORDS_FILE,
    SUPPORT_FILE,
)
# What a translated services.csv may change: the words. Where a service is, who it serves and
# how to reach it stay the English file's, so a translation can never send her elsewhere.
_SERVICE_WORDS = ("name", "address", "when")


def translation_languages(folder: Path) -> tuple[str, ...]:
    """The languages with a folder of translated content (content/pl/, content/ur/, ...)."""
    if not folder.is_dir():
        return ()
    found = (
        p.name
        for p in folder.iterdir()
        if p.is_dir() and _LANGUAGE_FOLDER.match(p.name) and p.name != "en"
    )
    return tuple(sorted(found))


def _text(reader: _Reader, file: str, line: int, entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        reader.problem(file, line, f"field '{key}' must be text")
        return None
    return value.strip()


def _translated_weeks(reader: _Reader, english: ContentSet) -> tuple[WeekMessage, ...]:
    originals = {m.key for m in english.weeks}
    translated = {m.key: m for m in _weeks(reader)}
    for key in sorted(set(translated) - originals):
        series, _, week = key.partition(":")
        reader.problem(WEEKS_FILE, 1, f"{series} week {week} has no English message to translate")
    return tuple(translated.get(m.key, m) for m in english.weeks)


def _translated_categories(reader: _Reader, english: ContentSet) -> tuple[Category, ...]:
    data = reader.yaml_file(CATEGORIES_FILE)
    labels: dict[str, str] = {}
    for entry in reader.entries(CATEGORIES_FILE, data, "categories"):
        at = int(entry[_LINE])
        code, label = entry.get("code"), _text(reader, CATEGORIES_FILE, at, entry, "label")
        if english.category(str(code)) is None:
            reader.problem(CATEGORIES_FILE, at, f"category '{code}' is not in the English file")
        elif label is not None and len(label) <= 60:
            labels[str(code)] = label
        elif label is not None:
            reader.problem(CATEGORIES_FILE, at, "field 'label' is longer than 60 characters")
    return tuple(
        c.model_copy(update={"label": labels[c.code]}) if c.code in labels else c
        for c in english.categories
    )


def _translated_services(reader: _Reader, english: ContentSet) -> tuple[Service, ...]:
    path = reader.folder / SERVICES_FILE
    if not path.is_file():
        return english.services
    rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
    header = [h.strip().lower() for h in next(rows, [])]
    if "id" not in header:
        reader.problem(SERVICES_FILE, 1, "missing column(s): id")
        return english.services
    known = {s.id: s for s in english.services}
    words: dict[str, dict[str, str]] = {}
    line = rows.line_num + 1
    for values in rows:
        at, line = line, rows.line_num + 1
        row = {h: v.strip() for h, v in zip(header, values, strict=False)}
        if not any(row.values()):
            continue
        if row.get("id") not in known:
            reader.problem(SERVICES_FILE, at, f"service id '{row.get('id')}' is not in English")
            continue
        words[row["id"]] = {c: row[c] for c in _SERVICE_WORDS if row.get(c)}
    return tuple(s.model_copy(update=words[s.id]) if s.id in words else s for s in english.services)


def _translated_urgent_help(
    reader: _Reader, english: ContentSet
) -> tuple[tuple[Helpline, ...], tuple[TriageUnit, ...]]:
    data = reader.yaml_file(URGENT_HELP_FILE)
    helplines = {h.id: h for h in english.helplines}
    words: dict[str, dict[str, str]] = {}
    for entry in reader.entries(URGENT_HELP_FILE, data, "helplines"):
        at, id_ = int(entry[_LINE]), str(entry.get("id"))
        if id_ not in helplines and id_ not in built_in_helpline_ids():
            reader.problem(URGENT_HELP_FILE, at, f"helpline '{id_}' is not in the English file")
            continue
        found = {k: _text(reader, URGENT_HELP_FILE, at, entry, k) for k in ("name", "note")}
        words[id_] = {k: v for k, v in found.items() if v}
    # Phone numbers are the English file's: the translation is matched on them, never sets them.
    units = {u.phone: u for u in english.triage}
    unit_words: dict[str, dict[str, str]] = {}
    for entry in reader.entries(URGENT_HELP_FILE, data, "maternity_triage"):
        at, phone = int(entry[_LINE]), str(entry.get("phone", "")).strip()
        if phone not in units:
            reader.problem(URGENT_HELP_FILE, at, f"no English triage line has phone '{phone}'")
            continue
        found = {k: _text(reader, URGENT_HELP_FILE, at, entry, k) for k in ("name", "note")}
        unit_words[phone] = {k: v for k, v in found.items() if v}
    return (
        tuple(h.model_copy(update=words.get(h.id, {})) for h in english.helplines),
        tuple(u.model_copy(update=unit_words.get(u.phone, {})) for u in english.triage),
    )


def _org_key(organisation: SupportOrganisation | dict[str, Any]) -> str:
    if isinstance(organisation, SupportOrganisation):
        return organisation.url or organisation.phone
    return str(organisation.get("url") or organisation.get("phone") or "").strip()


def _translated_support(
    reader: _Reader, english: ContentSet
) -> tuple[str, tuple[SupportOrganisation, ...]]:
    data = reader.yaml_file(SUPPORT_FILE)
    section = data.get("pregnancy_loss")
    if not isinstance(section, dict):
        return english.loss_message, english.loss_support
    at = int(section[_LINE])
    message = _text(reader, SUPPORT_FILE, at, section, "message") or english.loss_message
    originals = {_org_key(o) for o in english.loss_support}
    words: dict[str, dict[str, str]] = {}
    for entry in reader.entries(SUPPORT_FILE, section, "organisations"):
        line = int(entry[_LINE])
        if _org_key(entry) not in originals:
            reader.problem(SUPPORT_FILE, line, "no English organisation has this url or phone")
            continue
        found = {k: _text(reader, SUPPORT_FILE, line, entry, k) for k in ("name", "note")}
        words[_org_key(entry)] = {k: v for k, v in found.items() if v}
    return message, tuple(
        o.model_copy(update=words.get(_org_key(o), {})) for o in english.loss_support
    )


def _translation(
    folder: Path, language: str, english: ContentSet, gazetteer: Gazetteer
) -> tuple[ContentSet, list[ContentProblem]]:
    """English with every item content/<language>/ translates replaced by its translation."""
    reader = _Reader(folder / language, gazetteer, language=language)
    weeks = _translated_weeks(reader, english)
    categories = _translated_categories(reader, english)
    services = _translated_services(reader, english)
    helplines, triage = _translated_urgent_help(reader, english)
    negations, urgent_own = _urgent_groups(reader, english.helplines)
    loss_message, loss_support = _translated_support(reader, english)
    translated = english.model_copy(
        update={
            "language": language,
            "weeks": weeks,
            "categories": categories,
            "services": services,
            "helplines": helplines,
            "triage": triage,
            "urgent_own": urgent_own,
            "negations_own": negations,
            "loss_message": loss_message,
            "loss_support": loss_support,
        }
    )
    if not reader.problems:
        _check_digests(reader, categories, services, english.near_miles, english.per_message)
    return translated, reader.problems


def _english_lines(folder: Path) -> dict[tuple[str, str], int]:
    """Where each English item starts, by (file, item id), for "which items lack a translation"."""
    lines: dict[tuple[str, str], int] = {}
    for name, sections, field_name in (
        (WEEKS_FILE, (PREGNANCY, POSTNATAL), "week"),
        (CATEGORIES_FILE, ("categories",), "code"),
        (URGENT_HELP_FILE, ("helplines",), "id"),
        (URGENT_HELP_FILE, ("maternity_triage",), "phone"),
        (URGENT_WORDS_FILE, ("groups",), "id"),
    ):
        path = folder / name
        if not path.is_file():
            continue
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
        for section in sections:
            for entry in data.get(section) or ():
                prefix = f"{section}:" if name == WEEKS_FILE else ""
                lines[(name, f"{prefix}{entry.get(field_name)}")] = int(entry[_LINE])
    support = folder / SUPPORT_FILE
    if support.is_file():
        data = yaml.load(support.read_text(encoding="utf-8"), Loader=_LineLoader)
        loss: dict[str, Any] = data.get("pregnancy_loss") or {}
        lines[(SUPPORT_FILE, "message")] = int(loss.get(_LINE, 1))
        for entry in loss.get("organisations") or ():
            lines[(SUPPORT_FILE, _org_key(entry))] = int(entry[_LINE])
    services = folder / SERVICES_FILE
    if services.is_file():
        rows = csv.reader(io.StringIO(services.read_text(encoding="utf-8-sig"), newline=""))
        header = [h.strip().lower() for h in next(rows, [])]
        line = rows.line_num + 1
        for values in rows:
            at, line = line, rows.line_num + 1
            row = dict(zip(header, values, strict=False))
            lines[(SERVICES_FILE, row.get("id", "").strip())] = at
    return lines


def untranslated(folder: Path, content: ContentSet) -> dict[str, list[ContentProblem]]:
    """Per language, each English item with no translation, at its English file and line.

    Not a problem that stops a load: she gets the English item meanwhile.
    """
    lines = _english_lines(folder)
    report: dict[str, list[ContentProblem]] = {}
    for language, translated in sorted(content.translations.items()):
        missing: list[ContentProblem] = []

        def lacks(
            file: str,
            item: str,
            what: str,
            language: str = language,
            missing: list[ContentProblem] = missing,
        ) -> None:
            where = lines.get((file, item), 1)
            missing.append(ContentProblem(file, where, f"{what} has no '{language}' translation"))

        for english, other in zip(content.weeks, translated.weeks, strict=True):
            if english == other:
                lacks(WEEKS_FILE, english.key, f"{english.series} week {english.week}")
        for english_category, category in zip(
            content.categories, translated.categories, strict=True
        ):
            if english_category == category:
                lacks(CATEGORIES_FILE, english_category.code, f"category '{category.code}'")
        for service, other_service in zip(content.services, translated.services, strict=True):
            if service == other_service:
                lacks(SERVICES_FILE, service.id, f"service '{service.id}'")
        for helpline, other_helpline in zip(content.helplines, translated.helplines, strict=True):
            if helpline == other_helpline:
                lacks(URGENT_HELP_FILE, helpline.id, f"helpline '{helpline.id}'")
        for unit, other_unit in zip(content.triage, translated.triage, strict=True):
            if unit == other_unit:
                lacks(URGENT_HELP_FILE, unit.phone, f"triage line '{unit.name}'")
        own = {g.id for g in translated.urgent_own}
        for group in content.urgent:
            if group.id not in own:
                lacks(URGENT_WORDS_FILE, group.id, f"urgent group '{group.id}'")
        if content.loss_message and content.loss_message == translated.loss_message:
            lacks(SUPPORT_FILE, "message", "the pregnancy-loss message")
        for organisation, other_org in zip(
            content.loss_support, translated.loss_support, strict=True
        ):
            if organisation == other_org:
                lacks(SUPPORT_FILE, _org_key(organisation), f"organisation '{organisation.name}'")
        missing.sort(key=lambda p: (_CONTENT_FILES.index(p.file), p.line))
        report[language] = missing
    return report
