"""Alembic for a service that owns one Postgres schema.

Each service keeps its revisions in `<package>/migrations/`; its `env.py` is two lines that call
`run_env`. The version table lives inside the service's schema and autogenerate only looks at
that schema, so four services share one database without their migrations fighting.
"""

import argparse
import asyncio
import importlib
import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import create_async_engine

from .settings import get_settings


def run_env(metadata: MetaData) -> None:
    """Body of a service's migrations/env.py."""
    schema = metadata.schema
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through hearth_platform.migrations (upgrade or revision)")

    def include_name(name: str | None, type_: str, _parent: object) -> bool:
        return name == schema if type_ == "schema" else True

    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        include_name=include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _config(migrations_dir: Path, connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.attributes["connection"] = connection
    return cfg


async def _with_schema_lock(database_url: str, schema: str, work: object) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            # Replicas starting together migrate one at a time.
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:k)"),
                {"k": zlib.crc32(f"hearth-migrate:{schema}".encode())},
            )
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.run_sync(work)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def upgrade(database_url: str, schema: str, migrations_dir: Path) -> None:
    await _with_schema_lock(
        database_url, schema, lambda conn: command.upgrade(_config(migrations_dir, conn), "head")
    )


async def revision(database_url: str, schema: str, migrations_dir: Path, message: str) -> None:
    await _with_schema_lock(
        database_url,
        schema,
        lambda conn: command.revision(_config(migrations_dir, conn), message=message, autogenerate=True),
    )


def main() -> None:
    """`python -m hearth_platform.migrations SERVICE "message"` autogenerates a revision against
    HEARTH_DATABASE_URL (upgrade to head first so the diff is only the new change)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("service")
    parser.add_argument("message")
    args = parser.parse_args()
    definition = importlib.import_module(f"hearth_{args.service}.app").definition
    url = get_settings().database_url
    asyncio.run(upgrade(url, definition.schema, definition.migrations))
    asyncio.run(revision(url, definition.schema, definition.migrations, args.message))


if __name__ == "__main__":
    main()
