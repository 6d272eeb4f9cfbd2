"""The Urdu draft catalogue (bot/locales/ur/), beyond what every draft is held to
(tests/test_translation_drafts.py): links and emergency numbers kept, translated into Arabic
script, and laid out so right-to-left lines read naturally."""

from __future__ import annotations

import re

from bot.texts import ENGLISH_ONLY_DOMAINS, Catalogue, load_catalogue, source

# In Latin letters on purpose, each with the reason (still translated: Roman Urdu).
LATIN_SCRIPT = {"mydata.filename": "a file name stays ASCII so every phone can save it"}

_TAG = re.compile(r"<[^>]*>")
_PLACEHOLDER = re.compile(r"\{\w+\}")
# A link ends before the sentence's closing stop (English "." or the Urdu full stop U+06D4).
_URL = re.compile(r"(?:https?|tg)://[^\s\"<>]*[^\s\"<>.,;:)\u06d4\u060c]")
_COMMAND = re.compile(r"/[a-z_]+")
# Words that stay in Latin script: the service, the data notice's legal attribution, places,
# codes and command arguments.
_KEPT_LATIN = re.compile(
    r"Bump Buddies|<i>Neighbourhood lookup.*?</i>|Office for National Statistics|Essex|"
    r"Samaritans|\b[A-Z_]{2,}\b|\btrue\b|\bfalse\b|Witham|[A-Z]{1,2}\d+[A-Z0-9 ]*|"
    r"/report comments|/cohort off",
    re.S,
)
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]")


def _resident_facing(texts: Catalogue) -> Catalogue:
    """A catalogue without the staff-only domains (English in every language)."""
    staff = {k for k, e in source().items() if e.domain in ENGLISH_ONLY_DOMAINS}
    return Catalogue(
        texts.language,
        {k: texts.raw(k) for k in texts.keys() - texts.plurals().keys() if k not in staff},
        {k: p for k, p in texts.plurals().items() if k not in staff},
        texts.missing,
    )


def _templates(texts: Catalogue) -> dict[str, str]:
    """Every template, a plural message once per form ("key (form)")."""
    found = {key: texts.raw(key) for key in texts.keys() - texts.plurals().keys()}
    for key, plural in texts.plurals().items():
        found |= {f"{key} ({form})": text for form, text in plural.forms.items()}
    return found


def _prose(template: str) -> str:
    """The words a translator writes: no markup, placeholders, links, commands or kept names."""
    text = _KEPT_LATIN.sub(" ", template)
    for pattern in (_TAG, _PLACEHOLDER, _URL, _COMMAND):
        text = pattern.sub(" ", text)
    return text


URDU = _resident_facing(load_catalogue("ur"))
ENGLISH = _resident_facing(load_catalogue("en"))


def test_commands_links_and_emergency_numbers_are_kept() -> None:
    english = _templates(ENGLISH)
    for key, template in _templates(URDU).items():
        for kept in (_COMMAND, _URL, re.compile(r"\b(?:999|111|116 123)\b")):
            assert sorted(kept.findall(template)) == sorted(kept.findall(english[key])), key


def test_every_message_with_words_is_translated_into_arabic_script() -> None:
    english = _templates(ENGLISH)
    translated = 0
    for key, template in _templates(URDU).items():
        letters = [c for c in _prose(english[key]) if c.isalpha()]
        if not letters:
            continue  # a number, a link or only placeholders: nothing to translate
        translated += 1
        assert template != english[key], key
        if key in LATIN_SCRIPT:
            continue
        prose = [c for c in _prose(template) if c.isalpha()]
        arabic = [c for c in prose if _ARABIC.match(c)]
        assert prose and len(arabic) >= 0.9 * len(prose), (key, template)

    assert translated > 300


def test_a_line_of_urdu_never_starts_with_a_command() -> None:
    # Telegram picks a line's direction from its first letter: "/profile - ..." would run left to
    # right, so Urdu lines put the words first and the command last.
    for key, template in _templates(URDU).items():
        for line in template.splitlines():
            if _ARABIC.search(line):
                assert not line.lstrip().startswith("/"), (key, line)
