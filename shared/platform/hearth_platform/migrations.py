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


def alembic_config(migrations_dir: Path, connection: Connection) -> Config:
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
        database_url, schema, lambda conn: command.upgrade(alembic_config(migrations_dir, conn), "head")
    )


async def revision(database_url: str, schema: str, migrations_dir: Path, message: str) -> None:
    await _with_schema_lock(
        database_url,
        schema,
        lambda conn: command.revision(
            alembic_config(migrations_dir, conn), message=message, autogenerate=True
        ),
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


def create_platform_tables_v1(schema: str) -> None:
    """The platform's tables (inbox, outbox, parked events) as of version 1, and the outbox's
    NOTIFY trigger, for a service's first revision. Frozen: a later change to these tables is a
    new function used by a new revision, so old revisions keep meaning what they meant."""
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql

    from .tables import outbox_notify_ddl

    now = sa.text("now()")
    op.create_table(
        "inbox",
        sa.Column("consumer_group", sa.Text(), nullable=False),
        sa.Column("event_source", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("consumer_group", "event_source", "event_id"),
        schema=schema,
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("aggregatetype", sa.Text(), nullable=False),
        sa.Column("aggregateid", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
        schema=schema,
    )
    op.create_index(
        "outbox_unsent", "outbox", ["id"], schema=schema, postgresql_where=sa.text("sent_at IS NULL")
    )
    op.create_table(
        "parked_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("consumer_group", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        schema=schema,
    )
    op.create_index("parked_events_subject", "parked_events", ["consumer_group", "subject"], schema=schema)
    for statement in outbox_notify_ddl(schema):
        op.execute(statement)


def drop_platform_tables_v1(schema: str) -> None:
    from alembic import op

    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".outbox_notify() CASCADE')
    op.drop_table("parked_events", schema=schema)
    op.drop_table("outbox", schema=schema)
    op.drop_table("inbox", schema=schema)


def upgrade_platform_tables_v2(schema: str) -> None:
    """Version 2 of the platform's tables, for a consumer's per-event cost:
    - the outbox keeps payload and headers as JSON text (the relay only ships them, so Postgres no
      longer parses each row into jsonb) and has no unique index on `event_id` (minted here as
      random UUIDs): together a bit over half of an outbox row's insert cost;
    - the inbox's key is (consumer_group, event_id, event_source): the event id, which differs
      from row to row, is compared second rather than last, so a claim's index search compares one
      column less at every step (about a seventh of an inbox row's cost). A group's rows stay
      together, so it can still be counted or purged by its prefix.
    Rewrites the outbox and rebuilds the inbox key once (the outbox holds only the retention window
    of sent rows). Frozen, like v1."""
    import sqlalchemy as sa
    from alembic import op

    op.drop_constraint("outbox_event_id_key", "outbox", schema=schema, type_="unique")
    for column in ("payload", "headers"):
        op.alter_column(
            "outbox",
            column,
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using=f"{column}::text",
            schema=schema,
        )
    op.drop_constraint("inbox_pkey", "inbox", schema=schema, type_="primary")
    op.create_primary_key(
        "inbox_pkey", "inbox", ["consumer_group", "event_id", "event_source"], schema=schema
    )


def downgrade_platform_tables_v2(schema: str) -> None:
    """Back to version 1: jsonb columns and the unique event id in the outbox, the inbox's key in
    its first column order."""
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.drop_constraint("inbox_pkey", "inbox", schema=schema, type_="primary")
    op.create_primary_key(
        "inbox_pkey", "inbox", ["consumer_group", "event_source", "event_id"], schema=schema
    )
    for column in ("payload", "headers"):
        op.alter_column(
            "outbox",
            column,
            type_=postgresql.JSONB(),
            existing_nullable=False,
            postgresql_using=f"{column}::jsonb",
            schema=schema,
        )
    op.create_unique_constraint("outbox_event_id_key", "outbox", ["event_id"], schema=schema)


def create_audit_table_v1(schema: str) -> None:
    """The audit trail (see audit.py) as of version 1. Frozen, like create_platform_tables_v1."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "audit",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("org_type", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("route", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("correlation_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        schema=schema,
    )
    op.create_index("audit_member", "audit", ["member_id", "at"], schema=schema)
    op.create_index("audit_client", "audit", ["client", "at"], schema=schema)


def drop_audit_table_v1(schema: str) -> None:
    from alembic import op

    op.drop_table("audit", schema=schema)
