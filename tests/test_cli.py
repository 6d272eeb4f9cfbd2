"""The `bumpbuddies` command line: help everywhere, one clear line for a bad setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


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
