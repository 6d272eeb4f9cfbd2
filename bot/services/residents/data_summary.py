"""/mydata in words: a summary she can read in the chat, and what each code in the file means.

Both are built from the export document itself, so they can never tell a different story.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.texts import Catalogue, Html
from models import (
    ConsentPurpose,
    FeedbackMoment,
    IntroductionStatus,
    LifeStage,
    ModerationAction,
    ResidentStatus,
    StageBand,
    SuggestionStatus,
)

# Names of people she was introduced to, listed in the chat; the file has them all.
NAMES_SHOWN = 10


def _date(texts: Catalogue, value: str | None) -> str | None:
    return texts.date(dt.date.fromisoformat(value[:10])) if value else None


def _words(texts: Catalogue, prefix: str, values: Any) -> dict[str, str]:
    return {v.value: texts.raw(f"{prefix}.{v.value}") for v in values}


def code_meanings(
    texts: Catalogue, profile: dict[str, Any], ward: str | None, district: str | None
) -> dict[str, Any]:
    """What every code in the export means, for the file's "what_the_codes_mean" section."""
    raw = texts.raw
    return {
        "profile.ward_code": raw("mydata.code.ward_code").format(
            code=profile["ward_code"] or "–", name=ward or "–"
        ),
        "profile.district_code": raw("mydata.code.district_code").format(
            code=profile["district_code"] or "–", name=district or "–"
        ),
        "profile.status": _words(texts, "mydata.status", ResidentStatus),
        "profile.signup_source": raw("mydata.code.signup_source"),
        "consent_history.purpose": _words(texts, "purpose", ConsentPurpose),
        "consent_history.granted": raw("mydata.code.granted"),
        "consent_history.text_sha256": raw("mydata.code.text_sha256"),
        "consent_history.method": raw("mydata.code.method"),
        "life_events.stage": _words(texts, "mydata.stage", LifeStage),
        "matching.suggestions_shown_to_you.status": _words(
            texts, "mydata.suggestion", SuggestionStatus
        ),
        "matching.introductions.status": _words(texts, "mydata.introduction", IntroductionStatus),
        "feedback.ratings.asked_because": _words(texts, "mydata.moment", FeedbackMoment),
        "feedback.ratings.pregnancy_stage": _words(texts, "mydata.band", StageBand),
        "moderation.decision": _words(texts, "mydata.decision", ModerationAction),
    }


def _you(document: dict[str, Any], texts: Catalogue, area: str | None) -> list[Html]:
    profile = document["profile"]
    not_set = texts("mydata.summary.not_set")
    lines = [
        texts("mydata.summary.you"),
        texts("mydata.summary.name", name=profile["display_name"] or not_set),
        texts("mydata.summary.due", due=_date(texts, profile["due_date"]) or not_set),
        texts("mydata.summary.area", area=area or not_set),
    ]
    if profile["waiting_for_area_postcode_district"]:
        lines.append(
            texts("mydata.summary.waiting", outcode=profile["waiting_for_area_postcode_district"])
        )
    joined = _date(texts, profile["onboarded_at"] or profile["created_at"])
    how = texts(
        "mydata.summary.via_link" if profile["signup_source"] else "mydata.summary.directly"
    )
    lines.append(
        texts(
            "mydata.summary.status",
            status=texts(f"mydata.status.{profile['status']}"),
            date=joined or not_set,
            how=how,
        )
    )
    return lines


def _choices(document: dict[str, Any], texts: Catalogue) -> list[Html]:
    latest: dict[str, bool] = {}
    for event in document["consent_history"]:
        latest[event["purpose"]] = event["granted"]
    lines = [texts("mydata.summary.choices")]
    for purpose in ConsentPurpose:
        answer = latest.get(purpose.value)
        state = "not_asked" if answer is None else ("yes" if answer else "no")
        lines.append(
            texts(
                "mydata.summary.choice",
                purpose=texts(f"mydata.choice.{purpose.value}"),
                state=texts(f"mydata.summary.{state}"),
            )
        )
    lines.append(texts("mydata.summary.choices_kept", count=len(document["consent_history"])))
    return lines


def _pregnancy(document: dict[str, Any], texts: Catalogue) -> list[Html]:
    event = document.get("life_events") or {}
    stage = event.get("stage", LifeStage.PREGNANT.value)
    if stage == LifeStage.BABY.value:
        line = texts("mydata.summary.baby", date=_date(texts, event["baby_born_on"]))
    elif stage == LifeStage.ENDED.value:
        line = texts("mydata.summary.ended", date=_date(texts, event["pregnancy_ended_on"]))
    else:
        line = texts("mydata.summary.pregnant")
    return [texts("mydata.summary.pregnancy"), line]


def _matching(document: dict[str, Any], texts: Catalogue) -> list[Html]:
    matching = document["matching"]
    introduced = [i["with"] for i in matching["introductions"] if i["with"]]
    waiting = sum(
        i["status"] == IntroductionStatus.REQUESTED.value for i in matching["introductions"]
    )
    lines = [
        texts("mydata.summary.matching"),
        texts(
            "mydata.summary.suggestions",
            shown=len(matching["suggestions_shown_to_you"]),
            suggested=matching["times_you_were_suggested_to_others"],
        ),
    ]
    if introduced:
        more = len(introduced) - NAMES_SHOWN
        names = ", ".join(introduced[:NAMES_SHOWN])
        if more > 0:
            names += texts.raw("mydata.summary.and_more").format(count=more)
        lines.append(texts("mydata.summary.introduced", names=names))
    lines.append(
        texts(
            "mydata.summary.safety",
            waiting=waiting,
            blocked=len(matching["people_you_blocked"]),
            reports=len(matching["reports_you_made"]),
        )
    )
    return lines


def _feedback_and_moderation(document: dict[str, Any], texts: Catalogue) -> list[Html]:
    feedback = document["feedback"]
    lines = [
        texts("mydata.summary.feedback"),
        texts(
            "mydata.summary.feedback_counts",
            ratings=len(feedback["ratings"]),
            comments=len(feedback["comments"]),
        ),
    ]
    decisions = document["moderation"]
    if decisions:
        lines.append(texts("mydata.summary.moderation"))
        lines += [
            texts(
                "mydata.summary.decision",
                decision=texts(f"mydata.decision.{d['decision']}"),
                date=_date(texts, d["at"]),
            )
            for d in decisions
        ]
    return lines


def summarise(document: dict[str, Any], texts: Catalogue, area: str | None) -> Html:
    """The export in a few readable lines; every value she typed is escaped by the catalogue."""
    sections = [
        [texts("mydata.summary.heading", date=_date(texts, document["exported_at"]))],
        _you(document, texts, area),
        _choices(document, texts),
        _pregnancy(document, texts),
        _matching(document, texts),
        _feedback_and_moderation(document, texts),
        [texts("mydata.summary.footer")],
    ]
    return Html("\n\n".join("\n".join(section) for section in sections))
