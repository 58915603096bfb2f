-- History of every night from DATE '{{ since }}' on, recomputed from the stored exceptions of all
-- nights, so that a backfilled night leaves later nights as an in-order run would have:
-- first_detected_on = the first night on which the same (rule_id, student_id, meeting_id) was an
-- exception, in any status; resolved = the previous evaluated night's exceptions absent that night.
UPDATE compliance.exceptions e SET first_detected_on = f.first_seen
FROM (SELECT rule_id, student_id, coalesce(meeting_id, '') AS meeting_key, as_of,
             min(as_of) OVER (PARTITION BY rule_id, student_id, coalesce(meeting_id, '') ORDER BY as_of) AS first_seen
      FROM compliance.exceptions) f
WHERE e.as_of >= DATE '{{ since }}' AND f.as_of = e.as_of AND f.rule_id = e.rule_id AND f.student_id = e.student_id
  AND f.meeting_key = coalesce(e.meeting_id, '') AND e.first_detected_on IS DISTINCT FROM f.first_seen;

DELETE FROM compliance.resolved WHERE as_of >= DATE '{{ since }}';
INSERT INTO compliance.resolved
WITH nights AS (SELECT as_of, lag(as_of) OVER (ORDER BY as_of) AS prev FROM compliance.nights)
SELECT n.as_of, p.rule_id, p.student_id, p.meeting_id, p.school_id, p.status, p.first_detected_on
FROM nights n JOIN compliance.exceptions p ON p.as_of = n.prev
WHERE n.as_of >= DATE '{{ since }}'
  AND NOT EXISTS (SELECT 1 FROM compliance.exceptions c
                  WHERE c.as_of = n.as_of AND c.rule_id = p.rule_id AND c.student_id = p.student_id
                    AND c.meeting_id IS NOT DISTINCT FROM p.meeting_id)
QUALIFY row_number() OVER (PARTITION BY n.as_of, p.rule_id, p.student_id, p.meeting_id ORDER BY p.status) = 1;
