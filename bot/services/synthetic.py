"""Synthetic residents and what they do, from a seed: one generator for demos, loads and benches.

Everything here is plain data, made without a database. `synthetic_residents` makes the people
(where, when she joined, her due date, her consent choices, whether Telegram can still reach
her) from a `Mix` of knobs; `plan_population` adds what each one does over a year, which
`bot/services/demo.py` plays through the bot's own services; `resident_rows` and friends turn the
same people into bulk rows for the benchmarks (`bench/population.py` writes them). The same seed
and knobs always give the same people.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
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


@dataclass(frozen=True)
class Window:
    """Days, evenly spread from `first` to `last`; or (`rising`) more of them towards `first`."""

    first: float
    last: float
    # How often this window is picked when several are mixed.
    weight: float = 1.0
    rising: bool = False

    def days(self, rng: random.Random) -> float:
        """A number of days in the window."""
        if self.rising:
            return rng.triangular(self.first, self.last, self.first)
        return rng.uniform(self.first, self.last)


@dataclass(frozen=True)
class Mix:
    """The knobs of a synthetic population; benchmarks, load runs and the demo each set theirs."""

    count: int
    # The moment the data describes: joining, due dates and blocking are placed around it.
    now: dt.datetime
    seed: int = 1
    # "every": every ward of the gazetteer, evenly; "hubs": a few wards per district, busy
    # districts weighted up (mums-to-be cluster, which is what makes matches); or ward codes.
    wards: Literal["every", "hubs"] | tuple[str, ...] = "every"
    # Days before `now` she signed up (windows mixed by weight).
    joined: tuple[Window, ...] = (Window(0, 200),)
    # Sign-ups between 08:00 and 21:00 in this zone, as real ones mostly are (None: any time).
    daytime_in: ZoneInfo | None = None
    # Due dates: days after today, or, when set, weeks along she was when she signed up.
    due: Window = Window(0, 280)
    weeks_along_at_joining: tuple[int, int] | None = None
    # This share has had her baby (due date in `born` days from today) and told us so.
    born_share: float = 0.0
    born: Window = Window(-300, 0)
    # The share saying yes to each optional consent (health data is always yes).
    consents: Mapping[ConsentPurpose, float] = field(default_factory=lambda: CONSENT_SHARES)
    # For each purpose, the share who first chose the opposite and changed her mind since.
    second_thoughts: Mapping[ConsentPurpose, float] = field(default_factory=dict)
    # This share finished signing up; the rest stopped part-way.
    active_share: float = 1.0
    # This share has blocked the bot (at some moment between joining and `now`).
    blocked_share: float = 0.0
    # This share used matching in the last 30 days.
    recently_active_share: float = 0.0
    first_telegram_id: int = FIRST_TELEGRAM_ID
    # Their Telegram ids, when they must be particular users (a fake Bot API's); else numbered.
    telegram_ids: Sequence[int] | None = None
    # Where she heard of us (join-link sources), with weights.
    sources: Mapping[str | None, float] = field(default_factory=lambda: {None: 1.0})


@dataclass(frozen=True, slots=True)
class SyntheticResident:
    """One synthetic resident as the database would hold her today."""

    number: int
    person_ref: str
    telegram_user_id: int
    display_name: str
    ward: Ward
    joined_at: dt.datetime
    due_date: dt.date
    born: bool
    consents: dict[ConsentPurpose, bool]
    # The purposes whose choice followed an earlier opposite one.
    second_thoughts: frozenset[ConsentPurpose]
    active: bool
    # When she blocked the bot, if she did.
    blocks_bot_at: dt.datetime | None
    last_active_at: dt.datetime | None
    signup_source: str | None

    @property
    def resident_id(self) -> int:
        """Her row's id when loaded into an empty table."""
        return self.number + 1

    def unreachable_at(self, now: dt.datetime) -> dt.datetime | None:
        """Since when Telegram cannot reach her, as of `now`."""
        blocked = self.blocks_bot_at
        return blocked if blocked is not None and blocked <= now else None


def _ward_choices(
    gazetteer: Gazetteer, mix: Mix, rng: random.Random
) -> tuple[list[Ward], list[float]]:
    if mix.wards == "hubs":
        chosen, weights = zip(*hub_wards(gazetteer, rng), strict=True)
        return list(chosen), [float(w) for w in weights]
    if mix.wards == "every":
        every = [w for d in gazetteer.districts() for w in gazetteer.wards_in(d.code)]
        return every, [1.0] * len(every)
    named = [gazetteer.ward(code) for code in mix.wards]
    if any(ward is None for ward in named):
        raise ValueError("unknown ward code")
    return [w for w in named if w is not None], [1.0] * len(named)


def synthetic_residents(gazetteer: Gazetteer, mix: Mix) -> Iterator[SyntheticResident]:
    """`mix.count` residents, in the order they are numbered (not of joining)."""
    rng = random.Random(mix.seed)
    wards, ward_weights = _ward_choices(gazetteer, mix, rng)
    cumulative = list(_accumulate(ward_weights))
    windows = list(mix.joined)
    window_weights = [w.weight for w in windows]
    sources = list(mix.sources)
    source_weights = list(mix.sources.values())
    today = mix.now.date()
    for number in range(mix.count):
        window = windows[0] if len(windows) == 1 else rng.choices(windows, window_weights)[0]
        joined = mix.now - dt.timedelta(days=window.days(rng))
        if mix.daytime_in is not None:
            joined = _daytime(joined.date(), rng, mix.daytime_in)
            if joined >= mix.now:
                joined = mix.now - dt.timedelta(minutes=rng.randrange(60, 600))
        born = rng.random() < mix.born_share
        if born:
            due = today + dt.timedelta(days=math.floor(mix.born.days(rng)))
        elif mix.weeks_along_at_joining is not None:
            weeks = rng.randint(*mix.weeks_along_at_joining)
            due = joined.date() + dt.timedelta(weeks=PREGNANCY_WEEKS - weeks)
        else:
            due = today + dt.timedelta(days=math.floor(mix.due.days(rng)))
        consents = {p: rng.random() < mix.consents.get(p, 0.0) for p in OPTIONAL_PURPOSES}
        blocks = None
        if rng.random() < mix.blocked_share:
            blocks = joined + (mix.now - joined) * rng.random()
        recently = rng.random() < mix.recently_active_share
        yield SyntheticResident(
            number=number,
            person_ref=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            telegram_user_id=(
                mix.telegram_ids[number]
                if mix.telegram_ids is not None
                else mix.first_telegram_id + number
            ),
            display_name=rng.choice(NAMES),
            ward=wards[_pick(cumulative, rng)],
            joined_at=joined,
            due_date=due,
            born=born,
            consents=consents,
            second_thoughts=frozenset(
                p for p, share in mix.second_thoughts.items() if rng.random() < share
            ),
            active=rng.random() < mix.active_share,
            blocks_bot_at=blocks,
            last_active_at=(
                mix.now - dt.timedelta(minutes=rng.randrange(60 * 24 * 30)) if recently else None
            ),
            signup_source=(
                sources[0] if len(sources) == 1 else rng.choices(sources, source_weights)[0]
            ),
        )


def _accumulate(weights: Sequence[float]) -> Iterator[float]:
    total = 0.0
    for weight in weights:
        total += weight
        yield total


def _pick(cumulative: list[float], rng: random.Random) -> int:
    # rng.choices rebuilds the running totals on every call; a million residents would feel it.
    return min(bisect_right(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


# --- Bulk rows: the same residents as the tables hold them ----------------------------------------

RESIDENT_COLUMNS = (
    "id",
    "person_ref",
    "telegram_user_id",
    "status",
    "display_name",
    "due_date",
    "ward_code",
    "district_code",
    "signup_source",
    "language_code",
    "created_at",
    "updated_at",
    "onboarded_at",
    "unreachable_since",
    "matching_consent",
    "local_info_consent",
    "last_active_at",
)
CONSENT_COLUMNS = (
    "receipt_id",
    "person_ref",
    "purpose",
    "granted",
    "consent_type",
    "notice_version",
    "text_sha256",
    "language",
    "jurisdiction",
    "method",
    "source",
    "created_at",
)
# consent_type, notice_version, text_sha256, language, jurisdiction, method, source.
_RECEIPT = ("explicit", "synthetic", "0" * 64, "en", "GB", "bulk", None)
LIFE_EVENT_COLUMNS = ("resident_id", "stage", "baby_born_on", "keep_local_info", "updated_at")


def resident_row(resident: SyntheticResident, now: dt.datetime) -> tuple[Any, ...]:
    """Her `residents` row (RESIDENT_COLUMNS), as of `now`."""
    joined = resident.joined_at
    consents = resident.consents
    return (
        resident.resident_id,
        resident.person_ref,
        resident.telegram_user_id,
        "active" if resident.active else "onboarding",
        resident.display_name,
        resident.due_date,
        resident.ward.code,
        resident.ward.district_code,
        resident.signup_source,
        "en",
        joined,
        joined,
        joined if resident.active else None,
        resident.unreachable_at(now),
        consents[ConsentPurpose.MATCHING],
        consents[ConsentPurpose.LOCAL_INFO],
        resident.last_active_at,
    )


def consent_rows(resident: SyntheticResident) -> list[tuple[Any, ...]]:
    """Her consent events (CONSENT_COLUMNS): health data, then each optional choice."""
    at, ref = resident.joined_at, resident.person_ref
    # Receipt ids unique to her events, without drawing on the generator's random stream.
    base = uuid.UUID(resident.person_ref).int
    rows: list[tuple[Any, ...]] = []

    def event(purpose: ConsentPurpose, granted: bool) -> None:
        receipt = str(uuid.UUID(int=base ^ (len(rows) + 1)))
        # In CONSENT_COLUMNS' order: receipt, who, what, the choice, then how it was recorded.
        rows.append((receipt, ref, purpose.value, granted, *_RECEIPT, at))

    event(ConsentPurpose.HEALTH_DATA, True)
    for purpose, granted in resident.consents.items():
        if purpose in resident.second_thoughts:
            event(purpose, not granted)
        event(purpose, granted)
    return rows


def life_event_row(resident: SyntheticResident, now: dt.datetime) -> tuple[Any, ...] | None:
    """Her birth news (LIFE_EVENT_COLUMNS), if she has had her baby."""
    if not resident.born:
        return None
    return (resident.resident_id, "baby", resident.due_date, False, now)


# --- A year of use, for the demo -----------------------------------------------------------------


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
    zone = zone or ZoneInfo("Europe/London")
    mix = Mix(
        count=count,
        now=end,
        seed=seed,
        wards="hubs",
        # Word of mouth: sign-ups grow through the year.
        joined=(Window(0, days, rising=True),),
        daytime_in=zone,
        weeks_along_at_joining=(6, 34),
        blocked_share=0.03,
    )
    # What each one does afterwards has a stream of its own, so the people stay those of `mix`.
    rng = random.Random(f"{seed}:stories")
    residents: list[ResidentPlan] = []
    for person in synthetic_residents(gazetteer, mix):
        joined, consents = person.joined_at, person.consents
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
        residents.append(
            ResidentPlan(
                number=person.number,
                telegram_user_id=person.telegram_user_id,
                display_name=person.display_name,
                ward=person.ward,
                joined_at=joined,
                due_date=person.due_date,
                consents=consents,
                link=rng.randrange(links) if links and rng.random() < 0.4 else None,
                changes=changes,
                feedback=_feedback(rng, joined, end, consents[ConsentPurpose.FEEDBACK]),
                says_hello_at=hello if hello is not None and hello < end else None,
                blocks_bot_at=person.blocks_bot_at,
            )
        )
    residents.sort(key=lambda r: (r.joined_at, r.number))
    return Population(end - dt.timedelta(days=days), end, residents)
