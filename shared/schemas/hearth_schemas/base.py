"""The base of every Hearth event contract.

An event is a fact that happened, named in the past tense, owned by one service. Its CloudEvents
type is `hearth.<service>.<Name>.v<major>`; within a major version only additive, optional changes
are allowed (the compatibility test enforces it), and consumers ignore fields they do not know.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

SCHEMA_BASE = "https://schemas.hearth.health/events"

# Money travels as a decimal string ("400.00"), never as a float, so no consumer loses cents.
Money = Annotated[
    Decimal,
    Field(max_digits=14, decimal_places=2),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
]
# A calendar month as YYYY-MM.
Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-10"])]
MemberId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Identifier = Annotated[str, Field(min_length=1, max_length=64)]


class Event(BaseModel):
    """Base class: subclasses set `service`, `name` and `version` and declare their fields."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    service: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[int] = 1
    # The field whose value is the Kafka record key and the CloudEvents subject.
    subject_field: ClassVar[str] = "member_id"

    @classmethod
    def event_type(cls) -> str:
        return f"hearth.{cls.service}.{cls.name}.v{cls.version}"

    @classmethod
    def dataschema(cls) -> str:
        return f"{SCHEMA_BASE}/{cls.service}/{cls.name}/v{cls.version}.json"

    @classmethod
    def topic(cls) -> str:
        return "claims.lines" if cls.service == "claims" else f"{cls.service}.events"

    @classmethod
    def schema_filename(cls) -> str:
        return f"{cls.service}.{cls.name}.v{cls.version}.json"

    def subject(self) -> str:
        return str(getattr(self, self.subject_field))

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


__all__ = ["Event", "Money", "Month", "MemberId", "Identifier", "date", "datetime", "Decimal"]
