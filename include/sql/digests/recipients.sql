-- Shared by digests/rows.sql and digests/resolved.sql: who receives each school's exceptions
-- (its coordinators, or the fallback address when it has none) and the as-of date of each
-- recipient's last email before tonight.
WITH recipients AS (
    SELECT a.staff_id AS recipient, a.school_id FROM core.coordinator_assignments a
    UNION ALL
    SELECT 'FALLBACK', s.school_id FROM core.schools s
    WHERE s.school_id NOT IN (SELECT school_id FROM core.coordinator_assignments)
),
last_sent AS (
    SELECT staff_id AS recipient, max(as_of) AS last_as_of FROM ops.email_sends
    WHERE as_of < DATE '{{ as_of }}' GROUP BY 1
)
