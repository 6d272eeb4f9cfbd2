"""The message catalogue: every text the code asks for exists, and its placeholders match."""

from __future__ import annotations

import re
from pathlib import Path

from bot.services.due_dates import DueDateProblem
from bot.texts import Html, available_languages, catalogue, placeholders
from models import OPTIONAL_PURPOSES, ConsentPurpose

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


def test_an_unknown_language_falls_back_to_english() -> None:
    assert catalogue("xx-YY").language == "en"
    assert catalogue(None).language == "en"
