"""SQL of case-finding: claim lines land in a per-transaction staging table (COPY from a file, or
the consumed `claims.lines` batch), bad lines are reported, signal lines are kept in
`claim_signals`, and members are scored over their rolling profile, all set-based.
"""

from collections.abc import AsyncIterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from hearth_platform.db import json_rows

from .case_finding import CaseFindingRules
from .claims_layout import CLAIM_CSV_COLUMNS, CLAIM_TYPES
from .domain import OPEN
from .tables import case_findings

STAGING = "claim_import"
_TRUE = "('true', 't', '1', 'yes', 'y')"
_BOOLS = "('true', 't', '1', 'yes', 'y', 'false', 'f', '0', 'no', 'n')"
# Why a staged line is refused (the first reason that applies); NULL for a good line. Never the
# submitted value: a claim file carries member data.
_REJECT_REASON = f"""
CASE
  WHEN claim_id IS NULL OR length(claim_id) > 64 THEN 'claim_id: required, at most 64 characters'
  WHEN line_number IS NULL OR length(line_number) > 6 OR line_number ~ '[^0-9]' OR line_number ~ '^0'
    THEN 'line_number: a whole number from 1'
  WHEN member_id IS NULL OR length(member_id) > 64 OR member_id ~ '[^A-Za-z0-9._:-]'
    THEN 'member_id: required member id'
  WHEN claim_type IS NULL OR NOT claim_type = ANY(CAST(:claim_types AS text[]))
    THEN 'claim_type: one of ' || array_to_string(CAST(:claim_types AS text[]), ', ')
  WHEN NOT coalesce(pg_input_is_valid(service_from, 'date'), false) THEN 'service_from: a date YYYY-MM-DD'
  WHEN NOT coalesce(pg_input_is_valid(service_to, 'date'), false) THEN 'service_to: a date YYYY-MM-DD'
  WHEN CAST(service_to AS date) < CAST(service_from AS date) THEN 'service_to: before service_from'
  WHEN length(diagnosis_codes) > 400 OR diagnosis_codes ~ '[^A-Za-z0-9;]'
    THEN 'diagnosis_codes: ICD-10 codes without dots, ;-separated'
  WHEN length(procedure_code) > 8 THEN 'procedure_code: at most 8 characters'
  WHEN length(revenue_code) <> 4 OR revenue_code ~ '[^0-9]' THEN 'revenue_code: 4 digits'
  WHEN length(place_of_service) <> 2 OR place_of_service ~ '[^0-9]' THEN 'place_of_service: 2 digits'
  WHEN admission_type NOT IN ('emergency', 'urgent', 'elective')
    THEN 'admission_type: emergency, urgent or elective'
  WHEN lower(ed_visit) NOT IN {_BOOLS} THEN 'ed_visit: true or false'
  WHEN length(discharge_status) <> 2 OR discharge_status ~ '[^0-9]' THEN 'discharge_status: 2 digits'
  WHEN paid_amount IS NOT NULL AND NOT pg_input_is_valid(paid_amount, 'numeric(12,2)')
    THEN 'paid_amount: a decimal'
END
"""


def _field_signal_sql(rules: CaseFindingRules) -> tuple[str, str, dict[str, Any]]:
    """One VALUES row per claim-line signal: (signal, the code that shows it, or NULL); and a
    cheap test that a line may carry any of them, so most lines skip the VALUES entirely."""
    params: dict[str, Any] = {}
    rows = []
    tests: list[str] = []
    for signal, spec in rules.field_signals.items():
        branches = []
        if spec.get("claim_types"):
            params[f"{signal}_ct"] = spec["claim_types"]
            test = f"s.claim_type = ANY(CAST(:{signal}_ct AS text[]))"
            code = "s.claim_type"
            if spec.get("admission_types"):
                params[f"{signal}_at"] = spec["admission_types"]
                test += f" AND s.admission_type = ANY(CAST(:{signal}_at AS text[]))"
                code = "s.admission_type"
            branches.append((test, code))
        for key, column, prefix in (
            ("procedure_codes", "procedure_code", ""),
            ("revenue_codes", "revenue_code", "rev "),
            ("places_of_service", "place_of_service", "pos "),
            ("discharge_statuses", "discharge_status", "status "),
        ):
            if spec.get(key):
                params[f"{signal}_{key}"] = spec[key]
                branches.append(
                    (f"s.{column} = ANY(CAST(:{signal}_{key} AS text[]))", f"'{prefix}' || s.{column}")
                )
        if spec.get("ed_flag"):
            branches.append((f"lower(s.ed_visit) IN {_TRUE}", "'ed_visit'"))
        code_expr = (
            "CASE " + " ".join(f"WHEN {t} THEN {c}" for t, c in branches) + " END" if branches else "NULL"
        )
        rows.append(f"('{signal}', {code_expr})")
        tests += [t for t, _ in branches]
    return ", ".join(rows), " OR ".join(f"({t})" for t in tests) or "false", params


class ClaimsRepository:
    def __init__(self, conn: AsyncConnection, rules: CaseFindingRules) -> None:
        self.conn = conn
        self.rules = rules

    async def create_staging(self) -> None:
        await self.conn.execute(
            text(
                f"CREATE TEMP TABLE {STAGING} (LIKE referral.claim_line_staging INCLUDING DEFAULTS "
                "INCLUDING IDENTITY) ON COMMIT DROP"
            )
        )

    async def copy_csv(self, columns: Sequence[str], chunks: AsyncIterable[bytes]) -> int:
        """COPY the CSV body (header already consumed) into the staging table; the lines copied."""
        raw = await self.conn.get_raw_connection()
        status = await raw.driver_connection.copy_to_table(  # type: ignore[union-attr]
            STAGING, source=chunks, columns=list(columns), format="csv"
        )
        return int(status.split()[-1])

    async def stage_events(self, rows: Sequence[dict[str, Any]]) -> None:
        """A consumed batch of ClaimLineReceived events, as staging rows (already validated)."""
        columns = ", ".join(CLAIM_CSV_COLUMNS)
        await self.conn.execute(
            text(
                f"INSERT INTO {STAGING} ({columns}) SELECT {columns} FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
                f"AS r({', '.join(f'{c} text' for c in CLAIM_CSV_COLUMNS)})"
            ),
            {"rows": json_rows(list(rows))},
        )

    async def reject_bad_lines(self, limit: int = 100) -> tuple[int, list[dict[str, Any]]]:
        """Remove the lines that break the layout; their count and the first `limit` of them."""
        rows = await self.conn.execute(
            text(
                f"""
                WITH found AS (
                  SELECT line, reason FROM (SELECT line, {_REJECT_REASON} AS reason FROM {STAGING}) AS r
                  WHERE reason IS NOT NULL
                ),
                bad AS (
                  DELETE FROM {STAGING} s USING found WHERE s.line = found.line
                  RETURNING found.line, found.reason
                )
                SELECT line, reason, count(*) OVER () AS total FROM bad ORDER BY line LIMIT :limit
                """
            ),
            {"claim_types": list(CLAIM_TYPES), "limit": limit},
        )
        found = list(rows)
        total = found[0].total if found else 0
        return total, [{"line": r.line, "reason": r.reason} for r in found]

    async def keep_signals(self) -> int:
        """Add the staged lines' signals to the members' profiles (a redelivered line adds nothing)."""
        values, may_signal, params = _field_signal_sql(self.rules)
        result = await self.conn.execute(
            text(
                f"""
                INSERT INTO referral.claim_signals (claim_id, line_number, signal, code, member_id, service_date)
                SELECT claim_id, CAST(line_number AS int), signal, code, member_id, CAST(service_from AS date)
                FROM (
                  SELECT s.claim_id, s.line_number, s.member_id, s.service_from, f.signal, f.code
                  FROM (SELECT * FROM {STAGING} s WHERE {may_signal}) AS s
                  CROSS JOIN LATERAL (VALUES {values}) AS f(signal, code)
                  WHERE f.code IS NOT NULL
                  UNION ALL
                  SELECT s.claim_id, s.line_number, s.member_id, s.service_from, p.signal, d.code
                  FROM {STAGING} s
                  CROSS JOIN LATERAL unnest(string_to_array(upper(s.diagnosis_codes), ';')) AS d(code)
                  CROSS JOIN LATERAL (VALUES (left(d.code, 3)), (left(d.code, 4)), (left(d.code, 5))) AS k(prefix)
                  JOIN jsonb_to_recordset(CAST(:prefixes AS jsonb)) AS p(prefix text, signal text)
                    ON p.prefix = k.prefix
                  WHERE s.diagnosis_codes IS NOT NULL
                ) AS found
                ON CONFLICT DO NOTHING
                """
            ),
            {**params, "prefixes": json_rows(self.rules.prefix_rows())},
        )
        return int(result.rowcount or 0)

    async def candidates(self, as_of: date, *, staged_members_only: bool = True) -> list[Any]:
        """Members whose rolling profile scores at least the threshold, with the score's parts;
        members who died, are in hospice, have an open referral or were recently declined or
        enrolled are left out."""
        scope = (
            f"SELECT DISTINCT member_id FROM {STAGING}"
            if staged_members_only
            else "SELECT DISTINCT member_id FROM referral.claim_signals"
        )
        rows = await self.conn.execute(
            text(
                f"""
                WITH scope AS ({scope}),
                rules AS (
                  SELECT * FROM jsonb_to_recordset(CAST(:rules AS jsonb))
                    AS r(rule text, kind text, signals text[], weight int, cap int, min_events int)
                ),
                profile AS (
                  SELECT cs.member_id, cs.signal, cs.claim_id
                  FROM referral.claim_signals cs JOIN scope USING (member_id)
                  WHERE cs.service_date > CAST(:as_of AS date) - make_interval(months => :window)
                    AND cs.service_date <= CAST(:as_of AS date)
                ),
                suppressed AS (
                  SELECT member_id FROM profile WHERE signal = ANY(CAST(:suppress_signals AS text[]))
                  UNION
                  SELECT r.member_id FROM referral.referrals r JOIN scope USING (member_id)
                  WHERE r.status = ANY(CAST(:open AS text[]))
                     OR (r.status = ANY(CAST(:recent_statuses AS text[]))
                         AND r.referral_date > CAST(:as_of AS date) - CAST(:recent_days AS int))
                ),
                events AS (
                  SELECT p.member_id, r.rule, r.kind, r.weight, r.cap, r.min_events,
                         count(DISTINCT p.claim_id) AS events
                  FROM profile p JOIN rules r ON p.signal = ANY(r.signals)
                  WHERE NOT EXISTS (SELECT 1 FROM suppressed x WHERE x.member_id = p.member_id)
                  GROUP BY 1, 2, 3, 4, 5, 6
                ),
                points AS (
                  SELECT *, CASE WHEN events >= min_events THEN weight * least(events, cap) ELSE 0 END AS points
                  FROM events
                )
                SELECT member_id, CAST(sum(points) AS int) AS score,
                       jsonb_agg(jsonb_build_object('rule', rule, 'kind', kind, 'events', events,
                                                    'weight', weight, 'points', points)
                                 ORDER BY points DESC, rule) FILTER (WHERE points > 0) AS explanation,
                       coalesce(array_agg(rule) FILTER (WHERE kind = 'condition' AND points > 0), '{{}}')
                         AS conditions
                FROM points
                GROUP BY member_id
                HAVING sum(points) >= :threshold
                   AND (NOT :require_condition OR bool_or(kind = 'condition' AND points > 0))
                ORDER BY member_id
                """
            ),
            {
                "rules": json_rows(self.rules.rule_rows()),
                "as_of": as_of,
                "window": self.rules.window_months,
                "suppress_signals": list(self.rules.suppress_signals),
                "open": [s.value for s in OPEN],
                "recent_statuses": list(self.rules.suppress_recent_statuses),
                "recent_days": self.rules.suppress_recent_days,
                "threshold": self.rules.threshold,
                "require_condition": self.rules.require_condition,
            },
        )
        return list(rows)

    async def evidence(self, member_ids: Sequence[str], as_of: date) -> dict[str, list[dict[str, Any]]]:
        """The newest claims behind each scoring signal of these members (a few per signal)."""
        if not member_ids:
            return {}
        scoring = sorted({s for r in self.rules.rules for s in r.signals})
        rows = await self.conn.execute(
            text(
                """
                SELECT member_id, signal, claim_id, code, service_date FROM (
                  SELECT cs.*, row_number() OVER (
                    PARTITION BY cs.member_id, cs.signal ORDER BY cs.service_date DESC, cs.claim_id, cs.code
                  ) AS n
                  FROM referral.claim_signals cs
                  WHERE cs.member_id = ANY(CAST(:members AS text[]))
                    AND cs.signal = ANY(CAST(:signals AS text[]))
                    AND cs.service_date > CAST(:as_of AS date) - make_interval(months => :window)
                    AND cs.service_date <= CAST(:as_of AS date)
                ) AS ranked
                WHERE n <= :per_rule
                ORDER BY member_id, service_date DESC, claim_id, signal
                """
            ),
            {
                "members": list(member_ids),
                "signals": scoring,
                "as_of": as_of,
                "window": self.rules.window_months,
                "per_rule": self.rules.evidence_per_rule,
            },
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            found.setdefault(r.member_id, []).append(
                {"claim_id": r.claim_id, "code": r.code, "service_date": r.service_date, "rule": r.signal}
            )
        return found

    async def add_findings(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.conn.execute(case_findings.insert(), list(rows))

    async def finding(self, referral_id: str) -> Any:
        return (
            await self.conn.execute(select(case_findings).where(case_findings.c.referral_id == referral_id))
        ).first()
