-- The ledger's own checks of night DATE '{{ as_of }}' (docs/corrections.md), from the findings
-- folder as read tonight (temp.findings_in, temp.instances_in) and tonight's data: the rule
-- results and timeline cycles (facts.*), the students and meetings ({{ src }}.*). A finding
-- issued after the night is not yet in effect. Delete-then-insert: a re-run writes the same.
DELETE FROM corrections.findings WHERE as_of = DATE '{{ as_of }}';
INSERT INTO corrections.findings
SELECT DATE '{{ as_of }}', finding_id, issued_date, requirement, kind, citation, scope, note
FROM temp.findings_in WHERE issued_date <= DATE '{{ as_of }}';

-- Prong 1: each instance tonight. corrected_on (X): a timeline's event date; the held date of a
-- later meeting of the student without a row of the requirement; for a plan rule, tonight (the
-- first night without its row, once the ledger keeps the first).
DELETE FROM corrections.instance_checks WHERE as_of = DATE '{{ as_of }}';
INSERT INTO corrections.instance_checks
WITH i AS (
    SELECT i.*, f.requirement, f.kind
    FROM temp.instances_in i JOIN corrections.findings f ON f.finding_id = i.finding_id AND f.as_of = DATE '{{ as_of }}'
),
fails AS (   -- tonight's rows of a requirement that are not compliant
    SELECT rule_id, student_id, meeting_id FROM {{ facts }}.rule_results WHERE status <> 'ok'
),
tl AS (
    SELECT i.finding_id, i.student_id, i.meeting_key, i.due_date, i.kind, count(c.rule_id) > 0 AS found,
           min(c.event_date) FILTER (WHERE c.event_date <= DATE '{{ as_of }}') AS x
    FROM i LEFT JOIN {{ facts }}.timeline_cycles c
           ON c.rule_id = i.requirement AND c.student_id = i.student_id AND c.due_date = i.due_date
    WHERE i.kind = 'timeline' GROUP BY ALL
),
mt AS (
    SELECT i.finding_id, i.student_id, i.meeting_key, i.due_date, i.kind, any_value(m0.meeting_id) IS NOT NULL AS found,
           min(m.held_date) AS x, list(m.meeting_id ORDER BY m.held_date, m.meeting_id)[1] AS x_meeting
    FROM i
    LEFT JOIN {{ src }}.meetings m0
           ON m0.meeting_id = i.meeting_key AND m0.student_id = i.student_id AND m0.status = 'held'
    LEFT JOIN {{ src }}.meetings m
           ON m.student_id = i.student_id AND m.status = 'held' AND m.held_date > m0.held_date
          AND m.held_date <= DATE '{{ as_of }}'
          AND (i.requirement NOT IN ({{ transition_rules | map("literal") | join(", ") or "NULL" }})
               OR m.includes_transition = 'Y')
          AND NOT EXISTS (SELECT 1 FROM temp.meeting_fails r   -- before the window too
                          WHERE r.rule_id = i.requirement AND r.meeting_id = m.meeting_id)
    WHERE i.kind = 'meeting' GROUP BY ALL
),
pl AS (
    SELECT i.finding_id, i.student_id, i.meeting_key, i.due_date, i.kind, true AS found,
           CASE WHEN NOT EXISTS (SELECT 1 FROM fails r WHERE r.rule_id = i.requirement AND r.student_id = i.student_id)
                THEN DATE '{{ as_of }}' END AS x
    FROM i WHERE i.kind = 'plan'
),
checked AS (
    SELECT *, NULL::VARCHAR AS x_meeting FROM tl
    UNION ALL SELECT finding_id, student_id, meeting_key, due_date, kind, found, x, x_meeting FROM mt
    UNION ALL SELECT *, NULL::VARCHAR FROM pl
)
SELECT DATE '{{ as_of }}', c.finding_id, c.student_id, c.meeting_key, c.due_date, st.school_id,
       CASE WHEN st.student_id IS NULL THEN 'unmatched'
            WHEN c.x IS NOT NULL THEN 'corrected'
            WHEN st.enrollment_status = 'exited' AND st.exit_date <= DATE '{{ as_of }}' THEN 'no_longer_in_jurisdiction'
            WHEN NOT c.found THEN 'unmatched'
            ELSE 'not_corrected' END AS status,
       CASE WHEN st.student_id IS NOT NULL THEN c.x END AS corrected_on,
       CASE WHEN c.kind = 'timeline' AND st.student_id IS NOT NULL THEN c.x END AS event_date,
       CASE WHEN st.student_id IS NOT NULL THEN c.x_meeting END AS evidence_meeting_id,
       {{ literal(export_id) }} AS export_id
FROM checked c
LEFT JOIN {{ src }}.students st ON st.student_id = c.student_id;

-- Prong 2. The review records of each requirement with a finding, decided tonight (once per
-- requirement, not per finding), with the student's school, ordered by date (a timeline's due
-- date, a meeting's held date), student, meeting (pos). A finding's records are those of its
-- scope dated after its issued date; L is the date of the latest noncompliant one (the issued
-- date when there is none), so L = the latest of the issued date and the latest noncompliant
-- date in scope; every record dated after L is compliant, and the first prong2_records of them
-- are kept (the evidence, or the progress so far). A compliant record of L's own date does
-- not count.
CREATE OR REPLACE TEMP TABLE review_records AS
WITH q AS (SELECT DISTINCT requirement, kind FROM corrections.findings WHERE as_of = DATE '{{ as_of }}'),
st AS (SELECT student_id, school_id FROM {{ src }}.students),
rv AS (
    SELECT q.requirement, c.student_id, '' AS meeting_key, c.due_date AS record_date, st.school_id,
           coalesce(c.event_date <= c.due_date, false) OR c.exempt AS compliant
    FROM q JOIN {{ facts }}.timeline_cycles c ON c.rule_id = q.requirement
    JOIN st USING (student_id)
    WHERE q.kind = 'timeline' AND (c.event_date <= DATE '{{ as_of }}' OR c.due_date < DATE '{{ as_of }}')
    UNION ALL
    SELECT q.requirement, m.student_id, m.meeting_id, m.held_date, st.school_id, x.meeting_id IS NULL
    FROM q JOIN {{ src }}.meetings m ON m.status = 'held' AND m.held_date <= DATE '{{ as_of }}'
    JOIN st ON st.student_id = m.student_id
    LEFT JOIN (SELECT DISTINCT rule_id, meeting_id FROM temp.meeting_fails) x
           ON x.rule_id = q.requirement AND x.meeting_id = m.meeting_id
    WHERE q.kind = 'meeting' AND (q.requirement NOT IN ({{ transition_rules | map("literal") | join(", ") or "NULL" }})
                                  OR m.includes_transition = 'Y')
    UNION ALL   -- a plan rule: its rows of IEPs that began by D (our reading: docs/corrections.md)
    SELECT q.requirement, r.student_id, coalesce(r.meeting_id, ''), r.event_date, st.school_id, r.status = 'ok'
    FROM q JOIN {{ facts }}.rule_results r ON r.rule_id = q.requirement AND r.event_date <= DATE '{{ as_of }}'
    JOIN st ON st.student_id = r.student_id
    WHERE q.kind = 'plan'
)
SELECT *, row_number() OVER (PARTITION BY requirement ORDER BY record_date, student_id, meeting_key) AS pos
FROM rv;

CREATE OR REPLACE TEMP TABLE review_after AS   -- each finding's L, its records after L and how many
WITH bad AS (
    SELECT requirement, school_id, max(record_date) AS max_bad FROM temp.review_records WHERE NOT compliant GROUP BY ALL
),
f AS (
    SELECT f.finding_id, f.requirement, f.scope,
           greatest(f.issued_date, coalesce((SELECT max(b.max_bad) FROM bad b WHERE b.requirement = f.requirement
                                              AND (len(f.scope) = 0 OR list_contains(f.scope, b.school_id))),
                                            f.issued_date)) AS since
    FROM corrections.findings f WHERE f.as_of = DATE '{{ as_of }}'
),
dates AS (   -- each requirement's dates: the first position and the records from it on
    SELECT requirement, record_date, min(pos) AS first_pos, max(max(pos)) OVER (PARTITION BY requirement) AS total
    FROM temp.review_records GROUP BY requirement, record_date
),
district AS (   -- a district-wide finding: the first record dated after L found by an ASOF join
    SELECT f.finding_id, f.since, d.first_pos, d.total - d.first_pos + 1 AS n, f.requirement
    FROM (SELECT * FROM f WHERE len(scope) = 0) f
    ASOF LEFT JOIN dates d ON d.requirement = f.requirement AND f.since < d.record_date
),
scoped AS (   -- a finding of some schools: their records after L (a small part of the district's)
    SELECT f.finding_id, f.since, r.pos, r.student_id, r.meeting_key, r.record_date, r.school_id,
           row_number() OVER (PARTITION BY f.finding_id ORDER BY r.pos) AS seq,
           count(*) OVER (PARTITION BY f.finding_id) AS n
    FROM (SELECT * FROM f WHERE len(scope) > 0) f, unnest(f.scope) AS u(school_id)
    JOIN temp.review_records r ON r.requirement = f.requirement AND r.school_id = u.school_id
                              AND r.record_date > f.since
)
SELECT d.finding_id, d.since, coalesce(d.n, 0) AS n, k.seq, r.student_id, r.meeting_key, r.record_date, r.school_id
FROM district d
LEFT JOIN range(1, {{ prong2_records }} + 1) k(seq) ON d.first_pos IS NOT NULL
LEFT JOIN temp.review_records r ON r.requirement = d.requirement AND r.pos = d.first_pos + k.seq - 1
UNION ALL
SELECT finding_id, since, n, seq, student_id, meeting_key, record_date, school_id FROM scoped
WHERE seq <= {{ prong2_records }}
UNION ALL   -- a scoped finding with no record after L
SELECT f.finding_id, f.since, 0, NULL, NULL, NULL, NULL, NULL FROM f
WHERE len(f.scope) > 0 AND f.finding_id NOT IN (SELECT finding_id FROM scoped);

DELETE FROM corrections.prong2_checks WHERE as_of = DATE '{{ as_of }}';
INSERT INTO corrections.prong2_checks
SELECT DATE '{{ as_of }}', finding_id, any_value(since), any_value(n), any_value(n) >= {{ prong2_records }}
FROM temp.review_after GROUP BY finding_id;

DELETE FROM corrections.review_checks WHERE as_of = DATE '{{ as_of }}';
INSERT INTO corrections.review_checks
SELECT DATE '{{ as_of }}', finding_id, seq, student_id, meeting_key, record_date, school_id
FROM temp.review_after WHERE student_id IS NOT NULL;

INSERT OR REPLACE INTO corrections.nights VALUES (DATE '{{ as_of }}', {{ literal(export_id) }});
