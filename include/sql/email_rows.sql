-- What each recipient's digest lists for the night: overdue and due_soon every night while
-- open; late, violation and warning rows once (first detected since the recipient's last
-- email); never exited students; never exempt rows. One row per recipient and exception.
{% include "email_recipients.sql" %}
SELECT r.recipient, e.school_id, sc.school_name, e.rule_id, e.status, e.student_id, e.meeting_id,
       st.first_name, st.last_name, e.due_date, e.event_date, e.days_overdue, e.detail, e.first_detected_on,
       e.first_detected_on = DATE '{{ as_of }}' AS is_new
FROM compliance.exceptions e
JOIN recipients r USING (school_id)
JOIN core.schools sc USING (school_id)
JOIN core.students st USING (student_id)
LEFT JOIN last_sent ls ON ls.recipient = r.recipient
WHERE e.as_of = DATE '{{ as_of }}' AND st.enrollment_status = 'active'
  AND (e.status IN ({{ statuses.sql_list(statuses.OPEN) }})
       OR (e.status IN ({{ statuses.sql_list(statuses.ONCE) }})
           AND e.first_detected_on > coalesce(ls.last_as_of, DATE '{{ as_of }}' - 1)))
ORDER BY r.recipient, sc.school_name, e.school_id,
         {{ statuses.rank_sql('e.status') }},
         e.days_overdue DESC NULLS LAST, e.due_date NULLS LAST, e.student_id, e.rule_id, e.meeting_id NULLS FIRST
