-- The night's exceptions (status <> ok), one row per (rule_id, student_id, meeting_id, status).
-- Where rows share that key, a state pack's rule keeps the earliest due date (its student's
-- earliest initial evaluation still open, say); every other rule the most overdue.
-- first_detected_on and compliance.resolved are then (re)computed by exceptions_history.sql.
INSERT OR IGNORE INTO compliance.nights SELECT DISTINCT as_of FROM compliance.exceptions;
INSERT OR IGNORE INTO compliance.nights VALUES (DATE '{{ as_of }}');
DELETE FROM compliance.exceptions WHERE as_of = DATE '{{ as_of }}';

INSERT INTO compliance.exceptions
WITH cur AS (
    SELECT r.*, s.school_id, s.case_manager_staff_id
    FROM {{ facts }}.rule_results r JOIN {{ facts }}.students s USING (student_id)
    WHERE r.status <> 'ok'
    QUALIFY row_number() OVER (PARTITION BY r.rule_id, r.student_id, coalesce(r.meeting_id, ''), r.status
                               ORDER BY CASE WHEN r.rule_id IN ({{ earliest_due }}) THEN r.due_date END NULLS LAST,
                                        r.days_overdue DESC NULLS LAST, r.due_date NULLS LAST, r.event_date NULLS LAST,
                                        r.item_id) = 1
)
SELECT DATE '{{ as_of }}', c.rule_id, c.status, {{ statuses.severity_sql('c.status') }},
       c.student_id, c.meeting_id, c.school_id, c.case_manager_staff_id, c.due_date, c.event_date, c.days_overdue,
       c.detail, DATE '{{ as_of }}'
FROM cur c
ORDER BY c.rule_id, c.student_id, c.meeting_id NULLS FIRST, c.status;
