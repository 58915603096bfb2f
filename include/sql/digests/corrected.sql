-- Recipients whose last digest was of a night published again since from a replaced export
-- (ops.republished): that night, the items the digest listed that the replaced night no longer
-- holds, and the replaced night's items of the recipient's schools the digest did not list.
{% include "digests/recipients.sql" %},
sent AS (
    SELECT i.recipient, i.rule_id, i.student_id, i.meeting_key, i.as_of
    FROM ops.email_items i JOIN last_sent l ON l.recipient = i.recipient AND i.as_of = l.last_as_of
    WHERE i.as_of IN (SELECT as_of FROM ops.republished)
),
now_of AS (
    SELECT DISTINCT r.recipient, e.rule_id, e.student_id, coalesce(e.meeting_id, '') AS meeting_key, e.as_of
    FROM compliance.exceptions e JOIN recipients r USING (school_id)
    JOIN last_sent l ON l.recipient = r.recipient AND e.as_of = l.last_as_of
    WHERE e.as_of IN (SELECT as_of FROM ops.republished)
)
SELECT recipient, as_of,
       count(*) FILTER (WHERE side = 'sent') AS gone, count(*) FILTER (WHERE side = 'now') AS added
FROM (SELECT 'sent' AS side, * FROM (SELECT recipient, rule_id, student_id, meeting_key, as_of FROM sent
                                      EXCEPT SELECT recipient, rule_id, student_id, meeting_key, as_of FROM now_of)
      UNION ALL
      SELECT 'now', * FROM (SELECT recipient, rule_id, student_id, meeting_key, as_of FROM now_of
                            EXCEPT SELECT recipient, rule_id, student_id, meeting_key, as_of FROM sent))
GROUP BY ALL
