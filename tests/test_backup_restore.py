"""deploy/backup.sh and deploy/restore.sh: a backup restores into a new database, every row kept.

PostgreSQL only (pg_dump and pg_restore): each test makes and drops scratch databases of its own.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from bot.db import create_engine, schema_state, upgrade_database
from tests.database import postgres_url
from tests.scratch_database import scratch_database

pytestmark = pytest.mark.skipif(
    postgres_url() is None, reason="pg_dump and pg_restore back up PostgreSQL only"
)

ROOT = Path(__file__).resolve().parents[1]
BACKUP = ROOT / "deploy" / "backup.sh"
RESTORE = ROOT / "deploy" / "restore.sh"
TIMEOUT = 300.0


async def _run(*command: str | Path, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *command,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _fill_with_a_year_of_use(url: str, folder: Path) -> None:
    """Residents, consent records, messages, staff: `bumpbuddies demo` into `url`."""
    code, _, err = await _run(
        sys.executable, "-m", "bot", "--", "demo", "--residents", "20",
        SANDBOX_DATABASE_URL=url,
        DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'unused.sqlite3'}",
        CONTENT_DIR=str(ROOT / "content"),
    )  # fmt: skip
    assert code == 0, err


async def _scalar(url: str, sql: str) -> object:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(text(sql))
    finally:
        await engine.dispose()


async def _add_staff(url: str, telegram_user_id: int) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO staff (telegram_user_id, role, added_at) "
                "VALUES (:id, 'midwife', now())"
            ),
            {"id": telegram_user_id},
        )
    await engine.dispose()


async def test_a_backup_restores_into_a_new_database_with_every_table_and_row(
    database_url: str, tmp_path: Path
) -> None:
    dump = tmp_path / "bumpbuddies.dump"
    async with (
        scratch_database(tmp_path, "live") as live,
        scratch_database(tmp_path, "restored") as restored,
    ):
        await _fill_with_a_year_of_use(live, tmp_path)
        backed_up = await _run("bash", BACKUP, live, dump)
        assert backed_up[0] == 0, backed_up[2]

        code, out, err = await _run("bash", RESTORE, dump, restored, live)

        assert code == 0, err
        tables = await _scalar(live, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert isinstance(tables, int) and tables > 20
        assert out.splitlines()[-1] == f"Row counts match in all {tables} tables."
        assert await _scalar(restored, "SELECT count(*) FROM residents") == 20
        consent_events = await _scalar(restored, "SELECT count(*) FROM consent_events")
        assert isinstance(consent_events, int) and consent_events > 20
        engine = create_engine(restored)
        assert (await schema_state(engine)).up_to_date
        await engine.dispose()
        # The append-only triggers came back with the data.
        with pytest.raises(DBAPIError, match="append-only"):
            await _scalar(restored, "UPDATE consent_events SET purpose = purpose RETURNING 1")


async def test_a_row_that_differs_is_named_and_a_database_with_tables_is_never_restored_into(
    database_url: str, tmp_path: Path
) -> None:
    dump = tmp_path / "bumpbuddies.dump"
    async with (
        scratch_database(tmp_path, "live") as live,
        scratch_database(tmp_path, "restored") as restored,
    ):
        await asyncio.to_thread(upgrade_database, live)
        await _add_staff(live, 1001)
        assert (await _run("bash", BACKUP, live, dump))[0] == 0
        # The live bot carries on after the backup: a new member of staff.
        await _add_staff(live, 1002)

        code, out, _ = await _run("bash", RESTORE, dump, restored, live)
        again, _, refused = await _run("bash", RESTORE, dump, restored)

    assert code == 1
    differences = [line for line in out.splitlines() if line.startswith(("<", ">"))]
    assert [line.split("\t")[0] for line in differences] == ["< staff", "> staff"]
    assert again == 2
    assert refused.strip() == (
        "Refused: the database to restore into already has tables. Create a new, empty one."
    )


async def test_a_backup_cut_short_never_looks_like_a_finished_one(
    database_url: str, tmp_path: Path
) -> None:
    dump = tmp_path / "bumpbuddies.dump"
    owner = postgres_url()
    assert owner is not None
    missing = make_url(owner).set(database="no_such_database_here").render_as_string(False)

    code, _, _ = await _run("bash", BACKUP, missing, dump)

    assert code != 0
    assert not dump.exists()
