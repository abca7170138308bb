"""What a recomputation changed: per measure and organization, the previous and the new score
where they differ. Plain Python.

A new run keeps every earlier one; this is what a reader (or the provider organization whose
earn-back moved) wants to see first: which numbers moved, from what, to what.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from .domain import MeasureScore

Key = tuple[str, str]


@dataclass(frozen=True)
class ScoreChange:
    measure_id: str
    provider_org_id: str
    previous: MeasureScore | None
    new: MeasureScore | None


def _same(a: MeasureScore, b: MeasureScore) -> bool:
    return (a.numerator, a.denominator, a.exclusions, a.rate, a.reported, a.measure_version) == (
        b.numerator,
        b.denominator,
        b.exclusions,
        b.rate,
        b.reported,
        b.measure_version,
    )


def changes(previous: Iterable[MeasureScore], new: Iterable[MeasureScore]) -> list[ScoreChange]:
    """Scores that differ, appeared (an organization's first member) or disappeared."""
    before: dict[Key, MeasureScore] = {(s.measure_id, s.provider_org_id): s for s in previous}
    after: dict[Key, MeasureScore] = {(s.measure_id, s.provider_org_id): s for s in new}
    out = []
    for key in sorted(before.keys() | after.keys()):
        old, now = before.get(key), after.get(key)
        if old is not None and now is not None and _same(old, now):
            continue
        out.append(ScoreChange(key[0], key[1], old, now))
    return out
