"""The bot's PostgreSQL role: it owns nothing and gets only the privileges it needs.

Migrations run as the schema's owner (MIGRATION_DATABASE_URL). After every upgrade the owner
grants the bot's role (DATABASE_APP_ROLE) the usual reading and writing on every table, but only
SELECT and INSERT on the append-only ones (models marked `info={"append_only": True}`), so the
bot's own connection cannot rewrite, empty or unguard the consent record or the audit trail:
it may not UPDATE, DELETE or TRUNCATE them, and, owning nothing, cannot disable or drop their
triggers. Granting again after each upgrade covers tables that later migrations add.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

import models


class RoleError(Exception):
    """The bot's role would be able to bypass the append-only tables; the message says why."""


def append_only_tables() -> list[str]:
    """Tables whose rows are evidence: the bot may add to them and read them, nothing else."""
    tables = models.Base.metadata.tables.values()
    return sorted(table.name for table in tables if table.info.get("append_only"))


async def _check_role(connection: AsyncConnection, role: str) -> None:
    row = (
        await connection.execute(
            text(
                "SELECT r.rolsuper, r.rolname = current_user, "
                "pg_has_role(r.oid, (SELECT oid FROM pg_roles WHERE rolname = current_user),"
                " 'MEMBER') "
                "FROM pg_roles r WHERE r.rolname = :role"
            ),
            {"role": role},
        )
    ).first()
    if row is None:
        raise RoleError(f"The database role {role!r} does not exist; create it first.")
    superuser, is_owner, member_of_owner = row
    if superuser or is_owner or member_of_owner:
        raise RoleError(
            f"The bot's role {role!r} must not be a superuser, the owner, or a member of the "
            "owner's role: it could then switch off the append-only triggers."
        )
    owned = await connection.scalar(
        text(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relowner = (SELECT oid FROM pg_roles "
            "WHERE rolname = :role)"
        ),
        {"role": role},
    )
    if owned:
        raise RoleError(f"The bot's role {role!r} owns tables; it must own nothing.")


async def grant_app_role(connection: AsyncConnection, role: str) -> None:
    """Give the bot's role exactly what it needs, taking back anything more."""
    await _check_role(connection, role)
    quote = connection.dialect.identifier_preparer.quote
    who = quote(role)
    existing = set(
        await connection.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
    )
    guarded = ", ".join(quote(name) for name in append_only_tables() if name in existing)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {who}",
        f"REVOKE CREATE ON SCHEMA public FROM {who}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}",
    ]
    if "alembic_version" in existing:
        # The schema's version is the owner's business; the bot may only read it.
        statements.append(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {who}")
    if guarded:
        statements.append(f"REVOKE UPDATE, DELETE ON {guarded} FROM {who}")
    for statement in statements:
        await connection.execute(text(statement))


async def grant(owner_url: str, role: str) -> None:
    """Connect as the owner and grant the bot's role its privileges."""
    engine = create_async_engine(owner_url)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name != "postgresql":
                raise RoleError("Database roles exist only on PostgreSQL.")
            await grant_app_role(connection, role)
    finally:
        await engine.dispose()


async def connection_risk(engine: AsyncEngine) -> str | None:
    """Why this connection could bypass the append-only tables (PostgreSQL), or None if it can't.

    The bot checks its own connection at start-up and warns: a deployment still running the bot
    as the owner works, but its consent record is only as safe as the bot's credentials.
    """
    if engine.dialect.name != "postgresql":
        return None
    async with engine.connect() as connection:
        superuser = await connection.scalar(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        )
        owned = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND pg_has_role(current_user, c.relowner, 'USAGE')"
            )
        )
    if superuser or owned:
        return (
            "The bot's database role is a superuser or owns its tables, so it could switch off "
            "the append-only consent record and audit trail; run it as a role that owns nothing "
            "(docs/DEPLOY.md)."
        )
    return None
