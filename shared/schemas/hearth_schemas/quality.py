"""Events of the quality service: measure results that feed payment."""

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from .base import Event, Identifier


class _QualityEvent(Event):
    service: ClassVar[str] = "quality"


class PerformanceScored(_QualityEvent):
    """One measure for one provider organization and period; `reported` is false below the
    measure's minimum denominator, and billing then applies no money for it."""

    name: ClassVar[str] = "PerformanceScored"
    subject_field: ClassVar[str] = "provider_org_id"

    score_id: Identifier
    provider_org_id: Identifier
    measure_id: str = Field(max_length=64)
    measure_version: str = Field(max_length=16)
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$", examples=["2026-10", "2026-Q4"])
    numerator: int = Field(ge=0)
    denominator: int = Field(ge=0)
    rate: Decimal | None = Field(default=None, ge=0, max_digits=9, decimal_places=6)
    reported: bool
    computed_at: datetime
    run: int | None = Field(
        default=None, ge=1, description="The computation of this period; a later run supersedes earlier ones."
    )
