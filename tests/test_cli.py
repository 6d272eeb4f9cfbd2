"""The `bumpbuddies` command line: help everywhere, one clear line for a bad setting."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import app
from bot.sandbox.fake_api import FIRST_USER_ID


def _bumpbuddies(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL", "SAFEGUARDING_SECRET")
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("command", [[], ["run"], ["sandbox"], ["db"], ["db", "upgrade"]])
def test_every_command_has_help(command: list[str], tmp_path: Path) -> None:
    result = _bumpbuddies(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "Usage: bumpbuddies" in result.stdout


def test_an_invalid_setting_stops_start_up_with_one_line_naming_it(tmp_path: Path) -> None:
    result = _bumpbuddies("db", "upgrade", cwd=tmp_path, DATABASE_URL="mysql://nope")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Invalid setting DATABASE_URL: Value error, must start with sqlite+aiosqlite:// or "
        "postgresql+asyncpg://"
    ]


def test_a_bad_setting_is_named_without_echoing_what_was_typed(tmp_path: Path) -> None:
    result = _bumpbuddies("run", cwd=tmp_path, TELEGRAM_BOT_TOKEN="x", TIMEZONE="Mars/Olympus_Mons")
    assert result.returncode == 2
    assert "Invalid setting TIMEZONE" in result.stderr
    assert "Olympus" not in result.stderr


def test_webhook_mode_refuses_to_start_without_a_secret_token(tmp_path: Path) -> None:
    result = _bumpbuddies(
        "run",
        "--webhook",
        "https://bot.example.org/hook",
        cwd=tmp_path,
        TELEGRAM_BOT_TOKEN="placeholder-secret-token",
        SAFEGUARDING_SECRET="s" * 32,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3",
    )
    assert result.returncode == 2
    assert "WEBHOOK_SECRET_TOKEN" in result.stderr
    assert "placeholder-secret-token" not in result.stderr + result.stdout


def test_running_on_telegram_refuses_to_start_without_a_safeguarding_secret(
    tmp_path: Path,
) -> None:
    result = _bumpbuddies(
        "run",
        cwd=tmp_path,
        TELEGRAM_BOT_TOKEN="placeholder-secret-token",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3",
    )
    assert result.returncode == 2
    assert "Invalid setting SAFEGUARDING_SECRET: required to run on Telegram" in result.stderr


def test_a_short_safeguarding_secret_is_refused_without_being_echoed(tmp_path: Path) -> None:
    result = _bumpbuddies(
        "run", cwd=tmp_path, TELEGRAM_BOT_TOKEN="x", SAFEGUARDING_SECRET="hunter2-guessable"
    )
    assert result.returncode == 2
    assert "Invalid setting SAFEGUARDING_SECRET" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_db_upgrade_creates_the_schema_from_a_fresh_clone(tmp_path: Path) -> None:
    result = _bumpbuddies("db", "upgrade", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "bumpbuddies.sqlite3").exists()


def _all_commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group, as the words that invoke it."""
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _all_commands(sub, (*path, name))
    return found


def test_version_is_shown(tmp_path: Path) -> None:
    result = _bumpbuddies("--version", cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout.strip() == f"bumpbuddies {version('bumpbuddies')}"


def test_help_shows_flags_as_flags_without_a_value_placeholder() -> None:
    runner = CliRunner()
    commands = _all_commands(typer.main.get_command(app))
    assert ("staff", "remove") in commands and ("demo",) in commands

    for command in commands:
        shown = runner.invoke(app, [*command, "--help"], prog_name="bumpbuddies")
        assert shown.exit_code == 0, command
        assert "<bool>" not in shown.output, command
    sandbox_help = runner.invoke(app, ["sandbox", "--help"]).output
    assert "--staff-admin  " in sandbox_help


def _sqlite(tmp_path: Path, name: str) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / name}"


def test_staff_can_be_added_listed_and_removed_from_the_command_line(tmp_path: Path) -> None:
    env = {"DATABASE_URL": _sqlite(tmp_path, "main.sqlite3")}
    added = _bumpbuddies(
        "staff", "add", "--telegram-id", "777", "--role", "admin", cwd=tmp_path, **env
    )
    assert added.returncode == 0, added.stderr

    listed = _bumpbuddies("staff", "list", cwd=tmp_path, **env)
    assert listed.stdout.splitlines() == ["#1  telegram id 777  admin  current"]

    removed = _bumpbuddies("staff", "remove", "--telegram-id", "777", cwd=tmp_path, **env)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == "Staff member #1 no longer has staff access."
    assert "removed 20" in _bumpbuddies("staff", "list", cwd=tmp_path, **env).stdout
    again = _bumpbuddies("staff", "remove", "--telegram-id", "777", cwd=tmp_path, **env)
    assert again.returncode == 1
    assert "not current staff" in again.stderr
    audit = _bumpbuddies("staff", "audit", "--out", "audit.csv", cwd=tmp_path, **env)
    assert audit.returncode == 0
    assert "staff.revoke" in (tmp_path / "audit.csv").read_text(encoding="utf-8")


def test_staff_add_with_sandbox_writes_to_the_sandbox_database_only(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": _sqlite(tmp_path, "main.sqlite3"),
        "SANDBOX_DATABASE_URL": _sqlite(tmp_path, "sandbox.sqlite3"),
    }
    added = _bumpbuddies(
        "staff", "add", "--telegram-id", "5", "--role", "midwife", "--sandbox", cwd=tmp_path, **env
    )
    assert added.returncode == 0, added.stderr

    assert "midwife" in _bumpbuddies("staff", "list", "--sandbox", cwd=tmp_path, **env).stdout
    assert "Nobody is staff yet" in _bumpbuddies("staff", "list", cwd=tmp_path, **env).stdout


@pytest.mark.parametrize("district", ["Chelmsford", "chelmsford", "E07000070", "e07000070"])
def test_a_join_link_takes_a_district_by_name_or_code(district: str, tmp_path: Path) -> None:
    result = _bumpbuddies(
        "joinlink", "create", "--clinic", "Springfield Midwives", "--district", district,
        "--bot-username", "bump_buddies_bot", cwd=tmp_path,
        DATABASE_URL=_sqlite(tmp_path, "main.sqlite3"),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "poster.png").exists()
    with sqlite3.connect(tmp_path / "main.sqlite3") as db:
        assert db.execute("SELECT district_code FROM join_links").fetchall() == [("E07000070",)]


def test_an_unknown_district_lists_the_valid_ones(tmp_path: Path) -> None:
    result = _bumpbuddies(
        "joinlink", "create", "--clinic", "Springfield Midwives", "--district", "Narnia",
        "--bot-username", "bump_buddies_bot", cwd=tmp_path,
        DATABASE_URL=_sqlite(tmp_path, "main.sqlite3"),
    )  # fmt: skip

    assert result.returncode == 2
    assert "Unknown district 'Narnia'" in result.stderr
    assert "Basildon" in result.stderr and "Chelmsford" in result.stderr
    assert "Thurrock" in result.stderr
    assert not (tmp_path / "poster.png").exists()


def test_the_report_refuses_a_threshold_below_five(tmp_path: Path) -> None:
    result = _bumpbuddies(
        "report", "--threshold", "4", cwd=tmp_path, DATABASE_URL=_sqlite(tmp_path, "m.sqlite3")
    )

    assert result.returncode == 2
    assert "--threshold" in result.stderr
    assert not (tmp_path / "report.html").exists()


def test_demo_never_fills_the_bots_own_database(tmp_path: Path) -> None:
    same = _sqlite(tmp_path, "main.sqlite3")
    result = _bumpbuddies("demo", cwd=tmp_path, DATABASE_URL=same, SANDBOX_DATABASE_URL=same)

    assert result.returncode == 2
    assert "Demo data only ever goes into a sandbox database of its own" in result.stderr
    assert not (tmp_path / "main.sqlite3").exists()


def test_demo_fills_the_sandbox_once_and_makes_amira_an_admin(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": _sqlite(tmp_path, "main.sqlite3"),
        "SANDBOX_DATABASE_URL": _sqlite(tmp_path, "sandbox.sqlite3"),
        "CONTENT_DIR": str(Path(__file__).resolve().parents[1] / "content"),
    }
    filled = _bumpbuddies("demo", "--residents", "20", cwd=tmp_path, **env)

    assert filled.returncode == 0, filled.stderr
    assert "Done: 20 residents" in filled.stdout
    with sqlite3.connect(tmp_path / "sandbox.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM residents").fetchone() == (20,)
        admins = db.execute("SELECT telegram_user_id FROM staff WHERE role = 'admin'").fetchall()
    assert admins == [(FIRST_USER_ID,)]
    assert not (tmp_path / "main.sqlite3").exists()
    again = _bumpbuddies("demo", "--residents", "20", cwd=tmp_path, **env)
    assert again.returncode == 1
    assert "bumpbuddies demo --replace" in again.stderr
