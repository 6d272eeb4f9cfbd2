"""Synthetic residents and what they do, from a seed: one generator for demos, loads and benches.

Everything here is plain data, made without a database: who signs up when and where, what she
agrees to, when she changes her mind, what feedback she gives. `bot/services/demo.py` plays it
through the bot's own services; a benchmark can turn the same plans into bulk rows. The same
seed, counts and dates always give the same plans.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.services.places.geo import Gazetteer, Ward
from models import OPTIONAL_PURPOSES, ConsentPurpose, FeedbackMoment, Loneliness

PREGNANCY_WEEKS = 40
FIRST_TELEGRAM_ID = 8_100_000_001  # far from the sandbox's pretend users and from bench ids
# Busy districts get more sign-ups, as towns do; the rest share what is left.
DISTRICT_WEIGHTS = {
    "Chelmsford": 16,
    "Colchester": 14,
    "Basildon": 12,
    "Southend-on-Sea": 12,
    "Thurrock": 10,
    "Braintree": 7,
}
OTHER_DISTRICT_WEIGHT = 3
# Mums-to-be cluster in a few neighbourhoods of each district, which is what makes matches.
WARDS_PER_DISTRICT = 4
NAMES = (
    "Amara", "Beth", "Chloe", "Daisy", "Ella", "Fatima", "Grace", "Hannah", "Isla", "Jade",
    "Katie", "Leah", "Maya", "Nadia", "Olivia", "Priya", "Rosie", "Sophie", "Tara", "Zainab",
    "Aisha", "Bella", "Chantelle", "Demi", "Emily", "Freya", "Georgia", "Holly", "Imogen",
    "Jess", "Kirsty", "Lucy", "Megan", "Niamh", "Poppy", "Ruby", "Sienna", "Tilly", "Amy",
)  # fmt: skip
RATED_SERVICES = 3
WITHDRAWAL_WEIGHTS = {
    ConsentPurpose.MATCHING: 1,
    ConsentPurpose.LOCAL_INFO: 3,
    ConsentPurpose.FEEDBACK: 5,
}
CONSENT_SHARES = {
    ConsentPurpose.MATCHING: 0.75,
    ConsentPurpose.LOCAL_INFO: 0.8,
    ConsentPurpose.FEEDBACK: 0.65,
}
COMMENTS = (
    "Meeting another mum at my stage made a real difference, thank you.",
    "The week-by-week messages are lovely, but they sometimes come a bit early.",
    "I'd like more information about classes in the evenings for working mums.",
    "Could you tell us about breastfeeding support before the birth, not just after?",
    "It took a while to find someone near me, but we meet every week now.",
    "Please call me on 07700 900123 about the yoga class, I couldn't book it.",
    "Some of the links didn't work on my phone.",
    "I felt less alone after the group chat started.",
)


@dataclass(frozen=True)
class FeedbackPlan:
    """One rating she gives, perhaps with a loneliness answer and a comment."""

    at: dt.datetime
    moment: FeedbackMoment
    rating: int
    loneliness: Loneliness | None
    comment: str | None
    # Which of the directory's first few services she rates, if it is about one.
    service: int | None = None


@dataclass(frozen=True)
class ResidentPlan:
    """One synthetic mum-to-be: her sign-up and everything she will do afterwards."""

    number: int
    telegram_user_id: int
    display_name: str
    ward: Ward
    joined_at: dt.datetime
    due_date: dt.date
    consents: dict[ConsentPurpose, bool]
    # An index into the join links of the plan (a midwife's poster), or None.
    link: int | None
    changes: list[tuple[dt.datetime, ConsentPurpose, bool]] = field(default_factory=list)
    feedback: list[FeedbackPlan] = field(default_factory=list)
    # When she browses /match and says hello to the first suggestion, if she does.
    says_hello_at: dt.datetime | None = None
    # When she blocks the bot (bulk messages to her are skipped from then on), if she does.
    blocks_bot_at: dt.datetime | None = None


@dataclass(frozen=True)
class Population:
    """Everyone who signs up between `start` and `end`, in order of joining."""

    start: dt.datetime
    end: dt.datetime
    residents: list[ResidentPlan]


def hub_wards(gazetteer: Gazetteer, rng: random.Random) -> list[tuple[Ward, int]]:
    """The wards people sign up from, with a weight each."""
    weighted: list[tuple[Ward, int]] = []
    for district in gazetteer.districts():
        wards = gazetteer.wards_in(district.code)
        chosen = rng.sample(wards, min(WARDS_PER_DISTRICT, len(wards)))
        weight = DISTRICT_WEIGHTS.get(district.name, OTHER_DISTRICT_WEIGHT)
        weighted += [(ward, weight) for ward in chosen]
    return weighted


def _daytime(day: dt.date, rng: random.Random, zone: ZoneInfo) -> dt.datetime:
    """A moment between 08:00 and 21:00 local time on `day`, in UTC."""
    minute = rng.randrange(8 * 60, 21 * 60)
    local = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), zone)
    return local.astimezone(dt.UTC)


def _feedback(
    rng: random.Random, joined: dt.datetime, end: dt.datetime, asked: bool
) -> list[FeedbackPlan]:
    plans = []
    moments = [(dt.timedelta(days=14), FeedbackMoment.TWO_WEEKS)] if asked else []
    if rng.random() < 0.4:
        moments.append((dt.timedelta(days=rng.randrange(3, 200)), FeedbackMoment.ANYTIME))
    for after, moment in moments:
        at = joined + after + dt.timedelta(minutes=rng.randrange(30, 600))
        if at >= end or (moment is FeedbackMoment.TWO_WEEKS and rng.random() < 0.35):
            continue  # not there yet, or she let the question go
        rating = rng.choices((1, 2, 3, 4, 5), weights=(2, 3, 10, 30, 35))[0]
        loneliness = (
            rng.choices(list(Loneliness), weights=(3, 8, 10, 8, 4))[0]
            if rng.random() < 0.8
            else None
        )
        comment = rng.choice(COMMENTS) if rng.random() < 0.2 else None
        about = moment is FeedbackMoment.ANYTIME and rng.random() < 0.5
        service = rng.randrange(RATED_SERVICES) if about else None
        plans.append(FeedbackPlan(at, moment, rating, loneliness, comment, service))
    return plans


def plan_population(
    gazetteer: Gazetteer,
    *,
    count: int,
    end: dt.datetime,
    days: int = 365,
    seed: int = 1,
    links: int = 0,
    zone: ZoneInfo | None = None,
) -> Population:
    """`count` residents who sign up over the `days` before `end` (more in recent months)."""
    rng = random.Random(seed)
    zone = zone or ZoneInfo("Europe/London")
    wards, weights = zip(*hub_wards(gazetteer, rng), strict=True)
    start = end - dt.timedelta(days=days)
    residents: list[ResidentPlan] = []
    for number in range(count):
        # Word of mouth: sign-ups grow through the year (a triangular spread towards the end).
        joined_day = (start + dt.timedelta(days=rng.triangular(0, days, days))).date()
        joined = _daytime(joined_day, rng, zone)
        if joined >= end:
            joined = end - dt.timedelta(minutes=rng.randrange(60, 600))
        weeks_along = rng.randrange(6, 35)
        consents = {p: rng.random() < CONSENT_SHARES[p] for p in OPTIONAL_PURPOSES}
        changes = []
        # Some turn something off later, most often the questions, rarely meeting other mums.
        agreed = [p for p in OPTIONAL_PURPOSES if consents[p]]
        if agreed and rng.random() < 0.2:
            purpose = rng.choices(agreed, weights=[WITHDRAWAL_WEIGHTS[p] for p in agreed])[0]
            later = joined + dt.timedelta(days=rng.randrange(2, 120), minutes=rng.randrange(600))
            if later < end:
                changes.append((later, purpose, False))
        hello = None
        if consents[ConsentPurpose.MATCHING] and rng.random() < 0.6:
            hello = joined + dt.timedelta(hours=rng.randrange(1, 24 * 10))
        blocks = None
        if rng.random() < 0.03:
            blocks = joined + dt.timedelta(days=rng.randrange(5, 200))
        residents.append(
            ResidentPlan(
                number=number,
                telegram_user_id=FIRST_TELEGRAM_ID + number,
                display_name=rng.choice(NAMES),
                ward=rng.choices(wards, weights=weights)[0],
                joined_at=joined,
                due_date=joined.date() + dt.timedelta(weeks=PREGNANCY_WEEKS - weeks_along),
                consents=consents,
                link=rng.randrange(links) if links and rng.random() < 0.4 else None,
                changes=changes,
                feedback=_feedback(rng, joined, end, consents[ConsentPurpose.FEEDBACK]),
                says_hello_at=hello if hello is not None and hello < end else None,
                blocks_bot_at=blocks if blocks is not None and blocks < end else None,
            )
        )
    residents.sort(key=lambda r: (r.joined_at, r.number))
    return Population(start, end, residents)
