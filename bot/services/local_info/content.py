"""The council's content in memory: week messages, services, helplines and urgent-help words.

`content_files` reads and checks the files under content/; this module holds the checked set,
stores it (all or nothing) and renders what residents receive.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from geopy.distance import geodesic
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.places.geo import Gazetteer, Ward
from bot.texts import Html, load_catalogue
from models import (
    ContentCategory,
    ContentLibrary,
    ContentMessage,
    ContentTranslation,
    WardDigest,
)

logger = logging.getLogger(__name__)

KM_PER_MILE = 1.609344
PREGNANCY = "pregnancy"
POSTNATAL = "postnatal"
SERIES_WEEKS = {PREGNANCY: (1, 42), POSTNATAL: (1, 52)}
TRIAGE = "triage"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Link(_Frozen):
    """A link to an NHS (or other trusted) page."""

    title: str = Field(min_length=1, max_length=100)
    url: str = Field(pattern=r"^https://\S+$", max_length=300)


class WeekMessage(_Frozen):
    """The message for one week of pregnancy or one week after the birth."""

    series: str
    week: int
    title: str = Field(min_length=1, max_length=120)
    text: str = Field(min_length=1)
    links: tuple[Link, ...] = ()

    @property
    def key(self) -> str:
        """The content key, unique per resident in the delivery queue."""
        return f"{self.series}:{self.week}"


class Category(_Frozen):
    """A kind of service, and when in her journey it is worth telling her about it."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,30}$")
    label: str = Field(min_length=1, max_length=60)
    pregnancy_weeks: tuple[int, int] | None = None
    postnatal_weeks: tuple[int, int] | None = None
    after_loss: bool = False


class Service(_Frozen):
    """One entry of the local services directory."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$")
    name: str = Field(min_length=1, max_length=120)
    category: str
    # GSS codes of the wards or districts it serves; empty means everywhere covered.
    area_codes: tuple[str, ...] = ()
    area_label: str = ""
    address: str = Field(default="", max_length=200)
    postcode: str = Field(default="", max_length=10)
    phone: str = Field(default="", max_length=40)
    url: str = Field(default="", max_length=300)
    when: str = Field(default="", max_length=200)
    latitude: float | None = None
    longitude: float | None = None

    @property
    def located(self) -> bool:
        """Whether it happens at a place (so a distance means something)."""
        return self.latitude is not None and self.longitude is not None


class Helpline(_Frozen):
    """A number anyone can call, e.g. 999 or NHS 111."""

    id: str = Field(pattern=r"^[a-z0-9_]{1,30}$")
    name: str = Field(min_length=1, max_length=80)
    phone: str = Field(min_length=3, max_length=40)
    note: str = ""
    url: str = ""


class TriageUnit(_Frozen):
    """A maternity triage line and the districts whose residents it serves."""

    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(min_length=3, max_length=40)
    note: str = ""
    districts: tuple[str, ...]


class UrgentGroup(_Frozen):
    """Phrases that mean she may need help now, and who to call.

    A council group with a built-in group's id adds to it: its phrases count as well, and a
    message or call list given here replaces the built-in one. A new group needs both.
    """

    id: str = Field(pattern=r"^[a-z0-9_]{1,30}$")
    message: str = ""
    call: tuple[str, ...] = ()
    phrases: tuple[str, ...] = Field(min_length=1)
    not_if: tuple[str, ...] = ()
    # Words that, just before a phrase, say it is about someone else ("my friend's waters").
    not_after: tuple[str, ...] = ()


class SupportOrganisation(_Frozen):
    """A charity or service offering support, e.g. after a pregnancy loss."""

    name: str = Field(min_length=1, max_length=80)
    phone: str = ""
    url: str = ""
    note: str = ""


class ContentSet(_Frozen):
    """Everything the council provides, checked."""

    sample: bool
    weeks: tuple[WeekMessage, ...]
    categories: tuple[Category, ...]
    services: tuple[Service, ...]
    near_miles: float = Field(gt=0, le=50)
    per_message: int = Field(ge=1, le=10)
    helplines: tuple[Helpline, ...]
    help_shows: tuple[str, ...]
    triage: tuple[TriageUnit, ...]
    negations: tuple[str, ...]
    urgent: tuple[UrgentGroup, ...]
    loss_message: str
    loss_support: tuple[SupportOrganisation, ...]
    # The language of the words in this set; a translated set is English with every item that
    # has a translation (content/<lang>/) replaced by it, so a missing one falls back to English.
    language: str = "en"
    # The council's urgent phrases in this language only, matched beside the English ones.
    urgent_own: tuple[UrgentGroup, ...] = ()
    negations_own: tuple[str, ...] = ()
    translations: dict[str, ContentSet] = Field(default_factory=dict)

    def for_language(self, language: str | None) -> ContentSet:
        """The content in her language where translated, English otherwise."""
        return self.translations.get(language or "en", self)

    def digest(self) -> str:
        """A fingerprint of the content, to tell which version is loaded."""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()

    def category(self, code: str) -> Category | None:
        """The category with this code."""
        return next((c for c in self.categories if c.code == code), None)


@dataclass(frozen=True)
class NearbyService:
    """A service she can use, with how far it is from her neighbourhood (None: area-wide)."""

    service: Service
    miles: float | None


def serves(service: Service, ward: Ward) -> bool:
    """Whether residents of this ward can use the service."""
    return not service.area_codes or bool({ward.code, ward.district_code} & set(service.area_codes))


def _miles(ward: Ward, service: Service) -> float | None:
    if service.latitude is None or service.longitude is None:
        return None
    km = geodesic((ward.latitude, ward.longitude), (service.latitude, service.longitude)).km
    return float(km) / KM_PER_MILE


def nearby_services_of(
    services: tuple[Service, ...], near_miles: float, ward: Ward
) -> list[NearbyService]:
    """Services for her ward: in-area ones within reach, nearest first, area-wide ones last."""
    found: list[NearbyService] = []
    for service in services:
        if not serves(service, ward):
            continue
        miles = _miles(ward, service)
        if miles is not None and miles > near_miles:
            continue
        found.append(NearbyService(service, miles))
    found.sort(key=lambda n: (n.miles is None, n.miles or 0.0, n.service.name))
    return found


def nearby_services(
    content: ContentSet, ward: Ward, category: str | None = None
) -> list[NearbyService]:
    """The content's services for her ward (optionally one category), nearest first."""
    found = nearby_services_of(content.services, content.near_miles, ward)
    return [n for n in found if category is None or n.service.category == category]


def render_links(links: Iterable[Link], language: str = "en") -> Html:
    """Links as HTML lines; titles escaped, URLs quoted."""
    texts = load_catalogue(language)
    return Html("\n".join(texts("content.link", url=link.url, title=link.title) for link in links))


def render_week(message: WeekMessage, language: str = "en") -> Html:
    """A week message as she receives it."""
    texts = load_catalogue(language)
    key = "content.week_message" if message.series == PREGNANCY else "content.baby_message"
    links = render_links(message.links, language)
    return texts(key, title=message.title, text=message.text, links=links)


def render_service(nearby: NearbyService, language: str = "en") -> Html:
    """One service as a short block: name, distance, when, where, how to get in touch."""
    texts = load_catalogue(language)
    service = nearby.service
    lines = [texts("content.service_name", name=service.name)]
    if nearby.miles is not None:
        lines.append(texts("content.service_miles", miles=f"{nearby.miles:.1f}"))
    elif service.area_label:
        lines.append(texts("content.service_area", area=service.area_label))
    if service.when:
        lines.append(texts("content.service_when", when=service.when))
    if service.address:
        lines.append(texts("content.service_address", address=service.address))
    if service.phone:
        lines.append(texts("content.service_phone", phone=service.phone))
    if service.url:
        lines.append(texts("content.service_url", url=service.url))
    return Html("\n".join(lines))


def render_digest(category: Category, nearby: list[NearbyService], language: str = "en") -> Html:
    """The "near you" message for one category."""
    texts = load_catalogue(language)
    blocks = Html("\n\n".join(render_service(n, language) for n in nearby))
    return texts("content.digest", label=category.label, services=blocks)


def _week_range(weeks: tuple[int, int] | None) -> tuple[int | None, int | None]:
    return (weeks[0], weeks[1]) if weeks else (None, None)


async def store_content(
    session: AsyncSession, content: ContentSet, gazetteer: Gazetteer, now: dt.datetime
) -> int:
    """Replace the loaded content in one transaction; returns how many ward digests were made."""
    for table in (ContentMessage, ContentCategory, WardDigest, ContentTranslation, ContentLibrary):
        await session.execute(delete(table))
    if content.weeks:
        await session.execute(
            insert(ContentMessage),
            [
                {"key": m.key, "series": m.series, "week": m.week, "text": render_week(m)}
                for m in content.weeks
            ],
        )
    if content.categories:
        rows = []
        for position, category in enumerate(content.categories):
            pregnancy_from, pregnancy_to = _week_range(category.pregnancy_weeks)
            postnatal_from, postnatal_to = _week_range(category.postnatal_weeks)
            rows.append(
                {
                    "code": category.code,
                    "label": category.label,
                    "position": position,
                    "pregnancy_from": pregnancy_from,
                    "pregnancy_to": pregnancy_to,
                    "postnatal_from": postnatal_from,
                    "postnatal_to": postnatal_to,
                    "after_loss": category.after_loss,
                }
            )
        await session.execute(insert(ContentCategory), rows)
    digests = []
    for district in gazetteer.districts():
        for ward in gazetteer.wards_in(district.code):
            near_ward = nearby_services(content, ward)
            for category in content.categories:
                nearby = [n for n in near_ward if n.service.category == category.code]
                if nearby:
                    text = render_digest(category, nearby[: content.per_message])
                    digests.append(
                        {"ward_code": ward.code, "category": category.code, "text": text}
                    )
    if digests:
        await session.execute(insert(WardDigest), digests)
    for language, translated in content.translations.items():
        translated_rows = _translated_rows(translated, gazetteer, language)
        for start in range(0, len(translated_rows), 1000):
            await session.execute(insert(ContentTranslation), translated_rows[start : start + 1000])
    session.add(
        ContentLibrary(
            id=1,
            digest=content.digest(),
            sample=content.sample,
            body=json.loads(content.model_dump_json()),
            loaded_at=now,
        )
    )
    await session.flush()
    return len(digests)


def translation_key_of_digest(ward_code: str, category: str) -> str:
    """The content_translations key of a ward's "near you" message for one category."""
    return f"digest:{ward_code}:{category}"


def _translated_rows(
    translated: ContentSet, gazetteer: Gazetteer, language: str
) -> list[dict[str, str]]:
    """Every week and "near you" message of a translated set, rendered in its language."""
    rows = [
        {"language": language, "key": m.key, "text": render_week(m, language)}
        for m in translated.weeks
    ]
    for district in gazetteer.districts():
        for ward in gazetteer.wards_in(district.code):
            near_ward = nearby_services(translated, ward)
            for category in translated.categories:
                nearby = [n for n in near_ward if n.service.category == category.code]
                if nearby:
                    text = render_digest(category, nearby[: translated.per_message], language)
                    key = translation_key_of_digest(ward.code, category.code)
                    rows.append({"language": language, "key": key, "text": text})
    return rows


async def loaded_digest(session: AsyncSession) -> str | None:
    """The fingerprint of the content in the database (None before the first load): cheap to
    compare, so every running bot can notice a new `content load` quickly."""
    return await session.scalar(select(ContentLibrary.digest).where(ContentLibrary.id == 1))


async def load_content(session: AsyncSession) -> ContentSet | None:
    """The loaded content, or None when `bumpbuddies content load` has not been run yet."""
    body = await session.scalar(select(ContentLibrary.body).where(ContentLibrary.id == 1))
    if body is None:
        return None
    try:
        return ContentSet.model_validate(body)
    except ValidationError:
        # Loaded by an older version whose content had a different shape: the bot carries on
        # with the national numbers only until the content is loaded again.
        logger.error("the loaded content doesn't fit this version: run `bumpbuddies content load`")
        return None


async def store_in_database(
    database_url: str, content: ContentSet, gazetteer: Gazetteer, now: dt.datetime
) -> int:
    """`bumpbuddies content load`: store the content in one transaction on its own engine."""
    from bot.db import create_engine, create_sessionmaker

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await store_content(session, content, gazetteer, now)
    finally:
        await engine.dispose()
