-- "Findings to correct at your schools" (docs/corrections.md): every instance of a finding that is
-- not corrected yet (open, or overdue: still to correct) at each recipient's schools, from the
-- ledger of night DATE '{{ ledger_night }}' (tonight's, or the last good one), with what is
-- missing (tonight's exception of the requirement for the student, else what the ledger waits
-- for) and the finding's deadline. An instance leaves the digest once corrected.
{%- from "digests/safe.sql" import plain, student_name, rule_title with context %}
{% include "digests/recipients.sql" %},
tonight AS (
    SELECT rule_id, student_id, coalesce(meeting_id, '') AS meeting_key, min(detail) AS detail
    FROM compliance.exceptions WHERE as_of = DATE '{{ as_of }}' GROUP BY ALL
)
SELECT r.recipient, i.school_id, i.student_id, {{ student_name("st.first_name", "st.last_name") }} AS student,
       f.finding_id, {{ rule_title("f.requirement") }} AS rule, f.deadline, f.status,
       coalesce({{ plain("e.detail", 500) }},
                CASE WHEN i.due_date IS NOT NULL THEN 'due ' || i.due_date || ': not done yet'
                     WHEN i.meeting_key <> '' THEN 'meeting ' || {{ plain("i.meeting_key", 40) }}
                          || ': no later meeting of the student meets the requirement yet'
                     ELSE 'the requirement is still not met' END) AS missing
FROM recipients r
JOIN corrections.ledger_instances i ON i.school_id = r.school_id AND i.as_of = DATE '{{ ledger_night }}'
JOIN corrections.ledger_findings f ON f.as_of = i.as_of AND f.finding_id = i.finding_id
LEFT JOIN core.students st ON st.student_id = i.student_id
LEFT JOIN tonight e ON e.rule_id = f.requirement AND e.student_id = i.student_id
                   AND (e.meeting_key = i.meeting_key OR i.meeting_key = '')
WHERE i.status = 'not_corrected' AND f.status IN ('open', 'overdue')
ORDER BY r.recipient, i.school_id, f.deadline, f.finding_id, i.student_id, i.meeting_key, i.due_date
