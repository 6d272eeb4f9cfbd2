"""Two database roles: migrations run as the owner, the bot as a role granted only what it needs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.config import Settings
from bot.db import create_engine
from bot.db_roles import connection_risk
from tests.database import postgres_url

on_postgres = pytest.mark.skipif(postgres_url() is None, reason="roles exist on PostgreSQL only")

OWNER = "postgresql+asyncpg://owner@db.example/bumpbuddies"
BOT = "postgresql+asyncpg://bumpbuddies_bot@db.example/bumpbuddies"


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_migrations_use_the_database_url_unless_told_otherwise() -> None:
    assert _settings(database_url=BOT).migration_url == BOT
    assert _settings(database_url=BOT, migration_database_url=OWNER).migration_url == OWNER


def test_the_bots_role_is_its_own_user_when_migrations_connect_as_someone_else() -> None:
    assert _settings(database_url=BOT, migration_database_url=OWNER).app_role == "bumpbuddies_bot"
    assert _settings(database_url=BOT).app_role is None
    assert _settings(database_url=BOT, database_app_role="bb_app").app_role == "bb_app"
    assert _settings().app_role is None


def _cli(*args: str, **env: str) -> Any:
    return CliRunner().invoke(cli, list(args), env=env)


def _inserting_consent_fails_with(url: str) -> str | None:
    """The database's refusal when the bot adds a consent event, or None if it may."""

    async def attempt() -> str | None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO consent_events (receipt_id, person_ref, purpose, granted,"
                        " consent_type, notice_version, text_sha256, language, jurisdiction,"
                        " method, created_at) VALUES (gen_random_uuid()::text, 'p', 'matching',"
                        " true, 'explicit', 'v', 'x', 'en', 'GB', 'test', now())"
                    )
                )
        except DBAPIError as exc:
            return str(exc.orig)
        finally:
            await engine.dispose()
        return None

    return asyncio.run(attempt())


def _revoke_everything(owner_url: str, role: str) -> None:
    async def revoke() -> None:
        engine = create_engine(owner_url)
        async with engine.begin() as connection:
            revoke_all = f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"'
            await connection.execute(text(revoke_all))
        await engine.dispose()

    asyncio.run(revoke())


@on_postgres
def test_db_upgrade_as_the_owner_grants_the_bots_role(
    database_url: str, owner_database_url: str
) -> None:
    role = make_url(database_url).username
    assert role is not None
    _revoke_everything(owner_database_url, role)
    refusal = _inserting_consent_fails_with(database_url)
    assert refusal is not None and "permission denied" in refusal

    result = _cli(
        "db", "upgrade", DATABASE_URL=database_url, MIGRATION_DATABASE_URL=owner_database_url
    )

    assert result.exit_code == 0, result.output
    assert _inserting_consent_fails_with(database_url) is None


@on_postgres
def test_db_grant_refuses_to_treat_the_owner_as_the_bots_role(owner_database_url: str) -> None:
    owner = make_url(owner_database_url).username
    assert owner is not None

    result = _cli("db", "grant", DATABASE_URL=owner_database_url, DATABASE_APP_ROLE=owner)

    assert result.exit_code == 2
    assert "must not be a superuser, the owner" in result.output


def test_db_grant_needs_a_role_to_grant_to(tmp_path: Any) -> None:
    result = _cli("db", "grant", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3")

    assert result.exit_code == 2
    assert "DATABASE_APP_ROLE" in result.output


@on_postgres
async def test_the_bot_warns_when_its_connection_could_lift_the_guards(
    database_url: str, owner_database_url: str
) -> None:
    as_bot, as_owner = create_engine(database_url), create_engine(owner_database_url)
    try:
        assert await connection_risk(as_bot) is None
        risk = await connection_risk(as_owner)
    finally:
        await as_bot.dispose()
        await as_owner.dispose()
    assert risk is not None and "owns nothing" in risk
