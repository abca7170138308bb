"""What a recomputation changed: only scores that moved, appeared or disappeared."""

from decimal import Decimal

from hearth_quality.changes import changes
from hearth_quality.domain import MeasureScore


def s(measure: str, org: str, n: int, d: int, rate: str | None) -> MeasureScore:
    return MeasureScore(
        measure, "1", org, "2026-10", n, d, None if rate is None else Decimal(rate), rate is not None
    )


def test_only_moved_new_and_vanished_scores_are_changes() -> None:
    before = [s("telehealth-share", "org-a", 1, 2, "0.5"), s("surrogate-identified", "org-a", 1, 1, "1")]
    after = [
        s("telehealth-share", "org-a", 2, 3, "0.666667"),
        s("surrogate-identified", "org-a", 1, 1, "1"),
        s("surrogate-identified", "org-b", 0, 0, None),
    ]
    moved = changes(before, after)
    assert [(c.measure_id, c.provider_org_id) for c in moved] == [
        ("surrogate-identified", "org-b"),
        ("telehealth-share", "org-a"),
    ]
    assert moved[0].previous is None and moved[0].new == after[2]
    assert (moved[1].previous.numerator, moved[1].new.numerator, moved[1].new.rate) == (
        1,
        2,
        Decimal("0.666667"),
    )
    assert changes(after, after) == []
    [gone] = changes(before, before[1:])
    assert (gone.measure_id, gone.new) == ("telehealth-share", None)
