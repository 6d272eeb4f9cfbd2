"""Council content per language: content/<lang>/ beside the English files, with the same ids."""

from __future__ import annotations

import datetime as dt
import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.services.local_info.content import load_content, store_content
from bot.services.local_info.content_files import (
    ContentInvalid,
    ContentProblem,
    read_content,
    untranslated,
)
from bot.services.places.geo import default_gazetteer
from models import ContentTranslation
from tests.content_support import Sessions
from tests.factories import english_content, translate_content

POLISH_WEEK_20 = """
    pregnancy:
      - week: 20
        title: "Jesteś w 20. tygodniu ciąży – półmetek!"
        text: "Mniej więcej teraz zwykle odbywa się USG połówkowe."
    """
POLISH_SERVICES = """
    id,name,when,phone
    CHE-MW-01,Położne środowiskowe w Chelmsford,pon.–pt. 9–17,0000 000000
    """


@functools.cache
def _english_lines() -> dict[str, int]:
    source = Path(__file__).resolve().parents[1] / "content" / "weeks.yaml"
    return {
        line.strip(): number
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1)
        if line.strip().startswith("- week:")
    }


def _problems(folder: Path) -> list[str]:
    with pytest.raises(ContentInvalid) as caught:
        read_content(folder, default_gazetteer())
    return [str(p) for p in caught.value.problems]


def test_a_translated_item_replaces_english_and_the_rest_stays_english(tmp_path: Path) -> None:
    folder = english_content(tmp_path)
    translate_content(folder, "pl", {"weeks.yaml": POLISH_WEEK_20, "services.csv": POLISH_SERVICES})

    content = read_content(folder, default_gazetteer())
    polish = content.for_language("pl")
    weeks = {m.key: m for m in polish.weeks}
    english_weeks = {m.key: m for m in content.weeks}
    midwives = next(s for s in polish.services if s.id == "CHE-MW-01")

    assert tuple(content.translations) == ("pl",)
    assert weeks["pregnancy:20"].title.startswith("Jesteś w 20. tygodniu")
    assert weeks["pregnancy:21"] == english_weeks["pregnancy:21"]
    assert midwives.name == "Położne środowiskowe w Chelmsford"
    # Where it is and how to reach it stay English's: a translation never changes a number.
    assert midwives.phone == "01632 960101" and midwives.postcode == "CM1 7ET"
    assert content.for_language("ro") is content
    assert content.for_language(None) is content


def test_a_translation_of_an_item_english_lacks_is_reported_with_file_and_line(
    tmp_path: Path,
) -> None:
    folder = english_content(tmp_path)
    translate_content(
        folder,
        "ro",
        {
            "weeks.yaml": """
                pregnancy:
                  - week: 43
                    title: "Săptămâna 43"
                    text: "Nu există."
                """,
            "services.csv": "id,name\nNOPE-01,Nu există\n",
            "urgent_help.yaml": """
                maternity_triage:
                  - name: "Triaj (număr greșit)"
                    phone: "01632 999999"
                """,
        },
    )

    problems = _problems(folder)

    assert "ro/weeks.yaml:2: pregnancy week 43 is out of range (1–42)" in problems
    assert "ro/services.csv:2: service id 'NOPE-01' is not in English" in problems
    assert "ro/urgent_help.yaml:2: no English triage line has phone '01632 999999'" in problems


def test_content_check_reports_what_lacks_a_translation_per_language_at_its_english_line(
    tmp_path: Path,
) -> None:
    folder = english_content(tmp_path)
    translate_content(folder, "pl", {"weeks.yaml": POLISH_WEEK_20})
    translate_content(folder, "ur", {"services.csv": "id,name\nCHE-MW-01,چیلمسفورڈ کی دائیاں\n"})
    content = read_content(folder, default_gazetteer())

    report = untranslated(folder, content)
    polish = [str(p) for p in report["pl"]]
    urdu = [str(p) for p in report["ur"]]

    week_21 = _english_lines()["- week: 21"]
    assert f"weeks.yaml:{week_21}: pregnancy week 21 has no 'pl' translation" in polish
    assert not any("pregnancy week 20 has" in p for p in polish)
    assert any(p.startswith("services.csv:3: service 'CHE-AN-01'") for p in polish + urdu)
    assert "services.csv:2: service 'CHE-MW-01' has no 'pl' translation" in polish
    assert not any("'CHE-MW-01'" in p for p in urdu)
    assert any(p.endswith("the pregnancy-loss message has no 'ur' translation") for p in urdu)
    assert set(report) == {"pl", "ur"}
    assert all(isinstance(p, ContentProblem) for p in report["pl"])


async def test_loading_stores_each_language_and_the_bot_reads_it_back(
    tmp_path: Path, sessions: Sessions
) -> None:
    folder = english_content(tmp_path)
    translate_content(folder, "pl", {"weeks.yaml": POLISH_WEEK_20})
    content = read_content(folder, default_gazetteer())
    now = dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)

    async with sessions() as session, session.begin():
        await store_content(session, content, default_gazetteer(), now)
    async with sessions() as session:
        rows = {
            (row.language, row.key): row.text
            for row in await session.scalars(select(ContentTranslation))
        }
        loaded = await load_content(session)

    assert "Jesteś w 20. tygodniu ciąży" in rows[("pl", "pregnancy:20")]
    # Every week has a Polish row (English words where untranslated), and every "near you" one.
    assert ("pl", "pregnancy:21") in rows
    assert any(key.startswith("digest:") for _, key in rows)
    assert {language for language, _ in rows} == {"pl"}
    assert loaded is not None
    assert loaded.for_language("pl").weeks == content.for_language("pl").weeks


def test_content_check_on_the_command_line_lists_missing_translations(tmp_path: Path) -> None:
    folder = english_content(tmp_path)
    translate_content(folder, "pl", {"weeks.yaml": POLISH_WEEK_20})
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"

    checked = subprocess.run(
        [sys.executable, "-m", "bot", "content", "check", "--folder", str(folder)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )

    week_21 = _english_lines()["- week: 21"]
    assert checked.returncode == 0, checked.stderr
    assert "pl: " in checked.stdout and "have no translation; she gets English" in checked.stdout
    assert f"weeks.yaml:{week_21}: pregnancy week 21 has no 'pl' translation" in checked.stdout
    assert checked.stdout.splitlines()[-1].endswith("translations: pl.")
