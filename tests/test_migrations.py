"""Alembic is the only way the schema is made, and it matches the models exactly."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

import models


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, models.Base.metadata)  # type: ignore[no-any-return]

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_every_model_table_exists_after_upgrade_head(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert set(models.Base.metadata.tables) <= tables
    assert "alembic_version" in tables
