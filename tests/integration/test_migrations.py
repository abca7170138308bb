"""Each service's migrations build exactly the tables its code declares, and downgrade cleanly."""

import importlib

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from hearth_platform.migrations import alembic_config, upgrade

from .stack import Stack

SERVICES = ("referral", "eligibility", "billing", "quality")


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_match_the_tables_the_code_declares_and_downgrade_to_nothing(stack: Stack, service):
    definition = importlib.import_module(f"hearth_{service}.app").definition
    url = await stack.isolated_database()
    await upgrade(url, definition.schema, definition.migrations)

    def differences(conn: Connection) -> list[object]:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "compare_type": True,
                "version_table_schema": definition.schema,
                "include_name": lambda name, kind, _: name == definition.schema if kind == "schema" else True,
            },
        )
        return list(compare_metadata(context, definition.metadata))

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            assert await conn.run_sync(differences) == []
            await conn.run_sync(lambda c: command.downgrade(alembic_config(definition.migrations, c), "base"))
            tables = await conn.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": definition.schema},
            )
            assert sorted(r.table_name for r in tables) == ["alembic_version"]
    finally:
        await engine.dispose()
