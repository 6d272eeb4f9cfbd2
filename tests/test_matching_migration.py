"""Migration 0003 puts residents who already said yes to matching into the pool."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.db import upgrade_database

_RESIDENT = (
    "INSERT INTO residents (id, person_ref, telegram_user_id, status, language_code, created_at,"
    " updated_at) VALUES (?, ?, ?, 'active', 'en', '2026-11-01 10:00:00', '2026-11-01 10:00:00')"
)
_CHOICE = (
    "INSERT INTO consent_events (person_ref, purpose, granted, notice_version, text_sha256,"
    " method, source, created_at) VALUES (?, ?, ?, 'v', '0', 'test', NULL, '2026-11-01 10:00:00')"
)


def test_the_pool_flag_starts_as_each_residents_latest_matching_choice(tmp_path: Path) -> None:
    # Always a scratch SQLite file: the upgrade has to start from 0001 with data in it.
    path = tmp_path / "before_matching.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade_database(url, "0001")
    with sqlite3.connect(path) as db:
        for rid, ref in enumerate(("yes", "yes-then-no", "no-then-yes", "never", "other"), 1):
            db.execute(_RESIDENT, (rid, ref, 1000 + rid))
        choices = [
            ("yes", "matching", 1),
            ("yes-then-no", "matching", 1),
            ("yes-then-no", "matching", 0),
            ("no-then-yes", "matching", 0),
            ("no-then-yes", "matching", 1),
            ("other", "local_info", 1),
        ]
        db.executemany(_CHOICE, choices)

    upgrade_database(url)

    with sqlite3.connect(path) as db:
        flags = dict(db.execute("SELECT person_ref, matching_consent FROM residents"))
    assert flags == {"yes": 1, "yes-then-no": 0, "no-then-yes": 1, "never": 0, "other": 0}
