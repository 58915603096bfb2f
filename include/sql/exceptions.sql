-- The night's exceptions (status <> ok), one row per (rule_id, student_id, meeting_id, status),
-- with first_detected_on carried from earlier nights, and what was resolved since the previous night.
CREATE TABLE IF NOT EXISTS compliance.exceptions (
    as_of DATE, rule_id VARCHAR, status VARCHAR, severity VARCHAR, student_id VARCHAR, meeting_id VARCHAR,
    school_id VARCHAR, case_manager_staff_id VARCHAR, due_date DATE, event_date DATE, days_overdue INTEGER,
    detail VARCHAR, first_detected_on DATE);
CREATE TABLE IF NOT EXISTS compliance.resolved (
    as_of DATE, rule_id VARCHAR, student_id VARCHAR, meeting_id VARCHAR, school_id VARCHAR,
    last_status VARCHAR, first_detected_on DATE);
DELETE FROM compliance.exceptions WHERE as_of = DATE '{{ as_of }}';
DELETE FROM compliance.resolved WHERE as_of = DATE '{{ as_of }}';

INSERT INTO compliance.exceptions
WITH cur AS (
    SELECT r.*, s.school_id, s.case_manager_staff_id
    FROM facts.rule_results r JOIN facts.students s USING (student_id)
    WHERE r.status <> 'ok'
    QUALIFY row_number() OVER (PARTITION BY r.rule_id, r.student_id, coalesce(r.meeting_id, ''), r.status
                               ORDER BY r.days_overdue DESC NULLS LAST, r.due_date NULLS LAST, r.event_date NULLS LAST,
                                        r.item_id) = 1
),
seen AS (
    SELECT rule_id, student_id, coalesce(meeting_id, '') AS meeting_key, min(as_of) AS first_seen
    FROM compliance.exceptions WHERE as_of < DATE '{{ as_of }}' GROUP BY ALL
)
SELECT DATE '{{ as_of }}', c.rule_id, c.status,
       {{ statuses.severity_sql('c.status') }},
       c.student_id, c.meeting_id, c.school_id, c.case_manager_staff_id, c.due_date, c.event_date, c.days_overdue,
       c.detail, coalesce(seen.first_seen, DATE '{{ as_of }}')
FROM cur c LEFT JOIN seen ON seen.rule_id = c.rule_id AND seen.student_id = c.student_id
                       AND seen.meeting_key = coalesce(c.meeting_id, '')
ORDER BY c.rule_id, c.student_id, c.meeting_id NULLS FIRST, c.status;

INSERT INTO compliance.resolved
SELECT DATE '{{ as_of }}', p.rule_id, p.student_id, p.meeting_id, p.school_id, p.status, p.first_detected_on
FROM compliance.exceptions p
WHERE p.as_of = (SELECT max(as_of) FROM compliance.exceptions WHERE as_of < DATE '{{ as_of }}')
  AND NOT EXISTS (SELECT 1 FROM compliance.exceptions c
                  WHERE c.as_of = DATE '{{ as_of }}' AND c.rule_id = p.rule_id AND c.student_id = p.student_id
                    AND c.meeting_id IS NOT DISTINCT FROM p.meeting_id)
QUALIFY row_number() OVER (PARTITION BY p.rule_id, p.student_id, p.meeting_id ORDER BY p.status) = 1;
