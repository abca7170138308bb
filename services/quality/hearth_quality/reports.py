"""Measure results as files people open elsewhere: CSV with a header row. Plain Python.

The CSV carries the same numbers as the API: the published rate (numerator / denominator) and the
specification's figure (rate x the measure's multiplier), empty where the rate is not reported.
"""

import csv
import io
from collections.abc import Iterable, Mapping
from decimal import Decimal

from .domain import MeasureResult

CSV_COLUMNS = (
    "period",
    "provider_org_id",
    "measure_id",
    "measure_version",
    "numerator",
    "denominator",
    "exclusions",
    "rate",
    "scaled_rate",
    "reported",
    "run",
    "computed_at",
)


def results_csv(results: Iterable[MeasureResult], multipliers: Mapping[str, Decimal]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        s = r.score
        scaled = "" if s.rate is None else s.rate * multipliers.get(s.measure_id, Decimal(1))
        writer.writerow(
            (
                s.period,
                s.provider_org_id,
                s.measure_id,
                s.measure_version,
                s.numerator,
                s.denominator,
                s.exclusions,
                "" if s.rate is None else s.rate,
                scaled,
                "true" if s.reported else "false",
                r.run,
                r.computed_at.isoformat(),
            )
        )
    return out.getvalue()
