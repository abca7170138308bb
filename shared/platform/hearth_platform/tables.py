"""The platform's tables, added to each service's own MetaData so that the service's migrations
own them and they live in the service's schema: the outbox (Debezium's column names), the inbox
(one row per consumed event, the deduplication record) and parked events (arrived before what
they depend on), and the audit trail (who read or changed member data; see audit.py)."""

from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    TypeDecorator,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB


class JsonText(TypeDecorator[Any]):
    """A JSON document kept as the text it was written as. The outbox's payload and headers are
    only ever shipped as they are (the relay sends the text), never queried inside, so Postgres
    need not parse them into jsonb on every insert and print them back on every publish (that
    parse cost a third of an outbox row). Python reads them back as objects, as from jsonb."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return orjson.dumps(value).decode()

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else orjson.loads(value)


class PlatformTables:
    def __init__(self, metadata: MetaData) -> None:
        self.schema = metadata.schema
        self.outbox = Table(
            "outbox",
            metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=True),
            # Minted here (random UUIDs), so not indexed: a unique index on random text cost a
            # fifth of an outbox row and guarded against nothing the id generator allows.
            Column("event_id", Text, nullable=False),
            Column("aggregatetype", Text, nullable=False),
            Column("aggregateid", Text, nullable=False),
            Column("type", Text, nullable=False),
            Column("topic", Text, nullable=False),
            Column("payload", JsonText, nullable=False),
            Column("headers", JsonText, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
            Column("sent_at", DateTime(timezone=True)),
            Index("outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
        )
        self.inbox = Table(
            "inbox",
            metadata,
            Column("consumer_group", Text, nullable=False),
            Column("event_source", Text, nullable=False),
            Column("event_id", Text, nullable=False),
            Column("event_type", Text, nullable=False),
            Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
            # The event id second: it tells rows apart at once, where the source (the same for
            # most rows) would be compared first at every step of a claim's index search.
            PrimaryKeyConstraint("consumer_group", "event_id", "event_source", name="inbox_pkey"),
        )
        self.parked = Table(
            "parked_events",
            metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=True),
            Column("consumer_group", Text, nullable=False),
            Column("subject", Text, nullable=False),
            Column("event_type", Text, nullable=False),
            Column("topic", Text, nullable=False),
            Column("key", LargeBinary),
            Column("value", LargeBinary, nullable=False),
            Column("headers", JSONB, nullable=False),
            Column("reason", Text, nullable=False),
            Column("attempts", Integer, nullable=False, server_default="0"),
            Column("parked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
            Index("parked_events_subject", "consumer_group", "subject"),
        )
        self.audit = Table(
            "audit",
            metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=True),
            Column("at", DateTime(timezone=True), nullable=False),
            Column("client", Text, nullable=False),
            Column("org", Text, nullable=False),
            Column("org_type", Text, nullable=False),
            Column("method", Text, nullable=False),
            Column("route", Text, nullable=False),
            Column("path", Text, nullable=False),
            Column("member_id", Text),
            Column("status", Integer, nullable=False),
            Column("purpose", Text),
            Column("correlation_id", Text),
            Index("audit_member", "member_id", "at"),
            Index("audit_client", "client", "at"),
        )

        s = self.schema
        # Many rows travel as ONE JSON document that Postgres expands: one bound value whatever
        # the batch size, and far less client CPU than one value per cell. As json, not jsonb: the
        # rows are read once, in order, so building a jsonb tree first only adds cost (about a
        # quarter of the parse, ~1.3 us a row of a consumer batch).
        self.outbox_insert = text(
            f'''INSERT INTO "{s}".outbox (event_id, aggregatetype, aggregateid, type, topic, payload, headers)
                SELECT event_id, aggregatetype, aggregateid, type, topic, payload, headers
                FROM ROWS FROM (json_to_recordset(CAST(:rows AS json)) AS (event_id text, aggregatetype text,
                     aggregateid text, type text, topic text, payload text, headers text))
                     WITH ORDINALITY AS r(event_id, aggregatetype, aggregateid, type, topic, payload, headers, n)
                ORDER BY n'''
        )
        self.inbox_claim = text(
            # Answers the events already in the inbox (usually none), not the many just claimed.
            f'''WITH batch AS (
                    SELECT source, id, type FROM json_to_recordset(CAST(:rows AS json)) AS r(source text, id text, type text)
                ), claimed AS (
                    INSERT INTO "{s}".inbox (consumer_group, event_source, event_id, event_type)
                    SELECT :group, source, id, type FROM batch
                    ON CONFLICT DO NOTHING
                    RETURNING event_source, event_id
                )
                SELECT b.source AS event_source, b.id AS event_id FROM batch b
                LEFT JOIN claimed c ON c.event_source = b.source AND c.event_id = b.id
                WHERE c.event_id IS NULL'''
        )

    @property
    def notify_channel(self) -> str:
        return f"{self.schema}_outbox"

    def notify_trigger_ddl(self) -> list[str]:
        assert self.schema is not None
        return outbox_notify_ddl(self.schema)


def outbox_notify_ddl(schema: str) -> list[str]:
    """A statement-level trigger: one NOTIFY per insert statement wakes the relay. Migrations call
    this with their schema name (a literal, so old revisions do not depend on current tables)."""
    ch = f"{schema}_outbox"
    return [
        f"""CREATE OR REPLACE FUNCTION "{schema}".outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_notify('{ch}', ''); RETURN NULL; END $$""",
        f'DROP TRIGGER IF EXISTS outbox_notify ON "{schema}".outbox',
        f"""CREATE TRIGGER outbox_notify AFTER INSERT ON "{schema}".outbox
            FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".outbox_notify()""",
    ]
