"""The council's content files: checked with file and line, loaded all or nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.services.local_info.content import load_content
from bot.services.local_info.content_files import ContentInvalid, ContentProblem, read_content
from bot.services.places.geo import default_gazetteer
from models import ContentMessage, WardDigest
from tests.content_support import SAMPLE_FOLDER, Sessions, load_sample, sample_content


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An editable copy of the sample content."""
    copy = tmp_path / "content"
    shutil.copytree(SAMPLE_FOLDER, copy)
    return copy


def _problems(folder: Path) -> list[ContentProblem]:
    with pytest.raises(ContentInvalid) as caught:
        read_content(folder, default_gazetteer())
    return caught.value.problems


def _line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_sample_is_valid_and_marked_as_sample() -> None:
    content = sample_content()

    assert content.sample
    assert {m.week for m in content.weeks if m.series == "pregnancy"} >= set(range(8, 43))
    assert len(content.services) > 20
    assert {h.phone for h in content.helplines} >= {"999", "111"}
    assert len(content.triage) == 5


def test_the_sample_says_it_is_sample_content_in_every_file() -> None:
    for path in SAMPLE_FOLDER.iterdir():
        if path.suffix in (".yaml", ".csv"):
            assert "SAMPLE" in path.read_text(encoding="utf-8"), path.name


def test_an_unknown_area_is_reported_with_file_and_line(folder: Path) -> None:
    services = folder / "services.csv"
    _replace(
        services,
        "Braintree Family Hub (SAMPLE),family_hub,Braintree,",
        "Braintree Family Hub (SAMPLE),family_hub,Narnia,",
    )

    [problem] = _problems(folder)

    assert problem == ContentProblem(
        "services.csv", _line_of(services, "Narnia"), "unknown area 'Narnia'"
    )


def test_a_week_out_of_range_is_reported_with_file_and_line(folder: Path) -> None:
    weeks = folder / "weeks.yaml"
    _replace(weeks, "  - week: 42\n", "  - week: 45\n")

    [problem] = _problems(folder)

    assert problem.file == "weeks.yaml"
    assert problem.line == _line_of(weeks, "week: 45")
    assert problem.message == "pregnancy week 45 is out of range (1–42)"


def test_a_missing_field_is_reported_with_file_and_line(folder: Path) -> None:
    weeks = folder / "weeks.yaml"
    _replace(weeks, '    title: "You\'re 20 weeks pregnant – halfway!"\n', "")

    [problem] = _problems(folder)

    assert (problem.file, problem.message) == ("weeks.yaml", "missing field 'title'")
    assert problem.line == _line_of(weeks, "week: 20")


def test_text_over_telegrams_limit_is_reported(folder: Path) -> None:
    weeks = folder / "weeks.yaml"
    _replace(
        weeks, '    text: "Not long now!', '    text: "' + "So exciting! " * 320 + "Not long now!"
    )

    [problem] = _problems(folder)

    assert problem.line == _line_of(weeks, "week: 39")
    assert "Telegram allows 4096" in problem.message


def test_every_problem_is_reported_at_once(folder: Path) -> None:
    services = folder / "services.csv"
    _replace(services, "baby_group,Braintree", "yoga,Braintree")
    _replace(
        folder / "urgent_help.yaml",
        "    areas: [Colchester, Tendring]\n",
        "    areas: [Colchester]\n",
    )

    problems = _problems(folder)

    assert [str(p) for p in problems] == [
        f"services.csv:{_line_of(services, 'yoga')}: unknown category 'yoga'",
        f"urgent_help.yaml:{_line_of(folder / 'urgent_help.yaml', 'maternity_triage:')}: "
        "no maternity triage line for Tendring",
    ]


def test_yaml_mistakes_are_reported_with_their_line(folder: Path) -> None:
    keywords = folder / "urgent_keywords.yaml"
    _replace(keywords, "  - id: bleeding\n", "  - id: bleeding\n   oops: [\n")

    [problem] = _problems(folder)

    assert problem.file == "urgent_keywords.yaml"
    assert problem.line >= _line_of(keywords, "oops")
    assert problem.message.startswith("not valid YAML")


def test_no_is_a_word_not_false(folder: Path) -> None:
    assert "no" in read_content(folder, default_gazetteer()).negations


def _bumpbuddies(*args: str, cwd: Path, database: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    return subprocess.run(
        [sys.executable, "-m", "bot", "content", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


async def _counts(database: Path) -> tuple[int, int]:
    from bot.db import create_engine, create_sessionmaker

    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with create_sessionmaker(engine)() as session:
            messages = await session.scalar(select(func.count()).select_from(ContentMessage))
            digests = await session.scalar(select(func.count()).select_from(WardDigest))
    finally:
        await engine.dispose()
    return int(messages or 0), int(digests or 0)


async def test_content_check_and_load_from_the_command_line_all_or_nothing(
    folder: Path, tmp_path: Path
) -> None:
    database = tmp_path / "bot.sqlite3"

    refused = _bumpbuddies("load", "--folder", str(folder), cwd=tmp_path, database=database)
    loaded = _bumpbuddies(
        "load", "--folder", str(folder), "--allow-sample", cwd=tmp_path, database=database
    )
    before = await _counts(database)
    _replace(folder / "weeks.yaml", "  - week: 42\n", "  - week: 45\n")
    checked = _bumpbuddies("check", "--folder", str(folder), cwd=tmp_path, database=database)
    broken = _bumpbuddies(
        "load", "--folder", str(folder), "--allow-sample", cwd=tmp_path, database=database
    )

    assert refused.returncode == 1 and "--allow-sample" in refused.stderr
    assert loaded.returncode == 0, loaded.stderr
    assert before[0] == len(sample_content().weeks) and before[1] > 0
    assert checked.returncode == 1
    line = _line_of(folder / "weeks.yaml", "week: 45")
    assert f"weeks.yaml:{line}: pregnancy week 45 is out of range (1–42)" in checked.stderr
    assert broken.returncode == 1
    assert await _counts(database) == before


async def test_loading_again_replaces_the_content(sessions: Sessions) -> None:
    import datetime as dt

    now = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
    await load_sample(sessions, now)
    await load_sample(sessions, now)

    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(ContentMessage))
        loaded = await load_content(session)
    assert count == len(sample_content().weeks)
    assert loaded == sample_content()


def test_a_near_you_message_too_long_for_telegram_is_reported(folder: Path) -> None:
    categories = folder / "categories.yaml"
    _replace(categories, "per_message: 3 ", "per_message: 10 ")
    long = "x" * 190
    rows = "".join(
        f"LONG-{i},Baby group {i},baby_group,Chelmsford,{long},CM1 1AA,01632 960000,"
        f"https://www.essex.gov.uk/,{long}\n"
        for i in range(10)
    )
    with (folder / "services.csv").open("a", encoding="utf-8") as services:
        services.write(rows)

    [problem] = _problems(folder)

    assert (problem.file, problem.line) == ("categories.yaml", _line_of(categories, "per_message"))
    assert problem.message.startswith("the 'baby_group' message for ")
    assert "Telegram allows 4096" in problem.message


@pytest.mark.parametrize("command", [["content"], ["content", "check"], ["content", "load"]])
def test_the_content_commands_have_help(command: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", *command, "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0
    assert "Usage: bumpbuddies" in result.stdout


async def test_content_stored_by_an_older_version_is_set_aside_not_fatal(
    sessions: Sessions,
) -> None:
    import datetime as dt

    from models import ContentLibrary

    async with sessions() as session, session.begin():
        session.add(
            ContentLibrary(
                id=1,
                digest="old",
                sample=True,
                body={"weeks": "an older shape"},
                loaded_at=dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
            )
        )

    async with sessions() as session:
        assert await load_content(session) is None
