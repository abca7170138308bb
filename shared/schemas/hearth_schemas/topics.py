"""Kafka topic names: one events topic per service (written only by that service), the claims input
topic, and one dead-letter topic per consuming service. Create them explicitly: an auto-created
topic gets the broker's default partition count, which differs between brokers."""

SERVICES = ("referral", "eligibility", "billing", "quality")

CLAIMS_LINES = "claims.lines"
PARTITIONS = 4


def events_topic(service: str) -> str:
    return f"{service}.events"


def dead_letter_topic(service: str) -> str:
    return f"{service}.dlq"


EVENT_TOPICS = tuple(events_topic(s) for s in SERVICES)
DEAD_LETTER_TOPICS = tuple(dead_letter_topic(s) for s in SERVICES)
ALL_TOPICS = (*EVENT_TOPICS, CLAIMS_LINES, *DEAD_LETTER_TOPICS)
