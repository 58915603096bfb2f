-- The events of each recipient's last calendar (the last digest sent before DATE '{{ as_of }}':
-- its open items due within {{ days }} days of that night) whose item is not open in tonight's
-- digest: their events are cancelled in tonight's calendar. The recipients are the parameter.
WITH last AS (
    SELECT staff_id AS recipient, max(as_of) AS last_as_of FROM ops.email_sends
    WHERE as_of < DATE '{{ as_of }}' AND staff_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1
),
before AS (
    SELECT l.recipient, e.due_date, l.rule_id, l.student_id, l.meeting_key, e.school_id
    FROM ops.email_items l JOIN last ON l.recipient = last.recipient AND l.as_of = last.last_as_of
    JOIN compliance.exceptions e ON e.as_of = last.last_as_of AND e.rule_id = l.rule_id
         AND e.student_id = l.student_id AND coalesce(e.meeting_id, '') = l.meeting_key AND e.status = l.status
    WHERE l.status IN ({{ statuses.sql_list(statuses.OPEN) }})
      AND e.due_date BETWEEN last.last_as_of AND last.last_as_of + {{ days - 1 }}
)
SELECT b.recipient, b.due_date, b.rule_id, b.student_id, b.meeting_key, 'resolved' AS status, s.school_name
FROM before b LEFT JOIN core.schools s USING (school_id)
WHERE NOT EXISTS (SELECT 1 FROM digest_rows r
                  WHERE r.recipient = b.recipient AND r.rule_id = b.rule_id AND r.student_id = b.student_id
                    AND coalesce(r.meeting_id, '') = b.meeting_key
                    AND r.status IN ({{ statuses.sql_list(statuses.OPEN) }}))
ORDER BY b.recipient, b.due_date, b.rule_id, b.student_id, b.meeting_key
