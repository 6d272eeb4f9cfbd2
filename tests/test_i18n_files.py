"""The catalogue's files for translators: TOML drafts become PO, POT templates follow English, and
`pybabel update`/`compile` work on them without losing CLDR's plural forms or the draft mark."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from typer.testing import CliRunner

from bot import languages, texts
from bot.cli import app
from bot.i18n import LOCALES, UNREVIEWED_LINE, write_templates
from bot.texts import catalogue, load_catalogue, plural_categories

POLISH_DRAFT = """
[meta]
reviewed = false

[due]
saved = "Dziękuję – termin porodu to <b>{due}</b>."

[due.confirm_weeks_to_go]
count = "count"
one = "{count} tydzień od dziś to <b>{due}</b>. Czy to prawda?"
few = "{count} tygodnie od dziś to <b>{due}</b>. Czy to prawda?"
many = "{count} tygodni od dziś to <b>{due}</b>. Czy to prawda?"
other = "{count} tygodnia od dziś to <b>{due}</b>. Czy to prawda?"
"""


@pytest.fixture
def locales(tmp_path: Path) -> Path:
    """A copy of the English catalogue to work on."""
    folder = tmp_path / "locales"
    shutil.copytree(LOCALES / "en", folder / "en")
    return folder


@pytest.fixture
def reading(locales: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The bot reads its catalogue from the copy for the length of a test."""
    monkeypatch.setattr(texts, "locale_folder", lambda: locales)
    caches = (texts.available_languages, texts.read_domain, texts.source, texts.load_catalogue)
    for cached in caches:
        cached.cache_clear()
    yield locales
    for cached in caches:
        cached.cache_clear()


def _po(path: Path, language: str) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def test_a_toml_draft_becomes_po_with_cldr_plural_forms_and_its_gaps_named(locales: Path) -> None:
    (locales / "pl").mkdir()
    (locales / "pl" / "onboarding.toml").write_text(POLISH_DRAFT, encoding="utf-8")

    result = CliRunner().invoke(app, ["i18n", "from-toml", "pl", "--locales", str(locales)])

    assert result.exit_code == 0, result.output
    assert "messages not translated" in result.output
    po_path = locales / "pl" / "LC_MESSAGES" / "onboarding.po"
    assert UNREVIEWED_LINE in po_path.read_text(encoding="utf-8")
    assert not (locales / "pl" / "LC_MESSAGES" / "staff.po").exists()
    po = _po(po_path, "pl")
    weeks = po.get(
        "{count} week from today is <b>{due}</b>. Is that right?", "due.confirm_weeks_to_go"
    )
    assert weeks is not None and isinstance(weeks.string, tuple)
    assert weeks.string[1].startswith("{count} tygodnie")  # few: msgstr[1] by CLDR's order
    assert len(weeks.string) == len(plural_categories("pl")) == 4
    saved = po.get("Thank you – that's a due date of <b>{due}</b>.", "due.saved")
    assert saved is not None and str(saved.string).startswith("Dziękuję")


def test_a_converted_draft_is_read_in_polish_with_english_for_its_gaps(reading: Path) -> None:
    (reading / "pl").mkdir()
    (reading / "pl" / "onboarding.toml").write_text(POLISH_DRAFT, encoding="utf-8")
    CliRunner().invoke(app, ["i18n", "from-toml", "pl", "--locales", str(reading)])

    polish = load_catalogue("pl")

    assert polish.language == "pl"
    assert polish("due.confirm_weeks_to_go", count=3, due="x").startswith("3 tygodnie")
    assert polish("due.confirm_weeks_to_go", count=5, due="x").startswith("5 tygodni ")
    assert polish("due.confirm_weeks_to_go", count=22, due="x").startswith("22 tygodnie")
    assert polish("due.saved", due="<b>").endswith("<b>&lt;b&gt;</b>.")
    assert "welcome.new" in polish.missing
    assert polish.raw("welcome.new") == catalogue("en").raw("welcome.new")


def test_the_committed_templates_follow_english(tmp_path: Path) -> None:
    fresh = tmp_path / "locales"
    shutil.copytree(LOCALES / "en", fresh / "en")
    for written in write_templates(fresh):
        committed = LOCALES / written.name
        assert committed.exists(), f"run `bumpbuddies i18n template`: {written.name} is missing"
        ours = [(m.context, m.id, sorted(m.flags), m.auto_comments) for m in _po(written, "en")]
        theirs = [(m.context, m.id, sorted(m.flags), m.auto_comments) for m in _po(committed, "en")]
        assert ours == theirs, f"run `bumpbuddies i18n template`: {written.name} is stale"


def test_pybabel_update_and_compile_keep_cldr_plurals_and_the_draft_mark(
    locales: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_templates(locales)
    CliRunner().invoke(app, ["i18n", "init", "ro", "--locales", str(locales)])
    po_path = locales / "ro" / "LC_MESSAGES" / "onboarding.po"
    with caplog.at_level(logging.CRITICAL):
        for command in (
            ["update", "-D", "onboarding", "-i", str(locales / "onboarding.pot")],
            ["compile", "-D", "onboarding", "--use-fuzzy"],
        ):
            pybabel = CommandLineInterface()
            pybabel.run(["pybabel", *command, "-d", str(locales), "-l", "ro"])  # type: ignore[no-untyped-call]

    assert (locales / "ro" / "LC_MESSAGES" / "onboarding.mo").exists()
    updated = po_path.read_text(encoding="utf-8")
    assert UNREVIEWED_LINE in updated
    assert languages._UNREVIEWED.search(updated)
    assert _po(po_path, "ro").num_plurals == 3  # one, few, other
