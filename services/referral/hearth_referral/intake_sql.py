"""The intake of referrals as ONE set-based statement: whatever the batch (a coalesced burst of
`POST /referrals`, a referral list COPYed in, case-finding's candidates, FHIR ServiceRequests),
one statement with data-modifying CTEs links or creates every referral, assigns each new one a
coordinator, records the first transition, who referred, and stages `ReferralReceived` in the
outbox. A database round trip costs more here than the work it carries, so the batch goes in one.

The batch is a relation `staged` with the columns of `STAGED_COLUMNS` (a temporary table filled
by COPY, or a JSON document expanded by `jsonb_to_recordset`). The rules, in the order a single
referral would meet them:
- a retried Idempotency-Key answers with the referral it created;
- a member with an open referral (or one created by an earlier line of the batch) is linked to it;
- otherwise the member's first line creates a referral, assigned to a coordinator of its
  organization (the referral's, else the member's attributed one), else to the lightest caseload
  overall. Within each organization, and then overall for the rest, the choice is the one-by-one
  greedy one (fewest open referrals, then the smaller coordinator id, counting those this batch
  hands out), computed set-based: coordinator c with n open referrals offers "slots" at levels n,
  n+1, ...; the k-th referral takes the k-th slot in (level, coordinator id) order. Referrals
  with an organization are placed before those without, so a mixed batch may balance slightly
  differently than one at a time (caseloads are approximate under concurrency anyway).
A member referred at the same moment by another transaction is answered with no referral
(`referral_id` NULL), or, for a batch that fails whole (a referral list, `skip_concurrent`
False), fails the statement on the one-open-referral index: the caller retries, and the retry
links.
"""

from hearth_schemas import ReferralReceived

from .tables import OPEN_LIST

#: (name, Postgres type) of the batch's columns, in COPY order.
STAGED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("n", "int"),
    # Minted by the caller (hearth_platform.ids: no system call per id, unlike gen_random_uuid):
    # the referral a line creates if it creates one, and its ReferralReceived.
    ("referral_id", "text"),
    ("event_id", "text"),
    ("member_id", "text"),
    ("source", "text"),
    ("referrer_id", "text"),
    ("referral_date", "date"),
    ("provider_org_id", "text"),
    ("goals_of_care_discussed", "boolean"),
    ("idempotency_key", "text"),
    ("actor", "text"),
    ("referrer_org_id", "text"),
    ("correlation_id", "text"),
    ("causation_id", "text"),
    ("traceparent", "text"),
    # The line's ReferralReceived as it goes to the outbox (payload and Kafka headers, JSON text
    # built by the caller, intake.ReceivedEvents), written only if the line creates the referral.
    ("payload", "text"),
    ("headers", "text"),
)
EVENT_TEXT = ("payload", "headers")
EVENT_TYPE = ReferralReceived.event_type()
EVENT_TOPIC = ReferralReceived.topic()
ASSIGNED_BY = "hearth-referral"

#: A batch sent as one JSON document (an array of objects with the staged columns).
FROM_JSON = (
    "jsonb_to_recordset(CAST(:rows AS jsonb)) AS x("
    + ", ".join(f"{name} {kind}" for name, kind in STAGED_COLUMNS)
    + ")"
)

_REFERRAL = (
    "referral_id, member_id, source, referrer_id, referral_date, received_at, provider_org_id, "
    "goals_of_care_discussed, status"
)

_STATEMENT = """
WITH staged AS MATERIALIZED (
    SELECT {columns} FROM {source}
), earlier AS (
    SELECT s.n, {r_referral}
    FROM staged s JOIN referral.referrals r ON r.idempotency_key = s.idempotency_key
    WHERE s.idempotency_key IS NOT NULL
), open_now AS (
    -- = ANY(ARRAY(...)), not IN (SELECT ...): as a semi-join the planner expects every line to
    -- have an open referral, scans all referrals, and plans the rest for batches of one row.
    SELECT {r_referral} FROM referral.referrals r
    WHERE r.member_id = ANY(ARRAY(SELECT member_id FROM staged)) AND r.status IN ({open_list})
    FOR UPDATE
), fresh AS MATERIALIZED (
    -- Every column but the event text (most of a line's bytes), which only `events` needs.
    SELECT DISTINCT ON (s.member_id) {line_columns},
           coalesce(s.provider_org_id, ma.provider_org_id) AS preferred_org
    FROM staged s
    LEFT JOIN referral.member_attributions ma ON s.provider_org_id IS NULL AND ma.member_id = s.member_id
    WHERE NOT EXISTS (SELECT 1 FROM earlier e WHERE e.n = s.n)
      AND NOT EXISTS (SELECT 1 FROM open_now o WHERE o.member_id = s.member_id)
    ORDER BY s.member_id, s.n
), loads AS MATERIALIZED (
    -- Open caseloads as the database keeps them (tables.caseload_changes), not counted here.
    SELECT c.coordinator_id, c.provider_org_id, coalesce(sum(k.change), 0)::int AS n
    FROM referral.coordinators c
    LEFT JOIN referral.caseload_changes k ON k.coordinator_id = c.coordinator_id
    WHERE c.active AND EXISTS (SELECT 1 FROM fresh)
    GROUP BY c.coordinator_id, c.provider_org_id
), placed AS MATERIALIZED (
    SELECT f.n AS line, f.preferred_org AS org,
           coalesce(f.preferred_org IN (SELECT provider_org_id FROM loads), false) AS at_org
    FROM fresh f
), in_org AS (
    -- Numbered across organizations (organization, then line): with exactly as many slots per
    -- organization as lines, numbered the same way, line and slot meet on one number. Joined on
    -- (organization, k) instead, the planner merged on the organization alone and compared each
    -- line with every slot of it (a million comparisons for a 5,000-line list).
    SELECT line, org, row_number() OVER (ORDER BY org, line) AS g FROM placed WHERE at_org
), org_top AS (
    SELECT l.provider_org_id AS org, d.cnt,
           least(min(l.n) + d.cnt - 1, max(l.n) + (d.cnt + count(*) - 1) / count(*)) AS top
    FROM loads l JOIN (SELECT org, count(*) AS cnt FROM in_org GROUP BY org) d ON d.org = l.provider_org_id
    GROUP BY l.provider_org_id, d.cnt
), org_slots AS (
    SELECT coordinator_id, lvl, row_number() OVER (ORDER BY org, k) AS g
    FROM (
        SELECT l.provider_org_id AS org, l.coordinator_id, lvl, t.cnt,
               row_number() OVER (PARTITION BY l.provider_org_id ORDER BY lvl, l.coordinator_id) AS k
        FROM loads l JOIN org_top t ON t.org = l.provider_org_id
        CROSS JOIN LATERAL generate_series(l.n, t.top) AS lvl
    ) offered
    WHERE k <= cnt
), org_assigned AS (
    SELECT i.line, s.coordinator_id,
           'attributed organization ' || i.org || ', lightest caseload (' || s.lvl || ' open)' AS reason
    FROM in_org i JOIN org_slots s ON s.g = i.g
), pooled AS (
    SELECT line, org, row_number() OVER (ORDER BY line) AS k FROM placed WHERE NOT at_org
), pool_loads AS (
    SELECT l.coordinator_id, l.n + coalesce(a.taken, 0)::int AS n
    FROM loads l
    LEFT JOIN (SELECT coordinator_id, count(*) AS taken FROM org_assigned GROUP BY coordinator_id) a
      ON a.coordinator_id = l.coordinator_id
), pool_top AS (
    SELECT least(min(l.n) + p.cnt - 1, max(l.n) + (p.cnt + count(*) - 1) / count(*)) AS top
    FROM pool_loads l CROSS JOIN (SELECT count(*) AS cnt FROM pooled) p
    WHERE p.cnt > 0 GROUP BY p.cnt
), pool_slots AS (
    SELECT l.coordinator_id, lvl, row_number() OVER (ORDER BY lvl, l.coordinator_id) AS k
    FROM pool_loads l CROSS JOIN pool_top t CROSS JOIN LATERAL generate_series(l.n, t.top) AS lvl
), pool_assigned AS (
    SELECT p.line, s.coordinator_id,
           CASE WHEN p.org IS NULL
                THEN 'organization unknown; lightest caseload overall (' || s.lvl || ' open)'
                ELSE 'no coordinator at ' || p.org || '; lightest caseload overall (' || s.lvl || ' open)'
           END AS reason
    FROM pooled p JOIN pool_slots s ON s.k = p.k
), assigned AS MATERIALIZED (
    -- One row per line already; DISTINCT ON tells the planner so (the slot series make it expect
    -- millions of rows and spill the joins below to disk).
    SELECT DISTINCT ON (line) * FROM (SELECT * FROM org_assigned UNION ALL SELECT * FROM pool_assigned) u
    ORDER BY line
), created AS (
    INSERT INTO referral.referrals (referral_id, member_id, source, referrer_id, referral_date,
        received_at, provider_org_id, goals_of_care_discussed, status, idempotency_key, coordinator_id)
    SELECT f.referral_id, f.member_id, f.source, f.referrer_id, f.referral_date, CAST(:at AS timestamptz),
           f.provider_org_id, f.goals_of_care_discussed, 'received', f.idempotency_key, a.coordinator_id
    FROM fresh f LEFT JOIN assigned a ON a.line = f.n
    ORDER BY f.n
    {on_conflict}RETURNING referral_id
), made AS MATERIALIZED (
    -- In line order, once: the inserts below read it in that order (a materialized CTE is
    -- scanned as stored), so none of them sorts again (the outbox's sort spilled to disk).
    SELECT f.*, a.coordinator_id, a.reason AS assignment_reason
    FROM fresh f JOIN created c ON c.referral_id = f.referral_id LEFT JOIN assigned a ON a.line = f.n
    ORDER BY f.n
), history AS (
    INSERT INTO referral.referral_transitions (referral_id, from_status, to_status, at, actor, reason)
    SELECT referral_id, NULL, 'received', CAST(:at AS timestamptz), actor, 'referred by ' || source
    FROM made
), queue AS (
    INSERT INTO referral.referral_assignments (referral_id, coordinator_id, at, actor, reason)
    SELECT referral_id, coordinator_id, CAST(:at AS timestamptz), CAST(:assigned_by AS text), assignment_reason
    FROM made WHERE coordinator_id IS NOT NULL
), events AS (
    -- The event as the caller wrote it: Postgres only stores the text the relay will send.
    INSERT INTO referral.outbox (event_id, aggregatetype, aggregateid, type, topic, payload, headers)
    SELECT m.event_id, 'referral', m.member_id, CAST(:event_type AS text), CAST(:topic AS text),
           s.payload, s.headers
    FROM made m JOIN staged s ON s.n = m.n
), answers AS (
    SELECT s.n, e.referral_id, false AS created, e.member_id, e.source, e.referrer_id,
           e.referral_date, e.received_at, e.provider_org_id, e.goals_of_care_discussed, e.status,
           false AS new_referral
    FROM staged s JOIN earlier e ON e.n = s.n
    UNION ALL
    SELECT s.n, {o_referral}, false, o.member_id, o.source, o.referrer_id, o.referral_date,
           o.received_at, o.provider_org_id, o.goals_of_care_discussed, o.status, false
    FROM staged s JOIN open_now o ON o.member_id = s.member_id
    WHERE NOT EXISTS (SELECT 1 FROM earlier e WHERE e.n = s.n)
    UNION ALL
    SELECT s.n, m.referral_id, m.n = s.n, m.member_id, m.source, m.referrer_id, m.referral_date,
           CAST(:at AS timestamptz), m.provider_org_id, m.goals_of_care_discussed, 'received', true
    FROM staged s JOIN made m ON m.member_id = s.member_id
    WHERE NOT EXISTS (SELECT 1 FROM earlier e WHERE e.n = s.n)
), referred AS (
    -- A referral this statement created has no referrer yet: its rows need no conflict check
    -- (ON CONFLICT's speculative insertion cost a third of this insert).
    INSERT INTO referral.referral_referrers (referral_id, org_id)
    SELECT DISTINCT a.referral_id, s.referrer_org_id
    FROM answers a JOIN staged s ON s.n = a.n
    WHERE s.referrer_org_id IS NOT NULL AND a.new_referral
), referred_again AS (
    INSERT INTO referral.referral_referrers (referral_id, org_id)
    SELECT DISTINCT a.referral_id, s.referrer_org_id
    FROM answers a JOIN staged s ON s.n = a.n
    WHERE s.referrer_org_id IS NOT NULL AND NOT a.new_referral
    ON CONFLICT DO NOTHING
)
{answer}
"""

#: Every line's referral, in line order (NULL where another transaction referred the member).
ANSWER_ROWS = """SELECT s.n, a.referral_id, coalesce(a.created, false) AS created, a.member_id, a.source,
       a.referrer_id, a.referral_date, a.received_at, a.provider_org_id, a.goals_of_care_discussed,
       a.status
FROM staged s LEFT JOIN answers a ON a.n = s.n ORDER BY s.n"""
#: Only the counts (a bulk list): lines, created, linked, and lines left without a referral.
ANSWER_COUNTS = """SELECT count(*) AS lines, count(*) FILTER (WHERE a.created) AS created,
       count(*) FILTER (WHERE NOT a.created) AS linked, count(*) FILTER (WHERE a.n IS NULL) AS unresolved
FROM staged s LEFT JOIN answers a ON a.n = s.n"""


def intake_statement(source: str, answer: str, *, skip_concurrent: bool = True) -> str:
    """The statement over the batch in `source` (`FROM_JSON`, or a table with the staged
    columns), answering with `answer` (`ANSWER_ROWS` or `ANSWER_COUNTS`).

    `skip_concurrent`: a line whose member another transaction referred meanwhile gets no
    referral (ON CONFLICT DO NOTHING), so the caller can receive just those lines again. A batch
    that fails whole in that case instead (a referral list) leaves it False: the insert then
    raises the unique violation on `referrals_one_open_per_member`, and spares the speculative
    insertion ON CONFLICT costs on every row (a third of the referrals insert)."""
    return _STATEMENT.format(
        on_conflict="ON CONFLICT DO NOTHING\n    " if skip_concurrent else "",
        columns=", ".join(name for name, _ in STAGED_COLUMNS),
        source=source,
        r_referral=", ".join(f"r.{c}" for c in _REFERRAL.split(", ")),
        o_referral="o.referral_id",
        open_list=OPEN_LIST,
        line_columns=", ".join(f"s.{name}" for name, _ in STAGED_COLUMNS if name not in EVENT_TEXT),
        answer=answer,
    )
