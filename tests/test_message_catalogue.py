"""The message catalogue: every text the code asks for exists, its placeholders match, and it
reads correctly once they are filled in (numbers agree with their nouns)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings
from bot.languages import has_catalogue, is_reviewed
from bot.services import feedback
from bot.services.residents import profile as residents
from bot.services.residents.due_dates import DueDateProblem
from bot.services.staff import broadcasts, join_links
from bot.texts import Html, available_languages, catalogue, load_catalogue, placeholders
from models import OPTIONAL_PURPOSES, ConsentPurpose, StaffRole

BOT = Path(__file__).resolve().parents[1] / "bot"
_LITERAL_KEY = re.compile(r'\btexts(?:_for\(update\))?(?:\.raw)?\(\s*"([a-z_]+\.[a-z_.]+)"')


def _keys_used_in_code() -> set[str]:
    keys: set[str] = set()
    for path in BOT.rglob("*.py"):
        for match in _LITERAL_KEY.finditer(path.read_text(encoding="utf-8")):
            keys.add(match.group(1))
    return keys


def _keys_built_at_run_time() -> set[str]:
    reasons = DueDateProblem.__annotations__  # documents the Literal; the list below is checked
    assert reasons
    return (
        {f"consent.{p.value}" for p in OPTIONAL_PURPOSES}
        | {f"purpose.{p.value}" for p in ConsentPurpose}
        | {
            f"due.{r}"
            for r in (
                "unrecognised",
                "past",
                "too_far",
                "weeks_out_of_range",
                "months_out_of_range",
            )
        }
        | {
            f"due.confirm_{b}"
            for b in (
                "date",
                "month",
                "weeks_pregnant",
                "weeks_to_go",
                "months_pregnant",
                "months_to_go",
            )
        }
        | {f"area.{r}" for r in ("format", "unknown_postcode")}
        | {
            "privacy.changed_on",
            "privacy.changed_off",
            "consent.answered_health_data",
        }
        | {f"consent.answered_{p.value}_{c}" for p in OPTIONAL_PURPOSES for c in ("yes", "no")}
    )


def test_every_text_the_code_asks_for_exists_in_english() -> None:
    english = catalogue("en")
    used = _keys_used_in_code() | _keys_built_at_run_time()
    assert len(used) > 40
    assert sorted(used - english.keys()) == []


def test_every_language_has_the_same_keys_and_placeholders_as_english() -> None:
    english = catalogue("en")
    for language in available_languages():
        other = catalogue(language)
        assert other.keys() == english.keys()
        for key in english:
            assert placeholders(other.raw(key)) == placeholders(english.raw(key)), key


def test_parameters_are_escaped_but_catalogue_html_is_kept() -> None:
    text = catalogue("en")("area.saved", ward="<b>Castle</b>", district=Html("<i>Colchester</i>"))
    assert "&lt;b&gt;Castle&lt;/b&gt;" in text
    assert "<i>Colchester</i>" in text
    assert text.startswith("Lovely – <b>")


def test_a_draft_catalogue_is_not_served_until_it_is_reviewed() -> None:
    drafts = [lang for lang in ("pl", "ro", "ur") if has_catalogue(lang) and not is_reviewed(lang)]
    for language in drafts:
        assert catalogue(language).language == "en"
        assert load_catalogue(language).language == language


def test_catalogue_metadata_is_not_a_message() -> None:
    drafts = [lang for lang in ("pl", "ro", "ur") if has_catalogue(lang)]
    for language in drafts:
        assert not any(key.startswith("meta.") for key in load_catalogue(language))


def test_an_unknown_language_falls_back_to_english() -> None:
    assert catalogue("xx-YY").language == "en"
    assert catalogue(None).language == "en"


# --- Grammar with the placeholders filled in ------------------------------------------------

# Nouns that follow a number in the catalogue, singular to plural.
COUNTED = {
    "week": "weeks",
    "month": "months",
    "day": "days",
    "hour": "hours",
    "mile": "miles",
    "message": "messages",
    "resident": "residents",
    "character": "characters",
    "mum-to-be": "mums-to-be",
}
_NOUN = "|".join(re.escape(n) for pair in COUNTED.items() for n in pair)
# "{weeks}+{days} weeks" is pregnancy notation (20+3 weeks): the noun belongs to the pair.
_PLACEHOLDER_THEN_NOUN = re.compile(rf"(?<!\+)\{{(\w+)\}}(?:</b>)?\s+({_NOUN})(?![\w-])")
# Limits that are constants, never a count that could be 1: "up to {max} characters".
FIXED_LIMITS = {
    "feedback.comment_too_long": feedback.COMMENT_MAX,
    "name.invalid": residents.DISPLAY_NAME_MAX,
    "joinlink.clinic_invalid": join_links.CLINIC_MAX,
    "broadcast.ask_text": broadcasts.TEXT_MAX,
    "broadcast.text_invalid": broadcasts.TEXT_MAX,
}


def _templates() -> list[tuple[str, str]]:
    """Every template in English, a plural message once per form."""
    english = catalogue("en")
    plurals = english.plurals()
    found = [(key, english.raw(key)) for key in sorted(english.keys() - plurals.keys())]
    for key, plural in sorted(plurals.items()):
        found += [(f"{key} ({form})", text) for form, text in plural.forms.items()]
    return found


def _filled(template: str, **values: object) -> dict[str, object]:
    return {name: values.get(name, "Sam") for name in placeholders(template)}


def test_a_number_before_a_noun_always_goes_through_the_plural_forms() -> None:
    english = catalogue("en")
    plurals = english.plurals()
    loose = []
    for key, template in _templates():
        base = key.split(" ")[0]
        for match in _PLACEHOLDER_THEN_NOUN.finditer(template):
            counted_by_plural = base in plurals and plurals[base].count == match.group(1)
            fixed = (match.group(1) == "max" and base in FIXED_LIMITS) or (
                base,
                match.group(1),
            ) in SETTINGS_NEVER_ONE
            if not (counted_by_plural or fixed):
                loose.append(f"{key}: {match.group(0)}")

    assert loose == []
    assert len(plurals) >= 8


# Numbers that come from a setting whose smallest allowed value is 2 or more.
SETTINGS_NEVER_ONE = {("privacy.notice", "safeguarding_months"): "safeguarding_retention_months"}


def test_settings_in_messages_are_never_one() -> None:
    for setting in SETTINGS_NEVER_ONE.values():
        smallest = next(m.ge for m in Settings.model_fields[setting].metadata if hasattr(m, "ge"))
        assert smallest >= 2, setting


def test_fixed_limits_are_never_one() -> None:
    english = catalogue("en")
    for key, limit in FIXED_LIMITS.items():
        assert limit >= 2
        assert f"{limit:,}" in english(key, max=f"{limit:,}") or str(limit) in english(
            key, max=limit
        )


@pytest.mark.parametrize("count", [0, 1, 2])
def test_every_counted_message_agrees_with_0_1_and_2(count: int) -> None:
    english = catalogue("en")
    singular = "|".join(re.escape(s) for s in COUNTED)
    plural = "|".join(re.escape(p) for p in COUNTED.values())
    wrong = re.compile(
        rf"(?<![\d,.]){count}(?:</b>)?\s+({plural if count == 1 else singular})(?![\w-])"
    )
    for key, plural_message in english.plurals().items():
        params = _filled(plural_message.forms["other"], **{plural_message.count: count})
        text = english(key, **params)
        assert not wrong.search(text), f"{key} with {count}: {text}"
        if count == 1:
            assert text != english(key, **{**params, plural_message.count: 2}), key


def test_counts_are_read_as_they_are_shown() -> None:
    english = catalogue("en")
    stopped = "broadcast.stopped"

    assert "1 message that" in english(stopped, number=3, stopped="1")
    assert "1,001 messages" in english(stopped, number=3, stopped="1,001")
    assert "1.0 miles" in english("content.service_miles", miles="1.0")
    assert "0.4 miles" in english("content.service_miles", miles="0.4")
    assert "About 1 mile from" in english("content.service_miles", miles=1)


def test_every_plural_form_takes_the_same_placeholders_as_its_other_form() -> None:
    for language in available_languages():
        for key, plural in catalogue(language).plurals().items():
            assert plural.count in placeholders(plural.forms["other"]), key
            for form, text in plural.forms.items():
                assert placeholders(text) <= placeholders(plural.forms["other"]), (key, form)


def _word_values() -> dict[str, list[str]]:
    """Placeholders filled with words from the catalogue itself: roles and purposes."""
    english = catalogue("en")
    return {
        "role": [english(f"staff.role_{r.value}") for r in StaffRole],
        "purpose": [english(f"purpose.{p.value}") for p in ConsentPurpose],
    }


def _renderings() -> list[tuple[str, str]]:
    english = catalogue("en")
    words = _word_values()
    rendered: list[tuple[str, str]] = []
    for key, template in _templates():
        base = key.split(" ")[0]
        wanted = placeholders(template)
        choices = [(name, values) for name, values in words.items() if name in wanted]
        fills: list[dict[str, object]] = [{}]
        for name, values in choices:
            fills = [{**fill, name: value} for fill in fills for value in values]
        for fill in fills:
            params = _filled(template, **fill)
            plural = english.plurals().get(base)
            if plural is not None:
                params[plural.count] = 1 if key.endswith("(one)") else 2
            rendered.append((key, english(base, **params)))
    return rendered


_A_BEFORE_VOWEL = re.compile(r"\b[Aa]\s+(?:<[^>]+>)*([AEIOUaeiou]\w*)")
_PLURAL_SUBJECT_IS = re.compile(r"\b(\w+s)\s+(is|was|has)\b")
# Words where "a" before a vowel letter, or "-s … is", is right.
_A_FINE = {"UK", "UK's", "one", "unit", "useful", "user", "usual"}
_IS_FINE = {"Buddies", "this", "This", "his", "its", "yes", "us", "as", "news"}


def test_no_message_says_a_before_a_vowel_sound_once_filled_in() -> None:
    found = [
        (key, m.group(0))
        for key, text in _renderings()
        for m in _A_BEFORE_VOWEL.finditer(text)
        if m.group(1) not in _A_FINE
    ]
    assert found == []


def test_no_plural_subject_takes_a_singular_verb_once_filled_in() -> None:
    found = [
        (key, m.group(0))
        for key, text in _renderings()
        for m in _PLURAL_SUBJECT_IS.finditer(text)
        if m.group(1) not in _IS_FINE
    ]
    assert found == []
