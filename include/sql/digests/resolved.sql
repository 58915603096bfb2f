-- Exceptions of each recipient's schools resolved since the recipient's last email (since
-- yesterday for a recipient never emailed): per recipient and school, their number and the first
-- `most` of them (student id, student, rule, last status; most urgent last status first).
{%- from "digests/safe.sql" import student_name, rule_title with context %}
{% include "digests/recipients.sql" %}
SELECT r.recipient, r.school_id, count(*) AS n,
       list((x.student_id, {{ student_name("st.first_name", "st.last_name") }}, {{ rule_title("x.rule_id") }}, x.last_status)
            ORDER BY {{ statuses.rank_sql('x.last_status') }}, x.student_id, x.rule_id, x.meeting_id NULLS FIRST)[1:{{ most }}] AS lines
FROM recipients r
LEFT JOIN last_sent l USING (recipient)
JOIN compliance.resolved x ON x.school_id = r.school_id AND x.as_of <= DATE '{{ as_of }}'
     AND x.as_of > coalesce(l.last_as_of, DATE '{{ as_of }}' - 1)
LEFT JOIN core.students st ON st.student_id = x.student_id
GROUP BY ALL
