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
    SELECT rule_id, student_id, meeting_id FROM facts.rule_results WHERE status <> 'ok'
),
tl AS (
    SELECT i.finding_id, i.student_id, i.meeting_key, i.due_date, i.kind, count(c.rule_id) > 0 AS found,
           min(c.event_date) FILTER (WHERE c.event_date <= DATE '{{ as_of }}') AS x
    FROM i LEFT JOIN facts.timeline_cycles c
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
          AND NOT EXISTS (SELECT 1 FROM fails r WHERE r.rule_id = i.requirement AND r.meeting_id = m.meeting_id)
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

-- Prong 2: the review records of each finding decided tonight, in its scope (the student's
-- school), ordered by date (a timeline's due date, a meeting's held date), student, meeting.
-- L is the date of the latest noncompliant record (the issued date when there is none); the
-- records dated after L are all compliant; the first prong2_records of them are kept (the
-- evidence, or the progress so far). A compliant record of L's own date does not count.
CREATE OR REPLACE TEMP TABLE review_records AS
WITH f AS (SELECT * FROM corrections.findings WHERE as_of = DATE '{{ as_of }}'),
st AS (SELECT student_id, school_id FROM {{ src }}.students),
fails AS (SELECT rule_id, student_id, meeting_id FROM facts.rule_results WHERE status <> 'ok'),
rv AS (
    SELECT f.finding_id, c.student_id, '' AS meeting_key, c.due_date AS record_date, st.school_id,
           coalesce(c.event_date <= c.due_date, false) OR c.exempt AS compliant
    FROM f JOIN facts.timeline_cycles c ON c.rule_id = f.requirement AND c.due_date > f.issued_date
    JOIN st USING (student_id)
    WHERE f.kind = 'timeline' AND (len(f.scope) = 0 OR list_contains(f.scope, st.school_id))
      AND (c.event_date <= DATE '{{ as_of }}' OR c.due_date < DATE '{{ as_of }}')
    UNION ALL
    SELECT f.finding_id, m.student_id, m.meeting_id, m.held_date, st.school_id,
           NOT EXISTS (SELECT 1 FROM fails r WHERE r.rule_id = f.requirement AND r.meeting_id = m.meeting_id)
    FROM f JOIN {{ src }}.meetings m ON m.status = 'held' AND m.held_date > f.issued_date
                                    AND m.held_date <= DATE '{{ as_of }}'
    JOIN st ON st.student_id = m.student_id
    WHERE f.kind = 'meeting' AND (len(f.scope) = 0 OR list_contains(f.scope, st.school_id))
      AND (f.requirement NOT IN ({{ transition_rules | map("literal") | join(", ") or "NULL" }})
           OR m.includes_transition = 'Y')
    UNION ALL   -- a plan rule: its rows of IEPs that began after the finding (our reading: docs/corrections.md)
    SELECT f.finding_id, r.student_id, coalesce(r.meeting_id, ''), r.event_date, st.school_id, r.status = 'ok'
    FROM f JOIN facts.rule_results r ON r.rule_id = f.requirement AND r.event_date > f.issued_date
                                    AND r.event_date <= DATE '{{ as_of }}'
    JOIN st ON st.student_id = r.student_id
    WHERE f.kind = 'plan' AND (len(f.scope) = 0 OR list_contains(f.scope, st.school_id))
)
SELECT *, row_number() OVER (PARTITION BY finding_id ORDER BY record_date, student_id, meeting_key) AS pos
FROM rv;

DELETE FROM corrections.prong2_checks WHERE as_of = DATE '{{ as_of }}';
INSERT INTO corrections.prong2_checks
WITH last_bad AS (SELECT finding_id, max(record_date) AS since FROM temp.review_records WHERE NOT compliant GROUP BY 1)
SELECT DATE '{{ as_of }}', f.finding_id, coalesce(b.since, f.issued_date) AS since,
       count(r.pos) AS compliant_after, count(r.pos) >= {{ prong2_records }} AS met
FROM corrections.findings f
LEFT JOIN last_bad b USING (finding_id)
LEFT JOIN temp.review_records r ON r.finding_id = f.finding_id AND r.record_date > coalesce(b.since, f.issued_date)
WHERE f.as_of = DATE '{{ as_of }}'
GROUP BY ALL;

DELETE FROM corrections.review_checks WHERE as_of = DATE '{{ as_of }}';
INSERT INTO corrections.review_checks
WITH p AS (SELECT finding_id, since FROM corrections.prong2_checks WHERE as_of = DATE '{{ as_of }}'),
after AS (
    SELECT r.*, row_number() OVER (PARTITION BY r.finding_id ORDER BY r.pos) AS seq
    FROM temp.review_records r JOIN p ON p.finding_id = r.finding_id AND r.record_date > p.since
)
SELECT DATE '{{ as_of }}', finding_id, seq, student_id, meeting_key, record_date, school_id
FROM after WHERE seq <= {{ prong2_records }};

INSERT OR REPLACE INTO corrections.nights VALUES (DATE '{{ as_of }}', {{ literal(export_id) }});
